//! The `rows x cols` weight-stationary systolic array.
//!
//! An activation vector presented at `a_in` (unskewed, `rows` lanes) enters row `r`
//! after `r + 1` cycles of input skew, moves right one PE per cycle and meets the
//! partial sums moving down; column `c` leaves the bottom row and is delayed by
//! `cols - c` cycles so that all `cols` results of the vector appear together on
//! `psum_out` exactly [`SystolicArray::latency`] cycles after the vector went in.
//!
//! Weights are written one array row per cycle into the bank given by `w_bank`
//! (row `w_row`, all columns at once from `w_data`); each vector carries the bank it
//! multiplies with (`sel_in`), so a new tile takes effect on its first vector's
//! wavefront while the previous tile's vectors are still in flight.

use crate::delay::Delay;
use crate::pe::Pe;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct SystolicArray {
    pub clock: Signal<In, Clock>,
    pub a_in: Vec<Signal<In, Signed<16>>>,
    pub sel_in: Signal<In, Bit>,
    pub psum_out: Vec<Signal<Out, Signed<32>>>,
    pub w_data: Vec<Signal<In, Signed<16>>>,
    pub w_row: Signal<In, Bits<8>>,
    pub w_write: Signal<In, Bit>,
    pub w_bank: Signal<In, Bit>,
    pes: Vec<Pe>,
    a_skew: Vec<Delay<Signed<16>>>,
    sel_skew: Vec<Delay<Bit>>,
    deskew: Vec<Delay<Signed<32>>>,
    zero: Constant<Signed<32>>,
    _rows: usize,
    _cols: usize,
}

impl SystolicArray {
    pub fn new(rows: usize, cols: usize) -> Self {
        assert!(rows >= 1 && cols >= 1 && rows <= 128 && cols <= 128);
        Self {
            clock: Default::default(),
            a_in: (0..rows).map(|_| Default::default()).collect(),
            sel_in: Default::default(),
            psum_out: (0..cols).map(|_| Default::default()).collect(),
            w_data: (0..cols).map(|_| Default::default()).collect(),
            w_row: Default::default(),
            w_write: Default::default(),
            w_bank: Default::default(),
            pes: (0..rows * cols).map(|_| Pe::default()).collect(),
            a_skew: (0..rows).map(|r| Delay::new(r + 1)).collect(),
            sel_skew: (0..rows).map(|r| Delay::new(r + 1)).collect(),
            deskew: (0..cols).map(|c| Delay::new(cols - c)).collect(),
            zero: Constant::new(Signed::default()),
            _rows: rows,
            _cols: cols,
        }
    }

    /// Cycles from a vector on `a_in` to its results on `psum_out`.
    pub fn latency(rows: usize, cols: usize) -> usize {
        rows + cols + 1
    }
}

impl Logic for SystolicArray {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..self._rows {
            self.a_skew[i].clock.next = self.clock.val();
            self.sel_skew[i].clock.next = self.clock.val();
            self.a_skew[i].data_in.next = self.a_in[i].val();
            self.sel_skew[i].data_in.next = self.sel_in.val();
        }
        for i in 0..self._cols {
            self.deskew[i].clock.next = self.clock.val();
            self.psum_out[i].next = self.deskew[i].data_out.val();
        }
        // `cc` is the column count, bound as a loop variable so that index
        // expressions can use it (rust-hdl evaluates them with loop variables only).
        for cc in self._cols..(self._cols + 1) {
            for r in 0..self._rows {
                for c in 0..self._cols {
                    self.pes[r * cc + c].clock.next = self.clock.val();
                    self.pes[r * cc + c].w_data.next = self.w_data[c].val();
                    self.pes[r * cc + c].w_bank.next = self.w_bank.val();
                    self.pes[r * cc + c].w_write.next = self.w_write.val() & (self.w_row.val().index() == r);
                }
                self.pes[r * cc].a_in.next = self.a_skew[r].data_out.val();
                self.pes[r * cc].sel_in.next = self.sel_skew[r].data_out.val();
                for c in 1..self._cols {
                    self.pes[r * cc + c].a_in.next = self.pes[r * cc + c - 1].a_out.val();
                    self.pes[r * cc + c].sel_in.next = self.pes[r * cc + c - 1].sel_out.val();
                }
            }
            for c in 0..self._cols {
                self.pes[c].psum_in.next = self.zero.val();
            }
            for r in 1..self._rows {
                for c in 0..self._cols {
                    self.pes[r * cc + c].psum_in.next = self.pes[r * cc + c - cc].psum_out.val();
                }
            }
            for last in (self._rows - 1)..self._rows {
                for c in 0..self._cols {
                    self.deskew[c].data_in.next = self.pes[last * cc + c].psum_out.val();
                }
            }
        }
    }
}
