#!/usr/bin/env bash
# Builds the model zoo (docs/zoo.md) with the pinned TensorFlow venv of scripts/py_env.sh:
#   bash tools/zoo/build.sh            the small models, into tests/fixtures/zoo (committed)
#   bash tools/zoo/build.sh --large    the ImageNet-scale ones (MobileNetV2 224, ResNet-50, ...)
#                                      into ${TESSERA_ZOO:-$HOME/.cache/tessera/zoo}, never committed
# Extra arguments name the models to build (default: all of the size class).
set -euo pipefail
cd "$(dirname "$0")/../.."
size=small
if [ "${1:-}" = "--large" ]; then
    size=large
    shift
fi
py="$(bash scripts/py_env.sh tf | tail -n 1)"
"$py" tools/zoo/keras_zoo.py "$size" "$@"
