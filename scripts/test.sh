#!/usr/bin/env bash
# The test suite, exactly as CI runs it (.ci/run calls this script): installs the
# prerequisites, then checks formatting, lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
