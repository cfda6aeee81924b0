//! The accumulator memory: `cols` lanes of 32 bits, split into two banks by address
//! (the lower and upper halves), with one write port and two read ports. Read port A
//! belongs to the compute unit and always wins; port B (the store unit) is granted a
//! bank whenever A is not reading it. Double-buffered programs keep the compute unit
//! and the store unit in different halves, so neither waits.

use crate::ram::{RamStyle, SyncRam};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Accumulator {
    pub clock: Signal<In, Clock>,
    pub wr_en: Signal<In, Bit>,
    pub wr_addr: Signal<In, Bits<16>>,
    pub wr_data: Vec<Signal<In, Bits<32>>>,
    pub ra_en: Signal<In, Bit>,
    pub ra_addr: Signal<In, Bits<16>>,
    /// Entry at `ra_addr`, one cycle after `ra_en`.
    pub ra_data: Vec<Signal<Out, Bits<32>>>,
    pub rb_en: Signal<In, Bit>,
    pub rb_addr: Signal<In, Bits<16>>,
    /// Port B's read happens this cycle.
    pub rb_grant: Signal<Out, Bit>,
    pub rb_data: Vec<Signal<Out, Bits<32>>>,
    low: Vec<SyncRam<Bits<32>>>,
    high: Vec<SyncRam<Bits<32>>>,
    a_high: DFF<Bit>,
    b_high: DFF<Bit>,
    a_is_high: Signal<Local, Bit>,
    b_is_high: Signal<Local, Bit>,
    w_is_high: Signal<Local, Bit>,
    grant: Signal<Local, Bit>,
    low_raddr: Signal<Local, Bits<16>>,
    high_raddr: Signal<Local, Bits<16>>,
    half: Constant<Bits<16>>,
    _lanes: usize,
}

impl Accumulator {
    pub fn new(lanes: usize, depth: usize, style: RamStyle) -> Self {
        let half = depth.div_ceil(2);
        Self {
            clock: Default::default(),
            wr_en: Default::default(),
            wr_addr: Default::default(),
            wr_data: (0..lanes).map(|_| Default::default()).collect(),
            ra_en: Default::default(),
            ra_addr: Default::default(),
            ra_data: (0..lanes).map(|_| Default::default()).collect(),
            rb_en: Default::default(),
            rb_addr: Default::default(),
            rb_grant: Default::default(),
            rb_data: (0..lanes).map(|_| Default::default()).collect(),
            low: (0..lanes).map(|_| SyncRam::styled(half, style)).collect(),
            high: (0..lanes).map(|_| SyncRam::styled((depth - half).max(1), style)).collect(),
            a_high: Default::default(),
            b_high: Default::default(),
            a_is_high: Default::default(),
            b_is_high: Default::default(),
            w_is_high: Default::default(),
            grant: Default::default(),
            low_raddr: Default::default(),
            high_raddr: Default::default(),
            half: Constant::new((half as u64).into()),
            _lanes: lanes,
        }
    }

    /// Entries in the lower bank (addresses below this are in it).
    pub fn half(depth: usize) -> usize {
        depth.div_ceil(2)
    }
}

impl Logic for Accumulator {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a_high, b_high);
        self.a_is_high.next = self.ra_addr.val() >= self.half.val();
        self.b_is_high.next = self.rb_addr.val() >= self.half.val();
        self.w_is_high.next = self.wr_addr.val() >= self.half.val();
        self.grant.next = self.rb_en.val() & !(self.ra_en.val() & (self.a_is_high.val() == self.b_is_high.val()));
        self.rb_grant.next = self.grant.val();
        // Each bank reads for port A when A addresses it, else for port B.
        self.low_raddr.next = self.rb_addr.val();
        if self.ra_en.val() & !self.a_is_high.val() {
            self.low_raddr.next = self.ra_addr.val();
        }
        self.high_raddr.next = self.rb_addr.val() - self.half.val();
        if self.ra_en.val() & self.a_is_high.val() {
            self.high_raddr.next = self.ra_addr.val() - self.half.val();
        }
        self.a_high.d.next = self.a_is_high.val();
        self.b_high.d.next = self.b_is_high.val();
        for i in 0..self._lanes {
            self.low[i].clock.next = self.clock.val();
            self.high[i].clock.next = self.clock.val();
            self.low[i].read_address.next = self.low_raddr.val();
            self.high[i].read_address.next = self.high_raddr.val();
            self.low[i].write_address.next = self.wr_addr.val();
            self.high[i].write_address.next = self.wr_addr.val() - self.half.val();
            self.low[i].write_data.next = self.wr_data[i].val();
            self.high[i].write_data.next = self.wr_data[i].val();
            self.low[i].write_enable.next = self.wr_en.val() & !self.w_is_high.val();
            self.high[i].write_enable.next = self.wr_en.val() & self.w_is_high.val();
            self.ra_data[i].next = self.low[i].read_data.val();
            if self.a_high.q.val() {
                self.ra_data[i].next = self.high[i].read_data.val();
            }
            self.rb_data[i].next = self.low[i].read_data.val();
            if self.b_high.q.val() {
                self.rb_data[i].next = self.high[i].read_data.val();
            }
        }
    }
}
