//! The AXI4-Lite register file (`docs/isa.md` §5): identification and config
//! readout, control, status, interrupt and DMA window registers, and the 64-bit
//! performance counters.

use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::{self, Counter};

#[derive(LogicBlock)]
pub struct RegFile {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    // AXI4-Lite slave.
    pub awaddr: Signal<In, Bits<12>>,
    pub awvalid: Signal<In, Bit>,
    pub awready: Signal<Out, Bit>,
    pub wdata: Signal<In, Bits<32>>,
    pub wstrb: Signal<In, Bits<4>>,
    pub wvalid: Signal<In, Bit>,
    pub wready: Signal<Out, Bit>,
    pub bresp: Signal<Out, Bits<2>>,
    pub bvalid: Signal<Out, Bit>,
    pub bready: Signal<In, Bit>,
    pub araddr: Signal<In, Bits<12>>,
    pub arvalid: Signal<In, Bit>,
    pub arready: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub rresp: Signal<Out, Bits<2>>,
    pub rvalid: Signal<Out, Bit>,
    pub rready: Signal<In, Bit>,
    // Towards the accelerator.
    /// One-cycle pulse: CTRL.START written while idle.
    pub start: Signal<Out, Bit>,
    /// One-cycle pulse: CTRL.SOFT_RESET written.
    pub soft_reset: Signal<Out, Bit>,
    pub prog_addr: Signal<Out, Bits<64>>,
    pub prog_len: Signal<Out, Bits<32>>,
    pub dram_base: Signal<Out, Bits<64>>,
    pub dram_size: Signal<Out, Bits<32>>,
    pub irq: Signal<Out, Bit>,
    // From the accelerator.
    pub busy: Signal<In, Bit>,
    pub done: Signal<In, Bit>,
    pub error: Signal<In, Bit>,
    pub error_code: Signal<In, Bits<8>>,
    pub error_pc: Signal<In, Bits<32>>,
    pub error_info: Signal<In, Bits<32>>,
    /// One-cycle pulses that set IRQ_STATUS bits.
    pub done_event: Signal<In, Bit>,
    pub error_event: Signal<In, Bit>,
    pub counters: Vec<Signal<In, Bits<64>>>,

    aw_addr: DFF<Bits<12>>,
    aw_full: DFF<Bit>,
    w_data: DFF<Bits<32>>,
    w_strobe: DFF<Bits<4>>,
    w_full: DFF<Bit>,
    b_valid: DFF<Bit>,
    r_valid: DFF<Bit>,
    r_data: DFF<Bits<32>>,
    start_pulse: DFF<Bit>,
    reset_pulse: DFF<Bit>,
    irq_enable: DFF<Bits<2>>,
    irq_status: DFF<Bits<2>>,
    prog_addr_lo: DFF<Bits<32>>,
    prog_addr_hi: DFF<Bits<32>>,
    prog_length: DFF<Bits<32>>,
    base_lo: DFF<Bits<32>>,
    base_hi: DFF<Bits<32>>,
    size: DFF<Bits<32>>,
    write_now: Signal<Local, Bit>,
    /// Byte-enable mask of the pending write.
    w_mask: Signal<Local, Bits<32>>,
    read_value: Signal<Local, Bits<32>>,
    status_value: Signal<Local, Bits<32>>,
    irq_clear: Signal<Local, Bits<2>>,

    ro_offsets: Vec<Constant<Bits<12>>>,
    ro_values: Vec<Constant<Bits<32>>>,
    counter_offsets: Vec<Constant<Bits<12>>>,
    a_ctrl: Constant<Bits<12>>,
    a_status: Constant<Bits<12>>,
    a_error_pc: Constant<Bits<12>>,
    a_error_info: Constant<Bits<12>>,
    a_irq_enable: Constant<Bits<12>>,
    a_irq_status: Constant<Bits<12>>,
    a_prog_lo: Constant<Bits<12>>,
    a_prog_hi: Constant<Bits<12>>,
    a_prog_len: Constant<Bits<12>>,
    a_base_lo: Constant<Bits<12>>,
    a_base_hi: Constant<Bits<12>>,
    a_size: Constant<Bits<12>>,
    word_mask: Constant<Bits<12>>,
    byte_masks: Vec<Constant<Bits<32>>>,
    _ro: usize,
    _counters: usize,
}

fn offset(v: u32) -> Constant<Bits<12>> {
    Constant::new(u64::from(v).into())
}

