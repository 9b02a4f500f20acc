//! Flex's convolutions in f32, NCHW throughout: im2col rows in the weight's own order and one gemm per block of
//! output rows, writing straight into the output (gemm takes the output's row stride), with no NHWC copy, no
//! reordered weight and no write-back. A pointwise (1×1) convolution is a gemm on the input itself, a dense 3×3
//! stride-1 one Winograd's F(2×2, 3×3) (`winograd`). The input's gradient of a stride-1 convolution is a convolution
//! too: of the output's gradient with the kernel flipped in space and its in/out channels swapped (a depthwise kernel
//! keeps its channels), so it takes the same way. Other dtypes, grouped convolutions (depthwise ones to burn-flex's
//! direct kernel) and strided gradients are burn-flex's.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::{DType, Flex, TensorMetadata};
use burn::tensor::TensorData;

use super::winograd;

/// A worker's scratch block, in floats (1 MiB): rows of output pixels are gathered for im2col until about this
/// much, enough columns for gemm's microkernels, small enough to stay in a core's L2 while gemm packs it.
pub(super) const BLOCK_FLOATS: usize = 1 << 18;

/// `x` convolved with `weight`, plus `bias`: see [`super::Convolutions::convolve`].
pub(super) fn convolve(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: ConvOptions<2>,
) -> FlexTensor {
    let all_f32 = [Some(&x), Some(&weight), bias.as_ref()].into_iter().flatten().all(|t| t.dtype() == DType::F32);
    if !all_f32 || options.groups != 1 {
        return Flex::conv2d(x, weight, bias, options);
    }
    let geometry = Geometry::new(dims(&x), dims(&weight), &options);
    let (x, bias) = (x.to_contiguous(), bias.map(|b| b.to_contiguous()));
    let output = if winograd::fits(&geometry) {
        winograd::convolve(contiguous(&x), &winograd_kernel(&weight), false, bias.as_ref().map(contiguous), &geometry)
    } else {
        forward(contiguous(&x), contiguous(&weight.to_contiguous()), bias.as_ref().map(contiguous), &geometry)
    };
    geometry.output(output)
}

/// The gradient of [`convolve`]'s output with respect to `x`: a convolution where the stride is 1 (see the module's
/// comment), burn's transposed convolution otherwise.
pub(super) fn input_grad(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<2>,
) -> FlexTensor {
    let [_, c_in, _, _] = dims(&x);
    let [c_out, per_group, k_h, k_w] = dims(&weight);
    // Output row r reads input rows r - top .. r - top + dilation·(k - 1); so input row i is read by output rows
    // i + top - dilation·(k - 1) ..= i + top: the gradient's padding is dilation·(k - 1) - top above (and likewise
    // below, left, right), which must not be negative.
    let reach = [options.dilation[0] * (k_h - 1), options.dilation[1] * (k_w - 1)];
    let padding = [0, 1].map(|d| {
        let (begin, end) = options.padding[d];
        Some((reach[d].checked_sub(begin)?, reach[d].checked_sub(end)?))
    });
    let depthwise = options.groups == c_in && per_group == 1 && c_out == c_in;
    let as_convolution = options.stride == [1, 1]
        && [&x, &weight, &output_grad].iter().all(|t| t.dtype() == DType::F32)
        && (options.groups == 1 || depthwise);
    let (true, [Some(rows), Some(columns)]) = (as_convolution, padding) else {
        return Flex::conv2d_x_backward(x, weight, output_grad, options);
    };
    let options = ConvOptions::new_with_padding([1, 1], [rows, columns], options.dilation, options.groups);
    if options.groups == 1 {
        let geometry = Geometry::new(dims(&output_grad), [c_in, c_out, k_h, k_w], &options);
        if winograd::fits(&geometry) {
            // The flipped, channel-swapped kernel's transform is the weight's own, read transposed.
            let output_grad = output_grad.to_contiguous();
            let grad = winograd::convolve(contiguous(&output_grad), &winograd_kernel(&weight), true, None, &geometry);
            return geometry.output(grad);
        }
    }
    let flipped = FLIPPED.get(&weight, options.groups == 1, |weight| flip_kernel(weight, options.groups == 1));
    convolve(output_grad, flipped, None, options)
}

/// Values derived from weights (keyed further by `K`), each kept while its weight lives: a network's weights are the
/// same tensors every step, and deriving from VGG16's conv5_3 costs more than its convolution at 128 px.
struct Kept<K, V> {
    entries: Mutex<Vec<(FlexTensor, K, V)>>,
}

