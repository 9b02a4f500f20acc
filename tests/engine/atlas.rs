//! `filterlens atlas` as a batch job runs it: shards in separate processes, one killed mid-way and run again, the
//! merge equal to one process's atlas pixel for pixel; what the merge refuses; the packed files as the page reads
//! them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use filterlens::atlas::pack::Manifest;
use filterlens::atlas::sha256_hex;
use filterlens::picture::image::Rgba;

use crate::repo_path;

/// AlexNet's conv1 (64 filters) in 16 batches of 4, 30 classic steps at 64 px: about a second on two cores.
const SETTINGS: [&str; 12] =
    ["--model", "alexnet", "--layers", "conv1", "--batch", "4", "--steps", "30", "--size", "64", "--seed", "3"];

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("filterlens-atlas-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn filterlens(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_filterlens"));
    command.args(args).current_dir(repo_path("."));
    command
}

fn atlas(out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    filterlens(&[&["atlas", "--out", out][..], &SETTINGS, extra].concat()).output().unwrap()
}

fn succeeded(output: Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    text
}

fn merge(out: &Path) -> Manifest {
    succeeded(filterlens(&["atlas", "merge", "--out", out.to_str().unwrap()]).output().unwrap());
    serde_json::from_slice(&std::fs::read(out.join("pack/manifest.json")).unwrap()).unwrap()
}

fn parts(out: &Path) -> usize {
    std::fs::read_dir(out.join("parts"))
        .map(|d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".png")).count())
        .unwrap_or(0)
}

/// Three shards, the middle one killed once its first picture is written and then run again: it makes only what
/// is missing, and the merged atlas is the single process's, byte for byte.
#[test]
fn shards_with_one_killed_and_rerun_make_one_process_atlas() {
    let whole = folder("whole");
    succeeded(atlas(&whole, &[]));
    let expected = merge(&whole);

    let sharded = folder("sharded");
    succeeded(atlas(&sharded, &["--shard", "0/3"]));
    let mut killed =
        filterlens(&[&["atlas", "--out", sharded.to_str().unwrap()][..], &SETTINGS, &["--shard", "1/3"]].concat())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let before = parts(&sharded);
    let began = Instant::now();
    while parts(&sharded) == before && began.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    let after_kill = parts(&sharded) - before;
    assert!((1..21).contains(&after_kill), "shard 1 was killed after {after_kill} of its 20 pictures");
    // An index from the scheduler's variable, as an array task reads it.
    let rerun = succeeded(
        filterlens(&[&["atlas", "--out", sharded.to_str().unwrap()][..], &SETTINGS, &["--shards", "3"]].concat())
            .env("SLURM_ARRAY_TASK_ID", "1")
            .output()
            .unwrap(),
    );
    let made = 20 - after_kill;
    assert!(
        rerun.contains(&format!(
            "shard 1/3 of AlexNet (1 layers, 64 filters in all): {made} pictures made, {after_kill} already there"
        )),
        "{rerun}"
    );
    succeeded(atlas(&sharded, &["--shard", "2/3"]));
    let got = merge(&sharded);
    assert_eq!(got, expected, "the manifests (every picture's SHA-256) differ");
    for file in ["layer-000.bin", "layer-000.png"] {
        let read = |dir: &Path| std::fs::read(dir.join("pack").join(file)).unwrap();
        assert!(read(&sharded) == read(&whole), "{file} differs");
    }
}

