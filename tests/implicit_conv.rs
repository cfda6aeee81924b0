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
use tessera_compiler::gemm::{ImageGeometry, OperandQuant};
use tessera_compiler::gemm_bundle::{conv_at, conv_layer_bundle, BundleOutput, ConvOperands};
use tessera_compiler::image::ImageBuilder;
use tessera_compiler::model::stream::Stream;
use tessera_compiler::model::{channel_blocks, conv_per_block};
use tessera_compiler::program::{ConvGeometry, GemmLayer, LayerOutput, Window};
use tessera_compiler::tensor::ElemType;
use tessera_isa::bundle::{DType, Role};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Instr, Program};

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

/// A layer of `[K, N]` `weights` writing int32 accumulators, its activation and
/// weight types and zero points given in that order.
fn raw_layer(node: String, [k, n]: [usize; 2], weights: Vec<i64>, types: [ElemType; 2], zeros: [i64; 2]) -> GemmLayer {
    let ([a_type, w_type], [a_zero, w_zero]) = (types, zeros);
    GemmLayer {
        node,
        batches: 1,
        k,
        n,
        weights,
        w_type,
        w_zero,
        w_zero_columns: None,
        a_type,
        a_zero,
        output: LayerOutput::Raw32,
    }
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
    let layer = raw_layer(format!("conv{seed}"), [taps * c, m], weights.clone(), [a_type, w_type], [a_zero, w_zero]);
    let geometry = ConvGeometry::new(c, conv.window);
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

/// A convolution over a channel slice of a wider NHWC image, writing a column slice
/// of wider output rows (`ImageGeometry::pixel_stride`, `GemmSpec::c_row_stride`: how
/// a depthwise layer runs per channel block, `docs/depthwise.md`): golden and RTL
/// leave identical DDR images, the slice equals the direct convolution of the
/// slice's channels, and the output elements outside the slice stay untouched.
#[test]
fn a_convolution_over_a_channel_slice_writes_its_column_slice_on_golden_and_rtl() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let mut checked = 0;
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(500 + seed);
        let mut conv = random_conv(&mut rng);
        conv.window.channels_last = true;
        let total = rng.random_range(conv.c + 1..=conv.c + 9);
        let first = rng.random_range(0..=total - conv.c);
        let out_total = rng.random_range(conv.m..=conv.m + 7);
        let out_first = rng.random_range(0..=out_total - conv.m);
        let (taps, c, m) = (conv.window.kernel[0] * conv.window.kernel[1], conv.c, conv.m);
        let x: Vec<u8> = (0..conv.n * conv.h * conv.w * total).map(|_| rng.random::<u8>()).collect();
        let w: Vec<u8> = (0..taps * c * m).map(|_| rng.random::<u8>()).collect();
        let (a_zero, w_zero) = (rng.random_range(-128..=127i16), rng.random_range(-128..=127i16));
        let geometry = ImageGeometry { pixel_stride: total, ..ImageGeometry::whole(conv.h, conv.w, c, conv.window) };
        let [oh, ow] = geometry.out().unwrap();
        let rows = conv.n * oh * ow;
        let mut image = ImageBuilder::new();
        let a_addr = image.tensor("a", Role::Input, DType::I8, &[conv.n, conv.h, conv.w, total], &x);
        let c_addr = image.output("c", DType::I32, &[rows, out_total]);
        let ops = ConvOperands {
            images: conv.n,
            geometry,
            n: m,
            c_row_stride: out_total,
            x: &[],
            a_quant: OperandQuant { zero: a_zero, unsigned: false },
            w: &w,
            w_quant: OperandQuant { zero: w_zero, unsigned: false },
            nm: 0,
        };
        let at = [a_addr + first as u32, c_addr + 4 * out_first as u32];
        let Ok(code) = conv_at(&cfg, &ops, BundleOutput::Raw32, at, &mut image, None) else { continue };
        let bundle = image.finish(&cfg, &code.program, "a channel slice");
        let program = bundle.program().unwrap();
        let run = cosim(&cfg, &DdrImage { bytes: bundle.image.clone() }, &program);
        let slot = bundle.tensors(Role::Output).next().unwrap();
        let bytes = &run.golden[slot.offset as usize..slot.offset as usize + slot.bytes()];
        let out: Vec<i64> = (0..slot.elements()).map(|i| i64::from(slot.dtype.get(bytes, i))).collect();
        let slice: Vec<i64> = (0..conv.n * conv.h * conv.w)
            .flat_map(|p| (first..first + c).map(move |ch| p * total + ch))
            .map(|i| i64::from(x[i] as i8))
            .collect();
        let expected = direct(&conv, &slice, i64::from(a_zero), |o, i, j, ch| {
            i64::from(w[((i * conv.window.kernel[1] + j) * c + ch) * m + o] as i8) - i64::from(w_zero)
        });
        for r in 0..rows {
            let got = &out[r * out_total..(r + 1) * out_total];
            assert_eq!(&got[out_first..out_first + m], &expected[r * m..(r + 1) * m], "seed {seed}, row {r}");
            assert!(
                got[..out_first].iter().chain(&got[out_first + m..]).all(|&v| v == 0),
                "seed {seed}, row {r}: written outside the slice"
            );
        }
        checked += 1;
    }
    println!("{checked} of 12 slices checked");
    assert!(checked >= 8, "only {checked} of 12 slices fit");
}

