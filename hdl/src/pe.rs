//! Two processing elements (array columns `2p` and `2p + 1`) sharing one DSP slice.
//!
//! Both PEs of a row multiply the same activation, so one multiplier computes both
//! products at once: with `b = w_hi * 2^16 + w_lo`, `a * b = (a * w_hi) * 2^16 + a * w_lo`.
//! Activations have 9 significant bits and weights 8 (the array removes the weight
//! zero point afterwards, see `array.rs`), so `|a * w_lo| <= 255 * 128 < 2^15`.
//! The DSP post-adder adds `c = psum_hi * 2^16 + 2^15`: the offset keeps the low
//! field in `0..2^16`, so it never borrows from the high field. The DSP output then
//! holds the high column's new partial sum in bits 16.. and `a * w_lo + 2^15` in bits
//! 0..16; flipping bit 15 turns the latter back into the signed low product, which is
//! added to the low column's partial sum in fabric one cycle later, as it leaves the
//! DSP's output register.
//!
//! This is the INT8 packing of Xilinx WP486 adapted to the 25 x 18 DSP48E1: it halves
//! the DSP count (a 16x16 array needs 128 slices, not 256) for ~25 LUTs per pair.
//!
//! The pair multiplies `a_mul`. In a dense array that is the activation passing
//! through (`a_in`); in an array built for N:4 sparsity the array chooses it among
//! the row's four candidate lanes by the pair's `index` (a 2-bit lane index stored
//! with each tile row, see `docs/sparse.md`), which a dense-only pair does not have.
//!
//! Weights are double-buffered without a multiplexer in front of the DSP: a tile is
//! written into `shadow`, and copied into `active` (a clock enable, not LUTs) in
//! the cycle before the tile's first vector arrives, announced by `first_in`. So a
//! new tile takes effect exactly on its first vector's wavefront while the previous
//! tile's last vectors are still in flight further right.

use crate::dff_en::DffEn;
use crate::dsp::DspMulAdd;
use rust_hdl::prelude::*;

/// Partial-sum width inside the array: enough for 128 rows of 9 x 8-bit products.
pub const PSUM_BITS: usize = 24;

/// An activation inside the array, zero point removed: `-255..=255` needs 9 bits, and
/// carrying only those keeps the array's activation registers, skew shift registers
/// and operand multiplexers at 9 bits instead of 16.
pub type Activation = Signed<9>;

/// A packed weight pair, the DSP's 25-bit multiplicand `hi * 2^16 + lo`: bits
/// 24..16 the high weight minus the low weight's sign (the borrow of the packed
/// sum), bits 15..0 the low weight sign-extended. It is stored in this form (not
/// the 17 significant bits) so that `active` drives the DSP directly: synthesis can
/// place it in the DSP's own A register, and the Verilated model does not rebuild
/// the multiplicand in every PE every cycle. See [`pack_weights`].
pub type PackedWeights = Bits<25>;

/// The [`PackedWeights`] of weights `lo`, `hi` in -128..=127 (test and model helper).
pub fn pack_weights(lo: i64, hi: i64) -> u64 {
    assert!((-128..=127).contains(&lo) && (-128..=127).contains(&hi), "weights are 8-bit");
    let hi_adj = hi - i64::from(lo < 0);
    (((hi_adj as u64) & 0x1ff) << 16) | ((lo as u64) & 0xffff)
}

