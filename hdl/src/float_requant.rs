//! The float requantization lane (STORE mode 3, the ONNX reference arithmetic):
//! `round_half_even(f64(f64(x) * f64(scale_f32)) + zp)` then clamp, where
//! `x = acc + bias`. IEEE rounding is emulated exactly with integers:
//!
//! 1. `N = |x| * M` (M the 24-bit significand of the scale) is exact in 56 bits;
//!    the f64 product rounds `N` to 53 significant bits (at most 2 bits dropped).
//! 2. Magnitudes above 2^40 saturate; below 2^-35 (scale exponent under -90, or a
//!    zero product) the result is the zero point.
//! 3. Otherwise, with `e = -exponent`, `S = ±N1 + zp * 2^e` is exact in 106 bits;
//!    the f64 addition rounds `S` to 53 significant bits, and the final rounding
//!    to an integer drops `e` fraction bits, both ties-to-even.
//!
//! Six stages, like the fixed-point lane, with zero point and clamp held for the
//! whole STORE.

use crate::leading_one::LeadingOne;
use rust_hdl::prelude::*;

pub const FLOAT_LATENCY: usize = 6;

#[derive(LogicBlock)]
pub struct FloatLane {
    pub clock: Signal<In, Clock>,
    pub valid_in: Signal<In, Bit>,
    pub acc: Signal<In, Bits<32>>,
    pub bias: Signal<In, Bits<32>>,
    /// IEEE-754 single-precision scale (finite).
    pub scale: Signal<In, Bits<32>>,
    pub zero_point: Signal<In, Bits<32>>,
    pub clamp_lo: Signal<In, Bits<32>>,
    pub clamp_hi: Signal<In, Bits<32>>,
    pub valid_out: Signal<Out, Bit>,
    pub value: Signal<Out, Bits<32>>,

    // Stage 1: |x|, significand, exponent, sign.
    s1_valid: DFF<Bit>,
    s1_ax: DFF<Bits<32>>,
    s1_man: DFF<Bits<32>>,
    s1_exp: DFF<Bits<16>>,
    s1_neg: DFF<Bit>,
    // Stage 2: partial products.
    s2_valid: DFF<Bit>,
    s2_ll: DFF<Bits<32>>,
    s2_lh: DFF<Bits<32>>,
    s2_hl: DFF<Bits<32>>,
    s2_hh: DFF<Bits<32>>,
    s2_exp: DFF<Bits<16>>,
    s2_neg: DFF<Bit>,
    // Stage 3: the f64 product's significand N1.
    s3_valid: DFF<Bit>,
    s3_n1: DFF<Bits<64>>,
    s3_exp: DFF<Bits<16>>,
    s3_neg: DFF<Bit>,
    // Stage 4: classified; S for the general path.
    s4_valid: DFF<Bit>,
    s4_path: DFF<Bits<2>>,
    s4_int: DFF<Bits<64>>,
    s4_s: DFF<Bits<128>>,
    s4_e: DFF<Bits<8>>,
    // Stage 5: S rounded to 53 significant bits.
    s5_valid: DFF<Bit>,
    s5_path: DFF<Bits<2>>,
    s5_int: DFF<Bits<64>>,
    s5_mag: DFF<Bits<128>>,
    s5_neg: DFF<Bit>,
    s5_e: DFF<Bits<8>>,
    // Stage 6: the integer, clamped.
    s6_valid: DFF<Bit>,
    s6_value: DFF<Bits<32>>,

