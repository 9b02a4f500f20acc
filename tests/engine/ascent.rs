//! The seed's gradient ascent on the real weights.

use std::time::Instant;

use filterlens::picture::image::batch_rgba;
use filterlens::{
    Activation, Ascent, AscentConfig, Error, Levels, Mode, Network, Objective, RunRequest, Start, StepReport,
};

use crate::{flex_model, run_to_end};

fn run(layer: &str, filters: &[usize], config: AscentConfig) -> (Vec<StepReport>, Ascent) {
    run_to_end(Ascent::new(flex_model(), Objective::channels(Network::Vgg16, layer, filters).unwrap(), config).unwrap())
}

fn pixels(ascent: &Ascent) -> Vec<f32> {
    pollster::block_on(ascent.pixels()).unwrap()
}

#[test]
fn activation_rises_over_30_steps() {
    let config = AscentConfig { steps: 30, size: 64, ..Mode::Classic.preset_config() };
    let (reports, _) = run("conv3_2", &[0, 1], config);
    for image in 0..2 {
        let first = reports[0].activations[image];
        let last = reports[29].activations[image];
        let rising = reports.windows(2).filter(|w| w[1].activations[image] > w[0].activations[image]).count();
        println!("conv3_2:{image}: activation {first:.4} -> {last:.4}, rose on {rising} of 29 steps");
        assert!(last > 2.0 * first.max(1e-3), "conv3_2:{image} barely rose: {first} -> {last}");
        assert!(rising >= 25, "conv3_2:{image} rose on only {rising} of 29 steps");
    }
}

#[test]
fn same_seed_same_picture_other_seed_other_picture() {
    let config = |seed| AscentConfig { steps: 5, size: 48, seed, ..Mode::Classic.preset_config() };
    let a = pixels(&run("conv2_1", &[3], config(7)).1);
    let b = pixels(&run("conv2_1", &[3], config(7)).1);
    let c = pixels(&run("conv2_1", &[3], config(8)).1);
    assert!(a == b, "the same seed gave different pictures");
    assert!(a != c, "different seeds gave the same picture");
}

/// Classic starts from the seed's grey noise, (128 + U[0, 1)) / 255 per value: the picture before any step.
#[test]
fn classic_starts_from_grey_noise() {
    let config = AscentConfig { steps: 1, size: 48, seed: 7, ..Mode::Classic.preset_config() };
    let ascent =
        Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv2_1", &[3]).unwrap(), config).unwrap();
    let start = pixels(&ascent);
    assert_eq!(start.len(), 3 * 48 * 48);
    let (low, high) = (128.0 / 255.0, 129.0 / 255.0);
    assert!(start.iter().all(|v| (low..high).contains(v)), "a value outside [128/255, 129/255)");
    // U[0, 1) over 6,912 values reaches near both ends of the interval.
    let (min, max) = start.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(min < low + 0.01 / 255.0 && max > high - 0.01 / 255.0, "noise spans only [{min}, {max}]");
}

/// A report's `millis` is the step's own wall time in milliseconds (the page and the benchmarks show it): a clock
/// around the call agrees with it. Not a bound on the time: the two clocks time the same work.
#[test]
fn a_step_reports_its_wall_time_in_milliseconds() {
    let config = AscentConfig { steps: 3, size: 48, ..Mode::Classic.preset_config() };
    let mut ascent =
        Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv2_1", &[3]).unwrap(), config).unwrap();
    for _ in 0..3 {
        let around = Instant::now();
        let report = pollster::block_on(ascent.step()).unwrap();
        let around = around.elapsed().as_secs_f64() * 1e3;
        assert!(
            report.millis > around / 10.0 && report.millis <= around,
            "step {}: reported {} ms, timed {around} ms around it",
            report.step,
            report.millis
        );
    }
}

