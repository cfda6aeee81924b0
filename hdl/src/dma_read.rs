//! One client of the AXI4 read channel: turns byte-range requests into aligned
//! bursts (at most `max_burst` beats, never crossing a 4 KiB boundary), buffers the
//! returning beats and re-aligns them so that every request's data starts at byte
//! 0 of an output beat.
//!
//! Bursts are only issued when the beat buffer has room reserved for all their
//! data, so the shared R channel is never back-pressured by a slow consumer (no
//! head-of-line blocking between clients).
//!
//! Inside, data moves as 32-bit words rather than bytes: the beat buffer, the
//! re-aligner and the output register are a quarter as many signals, which is the
//! difference between a cheap and an expensive client in the Verilated model (every
//! signal is evaluated every cycle there). The ports stay byte lanes.

use crate::dff_en::DffEn;
use crate::fifo::Fifo;
use crate::word_funnel::{BytesToWords, WordFunnel};
use rust_hdl::prelude::*;

/// Request metadata kept until the request's data has been re-aligned.
const META_LANES: usize = 3;

#[derive(LogicBlock)]
pub struct ReadClient {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// A byte range to read: absolute address and length (> 0).
    pub req_valid: Signal<In, Bit>,
    pub req_ready: Signal<Out, Bit>,
    pub req_addr: Signal<In, Bits<64>>,
    pub req_bytes: Signal<In, Bits<32>>,
    // AXI read address channel (towards the arbiter).
    pub ar_valid: Signal<Out, Bit>,
    pub ar_ready: Signal<In, Bit>,
    pub ar_addr: Signal<Out, Bits<64>>,
    pub ar_len: Signal<Out, Bits<8>>,
    // AXI read data channel (this client's beats only).
    pub r_valid: Signal<In, Bit>,
    pub r_data: Vec<Signal<In, Bits<8>>>,
    pub r_resp: Signal<In, Bits<2>>,
    pub r_last: Signal<In, Bit>,
    // Re-aligned data, one beat per handshake.
    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    pub out_data: Vec<Signal<Out, Bits<8>>>,
    /// `out_data` as 32-bit words (byte 4w + k is bits 8k.. of word w).
    pub out_words: Vec<Signal<Out, Bits<32>>>,
    /// The beat is the last of its request.
    pub out_last: Signal<Out, Bit>,
    /// Sticky: a beat came back with SLVERR/DECERR.
    pub error: Signal<Out, Bit>,
    /// Nothing requested is outstanding or buffered.
    pub idle: Signal<Out, Bit>,

    beats: Fifo<Bits<32>>,
    meta: Fifo<Bits<32>>,
    // Burst splitter.
    splitting: DFF<Bit>,
    burst_addr: DFF<Bits<64>>,
    beats_left: DFF<Bits<32>>,
    reserved: DFF<Bits<16>>,
    outstanding: DFF<Bits<8>>,
    err: DFF<Bit>,
    // Re-aligner (32-bit words).
    /// Clock-enable registers (see `DffEn`): loaded on `take_raw` and `emit`.
    prev: Vec<DffEn<Bits<32>>>,
    have_prev: DFF<Bit>,
    raw_taken: DFF<Bits<32>>,
    out_sent: DFF<Bits<32>>,
    out_reg: Vec<DffEn<Bits<32>>>,
    out_reg_valid: DFF<Bit>,
    out_reg_last: DFF<Bit>,
    // Combinational.
    offset_in: Signal<Local, Bits<32>>,
    raw_total: Signal<Local, Bits<32>>,
    out_total: Signal<Local, Bits<32>>,
    to_boundary: Signal<Local, Bits<32>>,
    burst: Signal<Local, Bits<32>>,
    burst_m1: Signal<Local, Bits<32>>,
    can_issue: Signal<Local, Bit>,
    fire_ar: Signal<Local, Bit>,
    cur_offset: Signal<Local, Bits<32>>,
    cur_raw: Signal<Local, Bits<32>>,
    cur_out: Signal<Local, Bits<32>>,
    slot_free: Signal<Local, Bit>,
    emit: Signal<Local, Bit>,
    emit_last: Signal<Local, Bit>,
    take_raw: Signal<Local, Bit>,
    /// Output beat m: bytes from the request's offset of raw beats m and m+1.
    funnel: WordFunnel,
    /// The returning beat as 32-bit words.
    r_words: BytesToWords,
    burst_done: Signal<Local, Bit>,
    // Constants.
    beat_mask: Constant<Bits<64>>,
    beat_shift: Constant<Bits<32>>,
    beat_bytes_m1: Constant<Bits<32>>,
    page_mask: Constant<Bits<64>>,
    page_bytes: Constant<Bits<32>>,
    max_burst: Constant<Bits<32>>,
    max_outstanding: Constant<Bits<8>>,
    capacity: Constant<Bits<16>>,
    zero_word: Constant<Bits<32>>,
    _b: usize,
    /// 32-bit words per beat.
    _w: usize,
}

