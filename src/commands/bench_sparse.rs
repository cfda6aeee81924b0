//! `tessera bench sparse`: cycles against weight sparsity on the cycle-accurate RTL.
//!
//! Two layers, each at every sparsity of the sweep (dense, 2:4, 1:4 and
//! unstructured 50/80/90/95%): a 1024x1024 fully connected layer at batch 1 and a
//! 3x3 convolution (64 to 64 channels on a 16x16 image, implicit im2col as the
//! compiler lowers it). Every pruned layer runs on the dense array and, where its
//! weights fit, as N:4 tiles; every run's outputs are checked against a reference
//! computed from the same pruned weights (ndarray's product; a direct convolution).
//! Writes a Markdown table and an SVG plot.

use super::backend::Backend;
use super::conv_job::{self, ConvJob};
use super::gemm_job::{self, GemmJob, Pruning};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;
use tessera_compiler::cost::CostModel;
use tessera_compiler::engine::Engine;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::Counter;

pub struct SparseArgs<'a> {
    pub config: &'a str,
    pub backend: Backend,
    /// Directory for `sparse.md` and `sparse.svg`.
    pub out: &'a Path,
    /// Scale the layers down by this factor in every dimension (quick runs).
    pub shrink: usize,
}

/// A layer of the sweep.
struct Layer {
    name: String,
    kind: LayerKind,
}

enum LayerKind {
    /// `M x K x N`.
    Fc([usize; 3]),
    /// `h x w x c`, `m` output channels.
    Conv([usize; 4]),
}

/// One built layer, ready to run.
enum Job {
    Fc(GemmJob),
    Conv(ConvJob),
}

impl Job {
    /// `layer` with its weights pruned by `pruning`, run on `engine` (a convolution
    /// runs on the array: the sparse engine takes FC and 1x1 layers).
    fn build(cfg: &AccelConfig, layer: &Layer, pruning: Pruning, engine: Engine) -> anyhow::Result<Job> {
        // The same seed for every pattern: the same weights before pruning.
        Ok(match layer.kind {
            LayerKind::Fc(shape) => Job::Fc(gemm_job::build_pruned(cfg, shape, 11, pruning, engine)?),
            LayerKind::Conv(shape) => Job::Conv(conv_job::build(cfg, shape, 11, pruning, engine.nm())?),
        })
    }

    /// The checked run's cycle counter.
    fn cycles(&self, cfg: &AccelConfig, backend: Backend) -> anyhow::Result<u64> {
        let run = match self {
            Job::Fc(j) => j.run(cfg, backend, None)?,
            Job::Conv(j) => j.run(cfg, backend)?,
        };
        Ok(run.report.counter(Counter::Cycles))
    }

    fn predicted(&self, model: &CostModel) -> anyhow::Result<u64> {
        let bundle = match self {
            Job::Fc(j) => &j.bundle,
            Job::Conv(j) => &j.bundle,
        };
        Ok(model.predict(&bundle.program().map_err(anyhow::Error::msg)?).map_err(anyhow::Error::msg)?.cycles)
    }

    /// The `K x N` weights.
    fn weights(&self) -> (&[u8], usize, usize) {
        match self {
            Job::Fc(j) => (&j.weights, j.k, j.n),
            Job::Conv(j) => (&j.weights, 9 * j.shape[2], j.shape[3]),
        }
    }
}

/// One point of the sweep.
struct Point {
    layer: String,
    pattern: String,
    sparsity: f64,
    nonzero: usize,
    weights: usize,
    engine: String,
    cycles: u64,
    predicted: u64,
    dense_cycles: u64,
}

const PATTERNS: [(&str, Pruning); 7] = [
    ("dense", Pruning::None),
    ("2:4", Pruning::NOf4(2)),
    ("1:4", Pruning::NOf4(1)),
    ("unstructured 50%", Pruning::Unstructured(0.5)),
    ("unstructured 80%", Pruning::Unstructured(0.8)),
    ("unstructured 90%", Pruning::Unstructured(0.9)),
    ("unstructured 95%", Pruning::Unstructured(0.95)),
];

