//! The registered multiply-add `p <= c + a * b` as a leaf cell: the shape of one
//! DSP slice (DSP48E1/E2 with PREG, or any vendor's MAC block).
//!
//! rust-hdl 0.46 only multiplies `Signed<16>` by `Signed<16>`; the packed PE pair
//! needs a 16 x 25 product with a 40-bit post-add, which every FPGA tool infers as
//! one DSP slice from exactly this statement. Like rust-hdl's own `DFF` and RAM
//! cells, the leaf is written as a Verilog template with a Rust simulation model;
//! everything that feeds or unpacks it is rust-hdl (see docs/hdl.md).

use num_bigint::BigInt;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct DspMulAdd<const A: usize, const B: usize, const P: usize> {
    pub clock: Signal<In, Clock>,
    pub a: Signal<In, Signed<A>>,
    pub b: Signal<In, Signed<B>>,
    pub c: Signal<In, Signed<P>>,
    /// `c + a * b` of the previous cycle, wrapped to `P` bits.
    pub p: Signal<Out, Signed<P>>,
}

/// `x` wrapped to a `P`-bit two's complement value.
fn wrap<const P: usize>(x: BigInt) -> Signed<P> {
    let modulus = BigInt::from(1) << P;
    let mut r = ((x % &modulus) + &modulus) % &modulus;
    if r >= (&modulus >> 1) {
        r -= &modulus;
    }
    Signed::from(r)
}

impl<const A: usize, const B: usize, const P: usize> Logic for DspMulAdd<A, B, P> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.p.next = wrap::<P>(self.c.val().bigint() + self.a.val().bigint() * self.b.val().bigint());
        }
    }

    fn connect(&mut self) {
        self.p.connect();
    }

    fn hdl(&self) -> Verilog {
        // All operands are signed, so Verilog sign-extends `a` and `b` to `P` bits.
        Verilog::Custom(
            "\
initial begin
   p = 0;
end

always @(posedge clock) begin
   p <= c + a * b;
end
"
            .into(),
        )
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "dsp_mul_add".into(),
            clock: "clock".into(),
            inputs: vec!["a".into(), "b".into(), "c".into()],
            outputs: vec!["p".into()],
        }]
    }
}
