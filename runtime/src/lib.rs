//! The Tessera runtime: runs a compiled model ([`tessera_compiler::model::CompiledModel`])
//! on an accelerator [`tessera_driver::Device`] — a board, the Verilated RTL or the
//! golden model — with the operators the accelerator does not run computed on the
//! host ([`host`]). The CLI, the tests and board applications all run models
//! through [`model::ModelSession`].

pub mod host;
pub mod model;

pub use host::step::Value;
pub use model::{ModelRun, ModelSession, RunError, SegmentStats};
