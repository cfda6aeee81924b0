//! The `rows x cols` weight-stationary systolic array, built from [`PePair`]s that
//! compute two columns on one DSP slice.
//!
//! An activation vector presented at `a_in` (unskewed, `rows` lanes, zero point
//! removed) enters row `r` after `r + 2` cycles of input skew and moves right one
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
//! Weights are written one array row per cycle into the PEs' shadow registers (row
//! `w_row`, all columns at once from `w_data`). The first vector that uses a newly
//! written tile is presented with `first_in`; that flag runs one cycle ahead of the
//! vector through the array and makes each PE pair (and the edge column's zero
//! point) switch to the shadow tile just before the vector arrives. So a tile's rows
//! may be written as late as the cycle its first vector is presented (row `r` up to
//! `r` cycles later), and the next tile may be written while this one's vectors are
//! still in flight, once the first vector has reached row 0's last pair
//! ([`SystolicArray::shadow_span`]).
//!
//! An array built for N:4 sparsity has four activation lanes per row
//! (`a_in[r * 4 + j]`). Lane 0 travels through the pairs as in a dense array; lanes
//! 1..3 travel through registers beside them, and a [`LaneSelect`] in front of each
//! pair feeds its DSP the lane its tile row's index names (dense tiles use lane 0).
//! The zero-point column sums lane 0: sparse tiles have a zero weight zero point.
//!
//! An array built with a window mode (`docs/depthwise.md`, option B) can instead
//! give each pair its own activation: rows form groups of [`GROUP_ROWS`], and with
//! `window` set, every pair `p` of group `g` multiplies stream `win_in[g * pairs + p]`
//! rather than the row's activation. The stream is skewed inside the array so that
//! the vector presented at time `t0` meets, in row `g * GROUP_ROWS + j`, the group's
//! value presented at `t0 + j`: each column computes
//! `sum_g sum_j w[g * GROUP_ROWS + j][c] * win[g][c / 2](t0 + j)`, a correlation of
//! up to `GROUP_ROWS` consecutive stream values per group (H. T. Kung's systolic
//! convolution: the partial sum moving down meets the next tap's weight one cycle
//! later). With one channel per pair and the groups fed one image row apart, that is
//! a depthwise convolution of eight channels per cycle. The weight zero point is not
//! applied to window streams (the edge column sums `a_in`): window tiles have none.

use crate::delay::Delay;
use crate::pe::{Activation, LaneSelect, PairResult, PePair, WeightPacker, PSUM_BITS};
use rust_hdl::prelude::*;

/// Rows per group of a window-mode array: consecutive taps sharing one stream.
pub const GROUP_ROWS: usize = 4;
// The generated index expressions spell the group size as a literal.
const _: () = assert!(GROUP_ROWS == 4);

#[derive(LogicBlock)]
pub struct SystolicArray {
    pub clock: Signal<In, Clock>,
    /// Row `r`'s activation lanes at `a_in[r * lanes + j]` (zero point removed, in
    /// `-255..=255`: the array keeps their low 9 bits, see [`Activation`]).
    pub a_in: Vec<Signal<In, Signed<16>>>,
    /// This vector is the first to use the tile written since the last such vector.
    pub first_in: Signal<In, Bit>,
    pub psum_out: Vec<Signal<Out, Signed<32>>>,
    /// Weights of row `w_row`, in -128..=127.
    pub w_data: Vec<Signal<In, Signed<16>>>,
    /// The tile's weight zero point (same bias as `w_data`), latched with every row.
    pub w_zero: Signal<In, Signed<16>>,
    /// Lane index of row `w_row` for each column pair (N:4 tiles).
    pub w_index: Vec<Signal<In, Bits<2>>>,
    pub w_row: Signal<In, Bits<8>>,
    pub w_write: Signal<In, Bit>,
    /// Window mode: pairs multiply their group's stream (an array built with it).
    pub window: Signal<In, Bit>,
    /// Group `g`'s stream for pair `p` at `win_in[g * pairs + p]`, unskewed (empty
    /// unless the array was built with a window mode).
    pub win_in: Vec<Signal<In, Signed<16>>>,
    pes: Vec<PePair>,
    /// N:4 arrays: lanes 1..3 as they pass pair `(r, p)`, at `((r * pairs + p) * 3 + j - 1)`.
    lane_regs: Vec<DFF<Activation>>,
    selects: Vec<LaneSelect>,
    packers: Vec<WeightPacker>,
    /// `w_data` padded with a zero weight to an even number of columns.
    w_even: Vec<Signal<Local, Signed<16>>>,
    a_skew: Vec<Delay<Activation>>,
    /// `first_in` delayed to arrive one cycle ahead of its vector in each row.
    first_skew: Vec<Delay<Bit>>,
    /// `win_in[g * pairs + p]` delayed to meet the partial sums of group `g`'s first
    /// row at pair `p`: `g * GROUP_ROWS + 2 + p` cycles.
    win_skew: Vec<Delay<Activation>>,
    /// The zero point of the tile being written, and of the tile in use at row 0.
    zw_shadow: DFF<Signed<16>>,
    zw_active: DFF<Signed<16>>,
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
    _lanes: usize,
    /// `0..1` in an N:4 array, `0..0` otherwise: generates the lane logic only there.
    _sparse: usize,
    /// Row groups of the window mode (0 in an array without one).
    _groups: usize,
}

