//! Lucid mode and the other objectives on the real weights.

use burn::tensor::Tensor;
use filterlens::picture::image::batch_rgba;
use filterlens::{
    Activation, Ascent, AscentConfig, Backend, Levels, Mode, Network, Objective, RunRequest, Start, Target, Transforms,
};

use crate::{flex_model, largest_difference, model, run_to_end};

fn run(objective: Objective, config: AscentConfig) -> (Vec<f32>, Ascent) {
    let (reports, ascent) = run_to_end(Ascent::new(flex_model(), objective, config).unwrap());
    (reports.iter().map(|r| r.activations[0]).collect(), ascent)
}

/// Mean post-ReLU activation of `layer:filter` on the run's final image, untransformed: the fair yardstick
/// for both modes.
fn channel_mean(ascent: &Ascent, layer: &str, filter: usize) -> f32 {
    let features = flex_model().forward(ascent.image(), Network::Vgg16.layer_index(layer).unwrap(), Activation::After);
    let mean: Tensor<1> = features.narrow(1, filter, 1).mean();
    mean.into_scalar::<f32>()
}

/// Lucid's `standard_transforms`, as its source writes them: `pad(12, constant 0.5)`, `jitter(8)`,
/// `random_scale([1 + (i - 5) / 50 for i in range(11)])`, `random_rotate(list(range(-10, 11)) + 5 * [0])`,
/// `jitter(4)`, in that order (the order of the lists is which value a seed picks).
#[test]
fn standard_transforms_are_lucids() {
    let lucid = Transforms::standard();
    let scales: Vec<f32> = [0.9, 0.92, 0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06, 1.08, 1.1].into();
    let mut angles: Vec<f32> = (0..21).map(|i| i as f32 - 10.0).collect();
    angles.extend([0.0; 5]);
    assert_eq!((lucid.pad, lucid.jitter, lucid.jitter_after, lucid.crops), (12, 8, 4, None));
    assert_eq!(lucid.angles, angles);
    assert_eq!(lucid.scales.len(), scales.len());
    for (ours, theirs) in lucid.scales.iter().zip(&scales) {
        assert!((ours - theirs).abs() < 1e-6, "scales {:?}, Lucid's {scales:?}", lucid.scales);
    }
}

/// At equal steps, lucid mode drives a deep filter far higher than the seed's plain ascent.
#[test]
fn lucid_beats_classic_on_a_deep_filter() {
    let (layer, filter, steps, size) = ("conv4_3", 20, 48, 128);
    let objective = || Objective::channels(Network::Vgg16, layer, &[filter]).unwrap();
    let (_, classic) = run(objective(), AscentConfig { steps, size, ..Mode::Classic.preset_config() });
    let (_, lucid) = run(objective(), AscentConfig { steps, size, ..Mode::Lucid.preset_config() });
    let (c, l) = (channel_mean(&classic, layer, filter), channel_mean(&lucid, layer, filter));
    println!("{layer}:{filter} after {steps} steps at {size} px: classic {c:.2}, lucid {l:.2}");
    assert!(l > 2.0 * c.max(0.1), "lucid {l} is not far above classic {c}");
}

#[test]
fn lucid_images_stay_in_range_and_reproduce() {
    let config = AscentConfig { steps: 4, size: 48, seed: 5, ..Mode::Lucid.preset_config() };
    let a = pollster::block_on(
        run(Objective::channels(Network::Vgg16, "conv3_1", &[2]).unwrap(), config.clone()).1.pixels(),
    )
    .unwrap();
    let b = pollster::block_on(run(Objective::channels(Network::Vgg16, "conv3_1", &[2]).unwrap(), config).1.pixels())
        .unwrap();
    assert!(a == b, "the same seed gave different pictures");
    assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "sigmoid images leave [0, 1]");
}

