//! The objective and both update rules against independent computations: what the ascent reports and does must
//! equal what the formulas say, computed here from the model's features (which golden.rs checks against PyTorch)
//! on the host, in f64. Rising activations alone would let a wrong objective or a wrong step pass.

use burn::tensor::{Tensor, TensorData};
use filterlens::{Activation, Ascent, AscentConfig, Mode, Network, Objective, Optimiser, Param, Target, Transforms};

use crate::{flex_model, golden_image, largest_difference, run_to_end, step_once};

const SIZE: usize = 64;

/// `images` (planar, `[batch][3][SIZE][SIZE]`) as a tensor on the test model's device.
fn tensor(images: &[f32]) -> Tensor<4> {
    let batch = images.len() / (3 * SIZE * SIZE);
    Tensor::from_data(TensorData::new(images.to_vec(), [batch, 3, SIZE, SIZE]), &flex_model().device())
}

/// The layer's features for `images`, read back: `(values, [batch, channels, h, w])`.
fn features(images: &[f32], layer: &str, activation: Activation) -> (Vec<f32>, [usize; 4]) {
    let f = flex_model().forward(tensor(images), Network::Vgg16.layer_index(layer).unwrap(), activation);
    let dims = f.dims();
    (f.into_data().try_into_vec::<f32>().unwrap(), dims)
}

/// What each objective means, written out: the mean of channel `filter`, the channel's value at the centre
/// (row h/2, column w/2), or the mean of the squares of the whole layer.
fn expected_objective(
    images: &[f32],
    layer: &str,
    filters: &[usize],
    target: Target,
    activation: Activation,
) -> Vec<f64> {
    let (values, [batch, channels, h, w]) = features(images, layer, activation);
    (0..batch)
        .map(|i| {
            let image = &values[i * channels * h * w..(i + 1) * channels * h * w];
            let channel = &image[filters[i] * h * w..(filters[i] + 1) * h * w];
            match target {
                Target::Channel => channel.iter().map(|&v| f64::from(v)).sum::<f64>() / (h * w) as f64,
                Target::Neuron => f64::from(channel[(h / 2) * w + w / 2]),
                Target::Layer => image.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / image.len() as f64,
            }
        })
        .collect()
}

/// Gradient of `Σ_i objective_i` (channel means) with respect to the images, by autodiff on the model.
fn channel_gradient(images: &[f32], layer: &str, filters: &[usize]) -> Vec<f32> {
    let x = tensor(images).autodiff().require_grad();
    let f = flex_model().forward(x.clone(), Network::Vgg16.layer_index(layer).unwrap(), Activation::After);
    let loss = filters
        .iter()
        .enumerate()
        .map(|(i, &filter)| f.clone().narrow(0, i, 1).narrow(1, filter, 1).mean())
        .reduce(|a, b| a + b)
        .unwrap();
    let grads = loss.backward();
    x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap()
}

fn start_from(images: &[f32], optimiser: Optimiser, steps: usize) -> AscentConfig {
    AscentConfig {
        steps,
        size: SIZE,
        seed: 0,
        param: Param::Pixels,
        transforms: Transforms::none(),
        optimiser,
        init: Some(images[..3 * SIZE * SIZE].to_vec()),
        accentuate: 0.0,
        spectrum: None,
    }
}

