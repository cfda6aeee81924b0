//! Data-movement operators between a dequantization and a quantization (ONNX's QDQ
//! `Concat`, `com.microsoft.QLinearConcat`, ...): each input is requantized to the
//! output's parameters through float32, as the reference computes it element by
//! element, then its integers move ([`tessera_compiler::movement`]).

use super::step::Value;
use tessera_compiler::movement::Movement;
use tessera_compiler::program::Affine;
use tessera_isa::quant::{onnx_dequantize, onnx_quantize};

/// `m` on `args` quantized as `inputs`, written quantized as `out`.
pub fn requantized(m: &Movement, args: &[Value], inputs: &[Affine], out: &Affine) -> Result<Value, String> {
    if inputs.len() != args.len() {
        return Err(format!("{} inputs with {} quantization parameters", args.len(), inputs.len()));
    }
    let range = out.dtype.int_range().ok_or("requantizes to an integer type")?;
    let moved: Vec<Vec<i64>> = args
        .iter()
        .zip(inputs)
        .map(|(a, q)| {
            let x = a.as_ints()?;
            Ok(if (q.scale, q.zero) == (out.scale, out.zero) {
                x.to_vec()
            } else {
                x.iter()
                    .map(|&v| onnx_quantize(onnx_dequantize(v, q.zero, q.scale), out.scale, out.zero, range))
                    .collect()
            })
        })
        .collect::<Result<_, String>>()?;
    let x: Vec<&[i64]> = moved.iter().map(Vec::as_slice).collect();
    let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape.as_slice()).collect();
    let (values, shape) = m.run(&x, &shapes)?;
    Ok(Value::ints(values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_compiler::tensor::ElemType;

    #[test]
    fn concat_requantizes_the_input_whose_parameters_differ() {
        let q = |scale, zero| Affine { scale, zero, dtype: ElemType::I8, half_scale: false };
        let a = Value::ints(vec![10, -10], vec![1, 2]);
        let b = Value::ints(vec![10, -10], vec![1, 2]);
        let y = requantized(&Movement::Concat { axis: 1 }, &[a, b], &[q(0.5, 0), q(1.0, 2)], &q(0.5, 0)).unwrap();
        // b: (10 - 2) * 1.0 / 0.5 = 16, (-10 - 2) / 0.5 = -24.
        assert_eq!(y, Value::ints(vec![10, -10, 16, -24], vec![1, 4]));
    }
}
