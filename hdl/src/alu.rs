//! One lane of the accumulator ALU (docs/isa.md §3 ALU). Every operation takes
//! [`ALU_LATENCY`] cycles so that lane groups can be streamed through; MBQM uses the
//! requantization lane's fixed-point datapath (bias 0, zero point 0, no clamp), and
//! MUL that lane's multiplier (with no shift), so a lane has one 32 x 32 multiplier.

use crate::delay::Delay;
use crate::requant::{RequantLane, MODE_FIXED, PRODUCT_LATENCY, REQUANT_LATENCY};
use rust_hdl::prelude::*;

pub const ALU_LATENCY: usize = REQUANT_LATENCY;

/// ALU opcodes (as in the instruction).
pub const OP_MOV: u64 = 0;
pub const OP_ADD: u64 = 1;
pub const OP_SUB: u64 = 2;
pub const OP_MUL: u64 = 3;
pub const OP_MAX: u64 = 4;
pub const OP_MIN: u64 = 5;
pub const OP_SHL: u64 = 6;
pub const OP_SRA_ROUND: u64 = 7;
pub const OP_MBQM: u64 = 8;

#[derive(LogicBlock)]
pub struct AluLane {
    pub clock: Signal<In, Clock>,
    pub op: Signal<In, Bits<4>>,
    pub d: Signal<In, Bits<32>>,
    pub b: Signal<In, Bits<32>>,
    pub shift: Signal<In, Bits<8>>,
    /// `op(d, b)` of the inputs `ALU_LATENCY` cycles ago.
    pub result: Signal<Out, Bits<32>>,
    mbqm: RequantLane,
    simple_delay: Delay<Bits<32>>,
    /// The shared multiplier's product, from its stage 3 to the lane's output.
    product_delay: Delay<Bits<32>>,
    op_delay: Delay<Bits<4>>,
    simple: Signal<Local, Bits<32>>,
    amount: Signal<Local, Bits<32>>,
    mask: Signal<Local, Bits<32>>,
    threshold: Signal<Local, Bits<32>>,
    shifted: Signal<Local, Bits<32>>,
    sign32: Constant<Bits<32>>,
    ones32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    five_bits: Constant<Bits<32>>,
    int_min: Constant<Bits<32>>,
    int_max: Constant<Bits<32>>,
    zero32: Constant<Bits<32>>,
    mode_fixed: Constant<Bits<2>>,
    op_mbqm: Constant<Bits<4>>,
    op_mul: Constant<Bits<4>>,
}

impl Default for AluLane {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            op: Default::default(),
            d: Default::default(),
            b: Default::default(),
            shift: Default::default(),
            result: Default::default(),
            mbqm: Default::default(),
            simple_delay: Delay::new(ALU_LATENCY),
            product_delay: Delay::new(ALU_LATENCY - PRODUCT_LATENCY),
            op_delay: Delay::new(ALU_LATENCY),
            simple: Default::default(),
            amount: Default::default(),
            mask: Default::default(),
            threshold: Default::default(),
            shifted: Default::default(),
            sign32: Constant::new(0x8000_0000u64.into()),
            ones32: Constant::new(0xffff_ffffu64.into()),
            one32: Constant::new(1u64.into()),
            five_bits: Constant::new(31u64.into()),
            int_min: Constant::new(0x8000_0000u64.into()),
            int_max: Constant::new(0x7fff_ffffu64.into()),
            zero32: Constant::new(0u64.into()),
            mode_fixed: Constant::new(MODE_FIXED.into()),
            op_mbqm: Constant::new(OP_MBQM.into()),
            op_mul: Constant::new(OP_MUL.into()),
        }
    }
}

impl Logic for AluLane {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, mbqm, simple_delay, product_delay, op_delay);
        self.mbqm.advance.next = true;
        self.mbqm.valid_in.next = true;
        self.mbqm.acc.next = self.d.val();
        self.mbqm.bias.next = self.zero32.val();
        self.mbqm.multiplier.next = self.b.val();
        self.mbqm.shift.next = self.shift.val();
        if self.op.val() == self.op_mul.val() {
            self.mbqm.shift.next = 0.into();
        }
        self.product_delay.data_in.next = self.mbqm.product_low.val();
        self.mbqm.mode.next = self.mode_fixed.val();
        self.mbqm.zero_point.next = self.zero32.val();
        self.mbqm.clamp_lo.next = self.int_min.val();
        self.mbqm.clamp_hi.next = self.int_max.val();

        // RoundingDivideByPOT(d, b & 31) for SRA_ROUND.
        self.amount.next = self.b.val() & self.five_bits.val();
        self.mask.next = !(self.ones32.val() << self.amount.val());
        self.threshold.next = self.mask.val() >> 1;
        if self.d.val().get_bit(31) {
            self.threshold.next = (self.mask.val() >> 1) + self.one32.val();
        }
        self.shifted.next = self.d.val() >> self.amount.val();
        if self.d.val().get_bit(31) {
            self.shifted.next = (self.d.val() >> self.amount.val()) | !(self.ones32.val() >> self.amount.val());
        }

        self.simple.next = self.b.val();
        match self.op.val().index() {
            1 => {
                self.simple.next = self.d.val() + self.b.val();
            }
            2 => {
                self.simple.next = self.d.val() - self.b.val();
            }
            4 => {
                self.simple.next = self.d.val();
                if (self.b.val() ^ self.sign32.val()) > (self.d.val() ^ self.sign32.val()) {
                    self.simple.next = self.b.val();
                }
            }
            5 => {
                self.simple.next = self.d.val();
                if (self.b.val() ^ self.sign32.val()) < (self.d.val() ^ self.sign32.val()) {
                    self.simple.next = self.b.val();
                }
            }
            6 => {
                self.simple.next = self.d.val() << self.amount.val();
            }
            7 => {
                self.simple.next = self.shifted.val();
                if (self.d.val() & self.mask.val()) > self.threshold.val() {
                    self.simple.next = self.shifted.val() + self.one32.val();
                }
            }
            _ => {}
        }
        self.simple_delay.data_in.next = self.simple.val();
        self.op_delay.data_in.next = self.op.val();
        self.result.next = self.simple_delay.data_out.val();
        if self.op_delay.data_out.val() == self.op_mbqm.val() {
            self.result.next = self.mbqm.value.val();
        }
        if self.op_delay.data_out.val() == self.op_mul.val() {
            self.result.next = self.product_delay.data_out.val();
        }
    }
}
