//! The optimisation loop: gradient ascent on the input image.
//!
//! Classic mode is the seed exactly: start from `(128 + U[0,1)) / 255` per pixel, maximise a channel's mean
//! activation, and step `image += step_size / (max(grad) + 1e-8) * grad` with `max` over each image.

use burn::tensor::{Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use web_time::Instant;

use crate::objective::{Activation, Objective, Selection};
use crate::vgg::Vgg16;
use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub struct AscentConfig {
    pub steps: usize,
    pub step_size: f32,
    /// Side of the square image, pixels.
    pub size: usize,
    /// Seeds the initial noise; the same seed on the same backend gives the same picture.
    pub seed: u64,
}

impl Default for AscentConfig {
    /// The seed's demo: 150 steps of 2/255 on a 224 px image.
    fn default() -> Self {
        Self { steps: 150, step_size: 2.0 / 255.0, size: 224, seed: 0 }
    }
}

impl AscentConfig {
    pub fn validate(&self) -> Result<(), Error> {
        if !(16..=1024).contains(&self.size) {
            return Err(Error::SizeOutOfRange(self.size));
        }
        if self.steps == 0 {
            return Err(Error::NoSteps);
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
    /// Images whose gradient was exactly zero at the start (a ReLU that never fires on the initial noise) and
    /// which from now on maximise the pre-ReLU activation instead.
    pub switched_to_pre_relu: Vec<usize>,
    /// Wall time of the step, including reading the activations back.
    pub millis: f64,
}

/// A run of gradient ascent for a batch of images; the caller drives it one [`Ascent::step`] at a time, so it
/// can paint, report or cancel between steps.
pub struct Ascent {
    model: Vgg16,
    objective: Objective,
    config: AscentConfig,
    image: Tensor<4>,
    activations: Vec<Activation>,
    selection: Selection,
    steps_taken: usize,
}

impl Ascent {
    pub fn new(model: &Vgg16, objective: Objective, config: AscentConfig) -> Result<Self, Error> {
        config.validate()?;
        let device = model.device();
        let batch = objective.filters().len();
        let image = Tensor::from_data(initial_noise(batch, config.size, config.seed), &device);
        let activations = vec![Activation::PostRelu; batch];
        let selection = objective.selection(&activations, &device);
        Ok(Self { model: model.clone(), objective, config, image, activations, selection, steps_taken: 0 })
    }

    pub fn config(&self) -> &AscentConfig {
        &self.config
    }

    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// Which activation each image maximises (pre-ReLU after a dead-filter switch).
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    pub fn is_done(&self) -> bool {
        self.steps_taken >= self.config.steps
    }

    /// The current images, `[batch, 3, size, size]`, unbounded (display them min-max normalised).
    pub fn image(&self) -> Tensor<4> {
        self.image.clone()
    }

    /// The current images read back to the host, planar `[batch][3][size][size]`.
    pub async fn pixels(&self) -> Result<Vec<f32>, Error> {
        read_floats(self.image.clone()).await
    }

    /// Carries the run on with `model` (on another device, say after a lost GPU), from `pixels` as returned by
    /// [`Ascent::pixels`]; the step count and each image's activation choice are kept.
    pub fn continue_on(&mut self, model: &Vgg16, pixels: Vec<f32>) {
        let device = model.device();
        let [batch, channels, height, width] = self.image.dims();
        self.image = Tensor::from_data(TensorData::new(pixels, [batch, channels, height, width]), &device);
        self.selection = self.objective.selection(&self.activations, &device);
        self.model = model.clone();
    }

    /// One ascent step for every image of the batch.
    pub async fn step(&mut self) -> Result<StepReport, Error> {
        let start = Instant::now();
        let (mut grad, mut values) = self.gradient();
        let mut switched = Vec::new();
        if self.steps_taken == 0 {
            let peaks = read_floats(grad.clone().abs().max_dims(&[1, 2, 3])).await?;
            switched = peaks.iter().enumerate().filter(|(_, p)| **p == 0.0).map(|(i, _)| i).collect();
            if !switched.is_empty() {
                for &i in &switched {
                    self.activations[i] = Activation::PreRelu;
                }
                self.selection = self.objective.selection(&self.activations, &self.model.device());
                (grad, values) = self.gradient();
            }
        }
        let peak = grad.clone().max_dims(&[1, 2, 3]);
        self.image = self.image.clone() + grad / (peak + 1e-8) * self.config.step_size;
        let activations = read_floats(values).await?;
        let report = StepReport {
            step: self.steps_taken,
            activations,
            switched_to_pre_relu: switched,
            millis: start.elapsed().as_secs_f64() * 1e3,
        };
        self.steps_taken += 1;
        Ok(report)
    }

    /// Gradient of the summed objective with respect to the images (images do not interact, so each image gets
    /// the gradient of its own objective), and the objective per image.
    fn gradient(&self) -> (Tensor<4>, Tensor<1>) {
        let x = self.image.clone().autodiff().require_grad();
        let features = self.model.forward(x.clone(), self.objective.layer(), Activation::PreRelu);
        let values = self.objective.evaluate(features, &self.selection);
        let grads = values.clone().sum().backward();
        let grad = x.grad(&grads).expect("the input image requires a gradient");
        (grad, values.without_autodiff())
    }
}

/// The seed's initial image, `(128 + U[0,1)) / 255`; every image of a batch starts from the same noise, so a
/// grid tile and a single run with the same seed are the same picture.
fn initial_noise(batch: usize, size: usize, seed: u64) -> TensorData {
    let mut rng = Pcg64::seed_from_u64(seed);
    let one: Vec<f32> = (0..3 * size * size).map(|_| (128.0 + rng.random::<f32>()) / 255.0).collect();
    TensorData::new(one.repeat(batch), [batch, 3, size, size])
}

async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, Error> {
    let data = tensor.into_data_async().await.map_err(|e| Error::ReadBack(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| Error::ReadBack(format!("{e:?}")))
}
