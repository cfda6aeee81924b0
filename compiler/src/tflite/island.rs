//! Float islands: `DEQUANTIZE` of an 8-bit value, a chain of one-input float
//! operators, `QUANTIZE` back to 8 bits — what the converter leaves around an operator
//! it does not quantize (ConvNeXt's LayerNorm negates its mean in float). Each output
//! byte is a function of one input byte, so the island lowers to one table
//! ([`super::unary::float_island`]) instead of refusing the float value.

use super::lower::TensorInfo;
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use super::unary::is_float_unary;
use crate::tensor::ElemType;
use std::collections::HashMap;

/// One island, found at its `DEQUANTIZE`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Island {
    /// The float operators between the DEQUANTIZE and the QUANTIZE, in order.
    pub(super) ops: Vec<Builtin>,
    /// The operator indices after the DEQUANTIZE that the table replaces.
    pub(super) absorbed: Vec<usize>,
    /// The QUANTIZE's output tensor.
    pub(super) output: i32,
}

/// The islands of a subgraph, by the index of their `DEQUANTIZE`.
pub(super) fn float_islands(
    operators: &[tflite::Operator],
    codes: &[(Builtin, Option<String>)],
    tensors: &[TensorInfo],
    graph_outputs: &[i32],
) -> HashMap<usize, Island> {
    let code = |op: &tflite::Operator| codes.get(op.opcode_index() as usize).map(|c| c.0);
    let ins = |op: &tflite::Operator| op.inputs().map_or_else(Vec::new, |v| v.iter().collect::<Vec<i32>>());
    let outs = |op: &tflite::Operator| op.outputs().map_or_else(Vec::new, |v| v.iter().collect::<Vec<i32>>());
    let mut readers: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, op) in operators.iter().enumerate() {
        for t in ins(op) {
            readers.entry(t).or_default().push(i);
        }
    }
    let dtype = |t: i32| usize::try_from(t).ok().and_then(|i| tensors.get(i)).and_then(|t| t.dtype);
    let byte = |t: i32| matches!(dtype(t), Some(ElemType::I8 | ElemType::U8));
    // The one operator reading float tensor `t`, when `t` is not a graph output.
    let sole_reader = |t: i32| match readers.get(&t).map(Vec::as_slice) {
        Some(&[r]) if !graph_outputs.contains(&t) && dtype(t) == Some(ElemType::F32) => Some(r),
        _ => None,
    };
    let mut islands = HashMap::new();
    for (start, op) in operators.iter().enumerate() {
        let (inputs, outputs) = (ins(op), outs(op));
        let (Some(Builtin::DEQUANTIZE), &[x], &[first]) = (code(op), inputs.as_slice(), outputs.as_slice()) else {
            continue;
        };
        if !byte(x) {
            continue;
        }
        let mut value = first;
        let mut island = Island { ops: Vec::new(), absorbed: Vec::new(), output: -1 };
        while let Some(next) = sole_reader(value) {
            let reader = &operators[next];
            let (reader_ins, reader_outs) = (ins(reader), outs(reader));
            let (Some(c), [_], &[o]) = (code(reader), reader_ins.as_slice(), reader_outs.as_slice()) else { break };
            island.absorbed.push(next);
            if c == Builtin::QUANTIZE && byte(o) {
                island.output = o;
                islands.insert(start, island);
                break;
            }
            if !is_float_unary(c) {
                break;
            }
            island.ops.push(c);
            value = o;
        }
    }
    islands
}
