//! Natural examples on AlexNet's real weights: the index's ranking against the engine's forward pass one picture
//! at a time, an activation map's peak where a planted pattern is, the check, and the CLI's sheet read back.

use std::path::Path;
use std::process::Command;

use burn::tensor::{Tensor, TensorData};
use filterlens::examples::index::{BOTTOM, TOP};
use filterlens::examples::{ExampleIndex, check};
use filterlens::picture::image::{GridLayout, Rgba, rgba};
use filterlens::{Activation, Ascent, Backend, Levels, Mode, Model, Network, RunRequest, Start};

use crate::{network_model, repo_path};

fn alexnet() -> Model {
    network_model(Network::Alexnet, Backend::Flex, "alexnet.safetensors")
}

/// Generated scenes, 100×80 (so a centre square is taken): stripes of several orientations and periods in several
/// colours, a disc, a checkerboard. Scene `k` is the same on every run.
fn scene(k: usize) -> Rgba {
    let (width, height) = (100, 80);
    let angle = k as f32 * 0.7;
    let period = 4.0 + (k % 5) as f32 * 3.0;
    let colour = [(k * 37 % 255) as f32, (k * 91 % 255) as f32, (k * 53 % 255) as f32];
    let mut pixels = Vec::with_capacity(4 * width * height);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32, y as f32);
            let along = fx * angle.cos() + fy * angle.sin();
            let stripe = (along * std::f32::consts::TAU / period).sin() > 0.0;
            let disc = (fx - 30.0 - k as f32 * 3.0).hypot(fy - 40.0) < 8.0 + k as f32;
            let checker = k.is_multiple_of(3) && (x / 6 + y / 6).is_multiple_of(2);
            let lit = stripe ^ disc ^ checker;
            for c in colour {
                pixels.push(if lit { c as u8 } else { 255 - c as u8 });
            }
            pixels.push(255);
        }
    }
    Rgba { width, height, pixels }
}

/// Each channel's mean after the ReLU, picture by picture: the engine's forward pass on one picture at a time.
fn forward_means(model: &Model, picture: &Rgba, layer: usize, size: usize) -> Vec<f32> {
    let planar = picture.to_planar_square(size);
    let image = Tensor::<4>::from_floats(TensorData::new(planar, [1, 3, size, size]), &model.device());
    let features = model.forward(image, layer, Activation::After).mean_dims(&[2, 3]);
    features.into_data().try_into_vec::<f32>().unwrap()
}

/// The index, filled three pictures to a forward pass, ranks every channel's pictures as the engine's means taken
/// one picture at a time do: the k-th kept picture's independent mean is the k-th largest (smallest) of them all.
#[test]
fn the_ranking_is_the_forward_mean_picture_by_picture() {
    let model = alexnet();
    let (layer, size) = (Network::Alexnet.layer_index("conv2").unwrap(), 96);
    let pictures: Vec<(String, Rgba)> = (0..14).map(|k| (format!("scene {k}"), scene(k))).collect();
    let mut index = ExampleIndex::new(Network::Alexnet, &[layer], size).unwrap();
    for batch in pictures.chunks(3) {
        pollster::block_on(index.add(&model, batch)).unwrap();
    }
    assert_eq!(index.names().len(), 14);
    let independent: Vec<Vec<f32>> = pictures.iter().map(|(_, p)| forward_means(&model, p, layer, size)).collect();
    let channels = independent[0].len();
    let mut firing = 0;
    for channel in 0..channels {
        let of = |picture: usize| independent[picture][channel];
        let tolerance = 1e-4 * (0..14).map(of).fold(1.0f32, |m, v| m.max(v.abs()));
        for (picture, means) in independent.iter().enumerate() {
            let indexed = index.means(layer, picture).unwrap()[channel];
            assert!((indexed - means[channel]).abs() <= tolerance, "channel {channel} picture {picture}");
        }
        let mut sorted: Vec<f32> = (0..14).map(of).collect();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let examples = index.examples(layer, channel).unwrap();
        assert_eq!((examples.top.len(), examples.bottom.len()), (TOP, BOTTOM));
        for (k, example) in examples.top.iter().enumerate() {
            assert!((of(example.picture) - sorted[k]).abs() <= tolerance, "channel {channel}: top {k}");
            assert_eq!(example.value, index.means(layer, example.picture).unwrap()[channel]);
        }
        for (k, example) in examples.bottom.iter().enumerate() {
            assert!((of(example.picture) - sorted[13 - k]).abs() <= tolerance, "channel {channel}: least {k}");
        }
        firing += usize::from(sorted[0] > sorted[13] + tolerance);
    }
    assert!(firing > channels / 2, "most channels tell the scenes apart ({firing} of {channels})");
}

