//! Objective expressions: weighted sums and differences of what layers' filters read, across layers, as Lucid's
//! and lucent's objectives compose (`channel("mixed4a", 476) - 0.5 * channel("mixed4a", 460)`).
//!
//! The grammar, in full:
//!
//! ```text
//! expression := ["-"] term (("+" | "-") term)*
//! term       := [number ["*"]] atom
//! atom       := layer ":" filter                 the filter's mean activation (channel)
//!             | "channel(" layer ":" filter ")"  the same, spelled out
//!             | "neuron(" layer ":" filter ")"   the activation at the centre of the filter's map
//!             | "layer(" layer ")"               the layer's mean squared activation (DeepDream)
//!             | "class(" class ")"               a class's logit, by number or name (networks with a classifier)
//! ```
//!
//! e.g. `conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7`, `neuron(conv4_3:20)`, `layer(conv4_2) - 2 conv3_1:5`,
//! `class(giant panda) - class(388)`. Spaces are free. Layers are the network's own names, classes its classifier's
//! (a class's logit is the classifier layer's channel: `class(388)` is `logits:388`, as Lucid's "logit" objective);
//! a refusal names the character where it went wrong.

use std::fmt;

use crate::Error;
use crate::names::from_name;
use crate::net::{Network, classes};

/// Which part of a layer's activations an objective reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Mean over the feature map of one channel (classic).
    #[default]
    Channel,
    /// The one activation at the centre of a channel's feature map.
    Neuron,
    /// Mean of the squares of every activation of the layer (DeepDream); the filter is ignored.
    #[serde(alias = "deepdream")]
    Layer,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Channel, Target::Neuron, Target::Layer];
}

from_name!(Target, "objective", Target::ALL);

/// One term: `weight` × what `target` reads of `filter` of the network's layer `layer` (the filter is unused for
/// [`Target::Layer`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    pub weight: f32,
    pub target: Target,
    pub layer: usize,
    pub filter: usize,
}

/// What one image maximises: a weighted sum of [`Term`]s of one network.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    network: Network,
    terms: Vec<Term>,
}

/// Expressions longer than this are refused: a person writes a few terms, not pages of them.
pub const MAX_CHARS: usize = 1000;

impl Expression {
    /// One term of weight 1: what the classic form (`layer`, `filter`, `objective`) asks of one image.
    pub fn single(network: Network, term: Term) -> Self {
        Self { network, terms: vec![term] }
    }

    /// Parses `text` (see the module's grammar) against `network`'s layers and their filter counts.
    pub fn parse(text: &str, network: Network) -> Result<Self, Error> {
        if text.chars().count() > MAX_CHARS {
            return Err(Error::Expression {
                text: shorten(text),
                at: MAX_CHARS + 1,
                reason: format!("an objective is at most {MAX_CHARS} characters"),
            });
        }
        let mut parser = Parser { text, chars: text.char_indices().collect(), at: 0, network };
        let mut terms = Vec::new();
        let mut sign = 1.0;
        parser.skip_spaces();
        if parser.eat('-') {
            sign = -1.0;
        }
        loop {
            let mut term = parser.term()?;
            term.weight *= sign;
            terms.push(term);
            parser.skip_spaces();
            if parser.done() {
                break;
            }
            sign = match parser.peek() {
                Some('+') => 1.0,
                Some('-') => -1.0,
                _ => return Err(parser.error("expected + or - between terms")),
            };
            parser.at += 1;
        }
        Ok(Self { network, terms })
    }

    pub fn network(&self) -> Network {
        self.network
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The deepest layer a term reads: the forward pass goes that far.
    pub fn deepest_layer(&self) -> usize {
        self.terms.iter().map(|t| t.layer).max().expect("an expression has a term")
    }
}

/// Lucid's channel interpolation: `tiles` objectives from filter `from` of `layer` to filter `to`, tile k weighing
/// them `1 − t` and `t`, t = k / (tiles − 1); the first tile is `from` alone, the last `to` alone.
pub fn interpolation(layer: &str, from: usize, to: usize, tiles: usize) -> Vec<String> {
    let last = tiles.saturating_sub(1).max(1) as f32;
    (0..tiles)
        .map(|k| {
            let t = k as f32 / last;
            match (t == 0.0, t == 1.0) {
                (true, _) => format!("{layer}:{from}"),
                (_, true) => format!("{layer}:{to}"),
                _ => format!("{}*{layer}:{from} + {}*{layer}:{to}", 1.0 - t, t),
            }
        })
        .collect()
}

/// The canonical form: `conv4_3:20 + 0.5*conv4_3:33 - neuron(conv5_1:7)`; it parses back to the same expression.
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            let magnitude = term.weight.abs();
            match (i, term.weight < 0.0) {
                (0, true) => f.write_str("-")?,
                (0, false) => {}
                (_, true) => f.write_str(" - ")?,
                (_, false) => f.write_str(" + ")?,
            }
            if magnitude != 1.0 {
                write!(f, "{magnitude}*")?;
            }
            let layer = &self.network.layers()[term.layer].name;
            match term.target {
                Target::Channel => write!(f, "{layer}:{}", term.filter)?,
                Target::Neuron => write!(f, "neuron({layer}:{})", term.filter)?,
                Target::Layer => write!(f, "layer({layer})")?,
            }
        }
        Ok(())
    }
}

