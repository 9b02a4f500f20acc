//! The optimisation loop: gradient ascent on an image parameterisation.
//!
//! Classic mode is the original program exactly: pixels start as `(128 + U[0,1)) / 255`, no transforms, and each
//! step is `image += step_size / (max(grad) + 1e-8) * grad` with `max` over each image. Lucid mode optimises an FFT
//! spectrum with decorrelated colour, under random transforms, with Adam. MACO mode optimises the spectrum's phase
//! under ImageNet's fixed magnitude, on many random crops with noise, with NAdam.
//!
//! Every step also adds |∂objective/∂image| to each image's transparency map (MACO's): where the picture matters to
//! the filter.

use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use std::sync::Arc;
use web_time::Instant;

use super::expression::Expression;
use super::limits;
use super::objective::{Objective, Selection};
use super::param::{Levels, Param, ParamsToImage};
use super::spectrum::Spectrum;
use super::transform::Transforms;
use crate::Error;
use crate::net::{Activation, Model, Network};

/// How the parameters move along their gradient (upwards: the objective is maximised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimiser {
    /// Classic's step: `step_size / (max(grad) + 1e-8) * grad`, the maximum signed and per image.
    MaxNormalised { step_size: f32 },
    /// Adam with β = (0.9, 0.999), ε = 1e-8 and bias-corrected moments.
    Adam { learning_rate: f32 },
    /// NAdam as Keras has it (xplique's optimiser for MACO): Adam's moments with Nesterov momentum, β = (0.9,
    /// 0.999), ε = 1e-7, and the momentum schedule μ_t = β₁ (1 − ½ · 0.96^(0.004 t)).
    Nadam { learning_rate: f32 },
}

/// Everything the loop needs besides the model and the objective. [`crate::RunRequest`] makes one from a mode's
/// preset and the request's overrides, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AscentConfig {
    pub steps: usize,
    /// Side of the square image, pixels.
    pub size: usize,
    /// Seeds the initial parameters and the random transforms; the same seed on the same backend gives the same
    /// picture.
    pub seed: u64,
    pub param: Param,
    pub transforms: Transforms,
    pub optimiser: Optimiser,
    /// Start from this picture (planar `[3][size][size]`, RGB in [0, 1]) instead of noise.
    pub init: Option<Vec<f32>>,
    /// Feature accentuation (Hamblin et al. 2024): the weight of a pull toward the starting picture's own features
    /// at the objective's deepest layer (0: none; needs `init`), so that the picture stays recognisably itself
    /// while the filter's feature grows in it.
    pub accentuate: f32,
    /// ImageNet's magnitude spectrum, which [`Param::Phase`] holds fixed (not part of a request: the front end
    /// loads it, as it does the weights).
    pub spectrum: Option<Arc<Spectrum>>,
}

