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
        const { assert!(A <= P && B <= P && P <= 64, "DspMulAdd: a and b must fit in p, p in 64 bits") };
        // The product is taken at a host word width (32 or 64 bits) from sign-extended
        // operands, and its low `P` bits are added to `c`: the same value modulo 2^P as
        // `c + a * b` at `P` bits, and the same single DSP slice to synthesis (the tools
        // drop the replicated sign bits), but Verilator then multiplies host words
        // instead of sign-extending every operand twice (docs/simulation.md).
        let word = if P <= 32 { 32 } else { 64 };
        Verilog::Custom(format!(
            "\
wire signed [{w}:0] a_word = a;
wire signed [{w}:0] b_word = b;
wire signed [{w}:0] product = a_word * b_word;

initial begin
   p = 0;
end

always @(posedge clock) begin
   p <= c + product[{top}:0];
end
",
            w = word - 1,
            top = P - 1
        ))
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
