#!/usr/bin/env bash
# The main job: installs the prerequisites, builds Tessera and runs `tessera demo`
# on the embedded default config. Extra arguments go to `tessera demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --release --locked --quiet -- demo "$@"
