//! What the compiler sees of a layer's weight sparsity: the share of weights that are
//! not their zero point, and the densest N:M pattern (`1:4`, `2:4`) every group of
//! four consecutive input channels of every output channel satisfies. `tessera
//! compile --report` prints it; the sparse engines (issue #6) will choose by it.

use crate::program::{ConvGeometry, GemmLayer};

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
