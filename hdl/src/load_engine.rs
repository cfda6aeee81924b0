//! Executes one LOAD: a 2-D strided DMA of `y_size x x_size` entries with padding.
//!
//! Three processes run concurrently. The issuer requests DDR bytes, one request per
//! row when the entries of a row are contiguous and beat-aligned in length, else one
//! per entry. The assembler packs the re-aligned beats into entries (an entry starts
//! at byte 0 of a beat). The writer walks the padded block in SRAM order and emits
//! one write per entry: a padding entry, or the next assembled entry. Turning entry
//! bytes into lanes is left to the unit that owns the memories, so the engine is the
//! same for the load queue (IBUF, WBUF) and the compute queue (ACC, PBUF).
//!
//! A `TABLE` runs on the same engine (`table_mode` at start): one row of
//! `TABLE_BYTES / beat` entries of one beat each from `dram_addr`, the other
//! fields ignored. Its owner takes each entry a word at a time and accepts it
//! (`wr_ready`) with the last word.

use crate::dff_en::DffEn;
use crate::dma_read::ReadClient;
use rust_hdl::prelude::*;
use tessera_isa::isa::TABLE_BYTES;

/// Why the engine stopped early.
pub const ERR_NONE: u64 = 0;
pub const ERR_BAD_FIELD: u64 = 2;
pub const ERR_DMA_READ: u64 = 5;

#[derive(LogicBlock)]
pub struct LoadEngine {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// Start a LOAD with the fields below (held only for the start cycle).
    pub start: Signal<In, Bit>,
    pub mem: Signal<In, Bits<2>>,
    pub acc_elem: Signal<In, Bits<2>>,
    pub lanes: Signal<In, Bits<8>>,
    pub pad_value: Signal<In, Bits<8>>,
    pub pad_top: Signal<In, Bits<8>>,
    pub pad_bottom: Signal<In, Bits<8>>,
    pub pad_left: Signal<In, Bits<8>>,
    pub pad_right: Signal<In, Bits<8>>,
    pub sram_addr: Signal<In, Bits<16>>,
    pub x_size: Signal<In, Bits<16>>,
    pub y_size: Signal<In, Bits<16>>,
    pub dram_addr: Signal<In, Bits<32>>,
    pub x_stride: Signal<In, Bits<32>>,
    pub y_stride: Signal<In, Bits<32>>,
    pub dram_base: Signal<In, Bits<64>>,
    pub dram_size: Signal<In, Bits<32>>,
    /// Start a TABLE instead of a LOAD: only `dram_addr` is used.
    pub table_mode: Signal<In, Bit>,
    /// The owner accepts the entry offered this cycle (`wr_offer`); without it the
    /// writer holds the entry.
    pub wr_ready: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    /// One cycle after the last entry was written.
    pub done: Signal<Out, Bit>,
    /// One cycle: the LOAD failed (code in `error_code`); the engine drains and idles.
    pub error: Signal<Out, Bit>,
    pub error_code: Signal<Out, Bits<8>>,
    // Entry writes for the owning unit: one per cycle at most. An entry is offered
    // (`wr_offer`) until the owner accepts it; `wr_valid`: it is accepted this cycle.
    pub wr_offer: Signal<Out, Bit>,
    pub wr_valid: Signal<Out, Bit>,
    pub wr_addr: Signal<Out, Bits<16>>,
    pub wr_pad: Signal<Out, Bit>,
    pub wr_bytes: Vec<Signal<Out, Bits<8>>>,
    pub cur_mem: Signal<Out, Bits<2>>,
    pub cur_acc_elem: Signal<Out, Bits<2>>,
    pub cur_lanes: Signal<Out, Bits<8>>,
    pub cur_pad_value: Signal<Out, Bits<8>>,
    pub cur_table: Signal<Out, Bit>,
    /// DDR bytes delivered with this cycle's write (0 for padding).
    pub read_bytes: Signal<Out, Bits<16>>,
    /// The engine waits for DDR data (for the stall counter).
    pub waiting: Signal<Out, Bit>,
    // AXI read channel of this engine's client.
    pub ar_valid: Signal<Out, Bit>,
    pub ar_ready: Signal<In, Bit>,
    pub ar_addr: Signal<Out, Bits<64>>,
    pub ar_len: Signal<Out, Bits<8>>,
    pub r_valid: Signal<In, Bit>,
    pub r_data: Vec<Signal<In, Bits<8>>>,
    pub r_resp: Signal<In, Bits<2>>,
    pub r_last: Signal<In, Bit>,
    client: ReadClient,

