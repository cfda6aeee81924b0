//! Cycle-accurate simulation of the generated RTL with Verilator.
//!
//! `build` generates `tessera_top.v` for a config, verilates it together with a
//! small C++ shim (clocking, an AXI4 DDR model with latency and bandwidth, an
//! AXI4-Lite master) into a shared library, and caches that library under a key
//! hashed from everything that affects it. `VerilatorDevice` loads it and drives it
//! through the driver's `Device` trait, exactly as the board is driven.

mod build;
mod run;
pub mod tool;

pub use build::{build, cache_root, cached, BuildError, BuildOptions, Model};
pub use run::{cycles_as_duration, first_difference, run_image, RtlOutcome};

use libloading::Library;
use std::ffi::CString;
use std::path::Path;
use std::time::Duration;
use tessera_driver::{Device, DeviceError, IrqWait};
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
type IrqFn = unsafe extern "C" fn(*mut TSim) -> i32;
type BusBytesFn = unsafe extern "C" fn(*mut TSim, i32) -> u64;
type RegReadFn = unsafe extern "C" fn(*mut TSim, u32, *mut u32, u64) -> i32;
type RunFn = unsafe extern "C" fn(*mut TSim, u64) -> u64;
type CycleFn = unsafe extern "C" fn(*mut TSim) -> u64;
type TicksFn = unsafe extern "C" fn(*mut TSim, u64);
type TraceOpenFn = unsafe extern "C" fn(*mut TSim, *const std::os::raw::c_char) -> i32;
type TraceCloseFn = unsafe extern "C" fn(*mut TSim);
type EvalsFn = unsafe extern "C" fn() -> u32;

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
    #[error("AXI4-Lite {kind} of register {offset:#x} returned an error response")]
    RegisterError { kind: &'static str, offset: u32 },
    #[error(transparent)]
    Driver(#[from] tessera_driver::DriverError),
    #[error("this model was built without tracing; build it with BuildOptions {{ trace: true }}")]
    NoTrace,
}

/// Timing of the simulated DDR behind the AXI4 master.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdrTiming {
    /// Cycles from an accepted read address to its first data beat.
    pub read_latency: u32,
    /// Cycles from a write burst's last beat to its response.
    pub write_latency: u32,
    /// Sustained bytes per accelerator cycle, reads and writes together (each
    /// direction also moves at most one beat per cycle: the AXI port's read and
    /// write channels are independent).
    pub bytes_per_cycle: f64,
    /// Read bursts the memory accepts before it stops taking addresses.
    pub max_reads: u32,
}

impl DdrTiming {
    /// The board's DDR as the config describes it (`[ddr]` and `[axi]`).
    pub fn from_config(cfg: &AccelConfig) -> Self {
        DdrTiming {
            read_latency: cfg.ddr_read_latency_cycles(),
            write_latency: cfg.ddr_write_latency_cycles(),
            // The DDR's bandwidth is shared by reads and writes; the port width
            // bounds each direction (one beat per cycle on its channel).
            bytes_per_cycle: cfg.ddr.bandwidth_mb_s / cfg.clock_mhz,
            max_reads: cfg.axi.max_outstanding * 4,
        }
    }
}

/// A running instance of the Verilated accelerator with its DDR.
pub struct VerilatorDevice {
    raw: *mut TSim,
    ddr: Vec<u8>,
    ddr_base: u64,
    clock_mhz: f64,
    f_set_timing: SetTimingFn,
    f_irq: IrqFn,
    f_bus_bytes: BusBytesFn,
    f_free: FreeFn,
    f_set_ddr: SetDdrFn,
    f_reg_write: RegWriteFn,
    f_reg_read: RegReadFn,
    f_run: RunFn,
    f_cycle: CycleFn,
    f_ticks: TicksFn,
    f_trace_open: TraceOpenFn,
    f_trace_close: TraceCloseFn,
    evals_per_cycle: u32,
    _lib: Library,
}

fn symbol<T: Copy>(lib: &Library, name: &str) -> T {
    // SAFETY: the shim exports every symbol with the signature declared above; the
    // library stays loaded for as long as `VerilatorDevice` holds it.
    unsafe { *lib.get::<T>(name.as_bytes()).unwrap_or_else(|e| panic!("shim symbol {name}: {e}")) }
}