/// Step 0's reported objective is the objective of the starting image, for each target, both activations, and a
/// batch of two filters.
#[test]
fn reported_objective_is_the_formula() {
    let image = golden_image(SIZE);
    let images = image.repeat(2);
    let filters = [5, 9];
    let mut switched = Vec::new();
    for (target, activation) in [
        (Target::Channel, Activation::After),
        (Target::Channel, Activation::Before),
        (Target::Neuron, Activation::After),
        (Target::Layer, Activation::After),
    ] {
        let objective = Objective::new(Network::Vgg16, "conv3_1", &filters, target, activation).unwrap();
        let config = start_from(&image, Optimiser::MaxNormalised { step_size: 2.0 / 255.0 }, 1);
        let report = step_once(Ascent::new(flex_model(), objective, config).unwrap()).0;
        // An image whose objective has no gradient on the start (a dead ReLU) reads its pre-ReLU value instead.
        let pre = expected_objective(&images, "conv3_1", &filters, target, Activation::Before);
        let post = expected_objective(&images, "conv3_1", &filters, target, activation);
        let expected: Vec<f64> =
            (0..2).map(|i| if report.switched_to_pre_relu.contains(&i) { pre[i] } else { post[i] }).collect();
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let off = largest_difference(&report.activations, &expected) / scale;
        println!(
            "{target:?} {activation:?}: {:?} vs {expected:?} ({off:.1e} relative; switched {:?})",
            report.activations, report.switched_to_pre_relu
        );
        assert!(off < 1e-5, "{target:?} {activation:?}: reported {:?}, expected {expected:?}", report.activations);
        switched.extend(report.switched_to_pre_relu.iter().map(|&i| (target, i)));
    }
    assert_eq!(
        switched,
        vec![(Target::Neuron, 0)],
        "conv3_1:5's centre neuron is silent on this image: the switch ran"
    );
    // The neuron is the centre one: a neighbour's value is something else.
    let (values, [_, _, h, w]) = features(&image, "conv3_1", Activation::Before);
    let centre = values[5 * h * w + (h / 2) * w + w / 2];
    assert_ne!(centre, values[5 * h * w + (h / 2) * w + w / 2 - 1], "the test can tell neighbours apart");
}

/// One classic step is `x + step · g / (max(g) + 1e-8)` with a signed maximum per image.
#[test]
fn classic_step_is_max_normalised_per_image() {
    let image = golden_image(SIZE);
    let images = image.repeat(2);
    let (layer, filters, step_size) = ("conv3_1", [5, 9], 2.0f32 / 255.0);
    let g = channel_gradient(&images, layer, &filters);
    let plane = 3 * SIZE * SIZE;
    let mut expected = Vec::with_capacity(images.len());
    let mut unnormalised = Vec::with_capacity(images.len());
    for i in 0..2 {
        let gi = &g[i * plane..(i + 1) * plane];
        let peak = gi.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        for (&x, &gv) in images[i * plane..(i + 1) * plane].iter().zip(gi) {
            expected.push(f64::from(x) + f64::from(step_size) * f64::from(gv) / (peak + 1e-8));
            unnormalised.push(f64::from(x) + f64::from(step_size) * f64::from(gv));
        }
    }
    let objective = Objective::channels(Network::Vgg16, layer, &filters).unwrap();
    let mut config = start_from(&image, Optimiser::MaxNormalised { step_size }, 1);
    config.init = Some(image.clone());
    let (_, ascent) = step_once(Ascent::new(flex_model(), objective, config).unwrap());
    let after = pollster::block_on(ascent.pixels()).unwrap();
    let off = largest_difference(&after, &expected);
    println!("classic step: within {off:.1e} of the formula");
    assert!(off < 1e-6, "the classic step is off the formula by {off}");
    assert!(largest_difference(&after, &unnormalised) > 1e-3, "the test tells a normalised step from a raw one");
}

/// Two Adam steps against the closed form: β = (0.9, 0.999), ε = 1e-8, bias-corrected moments.
#[test]
fn adam_steps_follow_the_closed_form() {
    let image = golden_image(SIZE);
    let (layer, filter, lr) = ("conv3_1", 5, 0.01f64);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let objective = Objective::channels(Network::Vgg16, layer, &[filter]).unwrap();
    let config = start_from(&image, Optimiser::Adam { learning_rate: lr as f32 }, 2);
    let mut ascent = Ascent::new(flex_model(), objective, config).unwrap();

    let mut x: Vec<f64> = image.iter().map(|&v| f64::from(v)).collect();
    let (mut m, mut v) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for t in 1..=2 {
        let current: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let g = channel_gradient(&current, layer, &[filter]);
        for k in 0..x.len() {
            let gk = f64::from(g[k]);
            m[k] = b1 * m[k] + (1.0 - b1) * gk;
            v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
            let (m_hat, v_hat) = (m[k] / (1.0 - b1.powi(t)), v[k] / (1.0 - b2.powi(t)));
            x[k] += lr * m_hat / (v_hat.sqrt() + eps);
        }
        pollster::block_on(ascent.step()).unwrap();
        let after = pollster::block_on(ascent.pixels()).unwrap();
        let off = largest_difference(&after, &x);
        println!("Adam step {t}: within {off:.1e} of the closed form");
        // Where g is tiny, g/√g² is ill-conditioned in f32; the tolerance is far below a step (lr = 0.01).
        assert!(off < 1e-4, "Adam step {t} is off the closed form by {off}");
    }
}

