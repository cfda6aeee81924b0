//! What the compiler sees of a layer's weight sparsity: the share of weights that are
//! not their zero point, and the densest N:M pattern (`1:4`, `2:4`) every group of
//! four consecutive input channels of every output channel satisfies. `tessera
//! compile --report` prints it; the sparse engines (issue #6) will choose by it.

use crate::program::{ConvGeometry, GemmLayer};
use tessera_isa::config::AccelConfig;
use tessera_isa::nm;

/// A layer's weight sparsity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sparsity {
    /// Weights that are not the zero point, over all weights.
    pub density: f64,
    /// The smallest `n` with every group of `m` consecutive input channels holding at
    /// most `n` such weights (`n < m`), if any.
    pub n_of_m: Option<(usize, usize)>,
}

impl std::fmt::Display for Sparsity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.n_of_m {
            Some((n, m)) => write!(f, "{n}:{m}, {:.0}% dense", 100.0 * self.density),
            None if self.density < 1.0 => write!(f, "{:.0}% dense", 100.0 * self.density),
            None => write!(f, "dense"),
        }
    }
}

/// The sparsity of `layer`'s weights (`geometry` for a convolution, whose input
/// channels are every `taps`-th row in ONNX's (c, i, j) order).
pub fn weight_sparsity(layer: &GemmLayer, geometry: Option<&ConvGeometry>) -> Sparsity {
    let (k, n) = (layer.k, layer.n);
    let zero = |c: usize| layer.w_zero_columns.as_ref().map_or(layer.w_zero, |z| z[c]);
    let total = layer.weights.len().max(1);
    let nonzero = layer.weights.iter().enumerate().filter(|(i, &w)| w != zero(i % n)).count();
    // Input channels and kernel positions; ONNX kernels flatten (c, i, j), TFLite
    // kernels and GEMMs (i, j, c).
    let (channels, taps, channel_major) = match geometry {
        Some(g) => (g.channels, k / g.channels.max(1), !g.window.channels_last),
        None => (k, 1, false),
    };
    let row = |ch: usize, tap: usize| if channel_major { ch * taps + tap } else { tap * channels + ch };
    const M: usize = 4;
    let mut worst = 0;
    for b in 0..layer.batches {
        let w = &layer.weights[b * k * n..(b + 1) * k * n];
        for (col, tap) in (0..n).flat_map(|c| (0..taps).map(move |t| (c, t))) {
            for start in (0..channels).step_by(M) {
                let count =
                    (start..(start + M).min(channels)).filter(|&ch| w[row(ch, tap) * n + col] != zero(col)).count();
                worst = worst.max(count);
            }
        }
    }
    Sparsity {
        density: nonzero as f64 / total as f64,
        n_of_m: (channels >= M && worst < M).then_some((worst.max(1), M)),
    }
}

/// The raw byte of a pruned weight: the zero point as the array sees it.
fn zero_byte(w_zero: i16) -> u8 {
    w_zero as u8
}

/// The N of the N:4 mode the `k x n` raw weights (row-major, `w_zero` their zero
/// point) can run in on `cfg`: the smallest the array has that every column pair's
/// group of four reduction positions fits. `None` for dense weights, a nonzero
/// weight zero point (an N:4 tile's pruned weights must be zero), or no N:4 mode.
pub fn nm_mode(cfg: &AccelConfig, w: &[u8], k: usize, n: usize, w_zero: i16, w_unsigned: bool) -> Option<u8> {
    if w_zero != cfg.nm_weight_zero(w_unsigned) || cfg.array.operand_bits != 8 {
        return None;
    }
    let worst = nm::max_pair_group_nonzeros(w, k, n, zero_byte(w_zero));
    cfg.n_of_4_modes().into_iter().find(|&m| u32::from(m) >= worst)
}

/// `k x n` raw weights (row-major) as the N:4 tiles of [`WeightLayout::Sparse`]:
/// column block by column block, each its K tiles of `rows * 4 / N` positions,
/// padded with pruned weights. `None` when some column pair has more than N nonzero
/// positions in a group.
///
/// [`WeightLayout::Sparse`]: crate::gemm::WeightLayout::Sparse
pub fn pack_nm_weights(cfg: &AccelConfig, w: &[u8], k: usize, n: usize, n_of_4: u8, w_zero: i16) -> Option<Vec<u8>> {
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let span = rows * nm::ratio(n_of_4) as usize;
    let zero = zero_byte(w_zero);
    let mut out = Vec::new();
    for n0 in (0..n).step_by(cols) {
        for k0 in (0..k).step_by(span) {
            let block = nm::matrix_block(w, [k, n], [k0, n0], span, cols, zero);
            out.extend(nm::pack(&block, span, rows, cols, n_of_4, zero)?.to_entries());
        }
    }
    Some(out)
}
