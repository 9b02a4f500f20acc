//! filterlens CLI: render one filter, a grid of filters, or benchmark the ascent step per backend.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use filterlens::api::catalog::catalog;
use filterlens::atlas::parts::Parts;
use filterlens::atlas::shard::{self, Event, Shard};
use filterlens::atlas::{Plan, Source, pack, sha256_hex};
use filterlens::examples::index::{BOTTOM, TOP};
use filterlens::examples::sheet::{sheet, value};
use filterlens::examples::{ExampleIndex, check};
use filterlens::net::onnx::{self, Preprocess};
use filterlens::optvis::expression::interpolation;
use filterlens::picture::animation::{Animation, BUDGET_BYTES, FRAMES};
use filterlens::picture::image::{GridLayout, Rgba, picture, rgba, transparent};
use filterlens::{Ascent, BackendChoice, Backends, Levels, Mode, Model, Network, RunRequest, Spectrum, Start, Target};
use indicatif::{ProgressBar, ProgressStyle};

/// The burn release the benchmarks ran on (Cargo.toml pins it exactly), for their records.
const BURN: &str = "0.22.1";

#[derive(Parser)]
#[command(
    name = "filterlens",
    version,
    about = "What does a filter of a CNN respond to (VGG16, AlexNet, EfficientNet-Lite0 or your own, from ONNX)? \
             Gradient ascent on the input image."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Visualize one filter of a layer and write a PNG.
    Render {
        #[command(flatten)]
        run: RunArgs,
        /// Filter (channel) of the layer, 0-based.
        #[arg(long, default_value_t = 0)]
        filter: usize,
        #[arg(long, default_value = "filter.png")]
        out: PathBuf,
        #[command(flatten)]
        animation: AnimationArgs,
    },
    /// Visualize several filters of one layer together (one batch) and write them as a grid PNG, each tile
    /// captioned layer:filter.
    Grid {
        #[command(flatten)]
        run: RunArgs,
        /// Filters: a list of numbers and ranges, e.g. "0-5" or "0,3,10-12".
        #[arg(long, default_value = "0-5", value_parser = parse_filters)]
        filters: FilterList,
        /// Lucid's channel interpolation instead: from the first filter of --layer to the second ("20,33"), across
        /// --tiles tiles.
        #[arg(long, value_parser = parse_pair)]
        interpolate: Option<(usize, usize)>,
        /// Tiles of an interpolation, or pictures of an --objective expression (different ones with --diversity).
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=64))]
        tiles: u16,
        /// Tiles per row (default: a near-square grid, at least 3 wide: 6 filters as 3×2, 16 as 4×4).
        #[arg(long)]
        columns: Option<usize>,
        #[arg(long, default_value = "grid.png")]
        out: PathBuf,
        #[command(flatten)]
        animation: AnimationArgs,
    },
    /// Pictures of every filter of chosen layers with one run's settings, for the page's atlas: this process's
    /// shard of the work (`--shard i/N`, or the index of a Slurm or Kubernetes array task with `--shards N`), each
    /// picture written once under its content hash, so a shard run again redoes only what is missing. `atlas merge`
    /// then packs them.
    #[command(args_conflicts_with_subcommands = true)]
    Atlas {
        #[command(subcommand)]
        merge: Option<AtlasMerge>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        atlas: AtlasArgs,
    },
    /// Natural examples: the pictures of a folder (PNG, JPEG) that make filters of a layer fire most and least, each
    /// with its activation map over it, as a PNG sheet (a row per filter, captioned layer:filter value) and a table.
    Examples(ExamplesArgs),
    /// Time the ascent step per backend, layer and image size; writes JSON and a Markdown table.
    Bench(BenchArgs),
    /// What can be asked for, as JSON: the networks, their layers and channels, modes and their presets, the
    /// request's fields and their limits, backends (www/catalog.json is this output).
    Catalog,
    /// What filterlens can show of an ONNX model: its layers with their channels and output sizes, where the
    /// mapping stops and why, and the operators it does not run.
    Inspect {
        /// The model (.onnx).
        model: PathBuf,
        #[command(flatten)]
        file: ModelFile,
        /// The input side the output sizes are given for (default: the model's own, or 224).
        #[arg(long)]
        size: Option<usize>,
    },
}

/// A model of one's own: an ONNX file and how it wants its input.
#[derive(Args)]
struct ModelFile {
    /// How the model normalises its RGB input: torchvision (ImageNet mean/std), signed ([-1, 1]), unit ([0, 1])
    /// or caffe (BGR in [0, 255] minus ImageNet's means). A grey model takes the picture's luma.
    #[arg(long, default_value = "torchvision")]
    preprocess: Preprocess,
}

