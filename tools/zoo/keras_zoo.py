"""The Keras half of the model zoo (issue 18): keras.applications architectures with
random weights (`weights=None`, fixed seeds, no download) converted to full-integer
TFLite with a representative dataset, plus a TF1-style uint8 model with asymmetric
weights and a small detection-style model. Every model gets its golden data from
TFLite's reference kernels (ai-edge-litert, OpResolverType.BUILTIN_REF) alone:

    <dir>/<name>.tflite
    <dir>/<name>/x.npy          [N, ...] inputs (int8 or uint8, the model's input type)
    <dir>/<name>/ref.npy        [N, ...] the model's output
    <dir>/<name>/ref_logits.npy the tensor the final SOFTMAX reads (softmax saturates on
                                random weights and could hide an error), if any
    <dir>/<name>/inter/<k>.npy  intermediate tensors of sample 0 (models with `layers`),
                                named in the manifest, for per-layer checks
    <dir>/manifest.json         every model: file, format, family, I/O, references, size

"small" models (narrow, low resolution: tens to a few hundred KB) go to
tests/fixtures/zoo and are committed; "large" ones (224x224 MobileNetV2, ResNet-50, ...)
go to ${TESSERA_ZOO:-$HOME/.cache/tessera/zoo} and never are.

usage (from the repository, venv of `scripts/py_env.sh tf`):
    python tools/zoo/keras_zoo.py small|large [NAME...]
`bash tools/zoo/build.sh [--large]` runs it.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "fixtures"))
from tflite_coverage import convert_int8, tf1_uint8  # noqa: E402
from manifest import update_manifest, zoo_dir  # noqa: E402  (tools/zoo, the script's own directory)

A = keras.applications
L = keras.layers


def headed(backbone, classes=10):
    """A backbone without its 1000-class top, global-average-pooled, under a small
    softmax classifier: keeps the architecture and a committable size."""
    y = L.Dense(classes, activation="softmax", name="classifier")(backbone.output)
    return keras.Model(backbone.input, y, name=backbone.name)


def small(fn, res, **kw):
    return lambda: headed(fn(input_shape=(res, res, 3), include_top=False, weights=None, pooling="avg", **kw))


def full(fn, res, **kw):
    return lambda: fn(input_shape=(res, res, 3), weights=None, **kw)


def efficientnet_small(res):
    """EfficientNet's blocks (MBConv, squeeze-excite, swish) at a quarter of B0's width
    and a third of its depth."""
    from keras.src.applications.efficientnet import EfficientNet

    return lambda: headed(
        EfficientNet(0.25, 0.34, res, 0.2, name="efficientnet_small", include_top=False,
                     weights=None, input_shape=(res, res, 3), pooling="avg"))


def resnet_small(res, v2=False):
    """ResNet-50's bottleneck stacks (v1, or v2 with pre-activation), one block a
    stage and a quarter of the filters."""
    from keras.src.applications import resnet

    if v2:
        def stack_fn(x):
            x = resnet.stack_residual_blocks_v2(x, 16, 2, name="conv2")
            x = resnet.stack_residual_blocks_v2(x, 32, 2, name="conv3")
            return resnet.stack_residual_blocks_v2(x, 64, 2, stride1=1, name="conv4")
    else:
        def stack_fn(x):
            x = resnet.stack_residual_blocks_v1(x, 16, 1, stride1=1, name="conv2")
            x = resnet.stack_residual_blocks_v1(x, 32, 2, name="conv3")
            return resnet.stack_residual_blocks_v1(x, 64, 2, name="conv4")

    name = "resnet_v2_small" if v2 else "resnet_small"
    return lambda: headed(resnet.ResNet(stack_fn, v2, True, name=name, include_top=False, weights=None,
                                        input_shape=(res, res, 3), pooling="avg"))


def densenet_small(res):
    from keras.src.applications.densenet import DenseNet

    return lambda: headed(DenseNet([2, 2, 2, 2], include_top=False, weights=None, input_shape=(res, res, 3),
                                   pooling="avg", name="densenet_small"))


def nasnet_small(res):
    from keras.src.applications.nasnet import NASNet

    return lambda: headed(NASNet(input_shape=(res, res, 3), penultimate_filters=96, num_blocks=1,
                                 stem_block_filters=8, skip_reduction=False, filter_multiplier=2,
                                 include_top=False, weights=None, pooling="avg", default_size=res))


class _Narrow:
    """A module's `layers` namespace whose convolutions have `k` times fewer filters:
    an application whose constructor has no width argument, at a committable size."""

    def __init__(self, k):
        self.k = k

    def __getattr__(self, attr):
        make = getattr(L, attr)
        if attr not in ("Conv2D", "SeparableConv2D"):
            return make
        return lambda filters, *args, **kw: make(max(1, filters // self.k), *args, **kw)


def narrowed(module, k, build):
    """`build()` with `module`'s convolutions `k` times narrower (its `layers`
    namespace, or its `conv2d_bn` helper, patched for the call)."""

    def run():
        if hasattr(module, "conv2d_bn"):
            conv2d_bn = module.conv2d_bn

            def narrow(x, filters, *args, name=None, **kw):
                # Inception-ResNet's `_conv` projection matches the (already narrow) shortcut.
                keep = name is not None and name.endswith("_conv") and name.startswith("block")
                return conv2d_bn(x, filters if keep else max(1, filters // k), *args, name=name, **kw)

            module.conv2d_bn = narrow
            try:
                return build()
            finally:
                module.conv2d_bn = conv2d_bn
        saved = module.layers
        module.layers = _Narrow(k)
        try:
            return build()
        finally:
            module.layers = saved

    return run


def narrow_app(module_name, fn, k, res, **kw):
    """keras.applications `fn` (of `keras.src.applications.<module_name>`) at input
    `res` with `k` times fewer filters per convolution, under a 10-class head."""
    import importlib

    module = importlib.import_module(f"keras.src.applications.{module_name}")
    return lambda: headed(narrowed(module, k, lambda: getattr(module, fn)(
        input_shape=(res, res, 3), include_top=False, weights=None, pooling="avg", **kw))())


def efficientnet_v2_small(res):
    """EfficientNetV2-B0's blocks (fused MBConv in the first stages, MBConv with
    squeeze-excite after) at a quarter of the width and a third of the depth."""
    from keras.src.applications.efficientnet_v2 import DEFAULT_BLOCKS_ARGS, EfficientNetV2

    return lambda: headed(
        EfficientNetV2(0.25, 0.34, res, name="efficientnetv2_small",
                       blocks_args=DEFAULT_BLOCKS_ARGS["efficientnetv2-b0"],
                       include_top=False, weights=None, input_shape=(res, res, 3), pooling="avg",
                       include_preprocessing=False))


def convnext_small(res):
    """ConvNeXt's blocks (7x7 depthwise, LayerNorm, GELU, layer scale) at 1 block a
    stage and 16 to 128 channels."""
    from keras.src.applications.convnext import ConvNeXt

    return lambda: headed(ConvNeXt([1, 1, 1, 1], [16, 32, 64, 128], default_size=res, name="convnext_small",
                                   include_preprocessing=False, include_top=False, weights=None,
                                   input_shape=(res, res, 3), pooling="avg"))


def regnetx_small(res):
    """RegNetX's X block (1x1 conv, 3x3 grouped conv of group width 8, 1x1 conv, residual;
    a strided 1x1 projection where the shape changes) as RegNetX-200MF stacks them
    (stem of 32, stages of depths [1, 1, 4, 7]) at a third of its widths."""

    def conv_bn(y, filters, kernel, stride=1, groups=1, relu=True, name=""):
        y = L.Conv2D(filters, kernel, strides=stride, padding="same", groups=groups, use_bias=False,
                     name=f"{name}_conv")(y)
        y = L.BatchNormalization(name=f"{name}_bn")(y)
        return L.ReLU(name=f"{name}_relu")(y) if relu else y

    def x_block(y, filters, stride, name):
        shortcut = y
        if stride != 1 or y.shape[-1] != filters:
            shortcut = conv_bn(y, filters, 1, stride, relu=False, name=f"{name}_skip")
        y = conv_bn(y, filters, 1, name=f"{name}_a")
        y = conv_bn(y, filters, 3, stride, groups=filters // 8, name=f"{name}_b")
        y = conv_bn(y, filters, 1, relu=False, name=f"{name}_c")
        return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([y, shortcut]))

    def build():
        x = keras.Input((res, res, 3), batch_size=1, name="image")
        y = conv_bn(x, 16, 3, 2, name="stem")
        for stage, (depth, width) in enumerate(zip([1, 1, 4, 7], [8, 24, 48, 120])):
            for b in range(depth):
                y = x_block(y, width, 2 if b == 0 else 1, f"s{stage}_b{b}")
        y = L.GlobalAveragePooling2D(name="pool")(y)
        return headed(keras.Model(x, y, name="regnetx_small"))

    return build


def vgg_small(res):
    """VGG16 (13 3x3 convolutions in 5 blocks, max pooling between them) at an
    eighth of its width."""
    return narrow_app("vgg16", "VGG16", 8, res)


def segmenter(res=64):
    """A segmentation-style model: an encoder at three scales and a feature-pyramid
    decoder that upsamples bilinearly (RESIZE_BILINEAR) in the three forms converters
    write: half-pixel centers (Keras' Resizing and UpSampling2D, TF2), align-corners
    and neither (TF1's resize_bilinear), then per-pixel class scores through a softmax."""
    import tensorflow as tf

    def resize(mode, size):
        def f(t):
            if mode == "half_pixel":
                return tf.image.resize(t, size, method="bilinear")
            return tf.compat.v1.image.resize_bilinear(t, size, align_corners=mode == "align_corners")

        return L.Lambda(f, name=f"up_{mode}")

    x = keras.Input((res, res, 3), batch_size=1, name="image")
    e1 = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="enc1")(x)
    e2 = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="enc2")(e1)
    e3 = L.Conv2D(24, 3, strides=2, padding="same", activation="relu", name="enc3")(e2)
    d = resize("align_corners", (res // 4, res // 4))(L.Conv2D(16, 1, name="lat3")(e3))
    d = L.Add(name="merge2")([d, L.Conv2D(16, 1, name="lat2")(e2)])
    d = resize("half_pixel", (res // 2, res // 2))(L.Conv2D(8, 3, padding="same", activation="relu", name="dec2")(d))
    d = L.Add(name="merge1")([d, L.Conv2D(8, 1, name="lat1")(e1)])
    d = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(d)
    d = resize("asymmetric", (res * 3 // 8, res * 3 // 8))(d)
    d = L.UpSampling2D(2, interpolation="bilinear", name="up_keras")(L.Conv2D(6, 1, name="classes")(d))
    y = L.Softmax(name="scores")(d)
    return keras.Model(x, y, name="segmenter")


def detector():
    """A detection-style head: a strided conv backbone, features at two scales, the
    coarse one upsampled (RESIZE_NEAREST_NEIGHBOR: Keras 3 converts UpSampling2D to TILE, which the reference kernels of ai-edge-litert 2.3 lack) and concatenated with the fine one,
    per-cell box and objectness outputs through a sigmoid."""
    x = keras.Input((64, 64, 3), batch_size=1, name="image")
    y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="stem")(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6", name="dw1")(y)
    fine = L.Conv2D(16, 1, strides=2, activation="relu", name="fine")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6", name="dw2")(fine)
    coarse = L.Conv2D(32, 1, activation="relu", name="coarse")(y)
    up = L.Resizing(16, 16, interpolation="nearest", name="upsample")(coarse)
    y = L.Concatenate(name="concat")([up, fine])
    y = L.Conv2D(24, 3, padding="same", activation="relu", name="neck")(y)
    y = L.Conv2D(3 * 6, 1, activation="sigmoid", name="head")(y)
    return keras.Model(x, y, name="detector")


def mobilenet_tf1_uint8():
    """A TF1 quantization-aware MobileNet-v1 slice converted with inference_type uint8:
    uint8 weights with non-zero zero points (the Coral / TF1 family)."""

    def build(x, fq, const):
        def conv(y, cin, cout, stride, lo, hi):
            w = fq(const((3, 3, cin, cout), 0.3), lo, hi)
            y = tf.nn.conv2d(y, w, strides=stride, padding="SAME") + const(cout, 0.1)
            return fq(tf.nn.relu6(y), 0.0, 6.0)

        def dw_pw(y, cin, cout, stride, lo, hi):
            w = fq(const((3, 3, cin, 1), 0.4), -0.8, 0.6)
            y = tf.nn.depthwise_conv2d(y, w, strides=[1, stride, stride, 1], padding="SAME") + const(cin, 0.1)
            y = fq(tf.nn.relu6(y), 0.0, 6.0)
            w = fq(const((1, 1, cin, cout), 0.25), lo, hi)
            y = tf.nn.conv2d(y, w, strides=1, padding="SAME") + const(cout, 0.1)
            return fq(tf.nn.relu6(y), 0.0, 6.0)

        y = conv(x, 3, 8, 2, -0.7, 0.9)
        y = dw_pw(y, 8, 16, 1, -0.5, 0.6)
        y = dw_pw(y, 16, 32, 2, -0.45, 0.7)
        y = dw_pw(y, 32, 32, 1, -0.6, 0.5)
        y = dw_pw(y, 32, 64, 2, -0.4, 0.55)
        y = tf.reduce_mean(y, axis=[1, 2], keepdims=True)
        y = tf.reshape(y, [1, 64])
        y = fq(tf.matmul(y, fq(const((64, 10), 0.2), -0.35, 0.3)) + const(10, 0.1), -8.0, 8.0)
        return fq(tf.nn.softmax(y), 0.0, 1.0, name="probabilities")

    return tf1_uint8(build, [1, 48, 48, 3])


# name: (builder, size class, family, layers to check per layer (0 = none), I/O types, input range)
# `io` lists the I/O types each converted variant gets: int8 and uint8.
MODELS = {
    # --- committed: narrow, low-resolution variants ---
    "mobilenet_v1_025_64": (small(A.MobileNet, 64, alpha=0.25), "small", "mobilenet_v1", 6, ("int8", "uint8")),
    "mobilenet_v2_035_96": (small(A.MobileNetV2, 96, alpha=0.35), "small", "mobilenet_v2", 6, ("int8", "uint8")),
    "mobilenet_v3_small_035_64": (small(A.MobileNetV3Small, 64, alpha=0.35, include_preprocessing=False),
                                  "small", "mobilenet_v3", 6, ("int8",)),
    "mobilenet_v3_large_035_64": (small(A.MobileNetV3Large, 64, alpha=0.35, include_preprocessing=False),
                                  "small", "mobilenet_v3", 0, ("int8",)),
    "efficientnet_small_64": (efficientnet_small(64), "small", "efficientnet", 6, ("int8",)),
    "resnet_small_64": (resnet_small(64), "small", "resnet", 6, ("int8", "uint8")),
    "resnet_v2_small_64": (resnet_small(64, v2=True), "small", "resnet_v2", 6, ("int8",)),
    "densenet_small_64": (densenet_small(64), "small", "densenet", 6, ("int8",)),
    "detector_64": (detector, "small", "detector", 6, ("int8",)),
    "mobilenet_tf1_uint8": (None, "small", "mobilenet_v1", 6, ("uint8",)),
    # (each built in a fresh Keras session: see `fresh_session`)
    "nasnet_small_64": (nasnet_small(64), "small", "nasnet", 6, ("int8",)),
    "inception_v3_small_75": (narrow_app("inception_v3", "InceptionV3", 8, 75), "small", "inception_v3", 6, ("int8",)),
    "inception_resnet_v2_small_75": (narrow_app("inception_resnet_v2", "InceptionResNetV2", 16, 75), "small",
                                     "inception_resnet_v2", 6, ("int8",)),
    "xception_small_71": (narrow_app("xception", "Xception", 8, 71), "small", "xception", 6, ("int8",)),
    "vgg16_small_64": (vgg_small(64), "small", "vgg", 6, ("int8", "uint8")),
    "regnetx_small_64": (regnetx_small(64), "small", "regnetx", 6, ("int8",)),
    "efficientnet_v2_small_64": (efficientnet_v2_small(64), "small", "efficientnet_v2", 6, ("int8",)),
    "convnext_small_64": (convnext_small(64), "small", "convnext", 6, ("int8",)),
    "segmenter_64": (segmenter, "small", "segmenter", 6, ("int8",)),
    # --- cached, never committed: the full architectures at ImageNet scale ---
    "mobilenet_v2_224": (full(A.MobileNetV2, 224), "large", "mobilenet_v2", 0, ("int8",)),
    "resnet50_224": (full(A.ResNet50, 224), "large", "resnet", 0, ("int8",)),
    "mobilenet_v1_224": (full(A.MobileNet, 224), "large", "mobilenet_v1", 0, ("int8",)),
    "mobilenet_v3_small_224": (full(A.MobileNetV3Small, 224), "large", "mobilenet_v3", 0, ("int8",)),
    "mobilenet_v3_large_224": (full(A.MobileNetV3Large, 224), "large", "mobilenet_v3", 0, ("int8",)),
    "efficientnet_b0_224": (full(A.EfficientNetB0, 224), "large", "efficientnet", 0, ("int8",)),
    "densenet121_224": (full(A.DenseNet121, 224), "large", "densenet", 0, ("int8",)),
    "resnet50_v2_224": (full(A.ResNet50V2, 224), "large", "resnet_v2", 0, ("int8",)),
}


def fresh_session(name):
    """Whether `name` is built in a fresh Keras session: the small models listed after
    `mobilenet_tf1_uint8` are, so that their tensor names (Keras numbers unnamed layers
    and tensors with process-wide counters) do not depend on what was built before
    them, and `build.sh NAME` reproduces their files alone; the ones before keep the
    names of their committed files, which a whole-set build reproduces."""
    names = list(MODELS)
    return MODELS[name][1] == "small" and names.index(name) > names.index("mobilenet_tf1_uint8")


def smooth(rng, shape, lo, hi):
    """Low-resolution uniform noise upsampled (nearest) to the input's size: image-like."""
    h, w, c = shape
    z = rng.uniform(lo, hi, (max(1, -(-h // 8)), max(1, -(-w // 8)), c))
    z = np.repeat(np.repeat(z, 8, 0), 8, 1)[:h, :w]
    return z.astype(np.float32)


def normalize(model, calib, rng):
    """Gives every batch normalization the statistics of its input on the calibration
    data (and a random scale and shift), as training would: random weights alone make
    activations vanish or explode layer after layer, leaving the deep layers of a
    quantized model nothing but rounding noise."""
    x = np.concatenate(calib)
    for layer in model.layers:
        if not isinstance(layer, L.BatchNormalization):
            continue
        z = keras.Model(model.input, layer.input).predict(x, verbose=0)
        axes = tuple(range(z.ndim - 1))
        layer.moving_mean.assign(z.mean(axis=axes))
        layer.moving_variance.assign(z.var(axis=axes) + 1e-3)
        if layer.gamma is not None:
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype(np.float32))
        if layer.beta is not None:
            layer.beta.assign(rng.normal(0.2, 0.3, layer.beta.shape).astype(np.float32))


def tame_logits(model, calib):
    """Scales the last weighted layer so that its outputs (the logits) stay within
    about +-8 on the calibration data: random weights through 50 layers give logits
    so large that TFLite's softmax refuses its input scale (PreprocessSoftmaxScaling
    aborts)."""
    last = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None][-1]
    activation = last.activation
    last.activation = keras.activations.linear
    z = keras.Model(model.input, last.output).predict(np.concatenate(calib), verbose=0)
    last.activation = activation
    k = 8.0 / max(float(np.abs(z).max()), 1e-12)
    last.kernel.assign(last.kernel * k)
    if getattr(last, "bias", None) is not None:
        last.bias.assign(last.bias * k)


def calibration(model, seed):
    """The representative dataset (image-like and uniform samples in [-1, 1]), after
    giving the model trained-like statistics on it."""
    shape = tuple(model.input_shape[1:])
    rng = np.random.default_rng(seed)
    calib = [smooth(rng, shape, -1, 1)[None] for _ in range(3)] + [
        rng.uniform(-1, 1, (1, *shape)).astype(np.float32) for _ in range(1)]
    normalize(model, calib, rng)
    tame_logits(model, calib)
    return calib


def interpreter(path, keep=False):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=keep)
    it.allocate_tensors()
    return it


def inputs(it, seed, n):
    """`n` samples of the model's input type: smooth ones, then uniform ones."""
    d = it.get_input_details()[0]
    shape, dtype = tuple(int(s) for s in d["shape"]), d["dtype"]
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    xs = []
    for i in range(n):
        if i % 2 == 0:
            z = smooth(rng, shape[1:], info.min, info.max + 0.99)[None]
            xs.append(np.floor(z).astype(dtype))
        else:
            xs.append(rng.integers(info.min, info.max + 1, shape, dtype=dtype))
    return np.concatenate(xs)


def write(out: Path, name: str, family: str, size: str, fmt: str, flatbuffer: bytes, layers: int, n: int):
    path = out / f"{name}.tflite"
    path.write_bytes(flatbuffer)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    it = interpreter(path, keep=True)
    ops = it._get_ops_details()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    softmax = [o for o in ops if o["op_name"] == "SOFTMAX"]
    logits = int(softmax[-1]["inputs"][0]) if softmax else None
    # Intermediates: the outputs of `layers` operators spread over the graph (not the
    # last), among those that compute 8-bit activations (not shape arithmetic, which the
    # compiler folds away).
    picks = []
    if layers:
        acts = [o for o in ops[:-1] if tensors[int(o["outputs"][0])]["dtype"] in (np.int8, np.uint8)]
        step = max(1, len(acts) // (layers + 1))
        picks = [int(acts[k]["outputs"][0]) for k in range(step, len(acts), step)][:layers]
    x = inputs(it, sum(map(ord, name)), n)
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    refs, lgs, inter = [], [], {}
    for i in range(n):
        it.set_tensor(inp["index"], x[i:i + 1])
        it.invoke()
        refs.append(it.get_tensor(outp["index"]).copy())
        if logits is not None:
            lgs.append(it.get_tensor(logits).copy())
        if i == 0:
            inter = {k: it.get_tensor(k).copy() for k in picks}
    np.save(d / "x.npy", x)
    np.save(d / "ref.npy", np.concatenate(refs))
    if logits is not None:
        np.save(d / "ref_logits.npy", np.concatenate(lgs))
    (d / "inter").mkdir(exist_ok=True)
    for old in (d / "inter").glob("*.npy"):
        old.unlink()
    names = []
    for j, k in enumerate(picks):
        np.save(d / "inter" / f"{j}.npy", inter[k])
        names.append(tensors[k]["name"])
    entry = {
        "name": name, "file": f"{name}.tflite", "format": fmt, "family": family, "size": size,
        "bytes": len(flatbuffer), "input": {"name": inp["name"], "shape": [int(s) for s in inp["shape"]],
                                             "dtype": np.dtype(inp["dtype"]).name},
        "output": {"name": outp["name"], "shape": [int(s) for s in outp["shape"]],
                   "dtype": np.dtype(outp["dtype"]).name},
        "samples": n, "reference": "ai-edge-litert BUILTIN_REF",
        "logits": tensors[logits]["name"] if logits is not None else None,
        "intermediates": names, "ops": sorted({o["op_name"] for o in ops}),
    }
    print(f"{name}: {len(flatbuffer)} bytes, {len(ops)} ops {entry['ops']}", flush=True)
    return entry


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "small"
    only = set(sys.argv[2:])
    out = zoo_dir(ROOT, size, "zoo")
    n = 3 if size == "small" else 2
    for name, (build, cls, family, layers, ios) in MODELS.items():
        if cls != size or (only and name not in only):
            continue
        entries = []
        if build is None:
            entries.append(write(out, name, family, cls, "tflite-uint8-tf1", mobilenet_tf1_uint8(), layers, n))
        else:
            if fresh_session(name):
                keras.backend.clear_session()
            keras.utils.set_random_seed(sum(map(ord, name)))
            model = build()
            calib = calibration(model, sum(map(ord, name)))
            for io in ios:
                stem = name if io == "int8" else f"{name}_u8"
                fb = convert_int8(model, calib, tf.int8 if io == "int8" else tf.uint8)
                entries.append(write(out, stem, family, cls, f"tflite-{io}", fb, layers if io == "int8" else 0, n))
        update_manifest(out, entries)


if __name__ == "__main__":
    main()
