//! Test helpers shared by the unit tests and the engine tests (tests/engine/main.rs includes this file).

/// The largest absolute difference between `a` and `b`, element by element; NaN if any difference is NaN.
/// `fold(0.0, f32::max)` would skip a NaN, so a result gone NaN would pass every "within ε" check.
pub fn largest_difference<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[A], b: &[B]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .fold(0.0, |m, d| if d > m || d.is_nan() { d } else { m })
}

#[cfg(test)]
mod tests {
    use super::largest_difference;

    #[test]
    fn a_nan_anywhere_is_the_largest_difference() {
        assert_eq!(largest_difference(&[1.0f32, 2.0, 3.0], &[1.0f64, 2.5, 2.0]), 1.0);
        assert!(largest_difference(&[f32::NAN, 2.0], &[1.0f32, 2.0]).is_nan());
        assert!(largest_difference(&[1.0f32, f32::NAN], &[1.0f32, 2.0]).is_nan());
    }
}