impl AscentConfig {
    /// What the loop cannot run without on `network`: a size and step count within [`limits`], a transformed image
    /// that still reaches the network's deepest layer, a starting picture of the size.
    pub fn validate(&self, network: Network) -> Result<(), Error> {
        limits::SIZE.check(self.size)?;
        limits::STEPS.check(self.steps)?;
        // VGG16 halves the image four times before its last block; AlexNet strides by 4 and pools twice.
        let (smallest, min) = (self.transforms.smallest_output(self.size), network.smallest_input());
        if smallest < min {
            return Err(Error::TransformedTooSmall { size: self.size, smallest, min });
        }
        if let Some(init) = &self.init
            && init.len() != 3 * self.size * self.size
        {
            return Err(Error::InitSize { values: init.len(), size: self.size });
        }
        Ok(())
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// 0-based index of the step just taken.
    pub step: usize,
    /// The objective per image, measured on the image before this step's update.
    pub activations: Vec<f32>,
    /// Images whose gradient was exactly zero at this step (a ReLU that never fires on the initial noise, or one a
    /// step pushed below its floor) and which from now on maximise the activation before the layer's activation
    /// function instead.
    pub switched_to_pre_relu: Vec<usize>,
    /// Wall time of the step, including reading the activations back.
    pub millis: f64,
}

/// A run of gradient ascent for a batch of images; the caller drives it one [`Ascent::step`] at a time, so it
/// can paint, report or cancel between steps.
pub struct Ascent {
    model: Model,
    objective: Objective,
    config: AscentConfig,
    to_image: ParamsToImage,
    params: Tensor<4>,
    adam: Option<AdamMoments>,
    /// The objective of each view the transforms make of the images (with MACO's crops, each image's repeated).
    viewed: Objective,
    /// Σ |∂objective/∂image| over the steps taken, `[batch, 3, size, size]`.
    transparency: Tensor<4>,
    /// Draws the random transforms.
    rng: Pcg64,
    /// Which activation each image reads, before or after its layer's activation function (before, after a
    /// dead-filter switch).
    reads: Vec<Activation>,
    selection: Selection,
    steps_taken: usize,
    /// Whether an image read after its activation function had an objective of exactly 0 at the last step: the
    /// next step looks for a dead filter, as the first does (a step can overshoot into a ReLU's floor, or past
    /// ReLU6's ceiling, where the gradient is 0 and the ascent would stand still for good).
    silent: bool,
    /// The starting picture `[1, 3, size, size]`, while accentuating: its features are the pull's target.
    start: Option<Tensor<4>>,
}

/// Adam's (and NAdam's) running moments, shaped like the parameters.
struct AdamMoments {
    first: Tensor<4>,
    second: Tensor<4>,
}

/// A run's state on the host, device-independent: see [`Ascent::checkpoint`].
#[derive(Clone)]
pub struct Checkpoint {
    params: Vec<f32>,
    adam: Option<(Vec<f32>, Vec<f32>)>,
    transparency: Vec<f32>,
    rng: Pcg64,
    reads: Vec<Activation>,
    steps_taken: usize,
    silent: bool,
}

impl Ascent {
    pub fn new(model: &Model, objective: Objective, config: AscentConfig) -> Result<Self, Error> {
        let network = model.network();
        if objective.network() != network {
            return Err(Error::OtherNetwork { objective: objective.network().title(), model: network.title() });
        }
        config.validate(network)?;
        if config.accentuate > 0.0 && config.init.is_none() {
            return Err(Error::AccentuateWithoutPicture);
        }
        if objective.deepest_layer() >= model.depth() {
            let layer = network.layers()[objective.deepest_layer()].name.as_str();
            return Err(Error::LayerNotLoaded { layer, loaded: model.depth() });
        }
        let device = model.device();
        let batch = objective.batch();
        let to_image = ParamsToImage::new(config.param, config.size, config.spectrum.as_deref(), &device)?;
        let values = match &config.init {
            Some(image) => to_image.params_for(image)?.repeat(batch),
            None => to_image.initial(&start_seeds(objective.images(), config.seed)),
        };
        let params = Tensor::from_data(TensorData::new(values, to_image.shape(batch)), &device);
        let start = match &config.init {
            Some(image) if config.accentuate > 0.0 => {
                Some(Tensor::from_data(TensorData::new(image.clone(), [1, 3, config.size, config.size]), &device))
            }
            _ => None,
        };
        let reads = vec![objective.activation(); batch];
        let viewed = objective.per_view(config.transforms.views());
        let selection = select(&viewed, &reads, &device, narrows(&objective, &start));
        // The transforms draw from their own stream, so the initial noise does not depend on them.
        let rng = Pcg64::seed_from_u64(config.seed ^ 0x7472_616e_7366_6f72);
        let transparency = Tensor::zeros([batch, 3, config.size, config.size], &device);
        Ok(Self {
            model: model.clone(),
            objective,
            config,
            to_image,
            params,
            adam: None,
            viewed,
            transparency,
            rng,
            reads,
            selection,
            steps_taken: 0,
            silent: false,
            start,
        })
    }

