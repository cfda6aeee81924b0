//! Verilog emission and checks.

use rust_hdl::prelude::*;

/// Verilog for `uut` with `top` as the name of its top module.
pub fn emit<U: Block>(uut: &U, top: &str) -> Result<String, String> {
    check_all(uut).map_err(|e| format!("{e:?}"))?;
    let mut defines = ModuleDefines::default();
    uut.accept(top, &mut defines);
    Ok(defines.defines())
}