/// Two NAdam steps (maco mode's optimiser) against Keras's closed form: β = (0.9, 0.999), ε = 1e-7, the momentum
/// schedule μ_t = β₁ (1 − ½ · 0.96^(0.004 t)) with its running product, Nesterov's look-ahead on the first moment.
#[test]
fn nadam_steps_follow_kerass_closed_form() {
    let image = golden_image(SIZE);
    let (layer, filter, lr) = ("conv3_1", 5, 0.01f64);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-7f64);
    let momentum = |t: i32| b1 * (1.0 - 0.5 * 0.96f64.powf(0.004 * f64::from(t)));
    let objective = Objective::channels(Network::Vgg16, layer, &[filter]).unwrap();
    let config = start_from(&image, Optimiser::Nadam { learning_rate: lr as f32 }, 2);
    let mut ascent = Ascent::new(flex_model(), objective.clone(), config).unwrap();
    let adam = start_from(&image, Optimiser::Adam { learning_rate: lr as f32 }, 1);
    let (_, adam) = step_once(Ascent::new(flex_model(), objective, adam).unwrap());
    let adam = pollster::block_on(adam.pixels()).unwrap();

    let mut x: Vec<f64> = image.iter().map(|&v| f64::from(v)).collect();
    let (mut m, mut v, mut product) = (vec![0.0; x.len()], vec![0.0; x.len()], 1.0);
    for t in 1..=2 {
        // The gradient at the ascent's own picture, which is within 1e-7 of x: a max-pool's near-tie can route a
        // gradient elsewhere on so small a difference.
        let current = pollster::block_on(ascent.pixels()).unwrap();
        let g = channel_gradient(&current, layer, &[filter]);
        let (now, next) = (momentum(t), momentum(t + 1));
        product *= now;
        for k in 0..x.len() {
            let gk = f64::from(g[k]);
            m[k] = b1 * m[k] + (1.0 - b1) * gk;
            v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
            let m_hat = next * m[k] / (1.0 - product * next) + (1.0 - now) * gk / (1.0 - product);
            let v_hat = v[k] / (1.0 - b2.powi(t));
            x[k] += lr * m_hat / (v_hat.sqrt() + eps);
        }
        pollster::block_on(ascent.step()).unwrap();
        let after = pollster::block_on(ascent.pixels()).unwrap();
        let off = largest_difference(&after, &x);
        println!("NAdam step {t}: within {off:.1e} of the closed form");
        assert!(off < 1e-4, "NAdam step {t} is off the closed form by {off}");
        if t == 1 {
            let from_adam = largest_difference(&adam, &x);
            println!("Adam's first step is {from_adam:.1e} from NAdam's");
            assert!(from_adam > 3e-4, "the test tells NAdam from Adam (their first steps differ by about 0.056 lr)");
        }
    }
}

/// The transparency map (MACO's) is Σ |∂objective/∂image| over the steps taken: after two classic steps,
/// |g(x₀)| + |g(x₁)|, with each gradient computed here by autodiff on the model.
#[test]
fn transparency_sums_the_gradients_magnitudes() {
    let image = golden_image(SIZE);
    let (layer, filter) = ("conv3_1", 5);
    let objective = Objective::channels(Network::Vgg16, layer, &[filter]).unwrap();
    let config = start_from(&image, Optimiser::MaxNormalised { step_size: 2.0 / 255.0 }, 2);
    let mut ascent = Ascent::new(flex_model(), objective, config).unwrap();
    let (mut expected, mut x) = (vec![0.0f64; image.len()], image.clone());
    for _ in 0..2 {
        let g = channel_gradient(&x, layer, &[filter]);
        for (e, gk) in expected.iter_mut().zip(&g) {
            *e += f64::from(gk.abs());
        }
        pollster::block_on(ascent.step()).unwrap();
        x = pollster::block_on(ascent.pixels()).unwrap();
    }
    let transparency = pollster::block_on(ascent.transparency()).unwrap();
    let scale = expected.iter().copied().fold(0.0, f64::max);
    let off = largest_difference(&transparency, &expected) / scale;
    println!("transparency after 2 steps: within {off:.1e} of |g(x0)| + |g(x1)| (relative to its largest)");
    assert!(off < 1e-5, "the transparency map is off the summed gradients by {off}");
}

