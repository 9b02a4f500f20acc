//! What the ascent maximises, per image of a batch: a channel's mean activation (classic), the activation of the
//! channel's centre neuron, the whole layer's mean squared activation (DeepDream), or a weighted sum of those
//! across layers ([`crate::optvis::expression`]).

use burn::tensor::{Device, Int, Tensor};

use super::expression::{Expression, Target, Term};
use crate::Error;
use crate::net::{Activation, Network};

/// Objectives for a batch of images: image `i` maximises (or minimises) its own [`Expression`], a weighted sum of
/// what filters of the network's layers read. A single visualization is a batch of one; a grid is a batch of
/// several filters of one layer (each expression one term), or of several expressions (an interpolation).
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    network: Network,
    images: Vec<Expression>,
    activation: Activation,
    minimise: bool,
    /// The weight of Lucid's diversity term (0: none): the batch's images are pushed apart.
    diversity: f32,
}

impl Objective {
    /// The classic objective (channel mean after ReLU) for several filters of one layer, checked against the
    /// layer's channel count.
    pub fn channels(network: Network, layer: &str, filters: &[usize]) -> Result<Self, Error> {
        Self::new(network, layer, filters, Target::Channel, Activation::After)
    }

    /// `target` of each filter of `layer`, an image each.
    pub fn new(
        network: Network,
        layer: &str,
        filters: &[usize],
        target: Target,
        activation: Activation,
    ) -> Result<Self, Error> {
        let layer = network.layer_index(layer)?;
        let spec = &network.layers()[layer];
        if let Some(&filter) = filters.iter().find(|&&f| f >= spec.channels) {
            return Err(Error::FilterOutOfRange { layer: &spec.name, filter, channels: spec.channels });
        }
        let term = |filter| Term { weight: 1.0, target, layer, filter };
        let images = filters.iter().map(|&filter| Expression::single(network, term(filter))).collect();
        Self::of(network, images, activation)
    }

    /// Each expression (see [`crate::optvis::expression`]) an image.
    pub fn expressions(network: Network, texts: &[String], activation: Activation) -> Result<Self, Error> {
        let images = texts.iter().map(|text| Expression::parse(text, network)).collect::<Result<_, _>>()?;
        Self::of(network, images, activation)
    }

    fn of(network: Network, images: Vec<Expression>, activation: Activation) -> Result<Self, Error> {
        if images.is_empty() {
            return Err(Error::NoFilters);
        }
        Ok(Self { network, images, activation, minimise: false, diversity: 0.0 })
    }

    /// The same objective, minimised: the ascent climbs its negative (negative visualization).
    pub fn minimised(self) -> Self {
        Self { minimise: true, ..self }
    }

    /// The same objective with Lucid's diversity term: `weight` × [`similarity`] of the batch is subtracted, so its
    /// images (several of one filter, say) are pushed towards different patterns.
    pub fn with_diversity(self, weight: f32) -> Self {
        Self { diversity: weight, ..self }
    }

    /// The objective of a batch whose images each became `views` views (MACO's crops), an image's views together:
    /// each image's expression `views` times in a row.
    pub(crate) fn per_view(&self, views: usize) -> Self {
        let images = self.images.iter().flat_map(|e| std::iter::repeat_n(e.clone(), views)).collect();
        Self { images, ..self.clone() }
    }

    /// The diversity term's weight (0: none).
    pub fn diversity(&self) -> f32 {
        self.diversity
    }

