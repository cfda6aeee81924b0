//! The AXI4 write channel: byte-range requests whose data arrives as beats aligned
//! to the start of the request, written to DDR as aligned bursts (at most
//! `max_burst` beats, never across a 4 KiB page) with byte strobes. A burst's data
//! is only sent after its address, and every burst's response is counted, so `idle`
//! means every write has been acknowledged.

use crate::fifo::Fifo;
use crate::vec_of;
use crate::word_funnel::{BytesToWords, WordFunnel};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct WriteClient {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub req_valid: Signal<In, Bit>,
    pub req_ready: Signal<Out, Bit>,
    pub req_addr: Signal<In, Bits<64>>,
    pub req_bytes: Signal<In, Bits<32>>,
    /// The request's bytes, `B` per beat from byte 0; `ceil(bytes / B)` beats.
    pub data_valid: Signal<In, Bit>,
    pub data_ready: Signal<Out, Bit>,
    pub data: Vec<Signal<In, Bits<8>>>,
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
    /// Sticky: a write response was SLVERR/DECERR.
    pub error: Signal<Out, Bit>,
    /// Every accepted request is written and acknowledged.
    pub idle: Signal<Out, Bit>,
    /// Give up the accepted requests (the machine stopped on an error): start no more
    /// bursts, send the remaining beats of bursts whose address went out with zero
    /// strobes (AXI needs every addressed beat; these write nothing), then forget the
    /// rest. `idle` rises once the last response is in.
    pub abort: Signal<In, Bit>,

    meta: Fifo<Bits<32>>,
    bursts: Fifo<Bits<16>>,
    splitting: DFF<Bit>,
    burst_addr: DFF<Bits<64>>,
    beats_left: DFF<Bits<32>>,
    outstanding: DFF<Bits<16>>,
    err: DFF<Bit>,
    // W emission.
    raw_sent: DFF<Bits<32>>,
    in_taken: DFF<Bits<32>>,
    remaining: DFF<Bits<32>>,
    burst_beat: DFF<Bits<16>>,
    /// The previous input beat, as 32-bit words.
    prev: Vec<DFF<Bits<32>>>,
    // Combinational.
    offset_in: Signal<Local, Bits<32>>,
    raw_total: Signal<Local, Bits<32>>,
    to_boundary: Signal<Local, Bits<32>>,
    burst: Signal<Local, Bits<32>>,
    burst_m1: Signal<Local, Bits<32>>,
    can_issue: Signal<Local, Bit>,
    fire_aw: Signal<Local, Bit>,
    cur_offset: Signal<Local, Bits<32>>,
    cur_raw: Signal<Local, Bits<32>>,
    cur_in: Signal<Local, Bits<32>>,
    need_in: Signal<Local, Bit>,
    can_emit: Signal<Local, Bit>,
    fire_w: Signal<Local, Bit>,
    last_raw: Signal<Local, Bit>,
    lo: Signal<Local, Bits<32>>,
    rem_now: Signal<Local, Bits<32>>,
    /// Previous and current input beat as 32-bit words (the shifter's input).
    window: Vec<Signal<Local, Bits<32>>>,
    /// The input beat as 32-bit words.
    in_words: BytesToWords,
    /// Output beat: the window from byte `B - offset` (offset > 0).
    funnel: WordFunnel,
    word_out: Vec<Signal<Local, Bits<32>>>,
    strobes: Signal<Local, Bits<32>>,
    strobe_end: Signal<Local, Bits<32>>,
    strobes_wide: Signal<Local, Bits<64>>,
    forget: Signal<Local, Bit>,
    beat_mask: Constant<Bits<64>>,
    beat_shift: Constant<Bits<32>>,
    beat_bytes: Constant<Bits<32>>,
    beat_bytes_m1: Constant<Bits<32>>,
    page_mask: Constant<Bits<64>>,
    page_bytes: Constant<Bits<32>>,
    max_burst: Constant<Bits<32>>,
    max_outstanding: Constant<Bits<16>>,
    all_ones: Constant<Bits<64>>,
    zero_word: Constant<Bits<32>>,
    _b: usize,
    /// 32-bit words per beat, and in the two-beat window.
    _w: usize,
    _window_words: usize,
}

