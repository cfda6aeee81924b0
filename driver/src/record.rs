//! A [`Device`] wrapper that logs every register access, cache sync and
//! interrupt wait, so tests can compare the register protocol different backends
//! receive from the same [`crate::Session`] code.

use crate::device::{Device, DeviceError, IrqWait};
use std::time::Duration;

/// One logged access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read { offset: u32, value: u32 },
    Write { offset: u32, value: u32 },
    SyncForDevice,
    SyncForCpu,
    WaitIrq(IrqWait),
}

/// What a backend must see identically: the same reads (of the same offsets;
/// their values may differ, e.g. cycle counters), the same writes with the same
/// values, syncs and waits in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Read(u32),
    Write(u32, u32),
    SyncForDevice,
    SyncForCpu,
    WaitIrq,
}

impl Access {
    pub fn step(&self) -> Step {
        match *self {
            Access::Read { offset, .. } => Step::Read(offset),
            Access::Write { offset, value } => Step::Write(offset, value),
            Access::SyncForDevice => Step::SyncForDevice,
            Access::SyncForCpu => Step::SyncForCpu,
            Access::WaitIrq(_) => Step::WaitIrq,
        }
    }
}

/// `inner` with a log of what was done to it. Failed accesses are not logged.
pub struct Recording<D> {
    inner: D,
    log: Vec<Access>,
}

impl<D: Device> Recording<D> {
    pub fn new(inner: D) -> Self {
        Recording { inner, log: Vec::new() }
    }

    pub fn log(&self) -> &[Access] {
        &self.log
    }

    /// The log without read values and wait outcomes.
    pub fn steps(&self) -> Vec<Step> {
        self.log.iter().map(Access::step).collect()
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for Recording<D> {
    fn backend(&self) -> &str {
        self.inner.backend()
    }

    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        let value = self.inner.read_reg(offset)?;
        self.log.push(Access::Read { offset, value });
        Ok(value)
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        self.inner.write_reg(offset, value)?;
        self.log.push(Access::Write { offset, value });
        Ok(())
    }

    fn dram_phys_base(&self) -> u64 {
        self.inner.dram_phys_base()
    }

    fn dram(&self) -> &[u8] {
        self.inner.dram()
    }

    fn dram_mut(&mut self) -> &mut [u8] {
        self.inner.dram_mut()
    }

    fn sync_for_device(&mut self) -> Result<(), DeviceError> {
        self.inner.sync_for_device()?;
        self.log.push(Access::SyncForDevice);
        Ok(())
    }

    fn sync_for_cpu(&mut self) -> Result<(), DeviceError> {
        self.inner.sync_for_cpu()?;
        self.log.push(Access::SyncForCpu);
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<IrqWait, DeviceError> {
        let wait = self.inner.wait_irq(timeout)?;
        self.log.push(Access::WaitIrq(wait));
        Ok(wait)
    }

    fn cycle(&self) -> Option<u64> {
        self.inner.cycle()
    }

    fn bus_bytes(&self) -> Option<(u64, u64)> {
        self.inner.bus_bytes()
    }
}