/// Transforms are drawn once per step for the whole batch, so a lucid grid tile is its single run.
#[test]
fn lucid_batched_grid_matches_single_runs() {
    let config = AscentConfig { steps: 4, size: 48, seed: 9, ..Mode::Lucid.preset_config() };
    let filters = [0, 1, 2, 3, 4, 5];
    let tiles = |fs: &[usize]| {
        let ascent = run(Objective::channels(Network::Vgg16, "conv2_2", fs).unwrap(), config.clone()).1;
        batch_rgba(&pollster::block_on(ascent.pixels()).unwrap(), config.size, Levels::Clamp)
    };
    let batch = tiles(&filters);
    for (i, &filter) in filters.iter().enumerate() {
        let single = tiles(&[filter]).remove(0);
        let worst = batch[i].iter().zip(&single).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 1, "tile {i} differs from its single run by {worst} levels");
    }
}

#[test]
fn neuron_and_layer_objectives_rise() {
    for target in [Target::Neuron, Target::Layer] {
        let objective = Objective::new(Network::Vgg16, "conv3_1", &[7], target, Activation::After).unwrap();
        let (values, _) = run(objective, AscentConfig { steps: 12, size: 64, ..Mode::Lucid.preset_config() });
        println!("{target:?}: {:.3} -> {:.3}", values[0], values[11]);
        assert!(values[11] > 1.5 * values[0].max(1e-3), "{target:?} did not rise: {values:?}");
    }
}

/// Starting from a picture: classic ascent begins exactly at that picture and moves away from it.
#[test]
fn own_image_start() {
    let size = 32;
    let picture: Vec<f32> = (0..3 * size * size).map(|i| (i % 97) as f32 / 96.0).collect();
    let config = AscentConfig { steps: 1, size, init: Some(picture.clone()), ..Mode::Classic.preset_config() };
    let ascent =
        Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv2_1", &[4]).unwrap(), config.clone())
            .unwrap();
    assert_eq!(pollster::block_on(ascent.pixels()).unwrap(), picture);
    let (_, moved) = run(Objective::channels(Network::Vgg16, "conv2_1", &[4]).unwrap(), config);
    assert_ne!(pollster::block_on(moved.pixels()).unwrap(), picture);
    let wrong = AscentConfig { init: Some(vec![0.5; 10]), ..Mode::Classic.preset_config() };
    let error =
        Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv2_1", &[4]).unwrap(), wrong).err().unwrap();
    assert_eq!(error.to_string(), "the starting image has 10 values, expected 3 × 224 × 224");
}

/// A lucid run that moves to another backend mid-way (a lost WebGPU device, in the page) carries on from its
/// checkpoint, Adam's moments and the transforms' random stream included: it ends where an uninterrupted run on
/// the second backend ends. From Flex to Flex that is bit for bit; from ndarray, within the two backends' own
/// difference: they round differently, and Adam's first steps divide near-zero gradients by their own size, so two
/// uninterrupted runs, one per backend, already end some 1e-4 to 1e-3 apart. That difference is the yardstick.
#[test]
fn a_run_resumed_on_another_backend_ends_where_an_uninterrupted_run_does() {
    let request =
        RunRequest { steps: Some(6), size: Some(32), seed: 4, ..RunRequest::new(Mode::Lucid, "conv2_1", &[7, 8]) };
    let (objective, config) = request.plan(&Start::default()).unwrap();
    let (_, uninterrupted) = run(objective.clone(), config.clone());
    let expected = pollster::block_on(uninterrupted.pixels()).unwrap();

    let ndarray = model(Backend::NdArray, "vgg16.safetensors");
    let (_, on_ndarray) = run_to_end(Ascent::new(&ndarray, objective.clone(), config.clone()).unwrap());
    let backends_apart = largest_difference(&pollster::block_on(on_ndarray.pixels()).unwrap(), &expected);
    println!("uninterrupted runs on ndarray and on Flex end {backends_apart:.1e} apart");
    for (name, first) in [("flex", flex_model()), ("ndarray", &ndarray)] {
        let mut ascent = Ascent::new(first, objective.clone(), config.clone()).unwrap();
        for _ in 0..3 {
            pollster::block_on(ascent.step()).unwrap();
        }
        let checkpoint = pollster::block_on(ascent.checkpoint()).unwrap();
        let resumed = Ascent::resume(flex_model(), objective.clone(), config.clone(), checkpoint).unwrap();
        assert_eq!(resumed.steps_taken(), 3, "the step count carries on");
        let (reports, resumed) = run_to_end(resumed);
        assert_eq!(reports.iter().map(|r| r.step).collect::<Vec<_>>(), vec![3, 4, 5]);
        let pixels = pollster::block_on(resumed.pixels()).unwrap();
        let worst = largest_difference(&pixels, &expected);
        println!("resumed from {name} after 3 of 6 lucid steps: within {worst:.1e} of the uninterrupted run");
        if name == "flex" {
            assert!(pixels == expected, "Flex to Flex differs by {worst}");
        } else {
            assert!(
                worst <= 1.5 * backends_apart + 1e-6,
                "resumed from {name}: off by {worst} (backends {backends_apart} apart)"
            );
        }
    }
    // Without Adam's moments (a fresh optimiser at step 3) the run would end elsewhere: the test can tell.
    let mut fresh = Ascent::new(flex_model(), objective.clone(), config.clone()).unwrap();
    for _ in 0..3 {
        pollster::block_on(fresh.step()).unwrap();
    }
    let restarted = pollster::block_on(fresh.pixels()).unwrap();
    let (_, restarted) =
        run(objective, AscentConfig { steps: 3, init: Some(restarted[..3 * 32 * 32].to_vec()), ..config });
    let other = pollster::block_on(restarted.pixels()).unwrap();
    let apart = largest_difference(&other, &expected);
    println!("a restarted optimiser ends {apart:.1e} from the uninterrupted run");
    assert!(apart > 5.0 * backends_apart.max(1e-4), "a restarted optimiser ends {apart} from the uninterrupted run");
}

