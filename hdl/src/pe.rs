//! One processing element of the weight-stationary array.
//!
//! The PE holds two weights (a bank for the tile being streamed and one being
//! loaded). Each activation travels rightwards with the bank-select bit it was
//! issued with, so a new tile takes effect exactly on the wavefront of its first
//! vector and weight loads overlap streaming. Partial sums travel downwards.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Pe {
    pub clock: Signal<In, Clock>,
    /// Activation from the left neighbour (zero point already removed, 9 significant bits).
    pub a_in: Signal<In, Signed<16>>,
    /// Weight bank the activation uses.
    pub sel_in: Signal<In, Bit>,
    /// Partial sum from the PE above.
    pub psum_in: Signal<In, Signed<32>>,
    pub a_out: Signal<Out, Signed<16>>,
    pub sel_out: Signal<Out, Bit>,
    pub psum_out: Signal<Out, Signed<32>>,
    /// Weight to store (zero point already removed).
    pub w_data: Signal<In, Signed<16>>,
    /// Store `w_data` into bank `w_bank` this cycle.
    pub w_write: Signal<In, Bit>,
    pub w_bank: Signal<In, Bit>,
    a: DFF<Signed<16>>,
    sel: DFF<Bit>,
    psum: DFF<Signed<32>>,
    w0: DFF<Signed<16>>,
    w1: DFF<Signed<16>>,
    /// The weight of the bank the current activation selects.
    w: Signal<Local, Signed<16>>,
}

impl Logic for Pe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a, sel, psum, w0, w1);
        self.a.d.next = self.a_in.val();
        self.sel.d.next = self.sel_in.val();
        self.w.next = self.w0.q.val();
        if self.sel_in.val() {
            self.w.next = self.w1.q.val();
        }
        self.psum.d.next = self.psum_in.val() + self.a_in.val() * self.w.val();
        if self.w_write.val() {
            if self.w_bank.val() {
                self.w1.d.next = self.w_data.val();
            } else {
                self.w0.d.next = self.w_data.val();
            }
        }
        self.a_out.next = self.a.q.val();
        self.sel_out.next = self.sel.q.val();
        self.psum_out.next = self.psum.q.val();
    }
}
