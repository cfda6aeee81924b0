//! `tessera_top`: the accelerator with its standard ports — an AXI4-Lite slave
//! (`s_axi_*`) for the registers, an AXI4 master (`m_axi_*`) towards DDR, clock,
//! active-low reset and the interrupt — named as Vivado's IP packager infers them.
//!
//! The AXI data and address widths are const generics (`DW` data bits, `SW = DW/8`
//! strobe bits, `AW` address bits); `generate` dispatches a config to one of the
//! supported combinations.

use crate::axi_slice::{SliceControl, SliceField};
use crate::compute_unit::ComputeUnit;
use crate::controller::Controller;
use crate::load_unit::LoadUnit;
use crate::ram::{ParamRam, SyncRam};
use crate::regfile::RegFile;
use crate::store_unit::StoreUnit;
use crate::vec_of;
use crate::widen::Widen;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;

/// Read clients of the AXI master, by AXI ID.
const CLIENTS: usize = 3;

#[derive(LogicBlock)]
pub struct TesseraTop<const DW: usize, const SW: usize, const AW: usize> {
    pub clk: Signal<In, Clock>,
    pub resetn: Signal<In, Bit>,
    pub irq: Signal<Out, Bit>,
    // AXI4-Lite slave.
    pub s_axi_awaddr: Signal<In, Bits<12>>,
    pub s_axi_awvalid: Signal<In, Bit>,
    pub s_axi_awready: Signal<Out, Bit>,
    pub s_axi_wdata: Signal<In, Bits<32>>,
    pub s_axi_wstrb: Signal<In, Bits<4>>,
    pub s_axi_wvalid: Signal<In, Bit>,
    pub s_axi_wready: Signal<Out, Bit>,
    pub s_axi_bresp: Signal<Out, Bits<2>>,
    pub s_axi_bvalid: Signal<Out, Bit>,
    pub s_axi_bready: Signal<In, Bit>,
    pub s_axi_araddr: Signal<In, Bits<12>>,
    pub s_axi_arvalid: Signal<In, Bit>,
    pub s_axi_arready: Signal<Out, Bit>,
    pub s_axi_rdata: Signal<Out, Bits<32>>,
    pub s_axi_rresp: Signal<Out, Bits<2>>,
    pub s_axi_rvalid: Signal<Out, Bit>,
    pub s_axi_rready: Signal<In, Bit>,
    // AXI4 master, read channels.
    pub m_axi_arid: Signal<Out, Bits<2>>,
    pub m_axi_araddr: Signal<Out, Bits<AW>>,
    pub m_axi_arlen: Signal<Out, Bits<8>>,
    pub m_axi_arsize: Signal<Out, Bits<3>>,
    pub m_axi_arburst: Signal<Out, Bits<2>>,
    pub m_axi_arcache: Signal<Out, Bits<4>>,
    pub m_axi_arprot: Signal<Out, Bits<3>>,
    pub m_axi_arvalid: Signal<Out, Bit>,
    pub m_axi_arready: Signal<In, Bit>,
    pub m_axi_rid: Signal<In, Bits<2>>,
    pub m_axi_rdata: Signal<In, Bits<DW>>,
    pub m_axi_rresp: Signal<In, Bits<2>>,
    pub m_axi_rlast: Signal<In, Bit>,
    pub m_axi_rvalid: Signal<In, Bit>,
    pub m_axi_rready: Signal<Out, Bit>,
    // AXI4 master, write channels.
    pub m_axi_awaddr: Signal<Out, Bits<AW>>,
    pub m_axi_awlen: Signal<Out, Bits<8>>,
    pub m_axi_awsize: Signal<Out, Bits<3>>,
    pub m_axi_awburst: Signal<Out, Bits<2>>,
    pub m_axi_awcache: Signal<Out, Bits<4>>,
    pub m_axi_awprot: Signal<Out, Bits<3>>,
    pub m_axi_awvalid: Signal<Out, Bit>,
    pub m_axi_awready: Signal<In, Bit>,
    pub m_axi_wdata: Signal<Out, Bits<DW>>,
    pub m_axi_wstrb: Signal<Out, Bits<SW>>,
    pub m_axi_wlast: Signal<Out, Bit>,
    pub m_axi_wvalid: Signal<Out, Bit>,
    pub m_axi_wready: Signal<In, Bit>,
    pub m_axi_bresp: Signal<In, Bits<2>>,
    pub m_axi_bvalid: Signal<In, Bit>,
    pub m_axi_bready: Signal<Out, Bit>,