impl SystolicArray {
    /// An array of `rows x cols` PEs with `lanes` activations per row (1, or 4 for N:4 sparsity).
    pub fn new(rows: usize, cols: usize, lanes: usize) -> Self {
        Self::build(rows, cols, lanes, 0)
    }

    /// A dense array of `rows x cols` PEs (`rows` a multiple of [`GROUP_ROWS`]) that
    /// also has the window mode.
    pub fn windowed(rows: usize, cols: usize) -> Self {
        assert!(rows.is_multiple_of(GROUP_ROWS), "window groups are {GROUP_ROWS} rows");
        Self::build(rows, cols, 1, rows / GROUP_ROWS)
    }

    fn build(rows: usize, cols: usize, lanes: usize, groups: usize) -> Self {
        // 128 rows keep the activation sum in 16 bits and partial sums in PSUM_BITS.
        assert!(rows >= 1 && cols >= 1 && rows <= 128 && cols <= 128);
        assert!(lanes == 1 || lanes == 4, "an array row takes 1 or 4 activation lanes");
        let pairs = Self::pairs(cols);
        let sparse = lanes == 4;
        Self {
            clock: Default::default(),
            a_in: (0..rows * lanes).map(|_| Default::default()).collect(),
            first_in: Default::default(),
            psum_out: (0..cols).map(|_| Default::default()).collect(),
            w_data: (0..cols).map(|_| Default::default()).collect(),
            w_zero: Default::default(),
            w_index: (0..pairs).map(|_| Default::default()).collect(),
            w_row: Default::default(),
            w_write: Default::default(),
            window: Default::default(),
            win_in: (0..groups * pairs).map(|_| Default::default()).collect(),
            pes: (0..rows * pairs).map(|_| PePair::new(sparse)).collect(),
            lane_regs: (0..rows * pairs * (lanes - 1)).map(|_| Default::default()).collect(),
            selects: (0..if sparse { rows * pairs } else { 0 }).map(|_| Default::default()).collect(),
            packers: (0..pairs).map(|_| WeightPacker::default()).collect(),
            w_even: (0..2 * pairs).map(|_| Default::default()).collect(),
            a_skew: (0..rows * lanes).map(|i| Delay::new(i / lanes + 2)).collect(),
            first_skew: (0..rows).map(|r| Delay::new(r + 1)).collect(),
            win_skew: (0..groups * pairs).map(|i| Delay::new(i / pairs * GROUP_ROWS + 2 + i % pairs)).collect(),
            zw_shadow: Default::default(),
            zw_active: Default::default(),
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
            _lanes: lanes,
            _sparse: usize::from(sparse),
            _groups: groups,
        }
    }

    /// PE pairs per row (DSP slices per row).
    pub fn pairs(cols: usize) -> usize {
        cols.div_ceil(2)
    }

    /// Cycles from a vector on `a_in` to its results on `psum_out`.
    pub fn latency(rows: usize, cols: usize) -> usize {
        rows + Self::pairs(cols) + 3
    }

    /// Cycles after a `first_in` vector is presented until the last PE pair of row
    /// 0 copies its shadow weights: the next tile's row 0 may be written from then on
    /// (row `r` from `r` cycles later).
    pub fn shadow_span(cols: usize) -> usize {
        Self::pairs(cols)
    }
}

