//! The store queue's unit: reads accumulator entries, requantizes them in lane
//! groups, packs the outputs (int8/uint8, packed int4/uint4, or raw int32) and
//! writes them to DDR with the 2-D stride of the STORE. A STORE completes, and
//! gives its token, only once every write has been acknowledged.
//!
//! Entries stream: the next entry is read from the accumulator while the one before
//! is fed to the requantization lanes, and latched as that one's last lane group
//! goes in, so the lanes take a group every cycle. Results land in a ring of result
//! buffers (enough to cover the pipeline at the fixed modes' rate, at most four),
//! from which the emitter copies each entry whole and sends its beats.

use crate::controller::QueueEntry;
use crate::decode::{HeaderFields, StoreFields};
use crate::delay::Delay;
use crate::dff_en::DffEn;
use crate::dma_write::WriteClient;
use crate::float_requant::{FloatLane, FLOAT_LATENCY};
use crate::requant::{RequantLane, REQUANT_LATENCY};
use crate::token_gate::TokenGate;
use crate::vec_of;
use crate::widen::Widen;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::ErrorCode;

#[derive(LogicBlock)]
pub struct StoreUnit {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub halt: Signal<In, Bit>,
    pub head_valid: Signal<In, Bit>,
    pub head: Signal<In, QueueEntry>,
    pub pop: Signal<Out, Bit>,
    /// compute->store tokens waiting; store->compute tokens given and not yet taken.
    pub avail_prev: Signal<In, Bits<8>>,
    pub given_prev: Signal<In, Bits<8>>,
    pub take_prev: Signal<Out, Bit>,
    pub give_prev: Signal<Out, Bit>,
    pub dram_base: Signal<In, Bits<64>>,
    pub dram_size: Signal<In, Bits<32>>,
    // Accumulator read port (granted by the accumulator's arbiter).
    pub acc_ren: Signal<Out, Bit>,
    pub acc_raddr: Signal<Out, Bits<16>>,
    pub acc_grant: Signal<In, Bit>,
    pub acc_rdata: Vec<Signal<In, Bits<32>>>,
    // Parameter buffer read port.
    pub pbuf_raddr: Signal<Out, Bits<16>>,
    pub pbuf_bias: Vec<Signal<In, Bits<32>>>,
    pub pbuf_mult: Vec<Signal<In, Bits<32>>>,
    pub pbuf_shift: Vec<Signal<In, Bits<8>>>,
    // AXI write channel.
    pub aw_valid: Signal<Out, Bit>,
    pub aw_ready: Signal<In, Bit>,
    pub aw_addr: Signal<Out, Bits<64>>,
    pub aw_len: Signal<Out, Bits<8>>,
    pub w_valid: Signal<Out, Bit>,
    pub w_ready: Signal<In, Bit>,
    pub w_data: Vec<Signal<Out, Bits<8>>>,
    pub w_strb: Signal<Out, Bits<32>>,
    pub w_last: Signal<Out, Bit>,
    pub b_valid: Signal<In, Bit>,
    pub b_ready: Signal<Out, Bit>,
    pub b_resp: Signal<In, Bits<2>>,
    pub idle: Signal<Out, Bit>,
    pub blocked: Signal<Out, Bit>,
    pub error: Signal<Out, Bit>,
    pub error_code: Signal<Out, Bits<8>>,
    pub error_pc: Signal<Out, Bits<32>>,
    pub retired: Signal<Out, Bit>,
    pub dma_wait: Signal<Out, Bit>,
    pub write_bytes: Signal<Out, Bits<16>>,

    gate: TokenGate,
    hdr: HeaderFields,
    fields: StoreFields,
    client: WriteClient,
    lanes_rq: Vec<RequantLane>,
    group_delay: Delay<Bits<16>>,
    float_lane: FloatLane,
    float_delay: Delay<Bits<16>>,
    zp_wide: Widen<32, 16>,
    lo_wide: Widen<32, 16>,
    hi_wide: Widen<32, 16>,