/// The network a command runs and where its weights come from: a built-in one with its weights file, or a model of
/// one's own from ONNX (its weights are in it).
#[derive(Args)]
struct NetworkArgs {
    /// The network: vgg16, alexnet or efficientnet-lite0.
    #[arg(long, default_value = "vgg16")]
    model: Network,
    /// Your own network instead, from an ONNX file (`filterlens inspect` lists its layers); its weights are in it.
    #[arg(long, conflicts_with_all = ["model", "weights"])]
    model_file: Option<PathBuf>,
    #[command(flatten)]
    file: ModelFile,
    /// The network's weights (safetensors, f32 or f16; default weights/<model>.safetensors, which `make weights`
    /// prepares).
    #[arg(long)]
    weights: Option<PathBuf>,
}

/// The CLI's front end for a [`RunRequest`]: each argument is one of its fields.
#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// Layer: conv1_1 … conv5_3 for VGG16, conv1 … conv5 for AlexNet, stem, block0 … block15 (and their _expand,
    /// _depthwise, _project convolutions), head, logits, probabilities for EfficientNet-Lite0 (`filterlens catalog`
    /// lists them; default: conv3_2, conv3, block6).
    #[arg(long)]
    layer: Option<String>,
    /// classic: the original pixel ascent (150 steps, 224 px); lucid: FFT + decorrelated colour + transforms + Adam
    /// (512 steps, 128 px); maco: the phase under ImageNet's fixed spectrum, random crops + noise, NAdam (256 steps,
    /// 256 px, 8 crops).
    #[arg(long, default_value = "classic")]
    mode: Mode,
    /// What to maximise of the filter: channel (its mean), neuron (the centre one) or layer (DeepDream: mean of
    /// squares); or an expression across layers, e.g. "conv4_3:20 + 0.5*conv4_3:33 - neuron(conv5_1:7)" or a
    /// class of a network with a classifier, "class(giant panda)" (the grammar: README), which replaces --layer and
    /// --filter(s).
    #[arg(long, default_value = "channel")]
    objective: String,
    /// Maximise the activation before the layer's activation function (ReLU, ReLU6).
    #[arg(long)]
    pre_relu: bool,
    /// Minimise instead: what the filter responds to least (negative visualization; reads the activation before
    /// the ReLU).
    #[arg(long)]
    minimise: bool,
    /// Weight of Lucid's diversity term, which pushes a batch's images apart: `grid --filters 20,20,20,20
    /// --diversity 100` makes four different pictures of filter 20 (0, the default: none).
    #[arg(long, default_value_t = 0)]
    diversity: usize,
    /// Steps (default: the mode's).
    #[arg(long)]
    steps: Option<usize>,
    /// Side of the square image in pixels (default: the mode's).
    #[arg(long)]
    size: Option<usize>,
    /// Classic mode's max-normalised step, in grey levels: 2 (the default) means 2/255.
    #[arg(long)]
    step_size: Option<f32>,
    /// Adam's learning rate in lucid mode (default 0.05), NAdam's in maco mode (default 1).
    #[arg(long)]
    lr: Option<f32>,
    /// Random crops per step in maco mode (default 8), each a pass through the network.
    #[arg(long)]
    crops: Option<usize>,
    /// Also write the picture with its transparency map as alpha here (MACO's view: what the filter does not look
    /// at fades out).
    #[arg(long)]
    transparency: Option<PathBuf>,
    /// ImageNet's magnitude spectrum for maco mode (default weights/imagenet-spectrum.npy, which `make weights`
    /// prepares).
    #[arg(long, default_value = "weights/imagenet-spectrum.npy")]
    spectrum: PathBuf,
    /// Random shift of the image before each step, pixels (default: the mode's, 0 classic, 8 lucid).
    #[arg(long)]
    jitter: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start from this PNG (centre square, resized) instead of noise: DeepDream-style enhancement.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Feature accentuation: pull toward the --init picture's own features with this weight (0–100; 0: none), so
    /// the picture stays recognisably itself while the filter's feature grows in it.
    #[arg(long, default_value_t = 0, requires = "init")]
    accentuate: usize,
    /// auto (wgpu where it works, else flex), wgpu, flex or ndarray.
    #[arg(long, default_value = "flex")]
    backend: BackendChoice,
}

/// An atlas's layers, batches, shard and folder.
#[derive(Args)]
struct AtlasArgs {
    /// The layers (all of the network's where absent), e.g. conv1_1,conv1_2.
    #[arg(long, value_delimiter = ',')]
    layers: Vec<String>,
    /// Filters optimised together as one batch (the atlas is the same for any shard count, not for any batch).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// This process's shard: "i/N" (0-based).
    #[arg(long, conflicts_with = "shards")]
    shard: Option<Shard>,
    /// The number of shards, this one's index read from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// The atlas's folder: its plan and every picture made so far.
    #[arg(long, default_value = "atlas")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum AtlasMerge {
    /// Check that every filter's picture is there (naming the missing ones) and pack them for the page: a file of
    /// pictures and a contact sheet per layer, and manifest.json with every part's SHA-256.
    Merge {
        /// The atlas's folder, as its shards were given it.
        #[arg(long, default_value = "atlas")]
        out: PathBuf,
        /// Where the packed atlas goes (default: pack/ in the atlas's folder).
        #[arg(long)]
        into: Option<PathBuf>,
    },
}