/// Feature accentuation keeps the picture closer to where it started than a plain run from it, at the same
/// activation: the plain run's first step that reaches the accentuated run's final activation is further from the
/// starting picture (RMS over pixels) than the accentuated picture. Without a starting picture it is refused.
#[test]
fn accentuation_stays_closer_to_the_start_at_equal_activation() {
    let size = 64;
    let start = crate::golden_image(size);
    let objective = || Objective::channels(Network::Vgg16, "conv3_1", &[5]).unwrap();
    let config = |accentuate| AscentConfig {
        steps: 48,
        size,
        init: Some(start.clone()),
        accentuate,
        ..Mode::Lucid.preset_config()
    };
    let distance = |ascent: &Ascent| {
        let pixels = pollster::block_on(ascent.pixels()).unwrap();
        (pixels.iter().zip(&start).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>() / pixels.len() as f64).sqrt()
    };
    // The plain run, step by step: its activation and its distance from the start after each step.
    let mut plain = Ascent::new(flex_model(), objective(), config(0.0)).unwrap();
    let mut trail = Vec::new();
    while !plain.is_done() {
        pollster::block_on(plain.step()).unwrap();
        trail.push((channel_mean(&plain, "conv3_1", 5), distance(&plain)));
    }
    let (_, accentuated) = run(objective(), config(10.0));
    let (reached, apart) = (channel_mean(&accentuated, "conv3_1", 5), distance(&accentuated));
    let (step, &(plain_value, plain_apart)) =
        trail.iter().enumerate().find(|(_, (value, _))| *value >= reached).expect("the plain run reaches it");
    println!(
        "accentuated: activation {reached:.3} at RMS {apart:.4} from the start; plain: {plain_value:.3} at step {} \
         at RMS {plain_apart:.4} (its last: {:.3} at {:.4})",
        step + 1,
        trail[47].0,
        trail[47].1
    );
    assert!(reached > channel_mean(&Ascent::new(flex_model(), objective(), config(0.0)).unwrap(), "conv3_1", 5));
    assert!(apart < plain_apart, "accentuated {apart} vs plain {plain_apart} at the same activation");
    let refused = Ascent::new(flex_model(), objective(), AscentConfig { init: None, ..config(10.0) });
    assert_eq!(
        refused.err().unwrap().to_string(),
        "accentuate pulls toward a starting picture: choose one, or set accentuate to 0"
    );
}