    pub fn config(&self) -> &AscentConfig {
        &self.config
    }

    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// Which activation each image maximises, before or after its ReLU (pre-ReLU after a dead-filter switch).
    pub fn reads(&self) -> &[Activation] {
        &self.reads
    }

    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    /// `more` steps beyond the planned ones, carrying on from the current picture and optimiser state.
    pub fn extend(&mut self, more: usize) -> Result<(), Error> {
        let steps = self.config.steps.saturating_add(more);
        limits::STEPS.check(steps)?;
        self.config.steps = steps;
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        self.steps_taken >= self.config.steps
    }

    /// The current images, `[batch, 3, size, size]`: unbounded for pixels (show them min-max normalised), in
    /// (0, 1) for the FFT parameterisation.
    pub fn image(&self) -> Tensor<4> {
        self.to_image.apply(self.params.clone())
    }

    /// How to show [`Ascent::pixels`]: pixels min-max normalised (classic), FFT images as they are.
    pub fn levels(&self) -> Levels {
        self.config.param.levels()
    }

    /// The objective per image on the images as they are, untransformed: what the picture itself does to the
    /// filter. A step's own values are of transformed views (Lucid's shifted, scaled and rotated image, MACO's
    /// crops, which shrink over the run), so they are not comparable from step to step; this is. One forward pass,
    /// no gradient.
    pub async fn whole_picture(&self) -> Result<Vec<f32>, Error> {
        let selection = select(&self.objective, &self.reads, &self.model.device(), true);
        let features = self.model.pre_activations(self.image(), &selection.layers(), selection.narrowed());
        read_floats(self.objective.evaluate(&features, &selection)).await
    }

    /// Each image's transparency map read back, planar `[batch][3][size][size]`: Σ |∂objective/∂image| over the
    /// steps taken (MACO's; [`crate::picture::image::transparent`] makes it the picture's alpha).
    pub async fn transparency(&self) -> Result<Vec<f32>, Error> {
        read_floats(self.transparency.clone()).await
    }

    /// The current images read back to the host, planar `[batch][3][size][size]`.
    pub async fn pixels(&self) -> Result<Vec<f32>, Error> {
        read_floats(self.image()).await
    }

    /// Everything the run needs to carry on, read back to the host: after a lost GPU the run goes on elsewhere
    /// with [`Ascent::resume`] exactly where it was (parameters, Adam's moments, the transforms' random stream and
    /// the step count), so the optimiser's state stays coherent.
    pub async fn checkpoint(&self) -> Result<Checkpoint, Error> {
        let adam = match &self.adam {
            Some(m) => Some((read_floats(m.first.clone()).await?, read_floats(m.second.clone()).await?)),
            None => None,
        };
        Ok(Checkpoint {
            params: read_floats(self.params.clone()).await?,
            adam,
            transparency: read_floats(self.transparency.clone()).await?,
            rng: self.rng.clone(),
            reads: self.reads.clone(),
            steps_taken: self.steps_taken,
            silent: self.silent,
        })
    }

    /// The run of `checkpoint` (taken from a run of the same objective and config), carried on with `model`,
    /// on the model's device.
    pub fn resume(
        model: &Model,
        objective: Objective,
        config: AscentConfig,
        checkpoint: Checkpoint,
    ) -> Result<Self, Error> {
        let mut ascent = Self::new(model, objective, config)?;
        let device = model.device();
        let shape = ascent.to_image.shape(ascent.objective.batch());
        let tensor = |values: Vec<f32>| Tensor::<4>::from_data(TensorData::new(values, shape), &device);
        ascent.params = tensor(checkpoint.params);
        ascent.adam =
            checkpoint.adam.map(|(first, second)| AdamMoments { first: tensor(first), second: tensor(second) });
        let [batch, _, size, _] = ascent.transparency.dims();
        ascent.transparency =
            Tensor::from_data(TensorData::new(checkpoint.transparency, [batch, 3, size, size]), &device);
        ascent.rng = checkpoint.rng;
        ascent.selection =
            select(&ascent.viewed, &checkpoint.reads, &device, narrows(&ascent.objective, &ascent.start));
        ascent.reads = checkpoint.reads;
        ascent.steps_taken = checkpoint.steps_taken;
        ascent.silent = checkpoint.silent;
        Ok(ascent)
    }

