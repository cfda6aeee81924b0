//! The controller: instruction fetch from DDR, decode and the dispatch-time checks,
//! the three instruction queues, the four token counters, FENCE/FINISH, deadlock
//! detection, error and completion status, and the performance counters.
//!
//! Checks that need only the instruction's own fields (opcode, reserved bits,
//! enumerations, token flags for the queue, lane counts, zero points, clamps,
//! shifts, the weight tile's range) are made here, in program order. Checks that
//! depend on loop extents (SRAM and DDR address ranges) are made by the units on
//! every access (docs/isa.md §5 "Error codes").

use crate::decode::{reserved_mask, AluFields, GemmFields, HeaderFields, LoadFields, SpmvFields, StoreFields};
use crate::dma_read::ReadClient;
use crate::fifo::QueueFifo;
use crate::vec_of;
use crate::widen::Widen;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Opcode, INSTR_BYTES};
use tessera_isa::regs::{Counter, ErrorCode};

/// Instructions the fetch buffer holds.
const FETCH_DEPTH: usize = 8;
/// Instructions requested per DMA request.
const FETCH_CHUNK: u64 = 4;
/// Cycles the deadlock condition must hold before it is reported.
const DEADLOCK_CONFIRM: u64 = 16;

/// Queue entries: the instruction in bits 0..256 and its index in 256..288.
pub type QueueEntry = Bits<288>;

#[derive(LogicBlock)]
pub struct Controller {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub start: Signal<In, Bit>,
    pub prog_addr: Signal<In, Bits<64>>,
    pub prog_len: Signal<In, Bits<32>>,
    pub dram_base: Signal<In, Bits<64>>,
    pub dram_size: Signal<In, Bits<32>>,
    // Instruction fetch (a DMA read client).
    pub ar_valid: Signal<Out, Bit>,
    pub ar_ready: Signal<In, Bit>,
    pub ar_addr: Signal<Out, Bits<64>>,
    pub ar_len: Signal<Out, Bits<8>>,
    pub r_valid: Signal<In, Bit>,
    pub r_data: Vec<Signal<In, Bits<8>>>,
    pub r_resp: Signal<In, Bits<2>>,
    pub r_last: Signal<In, Bit>,
    // Queues: load (0), compute (1), store (2).
    pub q_valid: Vec<Signal<Out, Bit>>,
    pub q_head: Vec<Signal<Out, QueueEntry>>,
    pub q_pop: Vec<Signal<In, Bit>>,
    // Token FIFOs: load->compute, compute->load, compute->store, store->compute.
    pub tokens: Vec<Signal<Out, Bits<8>>>,
    pub token_give: Vec<Signal<In, Bit>>,
    pub token_take: Vec<Signal<In, Bit>>,
    // Units.
    pub unit_idle: Vec<Signal<In, Bit>>,
    pub unit_blocked: Vec<Signal<In, Bit>>,
    pub unit_error: Vec<Signal<In, Bit>>,
    pub unit_error_code: Vec<Signal<In, Bits<8>>>,
    pub unit_error_pc: Vec<Signal<In, Bits<32>>>,
    pub unit_retired: Vec<Signal<In, Bit>>,
    pub unit_dma_wait: Vec<Signal<In, Bit>>,
    pub halt: Signal<Out, Bit>,
    /// Clears queues and unit state when a program starts.
    pub clear: Signal<Out, Bit>,
    // Counter events.
    pub ev_compute_busy: Signal<In, Bit>,
    pub ev_macs: Signal<In, Bits<32>>,
    pub ev_read_bytes: Vec<Signal<In, Bits<16>>>,
    pub ev_write_bytes: Signal<In, Bits<16>>,
    // Status.
    pub busy: Signal<Out, Bit>,
    pub done: Signal<Out, Bit>,
    pub error: Signal<Out, Bit>,
    pub error_code: Signal<Out, Bits<8>>,
    pub error_pc: Signal<Out, Bits<32>>,
    pub done_event: Signal<Out, Bit>,
    pub error_event: Signal<Out, Bit>,
    /// Live machine state for ERROR_INFO: unit idle (bits 0-2), fetch idle (3),
    /// unit blocked on tokens (4-6), queue empty (8-10), dispatcher holds an instruction (11).
    pub info: Signal<Out, Bits<32>>,
    pub counters: Vec<Signal<Out, Bits<64>>>,

    fetch: ReadClient,
    ififo: QueueFifo<Bits<256>>,
    lq: QueueFifo<QueueEntry>,
    cq: QueueFifo<QueueEntry>,
    sq: QueueFifo<QueueEntry>,
    hdr: HeaderFields,
    ld: LoadFields,
    st: StoreFields,
    gm: GemmFields,
    al: AluFields,
    sp: SpmvFields,

    running: DFF<Bit>,
    finishing: DFF<Bit>,
    err_latched: DFF<Bit>,
    err_code: DFF<Bits<8>>,
    err_pc: DFF<Bits<32>>,
    done_flag: DFF<Bit>,
    done_pulse: DFF<Bit>,
    error_pulse: DFF<Bit>,
    clear_pulse: DFF<Bit>,
    // Fetch.
    fetch_addr: DFF<Bits<64>>,
    fetch_left: DFF<Bits<32>>,
    fetch_inflight: DFF<Bits<8>>,
    fetch_slot: DFF<Bits<8>>,
    fetch_bytes: Vec<DFF<Bits<8>>>,
    byte_wide: Vec<Widen<256, 8>>,
    byte_shift: Vec<Constant<Bits<16>>>,
    instr_pushed: DFF<Bit>,
    // Dispatch.
    cur: DFF<Bits<256>>,
    cur_valid: DFF<Bit>,
    pc: DFF<Bits<32>>,
    stuck: DFF<Bits<8>>,
    token_count: Vec<DFF<Bits<8>>>,
    counter: Vec<DFF<Bits<64>>>,