pub fn run(args: &SparseArgs) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(args.config)?;
    let s = args.shrink.max(1);
    let (features, channels, side) = (1024 / s, 64 / s, 16 / s.min(4));
    let layers = [
        Layer { name: format!("fc {features}x{features}, batch 1"), kind: LayerKind::Fc([1, features, features]) },
        Layer {
            name: format!("conv 3x3 {channels}->{channels}, {side}x{side}"),
            kind: LayerKind::Conv([side, side, channels, channels]),
        },
    ];
    let bar = ProgressBar::new((layers.len() * PATTERNS.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs [{elapsed}] {msg}").expect("valid template"),
    );
    let model = CostModel::new(&cfg);
    let mut points = Vec::new();
    for layer in &layers {
        let mut dense_cycles = 0;
        for (pattern, pruning) in PATTERNS {
            bar.set_message(format!("{}, {pattern}", layer.name));
            let dense = Job::build(&cfg, layer, pruning, Engine::Dense)?;
            let mut best = (String::from("dense"), dense.cycles(&cfg, args.backend)?);
            let mut predicted = dense.predicted(&model)?;
            if pruning == Pruning::None {
                dense_cycles = best.1;
            }
            let (w, k, n) = dense.weights();
            if let Some(mode) = tessera_compiler::sparsity::nm_mode(&cfg, w, k, n, 0, false) {
                // A convolution whose channels do not divide into N:4 tiles stays dense.
                if let Ok(sparse) = Job::build(&cfg, layer, pruning, Engine::NOf4(mode)) {
                    let cycles = sparse.cycles(&cfg, args.backend)?;
                    if cycles < best.1 {
                        best = (format!("{mode}:4 tiles"), cycles);
                        predicted = sparse.predicted(&model)?;
                    }
                }
            }
            let half_zero = 2 * w.iter().filter(|&&v| v == 0).count() >= w.len();
            if cfg.sparse.engine.is_some() && half_zero && matches!(layer.kind, LayerKind::Fc(_)) {
                let sparse = Job::build(&cfg, layer, pruning, Engine::Sparse)?;
                let cycles = sparse.cycles(&cfg, args.backend)?;
                if cycles < best.1 {
                    best = ("sparse engine".into(), cycles);
                    predicted = sparse.predicted(&model)?;
                }
            }
            let weights = k * n;
            let nonzero = w.iter().filter(|&&v| v != 0).count();
            points.push(Point {
                layer: layer.name.clone(),
                pattern: pattern.into(),
                sparsity: 1.0 - nonzero as f64 / weights as f64,
                nonzero,
                weights,
                engine: best.0,
                cycles: best.1,
                predicted,
                dense_cycles,
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let table = table(&cfg, args.backend, &points);
    print!("{table}");
    std::fs::create_dir_all(args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let md = args.out.join("sparse.md");
    std::fs::write(&md, &table).with_context(|| format!("writing {}", md.display()))?;
    let svg = args.out.join("sparse.svg");
    plot(&svg, &cfg, &layers, &points)?;
    println!("wrote {} and {}", md.display(), svg.display());
    Ok(())
}

fn table(cfg: &AccelConfig, backend: Backend, points: &[Point]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Cycles against weight sparsity on `{}` ({}x{} array, N:4 modes {:?}, {backend:?} backend); \
         every run's outputs equal the reference computed from the same pruned weights.\n",
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        cfg.sparse.nm.iter().map(|p| p.to_string()).collect::<Vec<_>>()
    );
    let _ = writeln!(t, "| layer | pruning | nonzero weights | engine | cycles | predicted | speedup vs dense |");
    let _ = writeln!(t, "|---|---|---|---|---:|---:|---:|");
    for p in points {
        let _ = writeln!(
            t,
            "| {} | {} | {} of {} ({:.0}% sparse) | {} | {} | {} | {:.2}x |",
            p.layer,
            p.pattern,
            p.nonzero,
            p.weights,
            100.0 * p.sparsity,
            p.engine,
            p.cycles,
            p.predicted,
            p.dense_cycles as f64 / p.cycles as f64
        );
    }
    t
}

/// Cycles (relative to the dense layer) against sparsity, one line per layer.
fn plot(path: &Path, cfg: &AccelConfig, layers: &[Layer], points: &[Point]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Tessera `{}`: cycles against weight sparsity (RTL)", cfg.name), ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..100.0, 0.0..1.1)?;
    chart.configure_mesh().x_desc("weights pruned (%)").y_desc("cycles / dense cycles").draw()?;
    for (i, layer) in layers.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let mut series: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.layer == layer.name)
            .map(|p| (100.0 * p.sparsity, p.cycles as f64 / p.dense_cycles as f64))
            .collect();
        series.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
            .label(layer.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(series.into_iter().map(|xy| Circle::new(xy, 4, color.filled())))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}