#[derive(LogicBlock)]
pub struct PePair {
    pub clock: Signal<In, Clock>,
    /// Activation from the left neighbour (zero point removed: 9 significant bits).
    pub a_in: Signal<In, Activation>,
    /// The activation to multiply this cycle (`a_in`, or the lane `index` names).
    pub a_mul: Signal<In, Activation>,
    /// The activation arriving next cycle is the first of a newly written tile.
    pub first_in: Signal<In, Bit>,
    pub a_out: Signal<Out, Activation>,
    pub first_out: Signal<Out, Bit>,
    /// High column's partial sum from above.
    pub hi_in: Signal<In, Signed<PSUM_BITS>>,
    /// Low column's partial sum from above (one cycle behind `hi_in`).
    pub lo_in: Signal<In, Signed<PSUM_BITS>>,
    pub hi_out: Signal<Out, Signed<PSUM_BITS>>,
    pub lo_out: Signal<Out, Signed<PSUM_BITS>>,
    /// Weights to store in the shadow register, packed by the array edge.
    pub w_data: Signal<In, PackedWeights>,
    /// Lane index of the row being written (N:4 tiles; 0 for dense ones).
    pub w_index: Signal<In, Bits<2>>,
    pub w_write: Signal<In, Bit>,
    /// The lane index of the active tile row (0 in a dense-only array).
    pub index: Signal<Out, Bits<2>>,
    a: DFF<Activation>,
    first: DFF<Bit>,
    /// Loaded on `w_write` and `first_in` (clock enables, see `DffEn`).
    shadow: DffEn<PackedWeights>,
    active: DffEn<PackedWeights>,
    /// One each in an N:4 array, none in a dense-only one.
    shadow_index: Vec<DffEn<Bits<2>>>,
    active_index: Vec<DffEn<Bits<2>>>,
    lo: DFF<Signed<PSUM_BITS>>,
    mac: DspMulAdd<16, 25, 40>,
    /// `hi_in * 2^16 + 2^15`.
    c_bits: Signal<Local, Bits<40>>,
    p_bits: Signal<Local, Bits<40>>,
    /// The low product (bit 15 of the DSP output flipped), sign-extended.
    lo_prod: Signal<Local, Bits<PSUM_BITS>>,
}

impl PePair {
    /// A pair of a dense-only array, or (`indexed`) of an N:4 array.
    pub fn new(indexed: bool) -> Self {
        let n = usize::from(indexed);
        Self {
            clock: Default::default(),
            a_in: Default::default(),
            a_mul: Default::default(),
            first_in: Default::default(),
            a_out: Default::default(),
            first_out: Default::default(),
            hi_in: Default::default(),
            lo_in: Default::default(),
            hi_out: Default::default(),
            lo_out: Default::default(),
            w_data: Default::default(),
            w_index: Default::default(),
            w_write: Default::default(),
            index: Default::default(),
            a: Default::default(),
            first: Default::default(),
            shadow: Default::default(),
            active: Default::default(),
            shadow_index: (0..n).map(|_| Default::default()).collect(),
            active_index: (0..n).map(|_| Default::default()).collect(),
            lo: Default::default(),
            mac: Default::default(),
            c_bits: Default::default(),
            p_bits: Default::default(),
            lo_prod: Default::default(),
        }
    }
}

impl Logic for PePair {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a, first, lo);
        clock!(self, clock, mac, shadow, active);
        self.index.next = 0.into();
        for i in 0..self.shadow_index.len() {
            self.shadow_index[i].clock.next = self.clock.val();
            self.active_index[i].clock.next = self.clock.val();
            self.shadow_index[i].en.next = self.w_write.val();
            self.shadow_index[i].d.next = self.w_index.val();
            self.active_index[i].en.next = self.first_in.val();
            self.active_index[i].d.next = self.shadow_index[i].q.val();
            self.index.next = self.active_index[i].q.val();
        }
        self.a.d.next = self.a_in.val();
        self.first.d.next = self.first_in.val();
        self.shadow.en.next = self.w_write.val();
        self.shadow.d.next = self.w_data.val();
        self.active.en.next = self.first_in.val();
        self.active.d.next = self.shadow.q.val();
        self.c_bits.next = (bit_cast::<40, PSUM_BITS>(unsigned_cast(self.hi_in.val())) << 16) | 0x8000;
        self.mac.a.next = signed_bit_cast::<16, 9>(self.a_mul.val());
        self.mac.b.next = signed_cast(self.active.q.val());
        self.mac.c.next = signed_cast(self.c_bits.val());
        self.p_bits.next = unsigned_cast(self.mac.p.val());
        self.hi_out.next = signed_cast(self.p_bits.val().get_bits::<PSUM_BITS>(16));
        // Bit 15 set means a non-negative low product: its sign bit is the flipped bit.
        self.lo_prod.next = bit_cast::<PSUM_BITS, 15>(self.p_bits.val().get_bits::<15>(0));
        if !self.p_bits.val().get_bit(15) {
            self.lo_prod.next = bit_cast::<PSUM_BITS, 15>(self.p_bits.val().get_bits::<15>(0)) | 0xff_8000;
        }
        self.lo.d.next = self.lo_in.val() + signed_cast(self.lo_prod.val());
        self.a_out.next = self.a.q.val();
        self.first_out.next = self.first.q.val();
        self.lo_out.next = self.lo.q.val();
    }
}