    // Combinational.
    prog_bytes: Signal<Local, Bits<64>>,
    prog_ok: Signal<Local, Bit>,
    chunk: Signal<Local, Bits<32>>,
    fetch_go: Signal<Local, Bit>,
    instr_done: Signal<Local, Bit>,
    assembled: Signal<Local, Bits<256>>,
    take_cur: Signal<Local, Bit>,
    opcode: Signal<Local, Bits<4>>,
    bad_instr: Signal<Local, Bit>,
    bad_field: Signal<Local, Bit>,
    target: Signal<Local, Bits<2>>,
    is_barrier: Signal<Local, Bit>,
    is_finish: Signal<Local, Bit>,
    quiet: Signal<Local, Bit>,
    dispatch: Signal<Local, Bit>,
    target_full: Signal<Local, Bit>,
    exhausted: Signal<Local, Bit>,
    units_stuck: Signal<Local, Bit>,
    dispatcher_stuck: Signal<Local, Bit>,
    oldest: Signal<Local, Bits<32>>,
    reserved: Signal<Local, Bits<256>>,
    entry: Signal<Local, QueueEntry>,
    lhead: Signal<Local, QueueEntry>,
    chead: Signal<Local, QueueEntry>,
    shead: Signal<Local, QueueEntry>,
    lanes_max: Signal<Local, Bits<8>>,
    zero_lo: Signal<Local, Bits<16>>,
    zero_hi: Signal<Local, Bits<16>>,
    wzero_lo: Signal<Local, Bits<16>>,
    wzero_hi: Signal<Local, Bits<16>>,
    /// A GEMM's tile length in weight-buffer entries, and for N:4 tiles the weight
    /// zero point they need and the IBUF alignment mask of their vectors.
    tile_len: Signal<Local, Bits<8>>,
    sp_tile_end: Signal<Local, Bits<32>>,
    sp_act_end: Signal<Local, Bits<32>>,
    sp_acc_end: Signal<Local, Bits<32>>,
    nm_zero: Signal<Local, Bits<16>>,
    nm_align: Signal<Local, Bits<16>>,
    type_lo: Signal<Local, Bits<16>>,
    type_hi: Signal<Local, Bits<16>>,
    unit_err_any: Signal<Local, Bit>,
    any_new_error: Signal<Local, Bit>,
    new_code: Signal<Local, Bits<8>>,
    new_pc: Signal<Local, Bits<32>>,