    regs: RegFile,
    ctrl: Controller,
    load: LoadUnit,
    compute: ComputeUnit,
    store: StoreUnit,
    ibuf: Vec<SyncRam<Bits<8>>>,
    wbuf: Vec<SyncRam<Bits<8>>>,
    pbuf: Vec<ParamRam>,
    wdata_wide: Vec<Widen<DW, 8>>,

    // Register slices on the master's channels (see axi_slice.rs); R needs no skid
    // register because the read clients never back-pressure it.
    ar_slice: SliceControl,
    ar_slice_id: SliceField<2>,
    ar_slice_addr: SliceField<AW>,
    ar_slice_len: SliceField<8>,
    aw_slice: SliceControl,
    aw_slice_addr: SliceField<AW>,
    aw_slice_len: SliceField<8>,
    w_slice: SliceControl,
    w_slice_data: SliceField<DW>,
    w_slice_strb: SliceField<SW>,
    w_slice_last: SliceField<1>,
    b_slice: SliceControl,
    b_slice_resp: SliceField<2>,
    r_valid_q: DFF<Bit>,
    r_id_q: DFF<Bits<2>>,
    r_data_q: DFF<Bits<DW>>,
    r_resp_q: DFF<Bits<2>>,
    r_last_q: DFF<Bit>,

    ar_locked: DFF<Bit>,
    ar_owner: DFF<Bits<2>>,
    ar_next: DFF<Bits<2>>,
    soft_reset_q: DFF<Bit>,
    /// `resetn` registered: no input reaches the core's logic between clock edges.
    resetn_q: DFF<Bit>,
    hw_rst: Signal<Local, Bit>,
    rst: Signal<Local, Bit>,
    unit_rst: Signal<Local, Bit>,
    owner: Signal<Local, Bits<2>>,
    any_ar: Signal<Local, Bit>,
    ar_addr64: Signal<Local, Bits<64>>,
    ar_len: Signal<Local, Bits<8>>,
    wdata: Signal<Local, Bits<DW>>,
    beat_size: Constant<Bits<3>>,
    incr: Constant<Bits<2>>,
    cache: Constant<Bits<4>>,
    byte_shift: Vec<Constant<Bits<16>>>,
    /// IBUF banks (entry `e` in bank `e % banks` at `e / banks`): one unless the
    /// array reads 4 / N entries per N:4 vector.
    ibuf_bank_mask: Constant<Bits<16>>,
    ibuf_bank_shift: Constant<Bits<16>>,
    ibuf_wbank: Signal<Local, Bits<16>>,
    _b: usize,
    _rows: usize,
    _cols: usize,
    _banks: usize,
}

