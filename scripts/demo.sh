#!/usr/bin/env bash
# The main job: installs the prerequisites, builds Tessera, compiles the example int8
# ResNet-style CNN (examples/digits_resnet, ONNX QOperator form from onnxruntime's
# quantize_static) for the `pynq-z2` accelerator config, printing where each operation
# runs and its predicted cycles, then runs the compiled model on the Verilated RTL for
# all 450 test digits, 50 at a time: convolutions, residual adds, max pooling and the
# dense layer are one accelerator program; the input's quantization and the output's
# dequantization run on the host. Prints the program's cycles from the hardware
# counters and the accuracy, and checks every output against ONNX's reference
# evaluator bit for bit. Extra arguments go to `tessera run` (e.g. `--backend golden`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --quiet
example=examples/digits_resnet
mkdir -p target/demo
./target/release/tessera compile "$example/resnet_qop.onnx" -c pynq-z2 --batch 50 --report \
    -o target/demo/resnet_qop.tsr
./target/release/tessera run target/demo/resnet_qop.tsr --backend verilator \
    --input "$example/data/x_test.npy" --labels "$example/data/y_test.npy" \
    --reference "$example/data/ref_qop.npy" "$@"