impl<K: PartialEq, V: Clone> Kept<K, V> {
    const fn new() -> Self {
        Self { entries: Mutex::new(Vec::new()) }
    }

    /// `derive` of `weight` (contiguous) for `key`, computed once per weight and key.
    fn get(&self, weight: &FlexTensor, key: K, derive: impl FnOnce(&FlexTensor) -> V) -> V {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // An entry whose weight nobody else holds any more (a model dropped) goes; while an entry holds its weight,
        // that weight's storage cannot be freed and its address reused by another tensor, so the address identifies it.
        entries.retain(|(kept, _, _)| !kept.is_unique());
        let same = |(kept, kept_key, _): &&(FlexTensor, K, V)| {
            *kept_key == key && kept.bytes().as_ptr() == weight.bytes().as_ptr() && kept.layout() == weight.layout()
        };
        if let Some((_, _, value)) = entries.iter().find(same) {
            return value.clone();
        }
        let value = derive(&weight.to_contiguous());
        entries.push((weight.clone(), key, value.clone()));
        value
    }
}

/// Kernels flipped for input gradients ([`flip_kernel`]), keyed by whether their channels are swapped.
static FLIPPED: Kept<bool, FlexTensor> = Kept::new();

/// 3×3 kernels transformed for Winograd's F(2×2, 3×3) ([`winograd::transform_kernel`]).
static WINOGRAD: Kept<(), Arc<[f32]>> = Kept::new();

fn winograd_kernel(weight: &FlexTensor) -> Arc<[f32]> {
    WINOGRAD.get(weight, (), |weight| {
        let [c_out, c_in, _, _] = dims(weight);
        winograd::transform_kernel(contiguous(weight), c_out, c_in).into()
    })
}

/// The kernel flipped in space, and with its input and output channels swapped when `swap_channels` (a dense
/// convolution's gradient; a depthwise kernel `[channels, 1, kH, kW]` keeps its order).
fn flip_kernel(weight: &FlexTensor, swap_channels: bool) -> FlexTensor {
    let [c_out, c_in, k_h, k_w] = dims(weight);
    let source = contiguous(weight);
    let taps = k_h * k_w;
    let mut flipped = vec![0.0f32; source.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            let from = &source[(o * c_in + i) * taps..][..taps];
            let to = if swap_channels { (i * c_out + o) * taps } else { (o * c_in + i) * taps };
            // Reversing the taps' row-major order flips both spatial axes.
            for (t, &value) in flipped[to..to + taps].iter_mut().zip(from.iter().rev()) {
                *t = value;
            }
        }
    }
    let shape = if swap_channels { [c_in, c_out, k_h, k_w] } else { [c_out, c_in, k_h, k_w] };
    FlexTensor::from_data(TensorData::new(flipped, shape))
}

/// A dense (groups = 1) convolution's sizes.
pub(super) struct Geometry {
    pub(super) batch: usize,
    pub(super) c_in: usize,
    pub(super) in_h: usize,
    pub(super) in_w: usize,
    pub(super) c_out: usize,
    pub(super) k_h: usize,
    pub(super) k_w: usize,
    pub(super) stride: [usize; 2],
    pub(super) dilation: [usize; 2],
    /// Padding above and to the left (below and to the right only shape the output).
    pub(super) top: usize,
    pub(super) left: usize,
    pub(super) out_h: usize,
    pub(super) out_w: usize,
}

impl Geometry {
    /// The sizes of input `[batch, in, H, W]` convolved by kernel `[out, in, kH, kW]`.
    fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Self {
        let [batch, c_in, in_h, in_w] = x;
        let [c_out, per_group, k_h, k_w] = weight;
        assert_eq!(per_group, c_in, "a dense convolution's kernel takes every input channel");
        let out = |d: usize, size: usize, kernel: usize| {
            let (begin, end) = options.padding[d];
            let span = options.dilation[d] * (kernel - 1) + 1;
            let padded = size + begin + end;
            assert!(padded >= span, "the kernel ({span} px with dilation) exceeds the padded input ({padded} px)");
            (padded - span) / options.stride[d] + 1
        };
        Self {
            batch,
            c_in,
            in_h,
            in_w,
            c_out,
            k_h,
            k_w,
            stride: options.stride,
            dilation: options.dilation,
            top: options.padding[0].0,
            left: options.padding[1].0,
            out_h: out(0, in_h, k_h),
            out_w: out(1, in_w, k_w),
        }
    }

