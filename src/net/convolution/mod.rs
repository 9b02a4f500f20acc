//! The networks' 2-D convolution, as a backend extension: Flex runs its own kernels (`flex`), every other backend
//! burn's, and under autodiff the input's gradient asks the backend for it by name, so that Flex can compute it as a
//! convolution instead of burn's default transposed convolution.
//!
//! Why here and not in burn: burn-flex 0.22's forward convolution builds an im2col tile per block of output pixels
//! from an NHWC copy of the input and writes each block's result back channel by channel, and its input gradient is
//! a transposed convolution (a gemm, then a col2im scatter); that memory traffic, not the matrix products, was most
//! of the gap to PyTorch (docs/BENCHMARKS.md). burn's `#[backend_extension]` lets a crate replace one operation for
//! one backend without forking the rest.

// ndarray is deprecated in burn and kept here on purpose, as the slow reference CPU backend: the extension names it,
// and so does the code `#[backend_extension]` generates, where no narrower `allow` reaches.
#![allow(deprecated)]

mod flex;
mod winograd;

#[cfg(feature = "webgpu")]
use burn::backend::Cube;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, ExtensionType, Flex, NdArray, backend_extension};
use burn::tensor::Tensor;

/// A convolution's bias. (An `Option` of a tensor does not cross the dispatch boundary as an input; an enum does.)
#[derive(ExtensionType)]
pub enum Bias<B: Backend> {
    /// `[out]`, added to each output channel.
    Tensor(FloatTensor<B>),
    Zero,
}

impl<B: Backend> Bias<B> {
    fn into_option(self) -> Option<FloatTensor<B>> {
        match self {
            Bias::Tensor(bias) => Some(bias),
            Bias::Zero => None,
        }
    }
}

/// A 2-D convolution and its input's gradient, per backend.
#[backend_extension(Cube: cfg(feature = "webgpu"), Flex, NdArray, Autodiff)]
pub trait Convolutions: Backend {
    /// `x` `[batch, in, H, W]` convolved with `weight` `[out, in / groups, kH, kW]`, plus `bias` `[out]`.
    fn convolve(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        #[extension_type] bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, bias.into_option(), options)
    }

    /// The gradient of [`Convolutions::convolve`]'s output with respect to `x`, given the output's gradient.
    fn convolve_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }
}

impl Convolutions for Flex {
    fn convolve(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        flex::convolve(x, weight, bias.into_option(), options)
    }

    fn convolve_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        flex::input_grad(x, weight, output_grad, options)
    }
}

impl Convolutions for NdArray {}

#[cfg(feature = "webgpu")]
impl Convolutions for Cube {}

impl<B: Convolutions, C: CheckpointStrategy> Convolutions for Autodiff<B, C> {
    fn convolve(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        /// The backward step: burn's own for the weight and the bias, the backend's `convolve_input_grad` for the
        /// input. `N`: 3 parents with a bias, 2 without.
        #[derive(Debug)]
        struct Convolve<const N: usize>;

        impl<B: Convolutions, const N: usize> Backward<B, N> for Convolve<N> {
            /// The input, the weight and the bias as checkpointed, and the options.
            type State = (NodeId, NodeId, Option<NodeId>, ConvOptions<2>);

            fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, bias, options) = ops.state;
                let x: FloatTensor<B> = checkpointer.retrieve_node_output(x);
                let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight);
                let [x_node, weight_node] = [&ops.parents[0], &ops.parents[1]];
                if let (Some(node), Some(bias)) = (ops.parents.get(2).and_then(Option::as_ref), bias) {
                    let bias: FloatTensor<B> = checkpointer.retrieve_node_output(bias);
                    grads.register::<B>(node.id, B::conv2d_bias_backward(x.clone(), bias, grad.clone()));
                }
                if let Some(node) = weight_node {
                    let weight_grad =
                        B::conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
                    grads.register::<B>(node.id, weight_grad);
                }
                if let Some(node) = x_node {
                    grads.register::<B>(node.id, B::convolve_input_grad(x, weight, grad, options));
                }
            }
        }

        match bias {
            Bias::Tensor(bias) => match Convolve::<3>
                .prepare::<C>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let state =
                        (prep.checkpoint(&x), prep.checkpoint(&weight), Some(prep.checkpoint(&bias)), options.clone());
                    prep.finish(
                        state,
                        B::convolve(
                            x.into_primitive(),
                            weight.into_primitive(),
                            Bias::Tensor(bias.into_primitive()),
                            options,
                        ),
                    )
                }
                OpsKind::UnTracked(prep) => prep.finish(B::convolve(
                    x.into_primitive(),
                    weight.into_primitive(),
                    Bias::Tensor(bias.into_primitive()),
                    options,
                )),
            },
            Bias::Zero => match Convolve::<2>.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&weight), None, options.clone());
                    prep.finish(state, B::convolve(x.into_primitive(), weight.into_primitive(), Bias::Zero, options))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::convolve(x.into_primitive(), weight.into_primitive(), Bias::Zero, options))
                }
            },
        }
    }
}

