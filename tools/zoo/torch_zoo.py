"""The ONNX half of the model zoo (issue 18): torchvision architectures with random
weights (`weights=None`, fixed seeds, nothing downloaded), exported by
torch.onnx.export (TorchScript exporter, opset 19: the reference evaluator of onnx 1.22 has no DequantizeLinear before 19) and quantized by onnxruntime's
quantize_static with a calibration reader, in QDQ and QOperator forms, per-tensor and
per-channel, int8 and uint8 activations. Golden data from
onnx.reference.ReferenceEvaluator alone (the normative reference; onnxruntime rounds
QLinearConv differently and is a second opinion, whose disagreements are printed), with
the com.microsoft contrib ops of the QOperator form written from their specifications
(tools/fixtures/onnx_*.py, examples/shared/digits_onnx.py):

    <dir>/<name>.onnx
    <dir>/<name>/x.npy          [N, 3, H, W] float32 inputs (the graph's input: the
                                model starts with QuantizeLinear)
    <dir>/<name>/ref.npy        [N, classes] float32 outputs (after the last
                                DequantizeLinear)
    <dir>/<name>/inter/<k>.npy  intermediate 8-bit tensors of sample 0 (models with
                                `layers`), named in the manifest, for per-layer checks
    <dir>/manifest.json         every model: file, format, family, I/O, references, size

"small" models (narrow, low resolution) go to tests/fixtures/zoo_onnx and are
committed; "large" ones (full width at 224x224) to
${TESSERA_ZOO:-$HOME/.cache/tessera/zoo}/onnx and never are.

usage (from the repository, venv of `scripts/py_env.sh torch`):
    python tools/zoo/torch_zoo.py small|large [NAME...]
`bash tools/zoo/build_onnx.sh [--large]` runs it.
"""

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
import torchvision
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun
from onnx.reference.ops.op_dequantize_linear import DequantizeLinear_21
from onnx.reference.ops.op_quantize_linear import QuantizeLinear_21
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from torch import nn
from torchvision import models as tvm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "fixtures"))
sys.path.insert(0, str(ROOT / "examples" / "shared"))
from digits_onnx import QGemm, QLinearAdd  # noqa: E402
from manifest import update_manifest, zoo_dir  # noqa: E402  (tools/zoo, the script's own directory)
from onnx_arith import spec as activation_spec  # noqa: E402
from onnx_coverage import qlinear_gap_reference  # noqa: E402
from onnx_pool import QLinearAveragePool  # noqa: E402

OPSET = 19
F32 = np.float32


# --- com.microsoft contrib ops, from their specifications -------------------------------


def dequantize(x, s, z):
    return DequantizeLinear_21.eval(x, s, z)


def quantize(f, s, z):
    return QuantizeLinear_21.eval(f.astype(F32), s, z)


class QLinearMul(OpRun):
    """C = quantize(dequantize(A) * dequantize(B)) with numpy broadcasting."""

    op_domain = "com.microsoft"

    def _run(self, a, a_s, a_z, b, b_s, b_z, c_s, c_z):
        return (quantize(dequantize(a, a_s, a_z) * dequantize(b, b_s, b_z), c_s, c_z),)


class QLinearConcat(OpRun):
    """Y = concat(quantize(dequantize(X_i)) to Y's parameters) along `axis`."""

    op_domain = "com.microsoft"

    def _run(self, y_s, y_z, *xs, axis=None):
        parts = [quantize(dequantize(xs[i], xs[i + 1], xs[i + 2]), y_s, y_z) for i in range(0, len(xs), 3)]
        return (np.concatenate(parts, axis=axis),)


class QLinearGlobalAveragePool(OpRun):
    """tools/fixtures/onnx_coverage.qlinear_gap_reference."""

    op_domain = "com.microsoft"

    def _run(self, x, x_s, x_z, y_s, y_z, channels_last=None):
        return (qlinear_gap_reference(x, (x_s, x_z), (y_s, y_z), channels_last or 0, x.dtype.type),)