impl VerilatorDevice {
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
        let f_reset: ResetFn = symbol(&lib, "tsim_reset");
        // SAFETY: FFI calls into the shim with a pointer it created.
        let raw = unsafe { f_new() };
        let mut sim = VerilatorDevice {
            raw,
            ddr: vec![0; ddr_len],
            ddr_base,
            clock_mhz: cfg.clock_mhz,
            f_set_timing: symbol(&lib, "tsim_set_timing"),
            f_irq: symbol(&lib, "tsim_irq"),
            f_bus_bytes: symbol(&lib, "tsim_ddr_bytes"),
            f_free: symbol(&lib, "tsim_free"),
            f_set_ddr: symbol(&lib, "tsim_set_ddr"),
            f_reg_write: symbol(&lib, "tsim_reg_write"),
            f_reg_read: symbol(&lib, "tsim_reg_read"),
            f_run: symbol(&lib, "tsim_run_until_irq"),
            f_cycle: symbol(&lib, "tsim_cycle"),
            f_ticks: symbol(&lib, "tsim_ticks"),
            f_trace_open: symbol(&lib, "tsim_trace_open"),
            f_trace_close: symbol(&lib, "tsim_trace_close"),
            // SAFETY: a pure function of how the shim was compiled.
            evals_per_cycle: unsafe { symbol::<EvalsFn>(&lib, "tsim_evals_per_cycle")() },
            _lib: lib,
        };
        sim.attach_ddr();
        sim.set_ddr_timing(DdrTiming::from_config(cfg));
        // SAFETY: as above.
        unsafe { f_reset(raw, 4) };
        Ok(sim)
    }

    /// Changes the DDR model's timing (the config's board numbers by default).
    pub fn set_ddr_timing(&mut self, t: DdrTiming) {
        // SAFETY: FFI call with our own live pointer.
        unsafe { (self.f_set_timing)(self.raw, t.read_latency, t.write_latency, t.bytes_per_cycle, t.max_reads.max(1)) }
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
        let code = unsafe { (self.f_reg_write)(self.raw, offset, value, REG_TIMEOUT) };
        register_result(code, "write", offset)
    }

    pub fn reg_read(&mut self, offset: u32) -> Result<u32, SimError> {
        let mut value = 0u32;
        // SAFETY: FFI call with our own live pointer and a valid out-pointer.
        let code = unsafe { (self.f_reg_read)(self.raw, offset, &mut value, REG_TIMEOUT) };
        register_result(code, "read", offset).map(|()| value)
    }

    /// Whether the interrupt line is high.
    pub fn irq(&self) -> bool {
        // SAFETY: FFI call with our own live pointer.
        unsafe { (self.f_irq)(self.raw) != 0 }
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

    /// `eval()` calls per clock cycle: 1 when the shim can skip the falling edge
    /// (untraced models of the Verilator releases it knows), else 2.
    pub fn evals_per_cycle(&self) -> u32 {
        self.evals_per_cycle
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

fn register_result(code: i32, kind: &'static str, offset: u32) -> Result<(), SimError> {
    match code {
        0 => Ok(()),
        1 => Err(SimError::RegisterError { kind, offset }),
        _ => Err(SimError::RegisterTimeout { kind, offset }),
    }
}

const BACKEND: &str = "verilator";

impl Device for VerilatorDevice {
    fn backend(&self) -> &str {
        BACKEND
    }

    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.reg_read(offset).map_err(|e| device_error(e, "read", offset))
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        self.reg_write(offset, value).map_err(|e| device_error(e, "write", offset))
    }

    fn dram_phys_base(&self) -> u64 {
        self.ddr_base
    }

    fn dram(&self) -> &[u8] {
        &self.ddr
    }

    fn dram_mut(&mut self) -> &mut [u8] {
        &mut self.ddr
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<IrqWait, DeviceError> {
        let cycles = (timeout.as_secs_f64() * self.clock_mhz * 1e6).ceil() as u64;
        self.run_until_irq(cycles);
        Ok(if self.irq() { IrqWait::Raised } else { IrqWait::TimedOut })
    }

    fn cycle(&self) -> Option<u64> {
        Some(VerilatorDevice::cycle(self))
    }

    fn bus_bytes(&self) -> Option<(u64, u64)> {
        // SAFETY: FFI calls with our own live pointer.
        unsafe { Some(((self.f_bus_bytes)(self.raw, 0), (self.f_bus_bytes)(self.raw, 1))) }
    }
}

fn device_error(e: SimError, kind: &'static str, offset: u32) -> DeviceError {
    let backend = BACKEND.to_string();
    match e {
        SimError::RegisterError { .. } => DeviceError::BusError { backend, kind, offset },
        _ => DeviceError::BusTimeout { backend, kind, offset },
    }
}

impl Drop for VerilatorDevice {
    fn drop(&mut self) {
        // SAFETY: the pointer came from tsim_new and is freed exactly once.
        unsafe {
            (self.f_trace_close)(self.raw);
            (self.f_free)(self.raw);
        }
    }
}