    // Latched instruction.
    active: DFF<Bit>,
    draining: DFF<Bit>,
    mem_q: DffEn<Bits<2>>,
    elem_q: DffEn<Bits<2>>,
    lanes_q: DffEn<Bits<8>>,
    pad_q: DffEn<Bits<8>>,
    table_q: DffEn<Bit>,
    pt: DffEn<Bits<32>>,
    pl: DffEn<Bits<32>>,
    xs: DffEn<Bits<32>>,
    ys: DffEn<Bits<32>>,
    x_stride_q: DffEn<Bits<32>>,
    y_stride_q: DffEn<Bits<32>>,
    entry_bytes: DffEn<Bits<16>>,
    slots: DffEn<Bits<16>>,
    row_mode: DffEn<Bit>,
    row_bytes: DffEn<Bits<32>>,
    // Issuer.
    issuing: DFF<Bit>,
    iy: DFF<Bits<32>>,
    ix: DFF<Bits<32>>,
    row_off: DFF<Bits<64>>,
    entry_off: DFF<Bits<64>>,
    // Assembler.
    slot: DFF<Bits<16>>,
    /// The entry being assembled and the one waiting for the writer, as 32-bit
    /// words (a quarter of the signals of byte lanes, for the Verilated model).
    asm: Vec<DffEn<Bits<32>>>,
    entry: Vec<DffEn<Bits<32>>>,
    entry_valid: DFF<Bit>,
    // Writer.
    writing: DFF<Bit>,
    wy: DFF<Bits<32>>,
    wx: DFF<Bits<32>>,
    rows_total: DffEn<Bits<32>>,
    cols_total: DffEn<Bits<32>>,
    waddr: DFF<Bits<32>>,
    done_pulse: DFF<Bit>,
    err_pulse: DFF<Bit>,
    err_code: DFF<Bits<8>>,

    // Combinational.
    eb_in: Signal<Local, Bits<16>>,
    /// The extents and entry stride at start (a TABLE's are fixed).
    xs_in: Signal<Local, Bits<16>>,
    ys_in: Signal<Local, Bits<16>>,
    x_stride_in: Signal<Local, Bits<32>>,
    req_off: Signal<Local, Bits<64>>,
    req_len: Signal<Local, Bits<32>>,
    req_in_window: Signal<Local, Bit>,
    req_fire: Signal<Local, Bit>,
    last_slot: Signal<Local, Bit>,
    take_beat: Signal<Local, Bit>,
    consuming: Signal<Local, Bit>,
    is_data: Signal<Local, Bit>,
    can_write: Signal<Local, Bit>,
    addr_ok: Signal<Local, Bit>,
    depth_sel: Signal<Local, Bits<32>>,
    write_now: Signal<Local, Bit>,
    last_entry: Signal<Local, Bit>,
    /// An instruction starts: load its fields.
    latch: Signal<Local, Bit>,
    fail: Signal<Local, Bit>,

    depths: Vec<Constant<Bits<32>>>,
    beat_bytes: Constant<Bits<16>>,
    table_entries: Constant<Bits<16>>,
    beat_mask: Constant<Bits<16>>,
    beat_shift: Constant<Bits<16>>,
    four_bit: Constant<Bit>,
    code_bad_field: Constant<Bits<8>>,
    code_dma_read: Constant<Bits<8>>,
    _b: usize,
    /// 32-bit words per beat.
    _w: usize,
    _slots: usize,
}