/// conv5_3:100 never fires on the seed's initial noise: the ascent switches to the pre-ReLU activation, says so,
/// and the activation then rises.
#[test]
fn dead_filter_switches_to_pre_relu_and_rises() {
    let config = AscentConfig { steps: 8, size: 128, ..Mode::Classic.preset_config() };
    let (reports, ascent) = run("conv5_3", &[100], config);
    assert_eq!(reports[0].switched_to_pre_relu, vec![0]);
    assert!(reports[1..].iter().all(|r| r.switched_to_pre_relu.is_empty()), "the switch happens once, at the start");
    assert_eq!(ascent.reads(), &[Activation::Before]);
    let values: Vec<f32> = reports.iter().map(|r| r.activations[0]).collect();
    println!("conv5_3:100 pre-ReLU activation: {values:?}");
    assert!(values[7] > values[0] + 0.5, "pre-ReLU activation did not rise: {values:?}");
}

#[test]
fn live_filters_do_not_switch() {
    let config = AscentConfig { steps: 1, size: 64, ..Mode::Classic.preset_config() };
    let (reports, ascent) = run("conv1_1", &[0, 5], config);
    assert!(reports[0].switched_to_pre_relu.is_empty());
    assert_eq!(ascent.reads(), &[Activation::After, Activation::After]);
}

/// A batch of filters is the same computation as one run per filter (each tile normalised on its own).
#[test]
fn batched_grid_matches_single_runs() {
    let config = AscentConfig { steps: 5, size: 40, seed: 3, ..Mode::Classic.preset_config() };
    let filters = [0, 1, 2, 3, 4, 5];
    let batch = batch_rgba(&pixels(&run("conv2_2", &filters, config.clone()).1), config.size, Levels::MinMax);
    for (i, &filter) in filters.iter().enumerate() {
        let single =
            batch_rgba(&pixels(&run("conv2_2", &[filter], config.clone()).1), config.size, Levels::MinMax).remove(0);
        let worst = batch[i].iter().zip(&single).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 1, "tile {i} (filter {filter}) differs from its single run by {worst} levels");
    }
    assert_ne!(batch[0], batch[1], "different filters give different pictures");
}

#[test]
fn bad_requests_are_refused_with_reasons() {
    let model = flex_model();
    let objective = || Objective::channels(Network::Vgg16, "conv1_1", &[0]).unwrap();
    let refuse = |config: AscentConfig| Ascent::new(model, objective(), config).err().expect("refused").to_string();
    assert_eq!(
        refuse(AscentConfig { size: 8, ..Mode::Classic.preset_config() }),
        "size 8 is out of range (16 to 1024)"
    );
    assert_eq!(
        refuse(AscentConfig { steps: 0, ..Mode::Classic.preset_config() }),
        "steps 0 is out of range (1 to 10000)"
    );
    assert!(matches!(Objective::channels(Network::Vgg16, "conv6_1", &[0]), Err(Error::UnknownLayer { .. })));
    let message = Objective::channels(Network::Vgg16, "conv1_1", &[64]).unwrap_err().to_string();
    assert_eq!(message, "filter 64 is out of range: conv1_1 has filters 0..=63");
    assert!(matches!(Objective::channels(Network::Vgg16, "conv1_1", &[]), Err(Error::NoFilters)));
}

/// More steps after the planned ones carry on from the picture: the same as planning them from the start.
#[test]
fn extending_a_finished_run_equals_planning_the_steps() {
    let config = |steps| AscentConfig { steps, size: 40, seed: 2, ..Mode::Lucid.preset_config() };
    let (_, mut extended) = run("conv2_1", &[3], config(3));
    assert!(extended.is_done());
    extended.extend(2).unwrap();
    let (reports, extended) = run_to_end(extended);
    assert_eq!(reports.iter().map(|r| r.step).collect::<Vec<_>>(), vec![3, 4]);
    let (_, planned) = run("conv2_1", &[3], config(5));
    assert!(pixels(&extended) == pixels(&planned), "continuing is planning more steps");
    let mut too_long = run("conv2_1", &[3], config(1)).1;
    assert_eq!(too_long.extend(20_000).unwrap_err().to_string(), "steps 20001 is out of range (1 to 10000)");
}