    /// Whether the ascent lowers the objective instead of raising it.
    pub fn minimises(&self) -> bool {
        self.minimise
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// What each image maximises.
    pub fn images(&self) -> &[Expression] {
        &self.images
    }

    pub fn batch(&self) -> usize {
        self.images.len()
    }

    /// The deepest layer any image reads (its position in the network's table): the forward pass goes that far,
    /// and the diversity term compares the images there.
    pub fn deepest_layer(&self) -> usize {
        self.images.iter().map(Expression::deepest_layer).max().expect("a batch has an image")
    }

    /// The layers the images read, shallowest first.
    fn layers(&self) -> Vec<usize> {
        let mut layers: Vec<usize> = self.images.iter().flat_map(|e| e.terms().iter().map(|t| t.layer)).collect();
        layers.sort_unstable();
        layers.dedup();
        layers
    }

    /// What each image shows, for a grid's captions: `layer:filter`, the layer alone for a whole-layer objective;
    /// an expression's terms joined by their signs, its layer said once where they share it (`conv4_3:20+33`), its
    /// weights left out (a caption is a dozen characters).
    pub fn captions(&self) -> Vec<String> {
        self.images.iter().map(|image| self.caption(image)).collect()
    }

    fn caption(&self, image: &Expression) -> String {
        let name = |t: &Term| self.network.layers()[t.layer].name.as_str();
        let terms = image.terms();
        let one_layer = terms.iter().all(|t| t.layer == terms[0].layer && t.target != Target::Layer);
        let mut caption = if one_layer { format!("{}:", name(&terms[0])) } else { String::new() };
        for (i, term) in terms.iter().enumerate() {
            match (i, term.weight < 0.0) {
                (_, true) => caption.push('-'),
                (0, false) => {}
                (_, false) => caption.push('+'),
            }
            caption += &caption_weight(term.weight);
            caption += &match (one_layer, term.target) {
                (true, _) => term.filter.to_string(),
                (false, Target::Layer) => name(term).to_string(),
                (false, _) => format!("{}:{}", name(term), term.filter),
            };
        }
        caption
    }

    /// The activation each image starts with (a dead filter may switch to pre-ReLU).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The weights each image's terms put on each layer's channels, split by which activation each image reads,
    /// so that [`Self::evaluate`] is a few multiplies and reductions per layer, whatever the batch. With `narrow`
    /// (nothing needs the deepest layer whole: no diversity, no accentuation), a deepest layer that the images read
    /// only channel by channel is read for those channels alone ([`Selection::narrowed`]).
    pub(crate) fn selection(&self, activations: &[Activation], device: &Device, narrow: bool) -> Selection {
        let batch = self.batch();
        let layers = self.layers();
        let deepest = *layers.last().expect("a batch has an image");
        let terms = |layer: usize| self.images.iter().flat_map(|e| e.terms()).filter(move |t| t.layer == layer);
        // The deepest layer's channels, where no term reads it whole and they are fewer than the layer has.
        let read: Option<Vec<usize>> = narrow.then(|| terms(deepest)).and_then(|terms| {
            let mut read = Vec::new();
            for term in terms {
                if term.target == Target::Layer {
                    return None;
                }
                read.push(term.filter);
            }
            read.sort_unstable();
            read.dedup();
            (read.len() < self.network.layers()[deepest].channels).then_some(read)
        });
        let layers = layers
            .into_iter()
            .map(|layer| {
                // The channels the weights run over: the layer's, or those read of the deepest, in their order.
                let kept = read.as_ref().filter(|_| layer == deepest);
                let channels = kept.map_or(self.network.layers()[layer].channels, Vec::len);
                let position = |filter: usize| kept.map_or(filter, |kept| kept.binary_search(&filter).unwrap());
                // The weights of this layer's `target` terms for the images that read `wanted`, each added at the
                // place `at` gives it in a vector of `len`; none where no term applies.
                let gather = |wanted: Activation, target: Target, len: usize, at: &dyn Fn(usize, &Term) -> usize| {
                    let mut w = vec![0.0f32; len];
                    let mut any = false;
                    let reading = self.images.iter().zip(activations).enumerate().filter(|(_, (_, a))| **a == wanted);
                    for (i, (image, _)) in reading {
                        for term in image.terms().iter().filter(|t| t.layer == layer && t.target == target) {
                            w[at(i, term)] += term.weight;
                            any = true;
                        }
                    }
                    any.then_some(w)
                };
                let per_channel = |wanted, target| {
                    gather(wanted, target, batch * channels, &|i, t| i * channels + position(t.filter))
                        .map(|w| Tensor::<1>::from_floats(w.as_slice(), device).reshape([batch, channels, 1, 1]))
                };
                let weights = |wanted| Weights {
                    channel: per_channel(wanted, Target::Channel),
                    neuron: per_channel(wanted, Target::Neuron),
                    squares: gather(wanted, Target::Layer, batch, &|i, _| i)
                        .map(|w| Tensor::<1>::from_floats(w.as_slice(), device)),
                };
                LayerSelection { layer, after: weights(Activation::After), before: weights(Activation::Before) }
            })
            .collect();
        let narrowed = read.map(|read| {
            let read: Vec<i64> = read.into_iter().map(|c| c as i64).collect();
            Tensor::<1, Int>::from_ints(read.as_slice(), device)
        });
        Selection { layers, narrowed }
    }

    /// Objective value per image, `[batch]`, from the features `[batch, channels, H, W]` of each layer the images
    /// read, before its activation function (the selection's layers, in its order).
    pub(crate) fn evaluate(&self, features: &[Tensor<4>], selection: &Selection) -> Tensor<1> {
        let batch = self.batch();
        let mut total: Option<Tensor<1>> = None;
        let mut add = |value: Tensor<1>| {
            total = Some(match total.take() {
                Some(sum) => sum + value,
                None => value,
            })
        };
        for (before, layer) in features.iter().zip(&selection.layers) {
            let activate = |pre: Tensor<4>| self.network.layers()[layer.layer].activate(pre);
            for (weights, activations) in [
                (&layer.after, weights_needed(&layer.after).then(|| activate(before.clone()))),
                (&layer.before, weights_needed(&layer.before).then(|| before.clone())),
            ] {
                let Some(activations) = activations else { continue };
                if let Some(channel) = &weights.channel {
                    let map = (activations.clone() * channel.clone()).sum_dim(1);
                    add(map.mean_dims(&[2, 3]).reshape([batch]));
                }
                if let Some(neuron) = &weights.neuron {
                    let map = (activations.clone() * neuron.clone()).sum_dim(1);
                    let [_, _, h, w] = map.dims();
                    add(map.narrow(2, h / 2, 1).narrow(3, w / 2, 1).reshape([batch]));
                }
                if let Some(squares) = &weights.squares {
                    add(activations.square().mean_dims(&[1, 2, 3]).reshape([batch]) * squares.clone());
                }
            }
        }
        total.expect("every image has a term")
    }
}

fn weights_needed(weights: &Weights) -> bool {
    weights.channel.is_some() || weights.neuron.is_some() || weights.squares.is_some()
}

/// Lucid's diversity measure of a batch, from the objective layer's features after its activation function
/// `[batch, channels, H, W]`: each image's Gram matrix (channel × channel), normalised to unit length; the cosine
/// similarity of every pair of images, summed over each image's others, averaged over the images. 0 when the
/// images share no pattern statistics, batch − 1 when they all share the same; 0 for a batch of one. `[1]`.
pub fn similarity(features: Tensor<4>) -> Tensor<1> {
    let [batch, channels, h, w] = features.dims();
    let features = features.reshape([batch, channels, h * w]);
    let grams = features.clone().matmul(features.swap_dims(1, 2)).reshape([batch, channels * channels]);
    let norms = grams.clone().square().sum_dim(1).sqrt().clamp_min(1e-10);
    let unit = grams / norms;
    let cosines = unit.clone().matmul(unit.transpose());
    // Each image's cosine with itself is 1: the batch's `batch` of them are not pairs.
    (cosines.sum() - batch as f32) / batch as f32
}

/// Per-image weights for [`Objective::evaluate`], for each layer the images read; rebuilt only when an image
/// changes activation.
pub(crate) struct Selection {
    layers: Vec<LayerSelection>,
    narrowed: Option<Tensor<1, Int>>,
}

impl Selection {
    /// The layers whose features [`Objective::evaluate`] takes, in its order.
    pub(crate) fn layers(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.layer).collect()
    }

