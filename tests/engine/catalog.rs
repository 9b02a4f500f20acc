//! The request and the catalog: presets, overrides and refusals in one place; the committed www/catalog.json is
//! what the core says; every field the catalog names is a field of the request, and the other way round.

use filterlens::api::catalog::catalog;
use filterlens::{Error, Mode, Optimiser, RunRequest, Start, Target};
use serde_json::{Value, json};

use crate::repo_path;

#[test]
fn committed_catalog_is_the_cores() {
    let path = repo_path("www/catalog.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == catalog().to_json(),
        "{} is out of date: run `cargo run --release --bin filterlens -- catalog > www/catalog.json`",
        path.display()
    );
}

#[test]
fn catalog_fields_are_the_requests_fields() {
    let full = RunRequest {
        target: Target::Neuron,
        pre_relu: true,
        steps: Some(3),
        size: Some(32),
        step_size: Some(1.0),
        lr: Some(0.1),
        jitter: Some(2),
        crops: Some(4),
        seed: 7,
        // Not a request that plans (expressions replace layer and filters), but every field is present.
        expressions: vec!["conv1_1:0".into()],
        ..RunRequest::new(Mode::Classic, "conv1_1", &[0])
    };
    let Value::Object(fields) = serde_json::to_value(&full).unwrap() else { panic!("a request is an object") };
    let mut request_fields: Vec<&str> = fields.keys().map(String::as_str).filter(|k| *k != "filters").collect();
    let mut catalog_fields: Vec<&str> = catalog().fields.iter().map(|f| f.name).collect();
    request_fields.sort_unstable();
    catalog_fields.sort_unstable();
    assert_eq!(request_fields, catalog_fields);
}

#[test]
fn presets_and_overrides() {
    let classic = RunRequest::new(Mode::Classic, "conv3_2", &[0]).config().unwrap();
    assert_eq!((classic.steps, classic.size, classic.seed), (150, 224, 0));
    assert_eq!(classic.optimiser, Optimiser::MaxNormalised { step_size: 2.0 / 255.0 });
    let lucid = RunRequest::new(Mode::Lucid, "conv3_2", &[0]).config().unwrap();
    assert_eq!((lucid.steps, lucid.size), (512, 128));
    assert_eq!(lucid.optimiser, Optimiser::Adam { learning_rate: 0.05 });

    let request: RunRequest = serde_json::from_value(json!({
        "mode": "classic", "layer": "conv2_1", "filters": [3, 4], "steps": 12, "size": 64, "stepSize": 3, "seed": 9
    }))
    .unwrap();
    let (objective, config) = request.plan(&Start::default()).unwrap();
    assert_eq!((classic.transforms.jitter, lucid.transforms.jitter, config.transforms.jitter), (0, 8, 0));
    assert_eq!(objective.captions(), ["conv2_1:3", "conv2_1:4"]);
    assert_eq!((config.steps, config.size, config.seed), (12, 64, 9));
    assert_eq!(config.optimiser, Optimiser::MaxNormalised { step_size: 3.0 / 255.0 });
}

#[test]
fn bad_requests_name_the_field() {
    let refuse = |value: Value| -> String {
        match serde_json::from_value::<RunRequest>(value) {
            Ok(request) => request.plan(&Start::default()).expect_err("refused").to_string(),
            Err(e) => e.to_string(),
        }
    };
    let base = || json!({ "mode": "classic", "layer": "conv1_1", "filters": [0] });
    let with = |key: &str, value: Value| {
        let mut v = base();
        v[key] = value;
        v
    };
    assert_eq!(
        refuse(with("lr", json!(0.1))),
        "lr does not apply to classic mode (classic takes stepSize and jitter, lucid takes lr and jitter, maco takes lr and crops)"
    );
    let mut lucid = with("stepSize", json!(2));
    lucid["mode"] = json!("lucid");
    assert!(refuse(lucid).starts_with("stepSize does not apply to lucid mode"));
    assert_eq!(refuse(with("stepSize", json!(0))), "stepSize 0 is out of range (0.01 to 64)");
    assert_eq!(refuse(with("seed", json!(4294967296u64))), "seed 4294967296 is out of range (0 to 4294967295)");
    assert_eq!(refuse(with("size", json!(100000))), "size 100000 is out of range (16 to 1024)");
    assert_eq!(refuse(with("layer", json!("conv9_9"))), "unknown layer 'conv9_9' (VGG16 has conv1_1 … conv5_3)");
    let mut alexnet = with("layer", json!("conv3_1"));
    alexnet["model"] = json!("alexnet");
    assert_eq!(refuse(alexnet), "unknown layer 'conv3_1' (AlexNet has conv1, conv2, conv3, conv4, conv5)");
    assert!(refuse(with("model", json!("resnet50"))).contains(
        "unknown model 'resnet50' (expected vgg16, alexnet, efficientnet-lite0, or a model opened from an ONNX file)"
    ));
    assert_eq!(refuse(with("filters", json!([64]))), "filter 64 is out of range: conv1_1 has filters 0..=63");
    assert!(refuse(with("mode", json!("LUCID"))).contains("unknown variant `LUCID`"));
    assert!(refuse(with("blur", json!(3))).contains("unknown field `blur`"));
    assert_eq!(
        refuse(json!({ "mode": "classic", "layer": "conv1_1", "filters": [0], "size": 16, "jitter": 4 })),
        "the random transforms shrink a 16 px image to 12 px, below the 16 px the model needs: choose a larger size or less jitter"
    );
    // AlexNet's 11×11 stride-4 conv and two overlapping pools need 31 px to reach conv5.
    assert_eq!(
        refuse(json!({ "mode": "classic", "model": "alexnet", "layer": "conv1", "filters": [0], "size": 30 })),
        "the random transforms shrink a 30 px image to 30 px, below the 31 px the model needs: choose a larger size or less jitter"
    );
    assert!(matches!(
        RunRequest { filters: vec![], ..RunRequest::new(Mode::Classic, "conv1_1", &[]) }.plan(&Start::default()),
        Err(Error::NoFilters)
    ));
}
