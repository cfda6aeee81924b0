"""Trains, exports, quantizes and evaluates the int8 digits MLP example.

Run with the venv of scripts/py_env.sh (pinned numpy, onnx, onnxruntime, scikit-learn):

    PY=$(bash scripts/py_env.sh | tail -n 1)
    $PY examples/digits_mlp/make_model.py

Writes, next to this file: mlp_f32.onnx, mlp_qdq.onnx, mlp_qop.onnx, data/*.npy and
REPORT.md. Deterministic (single-threaded BLAS and onnxruntime, fixed seeds); nothing is
downloaded (scikit-learn's 8x8 digits are bundled with it).
"""

import os

# Single-threaded math so that training and calibration give the same bits every run.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import copy  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402
from onnxruntime.quantization import (  # noqa: E402
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OPSET = 13
IR_VERSION = 7  # the IR version that goes with opset 13
EVAL_OPSET = 19  # ReferenceEvaluator has no DequantizeLinear before opset 19
N_CALIB = 200


def build_f32_model(mlp: MLPClassifier) -> onnx.ModelProto:
    """x[1,64] -> (MatMul, Add, Relu) x hidden layers -> MatMul, Add -> logits[1,10]."""
    nodes, inits = [], []
    cur = "x"
    n_layers = len(mlp.coefs_)
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        w = np.asarray(w, dtype=np.float32)
        b = np.asarray(b, dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"), numpy_helper.from_array(b, f"fc{i}.bias")]
        last = i == n_layers - 1
        mm, add = f"fc{i}.matmul", "logits" if last else f"fc{i}.add"
        nodes.append(helper.make_node("MatMul", [cur, f"fc{i}.weight"], [mm], name=f"fc{i}_MatMul"))
        nodes.append(helper.make_node("Add", [mm, f"fc{i}.bias"], [add], name=f"fc{i}_Add"))
        cur = add
        if not last:
            nodes.append(helper.make_node("Relu", [add], [f"fc{i}.relu"], name=f"fc{i}_Relu"))
            cur = f"fc{i}.relu"
    n_in = mlp.coefs_[0].shape[0]
    n_out = mlp.coefs_[-1].shape[1]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, n_out])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="tessera-examples-digits_mlp",
        producer_version="1",
    )
    model.ir_version = IR_VERSION
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


class Calib(CalibrationDataReader):
    def __init__(self, x: np.ndarray):
        self.rows = [{"x": x[i : i + 1]} for i in range(len(x))]
        self.it = iter(self.rows)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.rows)