impl LoadEngine {
    /// `depths` of IBUF, WBUF, ACC, PBUF in entries; `max_entry_bytes` the longest
    /// entry any LOAD of this engine fetches.
    pub fn new(
        beat_bytes: usize,
        max_burst: usize,
        max_outstanding: usize,
        depths: [u32; 4],
        max_entry_bytes: usize,
        four_bit: bool,
    ) -> Self {
        let slots = max_entry_bytes.div_ceil(beat_bytes);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            mem: Default::default(),
            acc_elem: Default::default(),
            lanes: Default::default(),
            pad_value: Default::default(),
            pad_top: Default::default(),
            pad_bottom: Default::default(),
            pad_left: Default::default(),
            pad_right: Default::default(),
            sram_addr: Default::default(),
            x_size: Default::default(),
            y_size: Default::default(),
            dram_addr: Default::default(),
            x_stride: Default::default(),
            y_stride: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            table_mode: Default::default(),
            wr_ready: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            wr_offer: Default::default(),
            wr_valid: Default::default(),
            wr_addr: Default::default(),
            wr_pad: Default::default(),
            wr_bytes: (0..slots * beat_bytes).map(|_| Default::default()).collect(),
            cur_mem: Default::default(),
            cur_acc_elem: Default::default(),
            cur_lanes: Default::default(),
            cur_pad_value: Default::default(),
            cur_table: Default::default(),
            read_bytes: Default::default(),
            waiting: Default::default(),
            ar_valid: Default::default(),
            ar_ready: Default::default(),
            ar_addr: Default::default(),
            ar_len: Default::default(),
            r_valid: Default::default(),
            r_data: (0..beat_bytes).map(|_| Default::default()).collect(),
            r_resp: Default::default(),
            r_last: Default::default(),
            client: ReadClient::new(beat_bytes, max_burst, max_outstanding),
            active: Default::default(),
            draining: Default::default(),
            mem_q: Default::default(),
            elem_q: Default::default(),
            lanes_q: Default::default(),
            pad_q: Default::default(),
            table_q: Default::default(),
            pt: Default::default(),
            pl: Default::default(),
            xs: Default::default(),
            ys: Default::default(),
            x_stride_q: Default::default(),
            y_stride_q: Default::default(),
            entry_bytes: Default::default(),
            slots: Default::default(),
            row_mode: Default::default(),
            row_bytes: Default::default(),
            issuing: Default::default(),
            iy: Default::default(),
            ix: Default::default(),
            row_off: Default::default(),
            entry_off: Default::default(),
            slot: Default::default(),
            asm: (0..slots * beat_bytes / 4).map(|_| Default::default()).collect(),
            entry: (0..slots * beat_bytes / 4).map(|_| Default::default()).collect(),
            entry_valid: Default::default(),
            writing: Default::default(),
            wy: Default::default(),
            wx: Default::default(),
            rows_total: Default::default(),
            cols_total: Default::default(),
            waddr: Default::default(),
            done_pulse: Default::default(),
            err_pulse: Default::default(),
            err_code: Default::default(),
            eb_in: Default::default(),
            xs_in: Default::default(),
            ys_in: Default::default(),
            x_stride_in: Default::default(),
            req_off: Default::default(),
            req_len: Default::default(),
            req_in_window: Default::default(),
            req_fire: Default::default(),
            last_slot: Default::default(),
            take_beat: Default::default(),
            consuming: Default::default(),
            is_data: Default::default(),
            can_write: Default::default(),
            addr_ok: Default::default(),
            depth_sel: Default::default(),
            write_now: Default::default(),
            last_entry: Default::default(),
            latch: Default::default(),
            fail: Default::default(),
            depths: depths.iter().map(|d| Constant::new(u64::from(*d).into())).collect(),
            beat_bytes: Constant::new((beat_bytes as u64).into()),
            table_entries: Constant::new((u64::from(TABLE_BYTES) / beat_bytes as u64).into()),
            beat_mask: Constant::new(((beat_bytes - 1) as u64).into()),
            beat_shift: Constant::new(u64::from(beat_bytes.trailing_zeros()).into()),
            four_bit: Constant::new(four_bit),
            code_bad_field: Constant::new(ERR_BAD_FIELD.into()),
            code_dma_read: Constant::new(ERR_DMA_READ.into()),
            _b: beat_bytes,
            _w: beat_bytes / 4,
            _slots: slots,
        }
    }
}