    /// The output `[batch, out, outH, outW]` of these sizes, from its values.
    fn output(&self, values: Vec<f32>) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, [self.batch, self.c_out, self.out_h, self.out_w]))
    }

    /// A 1×1 kernel on every pixel, unpadded: the output is the weight times the input, as it lies.
    fn pointwise(&self) -> bool {
        self.k_h == 1 && self.k_w == 1 && self.stride == [1, 1] && (self.out_h, self.out_w) == (self.in_h, self.in_w)
    }

    /// One column of im2col: every input channel's every tap.
    fn taps(&self) -> usize {
        self.c_in * self.k_h * self.k_w
    }
}

/// The forward convolution: for each image and block of output rows, the block's im2col (skipped when pointwise),
/// then `output[:, block] = bias + weight · columns`.
fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let plane = g.out_h * g.out_w;
    let taps = g.taps();
    let rows_per_block = if g.pointwise() { g.out_h } else { (BLOCK_FLOATS / (taps * g.out_w)).clamp(1, g.out_h) };
    let blocks = g.out_h.div_ceil(rows_per_block);
    let jobs = g.batch * blocks;
    let mut output = vec![0.0f32; g.batch * g.c_out * plane];
    let out = SharedOutput(output.as_mut_ptr());
    // Few blocks (deep layers' small maps, pointwise ones) leave cores idle if blocks are the only parallel work:
    // gemm then splits each product itself.
    let split_gemm = jobs < 2 * pool::threads();
    let job = |index: usize| {
        let (image, block) = (index / blocks, index % blocks);
        let first_row = block * rows_per_block;
        let rows = rows_per_block.min(g.out_h - first_row);
        let columns = rows * g.out_w;
        // SAFETY: the jobs write disjoint column ranges (`first_row * out_w ..`) of each output channel of their
        // image, and `output` outlives every job.
        let dst = out.at(image * g.c_out * plane + first_row * g.out_w);
        if let Some(bias) = bias {
            for (channel, &b) in bias.iter().enumerate() {
                unsafe { std::slice::from_raw_parts_mut(dst.add(channel * plane), columns) }.fill(b);
            }
        }
        let input = &x[image * g.c_in * g.in_h * g.in_w..][..g.c_in * g.in_h * g.in_w];
        let multiply = |rhs: &[f32], rhs_row_stride: usize| unsafe {
            gemm::gemm(
                g.c_out,
                columns,
                taps,
                dst,
                1,
                plane as isize,
                bias.is_some(),
                weight.as_ptr(),
                1,
                taps as isize,
                rhs.as_ptr(),
                1,
                rhs_row_stride as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                pool::gemm_parallelism(split_gemm),
            )
        };
        if g.pointwise() {
            multiply(&input[first_row * g.out_w..], g.in_h * g.in_w);
        } else {
            scratch(taps * columns, |block| {
                im2col(input, g, first_row, rows, block);
                multiply(block, columns);
            });
        }
    };
    if split_gemm {
        (0..jobs).for_each(job);
    } else {
        pool::for_each(jobs, job);
    }
    output
}

