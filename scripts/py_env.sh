#!/usr/bin/env bash
# Creates (once) the Python venv that trains, quantizes and evaluates the example models,
# with pinned versions, and prints its python path as the last line:
#   PY=$(bash scripts/py_env.sh | tail -n 1)      # numpy, onnx, onnxruntime, scikit-learn
#   PY=$(bash scripts/py_env.sh tf | tail -n 1)   # the same plus tensorflow-cpu and
#                                                 # ai-edge-litert (the CNN examples)
#   PY=$(bash scripts/py_env.sh torch | tail -n 1)  # the first plus torch, torchvision,
#                                                   # onnxscript (the ONNX model zoo)
# The venvs live at ${TESSERA_PY:-$HOME/.cache/tessera/tools/py}, ...-tf and ...-torch. A marker file
# in each holds its pinned list; when it matches, nothing is installed and this returns
# at once.
set -euo pipefail

log() { printf '[py_env] %s\n' "$*" >&2; }

profile="${1:-onnx}"
venv="${TESSERA_PY:-$HOME/.cache/tessera/tools/py}"
# Everything installed directly, pinned. onnxruntime 1.32.0 is the newest release that
# installs here and quantizes and runs with onnx 1.22.0.
pins=(
    numpy==2.4.6
    onnx==1.22.0
    onnxruntime==1.32.0
    scikit-learn==1.9.1
)
case "$profile" in
    onnx) ;;
    # TensorFlow trains the CNNs and converts them to TFLite; ai-edge-litert runs the
    # TFLite reference kernels. About 1.8 GB.
    tf)
        venv="$venv-tf"
        pins+=(tensorflow-cpu==2.21.0 ai-edge-litert==2.3.0)
        ;;
    # torch exports torchvision architectures to ONNX (the model zoo). PyPI's Linux torch
    # wheel is the CUDA build: it does not import without its nvidia-* / cuda-toolkit
    # dependencies (the venv is about 6 GB; `--no-deps` with only the pure-Python ones fails in
    # `import torch` on libcublasLt), and the CPU-only wheels are not on PyPI. Export
    # itself runs on the CPU.
    torch)
        venv="$venv-torch"
        pins+=(torch==2.15.0 torchvision==0.29.2 onnxscript==0.7.2)
        ;;
    *)
        log "unknown profile '$profile' (onnx, tf or torch)"
        exit 2
        ;;
esac
marker="$venv/.tessera-pins"
wanted="$(printf '%s\n' "${pins[@]}")"

if [ -x "$venv/bin/python" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$wanted" ]; then
    echo "$venv/bin/python"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    log "creating venv at $venv"
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        log "python3 -m venv failed: installing python3-venv with apt-get"
        as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq
        as_root apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
fi

log "installing ${pins[*]}"
rm -f "$marker"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >&2
if [ "$profile" = torch ]; then
    "$venv/bin/python" -c 'import torch, torchvision, onnxscript' >&2
fi
"$venv/bin/python" -c 'import numpy, onnx, onnxruntime, sklearn' >&2
printf '%s\n' "$wanted" >"$marker"
echo "$venv/bin/python"
