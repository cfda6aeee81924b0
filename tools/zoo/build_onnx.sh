#!/usr/bin/env bash
# Builds the ONNX half of the model zoo (docs/zoo.md) with the pinned torch venv of
# scripts/py_env.sh:
#   bash tools/zoo/build_onnx.sh            the small models, into tests/fixtures/zoo_onnx (committed)
#   bash tools/zoo/build_onnx.sh --large    full-width ones into
#                                           ${TESSERA_ZOO:-$HOME/.cache/tessera/zoo}/onnx, never committed
# Extra arguments name the models to build (default: all of the size class).
exec bash "$(dirname "$0")/build.sh" --onnx "$@"