impl<const DW: usize, const SW: usize, const AW: usize> TesseraTop<DW, SW, AW> {
    pub fn new(cfg: &AccelConfig) -> Self {
        assert_eq!(cfg.axi.data_bits as usize, DW);
        assert_eq!(DW / 8, SW);
        assert_eq!(cfg.axi.addr_bits as usize, AW);
        let (a, m) = (&cfg.array, &cfg.memory);
        let (rows, cols) = (a.rows as usize, a.cols as usize);
        let b = DW / 8;
        let banks = cfg.ibuf_banks() as usize;
        Self {
            clk: Default::default(),
            resetn: Default::default(),
            irq: Default::default(),
            s_axi_awaddr: Default::default(),
            s_axi_awvalid: Default::default(),
            s_axi_awready: Default::default(),
            s_axi_wdata: Default::default(),
            s_axi_wstrb: Default::default(),
            s_axi_wvalid: Default::default(),
            s_axi_wready: Default::default(),
            s_axi_bresp: Default::default(),
            s_axi_bvalid: Default::default(),
            s_axi_bready: Default::default(),
            s_axi_araddr: Default::default(),
            s_axi_arvalid: Default::default(),
            s_axi_arready: Default::default(),
            s_axi_rdata: Default::default(),
            s_axi_rresp: Default::default(),
            s_axi_rvalid: Default::default(),
            s_axi_rready: Default::default(),
            m_axi_arid: Default::default(),
            m_axi_araddr: Default::default(),
            m_axi_arlen: Default::default(),
            m_axi_arsize: Default::default(),
            m_axi_arburst: Default::default(),
            m_axi_arcache: Default::default(),
            m_axi_arprot: Default::default(),
            m_axi_arvalid: Default::default(),
            m_axi_arready: Default::default(),
            m_axi_rid: Default::default(),
            m_axi_rdata: Default::default(),
            m_axi_rresp: Default::default(),
            m_axi_rlast: Default::default(),
            m_axi_rvalid: Default::default(),
            m_axi_rready: Default::default(),
            m_axi_awaddr: Default::default(),
            m_axi_awlen: Default::default(),
            m_axi_awsize: Default::default(),
            m_axi_awburst: Default::default(),
            m_axi_awcache: Default::default(),
            m_axi_awprot: Default::default(),
            m_axi_awvalid: Default::default(),
            m_axi_awready: Default::default(),
            m_axi_wdata: Default::default(),
            m_axi_wstrb: Default::default(),
            m_axi_wlast: Default::default(),
            m_axi_wvalid: Default::default(),
            m_axi_wready: Default::default(),
            m_axi_bresp: Default::default(),
            m_axi_bvalid: Default::default(),
            m_axi_bready: Default::default(),
            regs: RegFile::new(cfg),
            ctrl: Controller::new(cfg),
            load: LoadUnit::new(cfg),
            compute: ComputeUnit::new(cfg),
            store: StoreUnit::new(cfg),
            ibuf: (0..banks * rows).map(|_| SyncRam::new(m.ibuf_entries as usize / banks)).collect(),
            wbuf: (0..cols).map(|_| SyncRam::new(m.wbuf_entries as usize)).collect(),
            pbuf: (0..cols).map(|_| ParamRam::new(m.pbuf_entries as usize)).collect(),
            wdata_wide: vec_of(b),
            ar_slice: Default::default(),
            ar_slice_id: Default::default(),
            ar_slice_addr: Default::default(),
            ar_slice_len: Default::default(),
            aw_slice: Default::default(),
            aw_slice_addr: Default::default(),
            aw_slice_len: Default::default(),
            w_slice: Default::default(),
            w_slice_data: Default::default(),
            w_slice_strb: Default::default(),
            w_slice_last: Default::default(),
            b_slice: Default::default(),
            b_slice_resp: Default::default(),
            r_valid_q: Default::default(),
            r_id_q: Default::default(),
            r_data_q: Default::default(),
            r_resp_q: Default::default(),
            r_last_q: Default::default(),
            ar_locked: Default::default(),
            ar_owner: Default::default(),
            ar_next: Default::default(),
            soft_reset_q: Default::default(),
            resetn_q: Default::default(),
            hw_rst: Default::default(),
            rst: Default::default(),
            unit_rst: Default::default(),
            owner: Default::default(),
            any_ar: Default::default(),
            ar_addr64: Default::default(),
            ar_len: Default::default(),
            wdata: Default::default(),
            beat_size: Constant::new(u64::from(b.trailing_zeros()).into()),
            incr: Constant::new(1u64.into()),
            cache: Constant::new(0b0011u64.into()),
            byte_shift: (0..b).map(|j| Constant::new((8 * j as u64).into())).collect(),
            ibuf_bank_mask: Constant::new((banks as u64 - 1).into()),
            ibuf_bank_shift: Constant::new(u64::from(banks.trailing_zeros()).into()),
            ibuf_wbank: Default::default(),
            _b: b,
            _rows: rows,
            _cols: cols,
            _banks: banks,
        }
    }
}

