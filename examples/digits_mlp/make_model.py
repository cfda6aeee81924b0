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

import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "shared"))
from digits_onnx import (  # noqa: E402
    EVAL_OPSET,
    N_CALIB,
    accuracy,
    agreement,
    digits_split,
    io_qparams,
    op_list,
    pkg_versions,
    python_version,
    quantize_both,
    run_ort,
    run_reference,
)

DATA = HERE / "data"
OPSET = 13
IR_VERSION = 7  # the IR version that goes with opset 13


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


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(s: str = ""):
        print(s)
        lines.append(s)

    # --- data and float training -------------------------------------------------------
    x_all, y_all, x_train, x_test, y_train, y_test = digits_split()
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), activation="relu", random_state=0, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    sk_acc = float((mlp.predict(x_test) == y_test).mean())

    f32 = build_f32_model(mlp)
    f32_path = HERE / "mlp_f32.onnx"
    onnx.save(f32, str(f32_path))

    # --- quantization ------------------------------------------------------------------
    models = quantize_both(f32_path, "mlp", x_train[:N_CALIB])

    # --- outputs -----------------------------------------------------------------------
    f32_ort = run_ort(f32_path, x_test)
    f32_ref = run_reference(f32, x_test)
    np.save(DATA / "x_test.npy", x_test)
    np.save(DATA / "y_test.npy", y_test)

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
    acc = lambda logits: accuracy(logits, y_test)  # noqa: E731
    say("# digits_mlp: generation report")
    say()
    say("Generated by `examples/digits_mlp/make_model.py`; do not edit by hand.")
    say()
    say("## Versions")
    say()
    say(f"- python {python_version()}")
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
            say(f"- ReferenceEvaluator accuracy: {acc(r['ref']):.4f} (opset import raised to "
                f"{EVAL_OPSET} in an evaluation-only copy)")
            say(f"- onnxruntime vs reference: {agreement(r['ref'], r['ort'], out_s)}")
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
