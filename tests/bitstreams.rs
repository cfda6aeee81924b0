//! The Vivado board flow in bitstreams/, checked where Vivado is not installed: the
//! Makefile's dry run, and tcl/build.tcl run by tclsh against a mock Vivado
//! (bitstreams/test/mock_vivado.tcl) on the generated `tiny` RTL. What this cannot
//! check (that Vivado accepts each command and property) is listed in
//! bitstreams/README.md.

mod common;

use common::{root, scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tessera_hdl::manifest::{manifest_json, ports_of};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::REG_SPACE_BYTES;

const BOARDS: &[&str] = &["pynq-z2", "zcu104", "kv260"];

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn make(args: &[&str]) -> Output {
    Command::new("make").arg("-n").arg("-C").arg(root("bitstreams")).args(args).output().expect("make runs")
}

/// The generated RTL and manifest of `config` in `dir`, as `tessera generate` writes them.
fn generate(config: &str, dir: &Path) -> String {
    let cfg = AccelConfig::load(config).unwrap();
    let rtl = tessera_hdl::generate(&cfg).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tessera_top.v"), &rtl.verilog).unwrap();
    std::fs::write(dir.join("tessera_top.json"), manifest_json(&cfg, &rtl.verilog)).unwrap();
    rtl.verilog
}

/// Runs build.tcl under the mock for `board`, with the files Vivado would have
/// written (bitstream, hardware handoff) at their documented places. Returns the
/// output and the log of Vivado commands.
fn mock_build(board: &str, rtl: &Path, out: &Path) -> (Output, String) {
    let _ = std::fs::remove_dir_all(out);
    let proj = out.join("vivado");
    let runs = proj.join("tessera.runs/impl_1");
    let handoff = proj.join("tessera.gen/sources_1/bd/tessera_bd/hw_handoff");
    for dir in [&runs, &handoff] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(runs.join("tessera_bd_wrapper.bit"), b"bit").unwrap();
    std::fs::write(handoff.join("tessera_bd.hwh"), b"<hwh/>").unwrap();
    let log = out.with_extension("log");
    let o = Command::new("tclsh")
        .arg(root("bitstreams/test/mock_vivado.tcl"))
        .arg(&log)
        .arg(board)
        .arg(rtl)
        .arg(out)
        .output()
        .expect("tclsh runs (apt-get install tcl; scripts/setup.sh installs it)");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    (o, calls)
}

#[test]
fn makefile_dry_run_generates_then_calls_vivado_for_every_board() {
    for board in BOARDS {
        let config = format!("CONFIG=../configs/{}.toml", if *board == "kv260" { "pynq-z2" } else { board });
        let o = make(&[&format!("BOARD={board}"), &config]);
        assert!(o.status.success(), "{}", text(&o));
        let t = text(&o);
        let generate = t.find(" generate -c ../configs/").unwrap_or_else(|| panic!("no generate step:\n{t}"));
        let vivado = t.find("vivado -mode batch").unwrap_or_else(|| panic!("no vivado step:\n{t}"));
        assert!(generate < vivado, "{t}");
        assert!(t.contains(&format!("-tclargs {board} build/")), "{t}");
        assert!(t.contains(&format!("tessera_{board}.bit")) && t.contains(&format!("tessera_{board}.hwh")), "{t}");
    }
    // KV260 has no config of its own and takes pynq-z2's.
    let t = text(&make(&["BOARD=kv260"]));
    assert!(t.contains("generate -c ../configs/pynq-z2.toml"), "{t}");
}

#[test]
fn makefile_open_target_runs_the_ecp5_flow_on_tiny_by_default() {
    let t = text(&make(&["open"]));
    assert!(t.contains("setup.sh open-flow"), "{t}");
    assert!(t.contains("synth -c ../configs/tiny.toml --flow ecp5 --part LFE5UM5G-85F -o build/open-tiny"), "{t}");
    let t = text(&make(&["open", "CONFIG=../configs/tiny-sparse.toml"]));
    assert!(t.contains("synth -c ../configs/tiny-sparse.toml --flow ecp5"), "{t}");
}

#[test]
fn unknown_board_is_refused_by_name() {
    let o = Command::new("make")
        .args(["-C", root("bitstreams").to_str().unwrap(), "BOARD=zedboard", "rtl"])
        .output()
        .expect("make runs");
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("unknown BOARD=zedboard") && t.contains("kv260 pynq-z2 zcu104"), "{t}");
}

/// `board(key)` from a board file.
fn board_field(board: &str, key: &str) -> String {
    let text = std::fs::read_to_string(root(&format!("bitstreams/boards/{board}.tcl"))).unwrap();
    let prefix = format!("set board({key})");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{board}.tcl: no {prefix}"));
    line[prefix.len()..].trim().trim_matches(|c| c == '{' || c == '}').to_string()
}

#[test]
fn board_files_name_parts_the_synth_table_knows() {
    for (board, part) in
        [("pynq-z2", "xc7z020clg400-1"), ("zcu104", "xczu7ev-ffvc1156-2-e"), ("kv260", "xck26-sfvc784-2LV-c")]
    {
        assert_eq!(board_field(board, "part"), part);
        assert!(tessera_hdl::synth::find_part(part).is_some(), "{part} not in synth::PARTS");
        assert_eq!(board_field(board, "name"), board);
    }
}