/// `x` `[batch, in, H, W]` convolved with `weight` `[out, in / groups, kH, kW]`, plus `bias`, on the tensors' backend.
pub(crate) fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Convolutions>::convolve(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.map_or(Bias::Zero, |bias| Bias::Tensor(bias.into_dispatch())),
        options,
    ))
}

#[cfg(test)]
mod tests {
    use burn::backend::ops::ConvOptions;
    use burn::tensor::module::conv2d as burns_conv2d;
    use burn::tensor::{Device, Tensor, TensorData};

    use super::conv2d;
    use crate::testing::largest_difference;

    /// One convolution's shapes and options.
    struct Case {
        name: &'static str,
        batch: usize,
        c_in: usize,
        c_out: usize,
        size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        groups: usize,
        bias: bool,
    }

    /// Every path of `flex` and every fallback: dense 3×3 (VGG16's) by im2col and by Winograd's tiles (odd sides,
    /// padding that differs per side, a map split into several blocks of tiles), a first layer on 3 channels, AlexNet's 11×11
    /// stride 4, TensorFlow's asymmetric "same" at stride 2, dilation, pointwise with and without bias, depthwise at
    /// strides 1 and 2 (EfficientNet's), a grouped convolution, batches, odd sizes, a kernel as large as its input.
    fn cases() -> Vec<Case> {
        let case = |name, batch, c_in, c_out, size, kernel, stride, padding, dilation, groups, bias| Case {
            name,
            batch,
            c_in,
            c_out,
            size,
            kernel,
            stride,
            padding,
            dilation,
            groups,
            bias,
        };
        vec![
            case("3x3 same", 1, 8, 16, [12, 12], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1, true),
            case("3x3 same, batch 3, odd", 3, 5, 7, [9, 13], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1, true),
            case("first layer", 2, 3, 8, [17, 16], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1, true),
            case("11x11 stride 4", 1, 3, 6, [35, 35], [11, 11], [4, 4], [(2, 2), (2, 2)], [1, 1], 1, true),
            case("asymmetric same, stride 2", 2, 4, 6, [10, 11], [3, 3], [2, 2], [(0, 1), (0, 1)], [1, 1], 1, true),
            case("asymmetric, stride 1", 1, 4, 5, [7, 8], [2, 4], [1, 1], [(0, 1), (2, 1)], [1, 1], 1, false),
            case("dilated", 1, 4, 6, [14, 12], [3, 3], [1, 1], [(2, 2), (2, 2)], [2, 2], 1, true),
            case("no padding", 2, 6, 4, [9, 9], [5, 3], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
            case("kernel as large as the input", 1, 3, 4, [5, 5], [5, 5], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
            case("pointwise", 2, 24, 40, [7, 9], [1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
            case("pointwise, no bias", 1, 16, 8, [6, 5], [1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, false),
            case("pointwise, stride 2", 1, 8, 8, [9, 9], [1, 1], [2, 2], [(0, 0), (0, 0)], [1, 1], 1, true),
            case("depthwise 3x3", 2, 12, 12, [10, 10], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 12, true),
            case("depthwise 5x5 stride 2", 1, 6, 6, [13, 13], [5, 5], [2, 2], [(1, 2), (1, 2)], [1, 1], 6, true),
            case("grouped", 1, 8, 12, [8, 8], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 4, true),
            case("Winograd, batch 2, odd", 2, 20, 24, [15, 13], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1, true),
            case("Winograd, uneven padding", 1, 16, 32, [12, 17], [3, 3], [1, 1], [(0, 2), (2, 1)], [1, 1], 1, false),
            case("Winograd, several blocks", 1, 320, 16, [30, 28], [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1, true),
        ]
    }

    /// Values in [-1, 1) that differ from element to element, the same for every run.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let h = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)).wrapping_mul(2_246_822_519);
                (h >> 8) as f32 / (1 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The output, and the gradients of a weighted sum of it with respect to the input, the weight and the bias.
    fn output_and_gradients(case: &Case, device: &Device, ours: bool) -> [Vec<f32>; 4] {
        let device = device.clone().autodiff();
        let tensor = |shape: Vec<usize>, seed| {
            let len = shape.iter().product();
            Tensor::<4>::from_data(TensorData::new(values(len, seed), shape), &device)
        };
        let x = tensor(vec![case.batch, case.c_in, case.size[0], case.size[1]], 1).require_grad();
        let weight =
            tensor(vec![case.c_out, case.c_in / case.groups, case.kernel[0], case.kernel[1]], 2).require_grad();
        let bias = case.bias.then(|| tensor(vec![1, 1, 1, case.c_out], 3).reshape([case.c_out]).require_grad());
        let options = ConvOptions::new_with_padding(case.stride, case.padding, case.dilation, case.groups);
        let output = if ours {
            conv2d(x.clone(), weight.clone(), bias.clone(), options)
        } else {
            burns_conv2d(x.clone(), weight.clone(), bias.clone(), options)
        };
        let dims = output.dims();
        let pattern = tensor(dims.to_vec(), 4);
        let grads = (output.clone() * pattern).sum().backward();
        let read = |t: Option<Tensor<4>>| t.map_or(Vec::new(), |t| t.into_data().try_into_vec::<f32>().unwrap());
        [
            read(Some(output)),
            read(x.grad(&grads)),
            read(weight.grad(&grads)),
            read(bias.and_then(|b| b.grad(&grads)).map(|b| b.reshape([1, 1, 1, case.c_out]))),
        ]
    }

    /// Flex's kernels and the autodiff step around them agree with burn's convolution on ndarray (an independent
    /// implementation): the output and all three gradients, within float rounding.
    #[test]
    fn flex_kernels_match_burns_convolution_on_ndarray() {
        for case in cases() {
            let ours = output_and_gradients(&case, &Device::flex(), true);
            let reference = output_and_gradients(&case, &Device::ndarray(), false);
            for (what, (a, b)) in ["output", "input's gradient", "weight's gradient", "bias' gradient"]
                .iter()
                .zip(ours.iter().zip(&reference))
            {
                let scale = b.iter().fold(1.0f64, |m, &v| m.max(f64::from(v).abs()));
                let difference = largest_difference(a, b);
                assert!(difference <= 1e-5 * scale, "{}: {what} differs by {difference} (scale {scale})", case.name);
            }
            assert!(!ours[1].is_empty() && ours[3].is_empty() != case.bias, "{}: gradients missing", case.name);
        }
    }

    /// The same through the dispatch of every CPU backend: ndarray runs burn's own convolution under the extension.
    #[test]
    fn other_backends_run_burns_convolution() {
        for case in cases().iter().take(3) {
            let ours = output_and_gradients(case, &Device::ndarray(), true);
            let reference = output_and_gradients(case, &Device::ndarray(), false);
            assert_eq!(ours, reference, "{}", case.name);
        }
    }
}
