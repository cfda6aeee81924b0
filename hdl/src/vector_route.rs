//! Routes one IBUF read (every bank's entry at the same bank address) onto the
//! array's activation lanes, by the GEMM's sparsity mode.
//!
//! The IBUF of an N:4-capable array is `banks` RAMs wide: entry `e` lives in bank
//! `e % banks`, so the `4 / N` consecutive entries of a sparse vector (aligned to
//! `4 / N`) are read in one cycle. Concatenated from bank `bank`, they hold the
//! vector's reduction positions `k`, and row `r` of an N:4 tile (group `r / N`)
//! needs positions `4 * (r / N) + j` on its lanes `j = 0..4`. A dense vector is
//! one entry: row `r` takes lane `r` of bank `bank` on lane 0.
//!
//! A dense-only array (one bank, one lane) passes the entry straight through.

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct VectorRoute {
    /// Bank-major: entry lane `k` of bank `b` at `banks_in[b * rows + k]`.
    pub banks_in: Vec<Signal<In, Signed<16>>>,
    /// The bank holding the vector's first entry.
    pub bank: Signal<In, Bits<16>>,
    /// N of the N:4 mode; 0 for dense.
    pub nm: Signal<In, Bits<2>>,
    /// Row `r`'s lanes at `lanes[r * lane_count + j]`.
    pub lanes: Vec<Signal<Out, Signed<16>>>,
    /// `bank / 2`: which pair of banks a 2:4 vector starts at.
    bank_pair: Signal<Local, Bits<16>>,
    _rows: usize,
    _banks: usize,
    _lanes: usize,
    /// Loop ranges that are empty unless the config has the mode: `0..1` or `0..0`.
    _has_2of4: usize,
    _has_1of4: usize,
    /// Bank pairs a 2:4 vector may start at.
    _starts_2of4: usize,
    /// Row pairs (groups) of a 2:4 tile.
    _groups_2of4: usize,
}

impl VectorRoute {
    /// `n_of_4` lists the N:4 modes the array has (1 and/or 2); none for a dense array.
    pub fn new(rows: usize, n_of_4: &[u8]) -> Self {
        let banks = n_of_4.iter().map(|&n| tessera_isa::nm::ratio(n) as usize).max().unwrap_or(1);
        let lanes = if n_of_4.is_empty() { 1 } else { 4 };
        assert!(n_of_4.iter().all(|n| *n == 1 || (*n == 2 && rows.is_multiple_of(2))));
        Self {
            banks_in: (0..banks * rows).map(|_| Default::default()).collect(),
            bank: Default::default(),
            nm: Default::default(),
            lanes: (0..rows * lanes).map(|_| Default::default()).collect(),
            bank_pair: Default::default(),
            _rows: rows,
            _banks: banks,
            _lanes: lanes,
            _has_2of4: usize::from(n_of_4.contains(&2)),
            _has_1of4: usize::from(n_of_4.contains(&1)),
            _starts_2of4: banks / 2,
            _groups_2of4: rows / 2,
        }
    }

    /// Entries one IBUF read returns.
    pub fn banks(&self) -> usize {
        self._banks
    }

    /// Activation lanes per array row.
    pub fn lane_count(&self) -> usize {
        self._lanes
    }
}

impl Logic for VectorRoute {
    #[hdl_gen]
    fn update(&mut self) {
        self.bank_pair.next = self.bank.val() >> 1;
        for rr in self._rows..(self._rows + 1) {
            for ll in self._lanes..(self._lanes + 1) {
                // Default (and dense): bank 0's lane r on every lane of row r.
                for r in 0..self._rows {
                    for j in 0..self._lanes {
                        self.lanes[r * ll + j].next = self.banks_in[r].val();
                    }
                }
                for b in 1..self._banks {
                    if self.bank.val().index() == b {
                        for r in 0..self._rows {
                            self.lanes[r * ll].next = self.banks_in[b * rr + r].val();
                        }
                    }
                }
                // 2:4: rows 2g and 2g + 1 share group g's four positions.
                for _m in 0..self._has_2of4 {
                    if self.nm.val() == 2 {
                        for s in 0..self._starts_2of4 {
                            if self.bank_pair.val().index() == s {
                                for g in 0..self._groups_2of4 {
                                    for j in 0..4 {
                                        self.lanes[(2 * g) * ll + j].next = self.banks_in[2 * s * rr + 4 * g + j].val();
                                        self.lanes[(2 * g + 1) * ll + j].next =
                                            self.banks_in[2 * s * rr + 4 * g + j].val();
                                    }
                                }
                            }
                        }
                    }
                }
                // 1:4: row r has group r.
                for _m in 0..self._has_1of4 {
                    if self.nm.val() == 1 {
                        for r in 0..self._rows {
                            for j in 0..4 {
                                self.lanes[r * ll + j].next = self.banks_in[4 * r + j].val();
                            }
                        }
                    }
                }
            }
        }
    }
}