impl ReadClient {
    /// `beat_bytes` (a power of two), bursts of at most `max_burst` beats, at most
    /// `max_outstanding` bursts in flight.
    pub fn new(beat_bytes: usize, max_burst: usize, max_outstanding: usize) -> Self {
        assert!(beat_bytes.is_power_of_two() && (4..=32).contains(&beat_bytes));
        assert!((1..=256).contains(&max_burst) && (1..=64).contains(&max_outstanding));
        let capacity = max_burst * max_outstanding;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            req_valid: Default::default(),
            req_ready: Default::default(),
            req_addr: Default::default(),
            req_bytes: Default::default(),
            ar_valid: Default::default(),
            ar_ready: Default::default(),
            ar_addr: Default::default(),
            ar_len: Default::default(),
            r_valid: Default::default(),
            r_data: (0..beat_bytes).map(|_| Default::default()).collect(),
            r_resp: Default::default(),
            r_last: Default::default(),
            out_valid: Default::default(),
            out_ready: Default::default(),
            out_data: (0..beat_bytes).map(|_| Default::default()).collect(),
            out_words: (0..beat_bytes / 4).map(|_| Default::default()).collect(),
            out_last: Default::default(),
            error: Default::default(),
            idle: Default::default(),
            beats: Fifo::new(beat_bytes / 4, capacity),
            meta: Fifo::new(META_LANES, 8),
            splitting: Default::default(),
            burst_addr: Default::default(),
            beats_left: Default::default(),
            reserved: Default::default(),
            outstanding: Default::default(),
            err: Default::default(),
            prev: (0..beat_bytes / 4).map(|_| Default::default()).collect(),
            have_prev: Default::default(),
            raw_taken: Default::default(),
            out_sent: Default::default(),
            out_reg: (0..beat_bytes / 4).map(|_| Default::default()).collect(),
            out_reg_valid: Default::default(),
            out_reg_last: Default::default(),
            offset_in: Default::default(),
            raw_total: Default::default(),
            out_total: Default::default(),
            to_boundary: Default::default(),
            burst: Default::default(),
            burst_m1: Default::default(),
            can_issue: Default::default(),
            fire_ar: Default::default(),
            cur_offset: Default::default(),
            cur_raw: Default::default(),
            cur_out: Default::default(),
            slot_free: Default::default(),
            emit: Default::default(),
            emit_last: Default::default(),
            take_raw: Default::default(),
            funnel: WordFunnel::new(beat_bytes / 4),
            r_words: BytesToWords::new(beat_bytes / 4),
            burst_done: Default::default(),
            beat_mask: Constant::new(((beat_bytes - 1) as u64).into()),
            beat_shift: Constant::new((beat_bytes.trailing_zeros() as u64).into()),
            beat_bytes_m1: Constant::new(((beat_bytes - 1) as u64).into()),
            page_mask: Constant::new(4095u64.into()),
            page_bytes: Constant::new(4096u64.into()),
            max_burst: Constant::new((max_burst as u64).into()),
            max_outstanding: Constant::new((max_outstanding as u64).into()),
            capacity: Constant::new((capacity as u64).into()),
            zero_word: Constant::new(0u64.into()),
            _b: beat_bytes,
            _w: beat_bytes / 4,
        }
    }
}