    masks: Vec<Constant<Bits<256>>>,
    rows: Constant<Bits<8>>,
    cols: Constant<Bits<8>>,
    wbuf_entries: Constant<Bits<32>>,
    ibuf_entries: Constant<Bits<32>>,
    acc_entries: Constant<Bits<32>>,
    has_engine: Constant<Bit>,
    engine_max_k: Constant<Bits<16>>,
    engine_max_out: Constant<Bits<16>>,
    rows_m1: Constant<Bits<32>>,
    log_rows: Constant<Bits<32>>,
    pbuf_entries: Constant<Bits<16>>,
    four_bit: Constant<Bit>,
    has_1of4: Constant<Bit>,
    has_2of4: Constant<Bit>,
    sparse_tile_len: Constant<Bits<8>>,
    fetch_depth: Constant<Bits<8>>,
    fetch_chunk: Constant<Bits<32>>,
    instr_slots: Constant<Bits<8>>,
    confirm: Constant<Bits<8>>,
    queue_depth: Constant<Bits<16>>,
    info_bits: Vec<Constant<Bits<32>>>,
    sign16: Constant<Bits<16>>,
    code_bad_instruction: Constant<Bits<8>>,
    code_bad_field: Constant<Bits<8>>,
    code_deadlock: Constant<Bits<8>>,
    code_no_finish: Constant<Bits<8>>,
    code_dma_read: Constant<Bits<8>>,
    max_opcode: Constant<Bits<4>>,
    _opcodes: usize,
    _b: usize,
    _slots: usize,
    _counters: usize,
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

impl Controller {
    pub fn new(cfg: &AccelConfig) -> Self {
        let b = cfg.axi_bytes_per_beat() as usize;
        let depth = cfg.control.queue_depth as usize;
        let masks = Opcode::ALL.iter().map(|op| Constant::new(reserved_mask(*op))).collect();
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            prog_addr: Default::default(),
            prog_len: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            ar_valid: Default::default(),
            ar_ready: Default::default(),
            ar_addr: Default::default(),
            ar_len: Default::default(),
            r_valid: Default::default(),
            r_data: vec_of(b),
            r_resp: Default::default(),
            r_last: Default::default(),
            q_valid: vec_of(3),
            q_head: vec_of(3),
            q_pop: vec_of(3),
            tokens: vec_of(4),
            token_give: vec_of(4),
            token_take: vec_of(4),
            unit_idle: vec_of(3),
            unit_blocked: vec_of(3),
            unit_error: vec_of(3),
            unit_error_code: vec_of(3),
            unit_error_pc: vec_of(3),
            unit_retired: vec_of(3),
            unit_dma_wait: vec_of(3),
            halt: Default::default(),
            clear: Default::default(),
            ev_compute_busy: Default::default(),
            ev_macs: Default::default(),
            ev_read_bytes: vec_of(2),
            ev_write_bytes: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            error_pc: Default::default(),
            done_event: Default::default(),
            error_event: Default::default(),
            info: Default::default(),
            counters: vec_of(Counter::ALL.len()),
            fetch: ReadClient::new(b, cfg.axi.max_burst_beats as usize, cfg.axi.max_outstanding.min(4) as usize),
            ififo: QueueFifo::new(FETCH_DEPTH),
            lq: QueueFifo::new(depth),
            cq: QueueFifo::new(depth),
            sq: QueueFifo::new(depth),
            hdr: Default::default(),
            ld: Default::default(),
            st: Default::default(),
            gm: Default::default(),
            al: Default::default(),
            sp: Default::default(),
            running: Default::default(),
            finishing: Default::default(),
            err_latched: Default::default(),
            err_code: Default::default(),
            err_pc: Default::default(),
            done_flag: Default::default(),
            done_pulse: Default::default(),
            error_pulse: Default::default(),
            clear_pulse: Default::default(),
            fetch_addr: Default::default(),
            fetch_left: Default::default(),
            fetch_inflight: Default::default(),
            fetch_slot: Default::default(),
            fetch_bytes: vec_of(INSTR_BYTES),
            byte_wide: vec_of(INSTR_BYTES),
            byte_shift: (0..INSTR_BYTES).map(|i| konst::<16>(8 * i as u64)).collect(),
            instr_pushed: Default::default(),
            cur: Default::default(),
            cur_valid: Default::default(),
            pc: Default::default(),
            stuck: Default::default(),
            token_count: vec_of(4),
            counter: vec_of(Counter::ALL.len()),
            prog_bytes: Default::default(),
            prog_ok: Default::default(),
            chunk: Default::default(),
            fetch_go: Default::default(),
            instr_done: Default::default(),
            assembled: Default::default(),
            take_cur: Default::default(),
            opcode: Default::default(),
            bad_instr: Default::default(),
            bad_field: Default::default(),
            target: Default::default(),
            is_barrier: Default::default(),
            is_finish: Default::default(),
            quiet: Default::default(),
            dispatch: Default::default(),
            target_full: Default::default(),
            exhausted: Default::default(),
            units_stuck: Default::default(),
            dispatcher_stuck: Default::default(),
            oldest: Default::default(),
            reserved: Default::default(),
            entry: Default::default(),
            lhead: Default::default(),
            chead: Default::default(),
            shead: Default::default(),
            lanes_max: Default::default(),
            zero_lo: Default::default(),
            zero_hi: Default::default(),
            wzero_lo: Default::default(),
            wzero_hi: Default::default(),
            tile_len: Default::default(),
            sp_tile_end: Default::default(),
            sp_act_end: Default::default(),
            sp_acc_end: Default::default(),
            nm_zero: Default::default(),
            nm_align: Default::default(),
            type_lo: Default::default(),
            type_hi: Default::default(),
            unit_err_any: Default::default(),
            any_new_error: Default::default(),
            new_code: Default::default(),
            new_pc: Default::default(),
            masks,
            rows: konst(u64::from(cfg.array.rows)),
            cols: konst(u64::from(cfg.array.cols)),
            wbuf_entries: konst(u64::from(cfg.memory.wbuf_entries)),
            ibuf_entries: konst(u64::from(cfg.memory.ibuf_entries)),
            acc_entries: konst(u64::from(cfg.memory.acc_entries)),
            has_engine: Constant::new(cfg.sparse.engine.is_some()),
            engine_max_k: konst(cfg.sparse.engine.as_ref().map_or(0, |e| u64::from(e.max_k))),
            engine_max_out: konst(
                cfg.sparse.engine.as_ref().map_or(0, |e| u64::from(e.max_out_entries(cfg.array.cols))),
            ),
            rows_m1: konst(u64::from(cfg.array.rows) - 1),
            log_rows: konst(u64::from(cfg.array.rows.trailing_zeros())),
            pbuf_entries: konst(u64::from(cfg.memory.pbuf_entries)),
            four_bit: Constant::new(cfg.array.operand_bits == 4),
            has_1of4: Constant::new(cfg.supports_nm(1)),
            has_2of4: Constant::new(cfg.supports_nm(2)),
            sparse_tile_len: konst(u64::from(tessera_isa::nm::tile_entries(cfg.array.rows, 1))),
            fetch_depth: konst(FETCH_DEPTH as u64),
            fetch_chunk: konst(FETCH_CHUNK),
            instr_slots: konst((INSTR_BYTES / b) as u64),
            confirm: konst(DEADLOCK_CONFIRM),
            queue_depth: konst(depth as u64),
            info_bits: (0..12).map(|b| konst(1 << b)).collect(),
            sign16: konst(0x8000),
            code_bad_instruction: konst(ErrorCode::BadInstruction as u64),
            code_bad_field: konst(ErrorCode::BadField as u64),
            code_deadlock: konst(ErrorCode::Deadlock as u64),
            code_no_finish: konst(ErrorCode::NoFinish as u64),
            code_dma_read: konst(ErrorCode::DmaRead as u64),
            max_opcode: konst(Opcode::ALL.len() as u64),
            _opcodes: Opcode::ALL.len(),
            _b: b,
            _slots: INSTR_BYTES / b,
            _counters: Counter::ALL.len(),
        }
    }
}