#[test]
fn build_tcl_under_a_mock_vivado_wires_the_generated_ports_and_exports_bit_and_hwh() {
    let rtl = scratch("bitstreams-rtl-tiny");
    let verilog = generate("configs/tiny.toml", &rtl);
    let ports: Vec<String> = ports_of(&verilog, tessera_hdl::TOP).into_iter().map(|p| p.name).collect();
    for board in BOARDS {
        let out = scratch(&format!("bitstreams-mock-{board}"));
        let (o, calls) = mock_build(board, &rtl, &out);
        assert!(o.status.success(), "{board}: {}", text(&o));

        // Every pin or interface of the Tessera cell the TCL names exists in the RTL:
        // ports by name, interfaces by the prefix Vivado infers them from.
        let mut named = 0;
        for line in calls.lines() {
            for cmd in ["get_bd_pins tessera/", "get_bd_intf_pins tessera/"] {
                if let Some(rest) = line.strip_prefix(cmd) {
                    named += 1;
                    let ok = if cmd.contains("intf") {
                        ports.iter().any(|p| p.starts_with(&format!("{rest}_")))
                    } else {
                        ports.iter().any(|p| p == rest)
                    };
                    assert!(ok, "{board}: build.tcl names tessera/{rest}, which tessera_top lacks");
                }
            }
        }
        assert_eq!(named, 5, "{board}: clk, resetn, irq, s_axi and m_axi:\n{calls}");

        // The config's clock and AXI width reach the PS; the register window is the
        // driver's 4 KiB at the board's base.
        let base = board_field(board, "ctrl_base");
        assert_eq!(REG_SPACE_BYTES, 4096);
        assert!(calls.contains(&format!("assign_bd_address -offset {base} -range 4K")), "{calls}");
        assert!(calls.contains("tessera/s_axi/"), "{calls}");
        let (clock_key, width_key) = if *board == "pynq-z2" {
            ("CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100.0", "CONFIG.PCW_S_AXI_HP0_DATA_WIDTH 64")
        } else {
            ("CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 100.0", "CONFIG.PSU__SAXIGP2__DATA_WIDTH 64")
        };
        assert!(calls.contains(clock_key) && calls.contains(width_key), "{calls}");
        assert!(calls.contains("-target_address_space tessera/m_axi ps/"), "{calls}");
        assert!(calls.contains("launch_runs impl_1 -jobs 4 -to_step write_bitstream"), "{calls}");

        // The PYNQ pair (same base name), the .xsa and the reports.
        for file in [
            format!("tessera_{board}.bit"),
            format!("tessera_{board}.hwh"),
            format!("tessera_{board}.xsa"),
            "tessera_top.json".into(),
            "build_summary.txt".into(),
            "utilization.rpt".into(),
            "timing_summary.rpt".into(),
        ] {
            assert!(out.join(&file).is_file(), "{board}: no {file}");
        }
        assert_eq!(std::fs::read(out.join(format!("tessera_{board}.hwh"))).unwrap(), b"<hwh/>");
        let summary = std::fs::read_to_string(out.join("build_summary.txt")).unwrap();
        assert!(summary.contains("config tiny") && summary.contains("clock_mhz 100.0"), "{summary}");
        // Kria and ZCU104 also get the .bit.bin that fpgautil loads.
        assert_eq!(out.join(format!("tessera_{board}.bit.bin")).is_file(), *board != "pynq-z2");
    }
}

#[test]
fn build_tcl_names_what_is_wrong() {
    let rtl: PathBuf = scratch("bitstreams-rtl-bad");
    generate("configs/tiny.toml", &rtl);
    let out = scratch("bitstreams-mock-bad");

    let (o, _) = mock_build("zedboard", &rtl, &out);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("unknown board `zedboard`") && text(&o).contains("kv260, pynq-z2, zcu104"),
        "{}",
        text(&o)
    );

    // A manifest without the clock.
    let manifest = rtl.join("tessera_top.json");
    let json = std::fs::read_to_string(&manifest).unwrap().replace("\"clock_mhz\"", "\"clock\"");
    std::fs::write(&manifest, json).unwrap();
    let (o, _) = mock_build("pynq-z2", &rtl, &out);
    assert!(!o.status.success());
    assert!(text(&o).contains("tessera_top.json: field `config.clock_mhz`"), "{}", text(&o));

    // No RTL at all.
    let (o, _) = mock_build("pynq-z2", &scratch("bitstreams-nothing"), &out);
    assert!(!o.status.success());
    assert!(text(&o).contains("run `tessera generate"), "{}", text(&o));

    // An AXI width the Zynq-7000 HP port cannot take (zcu104's 128 bits).
    generate("configs/tiny.toml", &rtl);
    let json = std::fs::read_to_string(&manifest).unwrap();
    let axi = json.find("\"axi\"").unwrap();
    let json = format!("{}{}", &json[..axi], json[axi..].replacen("\"data_bits\": 64", "\"data_bits\": 128", 1));
    std::fs::write(&manifest, json).unwrap();
    let (o, _) = mock_build("pynq-z2", &rtl, &out);
    assert!(!o.status.success());
    assert!(text(&o).contains("data_bits = 128") && text(&o).contains("takes 32, 64 bits"), "{}", text(&o));
}
