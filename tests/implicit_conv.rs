//! Convolutions lowered as implicit im2col (`compiler::gemm::lower_conv` through
//! `gemm_bundle::conv_layer_bundle`), on random geometries: strides, dilations,
//! asymmetric padding, channel counts that are and are not multiples of the array's
//! rows, several images per tile and several tiles, NHWC and NCHW kernels, signed
//! and unsigned operands with zero points. The golden model and the Verilated RTL
//! must leave identical DDR images, and the int32 outputs must equal a direct
//! nested-loop convolution written here. The same with N:4-pruned kernels run as
//! N:4 tiles on the tiny array with the sparse modes.

mod common;

use common::{cosim, DdrImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_compiler::gemm_bundle::conv_layer_bundle;
use tessera_compiler::program::{ConvGeometry, GemmLayer, LayerOutput, Window};
use tessera_compiler::tensor::ElemType;
use tessera_isa::bundle::Role;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::Instr;

struct Conv {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    m: usize,
    window: Window,
}

/// The direct convolution: `x` NHWC, `weight(o, i, j, ch)`, output `[n, oh, ow, m]`.
fn direct(conv: &Conv, x: &[i64], x_zero: i64, weight: impl Fn(usize, usize, usize, usize) -> i64) -> Vec<i64> {
    let g = &conv.window;
    let span = |k: usize, d: usize| d * (k - 1) + 1;
    let oh = (conv.h + g.pads[0] + g.pads[2] - span(g.kernel[0], g.dilations[0])) / g.strides[0] + 1;
    let ow = (conv.w + g.pads[1] + g.pads[3] - span(g.kernel[1], g.dilations[1])) / g.strides[1] + 1;
    let mut out = Vec::new();
    for b in 0..conv.n {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            for o in 0..conv.m {
                let mut acc = 0;
                for (i, j) in (0..g.kernel[0]).flat_map(|i| (0..g.kernel[1]).map(move |j| (i, j))) {
                    let r = (y * g.strides[0] + i * g.dilations[0]).checked_sub(g.pads[0]).filter(|&r| r < conv.h);
                    let q = (xo * g.strides[1] + j * g.dilations[1]).checked_sub(g.pads[1]).filter(|&q| q < conv.w);
                    if let (Some(r), Some(q)) = (r, q) {
                        for ch in 0..conv.c {
                            acc += (x[((b * conv.h + r) * conv.w + q) * conv.c + ch] - x_zero) * weight(o, i, j, ch);
                        }
                    }
                }
                out.push(acc);
            }
        }
    }
    out
}

fn random_conv(rng: &mut StdRng) -> Conv {
    let kernel = [rng.random_range(1..=3), rng.random_range(1..=3)];
    let dilations = [rng.random_range(1..=2), rng.random_range(1..=2)];
    let pads = [0; 4].map(|_| rng.random_range(0..=2));
    let h = rng.random_range(dilations[0] * (kernel[0] - 1) + 1..=9);
    let w = rng.random_range(dilations[1] * (kernel[1] - 1) + 1..=9);
    let strides = [rng.random_range(1..=2), rng.random_range(1..=2)];
    Conv {
        n: rng.random_range(1..=5),
        h,
        w,
        c: rng.random_range(1..=9),
        m: rng.random_range(1..=9),
        window: Window { kernel, pads, strides, dilations, channels_last: rng.random_bool(0.5), ceil_mode: false },
    }
}

#[test]
fn implicit_im2col_convolutions_equal_a_direct_convolution_on_golden_and_rtl() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let mut checked = 0;
    for seed in 0..24 {
        let mut rng = StdRng::seed_from_u64(seed);
        let conv = random_conv(&mut rng);
        checked += usize::from(check_conv(&cfg, seed, &mut rng, &conv, 0));
    }
    // Most geometries fit tiny's input buffer; all of them must be checked cases.
    println!("{checked} of 24 geometries checked");
    assert!(checked >= 18, "only {checked} of 24 geometries fit");
}

/// N:4 tiles in implicit im2col (pixel-major images, 4 / N channel blocks per
/// vector): kernels pruned per column pair and channel group, 8 or 16 channels.
#[test]
fn implicit_im2col_with_n_of_4_tiles_equals_a_direct_convolution_on_golden_and_rtl() {
    let cfg = AccelConfig::builtin("tiny-sparse").unwrap();
    let mut checked = 0;
    for seed in 0..16 {
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let nm = [1, 2][seed as usize % 2];
        let mut conv = random_conv(&mut rng);
        // A small image (at most 7x7 padded) of one N:4 tile's channels, so that two
        // images fit half of tiny's input buffer.
        conv.c = cfg.array.rows as usize * 4 / usize::from(nm);
        conv.n = conv.n.min(2);
        conv.window.pads = conv.window.pads.map(|p| p.min(1));
        let span = |k: usize| conv.window.dilations[k] * (conv.window.kernel[k] - 1) + 1;
        (conv.h, conv.w) = (conv.h.min(5).max(span(0)), conv.w.min(5).max(span(1)));
        checked += usize::from(check_conv(&cfg, seed, &mut rng, &conv, nm));
    }
    println!("{checked} of 16 geometries checked");
    assert_eq!(checked, 16, "only {checked} of 16 geometries fit");
}

