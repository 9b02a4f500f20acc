//! Maco mode on the real weights: the picture's spectrum keeps ImageNet's magnitude exactly while its phase moves,
//! the objective climbs, a grid's tile is its single run, and what the mode refuses.

use std::sync::{Arc, OnceLock};

use filterlens::optvis::param::color_matrix;
use filterlens::optvis::transform::Crops;
use filterlens::{
    Activation, Ascent, AscentConfig, Error, Mode, Model, Network, Objective, RunRequest, Spectrum, Start, Transforms,
};

use crate::alexnet::alexnet;
use crate::{flex_model, largest_difference, repo_path, run_to_end};

/// weights/imagenet-spectrum.npy (`make weights`), read once.
fn spectrum() -> Arc<Spectrum> {
    static SPECTRUM: OnceLock<Arc<Spectrum>> = OnceLock::new();
    SPECTRUM
        .get_or_init(|| {
            let path = repo_path("weights/imagenet-spectrum.npy");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make weights`", path.display()));
            Arc::new(Spectrum::from_npy(&bytes).unwrap())
        })
        .clone()
}

/// The mean crop side follows xplique's `tf.linspace(0.5, 0.05, nb_steps)`: step i of n at progress i / (n − 1).
#[test]
fn the_mean_crop_shrinks_as_xpliques_linspace() {
    let steps = 7;
    for i in 0..steps {
        let linspace = 0.5 + (0.05 - 0.5) * i as f64 / (steps - 1) as f64;
        let mean = Crops::mean_box(i as f64 / (steps - 1) as f64);
        assert!((mean - linspace).abs() < 1e-12, "step {i}: mean crop side {mean}, xplique's {linspace}");
    }
}

/// xplique's own `init_maco_buffer` resized the same spectrum to each case's size with `tf.image.resize`
/// (tests/fixtures/maco.json, benches/maco_fixture.py): within 8.1e-7 of its largest value (float32 rounding).
#[test]
fn resampling_matches_xpliques() {
    let path = repo_path("tests/fixtures/maco.json");
    let fixture: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let size = case["size"].as_u64().unwrap() as usize;
        let expected: Vec<f64> = case["magnitude"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let resized = spectrum().resized(size);
        let largest = expected.iter().copied().fold(0.0, f64::max);
        let worst = largest_difference(&resized, &expected) / largest;
        println!("size {size}: within {worst:.1e} of xplique's resized spectrum (relative to its largest value)");
        assert!(worst < 3e-6, "size {size}: off xplique's resized spectrum by {worst}");
    }
}

/// Maco mode's preset at a test's scale: `size` px, `count` crops of `side` px.
fn config(steps: usize, size: usize, count: usize, side: usize) -> AscentConfig {
    AscentConfig {
        steps,
        size,
        transforms: Transforms::maco(Crops { count, side }),
        spectrum: Some(spectrum()),
        ..Mode::Maco.preset_config()
    }
}

/// The decorrelated image under a picture (planar `[3][size][size]` in (0, 1)): the sigmoid and the colour mixing
/// undone, in f64.
fn decorrelated(picture: &[f32], size: usize) -> Vec<f64> {
    let m = color_matrix();
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let inverse: Vec<Vec<f64>> = (0..3)
        .map(|r| {
            (0..3)
                .map(|c| {
                    let (r1, r2, c1, c2) = ((c + 1) % 3, (c + 2) % 3, (r + 1) % 3, (r + 2) % 3);
                    (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det
                })
                .collect()
        })
        .collect();
    let plane = size * size;
    let logit = |v: f32| (f64::from(v) / (1.0 - f64::from(v))).ln();
    (0..3)
        .flat_map(|c| {
            let inverse = &inverse;
            (0..plane).map(move |p| (0..3).map(|k| inverse[c][k] * logit(picture[k * plane + p])).sum::<f64>())
        })
        .collect()
}

/// |DFT| of one channel at bin (ky, kx), in f64.
fn magnitude_at(channel: &[f64], size: usize, ky: usize, kx: usize) -> f64 {
    let tau = std::f64::consts::TAU;
    let (mut re, mut im) = (0.0, 0.0);
    for y in 0..size {
        for x in 0..size {
            let angle = tau * ((ky * y) as f64 + (kx * x) as f64) / size as f64;
            re += channel[y * size + x] * angle.cos();
            im -= channel[y * size + x] * angle.sin();
        }
    }
    re.hypot(im)
}

/// MACO optimises the phase only: after steps that changed the picture, every bin of its spectrum (where the
/// magnitude is not negligible) is still ImageNet's magnitude times one common factor (the standardisation's). The
/// columns kx = 0 and kx = size/2 are left out: an inverse real FFT keeps only their Hermitian part, in xplique too.
#[test]
fn the_magnitude_stays_imagenets_while_the_phase_moves() {
    let size = 32;
    let objective = Objective::channels(Network::Vgg16, "conv3_1", &[5]).unwrap();
    let ascent = Ascent::new(flex_model(), objective, config(6, size, 2, 64)).unwrap();
    let before = pollster::block_on(ascent.pixels()).unwrap();
    let (_, ascent) = run_to_end(ascent);
    let after = pollster::block_on(ascent.pixels()).unwrap();
    let moved = largest_difference(&before, &after);
    assert!(moved > 0.05, "the picture moved by {moved} only");

    let expected = spectrum().resized(size);
    let bins = size / 2 + 1;
    let largest = expected.iter().copied().fold(0.0, f32::max);
    let image = decorrelated(&after, size);
    let mut ratios = Vec::new();
    for c in 0..3 {
        for ky in 0..size {
            for kx in 1..size / 2 {
                let m = f64::from(expected[(c * size + ky) * bins + kx]);
                if m > 1e-3 * f64::from(largest) {
                    ratios.push(magnitude_at(&image[c * size * size..(c + 1) * size * size], size, ky, kx) / m);
                }
            }
        }
    }
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let spread = (hi - lo) / hi;
    println!("{} bins: |spectrum| / ImageNet's magnitude within {lo:.6}…{hi:.6} ({spread:.1e} relative)", ratios.len());
    assert!(ratios.len() > 500, "only {} bins compared", ratios.len());
    assert!(spread < 1e-3, "the magnitude changed: |spectrum| / magnitude spans {lo}…{hi}");
}

/// The filter's mean activation on the whole picture, untransformed (the yardstick: the crops shrink over the run,
/// so the reported per-crop values of early and late steps see different zooms).
fn channel_mean(model: &Model, ascent: &Ascent, layer: &str, filter: usize) -> f32 {
    let layer = model.network().layer_index(layer).unwrap();
    let features = model.forward(ascent.image(), layer, Activation::After);
    features.narrow(1, filter, 1).mean().into_scalar::<f32>()
}

/// What the page plots for a run with transforms (`Ascent::whole_picture`) is that yardstick: the objective of the
/// picture as it is, untransformed, here against the forward pass written out above.
#[test]
fn whole_picture_is_the_objective_untransformed() {
    let model = flex_model();
    let objective = Objective::channels(model.network(), "conv3_1", &[5]).unwrap();
    let (_, ascent) = run_to_end(Ascent::new(model, objective, config(3, 64, 2, 48)).unwrap());
    let whole = pollster::block_on(ascent.whole_picture()).unwrap();
    let expected = channel_mean(model, &ascent, "conv3_1", 5);
    println!("conv3_1:5 after 3 maco steps: whole picture {} vs {expected}", whole[0]);
    assert_eq!(whole.len(), 1);
    assert!((whole[0] - expected).abs() <= 1e-5 * expected.abs().max(1.0), "{} vs {expected}", whole[0]);
}

/// The objective climbs, on both networks: the filter responds far more to the finished picture than to the
/// starting one (×5.9 and ×1.5 here).
#[test]
fn maco_climbs_the_objective() {
    for (model, layer, filter) in [(flex_model(), "conv3_1", 5), (alexnet(), "conv3", 1)] {
        let objective = Objective::channels(model.network(), layer, &[filter]).unwrap();
        let ascent = Ascent::new(model, objective, config(24, 128, 4, 64)).unwrap();
        let start = channel_mean(model, &ascent, layer, filter);
        let (_, ascent) = run_to_end(ascent);
        let end = channel_mean(model, &ascent, layer, filter);
        println!("{layer}:{filter}, maco at 128 px, 4 crops of 64, 24 steps: from {start:.3} to {end:.3}");
        assert!(end > 1.4 * start.max(0.1), "{layer}:{filter} from {start} to {end}");
    }
}

/// A grid's tiles see the same crops and noise as their single runs: tile k of a batch is filter k's own picture.
#[test]
fn a_maco_tile_is_its_single_run() {
    let steps = 3;
    let picture = |filters: &[usize]| {
        let objective = Objective::channels(Network::Vgg16, "conv2_1", filters).unwrap();
        let (reports, ascent) = run_to_end(Ascent::new(flex_model(), objective, config(steps, 48, 2, 48)).unwrap());
        // One activation per picture (the mean over its crops), not one per crop.
        assert!(reports.iter().all(|r| r.activations.len() == filters.len()), "an activation per picture");
        pollster::block_on(ascent.pixels()).unwrap()
    };
    let grid = picture(&[3, 7]);
    let plane = 3 * 48 * 48;
    for (k, filter) in [3, 7].into_iter().enumerate() {
        let alone = picture(&[filter]);
        let worst = largest_difference(&alone, &grid[k * plane..(k + 1) * plane]);
        assert!(worst < 1e-4, "tile {k} is {worst} from filter {filter}'s single run");
    }
}

/// The diversity term compares a batch's pictures, never a picture's crops with each other: a picture's crops
/// sit side by side as one image there, so one picture has nothing to be pushed from, and its run with diversity is
/// its run without.
#[test]
fn diversity_leaves_a_pictures_own_crops_alone() {
    let picture = |diversity: f32| {
        let objective = Objective::channels(Network::Vgg16, "conv2_1", &[3]).unwrap().with_diversity(diversity);
        let (_, ascent) = run_to_end(Ascent::new(flex_model(), objective, config(3, 48, 2, 48)).unwrap());
        pollster::block_on(ascent.pixels()).unwrap()
    };
    // Measured: 2.4e-7 at weight 1 (the term is 0, its gradient rounding: NAdam scales each parameter's step by its
    // own history, so a large weight lifts that rounding to 6e-4 at weight 1000). Comparing the crops instead moves
    // the picture by 0.24 at weight 1.
    let off = largest_difference(&picture(1.0), &picture(0.0));
    assert!(off < 1e-5, "diversity moved a lone picture by {off}");
}

/// Maco's fields and refusals: its own rate and crops, no jitter or step size; crops only in maco mode; no start
/// from a picture; no run without the spectrum.
#[test]
fn maco_requests_and_refusals() {
    let request = |json: serde_json::Value| serde_json::from_value::<RunRequest>(json).unwrap();
    let refusal = |json: serde_json::Value| request(json).plan(&Start::default()).unwrap_err().to_string();
    let (_, planned) =
        request(serde_json::json!({ "mode": "maco", "layer": "conv3_1", "filters": [1], "crops": 5, "lr": 0.5 }))
            .plan(&Start::default())
            .unwrap();
    assert_eq!(planned.transforms.crops, Some(Crops { count: 5, side: 128 }));
    assert_eq!(planned.optimiser, filterlens::Optimiser::Nadam { learning_rate: 0.5 });
    assert!(
        refusal(serde_json::json!({ "mode": "maco", "layer": "conv3_1", "filters": [1], "jitter": 4 }))
            .starts_with("jitter does not apply to maco mode")
    );
    assert!(
        refusal(serde_json::json!({ "mode": "maco", "layer": "conv3_1", "filters": [1], "stepSize": 2 }))
            .starts_with("stepSize does not apply to maco mode")
    );
    assert!(
        refusal(serde_json::json!({ "mode": "lucid", "layer": "conv3_1", "filters": [1], "crops": 4 }))
            .starts_with("crops does not apply to lucid mode")
    );
    assert_eq!(
        refusal(serde_json::json!({ "mode": "maco", "layer": "conv3_1", "filters": [1], "crops": 65 })),
        "crops 65 is out of range (1 to 64)"
    );
    let objective = || Objective::channels(Network::Vgg16, "conv3_1", &[1]).unwrap();
    let from_picture = AscentConfig { init: Some(vec![0.5; 3 * 64 * 64]), ..config(2, 64, 2, 64) };
    assert!(matches!(Ascent::new(flex_model(), objective(), from_picture), Err(Error::MacoFromPicture)));
    let without = AscentConfig { spectrum: None, ..config(2, 64, 2, 64) };
    let refused = Ascent::new(flex_model(), objective(), without).err().expect("refused");
    assert!(refused.to_string().contains("make weights"), "{refused}");
}
