//! A few runs pinned bit for bit: the final pictures and every step's objective values, hashed (FNV-1a over their
//! f32 bits). First recorded from the last commit before networks became graphs (a8f9a7b: the graph changed no bit);
//! recorded again when Flex's convolutions became filterlens's own (issue 29), whose sums run in another order: then
//! every reference test passed within its float tolerance, and the page on burn-flex's kernels painted what the CLI
//! on the new ones paints within the page-vs-CLI parity bounds (classic 1 / 0.001, lucid 7 / 1.417, AlexNet 0 / 0,
//! maco 2 / 0.412 grey levels, largest / mean). A change here is a change of numbers, to be explained.

use filterlens::{Ascent, Mode, Network, RunRequest, Start};

use crate::alexnet::alexnet;
use crate::{flex_model, run_to_end};

/// FNV-1a, 64 bits, over the values' bit patterns.
fn fingerprint(values: impl IntoIterator<Item = f32>) -> u64 {
    values
        .into_iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The runs, and their fingerprints (pixels, values), any of which may be found: VGG16 classic and pre-ReLU, a lucid
/// grid with diversity; AlexNet lucid. The diversity term's Gram matrices go through burn-flex's matrix product,
/// whose gemm picks AVX-512 kernels at run time where the CPU has them (Cargo.toml's `x86-v4`), summing in another
/// order: that run has one fingerprint per kernel, recorded on an AMD EPYC without AVX-512 (2026-12-02, morning) and
/// with it (2026-12-02, noon; the old commit c2b1ec3 finds the same there).
fn runs() -> Vec<(&'static str, RunRequest, &'static [[u64; 2]])> {
    let small = |request: RunRequest| RunRequest { steps: Some(6), size: Some(64), ..request };
    vec![
        (
            "vgg16 classic conv3_1:5",
            small(RunRequest::new(Mode::Classic, "conv3_1", &[5])),
            &[[0x272b_6a84_2c80_6617, 0x044b_269b_8647_5431]],
        ),
        (
            "vgg16 classic pre-relu conv5_3:0",
            small(RunRequest { pre_relu: true, ..RunRequest::new(Mode::Classic, "conv5_3", &[0]) }),
            &[[0x52f8_ff54_a747_601e, 0x8e86_277e_a344_1b98]],
        ),
        (
            "vgg16 lucid diversity conv4_3:20x3",
            small(RunRequest { diversity: 50, ..RunRequest::new(Mode::Lucid, "conv4_3", &[20, 20, 20]) }),
            &[[0x49da_5526_5689_c27a, 0x4044_3ec1_c8dc_b0fd], [0x6871_a57c_37b9_a774, 0x5d9c_fa43_0ed2_9aaf]],
        ),
        (
            "alexnet lucid conv5:0,1",
            small(RunRequest { model: Network::Alexnet, ..RunRequest::new(Mode::Lucid, "conv5", &[0, 1]) }),
            &[[0x8e81_53dc_e6f1_9e9b, 0x42ec_ec82_9b78_e03f]],
        ),
    ]
}

#[test]
fn runs_equal_their_pinned_bits() {
    let mut changed = Vec::new();
    for (name, request, expected) in runs() {
        let model = if request.model == Network::Alexnet { alexnet() } else { flex_model() };
        let (objective, config) = request.plan(&Start::default()).unwrap();
        let (reports, ascent) = run_to_end(Ascent::new(model, objective, config).unwrap());
        let pixels = pollster::block_on(ascent.pixels()).unwrap();
        let values = reports.iter().flat_map(|r| r.activations.clone());
        let found = [fingerprint(pixels), fingerprint(values)];
        if !expected.contains(&found) {
            changed.push(format!("{name}: pixels and values {found:016x?}, pinned {expected:016x?}"));
        }
    }
    assert!(changed.is_empty(), "runs changed:\n{}", changed.join("\n"));
}