    active: DFF<Bit>,
    pc: DffEn<Bits<32>>,
    push_prev_q: DffEn<Bit>,
    out_type: DffEn<Bits<3>>,
    mode: DffEn<Bits<2>>,
    lanes: DffEn<Bits<8>>,
    zp: DffEn<Bits<32>>,
    lo: DffEn<Bits<32>>,
    hi: DffEn<Bits<32>>,
    xs: DffEn<Bits<32>>,
    ys: DffEn<Bits<32>>,
    x_stride: DffEn<Bits<32>>,
    y_stride: DffEn<Bits<32>>,
    entry_bytes: DffEn<Bits<16>>,
    beats_per_entry: DffEn<Bits<16>>,
    row_mode: DffEn<Bit>,
    row_bytes: DffEn<Bits<32>>,
    // Requests.
    issuing: DFF<Bit>,
    iy: DFF<Bits<32>>,
    ix: DFF<Bits<32>>,
    row_off: DFF<Bits<64>>,
    entry_off: DFF<Bits<64>>,
    // Entry pipeline.
    phase: DFF<Phase>,
    acc_ptr: DFF<Bits<32>>,
    entries_left: DFF<Bits<32>>,
    /// `pbuf_step`: the parameter entry of the next entry read, the row's first
    /// one, and that entry's x.
    step: DffEn<Bit>,
    pbuf_ptr: DFF<Bits<16>>,
    pbuf_base: DffEn<Bits<16>>,
    ex: DFF<Bits<32>>,
    group: DFF<Bits<16>>,
    beat: DFF<Bits<16>>,
    params_bias: Vec<DffEn<Bits<32>>>,
    params_mult: Vec<DffEn<Bits<32>>>,
    params_shift: Vec<DffEn<Bits<8>>>,
    /// Load the parameter registers from the PBUF read data (clock enable).
    params_load: Signal<Local, Bit>,
    /// The entry being fed to the requantization lanes (`have`), and `lat`: the
    /// entry read last cycle is on the accumulator's read data, to be latched now.
    vals: Vec<DFF<Bits<32>>>,
    have: DFF<Bit>,
    lat: DFF<Bit>,
    /// Entries not yet read from the accumulator.
    reads_left: DFF<Bits<32>>,
    /// The ring of result buffers, `cols` lanes each (buffer `k`'s lane `c` at
    /// `k * cols + c`): an entry's lanes land in one while the entries before
    /// wait for `obuf`.
    res: Vec<DffEn<Bits<32>>>,
    /// What lands this cycle: per lane position, the value (a fixed-point lane's, or
    /// the float lane's) and whether it lands, and the buffer it lands in. One value
    /// per position for all buffers, which only enable their registers.
    land: Vec<Signal<Local, Bits<32>>>,
    land_hit: Vec<Signal<Local, Bit>>,
    land_slot: Signal<Local, Bits<2>>,
    /// The entry being emitted (copied from its result buffer once all its lanes
    /// landed), so that the next entries' lanes can land while its beats go out.
    obuf: Vec<DFF<Bits<32>>>,
    emitting: DFF<Bit>,
    /// The buffer the next read entry lands in, the one of the entry read last
    /// cycle, the one of the entry being fed, and the next to copy.
    read_slot: DFF<Bits<2>>,
    lat_slot: DFF<Bits<2>>,
    feed_slot: DFF<Bits<2>>,
    emit_slot: DFF<Bits<2>>,
    /// A buffer holds an entry from its read until its copy into `obuf`; `full`:
    /// all its lanes have landed.
    busy: Vec<DFF<Bit>>,
    full: Vec<DFF<Bit>>,
    read_free: Signal<Local, Bit>,
    busy_any: Signal<Local, Bit>,
    /// `vals` can take an entry next cycle (it is empty or in its last group then).
    vals_free_next: Signal<Local, Bit>,
    granted: Signal<Local, Bit>,
    landed: Signal<Local, Bit>,
    landed_slot: Signal<Local, Bits<2>>,
    fslot: Signal<Local, Bits<2>>,
    cslot: Signal<Local, Bits<2>>,
    /// An entry's last lane group is fed this cycle.
    fed: Signal<Local, Bit>,
    /// The entry in `obuf` sends its last beat this cycle.
    emit_last: Signal<Local, Bit>,
    /// The next entry's parameter entry.
    pbuf_next: Signal<Local, Bits<16>>,
    copy: Signal<Local, Bit>,
    err_pulse: DFF<Bit>,
    err_code: DFF<Bits<8>>,
    done_pulse: DFF<Bit>,
    /// The STORE was stopped (its error, or the machine halted): the write client
    /// finishes addressed bursts without writing and drops the rest.
    aborting: DFF<Bit>,

    instr: Signal<Local, Bits<256>>,
    ebo: Signal<Local, Bits<16>>,
    req_off: Signal<Local, Bits<64>>,
    req_len: Signal<Local, Bits<32>>,
    req_in_window: Signal<Local, Bit>,
    req_fire: Signal<Local, Bit>,
    collect: Signal<Local, Bits<16>>,
    collect_valid: Signal<Local, Bit>,
    float_mode: Signal<Local, Bit>,
    last_group: Signal<Local, Bits<16>>,
    fcollect: Signal<Local, Bits<16>>,
    fcollect_valid: Signal<Local, Bit>,
    obytes: Vec<Signal<Local, Bits<8>>>,
    fail: Signal<Local, Bit>,
    fail_code: Signal<Local, Bits<8>>,

