"""Trains, exports, quantizes and evaluates the int8 digits CNN example.

    PY=$(bash scripts/py_env.sh tf | tail -n 1)
    $PY examples/digits_cnn/make_model.py

Writes cnn_f32.onnx, cnn_qdq.onnx, cnn_qop.onnx, cnn_int8.tflite, data/*.npy and
REPORT.md next to this file (see examples/shared/digits_cnn_flow.py).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "shared"))
from digits_cnn_flow import generate  # noqa: E402


def build(keras):
    """x[8,8,1] -> conv3x3(8) relu -> conv3x3(16) relu -> maxpool 2 -> flatten -> dense(10)."""
    x = keras.Input((8, 8, 1), name="x")
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv0")(x)
    y = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(y)
    y = keras.layers.MaxPooling2D(2, name="pool")(y)
    y = keras.layers.Flatten(name="flatten")(y)
    y = keras.layers.Dense(10, name="fc")(y)
    return keras.Model(x, y, name="digits_cnn")


if __name__ == "__main__":
    generate(HERE, "cnn", "a two-layer CNN",  build,
             "conv3x3(8, same) relu, conv3x3(16, same) relu, maxpool 2x2, flatten (256), dense 10")
