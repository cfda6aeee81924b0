#!/usr/bin/env bash
# The main job: installs the prerequisites, builds Tessera, and runs the example int8
# ONNX model (examples/digits_mlp, QDQ form) on the Verilated RTL of the `tiny`
# config: its GEMMs on the accelerator, quantize/bias/dequantize on the host, for all
# 450 test digits. Prints cycles per layer, accuracy, and checks every output against
# ONNX's reference evaluator bit for bit. Extra arguments go to `tessera run`
# (e.g. `--backend golden`, `-c pynq-z2`); `tessera demo` runs a random GEMM instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data=examples/digits_mlp/data
cargo run --release --locked --quiet -- run examples/digits_mlp/mlp_qdq.onnx -c tiny --backend verilator \
    --input "$data/x_test.npy" --labels "$data/y_test.npy" --reference "$data/ref_qdq.npy" "$@"
