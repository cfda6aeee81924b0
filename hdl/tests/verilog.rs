//! The generated Verilog as external tools see it: `verilator --lint-only -Wall`
//! clean (with only the waivers documented in the file), no latches (Yosys
//! `proc`), the DSP template equal to the statement it stands for (Yosys SAT), and
//! the standard AXI/clock/reset/interrupt ports in the manifest.

use rust_hdl::prelude::{Logic, Verilog};
use std::path::Path;
use std::process::Command;
use tessera_hdl::dsp::DspMulAdd;
use tessera_hdl::manifest::{manifest_json, ports_of, Port};
use tessera_isa::config::AccelConfig;

fn generate_into(name: &str) -> (tempfile_dir::Dir, String) {
    let cfg = AccelConfig::builtin(name).unwrap();
    let rtl = tessera_hdl::generate(&cfg).unwrap();
    let dir = tempfile_dir::Dir::new(name);
    std::fs::write(dir.path().join("tessera_top.v"), &rtl.verilog).unwrap();
    (dir, rtl.verilog)
}

/// A scratch directory removed on drop.
mod tempfile_dir {
    use std::path::{Path, PathBuf};
    pub struct Dir(PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!("tessera-hdl-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn tool(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is required (scripts/setup.sh installs it): {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn verilator_lint_is_clean_for_shipped_configs() {
    for name in ["tiny", "tiny-sparse", "pynq-z2", "zcu104"] {
        let (dir, _) = generate_into(name);
        let (ok, log) = tool(dir.path(), "verilator", &["--lint-only", "-Wall", "tessera_top.v"]);
        assert!(ok && log.trim().is_empty(), "{name}: verilator -Wall reported:\n{log}");
    }
}

#[test]
fn no_latches() {
    for name in ["tiny", "tiny-sparse", "pynq-z2"] {
        let (dir, _) = generate_into(name);
        let script = "read_verilog tessera_top.v; hierarchy -top tessera_top; proc; select -assert-none t:$dlatch";
        let (ok, log) = tool(dir.path(), "yosys", &["-q", "-p", script]);
        assert!(ok, "{name}: latches inferred:\n{log}");
    }
}

/// The DSP template (a product of sign-extended host words, for Verilator's sake) is
/// `p <= c + a * b` wrapped to `P` bits, the statement every tool maps to one DSP
/// slice: a Yosys SAT proof over two cycles from reset (`p` depends only on the
/// previous cycle's inputs), for both shapes the design instantiates.
#[test]
fn dsp_template_is_the_wrapped_multiply_add() {
    fn prove<const A: usize, const B: usize, const P: usize>() {
        let Verilog::Custom(template) = DspMulAdd::<A, B, P>::default().hdl() else {
            panic!("DspMulAdd is a Verilog template")
        };
        let ports = format!(
            "(input wire clock, input wire signed [{}:0] a, input wire signed [{}:0] b, \
             input wire signed [{}:0] c, output reg signed [{}:0] p);",
            A - 1,
            B - 1,
            P - 1,
            P - 1
        );
        let gold = format!("module gold{ports}\ninitial p = 0;\nalways @(posedge clock) p <= c + a * b;\nendmodule\n");
        let dir = tempfile_dir::Dir::new(&format!("dsp{A}x{B}"));
        std::fs::write(dir.path().join("dsp.v"), format!("{gold}module gate{ports}\n{template}endmodule\n")).unwrap();
        let script = "read_verilog dsp.v; proc; miter -equiv -flatten -make_outputs gold gate miter; \
                      hierarchy -top miter; sat -verify -seq 2 -set-init-zero -prove trigger 0 miter";
        let (ok, log) = tool(dir.path(), "yosys", &["-q", "-p", script]);
        assert!(ok, "DspMulAdd<{A}, {B}, {P}> differs from c + a * b:\n{log}");
    }
    prove::<16, 25, 40>();
    prove::<16, 16, 32>();
}

#[test]
fn top_ports_follow_the_vivado_naming() {
    let cfg = AccelConfig::builtin("zcu104").unwrap();
    let rtl = tessera_hdl::generate(&cfg).unwrap();
    let ports = ports_of(&rtl.verilog, tessera_hdl::TOP);
    let port = |name: &str| ports.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no port {name}")).clone();
    assert_eq!(port("clk"), Port { name: "clk".into(), direction: "in", width: 1 });
    assert_eq!(port("resetn").direction, "in");
    assert_eq!(port("irq").direction, "out");
    assert_eq!(port("s_axi_awaddr").width, 12);
    assert_eq!(port("s_axi_rdata").width, 32);
    assert_eq!(port("m_axi_rdata").width, 128);
    assert_eq!(port("m_axi_wstrb").width, 16);
    assert_eq!(port("m_axi_araddr").width, 40);
    assert_eq!(port("m_axi_arlen").width, 8);
    // Every port belongs to one of the standard interfaces.
    assert!(ports.iter().all(|p| ["clk", "resetn", "irq"].contains(&p.name.as_str())
        || p.name.starts_with("s_axi_")
        || p.name.starts_with("m_axi_")));
    let manifest: serde_json::Value = serde_json::from_str(&manifest_json(&cfg, &rtl.verilog)).unwrap();
    assert_eq!(manifest["config"]["array"]["rows"], 32);
    assert_eq!(manifest["interfaces"][1]["data_bits"], 128);
    assert!(manifest["registers"].as_array().unwrap().iter().any(|r| r["name"] == "CFG_HASH"));
}

#[test]
fn unsupported_widths_are_named() {
    let mut cfg = AccelConfig::builtin("tiny").unwrap();
    cfg.axi.data_bits = 512;
    let err = tessera_hdl::generate(&cfg).err().expect("512-bit data is not generated").to_string();
    assert!(err.contains("axi.data_bits") && err.contains("512"), "{err}");
}
