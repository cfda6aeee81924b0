//! One lane of the requantization unit on the store path: bias, fixed-point scaling
//! (TFLite double or single rounding), zero point and clamp, as a six-stage
//! pipeline with a common stall (`advance`). The arithmetic is
//! `tessera_isa::quant::requantize` for the modes `None`, `Fixed` and `FixedSingle`
//! (the float mode has its own unit).
//!
//! Signed values travel as two's-complement `Bits`; arithmetic shifts and signed
//! comparisons are spelled out with masks and an offset-binary flip, so the Verilog
//! and the simulation model mean the same thing at every width.

use rust_hdl::prelude::*;

/// `mode` encodings (as in the STORE instruction).
pub const MODE_NONE: u64 = 0;
pub const MODE_FIXED: u64 = 1;
pub const MODE_FIXED_SINGLE: u64 = 2;

/// Pipeline stages from inputs to `value`.
pub const REQUANT_LATENCY: usize = 6;

/// Stages from inputs to `product_low`.
pub const PRODUCT_LATENCY: usize = 3;

#[derive(LogicBlock)]
pub struct RequantLane {
    pub clock: Signal<In, Clock>,
    /// Move every stage forward (hold everything when low).
    pub advance: Signal<In, Bit>,
    pub valid_in: Signal<In, Bit>,
    pub acc: Signal<In, Bits<32>>,
    pub bias: Signal<In, Bits<32>>,
    pub multiplier: Signal<In, Bits<32>>,
    pub shift: Signal<In, Bits<8>>,
    pub mode: Signal<In, Bits<2>>,
    pub zero_point: Signal<In, Bits<32>>,
    pub clamp_lo: Signal<In, Bits<32>>,
    pub clamp_hi: Signal<In, Bits<32>>,
    pub valid_out: Signal<Out, Bit>,
    pub value: Signal<Out, Bits<32>>,
    /// Low 32 bits of `(acc + bias) * multiplier` (with the double-rounding left
    /// shift applied to the first factor), three cycles after the inputs: the ALU's
    /// MUL shares this multiplier.
    pub product_low: Signal<Out, Bits<32>>,

    // Stage 1: bias added, shift clamped and split.
    s1_valid: DFF<Bit>,
    s1_x: DFF<Bits<32>>,
    s1_m: DFF<Bits<32>>,
    s1_left: DFF<Bits<8>>,
    s1_right: DFF<Bits<8>>,
    s1_total: DFF<Bits<8>>,
    s1_raw: DFF<Bits<32>>,
    // Stage 2: magnitudes and partial products.
    s2_valid: DFF<Bit>,
    s2_pp_ll: DFF<Bits<32>>,
    s2_pp_lh: DFF<Bits<32>>,
    s2_pp_hl: DFF<Bits<32>>,
    s2_pp_hh: DFF<Bits<32>>,
    s2_negative: DFF<Bit>,
    s2_saturate: DFF<Bit>,
    s2_right: DFF<Bits<8>>,
    s2_total: DFF<Bits<8>>,
    s2_raw: DFF<Bits<32>>,
    // Stage 3: the signed 64-bit product.
    s3_valid: DFF<Bit>,
    s3_product: DFF<Bits<64>>,
    s3_saturate: DFF<Bit>,
    s3_right: DFF<Bits<8>>,
    s3_total: DFF<Bits<8>>,
    s3_raw: DFF<Bits<32>>,
    // Stage 4: high multiply (double) or shift (single) done.
    s4_valid: DFF<Bit>,
    s4_q: DFF<Bits<32>>,
    s4_right: DFF<Bits<8>>,
    s4_raw: DFF<Bits<32>>,
    // Stage 5: scaled value.
    s5_valid: DFF<Bit>,
    s5_scaled: DFF<Bits<32>>,
    s5_raw: DFF<Bits<32>>,
    // Stage 6: zero point and clamp.
    s6_valid: DFF<Bit>,
    s6_value: DFF<Bits<32>>,
    // Per-stage mode.
    s1_mode: DFF<Bits<2>>,
    s2_mode: DFF<Bits<2>>,
    s3_mode: DFF<Bits<2>>,
    s4_mode: DFF<Bits<2>>,
    s5_mode: DFF<Bits<2>>,