/// A filter's own visualization pasted into one corner of a grey field: that picture's activation map peaks in
/// that corner, for each corner and several filters; and the visualization drives its filter harder than the
/// grey fields do, with a check that says so.
#[test]
fn the_map_peaks_where_the_filter_s_pattern_is() {
    let model = alexnet();
    let layer = Network::Alexnet.layer_index("conv2").unwrap();
    let (tile, field) = (64, 192);
    for filter in [3, 40, 100] {
        let request = RunRequest {
            model: Network::Alexnet,
            steps: Some(48),
            size: Some(tile),
            seed: 1,
            ..RunRequest::new(Mode::Lucid, "conv2", &[filter])
        };
        let (objective, config) = request.plan(&Start::default()).unwrap();
        let mut ascent = Ascent::new(&model, objective, config).unwrap();
        while !ascent.is_done() {
            pollster::block_on(ascent.step()).unwrap();
        }
        let planar = pollster::block_on(ascent.pixels()).unwrap();
        let pattern = rgba(&planar, tile, tile, Levels::Clamp);
        let corners = [(0, 0), (field - tile, 0), (0, field - tile), (field - tile, field - tile)];
        let pictures: Vec<(String, Rgba)> = corners
            .iter()
            .map(|&(x0, y0)| {
                let mut picture =
                    Rgba { width: field, height: field, pixels: [128, 128, 128, 255].repeat(field * field) };
                for y in 0..tile {
                    let at = 4 * ((y0 + y) * field + x0);
                    picture.pixels[at..at + 4 * tile].copy_from_slice(&pattern[4 * y * tile..4 * (y + 1) * tile]);
                }
                (format!("corner {x0},{y0}"), picture)
            })
            .collect();
        let mut index = ExampleIndex::new(Network::Alexnet, &[layer], field).unwrap();
        pollster::block_on(index.add(&model, &pictures)).unwrap();
        let examples = index.examples(layer, filter).unwrap();
        for example in &examples.top {
            let (x0, y0) = corners[example.picture];
            let (px, py) = example.map.peak();
            let inside =
                |p: f32, start: usize| (p * field as f32 >= start as f32) && (p * field as f32) < (start + tile) as f32;
            assert!(
                inside(px, x0) && inside(py, y0),
                "filter {filter}: the map of the pattern at {x0},{y0} peaks at ({px:.2}, {py:.2}) of the field"
            );
        }
        let found = pollster::block_on(check(&index, &model, layer, filter, planar, tile)).unwrap();
        assert!(found.ratio.unwrap() > 1.0, "filter {filter}: {found:?}");
        assert!(found.sentence("conv2").starts_with("drives this filter"), "{found:?}");
    }
}