/// Packs the weights of columns `2p` (`lo`) and `2p + 1` (`hi`) for a [`PePair`]:
/// the high field absorbs the borrow of a negative low weight, so the pair's
/// multiplicand is the plain bit pattern of `hi * 2^16 + lo`.
#[derive(LogicBlock, Default)]
pub struct WeightPacker {
    /// Weight in -128..=127.
    pub lo: Signal<In, Signed<16>>,
    pub hi: Signal<In, Signed<16>>,
    pub word: Signal<Out, PackedWeights>,
    lo_bits: Signal<Local, Bits<16>>,
    hi_adj: Signal<Local, Bits<16>>,
}

impl Logic for WeightPacker {
    #[hdl_gen]
    fn update(&mut self) {
        self.lo_bits.next = unsigned_cast(self.lo.val());
        self.hi_adj.next = unsigned_cast(self.hi.val());
        if self.lo_bits.val().get_bit(7) {
            self.hi_adj.next = unsigned_cast(self.hi.val()) - 1;
        }
        self.word.next =
            (bit_cast::<25, 9>(self.hi_adj.val().get_bits::<9>(0)) << 16) | bit_cast::<25, 16>(self.lo_bits.val());
    }
}

/// The two results of a pair leaving the array, less the weight zero-point term
/// `corr = w_zero * sum(a)`, widened to 32 bits.
#[derive(LogicBlock, Default)]
pub struct PairResult {
    pub hi_raw: Signal<In, Signed<PSUM_BITS>>,
    pub lo_raw: Signal<In, Signed<PSUM_BITS>>,
    pub corr: Signal<In, Signed<32>>,
    pub hi: Signal<Out, Signed<32>>,
    pub lo: Signal<Out, Signed<32>>,
    hi_wide: Signal<Local, Signed<32>>,
    lo_wide: Signal<Local, Signed<32>>,
}

impl Logic for PairResult {
    #[hdl_gen]
    fn update(&mut self) {
        self.hi_wide.next = signed_bit_cast::<32, PSUM_BITS>(self.hi_raw.val());
        self.lo_wide.next = signed_bit_cast::<32, PSUM_BITS>(self.lo_raw.val());
        self.hi.next = self.hi_wide.val() - self.corr.val();
        self.lo.next = self.lo_wide.val() - self.corr.val();
    }
}

/// The operand select in front of an N:4 pair: one of the row's four candidate
/// activations, by the pair's active lane index.
#[derive(LogicBlock, Default)]
pub struct LaneSelect {
    pub lane0: Signal<In, Activation>,
    pub lane1: Signal<In, Activation>,
    pub lane2: Signal<In, Activation>,
    pub lane3: Signal<In, Activation>,
    pub index: Signal<In, Bits<2>>,
    pub out: Signal<Out, Activation>,
}

impl Logic for LaneSelect {
    #[hdl_gen]
    fn update(&mut self) {
        self.out.next = self.lane0.val();
        if self.index.val() == 1 {
            self.out.next = self.lane1.val();
        }
        if self.index.val() == 2 {
            self.out.next = self.lane2.val();
        }
        if self.index.val() == 3 {
            self.out.next = self.lane3.val();
        }
    }
}