    x: Signal<Local, Bits<32>>,
    biased: Signal<Local, Bits<32>>,
    neg_exp: Signal<Local, Bits<16>>,
    q_sum: Signal<Local, Bits<128>>,
    lo64: Signal<Local, Bits<64>>,
    hi64: Signal<Local, Bits<64>>,
    n: Signal<Local, Bits<64>>,
    n_msb: Signal<Local, Bits<8>>,
    n_up: Signal<Local, Bit>,
    n1_msb: Signal<Local, Bits<8>>,
    top_exp: Signal<Local, Bits<16>>,
    int_value: Signal<Local, Bits<64>>,
    s: Signal<Local, Bits<128>>,
    zp128: Signal<Local, Bits<128>>,
    n128: Signal<Local, Bits<128>>,
    mag: Signal<Local, Bits<128>>,
    mag_msb: Signal<Local, Bits<8>>,
    k: Signal<Local, Bits<8>>,
    k_up: Signal<Local, Bit>,
    q: Signal<Local, Bits<128>>,
    q_up: Signal<Local, Bit>,
    result: Signal<Local, Bits<64>>,
    int_clamped: Signal<Local, Bits<32>>,

    n_lead: LeadingOne<64>,
    n1_lead: LeadingOne<64>,
    /// The highest set bit of `mag` is searched in its upper half if that is
    /// non-zero, else in its lower half (64-bit steps are cheaper than 128-bit ones).
    mag_lead: LeadingOne<64>,
    mag_upper: Signal<Local, Bit>,
    ones128: Constant<Bits<128>>,
    one128: Constant<Bits<128>>,
    one64: Constant<Bits<64>>,
    implicit: Constant<Bits<32>>,
    man_mask: Constant<Bits<32>>,
    exp_mask: Constant<Bits<32>>,
    subnormal_exp: Constant<Bits<16>>,
    big_pos: Constant<Bits<64>>,
    big_neg: Constant<Bits<64>>,
    bias150: Constant<Bits<16>>,
    fifty_two: Constant<Bits<8>>,
    limit_hi: Constant<Bits<16>>,
    limit_lo: Constant<Bits<16>>,
    sign16: Constant<Bits<16>>,
    sign64: Constant<Bits<64>>,
    high32: Constant<Bits<64>>,
    high96: Constant<Bits<128>>,
    path_sat: Constant<Bits<2>>,
    path_zp: Constant<Bits<2>>,
    path_int: Constant<Bits<2>>,
    path_general: Constant<Bits<2>>,
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

impl Default for FloatLane {
    fn default() -> Self {
        let mut high96 = Bits::<128>::default();
        for bit in 32..128 {
            high96 = high96.replace_bit(bit, true);
        }
        let mut ones = Bits::<128>::default();
        for bit in 0..128 {
            ones = ones.replace_bit(bit, true);
        }
        Self {
            clock: Default::default(),
            valid_in: Default::default(),
            acc: Default::default(),
            bias: Default::default(),
            scale: Default::default(),
            zero_point: Default::default(),
            clamp_lo: Default::default(),
            clamp_hi: Default::default(),
            valid_out: Default::default(),
            value: Default::default(),
            s1_valid: Default::default(),
            s1_ax: Default::default(),
            s1_man: Default::default(),
            s1_exp: Default::default(),
            s1_neg: Default::default(),
            s2_valid: Default::default(),
            s2_ll: Default::default(),
            s2_lh: Default::default(),
            s2_hl: Default::default(),
            s2_hh: Default::default(),
            s2_exp: Default::default(),
            s2_neg: Default::default(),
            s3_valid: Default::default(),
            s3_n1: Default::default(),
            s3_exp: Default::default(),
            s3_neg: Default::default(),
            s4_valid: Default::default(),
            s4_path: Default::default(),
            s4_int: Default::default(),
            s4_s: Default::default(),
            s4_e: Default::default(),
            s5_valid: Default::default(),
            s5_path: Default::default(),
            s5_int: Default::default(),
            s5_mag: Default::default(),
            s5_neg: Default::default(),
            s5_e: Default::default(),
            s6_valid: Default::default(),
            s6_value: Default::default(),
            x: Default::default(),
            biased: Default::default(),
            neg_exp: Default::default(),
            q_sum: Default::default(),
            lo64: Default::default(),
            hi64: Default::default(),
            n: Default::default(),
            n_msb: Default::default(),
            n_up: Default::default(),
            n1_msb: Default::default(),
            top_exp: Default::default(),
            int_value: Default::default(),
            s: Default::default(),
            zp128: Default::default(),
            n128: Default::default(),
            mag: Default::default(),
            mag_msb: Default::default(),
            k: Default::default(),
            k_up: Default::default(),
            q: Default::default(),
            q_up: Default::default(),
            result: Default::default(),
            int_clamped: Default::default(),
            n_lead: LeadingOne::new(),
            n1_lead: LeadingOne::new(),
            mag_lead: LeadingOne::new(),
            mag_upper: Default::default(),
            ones128: Constant::new(ones),
            one128: Constant::new(1u64.into()),
            one64: konst(1),
            implicit: konst(1 << 23),
            man_mask: konst(0x7f_ffff),
            exp_mask: konst(0xff),
            subnormal_exp: konst((-149i16) as u16 as u64),
            big_pos: konst(1 << 50),
            big_neg: konst((-(1i64 << 50)) as u64),
            bias150: konst(150),
            fifty_two: konst(52),
            limit_hi: konst(40),
            limit_lo: konst((-90i16) as u16 as u64),
            sign16: konst(0x8000),
            sign64: konst(1 << 63),
            high32: konst(0xffff_ffff_0000_0000),
            high96: Constant::new(high96),
            path_sat: konst(0),
            path_zp: konst(1),
            path_int: konst(2),
            path_general: konst(3),
        }
    }
}

impl Logic for FloatLane {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, s1_valid, s1_ax, s1_man, s1_exp, s1_neg, s2_valid, s2_ll, s2_lh, s2_hl, s2_hh, s2_exp, s2_neg,
            s3_valid, s3_n1, s3_exp, s3_neg, s4_valid, s4_path, s4_int, s4_s, s4_e, s5_valid, s5_path, s5_int, s5_mag,
            s5_neg, s5_e, s6_valid, s6_value
        );
        // ---- Stage 1: x = acc + bias as sign and magnitude; decode the scale.
        self.x.next = self.acc.val() + self.bias.val();
        self.s1_valid.d.next = self.valid_in.val();
        self.s1_ax.d.next = self.x.val();
        if self.x.val().get_bit(31) {
            self.s1_ax.d.next = !self.x.val() + 1;
        }
        self.s1_neg.d.next = self.x.val().get_bit(31) ^ self.scale.val().get_bit(31);
        self.biased.next = (self.scale.val() >> 23) & self.exp_mask.val();
        self.s1_man.d.next = (self.scale.val() & self.man_mask.val()) | self.implicit.val();
        self.s1_exp.d.next = self.biased.val().get_bits::<16>(0) - self.bias150.val();
        if !self.biased.val().any() {
            // Subnormal: no implicit bit, the exponent of biased exponent 1.
            self.s1_man.d.next = self.scale.val() & self.man_mask.val();
            self.s1_exp.d.next = self.subnormal_exp.val();
        }