/// `filterlens examples` on a folder of generated scenes (and a file that is no picture): the sheet's rows hold
/// each filter's top pictures then its least, captioned `layer:filter value` in the ranking's order (read back
/// against the font), the table names the files in that order, and the broken file is named and skipped; the same
/// network as an ONNX file ranks them the same.
#[test]
fn the_cli_writes_a_sheet_in_ranking_order() {
    let dir = std::env::temp_dir().join(format!("filterlens-examples-{}", std::process::id()));
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for k in 0..12 {
        std::fs::write(images.join(format!("scene{k:02}.png")), scene(k).to_png()).unwrap();
    }
    std::fs::write(images.join("broken.jpg"), b"\xff\xd8\xff not a jpeg at all").unwrap();
    let out = dir.join("sheet.png");
    let run = Command::new(env!("CARGO_BIN_EXE_filterlens"))
        .args([
            "examples",
            "--model",
            "alexnet",
            "--layer",
            "conv1",
            "--filters",
            "2,7",
            "--size",
            "96",
            "--tile",
            "96",
        ])
        .arg("--images")
        .arg(&images)
        .arg("--out")
        .arg(&out)
        .current_dir(repo_path("."))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("skipped") && stderr.contains("broken.jpg"), "{stderr}");
    assert!(stdout.contains("12 pictures through AlexNet to conv1 at 96 px"), "{stdout}");

    let model = alexnet();
    let sheet = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();
    let layout = GridLayout::with_columns(2 * (TOP + BOTTOM), 96, TOP + BOTTOM);
    assert_eq!((sheet.width, sheet.height), (layout.width(), layout.height()));
    let means: Vec<Vec<f32>> = (0..12).map(|k| forward_means(&model, &scene(k), 0, 96)).collect();
    for (row, filter) in [2usize, 7].into_iter().enumerate() {
        let mut order: Vec<usize> = (0..12).collect();
        order.sort_by(|&a, &b| means[b][filter].total_cmp(&means[a][filter]).then(a.cmp(&b)));
        let shown: Vec<usize> = order[..TOP].iter().chain(order.iter().rev().take(BOTTOM)).copied().collect();
        for (column, &picture) in shown.iter().enumerate() {
            let (x, y) = layout.origin(row * (TOP + BOTTOM) + column);
            let caption = crate::cli::read_caption(&sheet, x, y + 96, 96, layout.caption_height());
            let (label, value) = caption.split_once(' ').unwrap_or_else(|| panic!("caption '{caption}'"));
            assert_eq!(label, format!("conv1:{filter}"), "row {row} column {column}");
            let value: f32 = value.parse().unwrap();
            assert!((value - means[picture][filter]).abs() < 0.006, "row {row} column {column}: {caption}");
        }
        let names: Vec<String> = order[..TOP].iter().map(|k| format!("scene{k:02}.png")).collect();
        let line = stdout.lines().find(|l| l.starts_with(&format!("conv1:{filter} top: "))).unwrap();
        let listed: Vec<&str> =
            line.split("; ").map(|item| item.rsplit(": ").next().unwrap().split(' ').next().unwrap()).collect();
        assert_eq!(listed, names, "{line}");
    }

    // A model of one's own: AlexNet written as ONNX (its conv1 is `features_0`) ranks the folder the same.
    let onnx = Command::new(env!("CARGO_BIN_EXE_filterlens"))
        .args(["examples", "--model-file", "weights/alexnet.onnx", "--layer", "features_0", "--filters", "2,7"])
        .args(["--size", "96", "--tile", "96", "--images"])
        .arg(&images)
        .arg("--out")
        .arg(dir.join("onnx.png"))
        .current_dir(repo_path("."))
        .output()
        .unwrap();
    assert!(onnx.status.success(), "{}", String::from_utf8_lossy(&onnx.stderr));
    let tables = |text: &str, layer: &str| -> Vec<String> {
        text.lines().filter(|l| l.starts_with(layer)).map(|l| l.replacen(layer, "", 1)).collect()
    };
    assert_eq!(tables(&String::from_utf8_lossy(&onnx.stdout), "features_0:"), tables(&stdout, "conv1:"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Bad input is refused in words: a folder without pictures, a filter past the layer's.
#[test]
fn the_cli_refuses_what_it_cannot_show() {
    let dir = std::env::temp_dir().join(format!("filterlens-examples-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str], images: &Path| {
        Command::new(env!("CARGO_BIN_EXE_filterlens"))
            .args(["examples", "--model", "alexnet", "--images"])
            .arg(images)
            .args(args)
            .current_dir(repo_path("."))
            .output()
            .unwrap()
    };
    let empty = run(&["--layer", "conv1"], &dir);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("has no PNG or JPEG pictures"));
    let past = run(&["--layer", "conv1", "--filters", "64"], &dir);
    assert!(String::from_utf8_lossy(&past.stderr).contains("filter 64 is out of range"), "{past:?}");
    std::fs::remove_dir_all(&dir).ok();
}