impl Logic for SystolicArray {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, zw_shadow, zw_active);
        // Input skew and the edge column.
        for i in 0..(self._rows * self._lanes) {
            self.a_skew[i].clock.next = self.clock.val();
            self.a_skew[i].data_in.next = signed_bit_cast::<9, 16>(self.a_in[i].val());
        }
        for i in 0..self.lane_regs.len() {
            self.lane_regs[i].clock.next = self.clock.val();
        }
        for i in 0..self.win_skew.len() {
            self.win_skew[i].clock.next = self.clock.val();
            self.win_skew[i].data_in.next = signed_bit_cast::<9, 16>(self.win_in[i].val());
        }
        for i in 0..self._rows {
            self.first_skew[i].clock.next = self.clock.val();
            self.first_skew[i].data_in.next = self.first_in.val();
            self.edge_sum[i].clock.next = self.clock.val();
            self.edge_zw[i].clock.next = self.clock.val();
        }
        if self.w_write.val() {
            self.zw_shadow.d.next = self.w_zero.val();
        }
        if self.first_skew[0].data_out.val() {
            self.zw_active.d.next = self.zw_shadow.q.val();
        }
        self.edge_sum[0].d.next = signed_bit_cast::<16, 9>(self.a_skew[0].data_out.val());
        self.edge_zw[0].d.next = self.zw_active.q.val();
        for ll in self._lanes..(self._lanes + 1) {
            for r in 1..self._rows {
                self.edge_sum[r].d.next =
                    self.edge_sum[r - 1].q.val() + signed_bit_cast::<16, 9>(self.a_skew[r * ll].data_out.val());
                self.edge_zw[r].d.next = self.edge_zw[r - 1].q.val();
            }
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
                    self.pes[r * pp + p].w_index.next = self.w_index[p].val();
                    self.pes[r * pp + p].w_write.next = self.w_write.val() & (self.w_row.val().index() == r);
                }
                for ll in self._lanes..(self._lanes + 1) {
                    self.pes[r * pp].a_in.next = self.a_skew[r * ll].data_out.val();
                    self.pes[r * pp].a_mul.next = self.a_skew[r * ll].data_out.val();
                }
                self.pes[r * pp].first_in.next = self.first_skew[r].data_out.val();
                for p in 1..self._pairs {
                    self.pes[r * pp + p].a_in.next = self.pes[r * pp + p - 1].a_out.val();
                    self.pes[r * pp + p].a_mul.next = self.pes[r * pp + p - 1].a_out.val();
                    self.pes[r * pp + p].first_in.next = self.pes[r * pp + p - 1].first_out.val();
                }
                // N:4: lanes 1..3 move right beside the pairs; each pair multiplies its lane.
                for _s in 0..self._sparse {
                    self.selects[r * pp].lane0.next = self.a_skew[r * 4].data_out.val();
                    self.selects[r * pp].lane1.next = self.a_skew[r * 4 + 1].data_out.val();
                    self.selects[r * pp].lane2.next = self.a_skew[r * 4 + 2].data_out.val();
                    self.selects[r * pp].lane3.next = self.a_skew[r * 4 + 3].data_out.val();
                    self.lane_regs[r * pp * 3].d.next = self.a_skew[r * 4 + 1].data_out.val();
                    self.lane_regs[r * pp * 3 + 1].d.next = self.a_skew[r * 4 + 2].data_out.val();
                    self.lane_regs[r * pp * 3 + 2].d.next = self.a_skew[r * 4 + 3].data_out.val();
                    for p in 1..self._pairs {
                        self.selects[r * pp + p].lane0.next = self.pes[r * pp + p - 1].a_out.val();
                        self.selects[r * pp + p].lane1.next = self.lane_regs[(r * pp + p - 1) * 3].q.val();
                        self.selects[r * pp + p].lane2.next = self.lane_regs[(r * pp + p - 1) * 3 + 1].q.val();
                        self.selects[r * pp + p].lane3.next = self.lane_regs[(r * pp + p - 1) * 3 + 2].q.val();
                        self.lane_regs[(r * pp + p) * 3].d.next = self.lane_regs[(r * pp + p - 1) * 3].q.val();
                        self.lane_regs[(r * pp + p) * 3 + 1].d.next = self.lane_regs[(r * pp + p - 1) * 3 + 1].q.val();
                        self.lane_regs[(r * pp + p) * 3 + 2].d.next = self.lane_regs[(r * pp + p - 1) * 3 + 2].q.val();
                    }
                    for p in 0..self._pairs {
                        self.selects[r * pp + p].index.next = self.pes[r * pp + p].index.val();
                        self.pes[r * pp + p].a_mul.next = self.selects[r * pp + p].out.val();
                    }
                }
            }
            // Window mode: each pair multiplies its group's skewed stream (groups of
            // GROUP_ROWS = 4 rows; index expressions take literals and loop variables).
            for g in 0..self._groups {
                for j in 0..4 {
                    for p in 0..self._pairs {
                        if self.window.val() {
                            self.pes[(g * 4 + j) * pp + p].a_mul.next = self.win_skew[g * pp + p].data_out.val();
                        }
                    }
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
