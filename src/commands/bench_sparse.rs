//! `tessera bench sparse`: cycles against weight sparsity on the cycle-accurate RTL.
//!
//! Two layers, each at every sparsity of the sweep (dense, 2:4, 1:4 and
//! unstructured 50/80/90/95%): a 1024x1024 fully connected layer at batch 1 and a
//! 3x3 convolution (64 to 64 channels over a 16x16 output, as its im2col GEMM). Every
//! pruned layer runs on the dense array and, where its weights fit, as N:4 tiles;
//! every run's outputs are checked against the ndarray product of the same pruned
//! weights. Writes a Markdown table and an SVG plot.

use super::backend::Backend;
use super::gemm_job::{self, Pruning};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;
use tessera_compiler::cost::CostModel;
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

/// A layer of the sweep: `M x K x N`.
struct Layer {
    name: String,
    shape: [usize; 3],
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
    let (features, channels, pixels) = (1024 / s, 64 / s, 256 / s);
    let layers = [
        Layer { name: format!("fc {features}x{features}, batch 1"), shape: [1, features, features] },
        Layer {
            name: format!("conv 3x3 {channels}->{channels}, {pixels} pixels"),
            shape: [pixels, 9 * channels, channels],
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
            // The same seed for every pattern: the same weights before pruning.
            let dense = gemm_job::build_pruned(&cfg, layer.shape, 11, pruning, 0)?;
            let mut best =
                (String::from("dense"), dense.run(&cfg, args.backend, None)?.report.counter(Counter::Cycles));
            let predicted_dense = model.predict(&dense.bundle.program().map_err(anyhow::Error::msg)?);
            let mut predicted = predicted_dense.map_err(anyhow::Error::msg)?.cycles;
            if pruning == Pruning::None {
                dense_cycles = best.1;
            }
            if let Some(n) = dense.nm_mode(&cfg) {
                let sparse = gemm_job::build_pruned(&cfg, layer.shape, 11, pruning, n)?;
                let cycles = sparse.run(&cfg, args.backend, None)?.report.counter(Counter::Cycles);
                if cycles < best.1 {
                    best = (format!("{n}:4 tiles"), cycles);
                    let program = sparse.bundle.program().map_err(anyhow::Error::msg)?;
                    predicted = model.predict(&program).map_err(anyhow::Error::msg)?.cycles;
                }
            }
            let weights = layer.shape[1] * layer.shape[2];
            let nonzero = dense.nonzero_weights();
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
         every run's outputs equal the ndarray product of the same pruned weights.\n",
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
