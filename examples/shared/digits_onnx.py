"""What the digits examples share: the data split, onnxruntime quantization, evaluation
with onnx.reference.ReferenceEvaluator (plus the com.microsoft contrib ops that
onnxruntime's QOperator form uses, written from their specifications) and onnxruntime,
and the report helpers.

Import after setting single-threaded math (see `single_threaded`), so that training and
calibration give the same bits on every run.
"""

import copy
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

EVAL_OPSET = 19  # ReferenceEvaluator has no DequantizeLinear before opset 19
N_CALIB = 200


def digits_split():
    """scikit-learn's 8x8 digits scaled to [0, 1]: (x_all, y_all, x_train, x_test,
    y_train, y_test), test_size 0.25, stratified, random_state 0."""
    digits = load_digits()
    x_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=0.25, random_state=0, stratify=y_all
    )
    return x_all, y_all, x_train, x_test, y_train, y_test


class Calib(CalibrationDataReader):
    """Feeds calibration samples one at a time (batch 1) under the input name."""

    def __init__(self, name: str, x: np.ndarray):
        self.rows = [{name: x[i : i + 1]} for i in range(len(x))]
        self.it = iter(self.rows)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.rows)


def quantize(f32_path: Path, out_path: Path, fmt: QuantFormat, x_calib: np.ndarray, input_name: str = "x"):
    """quantize_static with int8 activations and per-channel int8 weights (MinMax)."""
    # No quant_pre_process: its ORT optimization fuses MatMul+Add into Gemm (and adds a
    # list of unused opset imports), and with skip_optimization it only adds the
    # value_info that the exported models already have. The "consider pre-processing"
    # warnings that quantize_static logs are therefore expected.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # quantize_static may leave scratch files in the working directory
        try:
            quantize_static(
                str(f32_path),
                str(out_path),
                Calib(input_name, x_calib),
                quant_format=fmt,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        finally:
            os.chdir(cwd)
    model = onnx.load(str(out_path))
    onnx.checker.check_model(model)
    return model


def quantize_both(f32_path: Path, stem: str, x_calib: np.ndarray, input_name: str = "x"):
    """{"qdq": model, "qop": model}, written next to the float model as <stem>_qdq.onnx
    and <stem>_qop.onnx."""
    here = f32_path.parent
    return {
        "qdq": quantize(f32_path, here / f"{stem}_qdq.onnx", QuantFormat.QDQ, x_calib, input_name),
        "qop": quantize(f32_path, here / f"{stem}_qop.onnx", QuantFormat.QOperator, x_calib, input_name),
    }


def eval_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose default-domain opset import is at least EVAL_OPSET (ops unchanged)."""
    m = copy.deepcopy(model)
    for imp in m.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version < EVAL_OPSET:
            imp.version = EVAL_OPSET
    if m.ir_version < 9:
        m.ir_version = 9
    return m


def _saturate(q: np.ndarray, like: np.ndarray) -> np.ndarray:
    info = np.iinfo(like.dtype)
    return np.clip(q, info.min, info.max).astype(like.dtype)


class QLinearAdd(OpRun):
    """com.microsoft QLinearAdd, which onnx.reference does not implement, written from
    the contrib-op specification: C = (A_scale * (A - A_zero_point) + B_scale * (B -
    B_zero_point)) / C_scale + C_zero_point, in float32 like the standard QLinear ops,
    rounded half to even and saturated to C's type (numpy broadcasting)."""

    op_domain = "com.microsoft"

    def _run(self, a, a_scale, a_zero, b, b_scale, b_zero, c_scale, c_zero):  # noqa: PLR0913
        f32 = np.float32
        real = a_scale.astype(f32) * (a.astype(f32) - a_zero.astype(f32)) + b_scale.astype(f32) * (
            b.astype(f32) - b_zero.astype(f32)
        )
        q = np.rint(real / c_scale.astype(f32)) + c_zero.astype(f32)
        return (_saturate(q, c_zero),)


class QGemm(OpRun):
    """com.microsoft QGemm with a quantized output, written from the contrib-op
    specification: Y = quantize(alpha * A_scale * B_scale * ((A' - A_zp) (B' - B_zp) +
    C)), with C the int32 bias at scale A_scale * B_scale. The integer product and the
    scaling follow onnx.reference's QLinearMatMul (exact int32 accumulation, then the
    float32 factor A_scale * B_scale / Y_scale applied in numpy's promotion), so the
    two ops agree where they overlap. Per-column B scales and zero points broadcast
    along B's output dimension."""

    op_domain = "com.microsoft"

    def _run(self, a, a_scale, a_zero, b, b_scale, b_zero, c=None, y_scale=None, y_zero=None,  # noqa: PLR0913
             alpha=1.0, transA=0, transB=0):  # noqa: N803
        if y_scale is None:
            raise NotImplementedError("QGemm with a float output")
        if alpha != 1.0:
            raise NotImplementedError("QGemm with alpha != 1")
        a_i = a.astype(np.int64) - a_zero.astype(np.int64)
        b_i = b.astype(np.int64) - (b_zero.astype(np.int64).reshape(-1, 1) if transB else b_zero.astype(np.int64))
        if transA:
            a_i = a_i.T
        if transB:
            b_i = b_i.T
        acc = (a_i @ b_i).astype(np.int32)
        if c is not None:
            acc = acc + c.astype(np.int32)
        scale = (a_scale * b_scale / y_scale).astype(np.float32)
        q = np.rint(acc * scale + y_zero.astype(np.int32))
        return (_saturate(q, y_zero),)


CONTRIB_OPS = [QLinearAdd, QGemm]


def run_reference(model: onnx.ModelProto, x: np.ndarray, input_name: str = "x", output_name: str = "logits"):
    """ReferenceEvaluator outputs, one sample at a time (the models have batch 1)."""
    ev = ReferenceEvaluator(eval_copy(model), new_ops=CONTRIB_OPS)
    out = [ev.run([output_name], {input_name: x[i : i + 1]})[0] for i in range(len(x))]
    return np.concatenate(out).astype(np.float32)


def run_ort(path: Path, x: np.ndarray, input_name: str = "x", output_name: str = "logits"):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = [sess.run([output_name], {input_name: x[i : i + 1]})[0] for i in range(len(x))]
    return np.concatenate(out).astype(np.float32)


def op_list(model: onnx.ModelProto) -> list[str]:
    return [f"{n.op_type} ({n.domain or 'ai.onnx'})" for n in model.graph.node]


def init_value(model: onnx.ModelProto, name: str):
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in model.graph.node:  # Constant nodes, in case the quantizer emits them
        if n.op_type == "Constant" and n.output[0] == name:
            return numpy_helper.to_array(n.attribute[0].t)
    raise KeyError(name)


def io_qparams(model: onnx.ModelProto):
    """(scale, zero point) of the QuantizeLinear on the graph input and of the
    DequantizeLinear that produces the graph output."""
    inp = model.graph.input[0].name
    out = model.graph.output[0].name
    q_in = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == inp)
    dq_out = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == out)

    def sz(node):
        s = init_value(model, node.input[1])
        z = init_value(model, node.input[2])
        return float(s), int(z), str(z.dtype)

    return sz(q_in), sz(dq_out)


def pkg_versions(extra=()) -> dict[str, str]:
    names = ["numpy", "onnx", "onnxruntime", "scikit-learn", "scipy", "protobuf", "ml_dtypes", *extra]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "(not installed)"
    return out


def python_version() -> str:
    return sys.version.split()[0]


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def agreement(ref: np.ndarray, other: np.ndarray, out_scale: float) -> str:
    """How far `other` (onnxruntime) is from the reference, as a report line."""
    eq = float((ref.view(np.uint32) == other.view(np.uint32)).mean())
    diff_units = np.abs(ref.astype(np.float64) - other.astype(np.float64)) / out_scale
    argmax_eq = float((ref.argmax(1) == other.argmax(1)).mean())
    return (f"{eq:.4f} of outputs bit-identical; max |diff| {diff_units.max():.3f} output-scale units; "
            f"argmax agrees on {argmax_eq:.4f} of samples")