impl RegFile {
    pub fn new(cfg: &AccelConfig) -> Self {
        let ro = regs::config_registers(cfg);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            awaddr: Default::default(),
            awvalid: Default::default(),
            awready: Default::default(),
            wdata: Default::default(),
            wstrb: Default::default(),
            wvalid: Default::default(),
            wready: Default::default(),
            bresp: Default::default(),
            bvalid: Default::default(),
            bready: Default::default(),
            araddr: Default::default(),
            arvalid: Default::default(),
            arready: Default::default(),
            rdata: Default::default(),
            rresp: Default::default(),
            rvalid: Default::default(),
            rready: Default::default(),
            start: Default::default(),
            soft_reset: Default::default(),
            prog_addr: Default::default(),
            prog_len: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            irq: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            error_pc: Default::default(),
            error_info: Default::default(),
            done_event: Default::default(),
            error_event: Default::default(),
            counters: Counter::ALL.iter().map(|_| Default::default()).collect(),
            aw_addr: Default::default(),
            aw_full: Default::default(),
            w_data: Default::default(),
            w_strobe: Default::default(),
            w_full: Default::default(),
            b_valid: Default::default(),
            r_valid: Default::default(),
            r_data: Default::default(),
            start_pulse: Default::default(),
            reset_pulse: Default::default(),
            irq_enable: Default::default(),
            irq_status: Default::default(),
            prog_addr_lo: Default::default(),
            prog_addr_hi: Default::default(),
            prog_length: Default::default(),
            base_lo: Default::default(),
            base_hi: Default::default(),
            size: Default::default(),
            write_now: Default::default(),
            w_mask: Default::default(),
            read_value: Default::default(),
            status_value: Default::default(),
            irq_clear: Default::default(),
            ro_offsets: ro.iter().map(|(o, _)| offset(*o)).collect(),
            ro_values: ro.iter().map(|(_, v)| Constant::new(u64::from(*v).into())).collect(),
            counter_offsets: Counter::ALL.iter().map(|c| offset(c.offset())).collect(),
            a_ctrl: offset(regs::CTRL),
            a_status: offset(regs::STATUS),
            a_error_pc: offset(regs::ERROR_PC),
            a_error_info: offset(regs::ERROR_INFO),
            a_irq_enable: offset(regs::IRQ_ENABLE),
            a_irq_status: offset(regs::IRQ_STATUS),
            a_prog_lo: offset(regs::PROG_ADDR_LO),
            a_prog_hi: offset(regs::PROG_ADDR_HI),
            a_prog_len: offset(regs::PROG_LEN),
            a_base_lo: offset(regs::DRAM_BASE_LO),
            a_base_hi: offset(regs::DRAM_BASE_HI),
            a_size: offset(regs::DRAM_SIZE),
            word_mask: Constant::new(0xffcu64.into()),
            byte_masks: (0..4).map(|b| Constant::new((0xffu64 << (8 * b)).into())).collect(),
            _ro: ro.len(),
            _counters: Counter::ALL.len(),
        }
    }
}

