"""Trains, exports, quantizes and evaluates the int8 digits ResNet-style example: two
residual blocks (conv-relu-conv plus the identity, then relu), as in ResNet's basic block.

    PY=$(bash scripts/py_env.sh tf | tail -n 1)
    $PY examples/digits_resnet/make_model.py

Writes resnet_f32.onnx, resnet_qdq.onnx, resnet_qop.onnx, resnet_int8.tflite,
data/*.npy and REPORT.md next to this file (see examples/shared/digits_cnn_flow.py).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "shared"))
from digits_cnn_flow import generate  # noqa: E402


def build(keras):
    layers = keras.layers
    x = keras.Input((8, 8, 1), name="x")
    y = layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(x)
    for block, pool in (("block0", "pool0"), ("block1", "pool1")):
        r = layers.Conv2D(16, 3, padding="same", activation="relu", name=f"{block}_conv0")(y)
        r = layers.Conv2D(16, 3, padding="same", name=f"{block}_conv1")(r)
        y = layers.Add(name=f"{block}_add")([y, r])
        y = layers.ReLU(name=f"{block}_relu")(y)
        y = layers.MaxPooling2D(2, name=pool)(y)
    y = layers.Flatten(name="flatten")(y)
    y = layers.Dense(10, name="fc")(y)
    return keras.Model(x, y, name="digits_resnet")


if __name__ == "__main__":
    generate(HERE, "resnet", "a ResNet-style CNN", build,
             "stem conv3x3(16) relu; 2 x [basic block: conv3x3(16) relu, conv3x3(16), add identity, relu; "
             "maxpool 2x2]; flatten (64); dense 10")