        // ---- Stage 2: partial products of |x| (32 bits) and the significand (24 bits).
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_ll.d.next = self.s1_ax.q.val().get_bits::<16>(0) * self.s1_man.q.val().get_bits::<16>(0);
        self.s2_lh.d.next = self.s1_ax.q.val().get_bits::<16>(0) * self.s1_man.q.val().get_bits::<16>(16);
        self.s2_hl.d.next = self.s1_ax.q.val().get_bits::<16>(16) * self.s1_man.q.val().get_bits::<16>(0);
        self.s2_hh.d.next = self.s1_ax.q.val().get_bits::<16>(16) * self.s1_man.q.val().get_bits::<16>(16);
        self.s2_exp.d.next = self.s1_exp.q.val();
        self.s2_neg.d.next = self.s1_neg.q.val();

        // ---- Stage 3: N exactly, then rounded to 53 significant bits (the f64 product).
        self.n.next = bit_cast::<64, 32>(self.s2_ll.q.val())
            + (bit_cast::<64, 32>(self.s2_lh.q.val()) << 16)
            + (bit_cast::<64, 32>(self.s2_hl.q.val()) << 16)
            + (bit_cast::<64, 32>(self.s2_hh.q.val()) << 32);
        self.n_lead.value.next = self.n.val();
        self.n_msb.next = self.n_lead.position.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_exp.d.next = self.s2_exp.q.val();
        self.s3_neg.d.next = self.s2_neg.q.val();
        self.s3_n1.d.next = self.n.val();
        self.n_up.next = false;
        // 54 significant bits: drop one, ties to even.
        if self.n_msb.val() == 53 {
            self.n_up.next = self.n.val().get_bit(0) & self.n.val().get_bit(1);
            self.s3_n1.d.next = ((self.n.val() >> 1) + bit_cast::<64, 1>(self.n_up.val().into())) << 1;
        }
        // 55 significant bits: drop two.
        if self.n_msb.val() == 54 {
            self.n_up.next = self.n.val().get_bit(1) & (self.n.val().get_bit(0) | self.n.val().get_bit(2));
            self.s3_n1.d.next = ((self.n.val() >> 2) + bit_cast::<64, 1>(self.n_up.val().into())) << 2;
        }

