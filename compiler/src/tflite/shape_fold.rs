//! Compile-time evaluation of the integer shape arithmetic TFLite converters leave in
//! graphs with a dynamic batch: Keras' `Dense` on a 4-D input becomes `SHAPE`,
//! `GATHER`, `REDUCE_PROD`, `CONCATENATION` and `PACK` computing a `RESHAPE`'s target
//! (`Tensordot`), whose declared output shape is then only a placeholder. Shapes are
//! static once the batch is 1, so these operators fold into constants and the
//! `RESHAPE` gets its real target. Only the 1-D and scalar int32/int64 tensors shape
//! arithmetic uses are evaluated; anything else stays unfolded (and a `RESHAPE` that
//! needs it is refused by name).

use super::lower::TensorInfo;
use super::movement::options;
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use crate::tensor::ElemType;
use std::collections::HashMap;

/// A folded integer tensor.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IntValue {
    pub(super) shape: Vec<usize>,
    pub(super) values: Vec<i64>,
}

impl IntValue {
    fn vector(values: Vec<i64>) -> IntValue {
        IntValue { shape: vec![values.len()], values }
    }

    fn scalar(v: i64) -> IntValue {
        IntValue { shape: Vec::new(), values: vec![v] }
    }

    /// A scalar or a 1-D vector: what shape arithmetic computes on.
    fn is_small(&self) -> bool {
        self.shape.len() <= 1
    }
}

/// The integer tensors folded so far, by tensor index.
#[derive(Default)]
pub(super) struct ShapeFold {
    folded: HashMap<i32, IntValue>,
}

impl ShapeFold {
    /// The value of integer tensor `index`: a constant, or folded earlier.
    pub(super) fn value(&self, index: i32, tensors: &[TensorInfo]) -> Option<IntValue> {
        if let Some(v) = self.folded.get(&index) {
            return Some(v.clone());
        }
        let t = tensors.get(usize::try_from(index).ok()?)?;
        let integer = matches!(t.dtype, Some(ElemType::I32 | ElemType::I64));
        t.values().filter(|_| integer).map(|values| IntValue { shape: t.shape.clone(), values: values.into_owned() })
    }

    /// Evaluates operator `code` when its inputs are known integers (SHAPE: when its
    /// input's shape is known), recording its output; otherwise leaves it unfolded.
    pub(super) fn eval(
        &mut self,
        code: Builtin,
        op: &tflite::Operator,
        inputs: &[i32],
        outputs: &[i32],
        tensors: &[TensorInfo],
    ) {
        let [out] = outputs else { return };
        let value = if code == Builtin::SHAPE {
            inputs
                .first()
                .and_then(|&i| tensors.get(usize::try_from(i).ok()?))
                .map(|t| IntValue::vector(t.shape.iter().map(|&d| d as i64).collect()))
        } else {
            let args: Option<Vec<IntValue>> =
                inputs.iter().filter(|&&i| i >= 0).map(|&i| self.value(i, tensors)).collect();
            args.and_then(|args| evaluate(code, op, &args))
        };
        if let Some(v) = value {
            self.folded.insert(*out, v);
        }
    }
}

/// Operator `code` on integer arguments; `None` when it is not shape arithmetic this
/// evaluator knows.
fn evaluate(code: Builtin, op: &tflite::Operator, args: &[IntValue]) -> Option<IntValue> {
    if !args.iter().all(IntValue::is_small) {
        return None;
    }
    let option = |index: usize, size: usize| options(op, index, size, 0).ok();
    match (code, args) {
        (Builtin::CAST | Builtin::SQUEEZE | Builtin::EXPAND_DIMS | Builtin::RESHAPE, [x, ..]) => {
            let values = x.values.clone();
            Some(if code == Builtin::SQUEEZE && values.len() == 1 {
                IntValue::scalar(values[0])
            } else {
                IntValue::vector(values)
            })
        }
        (Builtin::GATHER, [params, indices]) if option(0, 4)? == 0 && params.shape.len() == 1 => {
            let picked: Option<Vec<i64>> = indices
                .values
                .iter()
                .map(|&i| usize::try_from(i).ok().and_then(|i| params.values.get(i).copied()))
                .collect();
            Some(IntValue { shape: indices.shape.clone(), values: picked? })
        }
        (Builtin::REDUCE_PROD | Builtin::SUM, [x, _axes]) => {
            let v = if code == Builtin::SUM {
                x.values.iter().try_fold(0i64, |a, &b| a.checked_add(b))?
            } else {
                x.values.iter().try_fold(1i64, |a, &b| a.checked_mul(b))?
            };
            let keep = op.builtin_options_as_reducer_options().is_some_and(|o| o.keep_dims());
            Some(if keep && !x.shape.is_empty() { IntValue::vector(vec![v]) } else { IntValue::scalar(v) })
        }
        (Builtin::CONCATENATION, _) if matches!(option(0, 4)?, 0 | -1) => {
            Some(IntValue::vector(args.iter().flat_map(|a| a.values.iter().copied()).collect()))
        }
        (Builtin::PACK, _) if option(1, 4)? == 0 && args.iter().all(|a| a.shape.is_empty()) => {
            Some(IntValue::vector(args.iter().map(|a| a.values[0]).collect()))
        }
        (Builtin::SLICE, [x, begin, size]) if x.shape.len() == 1 => {
            let start = usize::try_from(*begin.values.first()?).ok()?;
            let n = match *size.values.first()? {
                -1 => x.values.len().checked_sub(start)?,
                n => usize::try_from(n).ok()?,
            };
            Some(IntValue::vector(x.values.get(start..start.checked_add(n)?)?.to_vec()))
        }
        (Builtin::STRIDED_SLICE, [x, begin, end, strides]) if x.shape.len() == 1 => strided(op, x, begin, end, strides),
        (Builtin::ADD | Builtin::SUB | Builtin::MUL | Builtin::FLOOR_DIV | Builtin::DIV, [a, b]) => {
            if op_has_activation(code, op) {
                return None;
            }
            let f = |x: i64, y: i64| -> Option<i64> {
                match code {
                    Builtin::ADD => x.checked_add(y),
                    Builtin::SUB => x.checked_sub(y),
                    Builtin::MUL => x.checked_mul(y),
                    Builtin::FLOOR_DIV => {
                        let q = x.checked_div(y)?;
                        Some(if x % y != 0 && ((x < 0) != (y < 0)) { q - 1 } else { q })
                    }
                    _ => x.checked_div(y),
                }
            };
            let (long, short) = if a.values.len() >= b.values.len() { (a, b) } else { (b, a) };
            if short.values.len() != 1 && short.values.len() != long.values.len() {
                return None;
            }
            let at = |v: &IntValue, i: usize| v.values[if v.values.len() == 1 { 0 } else { i }];
            let values: Option<Vec<i64>> = (0..long.values.len()).map(|i| f(at(a, i), at(b, i))).collect();
            Some(IntValue { shape: long.shape.clone(), values: values? })
        }
        _ => None,
    }
}

