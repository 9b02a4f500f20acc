//! The index of a picture set: one forward pass per picture, and for every channel of the chosen layers each
//! picture's mean activation (the ranking, kept for every picture) and, for the pictures that rank first and last,
//! where in the picture the channel fired (its activation map, pooled to at most [`MAP_SIDE`]² cells). What a
//! filter's examples are is then a lookup: moving the filter slider needs no other pass. Memory grows by one float
//! per channel per picture; the maps are bounded by the channels, not the pictures.

use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Int, Tensor, TensorData};

use crate::Error;
use crate::net::{Model, Network};
use crate::optvis::ascent::read_floats;
use crate::picture::image::Rgba;

/// How many of the most activating pictures a channel keeps with their maps: a 3×3 block, as Microscope shows.
pub const TOP: usize = 9;
/// How many of the least activating ones ("what it ignores").
pub const BOTTOM: usize = 3;
/// The side an activation map is pooled to at most (average pooling): enough to see where in the picture a
/// channel fires, at 256 bytes a map.
pub const MAP_SIDE: usize = 16;
/// The largest picture side a pass takes: a pass is forward only, but a 1,000-picture pass at 512 px through VGG16
/// is already hours on a CPU.
pub const MAX_SIZE: usize = 512;

/// Where one picture made one channel fire: its activation (after the layer's activation function) averaged over
/// square cells, as bytes between the map's least and greatest values.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationMap {
    pub side: usize,
    pub lo: f32,
    pub hi: f32,
    /// Row-major, `side`², 0 for `lo` and 255 for `hi`.
    pub levels: Vec<u8>,
}

impl ActivationMap {
    fn new(values: &[f32], side: usize) -> Self {
        let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        Self { side, lo, hi, levels: values.iter().map(|&v| ((v - lo) * scale).round() as u8).collect() }
    }

    /// Each cell's activation over `scale` (the channel's greatest, [`Examples::scale`]), in [0, 1]: so that a
    /// picture that barely fires stays dark beside one that fires hard, and a filter firing all over a picture
    /// glows all over it.
    pub fn relative(&self, scale: f32) -> Vec<f32> {
        let step = (self.hi - self.lo) / 255.0;
        let cell = |l: u8| if scale > 0.0 { ((self.lo + step * f32::from(l)) / scale).clamp(0.0, 1.0) } else { 0.0 };
        self.levels.iter().map(|&l| cell(l)).collect()
    }

    /// The centre of the cell where the channel fired most, as fractions of the picture's width and height.
    pub fn peak(&self) -> (f32, f32) {
        let at = self.levels.iter().enumerate().max_by_key(|&(i, &l)| (l, std::cmp::Reverse(i))).map_or(0, |(i, _)| i);
        let cell = |k: usize| (k as f32 + 0.5) / self.side as f32;
        (cell(at % self.side), cell(at / self.side))
    }
}

/// One picture as one channel's example: which picture (its place in the set), its mean activation and its map.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub picture: usize,
    pub value: f32,
    pub map: ActivationMap,
}

/// A channel's examples: the most activating pictures, most first, and the least activating, least first.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    pub top: Vec<Example>,
    pub bottom: Vec<Example>,
}

impl Examples {
    /// Whether a picture with mean activation `value` ranks among the first (ties to the earlier picture: an equal
    /// value does not displace it).
    fn ranks_top(&self, value: f32) -> bool {
        self.top.len() < TOP || value > self.top[TOP - 1].value
    }

    /// Whether it ranks among the last.
    fn ranks_bottom(&self, value: f32) -> bool {
        self.bottom.len() < BOTTOM || value < self.bottom[BOTTOM - 1].value
    }

    /// Whether a picture with mean activation `value` would be kept, first or last.
    fn might_keep(&self, value: f32) -> bool {
        self.ranks_top(value) || self.ranks_bottom(value)
    }

    /// The greatest activation in any kept picture's map: the scale their maps are shown on.
    pub fn scale(&self) -> f32 {
        self.top.iter().chain(&self.bottom).fold(0.0, |m, e| m.max(e.map.hi))
    }
}

/// One layer's part of the index.
struct LayerIndex {
    layer: usize,
    channels: usize,
    /// `[picture][channel]`.
    means: Vec<f32>,
    examples: Vec<Examples>,
}