impl<const DW: usize, const SW: usize, const AW: usize> Logic for TesseraTop<DW, SW, AW> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clk,
            ar_locked,
            ar_owner,
            ar_next,
            soft_reset_q,
            resetn_q,
            r_valid_q,
            r_id_q,
            r_data_q,
            r_resp_q,
            r_last_q
        );
        clock!(
            self,
            clk,
            regs,
            ctrl,
            load,
            compute,
            store,
            ar_slice,
            ar_slice_id,
            ar_slice_addr,
            ar_slice_len,
            aw_slice,
            aw_slice_addr,
            aw_slice_len,
            w_slice,
            w_slice_data,
            w_slice_strb,
            w_slice_last,
            b_slice,
            b_slice_resp
        );
        self.resetn_q.d.next = self.resetn.val();
        self.hw_rst.next = !self.resetn_q.q.val();
        self.soft_reset_q.d.next = self.regs.soft_reset.val();
        self.rst.next = self.hw_rst.val() | self.soft_reset_q.q.val();
        self.unit_rst.next = self.rst.val() | self.ctrl.clear.val();
        self.regs.reset.next = self.hw_rst.val();
        // A soft reset must not withdraw a valid the slave has seen: the slices
        // follow the hardware reset only.
        self.ar_slice.reset.next = self.hw_rst.val();
        self.aw_slice.reset.next = self.hw_rst.val();
        self.w_slice.reset.next = self.hw_rst.val();
        self.b_slice.reset.next = self.hw_rst.val();
        self.ctrl.reset.next = self.rst.val();
        self.load.reset.next = self.unit_rst.val();
        self.compute.reset.next = self.unit_rst.val();
        self.store.reset.next = self.unit_rst.val();

        // ---- Registers.
        self.regs.awaddr.next = self.s_axi_awaddr.val();
        self.regs.awvalid.next = self.s_axi_awvalid.val();
        self.s_axi_awready.next = self.regs.awready.val();
        self.regs.wdata.next = self.s_axi_wdata.val();
        self.regs.wstrb.next = self.s_axi_wstrb.val();
        self.regs.wvalid.next = self.s_axi_wvalid.val();
        self.s_axi_wready.next = self.regs.wready.val();
        self.s_axi_bresp.next = self.regs.bresp.val();
        self.s_axi_bvalid.next = self.regs.bvalid.val();
        self.regs.bready.next = self.s_axi_bready.val();
        self.regs.araddr.next = self.s_axi_araddr.val();
        self.regs.arvalid.next = self.s_axi_arvalid.val();
        self.s_axi_arready.next = self.regs.arready.val();
        self.s_axi_rdata.next = self.regs.rdata.val();
        self.s_axi_rresp.next = self.regs.rresp.val();
        self.s_axi_rvalid.next = self.regs.rvalid.val();
        self.regs.rready.next = self.s_axi_rready.val();
        self.irq.next = self.regs.irq.val();
        self.regs.busy.next = self.ctrl.busy.val();
        self.regs.done.next = self.ctrl.done.val();
        self.regs.error.next = self.ctrl.error.val();
        self.regs.error_code.next = self.ctrl.error_code.val();
        self.regs.error_pc.next = self.ctrl.error_pc.val();
        self.regs.error_info.next = self.ctrl.info.val();
        self.regs.done_event.next = self.ctrl.done_event.val();
        self.regs.error_event.next = self.ctrl.error_event.val();
        for i in 0..self.ctrl.counters.len() {
            self.regs.counters[i].next = self.ctrl.counters[i].val();
        }

        // ---- Controller.
        self.ctrl.start.next = self.regs.start.val();
        self.ctrl.prog_addr.next = self.regs.prog_addr.val();
        self.ctrl.prog_len.next = self.regs.prog_len.val();
        self.ctrl.dram_base.next = self.regs.dram_base.val();
        self.ctrl.dram_size.next = self.regs.dram_size.val();
        self.ctrl.q_pop[0].next = self.load.pop.val();
        self.ctrl.q_pop[1].next = self.compute.pop.val();
        self.ctrl.q_pop[2].next = self.store.pop.val();
        self.load.head_valid.next = self.ctrl.q_valid[0].val();
        self.load.head.next = self.ctrl.q_head[0].val();
        self.compute.head_valid.next = self.ctrl.q_valid[1].val();
        self.compute.head.next = self.ctrl.q_head[1].val();
        self.store.head_valid.next = self.ctrl.q_valid[2].val();
        self.store.head.next = self.ctrl.q_head[2].val();
        self.load.halt.next = self.ctrl.halt.val();
        self.compute.halt.next = self.ctrl.halt.val();
        self.store.halt.next = self.ctrl.halt.val();
        // Tokens: 0 load->compute, 1 compute->load, 2 compute->store, 3 store->compute.
        self.load.avail_next.next = self.ctrl.tokens[1].val();
        self.load.given_next.next = self.ctrl.tokens[0].val();
        self.compute.avail_prev.next = self.ctrl.tokens[0].val();
        self.compute.avail_next.next = self.ctrl.tokens[3].val();
        self.compute.given_prev.next = self.ctrl.tokens[1].val();
        self.compute.given_next.next = self.ctrl.tokens[2].val();
        self.store.avail_prev.next = self.ctrl.tokens[2].val();
        self.store.given_prev.next = self.ctrl.tokens[3].val();
        self.ctrl.token_give[0].next = self.load.give_next.val();
        self.ctrl.token_take[0].next = self.compute.take_prev.val();
        self.ctrl.token_give[1].next = self.compute.give_prev.val();
        self.ctrl.token_take[1].next = self.load.take_next.val();
        self.ctrl.token_give[2].next = self.compute.give_next.val();
        self.ctrl.token_take[2].next = self.store.take_prev.val();
        self.ctrl.token_give[3].next = self.store.give_prev.val();
        self.ctrl.token_take[3].next = self.compute.take_next.val();
        self.ctrl.unit_idle[0].next = self.load.idle.val();
        self.ctrl.unit_idle[1].next = self.compute.idle.val();
        self.ctrl.unit_idle[2].next = self.store.idle.val();
        self.ctrl.unit_blocked[0].next = self.load.blocked.val();
        self.ctrl.unit_blocked[1].next = self.compute.blocked.val();
        self.ctrl.unit_blocked[2].next = self.store.blocked.val();
        self.ctrl.unit_error[0].next = self.load.error.val();
        self.ctrl.unit_error[1].next = self.compute.error.val();
        self.ctrl.unit_error[2].next = self.store.error.val();
        self.ctrl.unit_error_code[0].next = self.load.error_code.val();
        self.ctrl.unit_error_code[1].next = self.compute.error_code.val();
        self.ctrl.unit_error_code[2].next = self.store.error_code.val();
        self.ctrl.unit_error_pc[0].next = self.load.error_pc.val();
        self.ctrl.unit_error_pc[1].next = self.compute.error_pc.val();
        self.ctrl.unit_error_pc[2].next = self.store.error_pc.val();
        self.ctrl.unit_retired[0].next = self.load.retired.val();
        self.ctrl.unit_retired[1].next = self.compute.retired.val();
        self.ctrl.unit_retired[2].next = self.store.retired.val();
        self.ctrl.unit_dma_wait[0].next = self.load.dma_wait.val();
        self.ctrl.unit_dma_wait[1].next = self.compute.dma_wait.val();
        self.ctrl.unit_dma_wait[2].next = self.store.dma_wait.val();
        self.ctrl.ev_compute_busy.next = self.compute.vector_issued.val();
        self.ctrl.ev_macs.next = self.compute.macs.val();
        self.ctrl.ev_read_bytes[0].next = self.load.read_bytes.val();
        self.ctrl.ev_read_bytes[1].next = self.compute.read_bytes.val();
        self.ctrl.ev_write_bytes.next = self.store.write_bytes.val();
        self.load.dram_base.next = self.regs.dram_base.val();
        self.load.dram_size.next = self.regs.dram_size.val();
        self.compute.dram_base.next = self.regs.dram_base.val();
        self.compute.dram_size.next = self.regs.dram_size.val();
        self.store.dram_base.next = self.regs.dram_base.val();
        self.store.dram_size.next = self.regs.dram_size.val();

        // ---- On-chip memories.
        self.ibuf_wbank.next = self.load.waddr.val() & self.ibuf_bank_mask.val();
        for rr in self._rows..(self._rows + 1) {
            for k in 0..self._banks {
                for r in 0..self._rows {
                    self.ibuf[k * rr + r].clock.next = self.clk.val();
                    self.ibuf[k * rr + r].write_enable.next =
                        self.load.ibuf_we.val() & (self.ibuf_wbank.val().index() == k);
                    self.ibuf[k * rr + r].write_address.next = self.load.waddr.val() >> self.ibuf_bank_shift.val();
                    self.ibuf[k * rr + r].write_data.next = self.load.wdata[r].val();
                    self.ibuf[k * rr + r].read_address.next =
                        self.compute.ibuf_raddr.val() >> self.ibuf_bank_shift.val();
                    self.compute.ibuf_rdata[k * rr + r].next = self.ibuf[k * rr + r].read_data.val();
                }
            }
        }
        for c in 0..self._cols {
            self.wbuf[c].clock.next = self.clk.val();
            self.wbuf[c].write_enable.next = self.load.wbuf_we.val();
            self.wbuf[c].write_address.next = self.load.waddr.val();
            self.wbuf[c].write_data.next = self.load.wdata[c].val();
            self.wbuf[c].read_address.next = self.compute.wbuf_raddr[c].val();
            self.compute.wbuf_rdata[c].next = self.wbuf[c].read_data.val();
            self.pbuf[c].clock.next = self.clk.val();
            self.pbuf[c].write_enable.next = self.compute.pbuf_we.val();
            self.pbuf[c].write_address.next = self.compute.pbuf_waddr.val();
            self.pbuf[c].bias_in.next = self.compute.pbuf_bias[c].val();
            self.pbuf[c].mult_in.next = self.compute.pbuf_mult[c].val();
            self.pbuf[c].shift_in.next = self.compute.pbuf_shift[c].val();
            self.pbuf[c].read_address.next = self.store.pbuf_raddr.val();
            self.store.pbuf_bias[c].next = self.pbuf[c].bias.val();
            self.store.pbuf_mult[c].next = self.pbuf[c].mult.val();
            self.store.pbuf_shift[c].next = self.pbuf[c].shift.val();
            self.store.acc_rdata[c].next = self.compute.store_rdata[c].val();
        }
        self.compute.store_ren.next = self.store.acc_ren.val();
        self.compute.store_raddr.next = self.store.acc_raddr.val();
        self.store.acc_grant.next = self.compute.store_grant.val();

        // ---- AXI read address: round-robin among the clients, held until accepted.
        self.any_ar.next = self.ctrl.ar_valid.val() | self.load.ar_valid.val() | self.compute.ar_valid.val();
        self.owner.next = self.ar_owner.q.val();
        if !self.ar_locked.q.val() {
            // Highest priority to `ar_next`, then in order.
            self.owner.next = 0.into();
            if self.compute.ar_valid.val() {
                self.owner.next = 2.into();
            }
            if self.load.ar_valid.val() {
                self.owner.next = 1.into();
            }
            if self.ctrl.ar_valid.val() {
                self.owner.next = 0.into();
            }
            if (self.ar_next.q.val() == 1) & self.load.ar_valid.val() {
                self.owner.next = 1.into();
            }
            if (self.ar_next.q.val() == 2) & self.compute.ar_valid.val() {
                self.owner.next = 2.into();
            }
        }
        self.ar_addr64.next = self.ctrl.ar_addr.val();
        self.ar_len.next = self.ctrl.ar_len.val();
        self.ar_slice.in_valid.next = self.ctrl.ar_valid.val();
        if self.owner.val() == 1 {
            self.ar_addr64.next = self.load.ar_addr.val();
            self.ar_len.next = self.load.ar_len.val();
            self.ar_slice.in_valid.next = self.load.ar_valid.val();
        }
        if self.owner.val() == 2 {
            self.ar_addr64.next = self.compute.ar_addr.val();
            self.ar_len.next = self.compute.ar_len.val();
            self.ar_slice.in_valid.next = self.compute.ar_valid.val();
        }
        self.ar_slice_id.d_in.next = self.owner.val();
        self.ar_slice_addr.d_in.next = self.ar_addr64.val().get_bits::<AW>(0);
        self.ar_slice_len.d_in.next = self.ar_len.val();
        self.ar_slice_id.ctl.next = self.ar_slice.ctl.val();
        self.ar_slice_addr.ctl.next = self.ar_slice.ctl.val();
        self.ar_slice_len.ctl.next = self.ar_slice.ctl.val();
        self.ar_slice.out_ready.next = self.m_axi_arready.val();
        self.m_axi_arvalid.next = self.ar_slice.out_valid.val();
        self.m_axi_arid.next = self.ar_slice_id.q_out.val();
        self.m_axi_araddr.next = self.ar_slice_addr.q_out.val();
        self.m_axi_arlen.next = self.ar_slice_len.q_out.val();
        self.m_axi_arsize.next = self.beat_size.val();
        self.m_axi_arburst.next = self.incr.val();
        self.m_axi_arcache.next = self.cache.val();
        self.m_axi_arprot.next = 0.into();
        self.ctrl.ar_ready.next = (self.owner.val() == 0) & self.ar_slice.in_ready.val();
        self.load.ar_ready.next = (self.owner.val() == 1) & self.ar_slice.in_ready.val();
        self.compute.ar_ready.next = (self.owner.val() == 2) & self.ar_slice.in_ready.val();
        self.ar_locked.d.next = self.any_ar.val() & !self.ar_slice.in_ready.val();
        self.ar_owner.d.next = self.owner.val();
        if self.any_ar.val() & self.ar_slice.in_ready.val() {
            self.ar_next.d.next = self.owner.val() + 1;
            if self.owner.val() == 2 {
                self.ar_next.d.next = 0.into();
            }
        }

        // ---- AXI read data: routed by ID; every client reserved room for its bursts.
        self.m_axi_rready.next = true;
        self.r_valid_q.d.next = self.m_axi_rvalid.val() & !self.hw_rst.val();
        self.r_id_q.d.next = self.m_axi_rid.val();
        self.r_data_q.d.next = self.m_axi_rdata.val();
        self.r_resp_q.d.next = self.m_axi_rresp.val();
        self.r_last_q.d.next = self.m_axi_rlast.val();
        self.ctrl.r_valid.next = self.r_valid_q.q.val() & (self.r_id_q.q.val() == 0);
        self.load.r_valid.next = self.r_valid_q.q.val() & (self.r_id_q.q.val() == 1);
        self.compute.r_valid.next = self.r_valid_q.q.val() & (self.r_id_q.q.val() == 2);
        self.ctrl.r_resp.next = self.r_resp_q.q.val();
        self.load.r_resp.next = self.r_resp_q.q.val();
        self.compute.r_resp.next = self.r_resp_q.q.val();
        self.ctrl.r_last.next = self.r_last_q.q.val();
        self.load.r_last.next = self.r_last_q.q.val();
        self.compute.r_last.next = self.r_last_q.q.val();
        for j in 0..self._b {
            self.ctrl.r_data[j].next = self.r_data_q.q.val().get_bits::<8>(8 * j);
            self.load.r_data[j].next = self.r_data_q.q.val().get_bits::<8>(8 * j);
            self.compute.r_data[j].next = self.r_data_q.q.val().get_bits::<8>(8 * j);
        }

        // ---- AXI write channels (the store unit is the only writer).
        self.aw_slice.in_valid.next = self.store.aw_valid.val();
        self.store.aw_ready.next = self.aw_slice.in_ready.val();
        self.aw_slice_addr.d_in.next = self.store.aw_addr.val().get_bits::<AW>(0);
        self.aw_slice_len.d_in.next = self.store.aw_len.val();
        self.aw_slice_addr.ctl.next = self.aw_slice.ctl.val();
        self.aw_slice_len.ctl.next = self.aw_slice.ctl.val();
        self.aw_slice.out_ready.next = self.m_axi_awready.val();
        self.m_axi_awvalid.next = self.aw_slice.out_valid.val();
        self.m_axi_awaddr.next = self.aw_slice_addr.q_out.val();
        self.m_axi_awlen.next = self.aw_slice_len.q_out.val();
        self.m_axi_awsize.next = self.beat_size.val();
        self.m_axi_awburst.next = self.incr.val();
        self.m_axi_awcache.next = self.cache.val();
        self.m_axi_awprot.next = 0.into();
        self.wdata.next = 0.into();
        for j in 0..self._b {
            self.wdata_wide[j].narrow.next = self.store.w_data[j].val();
            self.wdata.next = self.wdata.val() | (self.wdata_wide[j].wide.val() << self.byte_shift[j].val());
        }
        self.w_slice.in_valid.next = self.store.w_valid.val();
        self.store.w_ready.next = self.w_slice.in_ready.val();
        self.w_slice_data.d_in.next = self.wdata.val();
        self.w_slice_strb.d_in.next = self.store.w_strb.val().get_bits::<SW>(0);
        self.w_slice_last.d_in.next = bit_cast::<1, 1>(self.store.w_last.val().into());
        self.w_slice_data.ctl.next = self.w_slice.ctl.val();
        self.w_slice_strb.ctl.next = self.w_slice.ctl.val();
        self.w_slice_last.ctl.next = self.w_slice.ctl.val();
        self.w_slice.out_ready.next = self.m_axi_wready.val();
        self.m_axi_wvalid.next = self.w_slice.out_valid.val();
        self.m_axi_wdata.next = self.w_slice_data.q_out.val();
        self.m_axi_wstrb.next = self.w_slice_strb.q_out.val();
        self.m_axi_wlast.next = self.w_slice_last.q_out.val().any();
        self.b_slice.in_valid.next = self.m_axi_bvalid.val();
        self.m_axi_bready.next = self.b_slice.in_ready.val();
        self.b_slice_resp.d_in.next = self.m_axi_bresp.val();
        self.b_slice_resp.ctl.next = self.b_slice.ctl.val();
        self.b_slice.out_ready.next = self.store.b_ready.val();
        self.store.b_valid.next = self.b_slice.out_valid.val();
        self.store.b_resp.next = self.b_slice_resp.q_out.val();

        if self.rst.val() {
            self.ar_locked.d.next = false;
            self.ar_next.d.next = 0.into();
        }
    }
}

/// Read clients on the AXI master (fetch, load unit, compute unit).
pub const READ_CLIENTS: usize = CLIENTS;
