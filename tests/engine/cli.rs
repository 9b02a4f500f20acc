//! The CLI as a user runs it: PNGs of the right size, clear messages and a failing exit code on bad input.

use filterlens::picture::image::{GridLayout, Rgba};
use std::path::Path;
use std::process::{Command, Output};

use crate::repo_path;

fn filterlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_filterlens")).args(args).current_dir(repo_path(".")).output().unwrap()
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    (info.width, info.height)
}

fn temp_png(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("filterlens-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn render_writes_a_png_of_the_requested_size() {
    let out = temp_png("render.png");
    let run = filterlens(&[
        "render",
        "--layer",
        "conv1_2",
        "--filter",
        "3",
        "--steps",
        "3",
        "--size",
        "40",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(png_size(&out), (40, 40));
    // Min-max normalised, the picture spans black to white: not a blank image.
    let picture = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();
    let (lo, hi) =
        picture.pixels.chunks_exact(4).flat_map(|p| &p[..3]).fold((255, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((lo, hi), (0, 255), "the rendered picture spans the grey levels");
}

#[test]
fn grid_writes_six_captioned_tiles() {
    let out = temp_png("grid.png");
    let run = filterlens(&[
        "grid",
        "--layer",
        "conv2_1",
        "--filters",
        "0-5",
        "--steps",
        "2",
        "--size",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // 3 columns × 2 rows of 64 px tiles, each with an 11 px caption strip below, 4 px gaps.
    let layout = GridLayout::new(6, 64);
    assert_eq!(png_size(&out), (3 * 64 + 2 * 4, 2 * (64 + 11) + 4));
    let picture = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();
    for tile in 0..6 {
        let (x0, y0) = layout.origin(tile);
        assert_eq!(read_caption(&picture, x0, y0 + 64, 64, 11), format!("conv2_1:{tile}"), "tile {tile}'s caption");
    }
}

/// The text in a caption strip, read back glyph by glyph against the font (scale 1: 64 px tiles): from the ink's
/// top, each 4×7 cell must be exactly one glyph, until a blank cell. The text starts at the ink's left edge, or up to
/// three columns before it (a glyph such as `.` has no ink in its first column). Panics on ink that is no glyph.
pub fn read_caption(picture: &Rgba, x: usize, y: usize, width: usize, height: usize) -> String {
    use filterlens::picture::image::{GLYPH_HEIGHT, GLYPH_WIDTH, GLYPHS, glyph};
    let ink = |px: usize, py: usize| picture.pixels[4 * (py * picture.width + px)] < 100;
    let inked: Vec<(usize, usize)> =
        (y..y + height).flat_map(|py| (x..x + width).map(move |px| (px, py))).filter(|&(px, py)| ink(px, py)).collect();
    let Some(left) = inked.iter().map(|p| p.0).min() else { return String::new() };
    let top = inked.iter().map(|p| p.1).min().unwrap();
    let cell = |x0: usize| -> Vec<String> {
        (0..GLYPH_HEIGHT)
            .map(|gy| (0..GLYPH_WIDTH).map(|gx| if ink(x0 + gx, top + gy) { '#' } else { '.' }).collect())
            .collect()
    };
    // The text from `start`, or the first cell's rows where a cell is no glyph.
    let read_from = |start: usize| -> Result<String, Vec<String>> {
        let mut text = String::new();
        for n in 0.. {
            let x0 = start + n * (GLYPH_WIDTH + 1);
            if x0 + GLYPH_WIDTH > x + width {
                break;
            }
            let rows = cell(x0);
            if rows.iter().all(|r| !r.contains('#')) {
                // A blank cell: a space if ink follows in the next one, else the end.
                let next = x0 + GLYPH_WIDTH + 1;
                let ink_follows = next + GLYPH_WIDTH <= x + width
                    && (0..GLYPH_HEIGHT).any(|gy| (0..GLYPH_WIDTH).any(|gx| ink(next + gx, top + gy)));
                if !ink_follows {
                    break;
                }
                text.push(' ');
                continue;
            }
            match GLYPHS.chars().find(|&c| glyph(c).unwrap().iter().zip(&rows).all(|(a, b)| a == b)) {
                Some(c) => text.push(c),
                None => return Err(rows),
            }
        }
        Ok(text)
    };
    let first = read_from(left);
    (1..GLYPH_WIDTH)
        .filter_map(|shift| left.checked_sub(shift).filter(|&start| start >= x))
        .fold(first.clone(), |found, start| found.or_else(|_| read_from(start)))
        .unwrap_or_else(|_| panic!("ink that is no glyph: {:?}", first.unwrap_err()))
}

/// `render --animate`: an APNG whose frames are the picture at steps 1, 2, 4, 6 (every 2, and the first), in order,
/// each captioned with its step (read back against the font); the last frame is the PNG written beside it, and it
/// shows longest.
#[test]
fn render_animates_the_ascent_as_an_apng() {
    let (out, animated) = (temp_png("animated-last.png"), temp_png("animated.png"));
    let run = filterlens(&[
        "render",
        "--layer",
        "conv1_2",
        "--filter",
        "3",
        "--steps",
        "6",
        "--size",
        "64",
        "--out",
        out.to_str().unwrap(),
        "--animate",
        animated.to_str().unwrap(),
        "--every",
        "2",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let last = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();

    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&animated).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let control = reader.info().animation_control.expect("an animated PNG");
    assert_eq!((control.num_frames, control.num_plays), (4, 0), "4 frames, looping");
    assert_eq!((reader.info().width, reader.info().height), (64, 64 + 11), "the picture and an 11 px caption strip");
    let mut frames = Vec::new();
    let mut delays = Vec::new();
    for _ in 0..4 {
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let control = reader.info().frame_control.unwrap();
        assert_eq!((info.width, info.height), (64, 75), "every frame is whole");
        delays.push(control.delay_num as f32 / control.delay_den as f32);
        frames.push(Rgba { width: 64, height: 75, pixels: buffer[..info.buffer_size()].to_vec() });
    }
    let captions: Vec<String> = frames.iter().map(|f| read_caption(f, 0, 64, 64, 11)).collect();
    assert_eq!(captions, ["step 1", "step 2", "step 4", "step 6"]);
    assert_eq!(frames[3].pixels[..4 * 64 * 64], last.pixels[..], "the last frame is the finished picture");
    for pair in frames.windows(2) {
        assert_ne!(pair[0].pixels[..4 * 64 * 64], pair[1].pixels[..4 * 64 * 64], "the picture changes between frames");
    }
    assert_eq!(delays, [0.08, 0.08, 0.08, 2.0], "frames of 80 ms; the finished picture shows for 2 s");
}

fn refused(args: &[&str], message: &str) {
    let run = filterlens(args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{args:?} should fail with exit code 1 (the README's promise)");
    assert!(stderr.contains(message), "{args:?}: expected '{message}' in: {stderr}");
}

#[test]
fn bad_arguments_get_clear_messages() {
    refused(&["render", "--layer", "conv9_9"], "unknown layer 'conv9_9'");
    refused(&["render", "--every", "3"], "--animate");
    refused(&["render", "--animate", "a.png", "--every", "0"], "--every");
    refused(
        &["render", "--layer", "conv1_1", "--filter", "64"],
        "filter 64 is out of range: conv1_1 has filters 0..=63",
    );
    refused(&["grid", "--filters", "5-2"], "range '5-2' runs backwards");
    refused(&["render", "--backend", "cuda"], "unknown backend 'cuda'");
    refused(&["render", "--size", "4"], "size 4 is out of range (16 to 1024)");
    refused(&["render", "--weights", "/nonexistent/vgg.safetensors"], "run `make weights`");
    // What clap lets through, the run request refuses, naming the field.
    refused(&["render", "--seed", "99999999999"], "seed 99999999999 is out of range (0 to 4294967295)");
    refused(&["render", "--steps", "0"], "steps 0 is out of range (1 to 10000)");
    refused(&["render", "--lr", "0.1"], "lr does not apply to classic mode");
    refused(&["render", "--mode", "lucid", "--step-size", "2"], "stepSize does not apply to lucid mode");
    refused(&["render", "--step-size", "NaN"], "stepSize NaN is out of range");
    refused(&["render", "--step-size", "inf"], "stepSize inf is out of range");
    refused(&["render", "--size", "16", "--jitter", "4"], "the random transforms shrink a 16 px image to 12 px");
    refused(&["render", "--mode", "LUCID"], "unknown mode 'LUCID' (expected classic, lucid, maco)");
    refused(&["grid", "--filters", ""], "'' is not a filter number");
    refused(&["grid", "--filters", "1-"], "'' is not a filter number");
    refused(&["grid", "--filters", "0-99999999999999999999"], "is not a filter number");
    refused(&["grid", "--layer", "conv1_1", "--filters", "60-70"], "filter 64 is out of range");
    refused(
        &["render", "--model", "resnet50"],
        "unknown model 'resnet50' (expected vgg16, alexnet, efficientnet-lite0)",
    );
    refused(
        &["render", "--objective", "conv4_3:20 + 0.5*conv9_1:3"],
        "objective 'conv4_3:20 + 0.5*conv9_1:3' at character 18: unknown layer 'conv9_1'",
    );
    refused(
        &["render", "--objective", "everything"],
        "objective 'everything' at character 1: unknown layer 'everything'",
    );
    refused(&["grid", "--interpolate", "20"], "'20' is not two filters (e.g. 20,33)");
    refused(&["grid", "--interpolate", "20,33", "--objective", "neuron"], "--interpolate mixes filters' means");
    refused(&["grid", "--interpolate", "20,330", "--layer", "conv1_1"], "conv1_1 has filters 0–63, not 330");
    refused(
        &["render", "--model", "alexnet", "--layer", "conv3_1"],
        "unknown layer 'conv3_1' (AlexNet has conv1, conv2, conv3, conv4, conv5)",
    );
    refused(&["render", "--model", "alexnet", "--size", "30"], "below the 31 px the model needs");
    // One network's weights given for the other: the file is refused, and the message says it may be another's.
    refused(
        &["render", "--model", "alexnet", "--weights", "weights/vgg16-f16.safetensors"],
        "a tensor AlexNet does not use",
    );
}

/// `--model alexnet` runs AlexNet with its own weights (found by default) and its own default layer; its grid's
/// captions name AlexNet's layer.
#[test]
fn alexnet_renders_with_its_own_weights_and_layers() {
    let out = temp_png("alexnet.png");
    let run = filterlens(&[
        "grid",
        "--model",
        "alexnet",
        "--filters",
        "0-2",
        "--steps",
        "3",
        "--size",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let picture = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();
    let layout = GridLayout::new(3, 64);
    assert_eq!((picture.width, picture.height), (layout.width(), layout.height()));
    for tile in 0..3 {
        let (x0, y0) = layout.origin(tile);
        // The default layer is AlexNet's conv3.
        assert_eq!(read_caption(&picture, x0, y0 + 64, 64, 11), format!("conv3:{tile}"), "tile {tile}'s caption");
    }
}

/// A model of one's own: `inspect` lists what can be shown of it, `--model-file` renders it (AlexNet written as
/// ONNX: the same picture as the built-in AlexNet's, pixel for pixel below the captions), and a bad file is one line.
#[test]
fn models_from_onnx_files_are_inspected_and_rendered() {
    let inspect = filterlens(&["inspect", "weights/efficientnet-lite0.onnx", "--size", "128"]);
    let listing = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    assert!(listing.contains("efficientnet-lite0.onnx: 61 layers to show"), "{listing}");
    assert!(listing.contains("classifier: fc"), "{listing}");
    let row = listing.lines().find(|l| l.starts_with("blocks_15_project_conv")).expect("a block's projection");
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["blocks_15_project_conv", "320", "4×4", "—"]);
    let stopped = filterlens(&["inspect", "tests/fixtures/onnx/refused/unsupported_midway.onnx"]);
    let listing = String::from_utf8_lossy(&stopped.stdout);
    assert!(listing.contains("stops at node 'tanh' (Tanh)") && listing.contains("  tanh (Tanh)"), "{listing}");

    let picture = |args: &[&str], name: &str| {
        let out = temp_png(name);
        let mut all = vec!["grid", "--filters", "0-2", "--steps", "3", "--size", "64", "--out", out.to_str().unwrap()];
        all.extend(args);
        let run = filterlens(&all);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap()
    };
    let own = picture(&["--model-file", "weights/alexnet.onnx", "--layer", "features_6"], "own.png");
    let built_in = picture(&["--model", "alexnet", "--layer", "conv3"], "built-in.png");
    let layout = GridLayout::new(3, 64);
    for tile in 0..3 {
        let (x0, y0) = layout.origin(tile);
        let rows = |p: &Rgba| -> Vec<u8> {
            (y0..y0 + 64).flat_map(|y| p.pixels[(y * p.width + x0) * 4..(y * p.width + x0 + 64) * 4].to_vec()).collect()
        };
        assert!(rows(&own) == rows(&built_in), "tile {tile}: the ONNX AlexNet paints the built-in one's picture");
    }

    refused(&["inspect", "tests/fixtures/onnx/refused/not_onnx.onnx"], "not an ONNX model");
    refused(&["inspect", "weights/nonexistent.onnx"], "cannot read the model 'weights/nonexistent.onnx'");
    refused(
        &["render", "--model-file", "tests/fixtures/onnx/refused/four_channels.onnx"],
        "the model's input is not an image: 'image' has 4 channels",
    );
    refused(&["render", "--model-file", "weights/alexnet.onnx", "--layer", "conv3"], "unknown layer 'conv3'");
    refused(&["inspect", "weights/alexnet.onnx", "--preprocess", "imagenet"], "unknown preprocessing 'imagenet'");
}

/// Every option the README names does what it says, through the binary.
#[test]
fn every_documented_option_runs() {
    let path = |name: &str| temp_png(name).to_str().unwrap().to_string();
    let ok = |args: &[&str]| {
        let run = filterlens(args);
        assert_eq!(run.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&run.stderr));
        run
    };
    // Lucid mode: an FFT image through a sigmoid, so the PNG is not stretched to black and white.
    let lucid = path("lucid.png");
    ok(&["render", "--mode", "lucid", "--layer", "conv2_1", "--steps", "2", "--size", "32", "--out", &lucid]);
    let picture = Rgba::from_png(&std::fs::read(&lucid).unwrap()).unwrap();
    assert!(picture.pixels.chunks_exact(4).all(|p| p[0] > 40 && p[0] < 215), "a faint lucid start, not min-max");
    // Maco mode: its crops and rate, and --transparency's second picture, whose alpha is the transparency map (some
    // pixels fade, the most looked-at are opaque); the plain picture is opaque. Without the spectrum it says so.
    let (maco, faded) = (path("maco.png"), path("maco-transparency.png"));
    let maco_args = ["render", "--mode", "maco", "--layer", "conv2_1", "--steps", "3", "--size", "48", "--crops", "2"];
    ok(&[&maco_args[..], &["--lr", "0.5", "--out", &maco, "--transparency", &faded]].concat());
    // The png crate's own reading (Rgba::from_png takes pictures to start from, and drops alpha).
    let alpha = |file: &str| -> Vec<u8> {
        let mut reader =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(file).unwrap())).read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Rgba);
        buffer[..frame.buffer_size()].chunks_exact(4).map(|p| p[3]).collect()
    };
    assert!(alpha(&maco).iter().all(|&a| a == 255));
    let faded = alpha(&faded);
    let fading = faded.iter().filter(|&&a| a < 128).count();
    let opaque = faded.iter().filter(|&&a| a == 255).count();
    println!("maco --transparency, 3 steps: {fading} of {} pixels below half opacity, {opaque} opaque", faded.len());
    assert!(opaque > 0 && fading > 48 * 48 / 10, "too little fades: {fading} below half, {opaque} opaque");
    let bench = path("bench-maco.json");
    let markdown = path("bench-maco.md");
    let timed =
        ["bench", "--mode", "maco", "--backends", "flex", "--layers", "conv1_1", "--sizes", "32", "--steps", "1"];
    ok(&[&timed[..], &["--warmup", "0", "--json", &bench, "--markdown", &markdown]].concat());
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("maco mode"));
    let missing = filterlens(&[&maco_args[..], &["--spectrum", "/nonexistent.npy", "--out", &maco]].concat());
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the spectrum '/nonexistent.npy'"));
    // --init: starting from a picture, one small classic step keeps it recognisable (half black, half white).
    let start = path("start.png");
    let half: Vec<u8> =
        (0..32 * 32).flat_map(|i| if i % 32 < 16 { [0, 0, 0, 255] } else { [255, 255, 255, 255] }).collect();
    std::fs::write(&start, Rgba { width: 32, height: 32, pixels: half }.to_png()).unwrap();
    let from = path("from.png");
    ok(&[
        "render",
        "--init",
        &start,
        "--layer",
        "conv1_1",
        "--steps",
        "1",
        "--size",
        "32",
        "--step-size",
        "0.5",
        "--out",
        &from,
    ]);
    let from = Rgba::from_png(&std::fs::read(&from).unwrap()).unwrap();
    let at = |x: usize, y: usize| from.pixels[4 * (y * 32 + x)];
    assert!(at(4, 16) < 60 && at(28, 16) > 195, "the starting picture shows through: {} / {}", at(4, 16), at(28, 16));
    // --objective, --pre-relu, --jitter and --backend auto are accepted and run.
    ok(&[
        "render",
        "--objective",
        "neuron",
        "--layer",
        "conv1_2",
        "--steps",
        "1",
        "--size",
        "32",
        "--out",
        &path("n.png"),
    ]);
    ok(&["render", "--objective", "layer", "--pre-relu", "--steps", "1", "--size", "32", "--out", &path("l.png")]);
    ok(&["render", "--mode", "lucid", "--jitter", "2", "--steps", "1", "--size", "32", "--out", &path("j.png")]);
    ok(&["render", "--backend", "auto", "--steps", "1", "--size", "32", "--out", &path("a.png")]);
    // --columns: 4 tiles in 2 columns is 2 × 2.
    let grid = path("columns.png");
    ok(&["grid", "--filters", "0-3", "--columns", "2", "--steps", "1", "--size", "32", "--out", &grid]);
    let layout = GridLayout::with_columns(4, 32, 2);
    assert_eq!(png_size(Path::new(&grid)), (layout.width() as u32, layout.height() as u32));
    // bench writes its JSON and Markdown.
    let (json, md) = (temp_png("bench.json"), temp_png("bench.md"));
    let (json, md) = (json.to_str().unwrap(), md.to_str().unwrap());
    ok(&[
        "bench",
        "--backends",
        "flex",
        "--layers",
        "conv1_1",
        "--sizes",
        "32",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--json",
        json,
        "--markdown",
        md,
    ]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["cases"][0]["backend"], "flex");
    assert!(std::fs::read_to_string(md).unwrap().contains("| flex | conv1_1 | 32 |"));
    // Damaged weights: a one-line message and exit code 1.
    let damaged = temp_png("damaged.safetensors");
    std::fs::write(&damaged, b"\x10\0\0\0\0\0\0\0{not json at all}").unwrap();
    refused(&["render", "--weights", damaged.to_str().unwrap()], "no valid safetensors header");
}

/// `grid --interpolate`: Lucid's channel interpolation, tile by tile from one filter to the other, each tile
/// captioned with both filters and their weights (read back against the font; within a 64 px tile, without the
/// layer's name where the weights need the room); `render --objective` takes an expression.
#[test]
fn objective_expressions_and_interpolation() {
    let out = temp_png("interpolation.png");
    let args = ["grid", "--layer", "conv2_1", "--interpolate", "3,4", "--tiles", "3", "--steps", "2", "--size", "64"];
    let run = filterlens(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let picture = Rgba::from_png(&std::fs::read(&out).unwrap()).unwrap();
    let layout = GridLayout::new(3, 64);
    let captions: Vec<String> = (0..3)
        .map(|tile| {
            let (x0, y0) = layout.origin(tile);
            read_caption(&picture, x0, y0 + 64, 64, 11)
        })
        .collect();
    assert_eq!(captions, ["conv2_1:3", ".5*3+.5*4", "conv2_1:4"]);
    let expression = temp_png("expression.png");
    let run = filterlens(&[
        "render",
        "--objective",
        "conv3_1:5 - 0.5*conv2_1:3",
        "--steps",
        "2",
        "--size",
        "48",
        "--out",
        expression.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(png_size(&expression), (48, 48));
}
