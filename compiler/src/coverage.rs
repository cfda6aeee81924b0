//! Which operators the importers lower, in which model format, and where they run:
//! the single source of the coverage table in `docs/compiler.md`. Two tests keep it
//! honest: the table in the docs must equal [`markdown`], and every operator listed
//! here must get past the importers' dispatch while every TFLite builtin operator not
//! listed must be refused as "not supported" (both probed with one-operator models).

/// A model format, as the importers distinguish them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tflite,
    /// ONNX, the compute node between `DequantizeLinear`s and a `QuantizeLinear`.
    OnnxQdq,
    /// ONNX operators on quantized integers (`QLinear*`, `*Integer`, contrib ops).
    OnnxQop,
}

impl Format {
    fn label(self) -> &'static str {
        match self {
            Format::Tflite => "TFLite",
            Format::OnnxQdq => "ONNX QDQ",
            Format::OnnxQop => "ONNX QOperator",
        }
    }
}

/// Where an operator's work happens inside a compiled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// Instructions of the accelerator's program.
    Accelerator,
    /// A host step between accelerator segments.
    Host,
    /// The accelerator when the stated condition holds, else the host.
    AcceleratorIf(&'static str),
    /// No work: folded into a neighbour or a change of how the same bytes are read.
    Folded(&'static str),
}

impl Runs {
    fn label(self) -> String {
        match self {
            Runs::Accelerator => "accelerator".into(),
            Runs::Host => "host".into(),
            Runs::AcceleratorIf(when) => format!("accelerator when {when}, else host"),
            Runs::Folded(into) => format!("no instructions ({into})"),
        }
    }
}

/// One supported operator.
#[derive(Debug, Clone, Copy)]
pub struct Coverage {
    /// The operator as the format spells it (TFLite builtin name, ONNX op type).
    pub op: &'static str,
    /// The ONNX domain (`""` for the default domain and for TFLite).
    pub domain: &'static str,
    pub format: Format,
    pub runs: Runs,
}

const fn op(op: &'static str, format: Format, runs: Runs) -> Coverage {
    Coverage { op, domain: "", format, runs }
}

const fn contrib(op: &'static str, runs: Runs) -> Coverage {
    Coverage { op, domain: "com.microsoft", format: Format::OnnxQop, runs }
}

use Format::{OnnxQdq, OnnxQop, Tflite};
use Runs::{Accelerator, AcceleratorIf, Folded, Host};

/// Every operator the importers lower, by format.
pub const COVERAGE: &[Coverage] = &[
    op("CONV_2D", Tflite, Accelerator),
    op("FULLY_CONNECTED", Tflite, Accelerator),
    op("DEPTHWISE_CONV_2D", Tflite, Accelerator),
    op("TRANSPOSE_CONV", Tflite, AcceleratorIf("its stride is 1; else the input's spreading on the host first")),
    op("ADD", Tflite, Accelerator),
    op("MAX_POOL_2D", Tflite, Accelerator),
    op("AVERAGE_POOL_2D", Tflite, Accelerator),
    op("MEAN", Tflite, AcceleratorIf("over axes [1, 2] of a 4-D value (global average pool)")),
    op("REDUCE_MAX", Tflite, Host),
    op("REDUCE_MIN", Tflite, Host),
    op("RESHAPE", Tflite, Folded("the same bytes with a new shape")),
    op("PAD", Tflite, Folded("into the next convolution's padding; otherwise host")),
    op("PADV2", Tflite, Folded("into the next convolution's padding; otherwise host")),
    op("QUANTIZE", Tflite, AcceleratorIf("it requantizes int8/uint8 to int8/uint8 (a TABLE)")),
    op("DEQUANTIZE", Tflite, AcceleratorIf("it opens a float island (DEQUANTIZE, exact float ops, QUANTIZE: a TABLE)")),
    op("SOFTMAX", Tflite, Host),
    op("LOGISTIC", Tflite, Accelerator),
    op("TANH", Tflite, Accelerator),
    op("HARD_SWISH", Tflite, Accelerator),
    op("LEAKY_RELU", Tflite, Accelerator),
    op("RELU", Tflite, Accelerator),
    op("RELU6", Tflite, Accelerator),
    op("RELU_N1_TO_1", Tflite, Accelerator),
    op("RELU_0_TO_1", Tflite, Accelerator),
    op("GELU", Tflite, Accelerator),
    op("RSQRT", Tflite, Accelerator),
    op("ABS", Tflite, Accelerator),
    op("PRELU", Tflite, AcceleratorIf("its alpha is one value (a TABLE)")),
    op("SUB", Tflite, AcceleratorIf("both operands are computed and of one shape (ADD's tables, one negated)")),
    op("MUL", Tflite, Host),
    op("SQUARED_DIFFERENCE", Tflite, Host),
    op("MAXIMUM", Tflite, Host),
    op("MINIMUM", Tflite, Host),
    op("CONCATENATION", Tflite, Host),
    op("SPLIT", Tflite, Host),
    op("SPLIT_V", Tflite, Host),
    op("SLICE", Tflite, Host),
    op("STRIDED_SLICE", Tflite, Host),
    op("TRANSPOSE", Tflite, Host),
    op("SQUEEZE", Tflite, Host),
    op("EXPAND_DIMS", Tflite, Host),
    op("RESIZE_NEAREST_NEIGHBOR", Tflite, Host),
    op("RESIZE_BILINEAR", Tflite, Host),
    op("ARG_MAX", Tflite, Host),
    op("ARG_MIN", Tflite, Host),
    op("PACK", Tflite, Host),
    op("UNPACK", Tflite, Host),
    op("GATHER", Tflite, Host),
    op("DEPTH_TO_SPACE", Tflite, Host),
    op("SPACE_TO_DEPTH", Tflite, Host),
    op("MIRROR_PAD", Tflite, Host),
    op("Sigmoid", OnnxQdq, Accelerator),
    op("Tanh", OnnxQdq, Accelerator),
    op("HardSigmoid", OnnxQdq, Accelerator),
    op("HardSwish", OnnxQdq, Accelerator),
    op("LeakyRelu", OnnxQdq, Accelerator),
    op("Mul", OnnxQdq, Host),
    op("Sub", OnnxQdq, Host),
    op("Div", OnnxQdq, Host),
    contrib("QLinearSigmoid", Accelerator),
    contrib("QLinearLeakyRelu", Accelerator),
    contrib("QLinearMul", Host),
    contrib("QLinearConcat", Host),
    op("Concat", OnnxQdq, Host),
    op("Concat", OnnxQop, Host),
    op("Split", OnnxQdq, Host),
    op("Split", OnnxQop, Host),
    op("Slice", OnnxQdq, Host),
    op("Slice", OnnxQop, Host),
    op("Transpose", OnnxQdq, Host),
    op("Transpose", OnnxQop, Host),
    op("Squeeze", OnnxQdq, Host),
    op("Squeeze", OnnxQop, Host),
    op("Unsqueeze", OnnxQdq, Host),
    op("Unsqueeze", OnnxQop, Host),
    op("Resize", OnnxQdq, Host),
    op("Resize", OnnxQop, Host),
    op("Upsample", OnnxQdq, Host),
    op("Upsample", OnnxQop, Host),
    op("Gather", OnnxQdq, Host),
    op("Gather", OnnxQop, Host),
    op("DepthToSpace", OnnxQdq, Host),
    op("DepthToSpace", OnnxQop, Host),
    op("SpaceToDepth", OnnxQdq, Host),
    op("SpaceToDepth", OnnxQop, Host),
    op("Pad", OnnxQdq, Host),
    op("Pad", OnnxQop, Host),
    op("Identity", OnnxQdq, Host),
    op("Identity", OnnxQop, Host),
    op("Dropout", OnnxQdq, Host),
    op("Dropout", OnnxQop, Host),
    op("ArgMax", OnnxQdq, Host),
    op("ArgMax", OnnxQop, Host),
    op("ArgMin", OnnxQdq, Host),
    op("ArgMin", OnnxQop, Host),
    op("QuantizeLinear", OnnxQdq, Host),
    op("DequantizeLinear", OnnxQdq, Host),
    op("Conv", OnnxQdq, AcceleratorIf("`group` < C (grouped: per block of output channels over their groups' inputs, or block-diagonal where the cost model finds that faster) or `group` = C (depthwise, any channel multiplier, per block of output channels)")),
    op("ConvTranspose", OnnxQdq, AcceleratorIf("its stride is 1; else the input's spreading on the host first")),
    op("MatMul", OnnxQdq, Accelerator),
    op("Gemm", OnnxQdq, Accelerator),
    op("Add", OnnxQdq, AcceleratorIf("a table reproduces the float32 sum on all 65,536 input pairs")),
    op("MaxPool", OnnxQdq, AcceleratorIf("input and output quantization are equal")),
    op("Relu", OnnxQdq, Folded("into the producing layer's clamp; otherwise host")),
    op("Flatten", OnnxQdq, Folded("the same bytes with a new shape")),
    op("Reshape", OnnxQdq, Folded("the same bytes with a new shape")),
    op("AveragePool", OnnxQdq, Host),
    op("GlobalAveragePool", OnnxQdq, Host),
    op("ReduceMean", OnnxQdq, Host),
    op("QLinearConv", OnnxQop, AcceleratorIf("`group` < C (grouped: per block of output channels over their groups' inputs, or block-diagonal where the cost model finds that faster) or `group` = C (depthwise, any channel multiplier, per block of output channels)")),
    op("ConvInteger", OnnxQop, Accelerator),
    op("QLinearMatMul", OnnxQop, Accelerator),
    op("MatMulInteger", OnnxQop, Accelerator),
    contrib("QGemm", Accelerator),
    contrib("QLinearAdd", AcceleratorIf("both operands are computed and the 65,536-pair check passes")),
    contrib("QLinearAveragePool", Host),
    contrib("QLinearGlobalAveragePool", Host),
    op("MaxPool", OnnxQop, Accelerator),
    op("Relu", OnnxQop, Folded("into the producing layer's clamp; otherwise host")),
    op("Flatten", OnnxQop, Folded("the same bytes with a new shape")),
    op("Reshape", OnnxQop, Folded("the same bytes with a new shape")),
    op("Shape", OnnxQdq, Folded("a constant at compile time, as the integer arithmetic on it")),
    op("Shape", OnnxQop, Folded("a constant at compile time, as the integer arithmetic on it")),
];

/// The coverage table as markdown, one row per operator and format, ordered by format
/// then operator.
pub fn markdown() -> String {
    let mut rows: Vec<&Coverage> = COVERAGE.iter().collect();
    rows.sort_by_key(|c| (c.format as u8, c.op, c.domain));
    let mut out = String::from("| operator | format | runs on |\n|---|---|---|\n");
    for c in rows {
        let name = if c.domain.is_empty() { format!("`{}`", c.op) } else { format!("`{}.{}`", c.domain, c.op) };
        out.push_str(&format!("| {name} | {} | {} |\n", c.format.label(), c.runs.label()));
    }
    out
}

#[cfg(test)]
mod tests;
