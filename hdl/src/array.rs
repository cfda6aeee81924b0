//! The `rows x cols` weight-stationary systolic array, built from [`PePair`]s that
//! compute two columns on one DSP slice.
//!
//! An activation vector presented at `a_in` (unskewed, `rows` lanes, zero point
//! removed) enters row `r` after `r + 1` cycles of input skew and moves right one
//! pair per cycle, meeting the partial sums moving down. Pair `p`'s results leave
//! the bottom row and are delayed by `pairs - p` cycles so that all `cols` results
//! of a vector appear together on `psum_out` exactly [`SystolicArray::latency`]
//! cycles after the vector went in.
//!
//! The PEs multiply with 8-bit weights `w` (unsigned weights are biased to signed by
//! the compute unit); the tile's weight zero point `w_zero` is applied once per
//! vector rather than per PE: `sum_k a_k (w_kn - z) = sum_k a_k w_kn - z * sum_k a_k`.
//! An edge column on the left sums each vector's activations as they enter the
//! rows, multiplies by the zero point that travelled with the vector, and the
//! product `corr` moves along below the bottom row to meet each pair's results.
//!
//! Weights are written one array row per cycle into the bank given by `w_bank`
//! (row `w_row`, all columns at once from `w_data`); each vector carries the bank it
//! multiplies with (`sel_in`), so a new tile takes effect on its first vector's
//! wavefront while the previous tile's vectors are still in flight.

use crate::delay::Delay;
use crate::pe::{PairResult, PePair, WeightPacker, PSUM_BITS};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct SystolicArray {
    pub clock: Signal<In, Clock>,
    pub a_in: Vec<Signal<In, Signed<16>>>,
    pub sel_in: Signal<In, Bit>,
    pub psum_out: Vec<Signal<Out, Signed<32>>>,
    /// Weights of row `w_row`, in -128..=127.
    pub w_data: Vec<Signal<In, Signed<16>>>,
    /// The tile's weight zero point (same bias as `w_data`), latched with every row.
    pub w_zero: Signal<In, Signed<16>>,
    pub w_row: Signal<In, Bits<8>>,
    pub w_write: Signal<In, Bit>,
    pub w_bank: Signal<In, Bit>,
    pes: Vec<PePair>,
    packers: Vec<WeightPacker>,
    /// `w_data` padded with a zero weight to an even number of columns.
    w_even: Vec<Signal<Local, Signed<16>>>,
    a_skew: Vec<Delay<Signed<16>>>,
    sel_skew: Vec<Delay<Bit>>,
    zw0: DFF<Signed<16>>,
    zw1: DFF<Signed<16>>,
    /// The zero point of the bank the vector entering row 0 uses. Read there, not
    /// at `a_in`: a tile's rows may be written just ahead of its first vector.
    zw_pick: Signal<Local, Signed<16>>,
    /// The edge column: running activation sum and the zero point, row by row.
    edge_sum: Vec<DFF<Signed<16>>>,
    edge_zw: Vec<DFF<Signed<16>>>,
    /// `corr[p]` is the zero-point term of the vector whose results pair `p` emits.
    corr: Vec<DFF<Signed<32>>>,
    /// The high columns' sums, held one cycle to meet the low columns.
    hi_hold: Vec<DFF<Signed<PSUM_BITS>>>,
    results: Vec<PairResult>,
    deskew: Vec<Delay<Signed<32>>>,
    zero: Constant<Signed<16>>,
    zero_psum: Constant<Signed<PSUM_BITS>>,
    _rows: usize,
    _cols: usize,
    _pairs: usize,
}

impl SystolicArray {
    pub fn new(rows: usize, cols: usize) -> Self {
        // 128 rows keep the activation sum in 16 bits and partial sums in PSUM_BITS.
        assert!(rows >= 1 && cols >= 1 && rows <= 128 && cols <= 128);
        let pairs = Self::pairs(cols);
        Self {
            clock: Default::default(),
            a_in: (0..rows).map(|_| Default::default()).collect(),
            sel_in: Default::default(),
            psum_out: (0..cols).map(|_| Default::default()).collect(),
            w_data: (0..cols).map(|_| Default::default()).collect(),
            w_zero: Default::default(),
            w_row: Default::default(),
            w_write: Default::default(),
            w_bank: Default::default(),
            pes: (0..rows * pairs).map(|_| PePair::default()).collect(),
            packers: (0..pairs).map(|_| WeightPacker::default()).collect(),
            w_even: (0..2 * pairs).map(|_| Default::default()).collect(),
            a_skew: (0..rows).map(|r| Delay::new(r + 1)).collect(),
            sel_skew: (0..rows).map(|r| Delay::new(r + 1)).collect(),
            zw0: Default::default(),
            zw1: Default::default(),
            zw_pick: Default::default(),
            edge_sum: (0..rows).map(|_| Default::default()).collect(),
            edge_zw: (0..rows).map(|_| Default::default()).collect(),
            corr: (0..pairs).map(|_| Default::default()).collect(),
            hi_hold: (0..pairs).map(|_| Default::default()).collect(),
            results: (0..pairs).map(|_| PairResult::default()).collect(),
            deskew: (0..2 * pairs).map(|c| Delay::new(pairs - c / 2)).collect(),
            zero: Constant::new(Signed::default()),
            zero_psum: Constant::new(Signed::default()),
            _rows: rows,
            _cols: cols,
            _pairs: pairs,
        }
    }

