//! The sparse engine's tile format (`SPMV`, `docs/sparse.md`): compressed sparse
//! columns split across the engine's PEs.
//!
//! PE `p` owns the weight buffer's column pair `2p, 2p + 1`, and with it the output
//! channels whose accumulator lane is `2p` or `2p + 1`: output `n` of a tile lives in
//! accumulator entry `n / cols`, lane `n % cols`, and is the PE's local row
//! `2 * (n / cols) + n % 2`. Interleaving the outputs this way balances the nonzeros
//! across PEs without any help from the compiler.
//!
//! A tile of `k` columns is `ceil(k / 2)` count entries followed by the item
//! entries. In count entry `j`, PE `p`'s low byte is the number of its nonzeros in
//! column `2j` and the high byte in column `2j + 1`. Each item entry holds one
//! 16-bit item per PE: the weight (low byte) and its local row (high byte); a PE's
//! items are its nonzeros in column order, and the shorter PEs' lists are padded
//! with zero items up to the longest.

/// Count entries of a tile of `k` columns (two 8-bit counts per PE per entry).
pub fn count_entries(k: usize) -> usize {
    k.div_ceil(2)
}

/// Which PE owns tile output `n`, and as which local row.
pub fn owner(n: usize, cols: usize) -> (usize, usize) {
    let lane = n % cols;
    (lane / 2, 2 * (n / cols) + lane % 2)
}

/// A packed tile: per PE, its column counts and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpmvTile {
    pub k: usize,
    /// Accumulator entries the tile writes (`cols` outputs each).
    pub out_entries: usize,
    /// `counts[p][k]`: PE `p`'s nonzeros in column `k`.
    pub counts: Vec<Vec<u8>>,
    /// `items[p]`: PE `p`'s nonzeros in column order, as (raw weight, local row).
    pub items: Vec<Vec<(u8, u8)>>,
}

impl SpmvTile {
    /// Packs the `k x n` block `weight(k, n)` (raw operand bytes), keeping every
    /// weight that differs from `zero` (the raw byte of the weight zero point).
    ///
    /// `n` is rounded up to whole accumulator entries; a PE column may hold at most
    /// 255 nonzeros, which the engine's `max_n` (at most 64 entries of `cols`)
    /// guarantees.
    pub fn pack(k: usize, n: usize, cols: usize, zero: u8, weight: impl Fn(usize, usize) -> u8) -> SpmvTile {
        let pes = cols / 2;
        let out_entries = n.div_ceil(cols);
        // `flat[p * k + kk]`: PE p's nonzeros in column kk.
        let mut flat = vec![0u8; pes * k];
        let mut items = vec![Vec::new(); pes];
        for kk in 0..k {
            for nn in 0..n {
                let w = weight(kk, nn);
                if w != zero {
                    let (p, row) = owner(nn, cols);
                    let count = &mut flat[p * k + kk];
                    *count = count.checked_add(1).expect("at most 255 nonzeros per PE column");
                    items[p].push((w, row as u8));
                }
            }
        }
        let counts = flat.chunks(k.max(1)).map(<[u8]>::to_vec).collect();
        SpmvTile { k, out_entries, counts, items }
    }

    /// Item entries: the longest PE's list.
    pub fn item_entries(&self) -> usize {
        self.items.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Weight-buffer entries of the whole tile.
    pub fn entries(&self) -> usize {
        count_entries(self.k) + self.item_entries()
    }

    /// The tile as weight-buffer entries of `cols` bytes (what `LOAD` copies in).
    pub fn to_entries(&self, cols: usize) -> Vec<u8> {
        let mut out = vec![0u8; self.entries() * cols];
        for (p, counts) in self.counts.iter().enumerate() {
            for (kk, c) in counts.iter().enumerate() {
                out[(kk / 2) * cols + 2 * p + kk % 2] = *c;
            }
        }
        let first = count_entries(self.k);
        for (p, items) in self.items.iter().enumerate() {
            for (i, (w, row)) in items.iter().enumerate() {
                let at = (first + i) * cols + 2 * p;
                out[at] = *w;
                out[at + 1] = *row;
            }
        }
        out
    }

    /// Nonzero items (the MACs the engine does when no activation is zero).
    pub fn nonzeros(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x6 block on a 4-column accelerator (2 PEs), laid out by hand.
    #[test]
    fn packs_a_hand_laid_tile() {
        // Nonzeros (k, n, w): (0,0,5) (0,3,7) (1,5,9) (2,0,1) (2,2,2) (2,4,3)
        let w = |k: usize, n: usize| match (k, n) {
            (0, 0) => 5,
            (0, 3) => 7,
            (1, 5) => 9,
            (2, 0) => 1,
            (2, 2) => 2,
            (2, 4) => 3,
            _ => 0,
        };
        let t = SpmvTile::pack(3, 6, 4, 0, w);
        assert_eq!(t.out_entries, 2);
        // n=0: lane 0 -> PE 0 row 0; n=3: lane 3 -> PE 1 row 1; n=5: entry 1 lane 1 -> PE 0 row 3;
        // n=2: lane 2 -> PE 1 row 0; n=4: entry 1 lane 0 -> PE 0 row 2.
        assert_eq!(t.counts, vec![vec![1, 1, 2], vec![1, 0, 1]]);
        assert_eq!(t.items, vec![vec![(5, 0), (9, 3), (1, 0), (3, 2)], vec![(7, 1), (2, 0)]]);
        assert_eq!(t.item_entries(), 4);
        let e = t.to_entries(4);
        assert_eq!(e.len(), (2 + 4) * 4);
        // Count entry 0: columns 0 and 1; entry 1: column 2 (and an empty column 3).
        assert_eq!(&e[0..8], &[1, 1, 1, 0, 2, 0, 1, 0]);
        assert_eq!(&e[8..12], &[5, 0, 7, 1]);
        assert_eq!(&e[20..24], &[3, 2, 0, 0]);
    }
}
