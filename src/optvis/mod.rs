//! The visualization core, in the vocabulary of Lucid's `optvis` (one file per idea): what to maximise
//! ([`objective`], written as [`expression`]s), how the picture is parameterised ([`param`], with MACO's
//! [`spectrum`]), the random [`transform`]s it is seen through, and the loop that climbs ([`ascent`]); with the
//! [`limits`] of a run's numbers and the seeded draws ([`random`]) they share. It stands on the networks
//! ([`crate::net`]) and knows nothing of pictures on screen, requests or backends.

pub mod ascent;
pub mod expression;
pub mod limits;
pub mod objective;
pub mod param;
mod random;
pub mod spectrum;
pub mod transform;