thread_local! {
    /// Each worker's scratch block, kept between convolutions: a step runs the same shapes again and again.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `work` on this thread's scratch block of `len` floats, whose every element `work` writes before reading it.
pub(super) fn scratch(len: usize, work: impl FnOnce(&mut [f32])) {
    // Taken out while in use, not borrowed: should gemm's own workers ever run another convolution's job on this
    // thread while it waits, that job finds no buffer and makes one instead of panicking.
    let mut buffer = SCRATCH.take();
    // Growing the buffer is the only zeroing.
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    work(&mut buffer[..len]);
    SCRATCH.set(buffer);
}

/// Output rows `first_row .. first_row + rows` of one image as im2col: row `(c, i, j)` (the weight's order) holds,
/// for each of those output pixels, the input value under tap `(i, j)` of channel `c`, or 0 in the padding.
fn im2col(input: &[f32], g: &Geometry, first_row: usize, rows: usize, block: &mut [f32]) {
    let columns = rows * g.out_w;
    let [stride_h, stride_w] = g.stride;
    let mut tap_rows = block.chunks_exact_mut(columns);
    for channel in input.chunks_exact(g.in_h * g.in_w) {
        for i in 0..g.k_h {
            for j in 0..g.k_w {
                let tap_row = tap_rows.next().expect("one im2col row per tap");
                let dy = (i * g.dilation[0]) as isize - g.top as isize;
                let dx = (j * g.dilation[1]) as isize - g.left as isize;
                // Output columns whose input column `ow·stride + dx` lies inside the input: `lo..hi`.
                let lo = if dx >= 0 { 0 } else { (-dx as usize).div_ceil(stride_w) }.min(g.out_w);
                let hi = ((g.in_w as isize - dx).max(0) as usize).div_ceil(stride_w).clamp(lo, g.out_w);
                for (r, out_row) in tap_row.chunks_exact_mut(g.out_w).enumerate() {
                    let y = ((first_row + r) * stride_h) as isize + dy;
                    if y < 0 || y >= g.in_h as isize {
                        out_row.fill(0.0);
                        continue;
                    }
                    let source = &channel[y as usize * g.in_w..][..g.in_w];
                    out_row[..lo].fill(0.0);
                    out_row[hi..].fill(0.0);
                    let start = (lo * stride_w) as isize + dx;
                    if stride_w == 1 {
                        out_row[lo..hi].copy_from_slice(&source[start as usize..][..hi - lo]);
                    } else {
                        for (k, value) in out_row[lo..hi].iter_mut().enumerate() {
                            *value = source[start as usize + k * stride_w];
                        }
                    }
                }
            }
        }
    }
}

/// The output's base pointer, shared by jobs that write disjoint parts of it.
#[derive(Clone, Copy)]
pub(super) struct SharedOutput(pub(super) *mut f32);
// SAFETY: see `forward`'s jobs.
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// The address `offset` floats in. (A method, so that closures capture the whole wrapper, not its raw field.)
    pub(super) fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: callers stay inside the output, as `forward`'s jobs do.
        unsafe { self.0.add(offset) }
    }

    /// The part of the output from `offset` floats in.
    pub(super) fn offset(self, offset: usize) -> Self {
        Self(self.at(offset))
    }
}

/// A tensor's four sizes.
fn dims(t: &FlexTensor) -> [usize; 4] {
    t.shape().dims()
}

/// A contiguous tensor's values.
fn contiguous(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("a contiguous f32 tensor")
}

/// Where the work runs: rayon's pool in the builds that have threads (native; the page's threaded build), the
/// calling thread in the page's single-threaded one.
pub(super) mod pool {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    pub(in crate::net::convolution) fn threads() -> usize {
        rayon::current_num_threads()
    }

    #[cfg(not(any(not(target_arch = "wasm32"), feature = "threads")))]
    pub(in crate::net::convolution) fn threads() -> usize {
        1
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    pub(in crate::net::convolution) fn for_each(jobs: usize, job: impl Fn(usize) + Send + Sync) {
        use rayon::prelude::*;
        (0..jobs).into_par_iter().for_each(job);
    }

    #[cfg(not(any(not(target_arch = "wasm32"), feature = "threads")))]
    pub(in crate::net::convolution) fn for_each(jobs: usize, job: impl Fn(usize) + Send + Sync) {
        (0..jobs).for_each(job);
    }

    /// gemm splitting one product across the pool (`split`), or on the calling thread.
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    pub(in crate::net::convolution) fn gemm_parallelism(split: bool) -> gemm::Parallelism {
        if split && threads() > 1 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None }
    }

    #[cfg(not(any(not(target_arch = "wasm32"), feature = "threads")))]
    pub(in crate::net::convolution) fn gemm_parallelism(_split: bool) -> gemm::Parallelism {
        gemm::Parallelism::None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::backend::ops::{ConvOptions, ModuleOps};
    use burn::tensor::TensorData;

    /// The median of `runs` timings of `f`, in ms, after one untimed run.
    fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
        f();
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[runs / 2]
    }