    /// The deepest layer's channels the features hold, in this order, where not all of them (what
    /// [`crate::net::Model::pre_activations`] is given as `only`).
    pub(crate) fn narrowed(&self) -> Option<&Tensor<1, Int>> {
        self.narrowed.as_ref()
    }
}

struct LayerSelection {
    layer: usize,
    after: Weights,
    before: Weights,
}

/// One layer's weights for one activation: per image and channel for channel means and centre neurons
/// `[batch, channels, 1, 1]`, per image for the layer's mean of squares `[batch]` (none where no term asks).
struct Weights {
    channel: Option<Tensor<4>>,
    neuron: Option<Tensor<4>>,
    squares: Option<Tensor<1>>,
}

/// A term's weight as a caption shows it, before its filter: nothing for ±1 (the sign is written apart), else its
/// size to two decimals without the leading zero and a `*` (`.75*`, `2*`), so an interpolation's tiles say how much
/// of each filter they hold within a 64 px tile.
fn caption_weight(weight: f32) -> String {
    let size = weight.abs();
    if size == 1.0 {
        return String::new();
    }
    let decimals = if size >= 0.005 || size == 0.0 { format!("{size:.2}") } else { format!("{size:.0e}") };
    let trimmed = if decimals.contains('.') { decimals.trim_end_matches('0').trim_end_matches('.') } else { &decimals };
    format!("{}*", trimmed.strip_prefix("0.").map_or(trimmed.to_string(), |fraction| format!(".{fraction}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// A grid's captions for expressions: terms joined by their signs, the layer said once where every term reads
    /// the same one (a whole-layer term never shares it), weights other than ±1 before their filter.
    #[test]
    fn captions_join_an_expressions_terms_by_their_signs() {
        let texts = [
            "conv4_3:20 + 0.5*conv4_3:33",
            "conv4_3:20 - conv5_1:7",
            "layer(conv4_2) - 2 conv3_1:5",
            "layer(conv4_2)",
            "neuron(conv4_3:20) + 0*conv4_3:21",
        ];
        let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        let objective = Objective::expressions(Network::Vgg16, &texts, Activation::After).unwrap();
        assert_eq!(
            objective.captions(),
            ["conv4_3:20+.5*33", "conv4_3:20-conv5_1:7", "conv4_2-2*conv3_1:5", "conv4_2", "conv4_3:20+0*21"]
        );
        // An interpolation's tiles (t = 1/15, the 16-grid's first step): two decimals, whole numbers bare, tiny
        // weights in scientific notation.
        let weights = [1.0 - 1.0 / 15.0, 1.0 / 15.0, 1.5, 2.0, 0.001, -0.25];
        let shown: Vec<String> = weights.iter().map(|&w| caption_weight(w)).collect();
        assert_eq!(shown, [".93*", ".07*", "1.5*", "2*", "1e-3*", ".25*"]);
    }

    /// A step reads the deepest layer for the channels its terms read there (sorted, once each), unless a term reads
    /// that layer whole or the caller needs it whole; the objective on those channels is the objective on the layer.
    #[test]
    fn the_deepest_layer_is_read_for_its_terms_channels_alone() {
        let device = Device::flex();
        let selection = |texts: &[&str], narrow| {
            let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            let objective = Objective::expressions(Network::Vgg16, &texts, Activation::After).unwrap();
            let reads = vec![Activation::After; objective.batch()];
            let selection = objective.selection(&reads, &device, narrow);
            (objective, selection)
        };
        let channels =
            |s: &Selection| s.narrowed().map(|t| t.clone().into_data().convert::<i64>().try_to_vec::<i64>().unwrap());
        let grid = ["conv4_3:33 + 0.5*conv4_3:20", "neuron(conv4_3:7) - conv3_1:5", "conv4_3:20"];
        assert_eq!(channels(&selection(&grid, true).1), Some(vec![7, 20, 33]));
        assert_eq!(channels(&selection(&grid, false).1), None);
        assert_eq!(channels(&selection(&["layer(conv4_2) - 2 conv3_1:5"], true).1), None);
        assert_eq!(channels(&selection(&["conv4_2:3 + layer(conv4_2)"], true).1), None);
        // The same objective values from the whole layers and from the deepest one narrowed.
        let (objective, narrowed) = selection(&grid, true);
        let (_, whole) = selection(&grid, false);
        let features: Vec<Tensor<4>> = [256, 512]
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let values: Vec<f32> = (0..3 * c * 16).map(|i| ((i * 7 + k * 3) % 11) as f32 - 4.0).collect();
                Tensor::<4>::from_data(TensorData::new(values, [3, c, 4, 4]), &device)
            })
            .collect();
        let mut features_narrowed = features.clone();
        features_narrowed[1] = features[1].clone().select(1, narrowed.narrowed().unwrap().clone());
        let read = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            read(objective.evaluate(&features_narrowed, &narrowed)),
            read(objective.evaluate(&features, &whole))
        );
    }

    /// The batch's similarity, computed here from its definition in plain f64: Gram matrices of the post-ReLU
    /// features, each divided by its length, cosines summed over every ordered pair of different images, over the
    /// batch size.
    fn plain_similarity(values: &[f32], [b, c, n]: [usize; 3]) -> f64 {
        let grams: Vec<Vec<f64>> = (0..b)
            .map(|i| {
                let f = |ch: usize, p: usize| values[(i * c + ch) * n + p].max(0.0) as f64;
                let g: Vec<f64> = (0..c * c).map(|k| (0..n).map(|p| f(k / c, p) * f(k % c, p)).sum()).collect();
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                g.iter().map(|v| v / norm).collect()
            })
            .collect();
        let mut total = 0.0;
        for i in 0..b {
            for j in (0..b).filter(|&j| j != i) {
                total += grams[i].iter().zip(&grams[j]).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        total / b as f64
    }

    fn similarity_of(values: &[f32], shape: [usize; 4]) -> f32 {
        let device = Device::flex();
        let features = Tensor::<4>::from_data(TensorData::new(values.to_vec(), shape), &device);
        similarity(burn::tensor::activation::relu(features)).into_data().try_into_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn similarity_is_lucids_diversity_measure() {
        let shape = [3, 4, 5, 5];
        let values: Vec<f32> = (0..3 * 4 * 25).map(|i| (i as f32 * 0.71).sin() * 1.7 + 0.3).collect();
        let expected = plain_similarity(&values, [3, 4, 25]);
        assert!((similarity_of(&values, shape) as f64 - expected).abs() < 1e-5, "{expected}");
        // Alike images: every pair has cosine 1, so each image sums batch − 1; a batch of one has no pairs.
        let alike: Vec<f32> = values[..100].repeat(3);
        assert!((similarity_of(&alike, shape) - 2.0).abs() < 1e-5);
        assert!(similarity_of(&values[..100], [1, 4, 5, 5]).abs() < 1e-6);
    }
}
