//! The allowed values of a run's numeric settings, named as the request and the link name them: the loop checks
//! its own (steps, size), the request the rest, and the catalog shows them all to the front ends.

use std::fmt::Display;

use serde::Serialize;

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limit<T> {
    #[serde(skip)]
    pub field: &'static str,
    pub min: T,
    pub max: T,
}

impl<T: PartialOrd + Copy + Display> Limit<T> {
    /// `value` if it lies within the limit (NaN does not), else an error naming the field.
    pub fn check(&self, value: T) -> Result<T, Error> {
        if value >= self.min && value <= self.max {
            Ok(value)
        } else {
            Err(Error::OutOfRange {
                field: self.field,
                value: value.to_string(),
                min: self.min.to_string(),
                max: self.max.to_string(),
            })
        }
    }
}

pub const STEPS: Limit<usize> = Limit { field: "steps", min: 1, max: 10_000 };
pub const SIZE: Limit<usize> = Limit { field: "size", min: 16, max: 1024 };
/// Grey levels (1/255 of the [0, 1] range).
pub const STEP_SIZE: Limit<f32> = Limit { field: "stepSize", min: 0.01, max: 64.0 };
pub const LEARNING_RATE: Limit<f32> = Limit { field: "lr", min: 1e-4, max: 1.0 };
pub const DIVERSITY: Limit<usize> = Limit { field: "diversity", min: 0, max: 10_000 };
pub const ACCENTUATE: Limit<usize> = Limit { field: "accentuate", min: 0, max: 100 };
/// Pixels (and the transformed image must still reach the network's deepest layer: see
/// `AscentConfig::validate`).
pub const JITTER: Limit<usize> = Limit { field: "jitter", min: 0, max: 32 };
/// Maco mode's crops per step: each is a forward and backward pass of the network.
pub const CROPS: Limit<usize> = Limit { field: "crops", min: 1, max: 64 };
/// Seeds are 32-bit, so that every one is exact in a link (JavaScript numbers) and on the command line.
pub const SEED: Limit<u64> = Limit { field: "seed", min: 0, max: u32::MAX as u64 };