/// A picture set and the filters whose examples it shows.
#[derive(Args)]
struct ExamplesArgs {
    /// The folder of pictures (PNG or JPEG; each seen as its centre square, resized to --size).
    #[arg(long)]
    images: PathBuf,
    #[command(flatten)]
    network: NetworkArgs,
    /// The layer (default: the network's default layer).
    #[arg(long)]
    layer: Option<String>,
    /// Filters: a list of numbers and ranges, e.g. "0-5" or "0,3,10-12"; a row of the sheet each.
    #[arg(long, default_value = "0-5", value_parser = parse_filters)]
    filters: FilterList,
    /// The side the pictures are seen at (ImageNet's 224 by default).
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Pictures per forward pass.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    batch: u16,
    /// The side of a picture on the sheet, pixels.
    #[arg(long, default_value_t = 96, value_parser = clap::value_parser!(u16).range(32..=512))]
    tile: u16,
    /// The pictures without their activation maps.
    #[arg(long)]
    plain: bool,
    /// Also check this visualization (a PNG of one filter, e.g. `render`'s) against the pictures: how hard it
    /// drives the filter compared with the best picture, how alike its pattern across the layer's other filters is
    /// to the top pictures'. Needs one filter.
    #[arg(long)]
    check: Option<PathBuf>,
    /// auto, wgpu, flex or ndarray.
    #[arg(long, default_value = "flex")]
    backend: BackendChoice,
    #[arg(long, default_value = "examples.png")]
    out: PathBuf,
}

/// The run as an animation, beside its picture.
#[derive(Args)]
struct AnimationArgs {
    /// Also write the ascent as an animated PNG (APNG) here: the picture every --every steps, each frame captioned
    /// with its step.
    #[arg(long)]
    animate: Option<PathBuf>,
    /// Steps between the animation's frames (default: about 60 frames over the run; a long run may double it to
    /// stay within 64 MB of frames).
    #[arg(long, requires = "animate", value_parser = clap::value_parser!(u32).range(1..))]
    every: Option<u32>,
}

/// A network's weights file's bytes, and where they came from (for messages).
struct Weights {
    bytes: Vec<u8>,
    origin: String,
}

impl NetworkArgs {
    /// The network and its weights: --model-file opened where given (its weights are in it), else the built-in
    /// --model with --weights (default `weights/<model>.safetensors`, where `make weights` puts its f32 weights).
    fn open(&self) -> Result<(Network, Weights), String> {
        let (network, preprocess) = (self.model, self.file.preprocess);
        if let Some(path) = &self.model_file {
            let imported = open_onnx(path, preprocess)?;
            if let Some(stop) = &imported.stop {
                eprintln!(
                    "{}: the layers before node '{}' ({}) are shown; it cannot be run: {}",
                    path.display(),
                    stop.node,
                    stop.op,
                    stop.reason
                );
            }
            let origin = path.display().to_string();
            return Ok((Network::open(imported.opened), Weights { bytes: imported.weights, origin }));
        }
        let path = self.weights.clone().unwrap_or_else(|| PathBuf::from(format!("weights/{network}.safetensors")));
        let bytes = std::fs::read(&path).map_err(|e| {
            format!("cannot read weights '{}': {e} (run `make weights` to prepare them)", path.display())
        })?;
        Ok((network, Weights { bytes, origin: path.display().to_string() }))
    }
}

/// An ONNX file, read (tensors stored beside it from its folder).
fn open_onnx(path: &Path, preprocess: Preprocess) -> Result<onnx::Imported, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the model '{}': {e}", path.display()))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    onnx::import(&bytes, &name, preprocess.preprocessing(), path.parent())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What a run's images show: filters of one layer, or an objective expression each.
enum Images {
    Filters(Vec<usize>),
    Expressions(Vec<String>),
}

impl RunArgs {
    fn layer(&self) -> &str {
        self.layer.as_deref().unwrap_or(self.network.model.default_layer())
    }

    /// The objective kind, or none where --objective is an expression.
    fn target(&self) -> Option<Target> {
        self.objective.parse().ok()
    }

    /// Opens --model-file (which becomes --model) and reads the weights.
    fn open(&mut self) -> Result<Weights, String> {
        let (network, weights) = self.network.open()?;
        self.network.model = network;
        Ok(weights)
    }

    fn request(&self, images: &Images) -> RunRequest {
        let request = match images {
            Images::Filters(filters) => RunRequest {
                target: self.target().unwrap_or_default(),
                ..RunRequest::new(self.mode, self.layer(), filters)
            },
            Images::Expressions(expressions) => {
                RunRequest::with_expressions(self.mode, self.network.model, expressions)
            }
        };
        RunRequest {
            model: self.network.model,
            pre_relu: self.pre_relu,
            minimise: self.minimise,
            diversity: self.diversity,
            accentuate: self.accentuate,
            steps: self.steps,
            size: self.size,
            step_size: self.step_size,
            lr: self.lr,
            jitter: self.jitter,
            crops: self.crops,
            seed: self.seed,
            ..request
        }
    }