    acc_entries: Constant<Bits<32>>,
    beat_mask: Constant<Bits<16>>,
    beat_shift: Constant<Bits<16>>,
    groups_m1: Constant<Bits<16>>,
    cols_m1: Constant<Bits<16>>,
    bit15: Constant<Bits<16>>,
    /// A lane group in the delay lines: bit 15 valid, bits 12..13 the result
    /// buffer, bits 0..11 the group.
    low12: Constant<Bits<16>>,
    slot_at: Constant<Bits<16>>,
    slots_m1: Constant<Bits<2>>,
    one_slot: Constant<Bits<2>>,
    int_min: Constant<Bits<32>>,
    int_max: Constant<Bits<32>>,
    nibble8: Constant<Bits<8>>,
    high16: Constant<Bits<32>>,
    code_bad_field: Constant<Bits<8>>,
    code_dma_write: Constant<Bits<8>>,
    _cols: usize,
    _slots: usize,
    _rq: usize,
    _groups: usize,
    _b: usize,
    _obytes: usize,
    _pairs: usize,
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

impl StoreUnit {
    pub fn new(cfg: &AccelConfig) -> Self {
        let cols = cfg.array.cols as usize;
        let b = cfg.axi_bytes_per_beat() as usize;
        let rq = [4usize, 2, 1].into_iter().find(|d| cols.is_multiple_of(*d)).expect("1 divides everything");
        let obytes = (4 * cols).div_ceil(b) * b;
        let slots = Self::result_buffers(cols / rq);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            halt: Default::default(),
            head_valid: Default::default(),
            head: Default::default(),
            pop: Default::default(),
            avail_prev: Default::default(),
            given_prev: Default::default(),
            take_prev: Default::default(),
            give_prev: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            acc_ren: Default::default(),
            acc_raddr: Default::default(),
            acc_grant: Default::default(),
            acc_rdata: vec_of(cols),
            pbuf_raddr: Default::default(),
            pbuf_bias: vec_of(cols),
            pbuf_mult: vec_of(cols),
            pbuf_shift: vec_of(cols),
            aw_valid: Default::default(),
            aw_ready: Default::default(),
            aw_addr: Default::default(),
            aw_len: Default::default(),
            w_valid: Default::default(),
            w_ready: Default::default(),
            w_data: vec_of(b),
            w_strb: Default::default(),
            w_last: Default::default(),
            b_valid: Default::default(),
            b_ready: Default::default(),
            b_resp: Default::default(),
            idle: Default::default(),
            blocked: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            error_pc: Default::default(),
            retired: Default::default(),
            dma_wait: Default::default(),
            write_bytes: Default::default(),
            gate: TokenGate::new(cfg.control.token_depth),
            hdr: Default::default(),
            fields: Default::default(),
            client: WriteClient::new(b, cfg.axi.max_burst_beats as usize, cfg.axi.max_outstanding as usize),
            lanes_rq: vec_of(rq),
            group_delay: Delay::new(REQUANT_LATENCY),
            float_lane: Default::default(),
            float_delay: Delay::new(FLOAT_LATENCY),
            zp_wide: Default::default(),
            lo_wide: Default::default(),
            hi_wide: Default::default(),
            active: Default::default(),
            pc: Default::default(),
            push_prev_q: Default::default(),
            out_type: Default::default(),
            mode: Default::default(),
            lanes: Default::default(),
            zp: Default::default(),
            lo: Default::default(),
            hi: Default::default(),
            xs: Default::default(),
            ys: Default::default(),
            x_stride: Default::default(),
            y_stride: Default::default(),
            entry_bytes: Default::default(),
            beats_per_entry: Default::default(),
            row_mode: Default::default(),
            row_bytes: Default::default(),
            issuing: Default::default(),
            iy: Default::default(),
            ix: Default::default(),
            row_off: Default::default(),
            entry_off: Default::default(),
            phase: Default::default(),
            acc_ptr: Default::default(),
            step: Default::default(),
            pbuf_ptr: Default::default(),
            pbuf_base: Default::default(),
            ex: Default::default(),
            entries_left: Default::default(),
            group: Default::default(),
            beat: Default::default(),
            params_bias: vec_of(cols),
            params_mult: vec_of(cols),
            params_shift: vec_of(cols),
            params_load: Default::default(),
            vals: vec_of(cols),
            have: Default::default(),
            lat: Default::default(),
            reads_left: Default::default(),
            res: vec_of(slots * cols),
            land: vec_of(cols),
            land_hit: vec_of(cols),
            land_slot: Default::default(),
            obuf: vec_of(cols),
            emitting: Default::default(),
            read_slot: Default::default(),
            lat_slot: Default::default(),
            feed_slot: Default::default(),
            emit_slot: Default::default(),
            busy: vec_of(slots),
            full: vec_of(slots),
            read_free: Default::default(),
            busy_any: Default::default(),
            vals_free_next: Default::default(),
            granted: Default::default(),
            emit_last: Default::default(),
            landed: Default::default(),
            landed_slot: Default::default(),
            fslot: Default::default(),
            cslot: Default::default(),
            fed: Default::default(),
            pbuf_next: Default::default(),
            copy: Default::default(),
            err_pulse: Default::default(),
            err_code: Default::default(),
            done_pulse: Default::default(),
            aborting: Default::default(),
            instr: Default::default(),
            ebo: Default::default(),
            req_off: Default::default(),
            req_len: Default::default(),
            req_in_window: Default::default(),
            req_fire: Default::default(),
            collect: Default::default(),
            collect_valid: Default::default(),
            float_mode: Default::default(),
            last_group: Default::default(),
            fcollect: Default::default(),
            fcollect_valid: Default::default(),
            obytes: vec_of(obytes),
            fail: Default::default(),
            fail_code: Default::default(),
            acc_entries: konst(u64::from(cfg.memory.acc_entries)),
            beat_mask: konst(b as u64 - 1),
            beat_shift: konst(u64::from(b.trailing_zeros())),
            groups_m1: konst((cols / rq - 1) as u64),
            cols_m1: konst(cols as u64 - 1),
            bit15: konst(0x8000),
            low12: konst(0x0fff),
            slot_at: konst(12),
            slots_m1: konst(slots as u64 - 1),
            one_slot: konst(1),
            int_min: konst(0x8000_0000),
            int_max: konst(0x7fff_ffff),
            nibble8: konst(0xf),
            high16: konst(0xffff_0000),
            code_bad_field: konst(ErrorCode::BadField as u64),
            code_dma_write: konst(ErrorCode::DmaWrite as u64),
            _cols: cols,
            _slots: slots,
            _rq: rq,
            _groups: cols / rq,
            _b: b,
            _obytes: obytes,
            _pairs: cols / 2,
        }
    }
}