        // ---- Stage 4: classify by magnitude; form S = ±N1 + zp * 2^e exactly.
        self.n1_lead.value.next = self.s3_n1.q.val();
        self.n1_msb.next = self.n1_lead.position.val();
        // Exponent of the product's leading bit.
        self.top_exp.next = bit_cast::<16, 8>(self.n1_msb.val()) + self.s3_exp.q.val();
        self.int_value.next = self.s3_n1.q.val() << self.s3_exp.q.val().get_bits::<8>(0);
        if self.s3_neg.q.val() {
            self.int_value.next = !(self.s3_n1.q.val() << self.s3_exp.q.val().get_bits::<8>(0)) + self.one64.val();
        }
        self.zp128.next = bit_cast::<128, 32>(self.zero_point.val());
        if self.zero_point.val().get_bit(31) {
            self.zp128.next = bit_cast::<128, 32>(self.zero_point.val()) | self.high96.val();
        }
        self.n128.next = bit_cast::<128, 64>(self.s3_n1.q.val());
        if self.s3_neg.q.val() {
            self.n128.next = !bit_cast::<128, 64>(self.s3_n1.q.val()) + self.one128.val();
        }
        self.neg_exp.next = !self.s3_exp.q.val() + 1;
        self.s.next = self.n128.val() + (self.zp128.val() << self.neg_exp.val().get_bits::<8>(0));
        self.s4_valid.d.next = self.s3_valid.q.val();
        self.s4_s.d.next = self.s.val();
        self.s4_e.d.next = self.neg_exp.val().get_bits::<8>(0);
        self.s4_int.d.next = self.int_value.val() + bit_cast::<64, 32>(self.zero_point.val());
        if self.zero_point.val().get_bit(31) {
            self.s4_int.d.next = self.int_value.val() + (bit_cast::<64, 32>(self.zero_point.val()) | self.high32.val());
        }
        self.s4_path.d.next = self.path_general.val();
        if !self.s3_exp.q.val().get_bit(15) {
            self.s4_path.d.next = self.path_int.val();
        }
        if (self.s3_exp.q.val() ^ self.sign16.val()) < (self.limit_lo.val() ^ self.sign16.val()) {
            self.s4_path.d.next = self.path_zp.val();
        }
        if (self.top_exp.val() ^ self.sign16.val()) > (self.limit_hi.val() ^ self.sign16.val()) {
            self.s4_path.d.next = self.path_sat.val();
            // Saturate towards the product's sign: +big or -big.
            self.s4_int.d.next = self.big_pos.val();
            if self.s3_neg.q.val() {
                self.s4_int.d.next = self.big_neg.val();
            }
        }
        if !self.s3_n1.q.val().any() {
            self.s4_path.d.next = self.path_zp.val();
        }