/// A conv5_3 grid mixing filters that are silent on the starting noise (maximised before the ReLU) with live
/// ones (after it) follows, tile by tile, the same path as each filter's single run.
#[test]
fn grid_mixing_dead_and_live_filters_equals_single_runs() {
    let config = AscentConfig { steps: 3, size: SIZE, seed: 0, ..Mode::Classic.preset_config() };
    let run = |filters: &[usize]| {
        let ascent =
            Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv5_3", filters).unwrap(), config.clone())
                .unwrap();
        let (reports, ascent) = run_to_end(ascent);
        (reports, pollster::block_on(ascent.pixels()).unwrap())
    };
    // A silent filter and a live one on seed 0's noise at 64 px, found on that noise (the picture before step 0).
    let noise = pollster::block_on(
        Ascent::new(flex_model(), Objective::channels(Network::Vgg16, "conv5_3", &[0]).unwrap(), config.clone())
            .unwrap()
            .pixels(),
    )
    .unwrap();
    let (values, [_, channels, h, w]) = features(&noise, "conv5_3", Activation::After);
    let fires = |f: usize| values[f * h * w..(f + 1) * h * w].iter().any(|&v| v > 0.0);
    let silent = (0..channels).find(|&f| !fires(f)).expect("a silent conv5_3 filter");
    let live = (0..channels).find(|&f| fires(f)).expect("a live conv5_3 filter");
    let filters = [silent, live];
    let (reports, grid) = run(&filters);
    assert_eq!(reports[0].switched_to_pre_relu, vec![0], "a mixed batch: tile 0 silent, tile 1 live");
    let plane = 3 * SIZE * SIZE;
    for (i, &filter) in filters.iter().enumerate() {
        let (single_reports, single) = run(&[filter]);
        let off = largest_difference(
            &grid[i * plane..(i + 1) * plane],
            &single.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        );
        assert!(off < 1e-5, "tile {i} (conv5_3:{filter}) is off its single run by {off}");
        for (a, b) in reports.iter().zip(&single_reports) {
            let (ga, sa) = (a.activations[i], b.activations[0]);
            assert!((ga - sa).abs() <= 1e-4 * sa.abs().max(1.0), "conv5_3:{filter} step {}: {ga} vs {sa}", a.step);
        }
    }
}

/// One classic step with diversity climbs `Σ_i mean(channel f_i) − w · S`, where S, Lucid's similarity, is written
/// out here: each image's Gram matrix of the layer's post-ReLU features, divided by its length; the two images'
/// cosine counted once from each side, over the batch size. A lost sign, a product turned into a quotient or a
/// dropped weight in the ascent's loss moves the step off this. The two images are repeats of one filter, so they
/// start from different noise (seed and seed + 1), and the term has a gradient; a small one, as the two starts differ
/// by a grey level at most: the request's largest weight (10 000) makes it move the step measurably.
#[test]
fn classic_step_with_diversity_climbs_objective_minus_weighted_similarity() {
    let (layer, filters, weight, step_size) = ("conv2_1", [3usize, 3], 10_000.0f32, 2.0f32 / 255.0);
    let config = |diversity: f32| {
        let objective = Objective::channels(Network::Vgg16, layer, &filters).unwrap().with_diversity(diversity);
        let config =
            AscentConfig { init: None, ..start_from(&golden_image(SIZE), Optimiser::MaxNormalised { step_size }, 1) };
        Ascent::new(flex_model(), objective, config).unwrap()
    };
    let ascent = config(weight);
    let start = pollster::block_on(ascent.pixels()).unwrap();

    let x = tensor(&start).autodiff().require_grad();
    let features = flex_model().forward(x.clone(), Network::Vgg16.layer_index(layer).unwrap(), Activation::After);
    let [batch, channels, h, w] = features.dims();
    let values = (0..batch)
        .map(|i| features.clone().narrow(0, i, 1).narrow(1, filters[i], 1).mean())
        .reduce(|a, b| a + b)
        .unwrap();
    let unit = |i: usize| {
        let f = features.clone().narrow(0, i, 1).reshape([channels, h * w]);
        let gram = f.clone().matmul(f.transpose()).reshape([channels * channels]);
        gram.clone() / gram.square().sum().sqrt()
    };
    let cosine = (unit(0) * unit(1)).sum();
    let similarity = (cosine.clone() + cosine) / batch as f32;
    let grads = (values - similarity * weight).backward();
    let g = x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();

    let plane = 3 * SIZE * SIZE;
    let mut expected = Vec::with_capacity(start.len());
    for i in 0..batch {
        let gi = &g[i * plane..(i + 1) * plane];
        let peak = gi.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        for (&x, &gv) in start[i * plane..(i + 1) * plane].iter().zip(gi) {
            expected.push(f64::from(x) + f64::from(step_size) * f64::from(gv) / (peak + 1e-8));
        }
    }
    let (_, ascent) = step_once(ascent);
    let after = pollster::block_on(ascent.pixels()).unwrap();
    let off = largest_difference(&after, &expected);
    println!("classic step with diversity {weight}: within {off:.1e} of the formula");
    // Measured 3.2e-7 (f32 sums in another order); the bound is a few times that.
    assert!(off < 2e-6, "the step with diversity is off the formula by {off}");
    let (_, plain) = step_once(config(0.0));
    let plain = largest_difference(&pollster::block_on(plain.pixels()).unwrap(), &expected);
    println!("a plain step is {plain:.1e} off it");
    assert!(plain > 1e-3, "the test tells the diversity term's step from a plain one ({plain})");
}