    /// These kernels beside burn-flex's on the convolutions of VGG16's and EfficientNet-Lite0's steps (forward, and
    /// the input's gradient), batch 1; docs/BENCHMARKS.md records the results. Not a test: nothing is asserted.
    #[test]
    #[ignore = "a benchmark: cargo test --release --lib convolution::flex::tests::beside_burn_flex -- --ignored --nocapture"]
    fn beside_burn_flex() {
        let dense = |c_in, c_out, side, k: usize, stride, groups| (c_in, c_out, side, k, stride, groups);
        let layers = [
            ("VGG16 conv1_2, 128 px", dense(64, 64, 128, 3, 1, 1)),
            ("VGG16 conv2_2, 128 px", dense(128, 128, 64, 3, 1, 1)),
            ("VGG16 conv3_1, 128 px", dense(128, 256, 32, 3, 1, 1)),
            ("VGG16 conv3_2, 224 px", dense(256, 256, 56, 3, 1, 1)),
            ("VGG16 conv4_2, 128 px", dense(512, 512, 16, 3, 1, 1)),
            ("VGG16 conv4_2, 224 px", dense(512, 512, 28, 3, 1, 1)),
            ("VGG16 conv5_3, 128 px", dense(512, 512, 8, 3, 1, 1)),
            ("VGG16 conv5_3, 224 px", dense(512, 512, 14, 3, 1, 1)),
            ("EfficientNet block1 expand 1x1, 224 px", dense(16, 96, 112, 1, 1, 1)),
            ("EfficientNet block2 project 1x1, 224 px", dense(144, 24, 56, 1, 1, 1)),
            ("EfficientNet block1 depthwise 3x3 s2, 224 px", dense(96, 96, 112, 3, 2, 96)),
            ("EfficientNet block2 depthwise 3x3, 224 px", dense(144, 144, 56, 3, 1, 144)),
            ("EfficientNet block4 depthwise 5x5, 224 px", dense(480, 480, 14, 5, 1, 480)),
        ];
        println!(
            "| convolution | forward: burn-flex | forward: im2col | forward: here | input grad: burn-flex \
             | input grad: im2col | input grad: here |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (name, (c_in, c_out, side, k, stride, groups)) in layers {
            let tensor = |shape: [usize; 4]| {
                let len = shape.iter().product::<usize>();
                FlexTensor::from_data(TensorData::new((0..len).map(|i| (i % 7) as f32 - 3.0).collect(), shape))
            };
            let x = tensor([1, c_in, side, side]);
            let weight = tensor([c_out, c_in / groups, k, k]);
            let bias = FlexTensor::from_data(TensorData::new(vec![0.5f32; c_out], [c_out]));
            let pad = k / 2;
            let options = ConvOptions::new([stride; 2], [pad; 2], [1, 1], groups);
            let out_side = (side + 2 * pad - k) / stride + 1;
            let grad = tensor([1, c_out, out_side, out_side]);
            let runs = 9;
            let theirs =
                median_ms(runs, || drop(Flex::conv2d(x.clone(), weight.clone(), Some(bias.clone()), options.clone())));
            let ours = median_ms(runs, || {
                drop(super::convolve(x.clone(), weight.clone(), Some(bias.clone()), options.clone()))
            });
            let theirs_grad = median_ms(runs, || {
                drop(Flex::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone()))
            });
            let ours_grad =
                median_ms(runs, || drop(super::input_grad(x.clone(), weight.clone(), grad.clone(), options.clone())));
            // A dense convolution by im2col, whatever `convolve` would choose: the forward, and the input's gradient
            // as the convolution by the flipped kernel (what a Winograd layer's gradient replaces).
            let [im2col, im2col_grad] = if groups == 1 {
                let values = |t: &FlexTensor| super::contiguous(t).to_vec();
                let (xs, weights, biases, grads) = (values(&x), values(&weight), values(&bias), values(&grad));
                let flipped = values(&super::flip_kernel(&weight, true));
                let forward = super::Geometry::new(super::dims(&x), super::dims(&weight), &options);
                let backward_options = ConvOptions::new([1, 1], [k - 1 - pad; 2], [1, 1], 1);
                let backward = super::Geometry::new(super::dims(&grad), [c_in, c_out, k, k], &backward_options);
                let im2col = median_ms(runs, || drop(super::forward(&xs, &weights, Some(&biases), &forward)));
                let grad = median_ms(runs, || drop(super::forward(&grads, &flipped, None, &backward)));
                [format!("{im2col:.2}"), if stride == 1 { format!("{grad:.2}") } else { "–".into() }]
            } else {
                ["–".into(), "–".into()]
            };
            println!(
                "| {name} | {theirs:.2} | {im2col} | {ours:.2} | {theirs_grad:.2} | {im2col_grad} | {ours_grad:.2} |"
            );
        }
    }
}
