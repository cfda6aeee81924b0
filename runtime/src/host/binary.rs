//! TFLite's two-input integer operators on the host ([`TfliteBinary`]): numpy
//! broadcasting over the reference kernels' per-element arithmetic
//! ([`tessera_isa::elementwise`]), clamped to the fused activation's range.

use super::ops::broadcast_binary;
use tessera_compiler::program::{BinaryOp, TfliteBinary};
use tessera_isa::elementwise::{sub, Mul, Prelu, SquaredDifference};
use tessera_isa::quant::AddRescale;

/// `b.op` of `x` (shape `xs`) and `y` (shape `ys`).
pub fn run(
    b: &TfliteBinary,
    x: &[i64],
    xs: &[usize],
    y: &[i64],
    ys: &[usize],
) -> Result<(Vec<i64>, Vec<usize>), String> {
    let [qa, qb] = b.inputs.map(|q| (q.scale, q.zero));
    let out = (b.out.scale, b.out.zero);
    let bad = || format!("the scales of TFLite {:?} give no fixed-point multiplier", b.op);
    let f: Box<dyn Fn(i64, i64) -> i64> = match b.op {
        BinaryOp::Mul => {
            let m = Mul::new(qa, qb, out).ok_or_else(bad)?;
            Box::new(move |p, q| m.apply(p, q))
        }
        BinaryOp::Sub => {
            let r = AddRescale::new(qa, qb, out).ok_or_else(bad)?;
            Box::new(move |p, q| sub(&r, p, q))
        }
        BinaryOp::SquaredDifference => {
            let s = SquaredDifference::new(qa, qb, out).ok_or_else(bad)?;
            Box::new(move |p, q| s.apply(p, q))
        }
        BinaryOp::Prelu => {
            let p = Prelu::new(qa, qb, out).ok_or_else(bad)?;
            Box::new(move |v, alpha| p.apply(v, alpha))
        }
        BinaryOp::Maximum => Box::new(|p: i64, q: i64| p.max(q)),
        BinaryOp::Minimum => Box::new(|p: i64, q: i64| p.min(q)),
    };
    let (lo, hi) = b.clamp;
    broadcast_binary(x, xs, y, ys, |p, q| f(p, q).clamp(lo, hi)).map_err(|e| e.to_string())
}