class QLinearSigmoid(OpRun):
    """tools/fixtures/onnx_arith.spec."""

    op_domain = "com.microsoft"

    def _run(self, x, x_s, x_z, y_s, y_z):
        return (activation_spec("QLinearSigmoid", x, (x_s, x_z), (y_s, y_z), x.dtype.type, 0),)


class QLinearLeakyRelu(OpRun):
    """tools/fixtures/onnx_arith.spec."""

    op_domain = "com.microsoft"

    def _run(self, x, x_s, x_z, y_s, y_z, alpha=None):
        return (activation_spec("QLinearLeakyRelu", x, (x_s, x_z), (y_s, y_z), x.dtype.type, alpha),)


CONTRIB = [QGemm, QLinearAdd, QLinearMul, QLinearConcat, QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu,
           QLinearAveragePool]


# --- architectures ----------------------------------------------------------------------


def resnet_basic(widths, blocks, classes=10):
    """ResNet-18's architecture (torchvision's stem, BasicBlocks [2, 2, 2, 2], global
    average pooling, linear head) at other widths: torchvision's ResNet fixes them at
    64 .. 512."""
    from torchvision.models.resnet import BasicBlock, conv1x1

    layers = [nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = widths[0]
    for i, (w, n) in enumerate(zip(widths, blocks)):
        for j in range(n):
            stride = 2 if i > 0 and j == 0 else 1
            down = None
            if stride != 1 or cin != w:
                down = nn.Sequential(conv1x1(cin, w, stride), nn.BatchNorm2d(w))
            layers.append(BasicBlock(cin, w, stride, down))
            cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def efficientnet(width, depth, classes=10):
    from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf

    setting, last = _efficientnet_conf("efficientnet_b0", width_mult=width, depth_mult=depth)
    return EfficientNet(setting, 0.2, last_channel=last, num_classes=classes)


def regnet_small(classes=10):
    from torchvision.models.regnet import BlockParams, RegNet

    params = BlockParams.from_init_params(depth=6, w_0=16, w_a=8.0, w_m=2.0, group_width=8)
    return RegNet(params, num_classes=classes, stem_width=16)


ARCH = {
    "resnet18": lambda: resnet_basic([8, 16, 32, 64], [2, 2, 2, 2]),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(weights=None, width_mult=0.35, num_classes=10),
    "squeezenet1_1": lambda: tvm.squeezenet1_1(weights=None, num_classes=10),
    "shufflenet_v2_x0_5": lambda: tvm.shufflenet_v2_x0_5(weights=None, num_classes=10),
    "mobilenet_v3_small": lambda: tvm.mobilenet_v3_small(weights=None, width_mult=0.5, reduced_tail=True,
                                                         num_classes=10),
    "efficientnet_b0": lambda: efficientnet(0.25, 0.34),
    "mnasnet0_25": lambda: tvm.MNASNet(0.25, num_classes=10),
    "regnet_x_400mf": regnet_small,
    # --- full width, ImageNet scale (cache only) ---
    "resnet18_full": lambda: tvm.resnet18(weights=None),
    "mobilenet_v2_full": lambda: tvm.mobilenet_v2(weights=None),
}

# name: (architecture, resolution, size class, family, quantization (format,
#        per_channel, activation type), intermediates per sample 0 (0 = none))
Q8, QU8 = QuantType.QInt8, QuantType.QUInt8
QDQ, QOP = QuantFormat.QDQ, QuantFormat.QOperator
MODELS = {
    "resnet18_w8_64_qdq": ("resnet18", 64, "small", "resnet", (QDQ, False, Q8), 6),
    "resnet18_w8_64_qdq_pc": ("resnet18", 64, "small", "resnet", (QDQ, True, Q8), 0),
    "resnet18_w8_64_qop_u8": ("resnet18", 64, "small", "resnet", (QOP, False, QU8), 6),
    "mobilenet_v2_035_64_qdq": ("mobilenet_v2", 64, "small", "mobilenet_v2", (QDQ, False, Q8), 6),
    "mobilenet_v2_035_64_qdq_pc_u8": ("mobilenet_v2", 64, "small", "mobilenet_v2", (QDQ, True, QU8), 0),
    "mobilenet_v2_035_64_qop_u8": ("mobilenet_v2", 64, "small", "mobilenet_v2", (QOP, False, QU8), 6),
    "mobilenet_v2_035_64_qop_pc": ("mobilenet_v2", 64, "small", "mobilenet_v2", (QOP, True, Q8), 0),
    "squeezenet1_1_64_qdq": ("squeezenet1_1", 64, "small", "squeezenet", (QDQ, False, Q8), 6),
    "shufflenet_v2_x0_5_64_qdq": ("shufflenet_v2_x0_5", 64, "small", "shufflenet", (QDQ, False, Q8), 6),
    "mobilenet_v3_small_050_64_qdq": ("mobilenet_v3_small", 64, "small", "mobilenet_v3", (QDQ, False, Q8), 6),
    "efficientnet_b0_025_64_qdq": ("efficientnet_b0", 64, "small", "efficientnet", (QDQ, False, Q8), 6),
    "mnasnet0_25_64_qdq": ("mnasnet0_25", 64, "small", "mnasnet", (QDQ, False, Q8), 6),
    "regnet_x_small_64_qdq": ("regnet_x_400mf", 64, "small", "regnet", (QDQ, False, Q8), 6),
    "resnet18_224_qdq": ("resnet18_full", 224, "large", "resnet", (QDQ, True, Q8), 0),
    "mobilenet_v2_224_qop_u8": ("mobilenet_v2_full", 224, "large", "mobilenet_v2", (QOP, False, QU8), 0),
}


# --- data -------------------------------------------------------------------------------


def smooth(rng, shape, lo, hi):
    """Low-resolution uniform noise upsampled (nearest) to the input's size: image-like."""
    c, h, w = shape
    z = rng.uniform(lo, hi, (c, max(1, h // 8), max(1, w // 8)))
    z = np.repeat(np.repeat(z, 8, 1), 8, 2)[:, :h, :w]
    return z.astype(F32)


def samples(seed, res, n):
    """`n` inputs in [-1, 1]: smooth (image-like), then uniform, alternately."""
    rng = np.random.default_rng(seed)
    return np.stack([smooth(rng, (3, res, res), -1, 1) if i % 2 == 0
                     else rng.uniform(-1, 1, (3, res, res)).astype(F32) for i in range(n)])


@torch.no_grad()
def normalize(model, calib, seed):
    """Gives every batch normalization its input's statistics on the calibration data
    and a random scale and shift, as training would (keras_zoo.normalize): random
    weights alone make activations vanish or explode through the depth of the net. Then
    scales the last linear layer so that the logits stay within about +-8."""
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(calib)
    for bn in [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]:
        seen = {}
        hook = bn.register_forward_hook(lambda m, i, o: seen.setdefault("x", i[0]))
        model(x)
        hook.remove()
        z = seen["x"]
        bn.running_mean.copy_(z.mean(dim=(0, 2, 3)))
        bn.running_var.copy_(z.var(dim=(0, 2, 3), unbiased=False) + 1e-3)
        bn.weight.copy_(torch.rand(bn.weight.shape, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(bn.bias.shape, generator=g) * 0.3 + 0.2)
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    k = 8.0 / max(float(model(x).abs().max()), 1e-12)
    last.weight.mul_(k)
    if last.bias is not None:
        last.bias.mul_(k)


class Reader(CalibrationDataReader):
    def __init__(self, name, calib):
        self.items = iter([{name: calib[i:i + 1]} for i in range(len(calib))])

    def get_next(self):
        return next(self.items, None)


def export(model, res) -> onnx.ModelProto:
    f = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 3, res, res),), f, input_names=["input"], output_names=["logits"],
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def quantized(fp32: onnx.ModelProto, calib, q, tmp: Path) -> onnx.ModelProto:
    fmt, per_channel, act = q
    src, dst = tmp / "fp32.onnx", tmp / "q.onnx"
    onnx.save(fp32, src)
    quantize_static(str(src), str(dst), Reader("input", calib), quant_format=fmt, per_channel=per_channel,
                    activation_type=act, weight_type=QuantType.QInt8)
    return onnx.load(dst)


def reference(m: onnx.ModelProto, x, names=None):
    ref = ReferenceEvaluator(m, new_ops=CONTRIB)
    return [ref.run(names, {"input": x[i:i + 1]}) for i in range(len(x))]


def second_opinion(name, m, x, ys):
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        ort_ys = np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
        print(f"{name}: onnxruntime differs on {int((ort_ys != ys).sum())} of {ys.size} outputs", flush=True)
    except Exception as e:  # a second opinion only
        print(f"{name}: onnxruntime did not run: {e}", flush=True)


def picks(m: onnx.ModelProto, layers: int):
    """`layers` 8-bit values spread over the graph (not the output): the outputs of the
    QuantizeLinear nodes (QDQ) or of the QLinear* nodes (QOperator) that compute them."""
    if not layers:
        return []
    inits = {i.name for i in m.graph.initializer}
    outs = []
    for n in m.graph.node[:-2]:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits and n.input[0] != "input":
            outs.append(n.output[0])
        elif n.op_type.startswith("QLinear"):
            outs.append(n.output[0])
    step = max(1, len(outs) // (layers + 1))
    return [outs[k] for k in range(step, len(outs), step)][:layers]


def write(out: Path, name: str, arch: str, family: str, size: str, q, m: onnx.ModelProto, x, layers: int):
    path = out / f"{name}.onnx"
    onnx.save(m, path)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    ys = np.concatenate([r[0] for r in reference(m, x)])
    second_opinion(name, m, x, ys)
    np.save(d / "x.npy", x)
    np.save(d / "ref.npy", ys)
    (d / "inter").mkdir(exist_ok=True)
    for old in (d / "inter").glob("*.npy"):
        old.unlink()
    names = picks(m, layers)
    if names:
        for j, v in enumerate(reference(m, x[:1], names)[0]):
            np.save(d / "inter" / f"{j}.npy", v)
    fmt, per_channel, act = q
    ops = sorted({(n.domain + "." if n.domain else "") + n.op_type for n in m.graph.node})
    entry = {
        "name": name, "file": f"{name}.onnx", "architecture": f"torchvision {arch}", "family": family,
        "size": size, "bytes": path.stat().st_size,
        "format": "onnx-qdq" if fmt == QDQ else "onnx-qop",
        "per_channel": per_channel, "activations": "uint8" if act == QU8 else "int8",
        "input": {"name": "input", "shape": list(x.shape[1:]), "dtype": "float32"},
        "output": {"name": "logits", "shape": list(ys.shape[1:]), "dtype": "float32"},
        "samples": len(x), "reference": "onnx.reference.ReferenceEvaluator (+ contrib ops from their specs)",
        "intermediates": names, "ops": ops,
    }
    print(f"{name}: {entry['bytes']} bytes, {len(m.graph.node)} nodes {ops}", flush=True)
    return entry


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "small"
    only = set(sys.argv[2:])
    out = zoo_dir(ROOT, size, "zoo_onnx", "onnx")
    n = 3 if size == "small" else 2
    torch.set_num_threads(1)
    for name, (arch, res, cls, family, q, layers) in MODELS.items():
        if cls != size or (only and name not in only):
            continue
        update_manifest(out, [build(out, name, arch, res, cls, family, q, layers, n)])


def build(out, name, arch, res, cls, family, q, layers, n):
    seed = sum(map(ord, arch))
    torch.manual_seed(seed)
    model = ARCH[arch]().eval()
    calib = samples(seed, res, 4)
    normalize(model, calib, seed)
    with tempfile.TemporaryDirectory() as tmp:
        m = quantized(export(model, res), calib, q, Path(tmp))
    return write(out, name, arch, family, cls, q, m, samples(seed + 1, res, n), layers)


if __name__ == "__main__":
    main()
