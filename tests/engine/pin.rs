//! A run on the graph equals the run the networks' conv tables gave before networks became graphs, bit for bit:
//! the final pictures and every step's objective values of a few runs, hashed (FNV-1a over their f32 bits), were
//! recorded from the last commit before the change (a8f9a7b) and are pinned here.

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

/// The runs, and their fingerprints (pixels, values): VGG16 classic and pre-ReLU, a lucid grid with diversity;
/// AlexNet lucid.
fn runs() -> Vec<(&'static str, RunRequest, [u64; 2])> {
    let small = |request: RunRequest| RunRequest { steps: Some(6), size: Some(64), ..request };
    vec![
        (
            "vgg16 classic conv3_1:5",
            small(RunRequest::new(Mode::Classic, "conv3_1", &[5])),
            [0x2201_65ea_ae25_fcdc, 0x2722_7300_1ba2_5fb2],
        ),
        (
            "vgg16 classic pre-relu conv5_3:0",
            small(RunRequest { pre_relu: true, ..RunRequest::new(Mode::Classic, "conv5_3", &[0]) }),
            [0x0dcc_f3f7_8504_82f4, 0x607a_91b1_b0b6_8b8b],
        ),
        (
            "vgg16 lucid diversity conv4_3:20x3",
            small(RunRequest { diversity: 50, ..RunRequest::new(Mode::Lucid, "conv4_3", &[20, 20, 20]) }),
            [0xf3ba_2805_373d_58d1, 0x7c6d_d513_0c0b_765c],
        ),
        (
            "alexnet lucid conv5:0,1",
            small(RunRequest { model: Network::Alexnet, ..RunRequest::new(Mode::Lucid, "conv5", &[0, 1]) }),
            [0x03be_401f_006d_20f3, 0x5dcc_24cc_f26a_6861],
        ),
    ]
}

#[test]
fn runs_on_the_graph_equal_the_tables_runs() {
    for (name, request, expected) in runs() {
        let model = if request.model == Network::Alexnet { alexnet() } else { flex_model() };
        let (objective, config) = request.plan(&Start::default()).unwrap();
        let (reports, ascent) = run_to_end(Ascent::new(model, objective, config).unwrap());
        let pixels = pollster::block_on(ascent.pixels()).unwrap();
        let values = reports.iter().flat_map(|r| r.activations.clone());
        let found = [fingerprint(pixels), fingerprint(values)];
        assert_eq!(found, expected, "{name}: pixels and values {found:016x?}, before the graph {expected:016x?}");
    }
}