    /// What `render` shows: the filter, or the --objective expression.
    fn one(&self, filter: usize) -> Images {
        match self.target() {
            Some(_) => Images::Filters(vec![filter]),
            None => Images::Expressions(vec![self.objective.clone()]),
        }
    }
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    network: NetworkArgs,
    #[arg(long, default_value = "classic")]
    mode: Mode,
    #[arg(long, value_delimiter = ',', default_value = "flex,wgpu,ndarray")]
    backends: Vec<BackendChoice>,
    #[arg(long, value_delimiter = ',', default_value = "conv3_1,conv5_3")]
    layers: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "128,224")]
    sizes: Vec<usize>,
    /// Images per step: a batch of N filters (0..N) is a grid of N optimised together.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batches: Vec<usize>,
    /// Timed steps per case (after the warm-up steps).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// ImageNet's magnitude spectrum, for maco mode.
    #[arg(long, default_value = "weights/imagenet-spectrum.npy")]
    spectrum: PathBuf,
    #[arg(long, default_value = "bench.json")]
    json: PathBuf,
    #[arg(long, default_value = "bench.md")]
    markdown: PathBuf,
}

/// Keeps memory freed by a step for the next one. glibc hands every freed block above its mmap threshold (128 kB,
/// growing up to 32 MB) back to the system, so a step's tensors, a few MB each and the same sizes every step, came
/// back as fresh pages, faulted in and zeroed by the kernel: 15–25 % of a Flex step (docs/BENCHMARKS.md). With the
/// threshold at its maximum and no trimming, freed blocks stay in the heap and are reused.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_freed_memory();
    // Bad arguments exit with 1 like every other refusal (clap's own convention is 2); help and version with 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    let outcome = match cli.command {
        Command::Render { mut run, filter, out, animation } => {
            run.open().and_then(|weights| visualize(&run, weights, &run.one(filter), None, &out, &animation))
        }
        Command::Grid { mut run, filters: FilterList(filters), interpolate, tiles, columns, out, animation } => {
            run.open().and_then(|weights| {
                let tiles = tiles as usize;
                let images = match (interpolate, run.target()) {
                    (Some(_), Some(target)) if target != Target::Channel => {
                        return Err("--interpolate mixes filters' means: it takes no --objective".to_string());
                    }
                    (Some((from, to)), _) => Images::Expressions(interpolation(run.layer(), from, to, tiles)),
                    (None, Some(_)) => Images::Filters(filters),
                    (None, None) => Images::Expressions(vec![run.objective.clone(); tiles]),
                };
                visualize(&run, weights, &images, columns, &out, &animation)
            })
        }
        Command::Atlas { merge: Some(AtlasMerge::Merge { out, into }), .. } => {
            merge(&out, &into.unwrap_or_else(|| out.join("pack")))
        }
        Command::Atlas { merge: None, mut run, atlas: args } => atlas(&mut run, &args),
        Command::Examples(args) => examples(&args),
        Command::Bench(args) => bench(&args),
        Command::Catalog => {
            print!("{}", catalog().to_json());
            Ok(())
        }
        Command::Inspect { model, file, size } => inspect(&model, file.preprocess, size),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// ImageNet's magnitude spectrum from `path`, where `mode` needs it (maco).
fn spectrum_for(mode: Mode, path: &Path) -> Result<Option<std::sync::Arc<Spectrum>>, String> {
    if mode != Mode::Maco {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| {
        format!("cannot read the spectrum '{}': {e} (run `make weights` to prepare it)", path.display())
    })?;
    let spectrum = Spectrum::from_npy(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(std::sync::Arc::new(spectrum)))
}

/// `network` on the chosen backend; says so on stderr when `auto` or `wgpu` fell back to Flex.
fn load_model(
    network: Network,
    weights: Weights,
    choice: BackendChoice,
) -> Result<(Model, filterlens::Backend), String> {
    let in_file = |e: filterlens::Error| format!("{}: {e}", weights.origin);
    let mut backends = Backends::new(network, weights.bytes).map_err(in_file)?;
    let info = pollster::block_on(backends.select(choice)).map_err(in_file)?;
    let model = backends.model(network, info.backend).map_err(in_file)?;
    if let Some(fallback) = &info.fallback {
        if choice == BackendChoice::Wgpu {
            return Err(format!("the wgpu backend is unavailable: {fallback}"));
        }
        eprintln!("{fallback}; running on flex");
    }
    Ok((model, info.backend))
}

