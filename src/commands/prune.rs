//! `tessera prune MODEL.onnx --pattern 2:4|1:4|unstructured:S -o OUT.onnx`: magnitude
//! pruning of every quantized layer weight (`tessera_compiler::onnx::prune`), with a
//! table of what changed.

use std::path::Path;
use tessera_compiler::onnx::prune::{prune_model, Pattern};

pub fn run(model: &Path, pattern: Pattern, out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        model.extension().is_some_and(|e| e == "onnx"),
        "{}: pruning reads and writes ONNX models (.onnx)",
        model.display()
    );
    let bytes = std::fs::read(model).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", model.display()))?;
    let (pruned, layers) = prune_model(&bytes, pattern).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    anyhow::ensure!(!layers.is_empty(), "{}: no quantized layer weights to prune", model.display());
    println!("{} pruned ({pattern:?})", model.display());
    println!("  {:<28} {:<18} {:>12} {:>12}", "node", "weight shape", "nonzero", "after");
    let (mut before, mut after, mut total) = (0, 0, 0);
    for l in &layers {
        let size: usize = l.shape.iter().product();
        println!(
            "  {:<28} {:<18} {:>12} {:>5} ({:>3.0}%)",
            l.node,
            format!("{:?}", l.shape),
            l.nonzero_before,
            l.nonzero_after,
            100.0 * l.nonzero_after as f64 / size.max(1) as f64
        );
        (before, after, total) = (before + l.nonzero_before, after + l.nonzero_after, total + size);
    }
    std::fs::write(out, pruned).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", out.display()))?;
    println!(
        "wrote {}: {} layers, {before} → {after} nonzero weights of {total} ({:.1}% dense)",
        out.display(),
        layers.len(),
        100.0 * after as f64 / total.max(1) as f64
    );
    Ok(())
}