    // Combinational intermediates.
    x: Signal<Local, Bits<32>>,
    shift_clamped: Signal<Local, Bits<8>>,
    xl: Signal<Local, Bits<32>>,
    ma: Signal<Local, Bits<32>>,
    mb: Signal<Local, Bits<32>>,
    magnitude: Signal<Local, Bits<64>>,
    nudged: Signal<Local, Bits<64>>,
    shifted: Signal<Local, Bits<64>>,
    rounded: Signal<Local, Bits<64>>,
    single: Signal<Local, Bits<64>>,
    mask: Signal<Local, Bits<32>>,
    remainder: Signal<Local, Bits<32>>,
    threshold: Signal<Local, Bits<32>>,
    divided: Signal<Local, Bits<32>>,
    with_zp: Signal<Local, Bits<32>>,
    pre_clamp: Signal<Local, Bits<32>>,

    // Constants.
    sign32: Constant<Bits<32>>,
    ones32: Constant<Bits<32>>,
    ones64: Constant<Bits<64>>,
    int_max: Constant<Bits<32>>,
    nudge_pos: Constant<Bits<64>>,
    nudge_neg: Constant<Bits<64>>,
    one64: Constant<Bits<64>>,
    one32: Constant<Bits<32>>,
    shift_min: Constant<Bits<8>>,
    shift_max: Constant<Bits<8>>,
    thirty_one: Constant<Bits<8>>,
    mode_none: Constant<Bits<2>>,
    mode_fixed: Constant<Bits<2>>,
    trunc_bias: Constant<Bits<64>>,
}

impl Default for RequantLane {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            advance: Default::default(),
            valid_in: Default::default(),
            acc: Default::default(),
            bias: Default::default(),
            multiplier: Default::default(),
            shift: Default::default(),
            mode: Default::default(),
            zero_point: Default::default(),
            clamp_lo: Default::default(),
            clamp_hi: Default::default(),
            valid_out: Default::default(),
            value: Default::default(),
            product_low: Default::default(),
            s1_valid: Default::default(),
            s1_x: Default::default(),
            s1_m: Default::default(),
            s1_left: Default::default(),
            s1_right: Default::default(),
            s1_total: Default::default(),
            s1_raw: Default::default(),
            s2_valid: Default::default(),
            s2_pp_ll: Default::default(),
            s2_pp_lh: Default::default(),
            s2_pp_hl: Default::default(),
            s2_pp_hh: Default::default(),
            s2_negative: Default::default(),
            s2_saturate: Default::default(),
            s2_right: Default::default(),
            s2_total: Default::default(),
            s2_raw: Default::default(),
            s3_valid: Default::default(),
            s3_product: Default::default(),
            s3_saturate: Default::default(),
            s3_right: Default::default(),
            s3_total: Default::default(),
            s3_raw: Default::default(),
            s4_valid: Default::default(),
            s4_q: Default::default(),
            s4_right: Default::default(),
            s4_raw: Default::default(),
            s5_valid: Default::default(),
            s5_scaled: Default::default(),
            s5_raw: Default::default(),
            s6_valid: Default::default(),
            s6_value: Default::default(),
            s1_mode: Default::default(),
            s2_mode: Default::default(),
            s3_mode: Default::default(),
            s4_mode: Default::default(),
            s5_mode: Default::default(),
            x: Default::default(),
            shift_clamped: Default::default(),
            xl: Default::default(),
            ma: Default::default(),
            mb: Default::default(),
            magnitude: Default::default(),
            nudged: Default::default(),
            shifted: Default::default(),
            rounded: Default::default(),
            single: Default::default(),
            mask: Default::default(),
            remainder: Default::default(),
            threshold: Default::default(),
            divided: Default::default(),
            with_zp: Default::default(),
            pre_clamp: Default::default(),
            sign32: Constant::new(0x8000_0000u64.into()),
            ones32: Constant::new(0xffff_ffffu64.into()),
            ones64: Constant::new(u64::MAX.into()),
            int_max: Constant::new(0x7fff_ffffu64.into()),
            nudge_pos: Constant::new((1u64 << 30).into()),
            nudge_neg: Constant::new((1i64 - (1i64 << 30)).cast_unsigned().into()),
            one64: Constant::new(1u64.into()),
            one32: Constant::new(1u64.into()),
            shift_min: Constant::new(((-31i8) as u8 as u64).into()),
            shift_max: Constant::new(30u64.into()),
            thirty_one: Constant::new(31u64.into()),
            mode_none: Constant::new(MODE_NONE.into()),
            mode_fixed: Constant::new(MODE_FIXED.into()),
            trunc_bias: Constant::new(((1u64 << 31) - 1).into()),
        }
    }
}