    /// One ascent step for every image of the batch.
    pub async fn step(&mut self) -> Result<StepReport, Error> {
        let start = Instant::now();
        let (mut grad, mut image_grad, mut values) = self.gradient();
        let mut switched = Vec::new();
        if self.steps_taken == 0 || self.silent {
            let peaks = read_floats(grad.clone().abs().max_dims(&[1, 2, 3])).await?;
            let dead = |(i, peak): &(usize, &f32)| **peak == 0.0 && self.reads[*i] == Activation::After;
            switched = peaks.iter().enumerate().filter(dead).map(|(i, _)| i).collect();
            if !switched.is_empty() {
                for &i in &switched {
                    self.reads[i] = Activation::Before;
                }
                self.selection =
                    select(&self.viewed, &self.reads, &self.model.device(), narrows(&self.objective, &self.start));
                (grad, image_grad, values) = self.gradient();
            }
        }
        self.transparency = self.transparency.clone() + image_grad.abs();
        self.update(grad);
        let activations = read_floats(values).await?;
        self.silent = activations.iter().zip(&self.reads).any(|(&v, &read)| v == 0.0 && read == Activation::After);
        let report = StepReport {
            step: self.steps_taken,
            activations,
            switched_to_pre_relu: switched,
            millis: start.elapsed().as_secs_f64() * 1e3,
        };
        self.steps_taken += 1;
        Ok(report)
    }

    /// Gradient of the summed objective with respect to the parameters (images do not interact, so each image
    /// gets the gradient of its own objective) and to the images, and the objective per image (the mean over its
    /// views). Every image of a batch sees the same random transform, so a grid tile follows the same path as a
    /// single run with the same seed.
    fn gradient(&mut self) -> (Tensor<4>, Tensor<4>, Tensor<1>) {
        // The images are the leaf the network's gradient stops at; the parameterisation's chain rule follows.
        let rendering = self.to_image.render(self.params.clone());
        let image = rendering.image.clone();
        let batch = self.objective.batch();
        let views = self.config.transforms.views();
        // Accentuating, the starting picture goes through the same transform as the images, behind them in the
        // batch (once: every image sees the same view): its features are the pull's target for this step's view.
        let input = match &self.start {
            Some(start) => Tensor::cat(vec![image.clone(), start.clone()], 0),
            None => image.clone(),
        };
        let progress = self.steps_taken as f64 / self.config.steps.saturating_sub(1).max(1) as f64;
        let input = self.config.transforms.apply(input, progress.min(1.0), &mut self.rng);
        let layers = self.selection.layers();
        let mut features = self.model.pre_activations(input, &layers, self.selection.narrowed());
        // The deepest layer's output after its activation function (the selection's layers go down in depth).
        let deepest_layer = &self.objective.network().layers()[*layers.last().expect("a layer")];
        let target = self.start.as_ref().map(|_| {
            let deepest = features.last().expect("a layer").clone();
            features = features.iter().map(|f| f.clone().narrow(0, 0, batch)).collect();
            deepest_layer.activate(deepest.narrow(0, batch, 1)).detach()
        });
        let per_view = self.viewed.evaluate(&features, &self.selection);
        let values = if views == 1 { per_view } else { per_view.reshape([batch, views]).mean_dim(1).reshape([batch]) };
        // The reports keep the objective's own value: a minimised one is seen to fall.
        let mut climbed = if self.objective.minimises() { -values.clone().sum() } else { values.clone().sum() };
        // Both compare the images at the deepest layer they read (an image's views side by side).
        let deepest = features.pop().expect("a layer");
        let deepest = match deepest.dims() {
            [_, channels, h, w] if views > 1 => {
                deepest.reshape([batch, views, channels, h, w]).swap_dims(1, 2).reshape([batch, channels, views * h, w])
            }
            _ => deepest,
        };
        if let Some(target) = target {
            // The squared distance to the starting picture's features (broadcast over the batch), relative to their
            // energy: scale-free.
            let energy = target.clone().square().mean().clamp_min(1e-10);
            let distance =
                (deepest_layer.activate(deepest.clone()) - target).square().mean_dims(&[1, 2, 3]).reshape([batch]);
            climbed = climbed - (distance / energy).sum() * self.config.accentuate;
        }
        if self.objective.diversity() > 0.0 {
            let similarity = crate::optvis::objective::similarity(deepest_layer.activate(deepest));
            climbed = climbed - similarity * self.objective.diversity();
        }
        let grads = climbed.backward();
        let image_grad = image.grad(&grads).expect("the images require a gradient");
        let grad = rendering.pull_back(image_grad.clone());
        (grad, image_grad, values.without_autodiff())
    }