impl StoreUnit {
    /// Result buffers for `groups` fixed-point lane groups per entry: a buffer is
    /// taken from an entry's read to its copy into `obuf`, `groups` plus
    /// [`RESULT_SPAN`] cycles, while entries come every `groups` cycles. At most four.
    pub fn result_buffers(groups: usize) -> usize {
        (1 + RESULT_SPAN.div_ceil(groups)).clamp(2, 4)
    }
}

/// Cycles a result buffer is held beyond an entry's feed: the read, the latch, the
/// requantization pipeline, its landing and the copy.
const RESULT_SPAN: usize = REQUANT_LATENCY + 3;

/// Phases of the store.
#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum Phase {
    Idle,
    /// The parameter entry arrives from the PBUF.
    Params,
    /// Entries are read, latched and fed (one lane group per cycle).
    Run,
    /// Every write acknowledged: complete.
    Drain,
}

impl Logic for StoreUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            active,
            aborting,
            issuing,
            iy,
            ix,
            row_off,
            entry_off,
            phase,
            acc_ptr,
            pbuf_ptr,
            ex,
            entries_left,
            reads_left,
            group,
            beat,
            have,
            lat,
            emitting,
            read_slot,
            lat_slot,
            feed_slot,
            emit_slot,
            err_pulse,
            err_code,
            done_pulse
        );
        clock!(self, clock, gate, client, group_delay, float_lane, float_delay);
        clock!(self, clock, pc, push_prev_q, out_type, mode, lanes, zp, lo, hi, xs, ys, x_stride, y_stride);
        clock!(self, clock, entry_bytes, beats_per_entry, row_mode, row_bytes, step, pbuf_base);
        for c in 0..self._cols {
            self.params_bias[c].clock.next = self.clock.val();
            self.params_mult[c].clock.next = self.clock.val();
            self.params_shift[c].clock.next = self.clock.val();
            self.vals[c].clock.next = self.clock.val();
            self.params_bias[c].d.next = self.pbuf_bias[c].val();
            self.params_mult[c].d.next = self.pbuf_mult[c].val();
            self.params_shift[c].d.next = self.pbuf_shift[c].val();
            self.vals[c].d.next = self.vals[c].q.val();
            self.obuf[c].clock.next = self.clock.val();
            self.obuf[c].d.next = self.obuf[c].q.val();
        }
        for k in 0..(self._slots * self._cols) {
            self.res[k].clock.next = self.clock.val();
        }
        for k in 0..self._slots {
            self.busy[k].clock.next = self.clock.val();
            self.busy[k].d.next = self.busy[k].q.val();
            self.full[k].clock.next = self.clock.val();
            self.full[k].d.next = self.full[k].q.val();
        }
        for l in 0..self._rq {
            self.lanes_rq[l].clock.next = self.clock.val();
        }
        self.gate.reset.next = self.reset.val();
        self.client.reset.next = self.reset.val();
        self.client.abort.next = self.aborting.q.val();
        self.err_pulse.d.next = false;
        self.done_pulse.d.next = false;
        self.instr.next = self.head.val().get_bits::<256>(0);
        self.hdr.instr.next = self.instr.val();
        self.fields.instr.next = self.instr.val();

        // ---- Start.
        self.gate.head_valid.next = self.head_valid.val();
        self.gate.ready.next = !self.active.q.val();
        self.gate.halt.next = self.halt.val();
        self.gate.pop_prev.next = self.hdr.pop_prev.val().any();
        self.gate.push_prev.next = self.hdr.push_prev.val().any();
        self.gate.pop_next.next = false;
        self.gate.push_next.next = false;
        self.gate.avail_prev.next = self.avail_prev.val();
        self.gate.given_prev.next = self.given_prev.val();
        self.gate.avail_next.next = 0.into();
        self.gate.given_next.next = 0.into();
        self.pop.next = self.gate.start.val();
        self.take_prev.next = self.gate.take_prev.val();
        self.give_prev.next = self.gate.give_prev.val();
        self.blocked.next = self.gate.blocked.val();
        // Output bytes per entry: lanes (8-bit), lanes/2 (4-bit), 4 lanes (int32).
        self.ebo.next = bit_cast::<16, 8>(self.fields.lanes.val());
        if (self.fields.out_type.val() == 2) | (self.fields.out_type.val() == 3) {
            self.ebo.next = bit_cast::<16, 8>(self.fields.lanes.val()) >> 1;
        }
        if self.fields.out_type.val() == 4 {
            self.ebo.next = bit_cast::<16, 8>(self.fields.lanes.val()) << 2;
        }
        self.zp_wide.narrow.next = self.fields.zero_point.val();
        self.lo_wide.narrow.next = self.fields.clamp_lo.val();
        self.hi_wide.narrow.next = self.fields.clamp_hi.val();
        // The instruction's fields, loaded at start (clock enables, see `DffEn`).
        self.pc.en.next = self.gate.start.val();
        self.push_prev_q.en.next = self.gate.start.val();
        self.out_type.en.next = self.gate.start.val();
        self.mode.en.next = self.gate.start.val();
        self.lanes.en.next = self.gate.start.val();
        self.zp.en.next = self.gate.start.val();
        self.lo.en.next = self.gate.start.val();
        self.hi.en.next = self.gate.start.val();
        self.xs.en.next = self.gate.start.val();
        self.ys.en.next = self.gate.start.val();
        self.x_stride.en.next = self.gate.start.val();
        self.y_stride.en.next = self.gate.start.val();
        self.entry_bytes.en.next = self.gate.start.val();
        self.beats_per_entry.en.next = self.gate.start.val();
        self.row_mode.en.next = self.gate.start.val();
        self.row_bytes.en.next = self.gate.start.val();
        self.step.en.next = self.gate.start.val();
        self.pbuf_base.en.next = self.gate.start.val();
        self.pc.d.next = self.head.val().get_bits::<32>(256);
        self.push_prev_q.d.next = self.hdr.push_prev.val().any();
        self.out_type.d.next = self.fields.out_type.val();
        self.mode.d.next = self.fields.mode.val();
        self.lanes.d.next = self.fields.lanes.val();
        // 16-bit signed fields extended to 32 bits.
        self.zp.d.next = self.zp_wide.wide.val();
        if self.fields.zero_point.val().get_bit(15) {
            self.zp.d.next = self.zp_wide.wide.val() | self.high16.val();
        }
        self.lo.d.next = self.lo_wide.wide.val();
        if self.fields.clamp_lo.val().get_bit(15) {
            self.lo.d.next = self.lo_wide.wide.val() | self.high16.val();
        }
        self.hi.d.next = self.hi_wide.wide.val();
        if self.fields.clamp_hi.val().get_bit(15) {
            self.hi.d.next = self.hi_wide.wide.val() | self.high16.val();
        }
        if self.fields.out_type.val() == 4 {
            self.lo.d.next = self.int_min.val();
            self.hi.d.next = self.int_max.val();
        }
        self.xs.d.next = bit_cast::<32, 16>(self.fields.x_size.val());
        self.ys.d.next = bit_cast::<32, 16>(self.fields.y_size.val());
        self.x_stride.d.next = self.fields.x_stride.val();
        self.y_stride.d.next = self.fields.y_stride.val();
        self.entry_bytes.d.next = self.ebo.val();
        self.beats_per_entry.d.next = (self.ebo.val() + self.beat_mask.val()) >> self.beat_shift.val();
        self.row_mode.d.next = (self.fields.x_stride.val() == bit_cast::<32, 16>(self.ebo.val()))
            & !(self.ebo.val() & self.beat_mask.val()).any();
        self.row_bytes.d.next = self.fields.x_size.val() * self.ebo.val();
        self.step.d.next = self.fields.pbuf_step.val().any();
        self.pbuf_base.d.next = self.fields.pbuf_addr.val();
        if self.gate.start.val() {
            self.active.d.next = true;
            self.aborting.d.next = false;
            self.issuing.d.next = self.fields.x_size.val().any() & self.fields.y_size.val().any();
            self.iy.d.next = 0.into();
            self.ix.d.next = 0.into();
            self.row_off.d.next = bit_cast::<64, 32>(self.fields.dram_addr.val());
            self.entry_off.d.next = bit_cast::<64, 32>(self.fields.dram_addr.val());
            self.acc_ptr.d.next = bit_cast::<32, 16>(self.fields.acc_addr.val());
            self.pbuf_ptr.d.next = self.fields.pbuf_addr.val();
            self.ex.d.next = 0.into();
            self.entries_left.d.next = self.fields.x_size.val() * self.fields.y_size.val();
            self.reads_left.d.next = self.fields.x_size.val() * self.fields.y_size.val();
            self.phase.d.next = Phase::Params;
        }

        // ---- DDR write requests (per row when contiguous and beat-aligned, else per entry).
        self.req_off.next = self.entry_off.q.val();
        self.req_len.next = bit_cast::<32, 16>(self.entry_bytes.q.val());
        if self.row_mode.q.val() {
            self.req_off.next = self.row_off.q.val();
            self.req_len.next = self.row_bytes.q.val();
        }
        self.req_in_window.next =
            (self.req_off.val() + bit_cast::<64, 32>(self.req_len.val())) <= bit_cast::<64, 32>(self.dram_size.val());
        self.client.req_valid.next = self.issuing.q.val() & self.req_in_window.val() & !self.halt.val();
        self.client.req_addr.next = self.dram_base.val() + self.req_off.val();
        self.client.req_bytes.next = self.req_len.val();
        self.req_fire.next =
            self.issuing.q.val() & self.req_in_window.val() & !self.halt.val() & self.client.req_ready.val();
        if self.req_fire.val() {
            if self.row_mode.q.val() | ((self.ix.q.val() + 1) == self.xs.q.val()) {
                self.ix.d.next = 0.into();
                self.iy.d.next = self.iy.q.val() + 1;
                self.row_off.d.next = self.row_off.q.val() + bit_cast::<64, 32>(self.y_stride.q.val());
                self.entry_off.d.next = self.row_off.q.val() + bit_cast::<64, 32>(self.y_stride.q.val());
                if (self.iy.q.val() + 1) == self.ys.q.val() {
                    self.issuing.d.next = false;
                }
            } else {
                self.ix.d.next = self.ix.q.val() + 1;
                self.entry_off.d.next = self.entry_off.q.val() + bit_cast::<64, 32>(self.x_stride.q.val());
            }
        }

        // ---- Entry pipeline: parameters, then per entry read, requantize, emit.
        self.pbuf_raddr.next = self.pbuf_ptr.q.val();
        if self.phase.q.val() == Phase::Idle {
            self.pbuf_raddr.next = self.fields.pbuf_addr.val();
        }
        // Float mode has a single (IEEE-emulating) lane: one lane per cycle.
        self.float_mode.next = self.mode.q.val() == 3;
        self.last_group.next = self.groups_m1.val();
        if self.float_mode.val() {
            self.last_group.next = self.cols_m1.val();
        }
        self.pbuf_next.next = self.pbuf_ptr.q.val();
        if self.step.q.val() {
            self.pbuf_next.next = self.pbuf_ptr.q.val() + 1;
        }
        if (self.ex.q.val() + 1) == self.xs.q.val() {
            self.pbuf_next.next = self.pbuf_base.q.val();
        }
        self.acc_ren.next = false;
        self.acc_raddr.next = self.acc_ptr.q.val().get_bits::<16>(0);
        self.client.data_valid.next = false;
        self.fail.next = false;
        self.fail_code.next = self.code_bad_field.val();
        self.params_load.next = false;
        self.granted.next = false;
        self.read_free.next = false;
        self.busy_any.next = false;
        for k in 0..self._slots {
            if self.read_slot.q.val().index() == k {
                self.read_free.next = !self.busy[k].q.val();
            }
            if self.busy[k].q.val() {
                self.busy_any.next = true;
            }
        }
        // The entry read now is latched next cycle: `vals` must be empty then, or
        // feeding its last group.
        self.fed.next = self.have.q.val() & (self.group.q.val() == self.last_group.val());
        self.vals_free_next.next =
            !self.have.q.val() | self.fed.val() | ((self.group.q.val() + 1) == self.last_group.val());
        if self.lat.q.val() {
            self.vals_free_next.next = !self.last_group.val().any();
        }
        match self.phase.q.val() {
            Phase::Params => {
                // The PBUF read was issued with the instruction at the head; data is here now.
                self.params_load.next = true;
                self.phase.d.next = Phase::Run;
                if !self.entries_left.q.val().any() {
                    self.phase.d.next = Phase::Drain;
                }
            }
            Phase::Run => {
                // Read the next entry into a free result buffer.
                if self.reads_left.q.val().any() & self.read_free.val() & self.vals_free_next.val() {
                    self.acc_ren.next = !self.halt.val();
                    if self.acc_ptr.q.val() >= self.acc_entries.val() {
                        self.acc_ren.next = false;
                        self.fail.next = true;
                    } else {
                        self.granted.next = self.acc_grant.val();
                    }
                }
                if self.fed.val() & (self.entries_left.q.val() == 1) {
                    self.phase.d.next = Phase::Drain;
                }
            }
            Phase::Drain => {
                if !self.issuing.q.val() & self.client.idle.val() & !self.emitting.q.val() & !self.busy_any.val() {
                    self.phase.d.next = Phase::Idle;
                    self.active.d.next = false;
                    self.done_pulse.d.next = true;
                }
            }
            _ => {}
        }
        self.lat.d.next = self.granted.val();
        if self.granted.val() {
            for k in 0..self._slots {
                if self.read_slot.q.val().index() == k {
                    self.busy[k].d.next = true;
                }
            }
            self.lat_slot.d.next = self.read_slot.q.val();
            self.read_slot.d.next = self.read_slot.q.val() + self.one_slot.val();
            if self.read_slot.q.val() == self.slots_m1.val() {
                self.read_slot.d.next = 0.into();
            }
            self.acc_ptr.d.next = self.acc_ptr.q.val() + 1;
            self.reads_left.d.next = self.reads_left.q.val() - 1;
            self.ex.d.next = self.ex.q.val() + 1;
            if (self.ex.q.val() + 1) == self.xs.q.val() {
                self.ex.d.next = 0.into();
            }
            self.pbuf_ptr.d.next = self.pbuf_next.val();
        }
        // Feed one lane group per cycle; the last group of an entry frees `vals`.
        if self.have.q.val() {
            self.group.d.next = self.group.q.val() + 1;
            if self.fed.val() {
                self.have.d.next = false;
                self.entries_left.d.next = self.entries_left.q.val() - 1;
            }
        }
        // Latch the entry read last cycle (and a stepping store's parameters, read
        // since then).
        if self.lat.q.val() {
            for c in 0..self._cols {
                self.vals[c].d.next = self.acc_rdata[c].val();
            }
            self.params_load.next = self.step.q.val();
            self.group.d.next = 0.into();
            self.have.d.next = true;
            self.feed_slot.d.next = self.lat_slot.q.val();
        }
        for c in 0..self._cols {
            self.params_bias[c].en.next = self.params_load.val();
            self.params_mult[c].en.next = self.params_load.val();
            self.params_shift[c].en.next = self.params_load.val();
        }
        // Requantize one lane group per cycle; results land REQUANT_LATENCY cycles later.
        // Group 0 is the default so that no input is left unassigned (no latches).
        for l in 0..self._rq {
            self.lanes_rq[l].acc.next = self.vals[l].q.val();
            self.lanes_rq[l].bias.next = self.params_bias[l].q.val();
            self.lanes_rq[l].multiplier.next = self.params_mult[l].q.val();
            self.lanes_rq[l].shift.next = self.params_shift[l].q.val();
        }
        for rq in self._rq..(self._rq + 1) {
            for g in 0..self._groups {
                if self.group.q.val().index() == g {
                    for l in 0..self._rq {
                        self.lanes_rq[l].acc.next = self.vals[g * rq + l].q.val();
                        self.lanes_rq[l].bias.next = self.params_bias[g * rq + l].q.val();
                        self.lanes_rq[l].multiplier.next = self.params_mult[g * rq + l].q.val();
                        self.lanes_rq[l].shift.next = self.params_shift[g * rq + l].q.val();
                    }
                }
            }
        }
        // Lane 0 is the default so that no input is left unassigned (no latches).
        self.float_lane.acc.next = self.vals[0].q.val();
        self.float_lane.bias.next = self.params_bias[0].q.val();
        self.float_lane.scale.next = self.params_mult[0].q.val();
        for c in 0..self._cols {
            if self.group.q.val().index() == c {
                self.float_lane.acc.next = self.vals[c].q.val();
                self.float_lane.bias.next = self.params_bias[c].q.val();
                self.float_lane.scale.next = self.params_mult[c].q.val();
            }
        }
        self.float_lane.valid_in.next = self.have.q.val() & self.float_mode.val();
        self.float_lane.zero_point.next = self.zp.q.val();
        self.float_lane.clamp_lo.next = self.lo.q.val();
        self.float_lane.clamp_hi.next = self.hi.q.val();
        self.float_delay.data_in.next = 0.into();
        if self.have.q.val() & self.float_mode.val() {
            self.float_delay.data_in.next = self.group.q.val()
                | self.bit15.val()
                | (bit_cast::<16, 2>(self.feed_slot.q.val()) << self.slot_at.val());
        }
        self.fcollect.next = self.float_delay.data_out.val() & self.low12.val();
        self.fcollect_valid.next = self.float_delay.data_out.val().get_bit(15);
        self.fslot.next = self.float_delay.data_out.val().get_bits::<2>(self.slot_at.val().index());
        self.landed.next = self.fcollect_valid.val() & (self.fcollect.val() == self.cols_m1.val());
        self.landed_slot.next = self.fslot.val();
        for l in 0..self._rq {
            self.lanes_rq[l].advance.next = true;
            self.lanes_rq[l].valid_in.next = self.have.q.val() & !self.float_mode.val();
            self.lanes_rq[l].mode.next = self.mode.q.val();
            self.lanes_rq[l].zero_point.next = self.zp.q.val();
            self.lanes_rq[l].clamp_lo.next = self.lo.q.val();
            self.lanes_rq[l].clamp_hi.next = self.hi.q.val();
        }
        self.group_delay.data_in.next = 0.into();
        if self.have.q.val() & !self.float_mode.val() {
            self.group_delay.data_in.next = self.group.q.val()
                | self.bit15.val()
                | (bit_cast::<16, 2>(self.feed_slot.q.val()) << self.slot_at.val());
        }
        self.collect.next = self.group_delay.data_out.val() & self.low12.val();
        self.collect_valid.next = self.group_delay.data_out.val().get_bit(15);
        self.cslot.next = self.group_delay.data_out.val().get_bits::<2>(self.slot_at.val().index());
        // Land the results: a fixed-point lane group, or the float lane's one lane.
        for rq in self._rq..(self._rq + 1) {
            for g in 0..self._groups {
                for l in 0..self._rq {
                    self.land[g * rq + l].next = self.lanes_rq[l].value.val();
                    self.land_hit[g * rq + l].next = self.collect_valid.val() & (self.collect.val().index() == g);
                }
            }
        }
        self.land_slot.next = self.cslot.val();
        if self.float_mode.val() {
            self.land_slot.next = self.fslot.val();
            for c in 0..self._cols {
                self.land[c].next = self.float_lane.value.val();
                self.land_hit[c].next = self.fcollect_valid.val() & (self.fcollect.val().index() == c);
            }
        }
        for cc in self._cols..(self._cols + 1) {
            for k in 0..self._slots {
                for c in 0..self._cols {
                    self.res[k * cc + c].d.next = self.land[c].val();
                    self.res[k * cc + c].en.next = self.land_hit[c].val() & (self.land_slot.val().index() == k);
                }
            }
        }
        if self.collect_valid.val() & (self.collect.val() == self.groups_m1.val()) {
            self.landed.next = true;
            self.landed_slot.next = self.cslot.val();
        }
        // ---- Pack the outputs into bytes and emit the entry's beats.
        for i in 0..self._obytes {
            self.obytes[i].next = 0.into();
        }
        for c in 0..self._cols {
            if self.out_type.q.val() < 2 {
                self.obytes[c].next = self.obuf[c].q.val().get_bits::<8>(0);
            }
            if self.out_type.q.val() == 4 {
                self.obytes[4 * c].next = self.obuf[c].q.val().get_bits::<8>(0);
                self.obytes[4 * c + 1].next = self.obuf[c].q.val().get_bits::<8>(8);
                self.obytes[4 * c + 2].next = self.obuf[c].q.val().get_bits::<8>(16);
                self.obytes[4 * c + 3].next = self.obuf[c].q.val().get_bits::<8>(24);
            }
        }
        for p in 0..self._pairs {
            if (self.out_type.q.val() == 2) | (self.out_type.q.val() == 3) {
                self.obytes[p].next = (self.obuf[2 * p].q.val().get_bits::<8>(0) & self.nibble8.val())
                    | (self.obuf[2 * p + 1].q.val().get_bits::<8>(0) << 4);
            }
        }
        for bb in self._b..(self._b + 1) {
            for j in 0..self._b {
                self.client.data[j].next = self.obytes[j].val();
                for m in 1..(self._obytes / self._b) {
                    if self.beat.q.val().index() == m {
                        self.client.data[j].next = self.obytes[m * bb + j].val();
                    }
                }
            }
        }
        self.write_bytes.next = 0.into();
        if self.emitting.q.val()
            & self.client.data_ready.val()
            & ((self.beat.q.val() + 1) == self.beats_per_entry.q.val())
        {
            self.write_bytes.next = self.entry_bytes.q.val();
        }
        // ---- Emit: the entry in `obuf`, beat by beat.
        self.emit_last.next = self.emitting.q.val()
            & self.client.data_ready.val()
            & ((self.beat.q.val() + 1) == self.beats_per_entry.q.val());
        if self.emitting.q.val() {
            self.client.data_valid.next = true;
            if self.client.data_ready.val() {
                self.beat.d.next = self.beat.q.val() + 1;
                if self.emit_last.val() {
                    self.beat.d.next = 0.into();
                    self.emitting.d.next = false;
                }
            }
        }
        // ---- Hand landed entries to the emitter in order, as its last beat goes out.
        if self.landed.val() {
            for k in 0..self._slots {
                if self.landed_slot.val().index() == k {
                    self.full[k].d.next = true;
                }
            }
        }
        self.copy.next = false;
        for k in 0..self._slots {
            if self.emit_slot.q.val().index() == k {
                self.copy.next = (!self.emitting.q.val() | self.emit_last.val()) & self.full[k].q.val();
            }
        }
        if self.copy.val() {
            for cc in self._cols..(self._cols + 1) {
                for k in 0..self._slots {
                    if self.emit_slot.q.val().index() == k {
                        self.full[k].d.next = false;
                        self.busy[k].d.next = false;
                        for c in 0..self._cols {
                            self.obuf[c].d.next = self.res[k * cc + c].q.val();
                        }
                    }
                }
            }
            self.emit_slot.d.next = self.emit_slot.q.val() + self.one_slot.val();
            if self.emit_slot.q.val() == self.slots_m1.val() {
                self.emit_slot.d.next = 0.into();
            }
            self.emitting.d.next = true;
            self.beat.d.next = 0.into();
        }

        // ---- AXI write channel.
        self.aw_valid.next = self.client.aw_valid.val();
        self.aw_addr.next = self.client.aw_addr.val();
        self.aw_len.next = self.client.aw_len.val();
        self.client.aw_ready.next = self.aw_ready.val();
        self.w_valid.next = self.client.w_valid.val();
        for j in 0..self._b {
            self.w_data[j].next = self.client.w_data[j].val();
        }
        self.w_strb.next = self.client.w_strb.val();
        self.w_last.next = self.client.w_last.val();
        self.client.w_ready.next = self.w_ready.val();
        self.client.b_valid.next = self.b_valid.val();
        self.client.b_resp.next = self.b_resp.val();
        self.b_ready.next = self.client.b_ready.val();

        // ---- Errors, completion, status.
        if self.active.q.val() & self.issuing.q.val() & !self.req_in_window.val() {
            self.fail.next = true;
        }
        if self.active.q.val() & self.client.error.val() {
            self.fail.next = true;
            self.fail_code.next = self.code_dma_write.val();
        }
        if self.fail.val() {
            self.err_pulse.d.next = true;
            self.err_code.d.next = self.fail_code.val();
            self.issuing.d.next = false;
            self.aborting.d.next = true;
            self.phase.d.next = Phase::Drain;
        }
        if self.halt.val() & self.active.q.val() {
            self.issuing.d.next = false;
            self.aborting.d.next = true;
            self.phase.d.next = Phase::Drain;
        }
        // An aborted (or reset) store emits nothing more.
        if self.fail.val() | (self.halt.val() & self.active.q.val()) | self.reset.val() {
            self.emitting.d.next = false;
            self.have.d.next = false;
            self.lat.d.next = false;
            for k in 0..self._slots {
                self.busy[k].d.next = false;
                self.full[k].d.next = false;
            }
            self.read_slot.d.next = 0.into();
            self.feed_slot.d.next = 0.into();
            self.emit_slot.d.next = 0.into();
        }
        self.gate.complete.next = self.done_pulse.q.val();
        self.gate.complete_push_prev.next = self.push_prev_q.q.val();
        self.gate.complete_push_next.next = false;
        self.give_prev.next = self.gate.give_prev.val();
        self.retired.next = self.done_pulse.q.val();
        self.idle.next = !self.active.q.val();
        self.error.next = self.err_pulse.q.val();
        self.error_code.next = self.err_code.q.val();
        self.error_pc.next = self.pc.q.val();
        self.dma_wait.next = self.emitting.q.val() & !self.client.data_ready.val();

        if self.reset.val() {
            self.active.d.next = false;
            self.aborting.d.next = false;
            self.issuing.d.next = false;
            self.phase.d.next = Phase::Idle;
            self.beat.d.next = 0.into();
        }
    }
}
