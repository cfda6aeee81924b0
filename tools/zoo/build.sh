#!/usr/bin/env bash
# Builds the model zoo (docs/zoo.md) with a pinned venv of scripts/py_env.sh:
#   bash tools/zoo/build.sh            the Keras models (TensorFlow venv), small, into
#                                      tests/fixtures/zoo (committed)
#   bash tools/zoo/build.sh --large    the ImageNet-scale ones (MobileNetV2 224, ResNet-50, ...)
#                                      into ${TESSERA_ZOO:-$HOME/.cache/tessera/zoo}, never committed
#   bash tools/zoo/build.sh --onnx [--large] ...
#                                      the torchvision half (torch venv; tools/zoo/build_onnx.sh):
#                                      tests/fixtures/zoo_onnx, or .../zoo/onnx for --large
# Extra arguments name the models to build (default: all of the size class).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=tf
generator=tools/zoo/keras_zoo.py
if [ "${1:-}" = "--onnx" ]; then
    profile=torch
    generator=tools/zoo/torch_zoo.py
    shift
fi
size=small
if [ "${1:-}" = "--large" ]; then
    size=large
    shift
fi
py="$(bash scripts/py_env.sh "$profile" | tail -n 1)"
"$py" "$generator" "$size" "$@"