    fn update(&mut self, grad: Tensor<4>) {
        let params = self.params.clone();
        self.params = match self.config.optimiser {
            Optimiser::MaxNormalised { step_size } => {
                let peak = grad.clone().max_dims(&[1, 2, 3]);
                params + grad / (peak + 1e-8) * step_size
            }
            Optimiser::Adam { learning_rate } => {
                let (beta1, beta2, epsilon) = (0.9f32, 0.999f32, 1e-8f32);
                let moments = AdamMoments::after(self.adam.take(), grad, beta1, beta2);
                let t = (self.steps_taken + 1) as i32;
                let first = moments.first.clone() / (1.0 - beta1.powi(t));
                let second = moments.second.clone() / (1.0 - beta2.powi(t));
                self.adam = Some(moments);
                params + first / (second.sqrt() + epsilon) * learning_rate
            }
            Optimiser::Nadam { learning_rate } => {
                let (beta1, beta2, epsilon) = (0.9f64, 0.999f64, 1e-7f32);
                let moments = AdamMoments::after(self.adam.take(), grad.clone(), beta1 as f32, beta2 as f32);
                let t = self.steps_taken + 1;
                let (on_moment, on_gradient) = nadam_factors(t);
                let first = moments.first.clone() * on_moment as f32 + grad * on_gradient as f32;
                let second = moments.second.clone() / (1.0 - beta2.powi(t as i32)) as f32;
                self.adam = Some(moments);
                params + first / (second.sqrt() + epsilon) * learning_rate
            }
        };
    }
}

impl AdamMoments {
    /// The moments after this step's gradient: m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², from zero.
    fn after(previous: Option<Self>, grad: Tensor<4>, beta1: f32, beta2: f32) -> Self {
        let squared = grad.clone().square();
        match previous {
            Some(m) => Self {
                first: m.first * beta1 + grad * (1.0 - beta1),
                second: m.second * beta2 + squared * (1.0 - beta2),
            },
            None => Self { first: grad * (1.0 - beta1), second: squared * (1.0 - beta2) },
        }
    }
}

/// NAdam's momentum at step `t` (1-based), as Keras has it: μ_t = β₁ (1 − ½ · 0.96^(0.004 t)) with β₁ = 0.9, which
/// grows from 0.45 towards β₁ over thousands of steps.
fn nadam_momentum(t: usize) -> f64 {
    0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004 * t as f64))
}

/// NAdam's Nesterov look-ahead at step `t` (1-based), as Keras has it: m̂ = a·m + b·g with
/// a = μ_{t+1} / (1 − Π_{i≤t+1} μ_i) and b = (1 − μ_t) / (1 − Π_{i≤t} μ_i).
fn nadam_factors(t: usize) -> (f64, f64) {
    let product: f64 = (1..=t).map(nadam_momentum).product();
    let (now, next) = (nadam_momentum(t), nadam_momentum(t + 1));
    (next / (1.0 - product * next), (1.0 - now) / (1.0 - product))
}

/// The selection for `viewed` (the objective per view) with each image's activation given to its views; `narrow`:
/// see [`Objective::selection`].
fn select(viewed: &Objective, reads: &[Activation], device: &burn::tensor::Device, narrow: bool) -> Selection {
    let views = viewed.batch() / reads.len();
    let per_view: Vec<Activation> = reads.iter().flat_map(|&a| std::iter::repeat_n(a, views)).collect();
    viewed.selection(&per_view, device, narrow)
}