/// Feature accentuation (a picture of your own, pulled toward the filter while its features stay near their start)
/// against the formula: the objective minus the weight times the squared distance of the picture's post-ReLU
/// features to the starting picture's, relative to their mean square. Two classic steps: the first has nothing to
/// pull back (the distance's gradient is 0 at the start), the second's gradient is written out here.
#[test]
fn classic_step_with_accentuation_climbs_objective_minus_weighted_feature_distance() {
    let (layer, filter, weight, step_size) = ("conv2_1", 3usize, 100.0f32, 8.0f32 / 255.0);
    let start = golden_image(SIZE);
    let ascent = |accentuate: f32| {
        let objective = Objective::channels(Network::Vgg16, layer, &[filter]).unwrap();
        let config = AscentConfig { accentuate, ..start_from(&start, Optimiser::MaxNormalised { step_size }, 2) };
        Ascent::new(flex_model(), objective, config).unwrap()
    };
    let (_, accentuated) = step_once(ascent(weight));
    let first = pollster::block_on(accentuated.pixels()).unwrap();

    let index = Network::Vgg16.layer_index(layer).unwrap();
    let target = flex_model().forward(tensor(&start).autodiff(), index, Activation::After);
    let energy = target.clone().square().mean();
    let x = tensor(&first).autodiff().require_grad();
    let features = flex_model().forward(x.clone(), index, Activation::After);
    let value = features.clone().narrow(1, filter, 1).mean();
    let distance = (features - target).square().mean();
    let grads = (value - distance / energy * weight).backward();
    let g = x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
    let peak = g.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    let expected: Vec<f64> = first
        .iter()
        .zip(&g)
        .map(|(&x, &gv)| f64::from(x) + f64::from(step_size) * f64::from(gv) / (peak + 1e-8))
        .collect();

    let (_, accentuated) = step_once(accentuated);
    let off = largest_difference(&pollster::block_on(accentuated.pixels()).unwrap(), &expected);
    println!("classic step with accentuation {weight}: within {off:.1e} of the formula");
    assert!(off < 2e-6, "the step with accentuation is off the formula by {off}");
    let (_, plain) = step_once(ascent(0.0));
    let (_, plain) = step_once(plain);
    let plain = largest_difference(&pollster::block_on(plain.pixels()).unwrap(), &expected);
    println!("a plain second step is {plain:.1e} off it");
    assert!(plain > 1e-3, "the test tells the accentuation term's step from a plain one ({plain})");
}