impl WriteClient {
    pub fn new(beat_bytes: usize, max_burst: usize, max_outstanding: usize) -> Self {
        assert!(beat_bytes.is_power_of_two() && (4..=32).contains(&beat_bytes));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            req_valid: Default::default(),
            req_ready: Default::default(),
            req_addr: Default::default(),
            req_bytes: Default::default(),
            data_valid: Default::default(),
            data_ready: Default::default(),
            data: (0..beat_bytes).map(|_| Default::default()).collect(),
            aw_valid: Default::default(),
            aw_ready: Default::default(),
            aw_addr: Default::default(),
            aw_len: Default::default(),
            w_valid: Default::default(),
            w_ready: Default::default(),
            w_data: (0..beat_bytes).map(|_| Default::default()).collect(),
            w_strb: Default::default(),
            w_last: Default::default(),
            b_valid: Default::default(),
            b_ready: Default::default(),
            b_resp: Default::default(),
            error: Default::default(),
            idle: Default::default(),
            abort: Default::default(),
            meta: Fifo::new(3, 8),
            bursts: Fifo::new(1, 16),
            splitting: Default::default(),
            burst_addr: Default::default(),
            beats_left: Default::default(),
            outstanding: Default::default(),
            err: Default::default(),
            raw_sent: Default::default(),
            in_taken: Default::default(),
            remaining: Default::default(),
            burst_beat: Default::default(),
            prev: (0..beat_bytes / 4).map(|_| Default::default()).collect(),
            offset_in: Default::default(),
            raw_total: Default::default(),
            to_boundary: Default::default(),
            burst: Default::default(),
            burst_m1: Default::default(),
            can_issue: Default::default(),
            fire_aw: Default::default(),
            cur_offset: Default::default(),
            cur_raw: Default::default(),
            cur_in: Default::default(),
            need_in: Default::default(),
            can_emit: Default::default(),
            fire_w: Default::default(),
            last_raw: Default::default(),
            lo: Default::default(),
            rem_now: Default::default(),
            window: vec_of(beat_bytes / 2),
            in_words: BytesToWords::new(beat_bytes / 4),
            funnel: WordFunnel::new(beat_bytes / 4),
            word_out: vec_of(beat_bytes / 4),
            strobes: Default::default(),
            strobe_end: Default::default(),
            strobes_wide: Default::default(),
            forget: Default::default(),
            beat_mask: Constant::new(((beat_bytes - 1) as u64).into()),
            beat_shift: Constant::new(u64::from(beat_bytes.trailing_zeros()).into()),
            beat_bytes: Constant::new((beat_bytes as u64).into()),
            beat_bytes_m1: Constant::new(((beat_bytes - 1) as u64).into()),
            page_mask: Constant::new(4095u64.into()),
            page_bytes: Constant::new(4096u64.into()),
            max_burst: Constant::new((max_burst as u64).into()),
            max_outstanding: Constant::new((max_outstanding.min(15) as u64).into()),
            all_ones: Constant::new(u64::MAX.into()),
            zero_word: Constant::new(0u64.into()),
            _b: beat_bytes,
            _w: beat_bytes / 4,
            _window_words: beat_bytes / 2,
        }
    }
}