/// Runs the ascent for `filters` of one layer as one batch and writes the picture (one image, or a captioned grid)
/// as a PNG.
fn visualize(
    run: &RunArgs,
    weights: Weights,
    images: &Images,
    columns: Option<usize>,
    out: &Path,
    animate: &AnimationArgs,
) -> Result<(), String> {
    let start_picture = match &run.init {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
            Some(Rgba::from_png(&bytes).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let start = Start { picture: start_picture, spectrum: spectrum_for(run.mode, &run.spectrum)? };
    let (objective, config) = run.request(images).plan(&start).map_err(|e| e.to_string())?;
    let batch = objective.batch();
    let captions = objective.captions();
    let (steps, size) = (config.steps, config.size);
    let (model, backend) = load_model(run.network.model, weights, run.backend)?;
    let mut ascent = Ascent::new(&model, objective, config).map_err(|e| e.to_string())?;
    let layout = match columns {
        Some(columns) => GridLayout::with_columns(batch, size, columns),
        None => GridLayout::new(batch, size),
    };
    let show = |ascent: &Ascent| -> Result<Rgba, String> {
        let pixels = pollster::block_on(ascent.pixels()).map_err(|e| e.to_string())?;
        Ok(picture(&pixels, ascent.levels(), &ascent.objective().captions(), &layout))
    };
    let mut animation = animate
        .animate
        .as_ref()
        .map(|_| Animation::new(animate.every.map_or(steps.div_ceil(FRAMES), |every| every as usize), BUDGET_BYTES));

    let progress = ProgressBar::new(steps as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ~{eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let shown = match images {
        Images::Filters(filters) => format!("{} {}", run.layer(), filter_list(filters)),
        Images::Expressions(expressions) => format!("{} objectives", expressions.len()),
    };
    progress.set_prefix(format!("{} {shown} on {backend}", run.network.model.title()));
    while !ascent.is_done() {
        let report = pollster::block_on(ascent.step()).map_err(|e| e.to_string())?;
        for &i in &report.switched_to_pre_relu {
            progress.println(format!(
                "{} never fires on the initial noise; maximising its pre-ReLU activation instead",
                captions[i]
            ));
        }
        let mean = report.activations.iter().sum::<f32>() / report.activations.len() as f32;
        progress.set_message(format!("activation {mean:.3}, {:.0} ms/step", report.millis));
        progress.inc(1);
        if let Some(animation) = &mut animation
            && animation.wants(report.step + 1, ascent.is_done())
        {
            animation.record(report.step + 1, &show(&ascent)?);
        }
    }
    progress.finish();

    let picture = show(&ascent)?;
    let write = |path: &Path, bytes: Vec<u8>| {
        std::fs::write(path, bytes).map_err(|e| format!("cannot write '{}': {e}", path.display()))
    };
    write(out, picture.to_png())?;
    println!("wrote {} ({}x{})", out.display(), picture.width, picture.height);
    if let Some(path) = &run.transparency {
        let mut faded = picture;
        transparent(&mut faded, &pollster::block_on(ascent.transparency()).map_err(|e| e.to_string())?, &layout);
        write(path, faded.to_png())?;
        println!("wrote {} (its transparency as alpha)", path.display());
    }
    if let (Some(path), Some(animation)) = (&animate.animate, &animation) {
        write(path, animation.to_apng().expect("the last step is always a frame"))?;
        let frames = animation.frames().len();
        println!("wrote {} ({frames} frames, one every {} steps)", path.display(), animation.every());
    }
    Ok(())
}

/// The folder's pictures, PNG or JPEG, in name order; other files are left alone.
fn picture_files(folder: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(folder).map_err(|e| format!("cannot read the folder '{}': {e}", folder.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
            path.is_file() && matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A PNG or JPEG file decoded, shrunk by whole blocks while its short side stays at least `side` (so that the
/// resampling to `side` does not alias).
fn read_picture(path: &Path, side: usize) -> Result<Rgba, String> {
    let picture = decode_picture(path)?;
    Ok(picture.reduced(picture.width.min(picture.height) / side))
}

/// A PNG or JPEG file decoded.
fn decode_picture(path: &Path) -> Result<Rgba, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let picture = if bytes.starts_with(b"\x89PNG") {
        Rgba::from_png(&bytes)?
    } else {
        let options = zune_core::options::DecoderOptions::default()
            .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGBA);
        let mut decoder =
            zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(&bytes), options);
        let pixels = decoder.decode().map_err(|e| format!("not a readable PNG or JPEG: {e}"))?;
        let (width, height) = decoder.dimensions().ok_or("a JPEG without dimensions")?;
        Rgba { width, height, pixels }
    };
    if picture.width == 0 || picture.height == 0 {
        return Err("the picture is empty".to_string());
    }
    Ok(picture)
}

/// `filterlens examples`: the folder through the network (a progress bar), then the sheet, the table and the check.
fn examples(args: &ExamplesArgs) -> Result<(), String> {
    let FilterList(filters) = &args.filters;
    if args.check.is_some() && filters.len() != 1 {
        return Err("--check checks one filter's visualization: give one filter".to_string());
    }
    let (network, weights) = args.network.open()?;
    let layer_name = args.layer.as_deref().unwrap_or(network.default_layer());
    let layer = network.layer_index(layer_name).map_err(|e| e.to_string())?;
    let channels = network.layers()[layer].channels;
    if let Some(&filter) = filters.iter().find(|&&f| f >= channels) {
        return Err(filterlens::Error::FilterOutOfRange {
            layer: network.layers()[layer].name.as_str(),
            filter,
            channels,
        }
        .to_string());
    }
    let files = picture_files(&args.images)?;
    if files.is_empty() {
        return Err(format!("'{}' has no PNG or JPEG pictures", args.images.display()));
    }
    let mut index = ExampleIndex::new(network, &[layer], args.size).map_err(|e| e.to_string())?;
    let (model, backend) = load_model(network, weights, args.backend)?;

    let progress = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} pictures ({elapsed}, ~{eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    progress.set_prefix(format!("{} {layer_name} on {backend}", network.title()));
    let started = std::time::Instant::now();
    // Which file each indexed picture is.
    let mut indexed = Vec::with_capacity(files.len());
    let mut skipped = 0;
    for chunk in files.chunks(args.batch as usize) {
        let mut batch = Vec::with_capacity(chunk.len());
        for path in chunk {
            match read_picture(path, args.size) {
                Ok(picture) => {
                    batch.push((path.display().to_string(), picture));
                    indexed.push(path.clone());
                }
                Err(e) => {
                    // Said whether or not the bar is drawn (its println is silent without a terminal).
                    progress.suspend(|| eprintln!("skipped {}: {e}", path.display()));
                    skipped += 1;
                }
            }
        }
        pollster::block_on(index.add(&model, &batch)).map_err(|e| e.to_string())?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let seen = index.names().len();
    if seen == 0 {
        return Err(format!("none of the {} pictures in '{}' could be read", files.len(), args.images.display()));
    }
    println!(
        "{seen} pictures through {} to {layer_name} at {} px on {backend} in {seconds:.1} s ({:.1} pictures/s){}",
        network.title(),
        args.size,
        seen as f64 / seconds,
        if skipped > 0 { format!("; {skipped} skipped") } else { String::new() }
    );

    let tile = args.tile as usize;
    // The pictures the sheet shows, read again at its tiles' size.
    let mut shown = std::collections::BTreeMap::new();
    for &filter in filters {
        let examples = index.examples(layer, filter).expect("the layer is indexed");
        for example in examples.top.iter().chain(&examples.bottom) {
            if let std::collections::btree_map::Entry::Vacant(entry) = shown.entry(example.picture) {
                let path = &indexed[example.picture];
                let picture = read_picture(path, tile).map_err(|e| format!("{}: {e}", path.display()))?;
                entry.insert(rgba(&picture.to_planar_square(tile), tile, tile, Levels::Clamp));
            }
        }
    }
    let (sheet, _) = sheet(&index, layer, filters, tile, !args.plain, |i| Rgba {
        width: tile,
        height: tile,
        pixels: shown[&i].clone(),
    })
    .map_err(|e| e.to_string())?;
    std::fs::write(&args.out, sheet.to_png()).map_err(|e| format!("cannot write '{}': {e}", args.out.display()))?;
    println!(
        "wrote {} ({}x{}, a row per filter: the top {TOP}, then the least {BOTTOM})",
        args.out.display(),
        sheet.width,
        sheet.height
    );
    let name = |i: usize| indexed[i].file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    for &filter in filters {
        let examples = index.examples(layer, filter).expect("the layer is indexed");
        let list = |list: &[filterlens::examples::Example]| {
            list.iter()
                .map(|e| {
                    let (x, y) = e.map.peak();
                    // A layer without a spatial map (a classifier's) has no place where it peaks.
                    let peak = if e.map.side > 1 {
                        format!(" (peak at {:.0}%, {:.0}%)", 100.0 * x, 100.0 * y)
                    } else {
                        String::new()
                    };
                    format!("{} {}{peak}", name(e.picture), value(e.value))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        println!("{layer_name}:{filter} top: {}", list(&examples.top));
        println!("{layer_name}:{filter} least: {}", list(&examples.bottom));
    }
    if let Some(path) = &args.check {
        let visualization = decode_picture(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let side = visualization.width.min(visualization.height).max(network.smallest_input());
        let planar = visualization.to_planar_square(side);
        let found =
            pollster::block_on(check(&index, &model, layer, filters[0], planar, side)).map_err(|e| e.to_string())?;
        println!("{}: {}", path.display(), found.sentence(layer_name));
    }
    Ok(())
}

/// `filterlens atlas`: this process's shard of the atlas, with a progress bar and a summary.
fn atlas(run: &mut RunArgs, args: &AtlasArgs) -> Result<(), String> {
    if run.layer.is_some() {
        return Err("an atlas takes --layers (all of the network's where absent), not --layer".to_string());
    }
    if run.target().is_none() {
        return Err("an atlas shows filters: its --objective is channel, neuron or layer".to_string());
    }
    if run.init.is_some() || run.transparency.is_some() {
        return Err("an atlas starts from noise and writes pictures only: it takes no --init or --transparency".into());
    }
    let shard = match args.shard {
        Some(shard) => shard,
        None => Shard::from_scheduler(args.shards, |name| std::env::var(name).ok())?,
    };
    let weights = run.open()?;
    let preprocess = run.network.model_file.as_ref().map(|_| run.network.file.preprocess.to_string());
    let origin = Path::new(&weights.origin);
    let file = origin.file_name().map_or_else(|| weights.origin.clone(), |n| n.to_string_lossy().into_owned());
    let source = Source { file, sha256: sha256_hex(&weights.bytes), preprocess };
    let settings = run.request(&Images::Filters(Vec::new()));
    let plan = Plan::new(&settings, source, &args.layers, args.batch).map_err(|e| e.to_string())?;
    let parts = Parts::create(&args.out, &plan).map_err(|e| e.to_string())?;
    let start = Start { picture: None, spectrum: spectrum_for(run.mode, &run.spectrum)? };
    let (model, backend) = load_model(run.network.model, weights, run.backend)?;

    let mine: usize = plan.batches().iter().filter(|b| shard.takes(b)).map(|b| b.filters.len()).sum();
    let progress = ProgressBar::new(mine as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} filters {msg} ({elapsed}, ~{eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    progress.set_prefix(format!("shard {shard} of {} on {backend}", plan.title));
    // Where no terminal shows the bar (a scheduler's log file), a line per batch instead.
    let log = progress.is_hidden();
    let (mut label, mut steps, mut step, mut began) = (String::new(), 0, 0, std::time::Instant::now());
    let summary = shard::run(&plan, &settings, shard, &parts, &model, &start, |event| {
        let done = match event {
            Event::Skipped(batch) => {
                if log {
                    eprintln!("shard {shard}: {} {} already there", batch.layer, filter_range(&batch.filters));
                }
                batch.filters.len()
            }
            Event::Started(batch, n) => {
                (label, steps, step, began) =
                    (format!("{} {}", batch.layer, filter_range(&batch.filters)), n, 0, std::time::Instant::now());
                progress.set_message(label.clone());
                0
            }
            Event::Step => {
                step += 1;
                progress.set_message(format!("{label} step {step}/{steps}"));
                0
            }
            Event::Done(batch) => {
                if log {
                    eprintln!("shard {shard}: {label} done in {:.1} s", began.elapsed().as_secs_f64());
                }
                batch.filters.len()
            }
            Event::Failed(batch, why) => {
                let range = filter_range(&batch.filters);
                progress.suspend(|| eprintln!("shard {shard}: {} {range} failed: {why}", batch.layer));
                batch.filters.len()
            }
        };
        progress.inc(done as u64);
    });
    progress.finish_and_clear();
    let failed: usize = summary.failed.iter().map(|(b, _)| b.filters.len()).sum();
    println!(
        "shard {shard} of {} ({} layers, {} filters in all): {} pictures made, {} already there, {failed} failed, in {:.1} s",
        plan.title,
        plan.layers.len(),
        plan.filters(),
        summary.made,
        summary.found,
        summary.seconds
    );
    if failed > 0 {
        return Err(format!("{failed} pictures failed; run shard {shard} again to redo them (and only them)"));
    }
    Ok(())
}

/// `filterlens atlas merge`.
fn merge(folder: &Path, into: &Path) -> Result<(), String> {
    let packed = pack::merge(folder, into).map_err(|e| e.to_string())?;
    let manifest = &packed.manifest;
    let pictures: usize = manifest.layers.iter().map(|l| l.channels).sum();
    println!(
        "packed {pictures} pictures of {} ({} layers, {} px) into {}: {:.1} MB with the contact sheets",
        manifest.title,
        manifest.layers.len(),
        manifest.size,
        into.display(),
        packed.bytes as f64 / 1e6
    );
    Ok(())
}

/// "0-15", or "7" for a batch of one.
fn filter_range(filters: &[usize]) -> String {
    match filters {
        [one] => one.to_string(),
        [first, .., last] => format!("{first}-{last}"),
        [] => String::new(),
    }
}

fn filter_list(filters: &[usize]) -> String {
    match filters {
        [one] => format!("filter {one}"),
        _ => format!("{} filters", filters.len()),
    }
}

/// "20,33": two filter numbers.
fn parse_pair(text: &str) -> Result<(usize, usize), String> {
    match parse_filters(text)?.0.as_slice() {
        &[from, to] => Ok((from, to)),
        _ => Err(format!("'{text}' is not two filters (e.g. 20,33)")),
    }
}

#[derive(Clone)]
struct FilterList(Vec<usize>);

/// "0-5" or "0,3,10-12" to filter numbers.
fn parse_filters(text: &str) -> Result<FilterList, String> {
    let number = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("'{s}' is not a filter number"));
    let mut filters = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("range '{part}' runs backwards"));
                }
                filters.extend(a..=b);
            }
            None => filters.push(number(part)?),
        }
    }
    Ok(FilterList(filters))
}

#[derive(serde::Serialize)]
struct BenchCase {
    backend: String,
    layer: String,
    size: usize,
    batch: usize,
    steps: usize,
    median_ms: f64,
    mean_ms: f64,
    min_ms: f64,
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let spectrum = spectrum_for(args.mode, &args.spectrum)?;
    let opened = std::time::Instant::now();
    let (network, weights) = args.network.open()?;
    eprintln!("{}: opened in {:.0} ms", weights.origin, opened.elapsed().as_secs_f64() * 1e3);
    let mut cases = Vec::new();
    for &choice in &args.backends {
        let weights = Weights { bytes: weights.bytes.clone(), origin: weights.origin.clone() };
        let loading = std::time::Instant::now();
        let (model, backend) = match load_model(network, weights, choice) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("skipping {choice}: {message}");
                continue;
            }
        };
        eprintln!("{backend}: weights on the device in {:.0} ms", loading.elapsed().as_secs_f64() * 1e3);
        for layer in &args.layers {
            for (&size, &batch) in args.sizes.iter().flat_map(|s| args.batches.iter().map(move |b| (s, b))) {
                let filters: Vec<usize> = (0..batch).collect();
                let request = RunRequest {
                    steps: Some(args.warmup + args.steps),
                    size: Some(size),
                    model: network,
                    ..RunRequest::new(args.mode, layer, &filters)
                };
                let start = Start { picture: None, spectrum: spectrum.clone() };
                let (objective, config) = request.plan(&start).map_err(|e| e.to_string())?;
                let mut ascent = Ascent::new(&model, objective, config).map_err(|e| e.to_string())?;
                let mut times = Vec::new();
                while !ascent.is_done() {
                    let report = pollster::block_on(ascent.step()).map_err(|e| e.to_string())?;
                    if report.step >= args.warmup {
                        times.push(report.millis);
                    }
                }
                times.sort_by(f64::total_cmp);
                let case = BenchCase {
                    backend: backend.to_string(),
                    layer: layer.clone(),
                    size,
                    batch,
                    steps: times.len(),
                    median_ms: times[times.len() / 2],
                    mean_ms: times.iter().sum::<f64>() / times.len() as f64,
                    min_ms: times[0],
                };
                eprintln!(
                    "{backend:8} {layer} {size:4} px × {batch:2}: {:9.1} ms/step (median of {})",
                    case.median_ms, case.steps
                );
                cases.push(case);
            }
        }
    }
    let machine = machine_description();
    let json = serde_json::json!({
        "machine": machine,
        "filterlens": env!("CARGO_PKG_VERSION"),
        "burn": BURN,
        "mode": args.mode.to_string(),
        "warmup_steps": args.warmup,
        "cases": cases,
    });
    std::fs::write(&args.json, serde_json::to_string_pretty(&json).expect("serialisable") + "\n")
        .map_err(|e| format!("cannot write '{}': {e}", args.json.display()))?;
    let mut md = format!("Machine: {machine}; burn {BURN}; {} mode; {} warm-up steps.\n\n", args.mode, args.warmup);
    md.push_str("| backend | layer | size | batch | ms/step (median) | mean | min | ms/image | steps |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &cases {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
            c.backend,
            c.layer,
            c.size,
            c.batch,
            c.median_ms,
            c.mean_ms,
            c.min_ms,
            c.median_ms / c.batch as f64,
            c.steps
        ));
    }
    std::fs::write(&args.markdown, &md).map_err(|e| format!("cannot write '{}': {e}", args.markdown.display()))?;
    print!("{md}");
    Ok(())
}

/// `filterlens inspect`: what of the model can be shown.
fn inspect(path: &Path, preprocess: Preprocess, size: Option<usize>) -> Result<(), String> {
    let imported = open_onnx(path, preprocess)?;
    let graph = &imported.opened.graph;
    let side = size.or(imported.input_side).unwrap_or(224);
    let p = graph.preprocessing();
    println!("{}: {} layers to show", imported.opened.title, graph.layers().len());
    let fixed = imported.input_side.map_or("any size".to_string(), |s| format!("{s}×{s}"));
    println!("input: {:?}, {fixed}; preprocessing {preprocess}: mean {:?}, std {:?}", p.colour, p.mean, p.std);
    if let Some(classifier) = &imported.opened.classifier {
        println!("classifier: {classifier} (ImageNet's 1000 classes: class(…) objectives read it)");
    }
    let deepest = graph.layers().iter().map(|l| l.node).max().unwrap_or(0);
    let sides = graph.sides(side, deepest);
    println!("\n{:<40} {:>8} {:>9}  activation  (at {side}×{side})", "layer", "channels", "output");
    for layer in graph.layers() {
        let out = sides.as_ref().map_or("—".to_string(), |s| format!("{0}×{0}", s[layer.node]));
        let activation = layer.activation.map_or("—".to_string(), |f| format!("{f:?}"));
        println!("{:<40} {:>8} {:>9}  {activation}", layer.name, layer.channels, out);
    }
    if sides.is_none() {
        println!("(a {side}-pixel input does not reach the deepest layer: try a larger --size)");
    }
    if let Some(stop) = &imported.stop {
        println!("\nstops at node '{}' ({}): {}", stop.node, stop.op, stop.reason);
    }
    if !imported.unsupported.is_empty() {
        println!("\noperators filterlens does not run:");
        for (node, op) in &imported.unsupported {
            println!("  {node} ({op})");
        }
    }
    Ok(())
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}
