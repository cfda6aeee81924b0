"""The generation flow of the CNN examples (digits_cnn, digits_resnet): train a Keras
model on the 8x8 digits, export it to float ONNX (NCHW), quantize it with onnxruntime
in QDQ and QOperator form, convert it to a full-int8 TFLite model, evaluate every form
with its normative reference (onnx.reference.ReferenceEvaluator; the TFLite reference
kernels through ai-edge-litert's BUILTIN_REF resolver) and onnxruntime, and write the
files and REPORT.md next to the example's script.

Run with the venv of `scripts/py_env.sh tf`.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402

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
from keras_onnx import keras_to_onnx  # noqa: E402

EPOCHS = 40


def train(build, x_train, y_train):
    import keras

    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0, shuffle=True)
    return model, hist.history["loss"][-1]


def to_tflite(model, x_calib: np.ndarray) -> bytes:
    """Full-int8 conversion (int8 input and output), batch fixed to 1."""
    import keras

    # The same layers and weights behind an input of batch 1.
    fixed = keras.models.clone_model(model, input_tensors=keras.Input(model.input.shape[1:], batch_size=1, name="x"))
    fixed.set_weights(model.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x_calib[i : i + 1]] for i in range(len(x_calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def run_tflite(path: Path, x: np.ndarray):
    """(int8 inputs fed, int8 outputs) of the TFLite reference kernels, one sample at a time."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = inp["quantization"]
    # Quantizing the float input is the caller's job for an int8-input model: round half
    # to even, as TFLite's own Quantize kernel does.
    q = np.clip(np.rint(x / np.float32(scale)) + zero, -128, 127).astype(np.int8)
    outs = []
    for i in range(len(q)):
        it.set_tensor(inp["index"], q[i : i + 1])
        it.invoke()
        outs.append(it.get_tensor(out["index"]).copy())
    return q, np.concatenate(outs), inp, out


def tflite_ops(path: Path) -> list[str]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return [d["op_name"] for d in it._get_ops_details()]


def generate(here: Path, stem: str, title: str, build, describe: str) -> None:
    data = here / "data"
    data.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(s: str = ""):
        print(s)
        lines.append(s)

    x_all, y_all, x_train, x_test, y_train, y_test = digits_split()
    nhwc = lambda x: x.reshape(-1, 8, 8, 1)  # noqa: E731
    nchw = lambda x: x.reshape(-1, 1, 8, 8)  # noqa: E731
    model, loss = train(build, nhwc(x_train), y_train)
    keras_acc = accuracy(model.predict(nhwc(x_test), verbose=0), y_test)

    f32 = keras_to_onnx(model, stem, f"tessera-examples-{here.name}")
    f32_path = here / f"{stem}_f32.onnx"
    onnx.save(f32, str(f32_path))
    models = quantize_both(f32_path, stem, nchw(x_train[:N_CALIB]))
    np.save(data / "x_test.npy", x_test)
    np.save(data / "y_test.npy", y_test)
    f32_ref = run_reference(f32, nchw(x_test))

    results = {}
    for tag, m in models.items():
        path = here / f"{stem}_{tag}.onnx"
        ref = run_reference(m, nchw(x_test))
        ort_out = run_ort(path, nchw(x_test))
        np.save(data / f"ref_{tag}.npy", ref)
        np.save(data / f"ort_{tag}.npy", ort_out)
        results[tag] = (m, ref, ort_out)

    tfl_path = here / f"{stem}_int8.tflite"
    tfl_path.write_bytes(to_tflite(model, nhwc(x_train[:N_CALIB])))
    q_in, tfl_out, tfl_in_d, tfl_out_d = run_tflite(tfl_path, nhwc(x_test))
    np.save(data / "x_test_int8.npy", q_in.reshape(len(q_in), -1))
    np.save(data / "ref_tflite.npy", tfl_out)

    acc = lambda logits: accuracy(logits, y_test)  # noqa: E731
    say(f"# {here.name}: generation report")
    say()
    say(f"Generated by `examples/{here.name}/make_model.py`; do not edit by hand.")
    say()
    say("## Versions")
    say()
    say(f"- python {python_version()}")
    for k, v in pkg_versions(("tensorflow-cpu", "keras", "ai-edge-litert")).items():
        say(f"- {k} {v}")
    say()
    say(f"## Data and float model: {title}")
    say()
    say(f"- sklearn digits: {len(x_all)} samples, 8x8 pixels scaled to [0,1] (/16), "
        f"train {len(x_train)} / test {len(x_test)} (stratified, random_state=0)")
    say(f"- {describe}")
    say(f"- Keras training: Adam 1e-3, batch 32, {EPOCHS} epochs, seed 0, deterministic ops; "
        f"final loss {loss:.6f}")
    say(f"- float accuracy: Keras {keras_acc:.4f}, {stem}_f32.onnx in ReferenceEvaluator {acc(f32_ref):.4f}")
    say(f"- {stem}_f32.onnx ops: {', '.join(op_list(f32))}")
    say(f"- calibration: first {N_CALIB} training samples, batch 1")
    say()
    for tag, (m, ref, ort_out) in results.items():
        (in_s, in_z, in_t), (out_s, out_z, out_t) = io_qparams(m)
        say(f"## {stem}_{tag}.onnx")
        say()
        say(f"- opset imports: { {i.domain or 'ai.onnx': i.version for i in m.opset_import} }")
        say(f"- input  x:      QuantizeLinear   scale {in_s!r}, zero point {in_z} ({in_t})")
        say(f"- output logits: DequantizeLinear scale {out_s!r}, zero point {out_z} ({out_t})")
        say(f"- nodes ({len(m.graph.node)}): {', '.join(op_list(m))}")
        say(f"- ReferenceEvaluator accuracy: {acc(ref):.4f} (opset import raised to {EVAL_OPSET} "
            "in an evaluation-only copy)")
        say(f"- onnxruntime accuracy: {acc(ort_out):.4f}; vs reference: {agreement(ref, ort_out, out_s)}")
        say()
    say(f"## {stem}_int8.tflite")
    say()
    say("- tf.lite.TFLiteConverter, Optimize.DEFAULT, representative dataset = the calibration "
        "samples, TFLITE_BUILTINS_INT8, int8 input and output, batch 1")
    say(f"- input  {tfl_in_d['shape'].tolist()} int8, scale {tfl_in_d['quantization'][0]!r}, "
        f"zero point {tfl_in_d['quantization'][1]}; output {tfl_out_d['shape'].tolist()} int8, scale "
        f"{tfl_out_d['quantization'][0]!r}, zero point {tfl_out_d['quantization'][1]}")
    say(f"- ops: {', '.join(tflite_ops(tfl_path))}")
    say(f"- reference kernels (BUILTIN_REF) accuracy: {acc(tfl_out.astype(np.float32)):.4f}")
    say()
    say("## Files")
    say()
    files = sorted([*here.glob("*.onnx"), *here.glob("*.tflite"), *data.glob("*.npy")])
    for f in files:
        say(f"- {f.relative_to(here)}: {f.stat().st_size} bytes")
    (here / "REPORT.md").write_text("\n".join(lines) + "\n")