impl Logic for RequantLane {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            s1_valid,
            s1_x,
            s1_m,
            s1_left,
            s1_right,
            s1_total,
            s1_raw,
            s2_valid,
            s2_pp_ll,
            s2_pp_lh,
            s2_pp_hl,
            s2_pp_hh,
            s2_negative,
            s2_saturate,
            s2_right,
            s2_total,
            s2_raw,
            s3_valid,
            s3_product,
            s3_saturate,
            s3_right,
            s3_total,
            s3_raw,
            s4_valid,
            s4_q,
            s4_right,
            s4_raw,
            s5_valid,
            s5_scaled,
            s5_raw,
            s6_valid,
            s6_value,
            s1_mode,
            s2_mode,
            s3_mode,
            s4_mode,
            s5_mode
        );
        // ---- Stage 1: x = acc + bias; clamp the shift to -31..=30 (signed 8-bit compare
        // through an offset-binary flip).
        self.x.next = self.acc.val() + self.bias.val();
        self.shift_clamped.next = self.shift.val();
        if (self.shift.val() ^ 0x80) < (self.shift_min.val() ^ 0x80) {
            self.shift_clamped.next = self.shift_min.val();
        }
        if (self.shift.val() ^ 0x80) > (self.shift_max.val() ^ 0x80) {
            self.shift_clamped.next = self.shift_max.val();
        }
        // ---- Stage 2: left shift (double rounding only), magnitudes, partial products.
        self.xl.next = self.s1_x.q.val();
        if self.s1_mode.q.val() == self.mode_fixed.val() {
            self.xl.next = self.s1_x.q.val() << self.s1_left.q.val();
        }
        self.ma.next = self.xl.val();
        if self.xl.val().get_bit(31) {
            self.ma.next = (!self.xl.val()) + self.one32.val();
        }
        self.mb.next = self.s1_m.q.val();
        if self.s1_m.q.val().get_bit(31) {
            self.mb.next = (!self.s1_m.q.val()) + self.one32.val();
        }
        // ---- Stage 3: sum of partial products, sign applied.
        self.magnitude.next = bit_cast::<64, 32>(self.s2_pp_ll.q.val())
            + (bit_cast::<64, 32>(self.s2_pp_lh.q.val()) << 16)
            + (bit_cast::<64, 32>(self.s2_pp_hl.q.val()) << 16)
            + (bit_cast::<64, 32>(self.s2_pp_hh.q.val()) << 32);
        // ---- Stage 4 (double): SRDHM = trunc((ab + nudge) / 2^31), saturating MIN*MIN.
        self.nudged.next = self.s3_product.q.val() + self.nudge_pos.val();
        if self.s3_product.q.val().get_bit(63) {
            self.nudged.next = self.s3_product.q.val() + self.nudge_neg.val() + self.trunc_bias.val();
        }
        self.shifted.next = self.nudged.val() >> 31;
        if self.nudged.val().get_bit(63) {
            self.shifted.next = (self.nudged.val() >> 31) | (!(self.ones64.val() >> 31));
        }
        // ---- Stage 4 (single): (ab + 2^(total-1)) >> total, arithmetic.
        self.rounded.next = self.s3_product.q.val() + (self.one64.val() << (self.s3_total.q.val() - 1));
        self.single.next = self.rounded.val() >> self.s3_total.q.val();
        if self.rounded.val().get_bit(63) {
            self.single.next =
                (self.rounded.val() >> self.s3_total.q.val()) | (!(self.ones64.val() >> self.s3_total.q.val()));
        }
        // ---- Stage 5 (double): RoundingDivideByPOT(q, right).
        self.mask.next = !(self.ones32.val() << self.s4_right.q.val());
        self.remainder.next = self.s4_q.q.val() & self.mask.val();
        self.threshold.next = self.mask.val() >> 1;
        if self.s4_q.q.val().get_bit(31) {
            self.threshold.next = (self.mask.val() >> 1) + self.one32.val();
        }
        self.divided.next = self.s4_q.q.val() >> self.s4_right.q.val();
        if self.s4_q.q.val().get_bit(31) {
            self.divided.next =
                (self.s4_q.q.val() >> self.s4_right.q.val()) | (!(self.ones32.val() >> self.s4_right.q.val()));
        }
        // ---- Stage 6: zero point and clamp (signed compare by flipping the sign bit).
        self.with_zp.next = self.s5_scaled.q.val() + self.zero_point.val();
        self.pre_clamp.next = self.with_zp.val();
        if self.s5_mode.q.val() == self.mode_none.val() {
            self.pre_clamp.next = self.s5_raw.q.val();
        }

        if self.advance.val() {
            self.s1_valid.d.next = self.valid_in.val();
            self.s1_x.d.next = self.x.val();
            self.s1_m.d.next = self.multiplier.val();
            self.s1_mode.d.next = self.mode.val();
            self.s1_raw.d.next = self.acc.val();
            self.s1_left.d.next = 0.into();
            self.s1_right.d.next = 0.into();
            if self.shift_clamped.val().get_bit(7) {
                self.s1_right.d.next = (!self.shift_clamped.val()) + 1;
            } else {
                self.s1_left.d.next = self.shift_clamped.val();
            }
            self.s1_total.d.next = self.thirty_one.val() - self.shift_clamped.val();

            self.s2_valid.d.next = self.s1_valid.q.val();
            self.s2_pp_ll.d.next = self.ma.val().get_bits::<16>(0) * self.mb.val().get_bits::<16>(0);
            self.s2_pp_lh.d.next = self.ma.val().get_bits::<16>(0) * self.mb.val().get_bits::<16>(16);
            self.s2_pp_hl.d.next = self.ma.val().get_bits::<16>(16) * self.mb.val().get_bits::<16>(0);
            self.s2_pp_hh.d.next = self.ma.val().get_bits::<16>(16) * self.mb.val().get_bits::<16>(16);
            self.s2_negative.d.next = self.xl.val().get_bit(31) ^ self.s1_m.q.val().get_bit(31);
            self.s2_saturate.d.next = (self.xl.val() == self.sign32.val()) & (self.s1_m.q.val() == self.sign32.val());
            self.s2_right.d.next = self.s1_right.q.val();
            self.s2_total.d.next = self.s1_total.q.val();
            self.s2_raw.d.next = self.s1_raw.q.val();
            self.s2_mode.d.next = self.s1_mode.q.val();

            self.s3_valid.d.next = self.s2_valid.q.val();
            self.s3_product.d.next = self.magnitude.val();
            if self.s2_negative.q.val() {
                self.s3_product.d.next = (!self.magnitude.val()) + self.one64.val();
            }
            self.s3_saturate.d.next = self.s2_saturate.q.val();
            self.s3_right.d.next = self.s2_right.q.val();
            self.s3_total.d.next = self.s2_total.q.val();
            self.s3_raw.d.next = self.s2_raw.q.val();
            self.s3_mode.d.next = self.s2_mode.q.val();

            self.s4_valid.d.next = self.s3_valid.q.val();
            self.s4_q.d.next = self.single.val().get_bits::<32>(0);
            if self.s3_mode.q.val() == self.mode_fixed.val() {
                self.s4_q.d.next = self.shifted.val().get_bits::<32>(0);
                if self.s3_saturate.q.val() {
                    self.s4_q.d.next = self.int_max.val();
                }
            }
            self.s4_right.d.next = self.s3_right.q.val();
            self.s4_raw.d.next = self.s3_raw.q.val();
            self.s4_mode.d.next = self.s3_mode.q.val();

            self.s5_valid.d.next = self.s4_valid.q.val();
            self.s5_scaled.d.next = self.s4_q.q.val();
            if self.s4_mode.q.val() == self.mode_fixed.val() {
                self.s5_scaled.d.next = self.divided.val();
                if self.remainder.val() > self.threshold.val() {
                    self.s5_scaled.d.next = self.divided.val() + self.one32.val();
                }
            }
            self.s5_raw.d.next = self.s4_raw.q.val();
            self.s5_mode.d.next = self.s4_mode.q.val();

            self.s6_valid.d.next = self.s5_valid.q.val();
            self.s6_value.d.next = self.pre_clamp.val();
            if (self.pre_clamp.val() ^ self.sign32.val()) < (self.clamp_lo.val() ^ self.sign32.val()) {
                self.s6_value.d.next = self.clamp_lo.val();
            }
            if (self.pre_clamp.val() ^ self.sign32.val()) > (self.clamp_hi.val() ^ self.sign32.val()) {
                self.s6_value.d.next = self.clamp_hi.val();
            }
        }
        self.valid_out.next = self.s6_valid.q.val();
        self.value.next = self.s6_value.q.val();
        self.product_low.next = self.s3_product.q.val().get_bits::<32>(0);
    }
}
