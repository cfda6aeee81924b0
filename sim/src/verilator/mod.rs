//! Cycle-accurate simulation of the generated RTL with Verilator.
//!
//! `build` generates `tessera_top.v` for a config, verilates it together with a
//! small C++ shim (clocking, an AXI4 DDR model with latency and bandwidth, an
//! AXI4-Lite master) into a shared library, and caches that library under a key
//! hashed from everything that affects it. `VerilatorSim` loads it and drives it.

mod build;
mod run;

pub use build::{build, cache_root, BuildError, BuildOptions, Model};
pub use run::{first_difference, run_image, RtlOutcome};

use libloading::Library;
use std::ffi::CString;
use std::path::Path;
use tessera_isa::config::AccelConfig;

#[repr(C)]
struct TSim {
    _private: [u8; 0],
}

type NewFn = unsafe extern "C" fn() -> *mut TSim;
type FreeFn = unsafe extern "C" fn(*mut TSim);
type SetDdrFn = unsafe extern "C" fn(*mut TSim, *mut u8, u64, u64);
type SetTimingFn = unsafe extern "C" fn(*mut TSim, u32, u32, f64, u32);
type ResetFn = unsafe extern "C" fn(*mut TSim, u32);
type RegWriteFn = unsafe extern "C" fn(*mut TSim, u32, u32, u64) -> i32;
type RegReadFn = unsafe extern "C" fn(*mut TSim, u32, *mut u32, u64) -> i32;
type RunFn = unsafe extern "C" fn(*mut TSim, u64) -> u64;
type CycleFn = unsafe extern "C" fn(*mut TSim) -> u64;
type TicksFn = unsafe extern "C" fn(*mut TSim, u64);
type TraceOpenFn = unsafe extern "C" fn(*mut TSim, *const std::os::raw::c_char) -> i32;
type TraceCloseFn = unsafe extern "C" fn(*mut TSim);

/// Cycles an AXI4-Lite access may take before it is reported as hung.
const REG_TIMEOUT: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("{path}: cannot load the simulation library: {source}")]
    Load { path: String, source: libloading::Error },
    #[error("AXI4-Lite {kind} of register {offset:#x} got no response in {REG_TIMEOUT} cycles")]
    RegisterTimeout { kind: &'static str, offset: u32 },
    #[error("this model was built without tracing; build it with BuildOptions {{ trace: true }}")]
    NoTrace,
}

/// A running instance of the Verilated accelerator with its DDR.
pub struct VerilatorSim {
    raw: *mut TSim,
    ddr: Vec<u8>,
    ddr_base: u64,
    f_free: FreeFn,
    f_set_ddr: SetDdrFn,
    f_reg_write: RegWriteFn,
    f_reg_read: RegReadFn,
    f_run: RunFn,
    f_cycle: CycleFn,
    f_ticks: TicksFn,
    f_trace_open: TraceOpenFn,
    f_trace_close: TraceCloseFn,
    _lib: Library,
}

fn symbol<T: Copy>(lib: &Library, name: &str) -> T {
    // SAFETY: the shim exports every symbol with the signature declared above; the
    // library stays loaded for as long as `VerilatorSim` holds it.
    unsafe { *lib.get::<T>(name.as_bytes()).unwrap_or_else(|e| panic!("shim symbol {name}: {e}")) }
}

impl VerilatorSim {
    /// Builds (or reuses) the model for `cfg` and instantiates it with `ddr_len`
    /// bytes of DDR at physical address `ddr_base`, timed by the config's DDR model.
    pub fn new(cfg: &AccelConfig, opts: &BuildOptions, ddr_base: u64, ddr_len: usize) -> Result<Self, SimError> {
        let model = build(cfg, opts)?;
        Self::open(&model.library, cfg, ddr_base, ddr_len)
    }