/// Whether an arithmetic operator carries a fused activation (never in shape
/// arithmetic; refused rather than ignored).
fn op_has_activation(code: Builtin, op: &tflite::Operator) -> bool {
    let fused = match code {
        Builtin::ADD => op.builtin_options_as_add_options().map(|o| o.fused_activation_function()),
        Builtin::SUB => op.builtin_options_as_sub_options().map(|o| o.fused_activation_function()),
        Builtin::MUL => op.builtin_options_as_mul_options().map(|o| o.fused_activation_function()),
        _ => None,
    };
    fused.is_some_and(|f| f != tflite::ActivationFunctionType::NONE)
}

/// `STRIDED_SLICE` of a vector: begin/end masks, negative bounds from the end,
/// `shrink_axis_mask` to a scalar, `offset` (end relative to begin); no ellipsis or
/// new axes.
fn strided(
    op: &tflite::Operator,
    x: &IntValue,
    begin: &IntValue,
    end: &IntValue,
    strides: &IntValue,
) -> Option<IntValue> {
    let option = |index: usize| options(op, index, 4, 0).ok();
    let option_bool = |index: usize| options(op, index, 1, 0).ok();
    let (begin_mask, end_mask, ellipsis, new_axis, shrink) =
        (option(0)?, option(1)?, option(2)?, option(3)?, option(4)?);
    if ellipsis != 0 || new_axis != 0 {
        return None;
    }
    let n = x.values.len() as i64;
    let (b, e, s) = (*begin.values.first()?, *end.values.first()?, *strides.values.first()?);
    if s == 0 {
        return None;
    }
    let e = if option_bool(5)? != 0 { b.checked_add(e)? } else { e };
    let resolve = |v: i64| if v < 0 { v + n } else { v };
    if shrink & 1 != 0 {
        let i = usize::try_from(resolve(b)).ok()?;
        return x.values.get(i).map(|&v| IntValue::scalar(v));
    }
    let (lo, hi) = if s > 0 { (0, n) } else { (-1, n - 1) };
    let start = if begin_mask & 1 != 0 {
        if s > 0 {
            lo
        } else {
            hi
        }
    } else {
        resolve(b).clamp(lo, hi)
    };
    let stop = if end_mask & 1 != 0 {
        if s > 0 {
            hi
        } else {
            lo
        }
    } else {
        resolve(e).clamp(lo, hi)
    };
    let mut values = Vec::new();
    let mut i = start;
    while (s > 0 && i < stop) || (s < 0 && i > stop) {
        values.push(x.values[usize::try_from(i).ok()?]);
        i += s;
    }
    Some(IntValue::vector(values))
}

/// A `RESHAPE` target with TFLite's one `-1` resolved against `elements`.
pub(super) fn resolve_target(target: &[i64], elements: usize) -> Result<Vec<usize>, String> {
    let known: i64 = target.iter().filter(|&&d| d >= 0).product();
    let unknown = target.iter().filter(|&&d| d < 0).count();
    if target.iter().any(|&d| d < -1) || unknown > 1 {
        return Err(format!("the reshape target {target:?} is not a shape"));
    }
    let fill = match (unknown, known) {
        (0, _) => None,
        (_, k) if k > 0 && elements as i64 % k == 0 => Some(elements as i64 / k),
        _ => return Err(format!("the reshape target {target:?} does not hold {elements} elements")),
    };
    let shape: Vec<usize> = target.iter().map(|&d| if d < 0 { fill.unwrap_or(0) } else { d } as usize).collect();
    if shape.iter().product::<usize>() != elements {
        return Err(format!("the reshape target {target:?} does not hold {elements} elements"));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reshape_target_resolves_its_one_unknown() {
        assert_eq!(resolve_target(&[-1, 16], 256 * 16).unwrap(), [256, 16]);
        assert_eq!(resolve_target(&[1, 16, 16, 64], 16 * 16 * 64).unwrap(), [1, 16, 16, 64]);
        assert!(resolve_target(&[-1, -1], 16).is_err());
        assert!(resolve_target(&[-1, 7], 16).unwrap_err().contains("does not hold 16"));
        assert!(resolve_target(&[3, 5], 16).is_err());
    }
}