impl Logic for Controller {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            running,
            finishing,
            err_latched,
            err_code,
            err_pc,
            done_flag,
            done_pulse,
            error_pulse,
            clear_pulse,
            fetch_addr,
            fetch_left,
            fetch_inflight,
            fetch_slot,
            instr_pushed,
            cur,
            cur_valid,
            pc,
            stuck
        );
        clock!(self, clock, fetch, ififo);
        for i in 0..32 {
            self.fetch_bytes[i].clock.next = self.clock.val();
            self.fetch_bytes[i].d.next = self.fetch_bytes[i].q.val();
        }
        for i in 0..4 {
            self.token_count[i].clock.next = self.clock.val();
            self.token_count[i].d.next = self.token_count[i].q.val();
            self.tokens[i].next = self.token_count[i].q.val();
        }
        for i in 0..self._counters {
            self.counter[i].clock.next = self.clock.val();
            self.counter[i].d.next = self.counter[i].q.val();
            self.counters[i].next = self.counter[i].q.val();
        }
        clock!(self, clock, lq, cq, sq);
        self.entry.next = bit_cast::<288, 256>(self.cur.q.val()) | (bit_cast::<288, 32>(self.pc.q.val()) << 256);
        self.lq.reset.next = self.reset.val() | self.clear_pulse.q.val();
        self.cq.reset.next = self.reset.val() | self.clear_pulse.q.val();
        self.sq.reset.next = self.reset.val() | self.clear_pulse.q.val();
        self.lq.pop.next = self.q_pop[0].val();
        self.cq.pop.next = self.q_pop[1].val();
        self.sq.pop.next = self.q_pop[2].val();
        self.lq.push.next = false;
        self.cq.push.next = false;
        self.sq.push.next = false;
        self.lq.data_in.next = self.entry.val();
        self.cq.data_in.next = self.entry.val();
        self.sq.data_in.next = self.entry.val();
        self.q_valid[0].next = self.lq.valid.val();
        self.q_valid[1].next = self.cq.valid.val();
        self.q_valid[2].next = self.sq.valid.val();
        self.lhead.next = self.lq.data_out.val();
        self.chead.next = self.cq.data_out.val();
        self.shead.next = self.sq.data_out.val();
        self.q_head[0].next = self.lhead.val();
        self.q_head[1].next = self.chead.val();
        self.q_head[2].next = self.shead.val();
        self.fetch.reset.next = self.reset.val() | self.clear_pulse.q.val();
        self.ififo.reset.next = self.reset.val() | self.clear_pulse.q.val();
        self.clear_pulse.d.next = false;
        self.done_pulse.d.next = false;
        self.error_pulse.d.next = false;

        // ---- Start: the program must lie inside the DRAM window.
        self.prog_bytes.next = bit_cast::<64, 32>(self.prog_len.val()) << 5;
        self.prog_ok.next = (self.prog_addr.val() >= self.dram_base.val())
            & ((self.prog_addr.val() + self.prog_bytes.val())
                <= (self.dram_base.val() + bit_cast::<64, 32>(self.dram_size.val())));
        if self.start.val() & !self.running.q.val() {
            self.running.d.next = true;
            self.finishing.d.next = false;
            self.done_flag.d.next = false;
            self.err_latched.d.next = false;
            self.err_code.d.next = 0.into();
            self.err_pc.d.next = 0.into();
            self.clear_pulse.d.next = true;
            self.fetch_addr.d.next = self.prog_addr.val();
            self.fetch_left.d.next = self.prog_len.val();
            self.fetch_inflight.d.next = 0.into();
            self.fetch_slot.d.next = 0.into();
            self.cur_valid.d.next = false;
            self.pc.d.next = 0.into();
            self.stuck.d.next = 0.into();
            for i in 0..4 {
                self.token_count[i].d.next = 0.into();
            }
            for i in 0..self._counters {
                self.counter[i].d.next = 0.into();
            }
            if !self.prog_ok.val() {
                self.err_latched.d.next = true;
                self.err_code.d.next = self.code_dma_read.val();
            }
        }

        // ---- Fetch: chunks of instructions while the fetch buffer has room for them.
        self.chunk.next = self.fetch_left.q.val();
        if self.chunk.val() > self.fetch_chunk.val() {
            self.chunk.next = self.fetch_chunk.val();
        }
        self.fetch_go.next = self.running.q.val()
            & !self.clear_pulse.q.val()
            & !self.err_latched.q.val()
            & self.fetch_left.q.val().any()
            & ((bit_cast::<32, 8>(self.fetch_inflight.q.val())
                + bit_cast::<32, 16>(self.ififo.level.val())
                + self.chunk.val())
                <= bit_cast::<32, 8>(self.fetch_depth.val()));
        self.fetch.req_valid.next = self.fetch_go.val();
        self.fetch.req_addr.next = self.fetch_addr.q.val();
        self.fetch.req_bytes.next = self.chunk.val() << 5;
        self.ar_valid.next = self.fetch.ar_valid.val();
        self.ar_addr.next = self.fetch.ar_addr.val();
        self.ar_len.next = self.fetch.ar_len.val();
        self.fetch.ar_ready.next = self.ar_ready.val();
        self.fetch.r_valid.next = self.r_valid.val();
        self.fetch.r_resp.next = self.r_resp.val();
        self.fetch.r_last.next = self.r_last.val();
        for j in 0..self._b {
            self.fetch.r_data[j].next = self.r_data[j].val();
        }
        if self.fetch_go.val() & self.fetch.req_ready.val() {
            self.fetch_addr.d.next = self.fetch_addr.q.val() + bit_cast::<64, 32>(self.chunk.val() << 5);
            self.fetch_left.d.next = self.fetch_left.q.val() - self.chunk.val();
        }
        // Assemble 32-byte instructions from the beats; push the completed one next cycle.
        self.fetch.out_ready.next = true;
        self.instr_done.next = self.fetch.out_valid.val() & ((self.fetch_slot.q.val() + 1) == self.instr_slots.val());
        if self.fetch.out_valid.val() {
            self.fetch_slot.d.next = self.fetch_slot.q.val() + 1;
            if self.instr_done.val() {
                self.fetch_slot.d.next = 0.into();
            }
            for bb in self._b..(self._b + 1) {
                for k in 0..self._slots {
                    if self.fetch_slot.q.val().index() == k {
                        for j in 0..self._b {
                            self.fetch_bytes[k * bb + j].d.next = self.fetch.out_data[j].val();
                        }
                    }
                }
            }
        }
        self.instr_pushed.d.next = self.instr_done.val();
        self.assembled.next = 0.into();
        for i in 0..32 {
            self.byte_wide[i].narrow.next = self.fetch_bytes[i].q.val();
            self.assembled.next = self.assembled.val() | (self.byte_wide[i].wide.val() << self.byte_shift[i].val());
        }
        self.ififo.push.next = self.instr_pushed.q.val();
        self.ififo.data_in.next = self.assembled.val();
        self.fetch_inflight.d.next = self.fetch_inflight.q.val() - bit_cast::<8, 1>(self.instr_pushed.q.val().into());
        if self.fetch_go.val() & self.fetch.req_ready.val() {
            self.fetch_inflight.d.next = self.fetch_inflight.q.val() + self.chunk.val().get_bits::<8>(0)
                - bit_cast::<8, 1>(self.instr_pushed.q.val().into());
        }

        // ---- Decode the instruction waiting for dispatch.
        self.hdr.instr.next = self.cur.q.val();
        self.ld.instr.next = self.cur.q.val();
        self.st.instr.next = self.cur.q.val();
        self.gm.instr.next = self.cur.q.val();
        self.al.instr.next = self.cur.q.val();
        self.sp.instr.next = self.cur.q.val();
        self.opcode.next = self.hdr.opcode.val();
        // Unknown opcodes, set reserved bits, invalid enumerations: BadInstruction.
        self.reserved.next = 0.into();
        for op in 1..(self._opcodes + 1) {
            if self.opcode.val().index() == op {
                self.reserved.next = self.cur.q.val() & self.masks[op - 1].val();
            }
        }
        self.bad_instr.next =
            (self.opcode.val() == 0) | (self.opcode.val() > self.max_opcode.val()) | self.reserved.val().any();
        if (self.opcode.val() == 1) & (self.ld.combine.val() == 3) {
            self.bad_instr.next = true;
        }
        if (self.opcode.val() == 2) & (self.st.out_type.val() > 4) {
            self.bad_instr.next = true;
        }
        if (self.opcode.val() == 4) & (self.al.op.val() > 8) {
            self.bad_instr.next = true;
        }
        // Fields out of range for this configuration: BadField.
        self.bad_field.next = false;
        self.lanes_max.next = self.cols.val();
        if self.ld.mem.val() == 0 {
            self.lanes_max.next = self.rows.val();
        }
        if self.opcode.val() == 1 {
            if self.ld.mem.val() < 2 {
                // The load queue has no previous queue.
                if self.hdr.pop_prev.val().any() | self.hdr.push_prev.val().any() {
                    self.bad_field.next = true;
                }
            }
            if !self.ld.x_size.val().any() | !self.ld.y_size.val().any() {
                if (self.ld.pad_top.val() | self.ld.pad_bottom.val() | self.ld.pad_left.val() | self.ld.pad_right.val())
                    .any()
                {
                    self.bad_field.next = true;
                }
            } else {
                if !self.ld.lanes.val().any() | (self.ld.lanes.val() > self.lanes_max.val()) {
                    self.bad_field.next = true;
                }
                if (self.ld.mem.val() != 2) & (self.ld.acc_elem.val().any() | self.ld.combine.val().any()) {
                    self.bad_field.next = true;
                }
                if self.four_bit.val() & (self.ld.mem.val() < 2) {
                    if self.ld.lanes.val().get_bit(0) | (self.ld.pad_value.val() > 15) {
                        self.bad_field.next = true;
                    }
                }
                if (self.ld.mem.val() == 3) & (self.ld.lanes.val() != self.cols.val()) {
                    self.bad_field.next = true;
                }
            }
        }
        // Output type range of a STORE (signed 16-bit bounds).
        self.type_lo.next = 0.into();
        self.type_hi.next = 255.into();
        if self.st.out_type.val() == 0 {
            self.type_lo.next = 0xff80.into();
            self.type_hi.next = 127.into();
        }
        if self.st.out_type.val() == 2 {
            self.type_lo.next = 0xfff8.into();
            self.type_hi.next = 7.into();
        }
        if self.st.out_type.val() == 3 {
            self.type_hi.next = 15.into();
        }
        if self.opcode.val() == 2 {
            // The store queue has no next queue.
            if self.hdr.pop_next.val().any() | self.hdr.push_next.val().any() {
                self.bad_field.next = true;
            }
            if !self.st.lanes.val().any() | (self.st.lanes.val() > self.cols.val()) {
                self.bad_field.next = true;
            }
            if ((self.st.out_type.val() == 2) | (self.st.out_type.val() == 3)) & self.st.lanes.val().get_bit(0) {
                self.bad_field.next = true;
            }
            if self.st.out_type.val() == 4 {
                if self.st.mode.val().any() {
                    self.bad_field.next = true;
                }
            } else {
                if ((self.st.clamp_lo.val() ^ self.sign16.val()) < (self.type_lo.val() ^ self.sign16.val()))
                    | ((self.st.clamp_hi.val() ^ self.sign16.val()) > (self.type_hi.val() ^ self.sign16.val()))
                    | ((self.st.clamp_lo.val() ^ self.sign16.val()) > (self.st.clamp_hi.val() ^ self.sign16.val()))
                {
                    self.bad_field.next = true;
                }
                if self.st.mode.val().any()
                    & (((self.st.zero_point.val() ^ self.sign16.val()) < (self.type_lo.val() ^ self.sign16.val()))
                        | ((self.st.zero_point.val() ^ self.sign16.val()) > (self.type_hi.val() ^ self.sign16.val())))
                {
                    self.bad_field.next = true;
                }
            }
            if self.st.mode.val().any() & (self.st.pbuf_addr.val() >= self.pbuf_entries.val()) {
                self.bad_field.next = true;
            }
            if self.st.mode.val().any()
                & self.st.pbuf_step.val().any()
                & ((bit_cast::<32, 16>(self.st.pbuf_addr.val()) + bit_cast::<32, 16>(self.st.x_size.val()))
                    > bit_cast::<32, 16>(self.pbuf_entries.val()))
            {
                self.bad_field.next = true;
            }
        }
        // Operand (and zero point) ranges of a GEMM.
        self.zero_lo.next = 0xff80.into();
        self.zero_hi.next = 127.into();
        if self.gm.a_unsigned.val().any() {
            self.zero_lo.next = 0.into();
            self.zero_hi.next = 255.into();
        }
        self.wzero_lo.next = 0xff80.into();
        self.wzero_hi.next = 127.into();
        if self.gm.w_unsigned.val().any() {
            self.wzero_lo.next = 0.into();
            self.wzero_hi.next = 255.into();
        }
        if self.four_bit.val() {
            self.zero_lo.next = 0xfff8.into();
            self.zero_hi.next = 7.into();
            if self.gm.a_unsigned.val().any() {
                self.zero_lo.next = 0.into();
                self.zero_hi.next = 15.into();
            }
            self.wzero_lo.next = 0xfff8.into();
            self.wzero_hi.next = 7.into();
            if self.gm.w_unsigned.val().any() {
                self.wzero_lo.next = 0.into();
                self.wzero_hi.next = 15.into();
            }
        }
        // N:4 tiles: a mode the array has, a zero (signed) weight zero point, aligned vectors.
        self.tile_len.next = self.rows.val();
        self.nm_zero.next = 0.into();
        if self.gm.w_unsigned.val().any() {
            self.nm_zero.next = 128.into();
            if self.four_bit.val() {
                self.nm_zero.next = 8.into();
            }
        }
        self.nm_align.next = 3.into();
        if self.gm.nm.val() == 2 {
            self.nm_align.next = 1.into();
        }
        if self.opcode.val() == 3 {
            if self.gm.nm.val().any() {
                self.tile_len.next = self.sparse_tile_len.val();
                if ((self.gm.nm.val() == 1) & !self.has_1of4.val())
                    | ((self.gm.nm.val() == 2) & !self.has_2of4.val())
                    | (self.gm.nm.val() == 3)
                    | (self.gm.w_zero.val() != self.nm_zero.val())
                    | ((self.gm.ibuf_addr.val() | self.gm.ibuf_outer_stride.val() | self.gm.ibuf_inner_stride.val())
                        & self.nm_align.val())
                    .any()
                {
                    self.bad_field.next = true;
                }
            }
            if (bit_cast::<32, 16>(self.gm.wbuf_addr.val()) + bit_cast::<32, 8>(self.tile_len.val()))
                > self.wbuf_entries.val()
            {
                self.bad_field.next = true;
            }
        }
        // SPMV: an engine, sizes it supports, the tile and vectors inside their memories.
        self.sp_tile_end.next = bit_cast::<32, 16>(self.sp.wbuf_addr.val())
            + ((bit_cast::<32, 16>(self.sp.k_size.val()) + 1) >> 1)
            + bit_cast::<32, 16>(self.sp.item_entries.val());
        self.sp_act_end.next = bit_cast::<32, 16>(self.sp.ibuf_addr.val())
            + ((bit_cast::<32, 16>(self.sp.k_size.val()) + self.rows_m1.val()) >> self.log_rows.val());
        self.sp_acc_end.next =
            bit_cast::<32, 16>(self.sp.acc_addr.val()) + bit_cast::<32, 16>(self.sp.out_entries.val());
        if self.opcode.val() == 7 {
            if !self.has_engine.val()
                | !self.sp.k_size.val().any()
                | (self.sp.k_size.val() > self.engine_max_k.val())
                | !self.sp.out_entries.val().any()
                | (self.sp.out_entries.val() > self.engine_max_out.val())
                | (self.sp_tile_end.val() > self.wbuf_entries.val())
                | (self.sp_act_end.val() > self.ibuf_entries.val())
                | (self.sp_acc_end.val() > self.acc_entries.val())
            {
                self.bad_field.next = true;
            }
        }
        // Zero points of GEMM and SPMV (the same fields at the same bits).
        if (self.opcode.val() == 3) | (self.opcode.val() == 7) {
            if ((self.gm.a_zero.val() ^ self.sign16.val()) < (self.zero_lo.val() ^ self.sign16.val()))
                | ((self.gm.a_zero.val() ^ self.sign16.val()) > (self.zero_hi.val() ^ self.sign16.val()))
                | ((self.gm.w_zero.val() ^ self.sign16.val()) < (self.wzero_lo.val() ^ self.sign16.val()))
                | ((self.gm.w_zero.val() ^ self.sign16.val()) > (self.wzero_hi.val() ^ self.sign16.val()))
            {
                self.bad_field.next = true;
            }
        }
        if self.opcode.val() == 4 {
            if self.al.op.val() == 8 {
                // MBQM shift in -31..=30.
                if ((self.al.shift.val() ^ 0x80) < 0x61) | ((self.al.shift.val() ^ 0x80) > 0x9e) {
                    self.bad_field.next = true;
                }
            } else if self.al.shift.val().any() {
                self.bad_field.next = true;
            }
            if !self.al.use_imm.val().any() & self.al.imm.val().any() {
                self.bad_field.next = true;
            }
        }
        if (self.opcode.val() == 5) | (self.opcode.val() == 6) {
            self.bad_field.next = false;
        }

        // ---- Route: LOAD into IBUF/WBUF -> load queue; LOAD into ACC/PBUF, GEMM, ALU -> compute; STORE -> store.
        self.target.next = 1.into();
        if (self.opcode.val() == 1) & (self.ld.mem.val() < 2) {
            self.target.next = 0.into();
        }
        if self.opcode.val() == 2 {
            self.target.next = 2.into();
        }
        self.is_barrier.next = (self.opcode.val() == 5) | (self.opcode.val() == 6);
        self.is_finish.next = self.opcode.val() == 6;
        self.quiet.next = self.lq.empty.val()
            & self.cq.empty.val()
            & self.sq.empty.val()
            & self.unit_idle[0].val()
            & self.unit_idle[1].val()
            & self.unit_idle[2].val();
        // A queue holds `queue_depth` instructions in all (docs/isa.md §2).
        self.target_full.next = self.cq.level.val() >= self.queue_depth.val();
        if self.target.val() == 0 {
            self.target_full.next = self.lq.level.val() >= self.queue_depth.val();
        }
        if self.target.val() == 2 {
            self.target_full.next = self.sq.level.val() >= self.queue_depth.val();
        }
        self.dispatch.next = self.running.q.val()
            & self.cur_valid.q.val()
            & !self.err_latched.q.val()
            & !self.finishing.q.val()
            & !self.bad_instr.val()
            & !self.bad_field.val()
            & ((self.is_barrier.val() & self.quiet.val()) | (!self.is_barrier.val() & !self.target_full.val()));
        if self.dispatch.val() {
            self.cur_valid.d.next = false;
            self.pc.d.next = self.pc.q.val() + 1;
            if self.is_barrier.val() {
                self.counter[5].d.next = self.counter[5].q.val() + 1;
                if self.is_finish.val() {
                    self.finishing.d.next = true;
                }
            } else if self.target.val() == 0 {
                self.lq.push.next = true;
            } else if self.target.val() == 1 {
                self.cq.push.next = true;
            } else {
                self.sq.push.next = true;
            }
        }
        self.take_cur.next =
            self.running.q.val() & self.ififo.valid.val() & (!self.cur_valid.q.val() | self.dispatch.val());
        self.ififo.pop.next = self.take_cur.val();
        if self.take_cur.val() {
            self.cur.d.next = self.ififo.data_out.val();
            self.cur_valid.d.next = true;
        }

        // ---- Tokens.
        for i in 0..4 {
            if self.token_give[i].val() & !self.token_take[i].val() {
                self.token_count[i].d.next = self.token_count[i].q.val() + 1;
            }
            if !self.token_give[i].val() & self.token_take[i].val() {
                self.token_count[i].d.next = self.token_count[i].q.val() - 1;
            }
        }

        // ---- Deadlock: the dispatcher cannot issue, and every unit is idle with an
        // empty queue or a head waiting for tokens, for DEADLOCK_CONFIRM cycles.
        self.exhausted.next =
            (self.pc.q.val() == self.prog_len.val()) & !self.cur_valid.q.val() & !self.finishing.q.val();
        self.dispatcher_stuck.next = self.exhausted.val()
            | (self.cur_valid.q.val() & !self.is_barrier.val() & self.target_full.val())
            | (self.cur_valid.q.val() & self.is_barrier.val() & !self.quiet.val());
        self.units_stuck.next = (self.unit_idle[0].val() & (self.lq.empty.val() | self.unit_blocked[0].val()))
            & (self.unit_idle[1].val() & (self.cq.empty.val() | self.unit_blocked[1].val()))
            & (self.unit_idle[2].val() & (self.sq.empty.val() | self.unit_blocked[2].val()));
        self.stuck.d.next = 0.into();
        if self.running.q.val()
            & !self.err_latched.q.val()
            & self.dispatcher_stuck.val()
            & self.units_stuck.val()
            & !self.quiet.val()
        {
            self.stuck.d.next = self.stuck.q.val() + 1;
        }
        self.oldest.next = 0xffff_ffffu64.into();
        if self.lq.valid.val() {
            self.oldest.next = self.lhead.val().get_bits::<32>(256);
        }
        if self.cq.valid.val() & (self.chead.val().get_bits::<32>(256) < self.oldest.val()) {
            self.oldest.next = self.chead.val().get_bits::<32>(256);
        }
        if self.sq.valid.val() & (self.shead.val().get_bits::<32>(256) < self.oldest.val()) {
            self.oldest.next = self.shead.val().get_bits::<32>(256);
        }

        // ---- Errors: the first one wins; the machine then halts and drains.
        self.unit_err_any.next = false;
        self.new_code.next = 0.into();
        self.new_pc.next = 0.into();
        for q in 0..3 {
            if self.unit_error[q].val() & !self.unit_err_any.val() {
                self.unit_err_any.next = true;
                self.new_code.next = self.unit_error_code[q].val();
                self.new_pc.next = self.unit_error_pc[q].val();
            }
        }
        self.any_new_error.next = self.unit_err_any.val();
        if self.running.q.val()
            & self.cur_valid.q.val()
            & !self.finishing.q.val()
            & (self.bad_instr.val() | self.bad_field.val())
        {
            self.any_new_error.next = true;
            self.new_code.next = self.code_bad_field.val();
            if self.bad_instr.val() {
                self.new_code.next = self.code_bad_instruction.val();
            }
            self.new_pc.next = self.pc.q.val();
        }
        if self.running.q.val() & self.fetch.error.val() {
            self.any_new_error.next = true;
            self.new_code.next = self.code_dma_read.val();
            self.new_pc.next = self.pc.q.val();
        }
        if self.stuck.q.val() == self.confirm.val() {
            self.any_new_error.next = true;
            self.new_code.next = self.code_deadlock.val();
            self.new_pc.next = self.oldest.val();
        }
        // Running out of instructions only counts once the units have reported:
        // an error the last instruction raised outranks it.
        if self.running.q.val() & self.exhausted.val() & self.quiet.val() & !self.unit_err_any.val() {
            self.any_new_error.next = true;
            self.new_code.next = self.code_no_finish.val();
            self.new_pc.next = self.prog_len.val();
        }
        if self.any_new_error.val() & self.running.q.val() & !self.err_latched.q.val() & !self.clear_pulse.q.val() {
            self.err_latched.d.next = true;
            self.err_code.d.next = self.new_code.val();
            self.err_pc.d.next = self.new_pc.val();
        }

        // ---- Completion: FINISH dispatched (the machine was quiet), or an error drained.
        if self.running.q.val() & self.finishing.q.val() & !self.err_latched.q.val() {
            self.running.d.next = false;
            self.done_flag.d.next = true;
            self.done_pulse.d.next = true;
        }
        // After an error the queues keep what never started; wait only for the units
        // and the fetch DMA to come to rest.
        if self.running.q.val()
            & self.err_latched.q.val()
            & self.unit_idle[0].val()
            & self.unit_idle[1].val()
            & self.unit_idle[2].val()
            & self.fetch.idle.val()
            & !self.clear_pulse.q.val()
        {
            self.running.d.next = false;
            self.error_pulse.d.next = true;
        }

        // ---- Performance counters (count while running).
        if self.running.q.val() {
            self.counter[0].d.next = self.counter[0].q.val() + 1;
            self.counter[1].d.next = self.counter[1].q.val() + bit_cast::<64, 1>(self.ev_compute_busy.val().into());
            self.counter[2].d.next = self.counter[2].q.val() + bit_cast::<64, 32>(self.ev_macs.val());
            self.counter[3].d.next = self.counter[3].q.val()
                + bit_cast::<64, 16>(self.ev_read_bytes[0].val())
                + bit_cast::<64, 16>(self.ev_read_bytes[1].val());
            self.counter[4].d.next = self.counter[4].q.val() + bit_cast::<64, 16>(self.ev_write_bytes.val());
            self.counter[5].d.next = self.counter[5].q.val()
                + bit_cast::<64, 1>(self.unit_retired[0].val().into())
                + bit_cast::<64, 1>(self.unit_retired[1].val().into())
                + bit_cast::<64, 1>(self.unit_retired[2].val().into())
                + bit_cast::<64, 1>((self.dispatch.val() & self.is_barrier.val()).into());
            for q in 0..3 {
                if self.unit_blocked[q].val() {
                    self.counter[q + 6].d.next = self.counter[q + 6].q.val() + 1;
                }
            }
            self.counter[9].d.next = self.counter[9].q.val()
                + bit_cast::<64, 1>(
                    (self.unit_dma_wait[0].val() | self.unit_dma_wait[1].val() | self.unit_dma_wait[2].val()).into(),
                );
            // Not a bit_cast of `!x`: Verilog would invert at the cast's full width.
            if !self.dispatch.val() {
                self.counter[10].d.next = self.counter[10].q.val() + 1;
            }
        }

        self.info.next = 0.into();
        for q in 0..3 {
            if self.unit_idle[q].val() {
                self.info.next = self.info.val() | self.info_bits[q].val();
            }
            if self.unit_blocked[q].val() {
                self.info.next = self.info.val() | self.info_bits[q + 4].val();
            }
        }
        if self.fetch.idle.val() {
            self.info.next = self.info.val() | self.info_bits[3].val();
        }
        if self.lq.empty.val() {
            self.info.next = self.info.val() | self.info_bits[8].val();
        }
        if self.cq.empty.val() {
            self.info.next = self.info.val() | self.info_bits[9].val();
        }
        if self.sq.empty.val() {
            self.info.next = self.info.val() | self.info_bits[10].val();
        }
        if self.cur_valid.q.val() {
            self.info.next = self.info.val() | self.info_bits[11].val();
        }
        self.halt.next = self.err_latched.q.val();
        self.clear.next = self.clear_pulse.q.val();
        self.busy.next = self.running.q.val();
        self.done.next = self.done_flag.q.val();
        self.error.next = self.err_latched.q.val() & !self.running.q.val();
        self.error_code.next = self.err_code.q.val();
        self.error_pc.next = self.err_pc.q.val();
        self.done_event.next = self.done_pulse.q.val();
        self.error_event.next = self.error_pulse.q.val();

        if self.reset.val() {
            self.running.d.next = false;
            self.finishing.d.next = false;
            self.err_latched.d.next = false;
            self.done_flag.d.next = false;
            self.cur_valid.d.next = false;
            self.fetch_left.d.next = 0.into();
            self.fetch_inflight.d.next = 0.into();
            self.fetch_slot.d.next = 0.into();
            self.instr_pushed.d.next = false;
            self.stuck.d.next = 0.into();
            for i in 0..4 {
                self.token_count[i].d.next = 0.into();
            }
        }
    }
}
