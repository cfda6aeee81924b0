//! The N:4 structured-sparse weight tile: how a `GEMM` with `nm = N` finds its
//! compressed weights and their index metadata in the weight buffer.
//!
//! The array's PE pairs share one DSP slice between two neighbouring columns, so
//! both columns of a pair multiply the same activation. An N:4 tile therefore keeps,
//! for every array row `r` (group `g = r / N` of four reduction positions, slot
//! `r % N`), one 2-bit index per column *pair* choosing which of the group's four
//! activations the pair multiplies, and one compressed weight per column. A tile of
//! `rows` physical rows covers `rows * 4 / N` reduction positions (see
//! `docs/sparse.md` for why the index is per pair).
//!
//! Layout in the weight buffer, blocks of [`META_ROWS`] rows: one metadata entry,
//! then the block's value entries (one per row, `cols` operands). Metadata byte `b`
//! of a block's entry describes pair `b % pairs` for the four rows starting at
//! `4 * (b / pairs)` within the block, two bits per row, the first row in bits 1..0.

/// Reduction positions per group.
pub const GROUP: u32 = 4;

/// Rows described by one metadata entry: `cols` bytes of four 2-bit indices for
/// `cols / 2` pairs.
pub const META_ROWS: usize = 8;

/// Reduction positions one physical row covers on average: 4 / N (1 for dense).
pub fn ratio(n: u8) -> u32 {
    if n == 0 {
        1
    } else {
        GROUP / u32::from(n)
    }
}

/// Metadata entries of an N:4 tile of `rows` rows: one per block of [`META_ROWS`].
pub fn meta_entries(rows: u32) -> u32 {
    rows.div_ceil(META_ROWS as u32)
}

/// Weight-buffer entries of one tile: `rows` values plus the metadata entries.
pub fn tile_entries(rows: u32, n: u8) -> u32 {
    if n == 0 {
        rows
    } else {
        rows + meta_entries(rows)
    }
}

/// One compressed N:4 tile: `rows x cols` raw operand bytes and a `rows x pairs`
/// activation index (0..4) per row and column pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmTile {
    pub rows: usize,
    pub cols: usize,
    pub n: u8,
    /// Raw operand bytes, row-major `values[r * cols + c]`.
    pub values: Vec<u8>,
    /// `index[r * pairs + p]`: which of row `r`'s group positions pair `p` reads.
    pub index: Vec<u8>,
}

impl NmTile {
    pub fn pairs(&self) -> usize {
        self.cols / 2
    }

    /// The reduction position (within the tile) row `r` of pair `p` multiplies.
    pub fn position(&self, r: usize, p: usize) -> usize {
        (r / usize::from(self.n)) * GROUP as usize + usize::from(self.index[r * self.pairs() + p])
    }

    /// The tile as weight-buffer entries, `tile_entries` x `cols` bytes.
    pub fn to_entries(&self) -> Vec<u8> {
        let (cols, pairs) = (self.cols, self.pairs());
        let mut out = Vec::with_capacity(tile_entries(self.rows as u32, self.n) as usize * cols);
        for block in (0..self.rows).step_by(META_ROWS) {
            let mut meta = vec![0u8; cols];
            for r in block..(block + META_ROWS).min(self.rows) {
                let (half, t) = ((r - block) / 4, (r - block) % 4);
                for p in 0..pairs {
                    meta[half * pairs + p] |= (self.index[r * pairs + p] & 3) << (2 * t);
                }
            }
            out.extend_from_slice(&meta);
            for r in block..(block + META_ROWS).min(self.rows) {
                out.extend_from_slice(&self.values[r * cols..(r + 1) * cols]);
            }
        }
        out
    }

    /// Reads a tile back from weight-buffer entries (the inverse of [`to_entries`](Self::to_entries)).
    pub fn from_entries(entries: &[u8], rows: usize, cols: usize, n: u8) -> NmTile {
        let pairs = cols / 2;
        let mut tile = NmTile { rows, cols, n, values: vec![0; rows * cols], index: vec![0; rows * pairs] };
        let mut at = 0;
        for block in (0..rows).step_by(META_ROWS) {
            let meta = &entries[at * cols..(at + 1) * cols];
            at += 1;
            for r in block..(block + META_ROWS).min(rows) {
                let (half, t) = ((r - block) / 4, (r - block) % 4);
                for p in 0..pairs {
                    tile.index[r * pairs + p] = (meta[half * pairs + p] >> (2 * t)) & 3;
                }
                tile.values[r * cols..(r + 1) * cols].copy_from_slice(&entries[at * cols..(at + 1) * cols]);
                at += 1;
            }
        }
        tile
    }

    /// The dense `(rows * 4 / N) x cols` weights the tile stands for, `weights[k * cols + c]`,
    /// with `value` turning a raw operand byte into the multiplied weight. Two rows of
    /// a group that pick the same position both contribute, as in the array.
    pub fn decompress(&self, value: impl Fn(u8) -> i32) -> Vec<i32> {
        let k = self.rows * ratio(self.n) as usize;
        let mut dense = vec![0i32; k * self.cols];
        for r in 0..self.rows {
            for c in 0..self.cols {
                let pos = self.position(r, c / 2);
                dense[pos * self.cols + c] += value(self.values[r * self.cols + c]);
            }
        }
        dense
    }
}

