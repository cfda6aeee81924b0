//! The unstructured sparse engine: `SPMV`, one activation vector times a tile of
//! compressed sparse columns (`tessera_isa::spmv`, docs/sparse.md).
//!
//! PE `p` owns the weight buffer's column pair `2p, 2p + 1` and the output lanes of
//! the same numbers. An instruction runs in three phases:
//!
//! 1. **Preload** (all PEs in step): the tile's count entries go into each PE's
//!    count RAMs (even and odd columns) and the activation vector from IBUF into
//!    each PE's private copy (one bank per IBUF lane). The partial sums are zero
//!    already (the last write-back cleared them), except after reset or an aborted
//!    SPMV, when this preload clears them all.
//! 2. **Stream** (each PE on its own): the PE walks its columns. A column whose
//!    activation equals the zero point, or which has no items, costs one cycle and
//!    its items are skipped (activation zero-skipping); otherwise its items are read
//!    from the PE's lane pair one per cycle, multiplied (one DSP per PE) and added
//!    into the local row the item names. PEs drift apart freely; the phase ends
//!    when the slowest is done, so the balance comes from the interleaved outputs.
//! 3. **Write-back**: one accumulator entry per cycle, each PE giving its two lanes
//!    (added to the old entry when `accumulate` is set).
//!
//! An item past `item_entries` or naming a row past the instruction's outputs stops
//! the engine with a fault (BadField) before anything is written to the accumulator.

use crate::dsp::DspMulAdd;
use crate::operand::OperandExt;
use crate::ram::SyncRam;
use crate::vec_of;
use crate::widen::Widen;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;

// Phases (`phase`): 0 idle, 1 preload, 2 stream, 3 write-back. Written as literals
// below: hdl_gen emits Rust constants by name, which Verilog would not know.

#[derive(LogicBlock)]
pub struct SparseEngine {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub halt: Signal<In, Bit>,
    /// Starts an `SPMV` with the fields below (one cycle).
    pub start: Signal<In, Bit>,
    pub accumulate: Signal<In, Bit>,
    pub a_unsigned: Signal<In, Bit>,
    pub w_unsigned: Signal<In, Bit>,
    pub a_zero: Signal<In, Bits<16>>,
    pub w_zero: Signal<In, Bits<16>>,
    pub wbuf_addr: Signal<In, Bits<16>>,
    pub ibuf_addr: Signal<In, Bits<16>>,
    pub acc_addr: Signal<In, Bits<16>>,
    pub k_size: Signal<In, Bits<16>>,
    pub out_entries: Signal<In, Bits<16>>,
    pub item_entries: Signal<In, Bits<16>>,
    pub busy: Signal<Out, Bit>,
    /// The instruction completed: its last accumulator entry is written this cycle.
    pub done: Signal<Out, Bit>,
    /// The tile's items do not fit the instruction; the engine stopped.
    pub fault: Signal<Out, Bit>,
    pub ibuf_raddr: Signal<Out, Bits<16>>,
    /// Every IBUF bank's lanes, as the compute unit receives them.
    pub ibuf_rdata: Vec<Signal<In, Bits<8>>>,
    /// A read address per weight-buffer column (the two of a PE's pair are equal).
    pub wbuf_raddr: Vec<Signal<Out, Bits<16>>>,
    pub wbuf_rdata: Vec<Signal<In, Bits<8>>>,
    pub acc_ren: Signal<Out, Bit>,
    pub acc_raddr: Signal<Out, Bits<16>>,
    pub acc_rdata: Vec<Signal<In, Bits<32>>>,
    pub acc_we: Signal<Out, Bit>,
    pub acc_waddr: Signal<Out, Bits<16>>,
    pub acc_wdata: Vec<Signal<Out, Bits<32>>>,
    /// Multiply-accumulates started this cycle.
    pub macs: Signal<Out, Bits<32>>,

