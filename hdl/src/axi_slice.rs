//! AXI register slices for the top-level master ports.
//!
//! A slice is one pipeline stage on a valid/ready channel with a skid register, so
//! both directions are registered: the downstream `valid`/payload come from flip-flops
//! and the upstream `ready` is `!skid_valid`, also a flip-flop. Nothing outside the
//! accelerator then reaches its logic combinationally. That is the usual AXI
//! register-slice timing fix at an IP boundary, and it is also what lets Verilator
//! evaluate the whole core only on clock edges: input changes between edges touch
//! a few slice registers instead of the DMA clients' logic (docs/simulation.md).
//!
//! One [`SliceControl`] holds the handshake state of a channel; each payload field
//! is a [`SliceField`] that follows its controls.

use crate::dff_en::DffEn;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct SliceControl {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    /// Controls for the channel's [`SliceField`]s: bit 0 the output register loads
    /// this cycle, bit 1 it loads from the skid register (else from the input), bit 2
    /// the skid register takes the input (the output is stalled).
    pub ctl: Signal<Out, Bits<3>>,
    valid: DFF<Bit>,
    skid_valid: DFF<Bit>,
    load_out: Signal<Local, Bit>,
    load_skid: Signal<Local, Bit>,
}

impl Logic for SliceControl {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, valid, skid_valid);
        self.in_ready.next = !self.skid_valid.q.val();
        self.out_valid.next = self.valid.q.val();
        self.load_out.next = self.out_ready.val() | !self.valid.q.val();
        self.load_skid.next = !self.load_out.val() & self.in_valid.val() & !self.skid_valid.q.val();
        self.ctl.next = bit_cast::<3, 1>(self.load_out.val().into())
            | (bit_cast::<3, 1>(self.skid_valid.q.val().into()) << 1)
            | (bit_cast::<3, 1>(self.load_skid.val().into()) << 2);
        if self.load_out.val() {
            self.valid.d.next = self.in_valid.val() | self.skid_valid.q.val();
            self.skid_valid.d.next = false;
        }
        if self.load_skid.val() {
            self.skid_valid.d.next = true;
        }
        if self.reset.val() {
            self.valid.d.next = false;
            self.skid_valid.d.next = false;
        }
    }
}

/// One payload field of a slice (no reset: only meaningful while valid).
#[derive(LogicBlock, Default)]
pub struct SliceField<const N: usize> {
    pub clock: Signal<In, Clock>,
    pub d_in: Signal<In, Bits<N>>,
    pub q_out: Signal<Out, Bits<N>>,
    /// From the channel's [`SliceControl`].
    pub ctl: Signal<In, Bits<3>>,
    /// Clock-enable registers (see `DffEn`): loaded by `ctl` bits 0 and 2.
    data: DffEn<Bits<N>>,
    skid: DffEn<Bits<N>>,
}

impl<const N: usize> Logic for SliceField<N> {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, data, skid);
        self.data.en.next = self.ctl.val().get_bit(0);
        self.data.d.next = self.d_in.val();
        if self.ctl.val().get_bit(1) {
            self.data.d.next = self.skid.q.val();
        }
        self.skid.en.next = self.ctl.val().get_bit(2);
        self.skid.d.next = self.d_in.val();
        self.q_out.next = self.data.q.val();
    }
}
