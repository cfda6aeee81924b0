//! First-word-fall-through FIFO over block RAM, with generation-time depth and
//! width given as a number of lanes (each lane one `SyncRam`), sustaining one push
//! and one pop per cycle.
//!
//! The RAM read is registered, so a two-entry output buffer sits after it; reads are
//! issued only when the buffer is sure to have room when the data lands. `count` is
//! the number of entries still in the RAM (the buffer holds up to two more), which
//! is what credit-based producers reserve against.

use crate::ram::SyncRam;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Fifo<D: Synth> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub data_in: Vec<Signal<In, D>>,
    /// The RAM is full: a push now would be lost.
    pub full: Signal<Out, Bit>,
    /// Entries in the RAM (not counting the two-entry output buffer).
    pub count: Signal<Out, Bits<16>>,
    /// Entries held anywhere (RAM, read in flight, output buffer).
    pub level: Signal<Out, Bits<16>>,
    /// Nothing stored anywhere (RAM, read in flight, output buffer).
    pub empty: Signal<Out, Bit>,
    pub pop: Signal<In, Bit>,
    pub valid: Signal<Out, Bit>,
    pub data_out: Vec<Signal<Out, D>>,

    rams: Vec<SyncRam<D>>,
    write_ptr: DFF<Bits<16>>,
    read_ptr: DFF<Bits<16>>,
    stored: DFF<Bits<16>>,
    inflight: DFF<Bit>,
    head_valid: DFF<Bit>,
    next_valid: DFF<Bit>,
    head: Vec<DFF<D>>,
    second: Vec<DFF<D>>,
    popped: Signal<Local, Bit>,
    pushed: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    occupancy: Signal<Local, Bits<2>>,
    last: Constant<Bits<16>>,
    depth: Constant<Bits<16>>,
    _lanes: usize,
}

impl<D: Synth> Fifo<D> {
    pub fn new(lanes: usize, depth: usize) -> Self {
        assert!(lanes >= 1 && (1..=65535).contains(&depth));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            data_in: (0..lanes).map(|_| Default::default()).collect(),
            full: Default::default(),
            count: Default::default(),
            level: Default::default(),
            empty: Default::default(),
            pop: Default::default(),
            valid: Default::default(),
            data_out: (0..lanes).map(|_| Default::default()).collect(),
            rams: (0..lanes).map(|_| SyncRam::new(depth)).collect(),
            write_ptr: Default::default(),
            read_ptr: Default::default(),
            stored: Default::default(),
            inflight: Default::default(),
            head_valid: Default::default(),
            next_valid: Default::default(),
            head: (0..lanes).map(|_| Default::default()).collect(),
            second: (0..lanes).map(|_| Default::default()).collect(),
            popped: Default::default(),
            pushed: Default::default(),
            issue: Default::default(),
            occupancy: Default::default(),
            last: Constant::new(((depth - 1) as u64).into()),
            depth: Constant::new((depth as u64).into()),
            _lanes: lanes,
        }
    }
}

impl<D: Synth> Logic for Fifo<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, write_ptr, read_ptr, stored, inflight, head_valid, next_valid);
        for i in 0..self._lanes {
            self.rams[i].clock.next = self.clock.val();
            self.head[i].clock.next = self.clock.val();
            self.second[i].clock.next = self.clock.val();
            self.head[i].d.next = self.head[i].q.val();
            self.second[i].d.next = self.second[i].q.val();
            self.rams[i].write_address.next = self.write_ptr.q.val();
            self.rams[i].write_data.next = self.data_in[i].val();
            self.rams[i].read_address.next = self.read_ptr.q.val();
            self.data_out[i].next = self.head[i].q.val();
        }
        self.valid.next = self.head_valid.q.val();
        self.full.next = self.stored.q.val() == self.depth.val();
        self.count.next = self.stored.q.val();
        self.empty.next = !self.stored.q.val().any() & !self.inflight.q.val() & !self.head_valid.q.val();
        self.level.next = self.stored.q.val()
            + bit_cast::<16, 1>(self.inflight.q.val().into())
            + bit_cast::<16, 1>(self.head_valid.q.val().into())
            + bit_cast::<16, 1>(self.next_valid.q.val().into());

        self.popped.next = self.pop.val() & self.head_valid.q.val();
        self.pushed.next = self.push.val() & (self.stored.q.val() != self.depth.val());
        // Output-buffer entries left after this cycle's pop.
        self.occupancy.next = bit_cast::<2, 1>(self.head_valid.q.val().into())
            + bit_cast::<2, 1>(self.next_valid.q.val().into())
            - bit_cast::<2, 1>(self.popped.val().into());
        // A read issued now lands next cycle; it must fit even if nothing is popped then.
        self.issue.next =
            self.stored.q.val().any() & ((self.occupancy.val() + bit_cast::<2, 1>(self.inflight.q.val().into())) < 2);

        for i in 0..self._lanes {
            self.rams[i].write_enable.next = self.pushed.val();
        }
        if self.pushed.val() {
            self.write_ptr.d.next = self.write_ptr.q.val() + 1;
            if self.write_ptr.q.val() == self.last.val() {
                self.write_ptr.d.next = 0.into();
            }
        }
        if self.issue.val() {
            self.read_ptr.d.next = self.read_ptr.q.val() + 1;
            if self.read_ptr.q.val() == self.last.val() {
                self.read_ptr.d.next = 0.into();
            }
        }
        self.stored.d.next = self.stored.q.val() + bit_cast::<16, 1>(self.pushed.val().into())
            - bit_cast::<16, 1>(self.issue.val().into());
        self.inflight.d.next = self.issue.val();

        // Output buffer: shift out the popped head, then append the landing word.
        if self.popped.val() {
            for i in 0..self._lanes {
                self.head[i].d.next = self.second[i].q.val();
            }
            self.head_valid.d.next = self.next_valid.q.val();
            self.next_valid.d.next = false;
        }
        if self.inflight.q.val() {
            if self.occupancy.val() == 0 {
                for i in 0..self._lanes {
                    self.head[i].d.next = self.rams[i].read_data.val();
                }
                self.head_valid.d.next = true;
            } else {
                for i in 0..self._lanes {
                    self.second[i].d.next = self.rams[i].read_data.val();
                }
                self.next_valid.d.next = true;
            }
        }
        if self.reset.val() {
            self.write_ptr.d.next = 0.into();
            self.read_ptr.d.next = 0.into();
            self.stored.d.next = 0.into();
            self.inflight.d.next = false;
            self.head_valid.d.next = false;
            self.next_valid.d.next = false;
        }
    }
}