/// Minimised (negative visualization), conv3_1:5's value before the ReLU falls below its start and below zero, in
/// both modes; the reports carry the objective's own value: step 0 equals the maximising run's on the same start.
#[test]
fn a_minimised_filter_falls_below_its_start() {
    for mode in [Mode::Classic, Mode::Lucid] {
        let request = |minimise| RunRequest {
            steps: Some(12),
            size: Some(64),
            minimise,
            pre_relu: true,
            ..RunRequest::new(mode, "conv3_1", &[5])
        };
        let run = |request: RunRequest| {
            let (objective, config) = request.plan(&Start::default()).unwrap();
            run_to_end(Ascent::new(flex_model(), objective, config).unwrap()).0
        };
        let (down, up) = (run(request(true)), run(request(false)));
        assert_eq!(down[0].activations, up[0].activations, "{mode}: the same objective on the same start");
        let values: Vec<f32> = down.iter().map(|r| r.activations[0]).collect();
        println!("{mode}, minimised conv3_1:5: {values:?}");
        assert!(values[11] < values[0] - 0.5 && values[11] < 0.0, "{mode}: {values:?}");
        assert!(up[11].activations[0] > up[0].activations[0] + 0.5, "{mode}: maximised, it rises");
    }
    // Minimising reads the activation before the ReLU (its floor of 0 after it would stop the ascent at once).
    let request = RunRequest { minimise: true, ..RunRequest::new(Mode::Classic, "conv3_1", &[5]) };
    assert_eq!(request.objective().unwrap().activation(), Activation::Before);
    assert!(request.objective().unwrap().minimises());
}

/// The mean pairwise cosine of the pictures' Gram matrices at `layer` (post-ReLU), computed here from the
/// pictures themselves: plain f64 over the model's features, nothing of the ascent's own diversity term.
fn gram_similarity(pictures: &[f32], batch: usize, size: usize, layer: &str) -> f64 {
    use burn::tensor::{Tensor, TensorData};
    let model = flex_model();
    let input = Tensor::<4>::from_data(TensorData::new(pictures.to_vec(), [batch, 3, size, size]), &model.device());
    let features = model.forward(input, Network::Vgg16.layer_index(layer).unwrap(), Activation::After);
    let [_, c, h, w] = features.dims();
    let values = features.into_data().try_into_vec::<f32>().unwrap();
    let grams: Vec<Vec<f64>> = (0..batch)
        .map(|i| {
            let f = |ch: usize, p: usize| values[(i * c + ch) * h * w + p] as f64;
            let g: Vec<f64> = (0..c * c).map(|k| (0..h * w).map(|p| f(k / c, p) * f(k % c, p)).sum()).collect();
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            g.into_iter().map(|v| v / norm).collect()
        })
        .collect();
    let pairs: Vec<f64> = (0..batch)
        .flat_map(|i| (0..batch).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| grams[i].iter().zip(&grams[j]).map(|(a, b)| a * b).sum())
        .collect();
    pairs.iter().sum::<f64>() / pairs.len() as f64
}

/// Diversity (Lucid's term) pushes four pictures of one filter apart: after equal steps their Gram similarity,
/// measured independently from the pictures, is lower with the term than without it (the repeats start from
/// different noise either way: seed + k), and the filter's activation still rises in every picture.
#[test]
fn diversity_pushes_pictures_of_one_filter_apart() {
    let (batch, size) = (4, 64);
    let picture = |diversity| {
        let request = RunRequest {
            steps: Some(32),
            size: Some(size),
            diversity,
            ..RunRequest::new(Mode::Lucid, "conv3_1", &[20; 4])
        };
        let (objective, config) = request.plan(&Start::default()).unwrap();
        let (reports, ascent) = run_to_end(Ascent::new(flex_model(), objective, config).unwrap());
        for i in 0..batch {
            assert!(
                reports.last().unwrap().activations[i] > reports[0].activations[i],
                "diversity {diversity}: image {i}"
            );
        }
        gram_similarity(&pixels(&ascent), batch, size, "conv3_1")
    };
    // Measured: 0.994 without, 0.336 with a weight of 10 (30 and more push so hard that some pictures' activation
    // falls over these 32 steps).
    let (alone, pushed) = (picture(0), picture(10));
    println!("conv3_1:20 ×4, mean pairwise Gram cosine: without diversity {alone:.4}, with 10: {pushed:.4}");
    assert!(alone > 0.9, "without diversity, the pictures converge on one pattern: {alone}");
    assert!(pushed < 0.5 * alone, "without {alone}, with {pushed}");
}