impl Logic for RegFile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            aw_addr,
            aw_full,
            w_data,
            w_strobe,
            w_full,
            b_valid,
            r_valid,
            r_data,
            start_pulse,
            reset_pulse,
            irq_enable,
            irq_status,
            prog_addr_lo,
            prog_addr_hi,
            prog_length,
            base_lo,
            base_hi,
            size
        );
        // ---- Write channel: capture address and data independently, then write once
        // both are present and the previous response has been taken.
        self.awready.next = !self.aw_full.q.val();
        self.wready.next = !self.w_full.q.val();
        if self.awvalid.val() & !self.aw_full.q.val() {
            self.aw_addr.d.next = self.awaddr.val() & self.word_mask.val();
            self.aw_full.d.next = true;
        }
        if self.wvalid.val() & !self.w_full.q.val() {
            self.w_data.d.next = self.wdata.val();
            self.w_strobe.d.next = self.wstrb.val();
            self.w_full.d.next = true;
        }
        self.write_now.next = self.aw_full.q.val() & self.w_full.q.val() & !self.b_valid.q.val();
        self.w_mask.next = 0.into();
        for b in 0..4 {
            if self.w_strobe.q.val().get_bit(b) {
                self.w_mask.next = self.w_mask.val() | self.byte_masks[b].val();
            }
        }
        self.start_pulse.d.next = false;
        self.reset_pulse.d.next = false;
        self.irq_clear.next = 0.into();
        if self.write_now.val() {
            self.aw_full.d.next = false;
            self.w_full.d.next = false;
            self.b_valid.d.next = true;
            if self.aw_addr.q.val() == self.a_ctrl.val() {
                self.start_pulse.d.next = self.w_data.q.val().get_bit(0) & !self.busy.val();
                self.reset_pulse.d.next = self.w_data.q.val().get_bit(1);
            }
            if self.aw_addr.q.val() == self.a_irq_enable.val() {
                self.irq_enable.d.next = self.w_data.q.val().get_bits::<2>(0);
            }
            if self.aw_addr.q.val() == self.a_irq_status.val() {
                self.irq_clear.next = self.w_data.q.val().get_bits::<2>(0);
            }
            if self.aw_addr.q.val() == self.a_prog_lo.val() {
                self.prog_addr_lo.d.next =
                    (self.prog_addr_lo.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
            if self.aw_addr.q.val() == self.a_prog_hi.val() {
                self.prog_addr_hi.d.next =
                    (self.prog_addr_hi.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
            if self.aw_addr.q.val() == self.a_prog_len.val() {
                self.prog_length.d.next =
                    (self.prog_length.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
            if self.aw_addr.q.val() == self.a_base_lo.val() {
                self.base_lo.d.next =
                    (self.base_lo.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
            if self.aw_addr.q.val() == self.a_base_hi.val() {
                self.base_hi.d.next =
                    (self.base_hi.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
            if self.aw_addr.q.val() == self.a_size.val() {
                self.size.d.next = (self.size.q.val() & !self.w_mask.val()) | (self.w_data.q.val() & self.w_mask.val());
            }
        }
        if self.b_valid.q.val() & self.bready.val() {
            self.b_valid.d.next = false;
        }
        self.bvalid.next = self.b_valid.q.val();
        self.bresp.next = 0.into();
        // Events set IRQ_STATUS bits; a write of one clears them (events win).
        self.irq_status.d.next = (self.irq_status.q.val() & !self.irq_clear.val())
            | bit_cast::<2, 1>(self.done_event.val().into())
            | (bit_cast::<2, 1>(self.error_event.val().into()) << 1);
        self.irq.next = (self.irq_status.q.val() & self.irq_enable.q.val()).any();

        // ---- Read channel: one outstanding read, data registered.
        self.status_value.next = bit_cast::<32, 1>(self.busy.val().into())
            | (bit_cast::<32, 1>(self.done.val().into()) << 1)
            | (bit_cast::<32, 1>(self.error.val().into()) << 2)
            | (bit_cast::<32, 8>(self.error_code.val()) << 8);
        // The address decode sits under the handshake so the Verilated model only
        // evaluates it when a read arrives (in hardware it is the same multiplexer).
        self.read_value.next = 0.into();
        self.arready.next = !self.r_valid.q.val();
        if self.arvalid.val() & !self.r_valid.q.val() {
            for i in 0..self._ro {
                if (self.araddr.val() & self.word_mask.val()) == self.ro_offsets[i].val() {
                    self.read_value.next = self.ro_values[i].val();
                }
            }
            for i in 0..self._counters {
                if (self.araddr.val() & self.word_mask.val()) == self.counter_offsets[i].val() {
                    self.read_value.next = self.counters[i].val().get_bits::<32>(0);
                }
                if (self.araddr.val() & self.word_mask.val()) == self.counter_offsets[i].val() + 4 {
                    self.read_value.next = self.counters[i].val().get_bits::<32>(32);
                }
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_status.val() {
                self.read_value.next = self.status_value.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_error_pc.val() {
                self.read_value.next = self.error_pc.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_error_info.val() {
                self.read_value.next = self.error_info.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_irq_enable.val() {
                self.read_value.next = bit_cast::<32, 2>(self.irq_enable.q.val());
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_irq_status.val() {
                self.read_value.next = bit_cast::<32, 2>(self.irq_status.q.val());
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_prog_lo.val() {
                self.read_value.next = self.prog_addr_lo.q.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_prog_hi.val() {
                self.read_value.next = self.prog_addr_hi.q.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_prog_len.val() {
                self.read_value.next = self.prog_length.q.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_base_lo.val() {
                self.read_value.next = self.base_lo.q.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_base_hi.val() {
                self.read_value.next = self.base_hi.q.val();
            }
            if (self.araddr.val() & self.word_mask.val()) == self.a_size.val() {
                self.read_value.next = self.size.q.val();
            }
            self.r_valid.d.next = true;
            self.r_data.d.next = self.read_value.val();
        }
        if self.r_valid.q.val() & self.rready.val() {
            self.r_valid.d.next = false;
        }
        self.rvalid.next = self.r_valid.q.val();
        self.rdata.next = self.r_data.q.val();
        self.rresp.next = 0.into();

        self.start.next = self.start_pulse.q.val();
        self.soft_reset.next = self.reset_pulse.q.val();
        self.prog_addr.next =
            bit_cast::<64, 32>(self.prog_addr_lo.q.val()) | (bit_cast::<64, 32>(self.prog_addr_hi.q.val()) << 32);
        self.prog_len.next = self.prog_length.q.val();
        self.dram_base.next =
            bit_cast::<64, 32>(self.base_lo.q.val()) | (bit_cast::<64, 32>(self.base_hi.q.val()) << 32);
        self.dram_size.next = self.size.q.val();

        if self.reset.val() {
            self.aw_full.d.next = false;
            self.w_full.d.next = false;
            self.b_valid.d.next = false;
            self.r_valid.d.next = false;
            self.irq_enable.d.next = 0.into();
            self.irq_status.d.next = 0.into();
        }
    }
}
