//! A random int8 3x3 convolution layer (NHWC, "same" padding, TFLite-style
//! per-channel fixed-point requantization) lowered as the compiler lowers a model's
//! convolution: implicit im2col on the array, dense or as N:4 tiles. Its reference
//! is a direct nested-loop convolution and `tessera_isa::quant`. `bench sparse`
//! runs it.

use super::backend::Backend;
use super::gemm_job::{prune, random_params, requantize_all, run_checked, GemmRun, Pruning, A_ZERO, OUT_ZERO};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_compiler::gemm_bundle::conv_layer_bundle;
use tessera_compiler::program::{Affine, ConvGeometry, GemmLayer, LayerOutput, Window};
use tessera_compiler::tensor::ElemType;
use tessera_isa::bundle::Bundle;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::RequantMode;

pub struct ConvJob {
    /// Input `h x w x c`, `m` output channels.
    pub shape: [usize; 4],
    pub bundle: Bundle,
    /// The reference output, NHWC.
    pub expected: Vec<i8>,
    /// The (pruned) kernel as a `9c x m` matrix, rows in (tap, channel) order.
    pub weights: Vec<u8>,
}

/// The 3x3 "same" window over NHWC activations.
fn window() -> Window {
    Window { channels_last: true, ..Window::nchw([3, 3], [1; 4], [1, 1]) }
}

/// Builds the convolution of an `h x w x c` image to `m` channels with operands from
/// `seed`, its kernel pruned by `pruning`, its weights as N:4 tiles when `nm` is N.
/// Fails when the image does not fit the input buffer or the channels do not divide
/// into N:4 tiles.
pub fn build(
    cfg: &AccelConfig,
    [h, w, c, m]: [usize; 4],
    seed: u64,
    pruning: Pruning,
    nm: u8,
) -> anyhow::Result<ConvJob> {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = 9 * c;
    let x: Vec<i64> = (0..h * w * c).map(|_| rng.random_range(-128..=127)).collect();
    let mut kernel = Array2::from_shape_fn((k, m), |_| rng.random_range(-128i32..=127));
    prune(&mut kernel, pruning, &mut rng);
    let params = random_params(&mut rng, k, m);
    let layer = GemmLayer {
        node: format!("conv3x3 {h}x{w}x{c}->{m}"),
        batches: 1,
        k,
        n: m,
        weights: kernel.iter().map(|&v| i64::from(v)).collect(),
        w_type: ElemType::I8,
        w_zero: 0,
        w_zero_columns: None,
        a_type: ElemType::I8,
        a_zero: A_ZERO.into(),
        output: LayerOutput::Requant {
            params: params.clone(),
            out: Affine { scale: 1.0, zero: OUT_ZERO.into(), dtype: ElemType::I8, half_scale: false },
            mode: RequantMode::Fixed,
            clamp: (-128, 127),
        },
    };
    let geometry = ConvGeometry::new(c, window());
    let (bundle, _) = conv_layer_bundle(cfg, &layer, &geometry, &x, [1, h, w], nm)?;

    // The convolution, directly: output pixel (y, x), channel o.
    let mut acc = Vec::with_capacity(h * w * m);
    for (y, xo) in (0..h).flat_map(|y| (0..w).map(move |xo| (y, xo))) {
        for o in 0..m {
            let mut sum = 0i32;
            for (i, j) in (0..3).flat_map(|i| (0..3).map(move |j| (i, j))) {
                let (r, q) = ((y + i).checked_sub(1), (xo + j).checked_sub(1));
                let (Some(r), Some(q)) = (r.filter(|&r| r < h), q.filter(|&q| q < w)) else { continue };
                for ch in 0..c {
                    let a = x[(r * w + q) * c + ch] as i32 - i32::from(A_ZERO);
                    sum += a * kernel[[(i * 3 + j) * c + ch, o]];
                }
            }
            acc.push(sum);
        }
    }
    let expected = requantize_all(acc.into_iter(), &params);
    let weights = kernel.iter().map(|&v| v as u8).collect();
    Ok(ConvJob { shape: [h, w, c, m], bundle, expected, weights })
}

impl ConvJob {
    /// Runs the job on `backend` and checks every output against the reference.
    pub fn run(&self, cfg: &AccelConfig, backend: Backend) -> anyhow::Result<GemmRun> {
        let [h, w, c, m] = self.shape;
        let what = format!("the 3x3 convolution {h}x{w}x{c} -> {m}");
        run_checked(cfg, backend, None, &self.bundle, &self.expected, &what)
    }
}
