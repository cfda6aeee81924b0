"""Finds the outputs of the QDQ ResNet example's convolutions where int32-exact
arithmetic (the accelerator's, and QLinearConv's) and onnx.reference's float32 Conv
round differently, and prints the exact value of each. Run from the repository root
with the venv of scripts/py_env.sh:  $PY tools/qdq_ties.py [first_sample count]
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "shared"))
from digits_onnx import CONTRIB_OPS, eval_copy  # noqa: E402


def main() -> None:
    first, count = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (0, 450)
    m = onnx.load("examples/digits_resnet/resnet_qdq.onnx")
    x = np.load("examples/digits_resnet/data/x_test.npy").reshape(-1, 1, 8, 8)
    em = eval_copy(m)
    qs = [n for n in em.graph.node if n.op_type == "QuantizeLinear"]
    names = [n.output[0] for n in qs]
    ev = ReferenceEvaluator(em, new_ops=CONTRIB_OPS)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    for s in range(first, first + count):
        vals = dict(zip(names, ev.run(names, {"x": x[s : s + 1]})))
        for q in qs:
            conv = producer.get(q.input[0])
            if conv is None or conv.op_type != "Conv":
                continue
            # Recompute the convolution from its integer input with int64 sums.
            dq = producer[conv.input[0]]
            xi = vals[dq.input[0]].astype(np.int64)
            sa, za = inits[dq.input[1]], int(inits[dq.input[2]])
            wdq = producer[conv.input[1]]
            w, sw = inits[wdq.input[0]].astype(np.int64), inits[wdq.input[1]]
            b = inits[producer[conv.input[2]].input[0]].astype(np.int64)
            sy, zy = inits[q.input[1]], int(inits[q.input[2]])
            xp = np.pad(xi - za, ((0, 0), (0, 0), (1, 1), (1, 1)))
            h, wd = xi.shape[2:]
            acc = np.zeros((w.shape[0], h, wd), np.int64)
            for i in range(3):
                for j in range(3):
                    acc += np.einsum("mc,chw->mhw", w[:, :, i, j], xp[0, :, i : i + h, j : j + wd])
            acc += b[:, None, None]
            scale = (sa * sw / sy).astype(np.float32).astype(np.float64)
            ours = np.clip(np.rint(acc * scale[:, None, None] + zy), -128, 127)
            ref = vals[q.output[0]][0]
            for k in zip(*np.nonzero(ours != ref)):
                exact = acc[k] * float(sa) * float(sw[k[0]]) / float(sy) + zy
                print(f"sample {s}: {conv.name} output {tuple(int(i) for i in k)}: int32 arithmetic "
                      f"{int(ours[k])}, reference {int(ref[k])}, exact value {exact:.7f}")


if __name__ == "__main__":
    main()