    /// Column counts: `[2p]` even columns, `[2p + 1]` odd ones.
    counts: Vec<SyncRam<Bits<8>>>,
    /// Activation copies: `[p * rows + b]` holds activations `k ≡ b (mod rows)`.
    acts: Vec<SyncRam<Bits<8>>>,
    /// Partial sums: `[2p]` even local rows, `[2p + 1]` odd ones.
    sums: Vec<SyncRam<Bits<32>>>,
    mul: Vec<DspMulAdd<16, 16, 32>>,
    a_ext: Vec<OperandExt>,
    w_ext: Vec<OperandExt>,
    count_wide: Vec<Widen<16, 8>>,
    row_wide: Vec<Widen<16, 8>>,

    phase: DFF<Bits<3>>,
    f_accumulate: DFF<Bit>,
    f_a_unsigned: DFF<Bit>,
    f_a_zero: DFF<Bits<16>>,
    f_w_unsigned: DFF<Bit>,
    f_w_zero: DFF<Bits<16>>,
    f_wbuf: DFF<Bits<16>>,
    f_ibuf: DFF<Bits<16>>,
    f_acc: DFF<Bits<16>>,
    f_k: DFF<Bits<16>>,
    f_out: DFF<Bits<16>>,
    f_rows2: DFF<Bits<16>>,
    f_items: DFF<Bits<16>>,
    f_items_base: DFF<Bits<16>>,
    f_count_entries: DFF<Bits<16>>,
    f_act_entries: DFF<Bits<16>>,
    /// Preload: cycles (reads, then the writes of the last read and one to settle).
    f_pre_end: DFF<Bits<16>>,
    /// The partial sums may hold anything (after reset or an aborted SPMV): the
    /// next preload clears them all. A completed SPMV leaves them zero, since the
    /// write-back clears each entry as it reads it.
    dirty: DFF<Bit>,
    f_clear: DFF<Bit>,
    t: DFF<Bits<16>>,
    cnt_we: DFF<Bit>,
    act_we: DFF<Bit>,
    pre_addr: DFF<Bits<16>>,
    ibank: DFF<Bits<16>>,
    // Per PE.
    k: Vec<DFF<Bits<16>>>,
    j: Vec<DFF<Bits<16>>>,
    addr: Vec<DFF<Bits<16>>>,
    s1_valid: Vec<DFF<Bit>>,
    s1_x: Vec<DFF<Signed<16>>>,
    s2_valid: Vec<DFF<Bit>>,
    s2_row: Vec<DFF<Bits<16>>>,
    last_valid: Vec<DFF<Bit>>,
    last_row: Vec<DFF<Bits<16>>>,
    last_sum: Vec<DFF<Bits<32>>>,
    // Write-back.
    wb_e: DFF<Bits<16>>,
    wb_valid: DFF<Bit>,
    wb_addr: DFF<Bits<16>>,
    wb_last: DFF<Bit>,