/// Slices that do not hold their channels or outputs are refused.
#[test]
fn slices_narrower_than_their_channels_or_outputs_are_refused() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let window = Window {
        kernel: [3, 3],
        pads: [1; 4],
        strides: [1, 1],
        dilations: [1, 1],
        channels_last: true,
        ceil_mode: false,
    };
    let w = vec![0u8; 9 * 4 * 4];
    let ops = |pixel_stride: usize, c_row_stride: usize| ConvOperands {
        images: 1,
        geometry: ImageGeometry { pixel_stride, ..ImageGeometry::whole(5, 5, 4, window) },
        n: 4,
        c_row_stride,
        x: &[],
        a_quant: OperandQuant::default(),
        w: &w,
        w_quant: OperandQuant::default(),
        nm: 0,
    };
    let lower = |pixel_stride, c_row_stride| {
        let mut image = ImageBuilder::new();
        conv_at(&cfg, &ops(pixel_stride, c_row_stride), BundleOutput::Raw32, [0, 4096], &mut image, None).err()
    };
    assert!(lower(8, 4).is_none() && lower(4, 9).is_none());
    let narrow = lower(3, 4).expect("refused").to_string();
    assert!(narrow.contains("pixels 3 elements apart"), "{narrow}");
    let short = lower(4, 3).expect("refused").to_string();
    assert!(short.contains("output rows 3 elements apart cannot hold 4 outputs"), "{short}");
}

/// Grouped convolutions run per block of output channels
/// (`model::conv_per_block`, `docs/depthwise.md`): blocks of whole groups when a
/// group's outputs fit the array's columns, else parts of one group; each block
/// reads a channel slice of the image whose width and offset need not be multiples
/// of the array's rows and writes a column slice of the int32 output rows. Golden
/// and RTL leave identical DDR images and the output equals the direct grouped
/// convolution, with the blocks' weights streamed or resident.
#[test]
fn a_grouped_convolution_per_channel_block_equals_a_direct_convolution_on_golden_and_rtl() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let cols = cfg.array.cols as usize;
    let (mut checked, mut split_groups, mut wide_slices) = (0, 0, 0);
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(700 + seed);
        let mut conv = random_conv(&mut rng);
        conv.window.channels_last = true;
        conv.n = conv.n.min(2);
        let groups = rng.random_range(2..=4);
        let (per_group, outputs) = (rng.random_range(1..=5), rng.random_range(1..=6));
        (conv.c, conv.m) = (groups * per_group, groups * outputs);
        let (taps, c, m) = (conv.window.kernel[0] * conv.window.kernel[1], conv.c, conv.m);
        let x: Vec<u8> = (0..conv.n * conv.h * conv.w * c).map(|_| rng.random::<u8>()).collect();
        let (a_zero, w_zero) = (rng.random_range(-128..=127i64), rng.random_range(-128..=127i64));
        // Rows (tap, channel of the output's group), one column per output.
        let weights: Vec<i64> = (0..taps * per_group * m).map(|_| rng.random_range(-128..=127)).collect();
        let types = [ElemType::I8; 2];
        let layer =
            raw_layer(format!("grouped{seed}"), [taps * per_group, m], weights.clone(), types, [a_zero, w_zero]);
        let geometry = ConvGeometry { groups, ..ConvGeometry::new(c, conv.window) };
        let g = ImageGeometry::whole(conv.h, conv.w, c, conv.window);
        let [oh, ow] = g.out().unwrap();
        let rows = conv.n * oh * ow;
        let mut image = ImageBuilder::new();
        let a_addr = image.tensor("a", Role::Input, DType::I8, &[conv.n, conv.h, conv.w, c], &x);
        let c_addr = image.output("c", DType::I32, &[rows, m]);
        let resident = rng.random_bool(0.5).then_some(0);
        let dims = [conv.n, conv.h, conv.w];
        let at = [u64::from(a_addr), u64::from(c_addr)];
        let Ok(code) = conv_per_block(&cfg, &mut image, &geometry, &layer, dims, at, resident) else { continue };
        let blocks = channel_blocks(&geometry, m, cols).unwrap();
        assert_eq!(code.programs.len(), blocks.len(), "seed {seed}: one program per block");
        split_groups += usize::from(outputs > cols);
        wide_slices += usize::from(blocks.iter().any(|b| b.inputs.len() > cfg.array.rows as usize));
        let mut stream = Stream::new();
        if resident.is_some() {
            let mut preload = code.preload.clone();
            preload.push(Instr::Finish);
            stream.push_layer(&Program::new(preload));
        }
        for program in &code.programs {
            stream.push_layer(program);
        }
        let bundle = image.finish(&cfg, &stream.finish(), "a grouped convolution");
        let run = cosim(&cfg, &DdrImage { bytes: bundle.image.clone() }, &bundle.program().unwrap());
        let slot = bundle.tensors(Role::Output).next().unwrap();
        let bytes = &run.golden[slot.offset as usize..slot.offset as usize + slot.bytes()];
        let ours: Vec<i64> = (0..slot.elements()).map(|i| i64::from(slot.dtype.get(bytes, i))).collect();
        let x: Vec<i64> = x.iter().map(|&v| i64::from(v as i8)).collect();
        let expected = direct(&conv, &x, a_zero, |o, i, j, ch| {
            let (group, tap) = (o / outputs, i * conv.window.kernel[1] + j);
            if ch / per_group == group {
                weights[(tap * per_group + ch % per_group) * m + o] - w_zero
            } else {
                0
            }
        });
        assert_eq!(ours, expected, "seed {seed}: {groups} groups of {per_group} -> {outputs}, {:?}", conv.window);
        checked += 1;
    }
    println!("{checked} of 12 grouped convolutions checked ({split_groups} split groups, {wide_slices} wide slices)");
    assert!(checked >= 8 && split_groups > 0 && wide_slices > 0, "{checked} checked");
}