/// The most nonzero positions any column pair has in any group of four of the
/// `k x cols` raw weights `raw[k * cols + c]` (`zero` is a pruned weight's raw
/// byte; a missing last column counts as pruned). A block whose count is at most N
/// packs into N:4 tiles.
pub fn max_pair_group_nonzeros(raw: &[u8], k: usize, cols: usize, zero: u8) -> u32 {
    let mut worst = 0;
    for g in 0..k.div_ceil(GROUP as usize) {
        for p in 0..cols.div_ceil(2) {
            let count = group_positions(raw, k, cols, zero, g, p).count() as u32;
            worst = worst.max(count);
        }
    }
    worst
}

/// Positions (0..4) within group `g` where column pair `p` has a nonzero weight.
fn group_positions(
    raw: &[u8],
    k: usize,
    cols: usize,
    zero: u8,
    g: usize,
    p: usize,
) -> impl Iterator<Item = usize> + '_ {
    (0..GROUP as usize).filter(move |j| {
        let kk = g * GROUP as usize + j;
        kk < k && [2 * p, 2 * p + 1].iter().any(|&c| c < cols && raw[kk * cols + c] != zero)
    })
}

/// The `span x cols` block at (`k0`, `n0`) of the `k x n` raw weights `w` (row-major),
/// padded with `zero` (a pruned weight) past either edge: one tile's weights.
pub fn matrix_block(w: &[u8], [k, n]: [usize; 2], [k0, n0]: [usize; 2], span: usize, cols: usize, zero: u8) -> Vec<u8> {
    let mut block = vec![zero; span * cols];
    for kk in 0..span.min(k.saturating_sub(k0)) {
        for c in 0..cols.min(n.saturating_sub(n0)) {
            block[kk * cols + c] = w[(k0 + kk) * n + n0 + c];
        }
    }
    block
}

/// Packs raw weights `raw[k * cols + c]` (`k <= rows * 4 / n` positions, `cols`
/// even) into an N:4 tile; `zero` is a pruned weight's raw byte. `None` when a
/// column pair has more than `n` nonzero positions in some group.
pub fn pack(raw: &[u8], k: usize, rows: usize, cols: usize, n: u8, zero: u8) -> Option<NmTile> {
    assert!(cols.is_multiple_of(2) && n >= 1 && k <= rows * ratio(n) as usize);
    let pairs = cols / 2;
    let mut tile = NmTile { rows, cols, n, values: vec![zero; rows * cols], index: vec![0; rows * pairs] };
    for g in 0..rows / usize::from(n) {
        for p in 0..pairs {
            let positions: Vec<usize> = group_positions(raw, k, cols, zero, g, p).collect();
            if positions.len() > usize::from(n) {
                return None;
            }
            for (slot, j) in positions.into_iter().enumerate() {
                let r = g * usize::from(n) + slot;
                tile.index[r * pairs + p] = j as u8;
                let kk = g * GROUP as usize + j;
                for c in [2 * p, 2 * p + 1] {
                    tile.values[r * cols + c] = raw[kk * cols + c];
                }
            }
        }
    }
    Some(tile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_layout() {
        // 12 rows (a full block and a half one), 4 columns, 2:4.
        let (rows, cols) = (12, 4);
        let values: Vec<u8> = (0..rows * cols).map(|i| i as u8).collect();
        let index: Vec<u8> = (0..rows * 2).map(|i| (i * 7 % 4) as u8).collect();
        let tile = NmTile { rows, cols, n: 2, values, index };
        let entries = tile.to_entries();
        assert_eq!(entries.len(), tile_entries(12, 2) as usize * cols);
        assert_eq!(entries.len(), (12 + 2) * cols);
        // Block 0's metadata, byte 0: pair 0 of rows 0..4, indices 0, 2, 0, 2 (i*7%4 for i = 0, 2, 4, 6).
        assert_eq!(entries[0], 0b10_00_10_00);
        // Row 0's values follow the metadata entry; block 1's metadata sits after row 7.
        assert_eq!(&entries[cols..2 * cols], &[0, 1, 2, 3]);
        assert_eq!(&entries[10 * cols..11 * cols], &[32, 33, 34, 35]);
        assert_eq!(NmTile::from_entries(&entries, rows, cols, 2), tile);
    }

    #[test]
    fn pack_inverts_decompress_and_refuses_dense_groups() {
        // 8 positions (two groups) x 4 columns, 2:4 per column pair, on a 4-row tile.
        #[rustfmt::skip]
        let raw: Vec<u8> = vec![
            0, 0, 5, 0,
            3, 4, 0, 0,
            0, 0, 0, 6,
            0, 7, 0, 0,
            0, 0, 0, 0,
            0, 0, 0, 0,
            9, 0, 0, 0,
            0, 0, 0, 0,
        ];
        assert_eq!(max_pair_group_nonzeros(&raw, 8, 4, 0), 2);
        let tile = pack(&raw, 8, 4, 4, 2, 0).unwrap();
        assert_eq!(tile.decompress(i32::from), raw.iter().map(|&b| i32::from(b)).collect::<Vec<_>>());
        assert!(pack(&raw, 8, 4, 4, 1, 0).is_none(), "pair 0 has two positions in group 0");
    }

    #[test]
    fn decompress_places_weights_by_group_and_index() {
        // 1:4, 2 rows, 2 columns: row 0 (group 0) picks position 3, row 1 (group 1) position 1.
        let tile = NmTile { rows: 2, cols: 2, n: 1, values: vec![5, 6, 7, 8], index: vec![3, 1] };
        let dense = tile.decompress(|b| i32::from(b as i8));
        let mut expect = vec![0; 8 * 2];
        expect[3 * 2] = 5;
        expect[3 * 2 + 1] = 6;
        expect[5 * 2] = 7;
        expect[5 * 2 + 1] = 8;
        assert_eq!(dense, expect);
    }
}