    k_next: Vec<Signal<Local, Bits<16>>>,
    count: Vec<Signal<Local, Bits<16>>>,
    x_raw: Vec<Signal<Local, Bits<8>>>,
    zero_col: Vec<Signal<Local, Bit>>,
    active: Vec<Signal<Local, Bit>>,
    issue: Vec<Signal<Local, Bit>>,
    row: Vec<Signal<Local, Bits<16>>>,
    old: Vec<Signal<Local, Bits<32>>>,
    sum: Vec<Signal<Local, Bits<32>>>,
    mac_count: Vec<Signal<Local, Bits<32>>>,
    ibyte: Vec<Signal<Local, Bits<8>>>,
    any_fault: Signal<Local, Bit>,
    all_done: Signal<Local, Bit>,
    items_end: Signal<Local, Bits<16>>,
    /// The larger of the count and activation entries the preload reads.
    pre_reads: Signal<Local, Bits<16>>,
    log_rows: Constant<Bits<16>>,
    rows_mask: Constant<Bits<16>>,
    banks_mask: Constant<Bits<16>>,
    rows_m1: Constant<Bits<16>>,
    /// Partial-sum entries per PE RAM (`max_n / cols`).
    max_out: Constant<Bits<16>>,
    _pes: usize,
    _cols: usize,
    _rows: usize,
    _banks: usize,
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

impl SparseEngine {
    /// The engine of `cfg`: empty (no PEs, never started) when the config has none.
    pub fn new(cfg: &AccelConfig) -> Self {
        let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
        let banks = cfg.ibuf_banks() as usize;
        let (pes, max_k, max_out) = match &cfg.sparse.engine {
            Some(e) => (e.pes as usize, e.max_k as usize, e.max_out_entries(cfg.array.cols) as usize),
            None => (0, 2, 1),
        };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            halt: Default::default(),
            start: Default::default(),
            accumulate: Default::default(),
            a_unsigned: Default::default(),
            w_unsigned: Default::default(),
            a_zero: Default::default(),
            w_zero: Default::default(),
            wbuf_addr: Default::default(),
            ibuf_addr: Default::default(),
            acc_addr: Default::default(),
            k_size: Default::default(),
            out_entries: Default::default(),
            item_entries: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            fault: Default::default(),
            ibuf_raddr: Default::default(),
            ibuf_rdata: vec_of(banks * rows),
            wbuf_raddr: vec_of(cols),
            wbuf_rdata: vec_of(cols),
            acc_ren: Default::default(),
            acc_raddr: Default::default(),
            acc_rdata: vec_of(cols),
            acc_we: Default::default(),
            acc_waddr: Default::default(),
            acc_wdata: vec_of(cols),
            macs: Default::default(),
            counts: (0..2 * pes).map(|_| SyncRam::new(max_k / 2)).collect(),
            acts: (0..pes * rows).map(|_| SyncRam::new((max_k / rows).max(1))).collect(),
            sums: (0..2 * pes).map(|_| SyncRam::new(max_out)).collect(),
            mul: vec_of(pes),
            a_ext: (0..pes).map(|_| OperandExt::new(false)).collect(),
            w_ext: (0..pes).map(|_| OperandExt::new(false)).collect(),
            count_wide: vec_of(pes),
            row_wide: vec_of(pes),
            phase: Default::default(),
            f_accumulate: Default::default(),
            f_a_unsigned: Default::default(),
            f_a_zero: Default::default(),
            f_w_unsigned: Default::default(),
            f_w_zero: Default::default(),
            f_wbuf: Default::default(),
            f_ibuf: Default::default(),
            f_acc: Default::default(),
            f_k: Default::default(),
            f_out: Default::default(),
            f_rows2: Default::default(),
            f_items: Default::default(),
            f_items_base: Default::default(),
            f_count_entries: Default::default(),
            f_act_entries: Default::default(),
            f_pre_end: Default::default(),
            dirty: Default::default(),
            f_clear: Default::default(),
            t: Default::default(),
            cnt_we: Default::default(),
            act_we: Default::default(),
            pre_addr: Default::default(),
            ibank: Default::default(),
            k: vec_of(pes),
            j: vec_of(pes),
            addr: vec_of(pes),
            s1_valid: vec_of(pes),
            s1_x: vec_of(pes),
            s2_valid: vec_of(pes),
            s2_row: vec_of(pes),
            last_valid: vec_of(pes),
            last_row: vec_of(pes),
            last_sum: vec_of(pes),
            wb_e: Default::default(),
            wb_valid: Default::default(),
            wb_addr: Default::default(),
            wb_last: Default::default(),
            k_next: vec_of(pes),
            count: vec_of(pes),
            x_raw: vec_of(pes),
            zero_col: vec_of(pes),
            active: vec_of(pes),
            issue: vec_of(pes),
            row: vec_of(pes),
            old: vec_of(pes),
            sum: vec_of(pes),
            mac_count: vec_of(pes + 1),
            ibyte: vec_of(rows),
            any_fault: Default::default(),
            all_done: Default::default(),
            items_end: Default::default(),
            pre_reads: Default::default(),
            log_rows: konst(u64::from(rows.trailing_zeros())),
            rows_mask: konst(rows as u64 - 1),
            banks_mask: konst(banks as u64 - 1),
            rows_m1: konst(rows as u64 - 1),
            max_out: konst(max_out as u64),
            _pes: pes,
            _cols: cols,
            _rows: rows,
            _banks: banks,
        }
    }
}