/// A FIFO whose head is the RAM's own read register: no output buffer, so a
/// 288-bit instruction queue costs its distributed RAM and a few counters instead
/// of two more 288-bit registers and their multiplexers. The RAM reads the entry
/// that will be the head after this cycle's pop, so pops can follow every cycle;
/// only a push into an empty queue (or onto the entry being read) takes one extra
/// cycle to show. All `depth` entries live in the RAM, so `level` is exact.
#[derive(LogicBlock)]
pub struct QueueFifo<D: Synth> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub data_in: Signal<In, D>,
    pub full: Signal<Out, Bit>,
    /// Entries held.
    pub level: Signal<Out, Bits<16>>,
    pub empty: Signal<Out, Bit>,
    pub pop: Signal<In, Bit>,
    pub valid: Signal<Out, Bit>,
    pub data_out: Signal<Out, D>,
    ram: SyncRam<D>,
    write_ptr: DFF<Bits<16>>,
    read_ptr: DFF<Bits<16>>,
    stored: DFF<Bits<16>>,
    /// The RAM's read register holds the entry at `read_ptr` as it is now.
    settled: DFF<Bit>,
    popped: Signal<Local, Bit>,
    pushed: Signal<Local, Bit>,
    next_read: Signal<Local, Bits<16>>,
    last: Constant<Bits<16>>,
    depth: Constant<Bits<16>>,
}

impl<D: Synth> QueueFifo<D> {
    pub fn new(depth: usize) -> Self {
        assert!((1..=65535).contains(&depth));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            data_in: Default::default(),
            full: Default::default(),
            level: Default::default(),
            empty: Default::default(),
            pop: Default::default(),
            valid: Default::default(),
            data_out: Default::default(),
            ram: SyncRam::new(depth),
            write_ptr: Default::default(),
            read_ptr: Default::default(),
            stored: Default::default(),
            settled: Default::default(),
            popped: Default::default(),
            pushed: Default::default(),
            next_read: Default::default(),
            last: Constant::new(((depth - 1) as u64).into()),
            depth: Constant::new((depth as u64).into()),
        }
    }
}

impl<D: Synth> Logic for QueueFifo<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, write_ptr, read_ptr, stored, settled);
        self.ram.clock.next = self.clock.val();
        self.valid.next = self.stored.q.val().any() & self.settled.q.val();
        self.data_out.next = self.ram.read_data.val();
        self.full.next = self.stored.q.val() == self.depth.val();
        self.level.next = self.stored.q.val();
        self.empty.next = !self.stored.q.val().any();
        self.popped.next = self.pop.val() & self.stored.q.val().any() & self.settled.q.val();
        self.pushed.next = self.push.val() & (self.stored.q.val() != self.depth.val());

        self.next_read.next = self.read_ptr.q.val();
        if self.popped.val() {
            self.next_read.next = self.read_ptr.q.val() + 1;
            if self.read_ptr.q.val() == self.last.val() {
                self.next_read.next = 0.into();
            }
        }
        self.read_ptr.d.next = self.next_read.val();
        self.ram.read_address.next = self.next_read.val();
        self.ram.write_address.next = self.write_ptr.q.val();
        self.ram.write_data.next = self.data_in.val();
        self.ram.write_enable.next = self.pushed.val();
        // A write to the entry being read lands after the read: read it again.
        self.settled.d.next = !(self.pushed.val() & (self.write_ptr.q.val() == self.next_read.val()));
        if self.pushed.val() {
            self.write_ptr.d.next = self.write_ptr.q.val() + 1;
            if self.write_ptr.q.val() == self.last.val() {
                self.write_ptr.d.next = 0.into();
            }
        }
        self.stored.d.next = self.stored.q.val() + bit_cast::<16, 1>(self.pushed.val().into())
            - bit_cast::<16, 1>(self.popped.val().into());
        if self.reset.val() {
            self.write_ptr.d.next = 0.into();
            self.read_ptr.d.next = 0.into();
            self.stored.d.next = 0.into();
            self.settled.d.next = false;
        }
    }
}
