//! The JSON manifest written next to `tessera_top.v`: what was generated, from which
//! config, with which ports, interfaces and registers — what an IP packager or a
//! driver needs without reading the Verilog.

use serde::Serialize;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::ISA_VERSION;
use tessera_isa::regs::{Access, Counter, REGISTERS, REG_SPACE_BYTES};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub name: String,
    pub direction: &'static str,
    pub width: usize,
}

#[derive(Serialize)]
struct Interface {
    name: &'static str,
    protocol: &'static str,
    mode: &'static str,
    prefix: &'static str,
    data_bits: u32,
    addr_bits: u32,
    id_bits: u32,
}

#[derive(Serialize)]
struct RegisterEntry {
    name: String,
    offset: u32,
    access: &'static str,
    doc: &'static str,
}

#[derive(Serialize)]
struct Manifest<'a> {
    generator: String,
    isa_version: &'static str,
    top: &'static str,
    verilog_file: &'static str,
    verilog_bytes: usize,
    modules: usize,
    fingerprint: String,
    config: &'a AccelConfig,
    clock: &'static str,
    reset: &'static str,
    interrupt: &'static str,
    interfaces: Vec<Interface>,
    registers: Vec<RegisterEntry>,
    ports: Vec<Port>,
}

/// The top module's ports, read from its declarations in the generated Verilog.
pub fn ports_of(verilog: &str, top: &str) -> Vec<Port> {
    let header = format!("module {top}(");
    let Some(start) = verilog.find(&header) else { return Vec::new() };
    let body = &verilog[start..];
    let end = body.find("endmodule").unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_end_matches(';');
            let (direction, rest) = if let Some(r) = line.strip_prefix("input wire") {
                ("in", r)
            } else if let Some(r) = line.strip_prefix("output reg").or_else(|| line.strip_prefix("output wire")) {
                ("out", r)
            } else {
                return None;
            };
            let rest = rest.trim().trim_start_matches("signed").trim();
            let (width, name) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (range, name) = r.split_once(']')?;
                    let msb: usize = range.split(':').next()?.trim().parse().ok()?;
                    (msb + 1, name.trim())
                }
                None => (1, rest),
            };
            Some(Port { name: name.to_string(), direction, width })
        })
        .collect()
}

fn access(a: Access) -> &'static str {
    match a {
        Access::ReadOnly => "RO",
        Access::ReadWrite => "RW",
        Access::W1C => "W1C",
        Access::WriteOnly => "WO",
    }
}

/// The manifest as pretty-printed JSON.
pub fn manifest_json(cfg: &AccelConfig, verilog: &str) -> String {
    let mut registers: Vec<RegisterEntry> = REGISTERS
        .iter()
        .map(|r| RegisterEntry { name: r.name.to_string(), offset: r.offset, access: access(r.access), doc: r.doc })
        .collect();
    for c in Counter::ALL {
        for (half, offset) in [("LO", c.offset()), ("HI", c.offset() + 4)] {
            registers.push(RegisterEntry { name: format!("{}_{half}", c.name()), offset, access: "RO", doc: c.doc() });
        }
    }
    let manifest = Manifest {
        generator: format!("tessera-hdl {} (rust-hdl 0.46)", env!("CARGO_PKG_VERSION")),
        isa_version: ISA_VERSION,
        top: crate::TOP,
        verilog_file: "tessera_top.v",
        verilog_bytes: verilog.len(),
        modules: verilog.matches("\nmodule ").count(),
        fingerprint: format!("{:#010x}", cfg.fingerprint()),
        config: cfg,
        clock: "clk",
        reset: "resetn (active low, synchronous)",
        interrupt: "irq (active high, level)",
        interfaces: vec![
            Interface {
                name: "s_axi",
                protocol: "AXI4-Lite",
                mode: "slave",
                prefix: "s_axi_",
                data_bits: 32,
                addr_bits: REG_SPACE_BYTES.trailing_zeros(),
                id_bits: 0,
            },
            Interface {
                name: "m_axi",
                protocol: "AXI4",
                mode: "master",
                prefix: "m_axi_",
                data_bits: cfg.axi.data_bits,
                addr_bits: cfg.axi.addr_bits,
                id_bits: 2,
            },
        ],
        registers,
        ports: ports_of(verilog, crate::TOP),
    };
    serde_json::to_string_pretty(&manifest).expect("the manifest serializes")
}
