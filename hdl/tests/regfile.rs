//! The AXI4-Lite register file in rust-hdl's simulator, driven by a small AXI4-Lite
//! master: identification, read-back, byte strobes, START gating, W1C interrupts
//! and 64-bit counter readout.

use rust_hdl::prelude::*;
use tessera_hdl::regfile::RegFile;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs;

type Uut = RegFile;

/// Performs one AXI4-Lite write; returns the circuit and how many START pulses it saw.
fn write_seeing_start(
    sim: &mut Sim<Uut>,
    mut x: Box<Uut>,
    addr: u32,
    data: u32,
    strobe: u8,
) -> Result<(Box<Uut>, usize), SimError> {
    x.awaddr.next = u64::from(addr).into();
    x.awvalid.next = true;
    x.wdata.next = u64::from(data).into();
    x.wstrb.next = u64::from(strobe).into();
    x.wvalid.next = true;
    x.bready.next = true;
    let (mut aw_done, mut w_done) = (false, false);
    let mut starts = 0;
    for _ in 0..20 {
        let (aw_ready, w_ready, b_valid) = (x.awready.val(), x.wready.val(), x.bvalid.val());
        starts += usize::from(x.start.val());
        wait_clock_cycle!(sim, clock, x);
        aw_done |= aw_ready;
        w_done |= w_ready;
        if aw_done {
            x.awvalid.next = false;
        }
        if w_done {
            x.wvalid.next = false;
        }
        if b_valid {
            x.bready.next = false;
            starts += usize::from(x.start.val());
            return Ok((x, starts));
        }
    }
    panic!("write to {addr:#x} got no response");
}

fn write(sim: &mut Sim<Uut>, x: Box<Uut>, addr: u32, data: u32, strobe: u8) -> Result<Box<Uut>, SimError> {
    Ok(write_seeing_start(sim, x, addr, data, strobe)?.0)
}

fn read(sim: &mut Sim<Uut>, mut x: Box<Uut>, addr: u32) -> Result<(Box<Uut>, u32), SimError> {
    x.araddr.next = u64::from(addr).into();
    x.arvalid.next = true;
    x.rready.next = true;
    for _ in 0..20 {
        let ar_ready = x.arready.val();
        let (r_valid, data) = (x.rvalid.val(), x.rdata.val().to_u32());
        wait_clock_cycle!(sim, clock, x);
        if ar_ready {
            x.arvalid.next = false;
        }
        if r_valid {
            x.rready.next = false;
            return Ok((x, data));
        }
    }
    panic!("read of {addr:#x} got no response");
}

#[test]
fn register_file_protocol() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let ro = regs::config_registers(&cfg);
    let mut uut = RegFile::new(&cfg);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<Uut>| {
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.reset.next = false;
        x.counters[0].next = 0x1_0000_0002u64.into();
        wait_clock_cycle!(sim, clock, x);

        for (offset, value) in &ro {
            let (y, got) = read(&mut sim, x, *offset)?;
            x = y;
            sim_assert_eq!(sim, got, *value, x);
        }

        x = write(&mut sim, x, regs::PROG_ADDR_LO, 0x1000_0040, 0xf)?;
        x = write(&mut sim, x, regs::PROG_ADDR_HI, 0x1, 0xf)?;
        x = write(&mut sim, x, regs::PROG_LEN, 77, 0xf)?;
        x = write(&mut sim, x, regs::DRAM_SIZE, 0x1122_3344, 0xf)?;
        x = write(&mut sim, x, regs::DRAM_SIZE, 0xaabb_ccdd, 0b0101)?;
        let (y, size) = read(&mut sim, x, regs::DRAM_SIZE)?;
        x = y;
        sim_assert_eq!(sim, size, 0x11bb_33dd, x);
        sim_assert_eq!(sim, x.prog_addr.val().to_u64(), 0x1_1000_0040u64, x);
        sim_assert_eq!(sim, x.prog_len.val().to_u32(), 77, x);
        let (y, len) = read(&mut sim, x, regs::PROG_LEN)?;
        x = y;
        sim_assert_eq!(sim, len, 77, x);

        // START is ignored while busy, and pulses for one cycle when idle.
        x.busy.next = true;
        let (y, mut pulses) = write_seeing_start(&mut sim, x, regs::CTRL, regs::CTRL_START, 0xf)?;
        x = y;
        for _ in 0..4 {
            pulses += usize::from(x.start.val());
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert_eq!(sim, pulses, 0, x);
        x.busy.next = false;
        let (y, mut pulses) = write_seeing_start(&mut sim, x, regs::CTRL, regs::CTRL_START, 0xf)?;
        x = y;
        for _ in 0..4 {
            pulses += usize::from(x.start.val());
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert_eq!(sim, pulses, 1, x);

        // Interrupts: an enabled event raises irq until written back as one.
        x = write(&mut sim, x, regs::IRQ_ENABLE, regs::IRQ_DONE, 0xf)?;
        x.error_event.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.error_event.next = false;
        wait_clock_cycle!(sim, clock, x);
        sim_assert!(sim, !x.irq.val(), x); // error is not enabled
        x.done_event.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.done_event.next = false;
        wait_clock_cycle!(sim, clock, x);
        sim_assert!(sim, x.irq.val(), x);
        let (y, status) = read(&mut sim, x, regs::IRQ_STATUS)?;
        x = y;
        sim_assert_eq!(sim, status, regs::IRQ_DONE | regs::IRQ_ERROR, x);
        x = write(&mut sim, x, regs::IRQ_STATUS, regs::IRQ_DONE, 0xf)?;
        wait_clock_cycle!(sim, clock, x);
        sim_assert!(sim, !x.irq.val(), x);
        let (y, status) = read(&mut sim, x, regs::IRQ_STATUS)?;
        x = y;
        sim_assert_eq!(sim, status, regs::IRQ_ERROR, x);

        // STATUS and a 64-bit counter.
        x.done.next = true;
        x.error_code.next = 3u64.into();
        let (y, status) = read(&mut sim, x, regs::STATUS)?;
        x = y;
        sim_assert_eq!(sim, status, regs::STATUS_DONE | (3 << regs::STATUS_CODE_SHIFT), x);
        let off = regs::Counter::ALL[0].offset();
        let (y, lo) = read(&mut sim, x, off)?;
        let (y, hi) = read(&mut sim, y, off + 4)?;
        x = y;
        sim_assert_eq!(sim, (lo, hi), (2, 1), x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 1_000_000).unwrap();
}
