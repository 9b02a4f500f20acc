//! The seeded draws the parameterisations and the transforms share: a run's seed reproduces its starting noise and
//! every random transform.

use rand::RngExt;
use rand_pcg::Pcg64;

/// Box–Muller: one N(0, 1) sample.
pub(crate) fn standard_normal(rng: &mut Pcg64) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