/// Whether a step may compute the deepest layer for the channels the objective reads alone: not where the
/// diversity term compares the images' whole layer, nor where accentuation pulls it towards a picture's.
fn narrows(objective: &Objective, start: &Option<Tensor<4>>) -> bool {
    objective.diversity() == 0.0 && start.is_none()
}

/// Each image's starting seed: the k-th image of the same objective starts from `seed + k`. Repeats of a filter
/// (a diverse batch) start apart, so they can differ; each filter's first image starts as its single run does.
fn start_seeds(images: &[Expression], seed: u64) -> Vec<u64> {
    let repeats = |i: usize| images[..i].iter().filter(|&e| *e == images[i]).count() as u64;
    (0..images.len()).map(|i| seed.wrapping_add(repeats(i))).collect()
}

/// A tensor's values read back to the host (the one read-back of the crate's computations, with its error).
pub(crate) async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, Error> {
    let data = tensor.into_data_async().await.map_err(|e| Error::ReadBack(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| Error::ReadBack(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// NAdam's momentum schedule at the first step and far into a run (two steps alone cannot tell it from a
    /// constant 0.45): Keras's formula, worked out here.
    #[test]
    fn nadam_momentum_follows_kerass_schedule() {
        assert!((nadam_momentum(1) - 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004))).abs() < 1e-15);
        assert!((nadam_momentum(1000) - 0.517_79).abs() < 1e-5, "{}", nadam_momentum(1000)); // 0.9 (1 − ½ · 0.96⁴)
        assert!((nadam_momentum(5000) - 0.701_10).abs() < 1e-5, "{}", nadam_momentum(5000)); // 0.9 (1 − ½ · 0.96²⁰)
    }

    /// NAdam's look-ahead factors against Keras's formula, worked out here, at the first steps and far into a run:
    /// μ_{t+1} and μ_t differ by less than 2e-4 (relative), which the reference tests' two steps cannot see.
    #[test]
    fn nadam_factors_follow_kerass_formula() {
        let mu = |t: usize| 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004 * t as f64));
        let product = |n: usize| (1..=n).map(mu).product::<f64>();
        for t in [1, 2, 1000] {
            let expected = (mu(t + 1) / (1.0 - product(t + 1)), (1.0 - mu(t)) / (1.0 - product(t)));
            let (a, b) = nadam_factors(t);
            assert!(((a - expected.0) / expected.0).abs() < 1e-12, "step {t}: a = {a}, Keras's {}", expected.0);
            assert!(((b - expected.1) / expected.1).abs() < 1e-12, "step {t}: b = {b}, Keras's {}", expected.1);
        }
    }

    /// Adam's running moments over many steps (the reference tests take two, where β₂ = 0.999 and 1/β₂ are too
    /// close to tell apart): for gradients g_t = t, m and v are the closed forms Σ (1 − β)·β^(T−t)·g_t.
    #[test]
    fn moments_follow_their_recurrence_over_many_steps() {
        let (beta1, beta2) = (0.9f32, 0.999f32);
        let device = Device::flex();
        let closed = |steps: i32, beta: f64, power: i32| -> f64 {
            (1..=steps).map(|t| (1.0 - beta) * beta.powi(steps - t) * f64::from(t).powi(power)).sum()
        };
        let read = |x: &Tensor<4>| f64::from(x.clone().into_data().try_into_vec::<f32>().unwrap()[0]);
        let mut moments = None;
        for t in 1..=300 {
            let grad = Tensor::<4>::from_data(TensorData::new(vec![t as f32], [1, 1, 1, 1]), &device);
            let now = AdamMoments::after(moments, grad, beta1, beta2);
            // The first steps too: by step 300 the first one's share of m has decayed by 0.9^299.
            if [1, 2, 300].contains(&t) {
                let (m, v) = (read(&now.first), read(&now.second));
                let (m_expected, v_expected) = (closed(t, 0.9, 1), closed(t, 0.999, 2));
                assert!((m / m_expected - 1.0).abs() < 1e-4, "step {t}: m {m} vs {m_expected}");
                assert!((v / v_expected - 1.0).abs() < 1e-4, "step {t}: v {v} vs {v_expected}");
            }
            moments = Some(now);
        }
    }
}