/// The manifest finds every picture in its layer's file by byte range and checks it by SHA-256; the contact sheet
/// is as its layout says; the settings are the request's.
#[test]
fn the_manifest_finds_and_checks_every_picture() {
    let out = folder("manifest");
    succeeded(atlas(&out, &[]));
    let manifest = merge(&out);
    assert_eq!((manifest.network.as_str(), manifest.size, manifest.batch), ("alexnet", 64, 4));
    assert_eq!(manifest.settings["seed"], 3);
    assert_eq!(manifest.settings["steps"], 30);
    let [layer] = manifest.layers.as_slice() else { panic!("one layer: {:?}", manifest.layers.len()) };
    assert_eq!((layer.name.as_str(), layer.channels, layer.pictures.len()), ("conv1", 64, 64));
    let packed = std::fs::read(out.join("pack").join(&layer.file)).unwrap();
    assert_eq!((packed.len(), sha256_hex(&packed)), (layer.bytes, layer.sha256.clone()));
    let mut distinct = std::collections::HashSet::new();
    for (filter, picture) in layer.pictures.iter().enumerate() {
        let bytes = &packed[picture.offset..picture.offset + picture.length];
        assert_eq!(sha256_hex(bytes), picture.sha256, "conv1:{filter}");
        let image = Rgba::from_png(bytes).unwrap();
        assert_eq!((image.width, image.height), (64, 64), "conv1:{filter}");
        distinct.insert(image.pixels);
    }
    assert_eq!(distinct.len(), 64, "every filter has a picture of its own");
    let sheet = std::fs::read(out.join("pack").join(&layer.sheet.file)).unwrap();
    assert_eq!(sha256_hex(&sheet), layer.sheet.sha256);
    let sheet = Rgba::from_png(&sheet).unwrap();
    assert_eq!((sheet.width, sheet.height), (layer.sheet.width, layer.sheet.height));
    // 64 tiles, 8 to a row; tile 9's picture is the sheet's own pixels of conv1:9.
    assert_eq!(layer.sheet.tiles.len(), 64);
    let tile = layer.sheet.tiles[9];
    assert_eq!((tile.width, tile.x, tile.x + tile.width <= sheet.width), (64, tile.width + 4, true));
    let nine = Rgba::from_png(&packed[layer.pictures[9].offset..][..layer.pictures[9].length]).unwrap();
    for y in 0..64 {
        let row = &sheet.pixels[4 * ((tile.y + y) * sheet.width + tile.x)..][..4 * 64];
        assert_eq!(row, &nine.pixels[4 * 64 * y..4 * 64 * (y + 1)], "row {y} of conv1:9's tile");
    }
}

/// The merge names what is missing; a folder holds one atlas; arguments that make no atlas are refused.
#[test]
fn refusals_name_what_is_wrong() {
    let out = folder("refusals");
    succeeded(atlas(&out, &["--shard", "0/2"]));
    let merged = filterlens(&["atlas", "merge", "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(!merged.status.success());
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert!(
        stderr.contains("32 of 64 pictures are missing (conv1:4, conv1:5, conv1:6, conv1:7, conv1:12,")
            && stderr.contains("and 20 more): run their shards again"),
        "{stderr}"
    );
    assert!(!out.join("pack").exists(), "nothing is packed from an incomplete atlas");

    let other = atlas(&out, &["--shard", "1/2", "--mode", "lucid"]);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success() && stderr.contains("holds an atlas with other settings (settings)"), "{stderr}");

    for (args, message) in [
        (&["--shards", "4"][..], "4 shards, but which is this one? Give --shard i/4"),
        (&["--shard", "4/4"], "shard 4/4 does not exist"),
        (&["--shard", "two"], "'two' is not a shard (e.g. 2/8)"),
        (&["--layer", "conv2"], "an atlas takes --layers"),
        (&["--objective", "conv1:3 + conv1:4"], "an atlas shows filters"),
    ] {
        let refused = atlas(&folder("refused"), args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }
    let empty = filterlens(&["atlas", "--model", "alexnet", "--batch", "0", "--out", "/nonexistent"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(stderr.contains("the batch must hold 1 to 64 filters, not 0"), "{stderr}");
    let unknown =
        filterlens(&["atlas", "--model", "alexnet", "--layers", "conv9", "--out", "/nonexistent"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown layer 'conv9' for the atlas (AlexNet has conv1, conv2, conv3, conv4, conv5"),
        "{stderr}"
    );
}