impl Logic for WriteClient {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            splitting,
            burst_addr,
            beats_left,
            outstanding,
            err,
            raw_sent,
            in_taken,
            remaining,
            burst_beat
        );
        clock!(self, clock, meta, bursts);
        // An abort forgets the requests once no addressed burst is left to finish.
        self.forget.next = self.abort.val() & self.bursts.empty.val();
        self.meta.reset.next = self.reset.val() | self.forget.val();
        self.bursts.reset.next = self.reset.val();
        for i in 0..self._b {
            self.in_words.bytes[i].next = self.data[i].val();
        }
        for i in 0..self._w {
            self.prev[i].clock.next = self.clock.val();
            self.prev[i].d.next = self.prev[i].q.val();
        }

        // ---- Accept a request; split its byte range into aligned bursts.
        self.offset_in.next = bit_cast::<32, 64>(self.req_addr.val() & self.beat_mask.val());
        self.raw_total.next =
            (self.offset_in.val() + self.req_bytes.val() + self.beat_bytes_m1.val()) >> self.beat_shift.val();
        self.req_ready.next = !self.splitting.q.val() & !self.meta.full.val();
        self.meta.push.next = false;
        self.meta.data_in[0].next = self.offset_in.val();
        self.meta.data_in[1].next = self.raw_total.val();
        self.meta.data_in[2].next = self.req_bytes.val();
        if self.req_valid.val() & !self.splitting.q.val() & !self.meta.full.val() {
            self.meta.push.next = true;
            self.splitting.d.next = true;
            self.burst_addr.d.next = self.req_addr.val() & !self.beat_mask.val();
            self.beats_left.d.next = self.raw_total.val();
        }
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
            & !self.abort.val()
            & (self.outstanding.q.val() < self.max_outstanding.val())
            & !self.bursts.full.val();
        self.aw_valid.next = self.can_issue.val();
        self.aw_addr.next = self.burst_addr.q.val();
        self.burst_m1.next = self.burst.val() - 1;
        self.aw_len.next = self.burst_m1.val().get_bits::<8>(0);
        self.fire_aw.next = self.can_issue.val() & self.aw_ready.val();
        self.bursts.push.next = self.fire_aw.val();
        self.bursts.data_in[0].next = self.burst.val().get_bits::<16>(0);
        if self.fire_aw.val() {
            self.burst_addr.d.next =
                self.burst_addr.q.val() + (bit_cast::<64, 32>(self.burst.val()) << self.beat_shift.val());
            self.beats_left.d.next = self.beats_left.q.val() - self.burst.val();
            if self.beats_left.q.val() == self.burst.val() {
                self.splitting.d.next = false;
            }
        }
        self.b_ready.next = true;
        self.outstanding.d.next = self.outstanding.q.val() + bit_cast::<16, 1>(self.fire_aw.val().into())
            - bit_cast::<16, 1>(self.b_valid.val().into());
        if self.b_valid.val() & self.b_resp.val().any() {
            self.err.d.next = true;
        }
        self.error.next = self.err.q.val();

        // ---- W: raw beat m of a request holds request bytes [m*B - o, (m+1)*B - o),
        // i.e. the tail of input beat m-1 and the head of input beat m.
        self.cur_offset.next = self.meta.data_out[0].val();
        self.cur_raw.next = self.meta.data_out[1].val();
        self.cur_in.next = (self.meta.data_out[2].val() + self.beat_bytes_m1.val()) >> self.beat_shift.val();
        self.need_in.next = self.in_taken.q.val() != self.cur_in.val();
        self.can_emit.next = self.meta.valid.val()
            & self.bursts.valid.val()
            & (!self.need_in.val() | self.data_valid.val() | self.abort.val());
        self.w_valid.next = self.can_emit.val();
        self.fire_w.next = self.can_emit.val() & self.w_ready.val();
        self.data_ready.next = self.fire_w.val() & self.need_in.val() & !self.abort.val();
        // Output byte j is window byte B - offset + j: with offset 0 the current
        // beat, otherwise the funnel's output.
        for ww in self._w..(self._w + 1) {
            for i in 0..self._w {
                self.window[i].next = self.prev[i].q.val();
                self.window[i + ww].next = self.zero_word.val();
                if self.need_in.val() {
                    self.window[i + ww].next = self.in_words.words[i].val();
                }
            }
        }
        for i in 0..self._window_words {
            self.funnel.window[i].next = self.window[i].val();
        }
        self.funnel.start.next = self.beat_bytes.val() - self.cur_offset.val();
        for ww in self._w..(self._w + 1) {
            for m in 0..self._w {
                self.word_out[m].next = self.funnel.out[m].val();
                if !self.cur_offset.val().any() {
                    self.word_out[m].next = self.window[ww + m].val();
                }
                for k in 0..4 {
                    self.w_data[4 * m + k].next = self.word_out[m].val().get_bits::<8>(8 * k);
                }
            }
        }
        // Strobes: bytes at or after the offset in the first beat, before the end in the last.
        self.lo.next = 0.into();
        if !self.raw_sent.q.val().any() {
            self.lo.next = self.cur_offset.val();
        }
        self.rem_now.next = self.remaining.q.val();
        if !self.raw_sent.q.val().any() {
            self.rem_now.next = self.meta.data_out[2].val() + self.cur_offset.val();
        }
        // As the difference of two masks rather than a comparison per byte; `lo` is
        // below a beat and the end is clamped to one (a beat is at most 32 bytes).
        self.strobe_end.next = self.rem_now.val();
        if self.rem_now.val() > self.beat_bytes.val() {
            self.strobe_end.next = self.beat_bytes.val();
        }
        self.strobes_wide.next =
            (self.all_ones.val() << self.lo.val()) & !(self.all_ones.val() << self.strobe_end.val());
        self.strobes.next = self.strobes_wide.val().get_bits::<32>(0);
        self.w_strb.next = self.strobes.val();
        if self.abort.val() {
            self.w_strb.next = 0.into();
        }
        self.w_last.next = (self.burst_beat.q.val() + 1) == self.bursts.data_out[0].val();
        self.last_raw.next = (self.raw_sent.q.val() + 1) == self.cur_raw.val();
        self.bursts.pop.next = false;
        self.meta.pop.next = false;
        // `remaining`: request bytes plus offset not yet covered by raw beats.
        if self.fire_w.val() {
            self.raw_sent.d.next = self.raw_sent.q.val() + 1;
            self.remaining.d.next = self.rem_now.val() - self.beat_bytes.val();
            if self.need_in.val() {
                self.in_taken.d.next = self.in_taken.q.val() + 1;
                for ww in self._w..(self._w + 1) {
                    for i in 0..self._w {
                        self.prev[i].d.next = self.window[i + ww].val();
                    }
                }
            }
            self.burst_beat.d.next = self.burst_beat.q.val() + 1;
            if (self.burst_beat.q.val() + 1) == self.bursts.data_out[0].val() {
                self.burst_beat.d.next = 0.into();
                self.bursts.pop.next = true;
            }
            if self.last_raw.val() {
                self.meta.pop.next = true;
                self.raw_sent.d.next = 0.into();
                self.in_taken.d.next = 0.into();
            }
        }
        self.idle.next =
            !self.splitting.q.val() & self.meta.empty.val() & self.bursts.empty.val() & !self.outstanding.q.val().any();

        if self.abort.val() {
            self.splitting.d.next = false;
        }
        if self.reset.val() | self.forget.val() {
            self.raw_sent.d.next = 0.into();
            self.in_taken.d.next = 0.into();
            self.burst_beat.d.next = 0.into();
        }
        if self.reset.val() {
            self.splitting.d.next = false;
            self.outstanding.d.next = 0.into();
            self.err.d.next = false;
            self.raw_sent.d.next = 0.into();
            self.in_taken.d.next = 0.into();
            self.burst_beat.d.next = 0.into();
        }
    }
}
