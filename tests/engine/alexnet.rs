//! The second network: AlexNet through the same request, weights and ascent as VGG16, and both in one
//! `Backends` (the page holds both when a visitor switches).

use std::sync::OnceLock;

use filterlens::{
    Ascent, AscentConfig, Backend, Backends, Error, Mode, Model, Network, Objective, RunRequest, Start, StepReport,
};

use crate::{flex_model, network_model, run_to_end, weights_bytes};

/// AlexNet's f32 weights on Flex, loaded once.
pub fn alexnet() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| network_model(Network::Alexnet, Backend::Flex, "alexnet.safetensors"))
}

fn climb(request: &RunRequest) -> Vec<StepReport> {
    let (objective, config) = request.plan(&Start::default()).unwrap();
    run_to_end(Ascent::new(alexnet(), objective, config).unwrap()).0
}

/// Each layer's filters climb in classic and lucid mode (maco.rs checks maco's climb on AlexNet): the request
/// names the network, and the rest is the same code.
#[test]
fn every_layer_climbs_in_both_modes() {
    for layer in ["conv1", "conv3", "conv5"] {
        for mode in [Mode::Classic, Mode::Lucid] {
            let request = RunRequest {
                model: Network::Alexnet,
                steps: Some(24),
                size: Some(96),
                ..RunRequest::new(mode, layer, &[1, 2])
            };
            let reports = climb(&request);
            for image in 0..2 {
                let (first, last) = (reports[0].activations[image], reports[23].activations[image]);
                println!("alexnet {layer}:{} {mode}: {first:.4} -> {last:.4}", image + 1);
                assert!(last > first + 0.1 * first.abs().max(0.1), "{layer}:{} {mode}: {first} -> {last}", image + 1);
            }
        }
    }
}

#[test]
fn captions_and_refusals_name_alexnet_layers() {
    let objective = Objective::channels(Network::Alexnet, "conv2", &[0, 191]).unwrap();
    assert_eq!(objective.captions(), ["conv2:0", "conv2:191"]);
    let wide = Objective::channels(Network::Alexnet, "conv2", &[192]).unwrap_err();
    assert_eq!(wide.to_string(), "filter 192 is out of range: conv2 has filters 0..=191");
    let vgg_layer = Objective::channels(Network::Alexnet, "conv3_1", &[0]).unwrap_err();
    assert!(matches!(vgg_layer, Error::UnknownLayer { network: Network::Alexnet, .. }), "{vgg_layer}");
    // A VGG16 objective on AlexNet's model is refused, not run on the wrong layer table.
    let config = AscentConfig { steps: 1, size: 64, ..Mode::Classic.preset_config() };
    let other = Ascent::new(alexnet(), Objective::channels(Network::Vgg16, "conv1_1", &[0]).unwrap(), config);
    assert_eq!(other.err().unwrap().to_string(), "the objective is for VGG16, but the model is AlexNet");
}

/// The page's case: one `Backends` with both networks' weights, each growing as its parts arrive, neither
/// disturbing the other; a network whose weights never came is named.
#[test]
fn backends_hold_both_networks() {
    let mut backends = Backends::default();
    let missing = backends.model(Network::Alexnet, Backend::Flex).err().unwrap();
    assert_eq!(missing.to_string(), "no weights for AlexNet have been given");
    let vgg = weights_bytes("vgg16-f16.safetensors");
    backends.arriving(Network::Vgg16, vgg.clone(), vgg.len()).unwrap();
    let alexnet = weights_bytes("alexnet-f16.safetensors");
    // AlexNet's header and conv1 only (the f16 file holds its layers by depth: conv1's 23 296 weights and 64
    // biases follow the header).
    let header_len = 8 + u64::from_le_bytes(alexnet[..8].try_into().unwrap()) as usize;
    let conv1 = header_len + 2 * (64 * 3 * 11 * 11 + 64);
    backends.arriving(Network::Alexnet, alexnet[..conv1].to_vec(), alexnet.len()).unwrap();
    assert_eq!(backends.model(Network::Alexnet, Backend::Flex).unwrap().depth(), 1);
    assert_eq!(backends.model(Network::Vgg16, Backend::Flex).unwrap().depth(), 13);
    backends.add_weights(Network::Alexnet, &alexnet[conv1..]).unwrap();
    assert_eq!(backends.model(Network::Alexnet, Backend::Flex).unwrap().depth(), 5);
    // One network's header given as the other's is refused on arrival.
    let refused = backends.arriving(Network::Vgg16, alexnet[..conv1].to_vec(), alexnet.len()).unwrap_err();
    assert!(refused.to_string().contains("a tensor VGG16 does not use"), "{refused}");
    assert_eq!(backends.model(Network::Vgg16, Backend::Flex).unwrap().depth(), 13, "the refusal lost nothing");
}

/// The smallest image each network takes, from its table: AlexNet's conv5 is out of reach below 31 px.
#[test]
fn smallest_sizes() {
    let at = |network, size| RunRequest {
        model: network,
        size: Some(size),
        ..RunRequest::new(Mode::Classic, network.default_layer(), &[0])
    };
    assert!(at(Network::Alexnet, 31).config().is_ok());
    assert!(matches!(at(Network::Alexnet, 30).config(), Err(Error::TransformedTooSmall { min: 31, .. })));
    assert!(at(Network::Vgg16, 16).config().is_ok());
    // Both networks' models run side by side in one process.
    assert_eq!((flex_model().network(), alexnet().network()), (Network::Vgg16, Network::Alexnet));
}
