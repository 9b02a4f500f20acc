//! A few runs pinned bit for bit: the final pictures and every step's objective values, hashed (FNV-1a over their
//! f32 bits). First recorded from the last commit before networks became graphs (a8f9a7b: the graph changed no bit);
//! recorded again when Flex's convolutions became filterlens's own (issue 29), whose sums run in another order: then
//! every reference test passed within its float tolerance, and the page on burn-flex's kernels painted what the CLI
//! on the new ones paints within the page-vs-CLI parity bounds (classic 1 / 0.001, lucid 7 / 1.417, AlexNet 0 / 0,
//! maco 2 / 0.412 grey levels, largest / mean); and again when dense 3×3 convolutions on maps of 64 tiles or more
//! became Winograd's F(2×2, 3×3), whose transforms round differently (every reference test passed, the page and the
//! CLI on the new kernels within the parity bounds); and again when a step computed the deepest layer for the
//! channels its objective reads alone (a one-row product where the layer's was 256 or 512 rows, and a channel sum
//! over the channels read: the values move in the last bits, and the conv3_1 run's pixels with them). A change here
//! is a change of numbers, to be explained.

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
/// order: that run has one fingerprint per kernel, recorded with AVX-512 (an AMD EPYC, 2026-12-02) and without it
/// (the same binary under `qemu-x86_64 -cpu EPYC-Rome`, AVX2 and FMA: the pins before Winograd, recorded on a real
/// EPYC without AVX-512, pass there too).
fn runs() -> Vec<(&'static str, RunRequest, &'static [[u64; 2]])> {
    let small = |request: RunRequest| RunRequest { steps: Some(6), size: Some(64), ..request };
    vec![
        (
            "vgg16 classic conv3_1:5",
            small(RunRequest::new(Mode::Classic, "conv3_1", &[5])),
            &[[0xb6ce_22ca_582f_e5c7, 0x8fd7_eb25_f5fb_e8de]],
        ),
        (
            "vgg16 classic pre-relu conv5_3:0",
            small(RunRequest { pre_relu: true, ..RunRequest::new(Mode::Classic, "conv5_3", &[0]) }),
            &[[0x30cf_c5d3_1a9b_2b32, 0xd5f4_08c2_5328_1e2a]],
        ),
        (
            "vgg16 lucid diversity conv4_3:20x3",
            small(RunRequest { diversity: 50, ..RunRequest::new(Mode::Lucid, "conv4_3", &[20, 20, 20]) }),
            &[[0x3353_4a39_5339_1d64, 0x1372_a9cd_12cb_a26e], [0x5ce0_55c7_aac9_6105, 0xaad1_de4d_9248_f951]],
        ),
        (
            "alexnet lucid conv5:0,1",
            small(RunRequest { model: Network::Alexnet, ..RunRequest::new(Mode::Lucid, "conv5", &[0, 1]) }),
            &[[0x8e81_53dc_e6f1_9e9b, 0xa2d2_590c_57ea_8d67]],
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