impl Logic for LoadEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            active,
            draining,
            issuing,
            iy,
            ix,
            row_off,
            entry_off,
            slot,
            entry_valid,
            writing,
            wy,
            wx,
            waddr,
            done_pulse,
            err_pulse,
            err_code
        );
        clock!(self, clock, client);
        self.client.reset.next = self.reset.val();
        self.ar_valid.next = self.client.ar_valid.val();
        self.ar_addr.next = self.client.ar_addr.val();
        self.ar_len.next = self.client.ar_len.val();
        self.client.ar_ready.next = self.ar_ready.val();
        self.client.r_valid.next = self.r_valid.val();
        self.client.r_resp.next = self.r_resp.val();
        self.client.r_last.next = self.r_last.val();
        for j in 0..self._b {
            self.client.r_data[j].next = self.r_data[j].val();
        }
        for bb in self._b..(self._b + 1) {
            for ww in self._w..(self._w + 1) {
                for s in 0..self._slots {
                    for w in 0..self._w {
                        self.asm[s * ww + w].clock.next = self.clock.val();
                        self.entry[s * ww + w].clock.next = self.clock.val();
                        for k in 0..4 {
                            self.wr_bytes[s * bb + 4 * w + k].next =
                                self.entry[s * ww + w].q.val().get_bits::<8>(8 * k);
                        }
                    }
                }
            }
        }
        self.done_pulse.d.next = false;
        self.err_pulse.d.next = false;

        // ---- Start: latch the instruction and derive the entry size.
        // Entry bytes: operands (lanes or lanes/2), int8/uint8 (lanes), int32 (4 lanes), params (9 lanes).
        self.eb_in.next = bit_cast::<16, 8>(self.lanes.val());
        if (self.mem.val() < 2) & self.four_bit.val() {
            self.eb_in.next = bit_cast::<16, 8>(self.lanes.val()) >> 1;
        }
        if (self.mem.val() == 2) & (self.acc_elem.val() == 2) {
            self.eb_in.next = bit_cast::<16, 8>(self.lanes.val()) << 2;
        }
        if self.mem.val() == 3 {
            self.eb_in.next = (bit_cast::<16, 8>(self.lanes.val()) << 3) + bit_cast::<16, 8>(self.lanes.val());
        }
        self.xs_in.next = self.x_size.val();
        self.ys_in.next = self.y_size.val();
        self.x_stride_in.next = self.x_stride.val();
        if self.table_mode.val() {
            self.eb_in.next = self.beat_bytes.val();
            self.xs_in.next = self.table_entries.val();
            self.ys_in.next = 1.into();
            self.x_stride_in.next = bit_cast::<32, 16>(self.beat_bytes.val());
        }
        // The instruction's fields, loaded at start (clock enables, see `DffEn`).
        clock!(self, clock, mem_q, elem_q, lanes_q, pad_q, table_q, pt, pl, xs, ys, x_stride_q, y_stride_q);
        clock!(self, clock, entry_bytes, slots, row_mode, row_bytes, rows_total, cols_total);
        self.latch.next = self.start.val() & !self.active.q.val();
        self.mem_q.en.next = self.latch.val();
        self.mem_q.d.next = self.mem.val();
        self.elem_q.en.next = self.latch.val();
        self.elem_q.d.next = self.acc_elem.val();
        self.lanes_q.en.next = self.latch.val();
        self.lanes_q.d.next = self.lanes.val();
        self.pad_q.en.next = self.latch.val();
        self.pad_q.d.next = self.pad_value.val();
        self.table_q.en.next = self.latch.val();
        self.table_q.d.next = self.table_mode.val();
        self.pt.en.next = self.latch.val();
        self.pt.d.next = bit_cast::<32, 8>(self.pad_top.val());
        self.pl.en.next = self.latch.val();
        self.pl.d.next = bit_cast::<32, 8>(self.pad_left.val());
        self.xs.en.next = self.latch.val();
        self.xs.d.next = bit_cast::<32, 16>(self.xs_in.val());
        self.ys.en.next = self.latch.val();
        self.ys.d.next = bit_cast::<32, 16>(self.ys_in.val());
        self.x_stride_q.en.next = self.latch.val();
        self.x_stride_q.d.next = self.x_stride_in.val();
        self.y_stride_q.en.next = self.latch.val();
        self.y_stride_q.d.next = self.y_stride.val();
        self.entry_bytes.en.next = self.latch.val();
        self.entry_bytes.d.next = self.eb_in.val();
        self.slots.en.next = self.latch.val();
        self.slots.d.next = (self.eb_in.val() + self.beat_mask.val()) >> self.beat_shift.val();
        self.row_mode.en.next = self.latch.val();
        self.row_mode.d.next = (self.x_stride_in.val() == bit_cast::<32, 16>(self.eb_in.val()))
            & !(self.eb_in.val() & self.beat_mask.val()).any();
        self.row_bytes.en.next = self.latch.val();
        self.row_bytes.d.next = self.xs_in.val() * self.eb_in.val();
        // (A TABLE's padding fields are reserved bits, zero.)
        self.rows_total.en.next = self.latch.val();
        self.rows_total.d.next = bit_cast::<32, 16>(self.ys_in.val())
            + bit_cast::<32, 8>(self.pad_top.val())
            + bit_cast::<32, 8>(self.pad_bottom.val());
        self.cols_total.en.next = self.latch.val();
        self.cols_total.d.next = bit_cast::<32, 16>(self.xs_in.val())
            + bit_cast::<32, 8>(self.pad_left.val())
            + bit_cast::<32, 8>(self.pad_right.val());
        if self.start.val() & !self.active.q.val() {
            self.active.d.next = true;
            self.issuing.d.next = self.xs_in.val().any() & self.ys_in.val().any();
            self.writing.d.next = self.xs_in.val().any() & self.ys_in.val().any();
            self.iy.d.next = 0.into();
            self.ix.d.next = 0.into();
            self.row_off.d.next = bit_cast::<64, 32>(self.dram_addr.val());
            self.entry_off.d.next = bit_cast::<64, 32>(self.dram_addr.val());
            self.slot.d.next = 0.into();
            self.wy.d.next = 0.into();
            self.wx.d.next = 0.into();
            self.waddr.d.next = bit_cast::<32, 16>(self.sram_addr.val());
        }

        // ---- Issuer: one request per row (contiguous, beat-multiple entries) or per entry.
        self.req_off.next = self.entry_off.q.val();
        self.req_len.next = bit_cast::<32, 16>(self.entry_bytes.q.val());
        if self.row_mode.q.val() {
            self.req_off.next = self.row_off.q.val();
            self.req_len.next = self.row_bytes.q.val();
        }
        self.req_in_window.next =
            (self.req_off.val() + bit_cast::<64, 32>(self.req_len.val())) <= bit_cast::<64, 32>(self.dram_size.val());
        self.client.req_valid.next = self.issuing.q.val() & self.req_in_window.val() & !self.draining.q.val();
        self.client.req_addr.next = self.dram_base.val() + self.req_off.val();
        self.client.req_bytes.next = self.req_len.val();
        self.req_fire.next =
            self.issuing.q.val() & self.req_in_window.val() & self.client.req_ready.val() & !self.draining.q.val();
        if self.req_fire.val() {
            if self.row_mode.q.val() | ((self.ix.q.val() + 1) == self.xs.q.val()) {
                self.ix.d.next = 0.into();
                self.iy.d.next = self.iy.q.val() + 1;
                self.row_off.d.next = self.row_off.q.val() + bit_cast::<64, 32>(self.y_stride_q.q.val());
                self.entry_off.d.next = self.row_off.q.val() + bit_cast::<64, 32>(self.y_stride_q.q.val());
                if (self.iy.q.val() + 1) == self.ys.q.val() {
                    self.issuing.d.next = false;
                }
            } else {
                self.ix.d.next = self.ix.q.val() + 1;
                self.entry_off.d.next = self.entry_off.q.val() + bit_cast::<64, 32>(self.x_stride_q.q.val());
            }
        }

        // ---- Writer conditions (needed by the assembler below).
        self.is_data.next = (self.wy.q.val() >= self.pt.q.val())
            & (self.wy.q.val() < (self.pt.q.val() + self.ys.q.val()))
            & (self.wx.q.val() >= self.pl.q.val())
            & (self.wx.q.val() < (self.pl.q.val() + self.xs.q.val()));
        self.depth_sel.next = self.depths[0].val();
        for m in 1..4 {
            if self.mem_q.q.val().index() == m {
                self.depth_sel.next = self.depths[m].val();
            }
        }
        if self.table_q.q.val() {
            self.depth_sel.next = bit_cast::<32, 16>(self.table_entries.val());
        }
        self.addr_ok.next = self.waddr.q.val() < self.depth_sel.val();
        self.can_write.next =
            self.writing.q.val() & !self.draining.q.val() & (!self.is_data.val() | self.entry_valid.q.val());
        self.wr_offer.next = self.can_write.val() & self.addr_ok.val();
        self.write_now.next = self.can_write.val() & self.addr_ok.val() & self.wr_ready.val();
        // ---- Assembler: beat k of an entry fills bytes [k*B, (k+1)*B); the beat that
        // completes an entry hands the whole entry to the writer.
        self.last_slot.next = (self.slot.q.val() + 1) == self.slots.q.val();
        self.consuming.next = self.write_now.val() & self.is_data.val();
        self.take_beat.next = self.client.out_valid.val()
            & !self.draining.q.val()
            & (!self.last_slot.val() | !self.entry_valid.q.val() | self.consuming.val());
        self.client.out_ready.next = self.take_beat.val() | self.draining.q.val();
        if self.take_beat.val() {
            self.slot.d.next = self.slot.q.val() + 1;
            if self.last_slot.val() {
                self.slot.d.next = 0.into();
            }
        }
        for ww in self._w..(self._w + 1) {
            for s in 0..self._slots {
                for w in 0..self._w {
                    self.asm[s * ww + w].en.next = self.take_beat.val() & (self.slot.q.val().index() == s);
                    self.asm[s * ww + w].d.next = self.client.out_words[w].val();
                    self.entry[s * ww + w].en.next = self.take_beat.val() & self.last_slot.val();
                    self.entry[s * ww + w].d.next = self.asm[s * ww + w].q.val();
                    if self.slot.q.val().index() == s {
                        self.entry[s * ww + w].d.next = self.client.out_words[w].val();
                    }
                }
            }
        }

        // ---- Writer: padded block in SRAM order.
        self.wr_valid.next = self.write_now.val();
        self.wr_addr.next = self.waddr.q.val().get_bits::<16>(0);
        self.wr_pad.next = !self.is_data.val();
        self.read_bytes.next = 0.into();
        if self.consuming.val() {
            self.read_bytes.next = self.entry_bytes.q.val();
            self.entry_valid.d.next = false;
        }
        if self.take_beat.val() & self.last_slot.val() {
            self.entry_valid.d.next = true;
        }
        self.last_entry.next =
            ((self.wy.q.val() + 1) == self.rows_total.q.val()) & ((self.wx.q.val() + 1) == self.cols_total.q.val());
        if self.write_now.val() {
            self.waddr.d.next = self.waddr.q.val() + 1;
            self.wx.d.next = self.wx.q.val() + 1;
            if (self.wx.q.val() + 1) == self.cols_total.q.val() {
                self.wx.d.next = 0.into();
                self.wy.d.next = self.wy.q.val() + 1;
            }
            if self.last_entry.val() {
                self.writing.d.next = false;
            }
        }
        if self.active.q.val() & !self.draining.q.val() & !self.writing.q.val() & !self.issuing.q.val() {
            self.active.d.next = false;
            self.done_pulse.d.next = true;
        }

        // ---- Errors: SRAM entry or DDR range outside the memory; AXI error response.
        self.fail.next = false;
        self.err_code.d.next = self.err_code.q.val();
        if self.active.q.val() & !self.draining.q.val() {
            if self.can_write.val() & !self.addr_ok.val() {
                self.fail.next = true;
                self.err_code.d.next = self.code_bad_field.val();
            }
            if self.issuing.q.val() & !self.req_in_window.val() {
                self.fail.next = true;
                self.err_code.d.next = self.code_bad_field.val();
            }
            if self.client.error.val() {
                self.fail.next = true;
                self.err_code.d.next = self.code_dma_read.val();
            }
        }
        if self.fail.val() {
            self.draining.d.next = true;
            self.err_pulse.d.next = true;
            self.issuing.d.next = false;
            self.writing.d.next = false;
        }
        // Draining: discard data until every requested burst has returned.
        if self.draining.q.val() & self.client.idle.val() & !self.fail.val() {
            self.draining.d.next = false;
            self.active.d.next = false;
            self.entry_valid.d.next = false;
            self.slot.d.next = 0.into();
        }

        self.busy.next = self.active.q.val();
        self.done.next = self.done_pulse.q.val();
        self.error.next = self.err_pulse.q.val();
        self.error_code.next = self.err_code.q.val();
        self.cur_mem.next = self.mem_q.q.val();
        self.cur_acc_elem.next = self.elem_q.q.val();
        self.cur_lanes.next = self.lanes_q.q.val();
        self.cur_pad_value.next = self.pad_q.q.val();
        self.cur_table.next = self.table_q.q.val();
        self.waiting.next = self.writing.q.val() & self.is_data.val() & !self.entry_valid.q.val();

        if self.reset.val() {
            self.active.d.next = false;
            self.draining.d.next = false;
            self.issuing.d.next = false;
            self.writing.d.next = false;
            self.entry_valid.d.next = false;
            self.slot.d.next = 0.into();
            self.err_code.d.next = 0.into();
        }
    }
}