/// An objective expression across layers and kinds reports, on its starting image, the weighted sum of each
/// term's formula (written out above), and its gradient is that weighted sum's: each term counts with its weight
/// and sign, at its own layer.
#[test]
fn an_expression_is_the_weighted_sum_of_its_terms() {
    let image = golden_image(SIZE);
    let text = "conv3_1:7 + 0.5*conv4_1:9 - 2*neuron(conv2_2:3) + 0.25*layer(conv1_2)";
    let one =
        |layer: &str, filter: usize, target| expected_objective(&image, layer, &[filter], target, Activation::After)[0];
    let expected = one("conv3_1", 7, Target::Channel) + 0.5 * one("conv4_1", 9, Target::Channel)
        - 2.0 * one("conv2_2", 3, Target::Neuron)
        + 0.25 * one("conv1_2", 0, Target::Layer);
    let objective = Objective::expressions(Network::Vgg16, &[text.to_string()], Activation::After).unwrap();
    assert_eq!(objective.deepest_layer(), Network::Vgg16.layer_index("conv4_1").unwrap(), "the deepest layer");
    let config = start_from(&image, Optimiser::MaxNormalised { step_size: 2.0 / 255.0 }, 1);
    let (report, ascent) = step_once(Ascent::new(flex_model(), objective, config).unwrap());
    assert!(report.switched_to_pre_relu.is_empty(), "every term has a gradient on this image");
    let off = (f64::from(report.activations[0]) - expected).abs() / expected.abs();
    println!("{text}: reported {}, expected {expected} ({off:.1e} relative)", report.activations[0]);
    assert!(off < 1e-5, "reported {}, expected {expected}", report.activations[0]);

    // The step: x + (2/255)·g/max(g), g the gradient of the weighted sum, by autodiff term by term.
    let x = tensor(&image).autodiff().require_grad();
    let at =
        |layer: &str| flex_model().forward(x.clone(), Network::Vgg16.layer_index(layer).unwrap(), Activation::After);
    let centre = |f: Tensor<4, burn::tensor::Float>| {
        let [_, _, h, w] = f.dims();
        f.narrow(2, h / 2, 1).narrow(3, w / 2, 1).mean()
    };
    let loss = at("conv3_1").narrow(1, 7, 1).mean() + at("conv4_1").narrow(1, 9, 1).mean() * 0.5
        - centre(at("conv2_2").narrow(1, 3, 1)) * 2.0
        + at("conv1_2").square().mean() * 0.25;
    let grads = loss.backward();
    let g = x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
    let peak = g.iter().fold(f32::MIN, |m, &v| m.max(v)) as f64;
    let stepped: Vec<f64> =
        image.iter().zip(&g).map(|(&x, &g)| f64::from(x) + 2.0 / 255.0 * f64::from(g) / (peak + 1e-8)).collect();
    let picture = pollster::block_on(ascent.image().into_data_async()).unwrap().try_into_vec::<f32>().unwrap();
    let off = largest_difference(&picture, &stepped);
    println!("the step: {off:.1e} off the formula");
    assert!(off < 1e-6, "the step is off the formula by {off}");
}

/// A batch of expressions is each image's own expression: the same as running each alone.
#[test]
fn a_batch_of_expressions_equals_each_alone() {
    let texts = ["conv3_1:7 - conv3_1:8".to_string(), "conv2_1:4 + 0.5*conv3_1:7".to_string()];
    let config = AscentConfig { steps: 3, size: SIZE, ..Mode::Classic.preset_config() };
    let run = |texts: &[String]| {
        let objective = Objective::expressions(Network::Vgg16, texts, Activation::After).unwrap();
        let (reports, ascent) = run_to_end(Ascent::new(flex_model(), objective, config.clone()).unwrap());
        (reports.last().unwrap().activations.clone(), pollster::block_on(ascent.pixels()).unwrap())
    };
    let (together, pixels) = run(&texts);
    for (i, text) in texts.iter().enumerate() {
        let (alone, alone_pixels) = run(std::slice::from_ref(text));
        assert!(
            (together[i] - alone[0]).abs() <= 1e-5 * alone[0].abs().max(1.0),
            "{text}: {} vs {}",
            together[i],
            alone[0]
        );
        let n = alone_pixels.len();
        let off = largest_difference(&pixels[i * n..(i + 1) * n], &alone_pixels);
        assert!(off < 1e-5, "{text}: the batch's picture is {off} off the single run's");
    }
}