    /// Loads an already built model library.
    pub fn open(library: &Path, cfg: &AccelConfig, ddr_base: u64, ddr_len: usize) -> Result<Self, SimError> {
        // SAFETY: loading runs the library's static constructors (Verilator's); the
        // library is one `build` produced from our own shim.
        let lib = unsafe { Library::new(library) }
            .map_err(|source| SimError::Load { path: library.display().to_string(), source })?;
        let f_new: NewFn = symbol(&lib, "tsim_new");
        let f_set_timing: SetTimingFn = symbol(&lib, "tsim_set_timing");
        let f_reset: ResetFn = symbol(&lib, "tsim_reset");
        // SAFETY: FFI calls into the shim with a pointer it created.
        let raw = unsafe { f_new() };
        let mut sim = VerilatorSim {
            raw,
            ddr: vec![0; ddr_len],
            ddr_base,
            f_free: symbol(&lib, "tsim_free"),
            f_set_ddr: symbol(&lib, "tsim_set_ddr"),
            f_reg_write: symbol(&lib, "tsim_reg_write"),
            f_reg_read: symbol(&lib, "tsim_reg_read"),
            f_run: symbol(&lib, "tsim_run_until_irq"),
            f_cycle: symbol(&lib, "tsim_cycle"),
            f_ticks: symbol(&lib, "tsim_ticks"),
            f_trace_open: symbol(&lib, "tsim_trace_open"),
            f_trace_close: symbol(&lib, "tsim_trace_close"),
            _lib: lib,
        };
        sim.attach_ddr();
        // SAFETY: as above.
        unsafe {
            f_set_timing(
                raw,
                cfg.ddr_read_latency_cycles(),
                cfg.ddr_write_latency_cycles(),
                cfg.ddr_bytes_per_cycle(),
                cfg.axi.max_outstanding * 4,
            );
            f_reset(raw, 4);
        }
        Ok(sim)
    }

    fn attach_ddr(&mut self) {
        // SAFETY: the pointer stays valid while `self.ddr` is neither dropped nor
        // reallocated; the only method that replaces it re-attaches.
        unsafe { (self.f_set_ddr)(self.raw, self.ddr.as_mut_ptr(), self.ddr_base, self.ddr.len() as u64) }
    }

    /// Physical address of the DDR buffer (what DRAM_BASE and PROG_ADDR refer to).
    pub fn ddr_base(&self) -> u64 {
        self.ddr_base
    }

    pub fn ddr(&self) -> &[u8] {
        &self.ddr
    }

    pub fn ddr_mut(&mut self) -> &mut [u8] {
        &mut self.ddr
    }

    pub fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), SimError> {
        // SAFETY: FFI call with our own live pointer.
        match unsafe { (self.f_reg_write)(self.raw, offset, value, REG_TIMEOUT) } {
            0 => Ok(()),
            _ => Err(SimError::RegisterTimeout { kind: "write", offset }),
        }
    }

    pub fn reg_read(&mut self, offset: u32) -> Result<u32, SimError> {
        let mut value = 0u32;
        // SAFETY: FFI call with our own live pointer and a valid out-pointer.
        match unsafe { (self.f_reg_read)(self.raw, offset, &mut value, REG_TIMEOUT) } {
            0 => Ok(value),
            _ => Err(SimError::RegisterTimeout { kind: "read", offset }),
        }
    }

    /// Clocks until the interrupt line rises or `max_cycles` pass; returns cycles run.
    pub fn run_until_irq(&mut self, max_cycles: u64) -> u64 {
        // SAFETY: FFI call with our own live pointer.
        unsafe { (self.f_run)(self.raw, max_cycles) }
    }

    pub fn ticks(&mut self, n: u64) {
        // SAFETY: FFI call with our own live pointer.
        unsafe { (self.f_ticks)(self.raw, n) }
    }

    /// Cycles since the model was created.
    pub fn cycle(&self) -> u64 {
        // SAFETY: FFI call with our own live pointer.
        unsafe { (self.f_cycle)(self.raw) }
    }

    /// Starts writing an FST waveform (the model must be built with tracing).
    pub fn trace_to(&mut self, path: &Path) -> Result<(), SimError> {
        let c = CString::new(path.display().to_string()).expect("paths have no NUL");
        // SAFETY: FFI call with our own live pointer and a NUL-terminated string.
        match unsafe { (self.f_trace_open)(self.raw, c.as_ptr()) } {
            0 => Ok(()),
            _ => Err(SimError::NoTrace),
        }
    }
}

impl Drop for VerilatorSim {
    fn drop(&mut self) {
        // SAFETY: the pointer came from tsim_new and is freed exactly once.
        unsafe {
            (self.f_trace_close)(self.raw);
            (self.f_free)(self.raw);
        }
    }
}