/// `text`, cut for a message.
fn shorten(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > 60 { chars[..60].iter().collect::<String>() + "…" } else { text.to_string() }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    /// The next character's position in `chars`.
    at: usize,
    network: Network,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|&(_, c)| c)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        let found = self.peek() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    /// A refusal pointing at the current character (1-based, as people count).
    fn error(&self, reason: impl Into<String>) -> Error {
        self.error_at(self.at, reason)
    }

    fn error_at(&self, at: usize, reason: impl Into<String>) -> Error {
        Error::Expression { text: shorten(self.text), at: at + 1, reason: reason.into() }
    }

    /// The longest run of characters from here that satisfy `keep`, and where it started.
    fn word(&mut self, keep: impl Fn(char) -> bool) -> (usize, String) {
        self.skip_spaces();
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        (start, self.chars[start..self.at].iter().map(|&(_, c)| c).collect())
    }

    fn term(&mut self) -> Result<Term, Error> {
        let (start, number) = self.word(|c| c.is_ascii_digit() || c == '.');
        let mut weight = 1.0;
        if !number.is_empty() {
            self.skip_spaces();
            // A bare number followed by ':' is a filter of a layer named with digits only; no network has one.
            weight = number
                .parse::<f32>()
                .ok()
                .filter(|w| w.is_finite())
                .ok_or_else(|| self.error_at(start, format!("'{number}' is not a number")))?;
            self.eat('*');
        }
        self.atom(weight)
    }

    fn atom(&mut self, weight: f32) -> Result<Term, Error> {
        let (start, name) = self.word(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() {
            return Err(self.error("expected a layer (conv4_3:20) or channel(…), neuron(…), layer(…), class(…)"));
        }
        self.skip_spaces();
        if name == "class" && self.peek() == Some('(') {
            self.at += 1;
            let (layer, filter) = self.class(start)?;
            return Ok(Term { weight, target: Target::Channel, layer, filter });
        }
        let target = match name.as_str() {
            "channel" => Some(Target::Channel),
            "neuron" => Some(Target::Neuron),
            "layer" => Some(Target::Layer),
            _ => None,
        };
        match target {
            Some(target) if self.peek() == Some('(') => {
                self.at += 1;
                let (layer_at, layer) = self.word(|c| c.is_ascii_alphanumeric() || c == '_');
                let layer = self.layer(layer_at, &layer)?;
                let filter = if target == Target::Layer { 0 } else { self.filter(layer)? };
                if !self.eat(')') {
                    return Err(self.error("expected )"));
                }
                Ok(Term { weight, target, layer, filter })
            }
            _ => {
                let layer = self.layer(start, &name)?;
                Ok(Term { weight, target: Target::Channel, layer, filter: self.filter(layer)? })
            }
        }
    }

    fn layer(&self, at: usize, name: &str) -> Result<usize, Error> {
        if name.is_empty() {
            return Err(self.error_at(at, "expected a layer"));
        }
        self.network.layer_index(name).map_err(|e| self.error_at(at, e.to_string()))
    }

    /// After `class(`: a class's number or name and the `)` that closes it (a name may hold parentheses: `kite
    /// (bird of prey)`). The classifier's layer and the class's channel.
    fn class(&mut self, start: usize) -> Result<(usize, usize), Error> {
        let Some((layer, names)) = self.network.classifier() else {
            let with: Vec<&str> = Network::ALL.iter().filter(|n| n.classifier().is_some()).map(|n| n.title()).collect();
            let reason =
                format!("{} has no classifier here (class(…) is for {})", self.network.title(), with.join(", "));
            return Err(self.error_at(start, reason));
        };
        self.skip_spaces();
        let at = self.at;
        let mut depth = 0;
        while let Some(c) = self.peek() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                _ => {}
            }
            self.at += 1;
        }
        let text: String = self.chars[at..self.at].iter().map(|&(_, c)| c).collect();
        if !self.eat(')') {
            return Err(self.error("expected )"));
        }
        let text = text.trim();
        let class = if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            text.parse::<usize>()
                .ok()
                .filter(|&c| c < names.len())
                .ok_or_else(|| self.error_at(at, format!("the classes are 0–{}, not {text}", names.len() - 1)))?
        } else if text.is_empty() {
            return Err(self.error_at(at, "expected a class's number or name"));
        } else {
            classes::find(names, text).map_err(|reason| self.error_at(at, reason))?
        };
        Ok((self.network.layer_index(layer).expect("the classifier's layer is the network's"), class))
    }

    /// `:` and a filter number of `layer`.
    fn filter(&mut self, layer: usize) -> Result<usize, Error> {
        let spec = &self.network.layers()[layer];
        if !self.eat(':') {
            return Err(self.error(format!("expected ':' and a filter of {} (0–{})", spec.name, spec.channels - 1)));
        }
        let (at, digits) = self.word(|c| c.is_ascii_digit());
        let filter = digits.parse::<usize>().map_err(|_| self.error_at(at, "expected a filter number"))?;
        if filter >= spec.channels {
            let reason = format!("{} has filters 0–{}, not {filter}", spec.name, spec.channels - 1);
            return Err(self.error_at(at, reason));
        }
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expression, String> {
        Expression::parse(text, Network::Vgg16).map_err(|e| e.to_string())
    }

    #[test]
    fn terms_weights_and_kinds() {
        let e = parse("conv4_3:20 + 0.5*conv4_3:33 - conv5_1:7").unwrap();
        let layer = |n| Network::Vgg16.layer_index(n).unwrap();
        assert_eq!(
            e.terms(),
            [
                Term { weight: 1.0, target: Target::Channel, layer: layer("conv4_3"), filter: 20 },
                Term { weight: 0.5, target: Target::Channel, layer: layer("conv4_3"), filter: 33 },
                Term { weight: -1.0, target: Target::Channel, layer: layer("conv5_1"), filter: 7 },
            ]
        );
        assert_eq!(e.deepest_layer(), layer("conv5_1"));
        let kinds = parse("-neuron( conv4_3 : 20 )+2 layer(conv4_2) - 3*channel(conv1_1:0)").unwrap();
        let targets: Vec<_> = kinds.terms().iter().map(|t| (t.weight, t.target)).collect();
        assert_eq!(targets, [(-1.0, Target::Neuron), (2.0, Target::Layer), (-3.0, Target::Channel)]);
    }

    #[test]
    fn the_canonical_form_parses_back() {
        for text in ["conv4_3:41 - conv4_3:77", "-0.25*neuron(conv4_3:20) + layer(conv4_2)", "conv1_1:0"] {
            let e = parse(text).unwrap();
            assert_eq!(e.to_string(), text);
            assert_eq!(parse(&e.to_string()).unwrap(), e);
        }
        assert_eq!(parse(" 1*conv1_1:3+conv1_1:4 ").unwrap().to_string(), "conv1_1:3 + conv1_1:4");
    }

    #[test]
    fn interpolation_goes_from_one_filter_to_the_other() {
        // The page writes the same (settings.js `interpolation`; tests/e2e/settings.test.mjs pins the same list).
        assert_eq!(
            interpolation("conv4_3", 20, 33, 6),
            [
                "conv4_3:20",
                "0.8*conv4_3:20 + 0.2*conv4_3:33",
                "0.6*conv4_3:20 + 0.4*conv4_3:33",
                "0.39999998*conv4_3:20 + 0.6*conv4_3:33",
                "0.19999999*conv4_3:20 + 0.8*conv4_3:33",
                "conv4_3:33",
            ]
        );
        let tiles = interpolation("conv4_3", 20, 33, 5);
        assert_eq!(tiles[0], "conv4_3:20");
        assert_eq!(tiles[2], "0.5*conv4_3:20 + 0.5*conv4_3:33");
        assert_eq!(tiles[4], "conv4_3:33");
        for (k, text) in tiles.iter().enumerate() {
            let weights: Vec<f32> = parse(text).unwrap().terms().iter().map(|t| t.weight).collect();
            let t = k as f32 / 4.0;
            let expected: Vec<f32> = [1.0 - t, t].into_iter().filter(|&w| w > 0.0).collect();
            assert_eq!(weights, expected, "tile {k}");
        }
    }

    /// Random texts, mostly grammar-shaped (terms with weights, signs and the three kinds, layers that exist and do
    /// not, filters in and out of range), some with junk spliced in: parsing never panics, a refusal points inside
    /// the text (or just past it), and whatever parses writes back to itself.
    #[test]
    fn any_text_parses_or_is_refused_and_round_trips() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let mut pick = |options: &[&'static str]| options[rng.random_range(0..options.len())];
        let (mut parsed, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::new();
            for term in 0..1 + (pick(&["0", "1", "2", "3"]).parse::<usize>().unwrap()) {
                if term > 0 || pick(&["", "", "", "-"]) == "-" {
                    text += pick(&[" + ", "-", " - ", "+", " ", "+-", "*"]);
                }
                text += pick(&["", "", "0.5*", "2 ", "3*", "1.2.3*", "0*", ".5"]);
                let (layer, filter) =
                    (pick(&["conv4_3", "conv1_1", "conv5_3", "conv9"]), pick(&["20", "63", "511", "512", "x", ""]));
                text += &match pick(&["channel", "plain", "neuron", "layer", "open"]) {
                    "plain" => format!("{layer}:{filter}"),
                    "layer" => format!("layer({layer})"),
                    "open" => format!("neuron({layer}:{filter}"),
                    kind => format!("{kind}( {layer} :{filter})"),
                };
            }
            if pick(&["", "", "", "", "junk"]) == "junk" {
                let junk = pick(&["é", "\u{0}", "(", ")", ":", "*", "1e9", " "]);
                let nth = pick(&["0", "1", "3", "5", "8", "13", "21"]).parse::<usize>().unwrap();
                let at = text.char_indices().map(|(i, _)| i).nth(nth).unwrap_or(text.len());
                text.insert_str(at, junk);
            }
            match Expression::parse(&text, Network::Vgg16) {
                Ok(e) => {
                    parsed += 1;
                    assert_eq!(Expression::parse(&e.to_string(), Network::Vgg16).unwrap(), e, "{text:?}");
                }
                Err(Error::Expression { at, .. }) => {
                    refused += 1;
                    assert!(at >= 1 && at <= text.chars().count() + 1, "{text:?}: character {at}");
                }
                Err(other) => panic!("{text:?}: {other}"),
            }
        }
        println!("{parsed} parsed, {refused} refused");
        assert!(parsed > 1000 && refused > 1000, "{parsed} parsed, {refused} refused");
    }

    #[test]
    fn refusals_point_at_the_bad_token() {
        let cases = [
            ("conv4_3:20 + conv9_9:1", "at character 14: unknown layer 'conv9_9' (VGG16 has conv1_1 … conv5_3)"),
            ("conv4_3:512", "at character 9: conv4_3 has filters 0–511, not 512"),
            ("conv4_3", "at character 8: expected ':' and a filter of conv4_3 (0–511)"),
            ("conv4_3:20 conv4_3:21", "at character 12: expected + or - between terms"),
            (
                "conv4_3:20 +",
                "at character 13: expected a layer (conv4_3:20) or channel(…), neuron(…), layer(…), class(…)",
            ),
            ("neuron(conv4_3:20", "at character 18: expected )"),
            ("1.2.3*conv1_1:0", "at character 1: '1.2.3' is not a number"),
            ("conv1_1:x", "at character 9: expected a filter number"),
            ("", "at character 1: expected a layer (conv4_3:20) or channel(…), neuron(…), layer(…), class(…)"),
            ("class(388)", "at character 1: VGG16 has no classifier here (class(…) is for EfficientNet-Lite0)"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err();
            assert!(message.ends_with(expected), "{text:?}: {message}");
            assert!(message.starts_with(&format!("objective '{text}' ")), "{message}");
        }
        let alexnet = Expression::parse("conv3_1:0", Network::Alexnet).unwrap_err().to_string();
        assert!(
            alexnet.ends_with("unknown layer 'conv3_1' (AlexNet has conv1, conv2, conv3, conv4, conv5)"),
            "{alexnet}"
        );
        assert!(parse(&"conv1_1:0+".repeat(200)).unwrap_err().contains("at most 1000 characters"));
    }

    /// `class(…)` is the classifier layer's channel, by number or by name (ImageNet's names, parentheses and all).
    #[test]
    fn classes_by_number_and_name() {
        let network = Network::EfficientnetLite0;
        let parse = |text: &str| Expression::parse(text, network).map_err(|e| e.to_string());
        let logits = network.layer_index("logits").unwrap();
        let e = parse("class(giant panda) - 0.5*class( 21 ) + class(kite (bird of prey))").unwrap();
        let term = |weight, filter| Term { weight, target: Target::Channel, layer: logits, filter };
        assert_eq!(e.terms(), [term(1.0, 388), term(-0.5, 21), term(1.0, 21)]);
        assert_eq!(e.to_string(), "logits:388 - 0.5*logits:21 + logits:21");
        assert_eq!(parse("class(Espresso)").unwrap(), parse("logits:967").unwrap());
        let cases = [
            ("class(1000)", "at character 7: the classes are 0–999, not 1000"),
            ("class(panda bear)", "at character 7: no class is named 'panda bear'"),
            ("class(missile)", "at character 7: 'missile' names classes 657 and 744: give the number"),
            ("class()", "at character 7: expected a class's number or name"),
            ("class(388", "at character 10: expected )"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err();
            assert!(message.ends_with(expected), "{text:?}: {message}");
        }
    }
}