        // ---- Stage 5: round |S| to 53 significant bits (the f64 addition).
        self.mag.next = self.s4_s.q.val();
        if self.s4_s.q.val().get_bit(127) {
            self.mag.next = !self.s4_s.q.val() + self.one128.val();
        }
        self.mag_upper.next = self.mag.val().get_bits::<64>(64).any();
        self.mag_lead.value.next = self.mag.val().get_bits::<64>(0);
        if self.mag_upper.val() {
            self.mag_lead.value.next = self.mag.val().get_bits::<64>(64);
        }
        self.mag_msb.next = self.mag_lead.position.val();
        if self.mag_upper.val() {
            self.mag_msb.next = self.mag_lead.position.val() + 64;
        }
        self.k.next = 0.into();
        if self.mag_msb.val() > self.fifty_two.val() {
            self.k.next = self.mag_msb.val() - self.fifty_two.val();
        }
        // Ties to even at bit k: guard is bit k-1, sticky the bits below it.
        self.k_up.next = false;
        if (self.s4_path.q.val() == self.path_general.val()) & self.k.val().any() {
            self.k_up.next = self.mag.val().get_bit((self.k.val() - 1).index())
                & (self.mag.val().get_bit(self.k.val().index())
                    | (self.mag.val() & !(self.ones128.val() << (self.k.val() - 1))).any());
        }
        self.s5_valid.d.next = self.s4_valid.q.val();
        self.s5_path.d.next = self.s4_path.q.val();
        self.s5_int.d.next = self.s4_int.q.val();
        self.s5_neg.d.next = self.s4_s.q.val().get_bit(127);
        self.s5_e.d.next = self.s4_e.q.val();
        self.s5_mag.d.next =
            ((self.mag.val() >> self.k.val()) + bit_cast::<128, 1>(self.k_up.val().into())) << self.k.val();

        // ---- Stage 6: drop the e fraction bits, ties to even; sign; clamp.
        self.q.next = self.s5_mag.q.val() >> self.s5_e.q.val();
        self.q_up.next = false;
        if (self.s5_path.q.val() == self.path_general.val()) & self.s5_e.q.val().any() {
            self.q_up.next = self.s5_mag.q.val().get_bit((self.s5_e.q.val() - 1).index())
                & (self.q.val().get_bit(0)
                    | (self.s5_mag.q.val() & !(self.ones128.val() << (self.s5_e.q.val() - 1))).any());
        }
        self.q_sum.next = self.q.val() + bit_cast::<128, 1>(self.q_up.val().into());
        self.result.next = self.q_sum.val().get_bits::<64>(0);
        if self.s5_neg.q.val() {
            self.result.next = !self.q_sum.val().get_bits::<64>(0) + self.one64.val();
        }
        if self.s5_path.q.val() != self.path_general.val() {
            self.result.next = self.s5_int.q.val();
        }
        if self.s5_path.q.val() == self.path_zp.val() {
            self.result.next = bit_cast::<64, 32>(self.zero_point.val());
            if self.zero_point.val().get_bit(31) {
                self.result.next = bit_cast::<64, 32>(self.zero_point.val()) | self.high32.val();
            }
        }
        // Clamp the 64-bit result to the 32-bit bounds (signed compares via the sign flip).
        self.lo64.next = bit_cast::<64, 32>(self.clamp_lo.val());
        if self.clamp_lo.val().get_bit(31) {
            self.lo64.next = bit_cast::<64, 32>(self.clamp_lo.val()) | self.high32.val();
        }
        self.hi64.next = bit_cast::<64, 32>(self.clamp_hi.val());
        if self.clamp_hi.val().get_bit(31) {
            self.hi64.next = bit_cast::<64, 32>(self.clamp_hi.val()) | self.high32.val();
        }
        self.int_clamped.next = self.result.val().get_bits::<32>(0);
        if (self.result.val() ^ self.sign64.val()) < (self.lo64.val() ^ self.sign64.val()) {
            self.int_clamped.next = self.clamp_lo.val();
        }
        if (self.result.val() ^ self.sign64.val()) > (self.hi64.val() ^ self.sign64.val()) {
            self.int_clamped.next = self.clamp_hi.val();
        }
        self.s6_valid.d.next = self.s5_valid.q.val();
        self.s6_value.d.next = self.int_clamped.val();
        self.valid_out.next = self.s6_valid.q.val();
        self.value.next = self.s6_value.q.val();
    }
}