/// What a picture set makes the channels of some layers of one network do.
pub struct ExampleIndex {
    network: Network,
    size: usize,
    names: Vec<String>,
    layers: Vec<LayerIndex>,
}

impl ExampleIndex {
    /// An empty index of `layers` (indices of [`Network::layers`]) for pictures seen at `size`×`size`.
    pub fn new(network: Network, layers: &[usize], size: usize) -> Result<Self, Error> {
        if layers.is_empty() {
            return Err(Error::NoLayers);
        }
        let min = network.smallest_input();
        if !(min..=MAX_SIZE).contains(&size) {
            let (min, max) = (min.to_string(), MAX_SIZE.to_string());
            return Err(Error::OutOfRange { field: "size", value: size.to_string(), min, max });
        }
        let mut sorted = layers.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let layers = sorted
            .into_iter()
            .map(|layer| {
                let channels = network.layers()[layer].channels;
                let examples = vec![Examples { top: Vec::new(), bottom: Vec::new() }; channels];
                LayerIndex { layer, channels, means: Vec::new(), examples }
            })
            .collect();
        Ok(Self { network, size, names: Vec::new(), layers })
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The side pictures are seen at.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The layers indexed, in depth order.
    pub fn layers(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.layer).collect()
    }

    /// The deepest layer indexed: how far a model's weights must have arrived.
    pub fn deepest(&self) -> usize {
        self.layers.last().expect("an index has layers").layer
    }

    /// The pictures indexed so far, by name, in the order they were added.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Adds pictures (each any size: its centre square is seen at [`ExampleIndex::size`]), by name, with one
    /// forward pass for all of them. The model must have the weights of the deepest layer indexed.
    pub async fn add(&mut self, model: &Model, pictures: &[(String, Rgba)]) -> Result<(), Error> {
        if pictures.is_empty() {
            return Ok(());
        }
        if model.network() != self.network {
            return Err(Error::OtherNetwork { objective: self.network.title(), model: model.network().title() });
        }
        if self.deepest() >= model.depth() {
            let layer = self.network.layers()[self.deepest()].name.as_str();
            return Err(Error::LayerNotLoaded { layer, loaded: model.depth() });
        }
        let planar: Vec<f32> = pictures.iter().flat_map(|(_, p)| p.to_planar_square(self.size)).collect();
        let (network, first, device) = (self.network, self.names.len(), model.device());
        let image =
            Tensor::<4>::from_floats(TensorData::new(planar, [pictures.len(), 3, self.size, self.size]), &device);
        let layers = self.layers();
        for (part, pre) in self.layers.iter_mut().zip(model.pre_activations(image, &layers, None)) {
            let features = network.layers()[part.layer].activate(pre);
            let [batch, channels, height, width] = features.dims();
            let side = height.min(width).min(MAP_SIDE);
            let cells = side * side;
            let means = read_floats(features.clone().mean_dims(&[2, 3])).await?;
            // Only the maps a picture may be kept with are read back (after the first dozen pictures, a few channels
            // a picture): judged against the index before this batch, which its earlier pictures only make stricter.
            let rows: Vec<usize> =
                (0..batch * channels).filter(|&row| part.examples[row % channels].might_keep(means[row])).collect();
            let maps = if rows.is_empty() {
                Vec::new()
            } else {
                let wanted = rows.iter().map(|&row| row as i64).collect();
                let wanted = Tensor::<1, Int>::from_data(TensorData::new(wanted, [rows.len()]), &device);
                let pooled = adaptive_avg_pool2d(features, [side, side]).reshape([batch * channels, cells]);
                read_floats(pooled.select(0, wanted)).await?
            };
            for b in 0..batch {
                part.add(first + b, &means[b * channels..(b + 1) * channels], |channel| {
                    let at = rows.binary_search(&(b * channels + channel)).expect("a kept picture's map was read");
                    ActivationMap::new(&maps[at * cells..(at + 1) * cells], side)
                });
            }
        }
        self.names.extend(pictures.iter().map(|(name, _)| name.clone()));
        Ok(())
    }

    /// Channel `channel` of layer `layer`'s examples; none if the layer is not indexed or has no such channel.
    pub fn examples(&self, layer: usize, channel: usize) -> Option<&Examples> {
        self.part(layer)?.examples.get(channel)
    }