/// Lowers `conv` with random operands (weights pruned to N:4 per column pair when
/// `nm` is N) and checks golden, RTL and the direct convolution; false when an
/// image does not fit half the input buffer.
fn check_conv(cfg: &AccelConfig, seed: u64, rng: &mut StdRng, conv: &Conv, nm: u8) -> bool {
    let (a_type, w_type) = (
        if rng.random_bool(0.3) { ElemType::U8 } else { ElemType::I8 },
        if rng.random_bool(0.3) { ElemType::U8 } else { ElemType::I8 },
    );
    let value = |t: ElemType, rng: &mut StdRng| {
        if t == ElemType::U8 {
            rng.random_range(0..=255)
        } else {
            rng.random_range(-128..=127)
        }
    };
    // N:4 tiles need zero weights: the zero point of the weights' type.
    let (a_zero, w_zero) = match (nm, w_type) {
        (0, _) => (value(a_type, rng), value(w_type, rng)),
        (_, ElemType::U8) => (value(a_type, rng), 128),
        _ => (value(a_type, rng), 0),
    };
    let (taps, c, m) = (conv.window.kernel[0] * conv.window.kernel[1], conv.c, conv.m);
    let x: Vec<i64> = (0..conv.n * conv.h * conv.w * c).map(|_| value(a_type, rng)).collect();
    // The kernel as its layout stores it: rows (i, j, c) for NHWC, (c, i, j) for NCHW.
    let mut weights: Vec<i64> = (0..taps * c * m).map(|_| value(w_type, rng)).collect();
    let kw = conv.window.kernel[1];
    let row = |i: usize, j: usize, ch: usize| {
        if conv.window.channels_last {
            (i * kw + j) * c + ch
        } else {
            ch * taps + i * kw + j
        }
    };
    if nm != 0 {
        // Keep nm random channels of every group of four, per tap and column pair.
        for (tap, g, p) in
            (0..taps).flat_map(|t| (0..c / 4).flat_map(move |g| (0..m.div_ceil(2)).map(move |p| (t, g, p))))
        {
            let keep: Vec<usize> = (0..nm).map(|_| 4 * g + rng.random_range(0..4)).collect();
            for ch in (4 * g..4 * g + 4).filter(|ch| !keep.contains(ch)) {
                for o in 2 * p..(2 * p + 2).min(m) {
                    weights[row(tap / kw, tap % kw, ch) * m + o] = w_zero;
                }
            }
        }
    }
    let layer = GemmLayer {
        node: format!("conv{seed}"),
        batches: 1,
        k: taps * c,
        n: m,
        weights: weights.clone(),
        w_type,
        w_zero,
        w_zero_columns: None,
        a_type,
        a_zero,
        output: LayerOutput::Raw32,
    };
    let geometry = ConvGeometry { channels: c, window: conv.window };
    let Ok((bundle, tiling)) = conv_layer_bundle(cfg, &layer, &geometry, &x, [conv.n, conv.h, conv.w], nm) else {
        return false; // an image larger than half the input buffer
    };
    let program = bundle.program().unwrap();
    if nm != 0 {
        assert!(
            program.instrs.iter().any(|i| matches!(i, Instr::Gemm(g) if g.nm == nm)),
            "seed {seed}: no {nm}:4 GEMM"
        );
    }
    let run = cosim(cfg, &DdrImage { bytes: bundle.image.clone() }, &program);
    let slot = bundle.tensors(Role::Output).next().unwrap();
    let bytes = &run.golden[slot.offset as usize..slot.offset as usize + slot.bytes()];
    let ours: Vec<i64> = (0..slot.elements()).map(|i| i64::from(slot.dtype.get(bytes, i))).collect();
    let expected = direct(conv, &x, a_zero, |o, i, j, ch| weights[row(i, j, ch) * m + o] - w_zero);
    assert_eq!(
        ours, expected,
        "seed {seed} ({nm}:4): {}x{}x{}x{c} -> {m}, window {:?}, tiling {tiling:?}",
        conv.n, conv.h, conv.w, conv.window
    );
    true
}