def quantize(f32_path: Path, out_path: Path, fmt: QuantFormat, x_calib: np.ndarray) -> onnx.ModelProto:
    # No quant_pre_process: its ORT optimization fuses MatMul+Add into Gemm (and adds a
    # list of unused opset imports), and with skip_optimization it only adds the
    # value_info that build_f32_model already has. The "consider pre-processing"
    # warnings that quantize_static logs are therefore expected.
    quantize_static(
        str(f32_path),
        str(out_path),
        Calib(x_calib),
        quant_format=fmt,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    model = onnx.load(str(out_path))
    onnx.checker.check_model(model)
    return model


def eval_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose default-domain opset import is at least EVAL_OPSET (ops unchanged)."""
    m = copy.deepcopy(model)
    for imp in m.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version < EVAL_OPSET:
            imp.version = EVAL_OPSET
    if m.ir_version < 9:
        m.ir_version = 9
    return m


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
        info = np.iinfo(c_zero.dtype)
        return (np.clip(q, info.min, info.max).astype(c_zero.dtype),)


def run_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    ev = ReferenceEvaluator(eval_copy(model), new_ops=[QLinearAdd])
    out = [ev.run(["logits"], {"x": x[i : i + 1]})[0] for i in range(len(x))]
    return np.concatenate(out).astype(np.float32)


def run_ort(path: Path, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = [sess.run(["logits"], {"x": x[i : i + 1]})[0] for i in range(len(x))]
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


def pkg_versions() -> dict[str, str]:
    names = ["numpy", "onnx", "onnxruntime", "scikit-learn", "scipy", "protobuf", "ml_dtypes"]
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "(not installed)"
    return out


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(s: str = ""):
        print(s)
        lines.append(s)

    # --- data and float training -------------------------------------------------------
    digits = load_digits()
    x_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=0.25, random_state=0, stratify=y_all
    )
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), activation="relu", random_state=0, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    sk_acc = float((mlp.predict(x_test) == y_test).mean())

    f32 = build_f32_model(mlp)
    f32_path = HERE / "mlp_f32.onnx"
    onnx.save(f32, str(f32_path))

    # --- quantization ------------------------------------------------------------------
    x_calib = x_train[:N_CALIB]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # quantize_static may leave scratch files in the working directory
        try:
            qdq = quantize(f32_path, HERE / "mlp_qdq.onnx", QuantFormat.QDQ, x_calib)
            qop = quantize(f32_path, HERE / "mlp_qop.onnx", QuantFormat.QOperator, x_calib)
        finally:
            os.chdir(cwd)

    # --- outputs -----------------------------------------------------------------------
    f32_ort = run_ort(f32_path, x_test)
    f32_ref = run_reference(f32, x_test)
    np.save(DATA / "x_test.npy", x_test)
    np.save(DATA / "y_test.npy", y_test)

    models = {"qdq": qdq, "qop": qop}
    results = {}
    for tag, model in models.items():
        path = HERE / f"mlp_{tag}.onnx"
        r = {"ops": op_list(model), "path": path}
        r["domains"] = sorted({n.domain or "ai.onnx" for n in model.graph.node})
        r["opsets"] = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
        r["io"] = io_qparams(model)
        r["ort"] = run_ort(path, x_test)
        np.save(DATA / f"ort_{tag}.npy", r["ort"])
        try:
            r["ref"] = run_reference(model, x_test)
            np.save(DATA / f"ref_{tag}.npy", r["ref"])
            r["ref_error"] = None
        except Exception as e:  # e.g. a com.microsoft op the evaluator cannot run
            r["ref"] = None
            r["ref_error"] = f"{type(e).__name__}: {e}".strip().splitlines()[0]
            stale = DATA / f"ref_{tag}.npy"
            if stale.exists():
                stale.unlink()
        results[tag] = r

    # --- report ------------------------------------------------------------------------
    acc = lambda logits: float((logits.argmax(axis=1) == y_test).mean())  # noqa: E731
    say("# digits_mlp: generation report")
    say()
    say("Generated by `examples/digits_mlp/make_model.py`; do not edit by hand.")
    say()
    say("## Versions")
    say()
    say(f"- python {sys.version.split()[0]}")
    for k, v in pkg_versions().items():
        say(f"- {k} {v}")
    say()
    say("## Data and float model")
    say()
    say(
        f"- sklearn digits: {len(x_all)} samples, 64 features scaled to [0,1] (/16), "
        f"train {len(x_train)} / test {len(x_test)} (stratified, random_state=0)"
    )
    say(
        f"- MLPClassifier(hidden_layer_sizes=(64, 32), relu, random_state=0, max_iter=500): "
        f"{mlp.n_iter_} iterations, final loss {mlp.loss_:.6f}"
    )
    say(f"- calibration: first {N_CALIB} training samples, MinMax, batch 1; quantize_static with "
        "activation and weight type QInt8, per_channel=True, no quant_pre_process")
    say(f"- float accuracy: scikit-learn {sk_acc:.4f}, mlp_f32.onnx in onnxruntime {acc(f32_ort):.4f}, "
        f"in ReferenceEvaluator {acc(f32_ref):.4f}")
    say(f"- mlp_f32.onnx ops: {', '.join(op_list(f32))}")
    say()
    for tag, r in results.items():
        model = models[tag]
        (in_s, in_z, in_t), (out_s, out_z, out_t) = r["io"]
        say(f"## mlp_{tag}.onnx")
        say()
        say(f"- opset imports: {r['opsets']}; ir_version {model.ir_version}")
        say(f"- input  x:      QuantizeLinear   scale {in_s!r}, zero point {in_z} ({in_t})")
        say(f"- output logits: DequantizeLinear scale {out_s!r}, zero point {out_z} ({out_t})")
        say("- nodes, in order:")
        for i, (n, s) in enumerate(zip(model.graph.node, r["ops"])):
            say(f"  {i:2d}. {s}  `{n.name}`")
        contrib = [s for s in r["ops"] if "com.microsoft" in s]
        if contrib:
            say(f"- com.microsoft contrib ops: {', '.join(sorted(set(contrib)))}")
        say(f"- onnxruntime accuracy: {acc(r['ort']):.4f}")
        if r["ref"] is None:
            say(f"- ReferenceEvaluator: cannot run this model ({r['ref_error']}); "
                f"no ref_{tag}.npy is written")
        else:
            ref, o = r["ref"], r["ort"]
            eq = float((ref.view(np.uint32) == o.view(np.uint32)).mean())
            diff_units = np.abs(ref.astype(np.float64) - o.astype(np.float64)) / out_s
            argmax_eq = float((ref.argmax(1) == o.argmax(1)).mean())
            say(f"- ReferenceEvaluator accuracy: {acc(ref):.4f} (opset import raised to "
                f"{EVAL_OPSET} in an evaluation-only copy)")
            say(f"- onnxruntime vs reference: {eq:.4f} of outputs bit-identical; "
                f"max |diff| {diff_units.max():.3f} output-scale units; "
                f"argmax agrees on {argmax_eq:.4f} of samples")
        say()
    say("## Files")
    say()
    files = sorted([*HERE.glob("*.onnx"), *DATA.glob("*.npy")])
    for f in files:
        say(f"- {f.relative_to(HERE)}: {f.stat().st_size} bytes")
    say(f"- total: {sum(f.stat().st_size for f in files)} bytes")
    (HERE / "REPORT.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