    /// Picture `picture`'s mean activation of every channel of `layer`; none if either is not indexed.
    pub fn means(&self, layer: usize, picture: usize) -> Option<&[f32]> {
        let part = self.part(layer)?;
        part.means.get(picture * part.channels..(picture + 1) * part.channels)
    }

    fn part(&self, layer: usize) -> Option<&LayerIndex> {
        self.layers.iter().find(|l| l.layer == layer)
    }
}

impl LayerIndex {
    /// Picture `picture`'s channel means; `map(channel)` is its map of a channel it is kept for.
    fn add(&mut self, picture: usize, means: &[f32], map: impl Fn(usize) -> ActivationMap) {
        for (channel, &value) in means.iter().enumerate() {
            let examples = &mut self.examples[channel];
            if !examples.might_keep(value) {
                continue;
            }
            let example = Example { picture, value, map: map(channel) };
            if examples.ranks_top(value) {
                // Ties keep the earlier picture first: a set indexed twice ranks the same.
                let at = examples.top.partition_point(|e| e.value >= value);
                examples.top.insert(at, example.clone());
                examples.top.truncate(TOP);
            }
            if examples.ranks_bottom(value) {
                let at = examples.bottom.partition_point(|e| e.value <= value);
                examples.bottom.insert(at, example);
                examples.bottom.truncate(BOTTOM);
            }
        }
        self.means.extend_from_slice(means);
    }
}

/// The mean activation of every channel of `layer` (after its activation function) for one picture `planar`
/// (`[3][size][size]` in [0, 1]).
pub(super) async fn channel_means(
    model: &Model,
    planar: Vec<f32>,
    size: usize,
    layer: usize,
) -> Result<Vec<f32>, Error> {
    let image = Tensor::<4>::from_floats(TensorData::new(planar, [1, 3, size, size]), &model.device());
    let [pre] = model.pre_activations(image, &[layer], None).try_into().expect("one layer asked for");
    read_floats(model.network().layers()[layer].activate(pre).mean_dims(&[2, 3])).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map's bytes span its values; its peak is the centre of its greatest cell, the first of equals.
    #[test]
    fn a_map_quantises_its_values_and_finds_its_peak() {
        let map = ActivationMap::new(&[0.0, 1.0, 4.0, 2.0], 2);
        assert_eq!((map.lo, map.hi), (0.0, 4.0));
        assert_eq!(map.levels, [0, 64, 255, 128]);
        assert_eq!(map.peak(), (0.25, 0.75));
        // Within a level (1/255 of the map's range) of value / scale, capped at 1.
        let close = |got: Vec<f32>, want: [f32; 4]| got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 4.0 / 255.0);
        assert!(close(map.relative(8.0), [0.0, 0.125, 0.5, 0.25]));
        assert!(close(map.relative(2.0), [0.0, 0.5, 1.0, 1.0]));
        let flat = ActivationMap::new(&[3.0; 4], 2);
        assert_eq!(flat.relative(6.0), [0.5; 4]);
        assert_eq!(flat.peak(), (0.25, 0.25));
    }

    /// The kept examples are the pictures with the greatest and least means, in order, ties to the earlier
    /// picture, whatever order the pictures come in; every mean is kept.
    #[test]
    fn a_channel_keeps_its_first_and_last_pictures_in_order() {
        let values = [5.0, 1.0, 9.0, 3.0, 9.0, 0.5, 7.0, 2.0, 8.0, 4.0, 6.0, 0.0, 10.0];
        let mut part = LayerIndex {
            layer: 0,
            channels: 1,
            means: Vec::new(),
            examples: vec![Examples { top: Vec::new(), bottom: Vec::new() }],
        };
        for (picture, &value) in values.iter().enumerate() {
            part.add(picture, &[value], |_| ActivationMap::new(&[value], 1));
        }
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let top: Vec<usize> = part.examples[0].top.iter().map(|e| e.picture).collect();
        assert_eq!(top, order[..TOP]);
        let bottom: Vec<usize> = part.examples[0].bottom.iter().map(|e| e.picture).collect();
        let least: Vec<usize> = order.iter().rev().take(BOTTOM).copied().collect();
        assert_eq!(bottom, least);
        assert_eq!(part.means, values);
    }
}
