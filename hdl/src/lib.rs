//! RTL generator (rust-hdl) for the Tessera accelerator: `generate` turns an
//! `AccelConfig` into the Verilog of `tessera_top` (see docs/hdl.md).

// `#[hdl_gen]` translates only plain `if`/`else` and `match` without guards, and `&`
// rather than `&&`; the nested forms clippy would collapse do not translate.
#![allow(clippy::collapsible_if, clippy::collapsible_else_if, clippy::collapsible_match)]

pub mod accumulator;
pub mod alu;
pub mod array;
pub mod axi_slice;
pub mod compute_unit;
pub mod controller;
pub mod decode;
pub mod delay;
pub mod dff_en;
pub mod dma_read;
pub mod dma_write;
pub mod dsp;
pub mod fifo;
pub mod float_requant;
pub mod leading_one;
pub mod load_engine;
pub mod load_unit;
pub mod manifest;
pub mod open_flow;
pub mod operand;
pub mod pe;
pub mod ram;
pub mod regfile;
pub mod requant;
pub mod sparse_engine;
pub mod store_unit;
pub mod synth;
pub mod token_gate;
pub mod top;
pub mod vector_route;
pub mod verilog;
pub mod widen;
pub mod word_funnel;

use rust_hdl::prelude::*;

/// `n` default-initialised signals or components (the `Vec` fields of a block).
pub(crate) fn vec_of<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}
use tessera_isa::config::AccelConfig;

/// Name of the generated top module (and of its file, `tessera_top.v`).
pub const TOP: &str = "tessera_top";

/// Fingerprint of the generator's sources, the shared core and the locked
/// dependency versions: two builds with the same value emit the same Verilog for
/// the same config. Caches of generated artefacts key on it.
pub const GENERATOR_HASH: &str = env!("TESSERA_HDL_SOURCE_HASH");

/// The generated RTL.
pub struct Rtl {
    pub verilog: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("config `{name}`: field `{field}`: {reason}")]
    Unsupported { name: String, field: &'static str, reason: String },
    #[error("config `{name}`: rust-hdl rejected the design: {0}", name = .1)]
    Check(String, String),
}

fn unsupported(cfg: &AccelConfig, field: &'static str, reason: impl Into<String>) -> GenerateError {
    GenerateError::Unsupported { name: cfg.name.clone(), field, reason: reason.into() }
}

fn build<const DW: usize, const SW: usize, const AW: usize>(cfg: &AccelConfig) -> Result<Rtl, GenerateError> {
    let mut top = top::TesseraTop::<DW, SW, AW>::new(cfg);
    top.connect_all();
    let body = verilog::emit(&top, TOP).map_err(|e| GenerateError::Check(e, cfg.name.clone()))?;
    Ok(Rtl { verilog: verilog::finish(cfg, &body) })
}

/// Generates the accelerator for `cfg`. The AXI data width must be 32, 64, 128 or
/// 256 bits and the address width 32, 40, 48 or 64 bits (the const-generic top is
/// instantiated for those).
pub fn generate(cfg: &AccelConfig) -> Result<Rtl, GenerateError> {
    let problems = cfg.problems();
    if let Some(p) = problems.first() {
        return Err(GenerateError::Unsupported { name: cfg.name.clone(), field: "config", reason: p.to_string() });
    }
    macro_rules! dispatch {
        ($(($dw:literal, $aw:literal)),*) => {
            match (cfg.axi.data_bits, cfg.axi.addr_bits) {
                $(($dw, $aw) => build::<$dw, { $dw / 8 }, $aw>(cfg),)*
                (32 | 64 | 128 | 256, a) => Err(unsupported(cfg, "axi.addr_bits", format!("{a} is not generated; use 32, 40, 48 or 64"))),
                (d, _) => Err(unsupported(cfg, "axi.data_bits", format!("{d} is not generated; use 32, 64, 128 or 256"))),
            }
        };
    }
    dispatch!(
        (32, 32),
        (32, 40),
        (32, 48),
        (32, 64),
        (64, 32),
        (64, 40),
        (64, 48),
        (64, 64),
        (128, 32),
        (128, 40),
        (128, 48),
        (128, 64),
        (256, 32),
        (256, 40),
        (256, 48),
        (256, 64)
    )
}