impl Logic for SparseEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            phase,
            f_accumulate,
            f_a_unsigned,
            f_a_zero,
            f_w_unsigned,
            f_w_zero,
            f_wbuf,
            f_ibuf,
            f_acc,
            f_k,
            f_out,
            f_rows2,
            f_items,
            f_items_base,
            f_count_entries,
            f_act_entries,
            f_pre_end,
            dirty,
            f_clear,
            t,
            cnt_we,
            act_we,
            pre_addr,
            ibank,
            wb_e,
            wb_valid,
            wb_addr,
            wb_last
        );
        for p in 0..self._pes {
            self.k[p].clock.next = self.clock.val();
            self.k[p].d.next = self.k[p].q.val();
            self.j[p].clock.next = self.clock.val();
            self.j[p].d.next = self.j[p].q.val();
            self.addr[p].clock.next = self.clock.val();
            self.addr[p].d.next = self.addr[p].q.val();
            self.s1_valid[p].clock.next = self.clock.val();
            self.s1_valid[p].d.next = false;
            self.s1_x[p].clock.next = self.clock.val();
            self.s1_x[p].d.next = self.s1_x[p].q.val();
            self.s2_valid[p].clock.next = self.clock.val();
            self.s2_valid[p].d.next = false;
            self.s2_row[p].clock.next = self.clock.val();
            self.s2_row[p].d.next = self.s2_row[p].q.val();
            self.last_valid[p].clock.next = self.clock.val();
            self.last_valid[p].d.next = false;
            self.last_row[p].clock.next = self.clock.val();
            self.last_row[p].d.next = self.last_row[p].q.val();
            self.last_sum[p].clock.next = self.clock.val();
            self.last_sum[p].d.next = self.last_sum[p].q.val();
            self.mul[p].clock.next = self.clock.val();
            self.counts[2 * p].clock.next = self.clock.val();
            self.counts[2 * p + 1].clock.next = self.clock.val();
            self.sums[2 * p].clock.next = self.clock.val();
            self.sums[2 * p + 1].clock.next = self.clock.val();
        }
        for rr in self._rows..(self._rows + 1) {
            for p in 0..self._pes {
                for b in 0..self._rows {
                    self.acts[p * rr + b].clock.next = self.clock.val();
                }
            }
        }

        // ---- Start: latch the fields; the preload reads the larger of the count
        // entries, the activation entries and the partial sums to clear.
        self.done.next = false;
        self.fault.next = false;
        if self.start.val() & (self.phase.q.val() == 0) {
            self.phase.d.next = 1.into();
            self.f_accumulate.d.next = self.accumulate.val();
            self.f_a_unsigned.d.next = self.a_unsigned.val();
            self.f_a_zero.d.next = self.a_zero.val();
            self.f_w_unsigned.d.next = self.w_unsigned.val();
            self.f_w_zero.d.next = self.w_zero.val();
            self.f_wbuf.d.next = self.wbuf_addr.val();
            self.f_ibuf.d.next = self.ibuf_addr.val();
            self.f_acc.d.next = self.acc_addr.val();
            self.f_k.d.next = self.k_size.val();
            self.f_out.d.next = self.out_entries.val();
            self.f_rows2.d.next = self.out_entries.val() << 1;
            self.f_items.d.next = self.item_entries.val();
            self.f_items_base.d.next = self.wbuf_addr.val() + ((self.k_size.val() + 1) >> 1);
            self.f_count_entries.d.next = (self.k_size.val() + 1) >> 1;
            self.f_act_entries.d.next = (self.k_size.val() + self.rows_m1.val()) >> self.log_rows.val();
            self.f_clear.d.next = self.dirty.q.val();
            self.dirty.d.next = false;
            self.t.d.next = 0.into();
        }
        self.pre_reads.next = self.f_count_entries.q.val();
        if self.f_act_entries.q.val() > self.f_count_entries.q.val() {
            self.pre_reads.next = self.f_act_entries.q.val();
        }
        self.f_pre_end.d.next = self.pre_reads.val();
        if self.f_clear.q.val() & (self.max_out.val() > self.pre_reads.val()) {
            self.f_pre_end.d.next = self.max_out.val();
        }

        // ---- Preload: read count entry t and activation entry t; write them (and
        // clear partial-sum entry t) one cycle later, into every PE.
        self.ibuf_raddr.next = self.f_ibuf.q.val() + self.t.q.val();
        self.cnt_we.d.next = false;
        self.act_we.d.next = false;
        self.pre_addr.d.next = self.t.q.val();
        self.ibank.d.next = (self.f_ibuf.q.val() + self.t.q.val()) & self.banks_mask.val();
        if self.phase.q.val() == 1 {
            self.t.d.next = self.t.q.val() + 1;
            self.cnt_we.d.next = self.t.q.val() < self.f_count_entries.q.val();
            self.act_we.d.next = self.t.q.val() < self.f_act_entries.q.val();
            // The last writes land at f_pre_end; one more cycle lets the first
            // column's reads see them.
            if self.t.q.val() == (self.f_pre_end.q.val() + 2) {
                self.phase.d.next = 2.into();
            }
        }
        for r in 0..self._rows {
            self.ibyte[r].next = 0.into();
        }
        for rr in self._rows..(self._rows + 1) {
            for bk in 0..self._banks {
                if self.ibank.q.val().index() == bk {
                    for r in 0..self._rows {
                        self.ibyte[r].next = self.ibuf_rdata[bk * rr + r].val();
                    }
                }
            }
        }

        // Defaults for every column (an array without the engine has no PEs).
        for c in 0..self._cols {
            self.wbuf_raddr[c].next = self.f_wbuf.q.val() + self.t.q.val();
            self.acc_wdata[c].next = 0.into();
        }

        // ---- Stream: every PE walks its columns on its own.
        self.items_end.next = self.f_items.q.val();
        self.any_fault.next = false;
        self.all_done.next = true;
        self.mac_count[0].next = 0.into();
        for rr in self._rows..(self._rows + 1) {
            for p in 0..self._pes {
                // The RAMs hold column k's count and activation (read last cycle).
                self.count_wide[p].narrow.next = self.counts[2 * p].read_data.val();
                if self.k[p].q.val().get_bit(0) {
                    self.count_wide[p].narrow.next = self.counts[2 * p + 1].read_data.val();
                }
                self.count[p].next = self.count_wide[p].wide.val();
                self.x_raw[p].next = 0.into();
                for b in 0..self._rows {
                    if (self.k[p].q.val() & self.rows_mask.val()).index() == b {
                        self.x_raw[p].next = self.acts[p * rr + b].read_data.val();
                    }
                }
                self.a_ext[p].raw.next = self.x_raw[p].val();
                self.a_ext[p].is_unsigned.next = self.f_a_unsigned.q.val();
                self.a_ext[p].zero.next = self.f_a_zero.q.val();
                self.zero_col[p].next =
                    !self.count[p].val().any() | !unsigned_cast::<16>(self.a_ext[p].value.val()).any();
                self.active[p].next = (self.phase.q.val() == 2) & (self.k[p].q.val() < self.f_k.q.val());
                self.issue[p].next = self.active[p].val() & !self.zero_col[p].val() & !self.halt.val();
                self.k_next[p].next = self.k[p].q.val();
                if self.active[p].val() & self.zero_col[p].val() {
                    self.addr[p].d.next = self.addr[p].q.val() + self.count[p].val();
                    self.k_next[p].next = self.k[p].q.val() + 1;
                    self.j[p].d.next = 0.into();
                }
                if self.issue[p].val() {
                    self.addr[p].d.next = self.addr[p].q.val() + 1;
                    self.s1_valid[p].d.next = true;
                    self.s1_x[p].d.next = self.a_ext[p].value.val();
                    if (self.j[p].q.val() + 1) == self.count[p].val() {
                        self.k_next[p].next = self.k[p].q.val() + 1;
                        self.j[p].d.next = 0.into();
                    } else {
                        self.j[p].d.next = self.j[p].q.val() + 1;
                    }
                    if self.addr[p].q.val() >= self.items_end.val() {
                        self.any_fault.next = true;
                    }
                }
                self.k[p].d.next = self.k_next[p].val();
                if self.phase.q.val() == 1 {
                    self.k[p].d.next = 0.into();
                    self.j[p].d.next = 0.into();
                    self.addr[p].d.next = 0.into();
                }
                self.mac_count[p + 1].next = self.mac_count[p].val();
                if self.issue[p].val() {
                    self.mac_count[p + 1].next = self.mac_count[p].val() + 1;
                }
                self.counts[2 * p].read_address.next = self.k_next[p].val() >> 1;
                self.counts[2 * p + 1].read_address.next = self.k_next[p].val() >> 1;
                for b in 0..self._rows {
                    self.acts[p * rr + b].read_address.next = self.k_next[p].val() >> self.log_rows.val();
                    self.acts[p * rr + b].write_address.next = self.pre_addr.q.val();
                    self.acts[p * rr + b].write_data.next = self.ibyte[b].val();
                    self.acts[p * rr + b].write_enable.next = self.act_we.q.val();
                }
                self.counts[2 * p].write_address.next = self.pre_addr.q.val();
                self.counts[2 * p].write_data.next = self.wbuf_rdata[2 * p].val();
                self.counts[2 * p].write_enable.next = self.cnt_we.q.val();
                self.counts[2 * p + 1].write_address.next = self.pre_addr.q.val();
                self.counts[2 * p + 1].write_data.next = self.wbuf_rdata[2 * p + 1].val();
                self.counts[2 * p + 1].write_enable.next = self.cnt_we.q.val();
                // The item read: a PE's lane pair shares its address.
                self.wbuf_raddr[2 * p].next = self.f_wbuf.q.val() + self.t.q.val();
                self.wbuf_raddr[2 * p + 1].next = self.f_wbuf.q.val() + self.t.q.val();
                if self.phase.q.val() == 2 {
                    self.wbuf_raddr[2 * p].next = self.f_items_base.q.val() + self.addr[p].q.val();
                    self.wbuf_raddr[2 * p + 1].next = self.f_items_base.q.val() + self.addr[p].q.val();
                }

                // Stage 1: the item arrives; multiply, and read the row's partial sum.
                self.row_wide[p].narrow.next = self.wbuf_rdata[2 * p + 1].val();
                self.row[p].next = self.row_wide[p].wide.val();
                self.w_ext[p].raw.next = self.wbuf_rdata[2 * p].val();
                self.w_ext[p].is_unsigned.next = self.f_w_unsigned.q.val();
                self.w_ext[p].zero.next = self.f_w_zero.q.val();
                self.mul[p].a.next = self.w_ext[p].value.val();
                self.mul[p].b.next = self.s1_x[p].q.val();
                self.mul[p].c.next = 0.into();
                if self.s1_valid[p].q.val() {
                    if self.row[p].val() >= self.f_rows2.q.val() {
                        self.any_fault.next = true;
                    } else {
                        self.s2_valid[p].d.next = true;
                    }
                }
                self.s2_row[p].d.next = self.row[p].val();
                self.sums[2 * p].read_address.next = self.row[p].val() >> 1;
                self.sums[2 * p + 1].read_address.next = self.row[p].val() >> 1;
                if self.phase.q.val() == 3 {
                    self.sums[2 * p].read_address.next = self.wb_e.q.val();
                    self.sums[2 * p + 1].read_address.next = self.wb_e.q.val();
                }

                // Stage 2: add the product into the partial sum (forwarding the
                // previous cycle's write, which the RAM read did not see yet).
                self.old[p].next = self.sums[2 * p].read_data.val();
                if self.s2_row[p].q.val().get_bit(0) {
                    self.old[p].next = self.sums[2 * p + 1].read_data.val();
                }
                if self.last_valid[p].q.val() & (self.last_row[p].q.val() == self.s2_row[p].q.val()) {
                    self.old[p].next = self.last_sum[p].q.val();
                }
                self.sum[p].next = self.old[p].val() + unsigned_cast::<32>(self.mul[p].p.val());
                self.last_valid[p].d.next = self.s2_valid[p].q.val();
                self.last_row[p].d.next = self.s2_row[p].q.val();
                self.last_sum[p].d.next = self.sum[p].val();
                self.sums[2 * p].write_address.next = self.s2_row[p].q.val() >> 1;
                self.sums[2 * p + 1].write_address.next = self.s2_row[p].q.val() >> 1;
                self.sums[2 * p].write_data.next = self.sum[p].val();
                self.sums[2 * p + 1].write_data.next = self.sum[p].val();
                self.sums[2 * p].write_enable.next = self.s2_valid[p].q.val() & !self.s2_row[p].q.val().get_bit(0);
                self.sums[2 * p + 1].write_enable.next = self.s2_valid[p].q.val() & self.s2_row[p].q.val().get_bit(0);
                if self.phase.q.val() == 1 {
                    self.sums[2 * p].write_address.next = self.t.q.val();
                    self.sums[2 * p + 1].write_address.next = self.t.q.val();
                    self.sums[2 * p].write_data.next = 0.into();
                    self.sums[2 * p + 1].write_data.next = 0.into();
                    self.sums[2 * p].write_enable.next = self.f_clear.q.val() & (self.t.q.val() < self.max_out.val());
                    self.sums[2 * p + 1].write_enable.next =
                        self.f_clear.q.val() & (self.t.q.val() < self.max_out.val());
                }
                // Write-back reads entry e and clears it (the read sees the old value).
                if self.phase.q.val() == 3 {
                    self.sums[2 * p].write_address.next = self.wb_e.q.val();
                    self.sums[2 * p + 1].write_address.next = self.wb_e.q.val();
                    self.sums[2 * p].write_data.next = 0.into();
                    self.sums[2 * p + 1].write_data.next = 0.into();
                    self.sums[2 * p].write_enable.next = true;
                    self.sums[2 * p + 1].write_enable.next = true;
                }
                if self.active[p].val() | self.s1_valid[p].q.val() | self.s2_valid[p].q.val() {
                    self.all_done.next = false;
                }
            }
        }
        for pp in self._pes..(self._pes + 1) {
            self.macs.next = self.mac_count[pp].val();
        }
        if (self.phase.q.val() == 2) & self.all_done.val() & !self.any_fault.val() {
            self.phase.d.next = 3.into();
            self.wb_e.d.next = 0.into();
        }

        // ---- Write-back: read partial-sum entry e (and the old accumulator entry);
        // write the accumulator one cycle later.
        self.acc_ren.next = false;
        self.acc_raddr.next = self.f_acc.q.val() + self.wb_e.q.val();
        self.wb_valid.d.next = false;
        self.wb_last.d.next = false;
        self.wb_addr.d.next = self.f_acc.q.val() + self.wb_e.q.val();
        if self.phase.q.val() == 3 {
            self.acc_ren.next = self.f_accumulate.q.val();
            self.wb_valid.d.next = true;
            self.wb_e.d.next = self.wb_e.q.val() + 1;
            if (self.wb_e.q.val() + 1) == self.f_out.q.val() {
                self.wb_last.d.next = true;
                self.phase.d.next = 0.into();
            }
        }
        self.acc_we.next = self.wb_valid.q.val();
        self.acc_waddr.next = self.wb_addr.q.val();
        for p in 0..self._pes {
            self.acc_wdata[2 * p].next = self.sums[2 * p].read_data.val();
            self.acc_wdata[2 * p + 1].next = self.sums[2 * p + 1].read_data.val();
            if self.f_accumulate.q.val() {
                self.acc_wdata[2 * p].next = self.sums[2 * p].read_data.val() + self.acc_rdata[2 * p].val();
                self.acc_wdata[2 * p + 1].next = self.sums[2 * p + 1].read_data.val() + self.acc_rdata[2 * p + 1].val();
            }
        }
        self.done.next = self.wb_last.q.val();

        if self.any_fault.val() | self.halt.val() {
            self.fault.next = self.any_fault.val();
            self.phase.d.next = 0.into();
            if self.phase.q.val() != 0 {
                self.dirty.d.next = true;
            }
            for p in 0..self._pes {
                self.s1_valid[p].d.next = false;
                self.s2_valid[p].d.next = false;
            }
        }
        self.busy.next = (self.phase.q.val() != 0) | self.wb_valid.q.val();
        if self.reset.val() {
            self.dirty.d.next = true;
            self.phase.d.next = 0.into();
            self.wb_valid.d.next = false;
            self.wb_last.d.next = false;
            for p in 0..self._pes {
                self.s1_valid[p].d.next = false;
                self.s2_valid[p].d.next = false;
                self.last_valid[p].d.next = false;
            }
        }
    }
}