    /// PE pairs per row (DSP slices per row).
    pub fn pairs(cols: usize) -> usize {
        cols.div_ceil(2)
    }

    /// Cycles from a vector on `a_in` to its results on `psum_out`.
    pub fn latency(rows: usize, cols: usize) -> usize {
        rows + Self::pairs(cols) + 2
    }

    /// Cycles after a vector is presented during which row 0 may still multiply it
    /// with its bank: the bank must not be rewritten before.
    pub fn weight_use_span(cols: usize) -> usize {
        Self::pairs(cols)
    }
}

impl Logic for SystolicArray {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, zw0, zw1);
        // Input skew and the edge column.
        for i in 0..self._rows {
            self.a_skew[i].clock.next = self.clock.val();
            self.sel_skew[i].clock.next = self.clock.val();
            self.a_skew[i].data_in.next = self.a_in[i].val();
            self.sel_skew[i].data_in.next = self.sel_in.val();
            self.edge_sum[i].clock.next = self.clock.val();
            self.edge_zw[i].clock.next = self.clock.val();
        }
        self.zw_pick.next = self.zw0.q.val();
        if self.sel_skew[0].data_out.val() {
            self.zw_pick.next = self.zw1.q.val();
        }
        if self.w_write.val() {
            if self.w_bank.val() {
                self.zw1.d.next = self.w_zero.val();
            } else {
                self.zw0.d.next = self.w_zero.val();
            }
        }
        self.edge_sum[0].d.next = self.a_skew[0].data_out.val();
        self.edge_zw[0].d.next = self.zw_pick.val();
        for r in 1..self._rows {
            self.edge_sum[r].d.next = self.edge_sum[r - 1].q.val() + self.a_skew[r].data_out.val();
            self.edge_zw[r].d.next = self.edge_zw[r - 1].q.val();
        }
        // Weight packing at the top edge.
        for c in 0..self._cols {
            self.w_even[c].next = self.w_data[c].val();
        }
        for c in self._cols..(2 * self._pairs) {
            self.w_even[c].next = self.zero.val();
        }
        for p in 0..self._pairs {
            self.packers[p].lo.next = self.w_even[2 * p].val();
            self.packers[p].hi.next = self.w_even[2 * p + 1].val();
            self.corr[p].clock.next = self.clock.val();
            self.hi_hold[p].clock.next = self.clock.val();
        }
        for last in (self._rows - 1)..self._rows {
            self.corr[0].d.next = self.edge_zw[last].q.val() * self.edge_sum[last].q.val();
        }
        for p in 1..self._pairs {
            self.corr[p].d.next = self.corr[p - 1].q.val();
        }
        // `pp` is the pair count, bound as a loop variable so that index
        // expressions can use it (rust-hdl evaluates them with loop variables only).
        for pp in self._pairs..(self._pairs + 1) {
            for r in 0..self._rows {
                for p in 0..self._pairs {
                    self.pes[r * pp + p].clock.next = self.clock.val();
                    self.pes[r * pp + p].w_data.next = self.packers[p].word.val();
                    self.pes[r * pp + p].w_bank.next = self.w_bank.val();
                    self.pes[r * pp + p].w_write.next = self.w_write.val() & (self.w_row.val().index() == r);
                }
                self.pes[r * pp].a_in.next = self.a_skew[r].data_out.val();
                self.pes[r * pp].sel_in.next = self.sel_skew[r].data_out.val();
                for p in 1..self._pairs {
                    self.pes[r * pp + p].a_in.next = self.pes[r * pp + p - 1].a_out.val();
                    self.pes[r * pp + p].sel_in.next = self.pes[r * pp + p - 1].sel_out.val();
                }
            }
            for p in 0..self._pairs {
                self.pes[p].hi_in.next = self.zero_psum.val();
                self.pes[p].lo_in.next = self.zero_psum.val();
            }
            for r in 1..self._rows {
                for p in 0..self._pairs {
                    self.pes[r * pp + p].hi_in.next = self.pes[r * pp + p - pp].hi_out.val();
                    self.pes[r * pp + p].lo_in.next = self.pes[r * pp + p - pp].lo_out.val();
                }
            }
            for last in (self._rows - 1)..self._rows {
                for p in 0..self._pairs {
                    self.hi_hold[p].d.next = self.pes[last * pp + p].hi_out.val();
                    self.results[p].hi_raw.next = self.hi_hold[p].q.val();
                    self.results[p].lo_raw.next = self.pes[last * pp + p].lo_out.val();
                    self.results[p].corr.next = self.corr[p].q.val();
                }
            }
        }
        // Output deskew.
        for p in 0..self._pairs {
            self.deskew[2 * p].data_in.next = self.results[p].lo.val();
            self.deskew[2 * p + 1].data_in.next = self.results[p].hi.val();
        }
        for c in 0..(2 * self._pairs) {
            self.deskew[c].clock.next = self.clock.val();
        }
        for c in 0..self._cols {
            self.psum_out[c].next = self.deskew[c].data_out.val();
        }
    }
}