impl Logic for ReadClient {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            splitting,
            burst_addr,
            beats_left,
            reserved,
            outstanding,
            err,
            have_prev,
            raw_taken,
            out_sent,
            out_reg_valid,
            out_reg_last
        );
        clock!(self, clock, beats, meta);
        self.beats.reset.next = self.reset.val();
        self.meta.reset.next = self.reset.val();
        for i in 0..self._w {
            self.prev[i].clock.next = self.clock.val();
            self.out_reg[i].clock.next = self.clock.val();
        }

        // ---- Accept a request: record its re-alignment parameters, start splitting.
        self.offset_in.next = bit_cast::<32, 64>(self.req_addr.val() & self.beat_mask.val());
        self.raw_total.next =
            (self.offset_in.val() + self.req_bytes.val() + self.beat_bytes_m1.val()) >> self.beat_shift.val();
        self.out_total.next = (self.req_bytes.val() + self.beat_bytes_m1.val()) >> self.beat_shift.val();
        self.req_ready.next = !self.splitting.q.val() & !self.meta.full.val();
        self.meta.push.next = false;
        self.meta.data_in[0].next = self.offset_in.val();
        self.meta.data_in[1].next = self.raw_total.val();
        self.meta.data_in[2].next = self.out_total.val();
        if self.req_valid.val() & !self.splitting.q.val() & !self.meta.full.val() {
            self.meta.push.next = true;
            self.splitting.d.next = true;
            self.burst_addr.d.next = self.req_addr.val() & !self.beat_mask.val();
            self.beats_left.d.next = self.raw_total.val();
        }

        // ---- Issue bursts while the beat buffer has room for all their data.
        self.to_boundary.next = (self.page_bytes.val()
            - bit_cast::<32, 64>(self.burst_addr.q.val() & self.page_mask.val()))
            >> self.beat_shift.val();
        self.burst.next = self.beats_left.q.val();
        if self.burst.val() > self.max_burst.val() {
            self.burst.next = self.max_burst.val();
        }
        if self.burst.val() > self.to_boundary.val() {
            self.burst.next = self.to_boundary.val();
        }
        self.can_issue.next = self.splitting.q.val()
            & (self.outstanding.q.val() < self.max_outstanding.val())
            & ((bit_cast::<32, 16>(self.reserved.q.val())
                + bit_cast::<32, 16>(self.beats.count.val())
                + self.burst.val())
                <= bit_cast::<32, 16>(self.capacity.val()));
        self.ar_valid.next = self.can_issue.val();
        self.ar_addr.next = self.burst_addr.q.val();
        self.burst_m1.next = self.burst.val() - 1;
        self.ar_len.next = self.burst_m1.val().get_bits::<8>(0);
        self.fire_ar.next = self.can_issue.val() & self.ar_ready.val();
        self.burst_done.next = self.r_valid.val() & self.r_last.val();
        if self.fire_ar.val() {
            self.burst_addr.d.next =
                self.burst_addr.q.val() + (bit_cast::<64, 32>(self.burst.val()) << self.beat_shift.val());
            self.beats_left.d.next = self.beats_left.q.val() - self.burst.val();
            if self.beats_left.q.val() == self.burst.val() {
                self.splitting.d.next = false;
            }
        }
        self.reserved.d.next = self.reserved.q.val() - bit_cast::<16, 1>(self.r_valid.val().into());
        if self.fire_ar.val() {
            self.reserved.d.next = self.reserved.q.val() + self.burst.val().get_bits::<16>(0)
                - bit_cast::<16, 1>(self.r_valid.val().into());
        }
        self.outstanding.d.next = self.outstanding.q.val() + bit_cast::<8, 1>(self.fire_ar.val().into())
            - bit_cast::<8, 1>(self.burst_done.val().into());

        // ---- Buffer returning beats.
        self.beats.push.next = self.r_valid.val();
        for i in 0..self._b {
            self.r_words.bytes[i].next = self.r_data[i].val();
        }
        for w in 0..self._w {
            self.beats.data_in[w].next = self.r_words.words[w].val();
        }
        if self.r_valid.val() & self.r_resp.val().any() {
            self.err.d.next = true;
        }
        self.error.next = self.err.q.val();

        // ---- Re-align: output beat m = bytes [o, B) of raw beat m then [0, o) of raw m+1.
        self.cur_offset.next = self.meta.data_out[0].val();
        self.cur_raw.next = self.meta.data_out[1].val();
        self.cur_out.next = self.meta.data_out[2].val();
        for ww in self._w..(self._w + 1) {
            for i in 0..self._w {
                self.funnel.window[i].next = self.prev[i].q.val();
                self.funnel.window[i + ww].next = self.zero_word.val();
                if self.raw_taken.q.val() != self.cur_raw.val() {
                    self.funnel.window[i + ww].next = self.beats.data_out[i].val();
                }
            }
        }
        self.funnel.start.next = self.cur_offset.val();
        self.slot_free.next = !self.out_reg_valid.q.val() | self.out_ready.val();
        self.take_raw.next = false;
        self.emit.next = false;
        self.beats.pop.next = false;
        self.meta.pop.next = false;
        if self.meta.valid.val() & self.slot_free.val() {
            if !self.cur_offset.val().any() {
                // Aligned: beats pass straight through.
                if self.beats.valid.val() {
                    self.take_raw.next = true;
                    self.emit.next = true;
                }
            } else if !self.have_prev.q.val() {
                if self.beats.valid.val() {
                    self.take_raw.next = true;
                }
            } else if self.raw_taken.q.val() != self.cur_raw.val() {
                if self.beats.valid.val() {
                    self.take_raw.next = true;
                    self.emit.next = true;
                }
            } else {
                // Every raw beat is in: the tail of the last one forms a final beat.
                self.emit.next = true;
            }
        }
        self.emit_last.next = (self.out_sent.q.val() + 1) == self.cur_out.val();
        if self.take_raw.val() {
            self.beats.pop.next = true;
            self.raw_taken.d.next = self.raw_taken.q.val() + 1;
            self.have_prev.d.next = true;
        }
        for i in 0..self._w {
            self.prev[i].en.next = self.take_raw.val();
            self.prev[i].d.next = self.beats.data_out[i].val();
            self.out_reg[i].en.next = self.emit.val();
            self.out_reg[i].d.next = self.funnel.out[i].val();
            if !self.cur_offset.val().any() {
                self.out_reg[i].d.next = self.beats.data_out[i].val();
            }
        }
        if self.out_reg_valid.q.val() & self.out_ready.val() {
            self.out_reg_valid.d.next = false;
        }
        if self.emit.val() {
            self.out_reg_valid.d.next = true;
            self.out_reg_last.d.next = self.emit_last.val();
            self.out_sent.d.next = self.out_sent.q.val() + 1;
            if self.emit_last.val() {
                // The request is complete; its last raw beat, if any, must be in too.
                self.meta.pop.next = true;
                self.out_sent.d.next = 0.into();
                self.raw_taken.d.next = 0.into();
                self.have_prev.d.next = false;
            }
        }
        // A request whose data fits in its first raw beat emits nothing when the beat
        // is taken; it emits from `prev` on the next cycle (the branch above).
        self.out_valid.next = self.out_reg_valid.q.val();
        self.out_last.next = self.out_reg_last.q.val();
        for w in 0..self._w {
            self.out_words[w].next = self.out_reg[w].q.val();
            for k in 0..4 {
                self.out_data[4 * w + k].next = self.out_reg[w].q.val().get_bits::<8>(8 * k);
            }
        }
        self.idle.next = !self.splitting.q.val()
            & !self.meta.valid.val()
            & !self.out_reg_valid.q.val()
            & (self.outstanding.q.val() == 0)
            & !self.reserved.q.val().any()
            & !self.beats.count.val().any()
            & !self.beats.valid.val();

        if self.reset.val() {
            self.splitting.d.next = false;
            self.reserved.d.next = 0.into();
            self.outstanding.d.next = 0.into();
            self.err.d.next = false;
            self.have_prev.d.next = false;
            self.raw_taken.d.next = 0.into();
            self.out_sent.d.next = 0.into();
            self.out_reg_valid.d.next = false;
        }
    }
}
