//! TFLite's two-input integer operators (MUL, SUB, SQUARED_DIFFERENCE, MAXIMUM,
//! MINIMUM, PRELU with per-channel alpha) as host operations; their arithmetic is
//! `tessera_runtime::host::binary`. A PRELU whose alpha is one value is a byte table
//! ([`super::unary::prelu`]).

use super::lower::{activation, clamp, TensorInfo};
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use super::unary;
use crate::program::{BinaryOp, OpKind, TfliteBinary};
use tessera_isa::quant::Activation;

/// Whether `code` is a two-input operator of this module.
pub(super) fn is_binary(code: Builtin) -> bool {
    matches!(
        code,
        Builtin::MUL
            | Builtin::SUB
            | Builtin::SQUARED_DIFFERENCE
            | Builtin::MAXIMUM
            | Builtin::MINIMUM
            | Builtin::PRELU
    )
}

/// The program operation of two-input operator `code`.
pub(super) fn binary(
    code: Builtin,
    op: &tflite::Operator,
    ins: &[&TensorInfo],
    out: &TensorInfo,
) -> Result<OpKind, String> {
    let [a, b] = ins else { return Err("takes two inputs".into()) };
    let (qa, qb, y) = (a.affine()?, b.affine()?, out.affine()?);
    if qa.dtype != y.dtype || qb.dtype != y.dtype {
        return Err(format!("inputs of {} and {} with a {} output are not supported", qa.dtype, qb.dtype, y.dtype));
    }
    let act = match code {
        Builtin::MUL => activation(
            op.builtin_options_as_mul_options()
                .map_or(tflite::ActivationFunctionType::NONE, |o| o.fused_activation_function()),
        )?,
        Builtin::SUB => activation(
            op.builtin_options_as_sub_options()
                .map_or(tflite::ActivationFunctionType::NONE, |o| o.fused_activation_function()),
        )?,
        _ => Activation::None,
    };
    let kind = match code {
        Builtin::MUL => BinaryOp::Mul,
        Builtin::SUB => BinaryOp::Sub,
        Builtin::SQUARED_DIFFERENCE => BinaryOp::SquaredDifference,
        Builtin::MAXIMUM | Builtin::MINIMUM => {
            // The kernel compares the raw values: the converter gives inputs and output
            // one quantization.
            if [qa, qb].iter().any(|q| (q.scale, q.zero) != (y.scale, y.zero)) {
                return Err("MAXIMUM / MINIMUM need the inputs quantized as the output".into());
            }
            if code == Builtin::MAXIMUM {
                BinaryOp::Maximum
            } else {
                BinaryOp::Minimum
            }
        }
        Builtin::PRELU => {
            // One alpha value for every element: a function of one byte.
            let values = b.values();
            let alpha = values.as_deref().filter(|v| !v.is_empty() && v.iter().all(|&x| x == v[0]));
            if let Some(alpha) = alpha {
                if b.shape.len() <= a.shape.len() {
                    return Ok(OpKind::ByteTable(unary::prelu(&qa, &y, &qb, alpha[0])?));
                }
            }
            BinaryOp::Prelu
        }
        _ => return Err("not a two-input operator".into()),
    };
    Ok(OpKind::TfliteBinary(TfliteBinary { op: kind, inputs: [qa, qb], out: y, clamp: clamp(act, &y) }))
}
