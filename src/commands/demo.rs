//! `tessera demo`: the main job on an embedded default. Today it lowers a quantized
//! int8 GEMM (the core of every dense layer) to an accelerator program, executes it
//! on the golden model and checks every output against ndarray plus the scalar
//! requantization reference. Later issues replace the GEMM with a compiled model
//! and the golden model with the Verilated RTL.

use anyhow::{ensure, Context};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use tessera_compiler::gemm::{lower_gemm, GemmOutput, GemmSpec, OperandQuant};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, RequantMode};
use tessera_isa::quant::{self, ParamLane};
use tessera_sim::Golden;

/// Appends `data` to a DDR image at a 64-byte boundary and returns its offset.
fn place(ddr: &mut Vec<u8>, data: &[u8]) -> u32 {
    let offset = ddr.len().next_multiple_of(64);
    ddr.resize(offset, 0);
    ddr.extend_from_slice(data);
    offset as u32
}

pub fn run(config: &str, size: usize) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(config)?;
    ensure!((1..=4096).contains(&size), "--size must be in 1..=4096, got {size}");
    ensure!(
        cfg.array.operand_bits == 8,
        "the demo runs int8 operands; `{}` has {}-bit operands",
        cfg.name,
        cfg.array.operand_bits
    );
    let (m, k, n) = (size, size, size);
    let mut rng = StdRng::seed_from_u64(2026);
    let a = Array2::from_shape_fn((m, k), |_| rng.random_range(-128i32..=127));
    let b = Array2::from_shape_fn((k, n), |_| rng.random_range(-128i32..=127));
    let a_zero = 3i16;
    // Per-output-channel scales as a TFLite per-channel layer would have them.
    let params: Vec<ParamLane> = (0..n)
        .map(|_| {
            let real = rng.random_range(2e-5..2e-4) * 64.0 / (k as f64).sqrt();
            ParamLane::fixed(rng.random_range(-2000..2000), quant::quantize_multiplier(real).expect("finite scale"))
        })
        .collect();
    let (zero_point, clamp) = (-4i16, (-128i16, 127i16));

    let mut ddr = Vec::new();
    let bytes = |x: &Array2<i32>| x.iter().map(|v| *v as u8).collect::<Vec<u8>>();
    let a_addr = place(&mut ddr, &bytes(&a));
    let b_addr = place(&mut ddr, &bytes(&b));
    let params_addr = place(&mut ddr, &encode_param_entries(cfg.array.cols as usize, &params));
    let c_addr = place(&mut ddr, &vec![0; m * n]);
    let spec = GemmSpec {
        m,
        k,
        n,
        a_addr,
        b_addr,
        c_addr,
        a: OperandQuant { zero: a_zero, unsigned: false },
        w: OperandQuant::default(),
        output: GemmOutput::Requant { params_addr, mode: RequantMode::Fixed, out_type: OutType::I8, zero_point, clamp },
    };
    let (program, tiling) = lower_gemm(&cfg, &spec)?;

    let started = Instant::now();
    let stats = Golden::new(&cfg).run(&program, &mut ddr).context("golden model")?;
    let elapsed = started.elapsed();

    let acc = (&a - i32::from(a_zero)).dot(&b);
    let got: Vec<i8> = ddr[c_addr as usize..c_addr as usize + m * n].iter().map(|v| *v as i8).collect();
    let mut mismatches = 0;
    for r in 0..m {
        for c in 0..n {
            let want = quant::requantize(
                RequantMode::Fixed,
                acc[[r, c]],
                params[c],
                zero_point.into(),
                clamp.0.into(),
                clamp.1.into(),
            );
            mismatches += usize::from(i32::from(got[r * n + c]) != want);
        }
    }
    let checksum = got.iter().fold(0u32, |h, v| h.wrapping_mul(31).wrapping_add(*v as u8 as u32));
    let row0: Vec<String> = got.iter().take(n.min(12)).map(|v| v.to_string()).collect();

    println!("Tessera demo: int8 GEMM {m}x{k}x{n} with per-channel requantization on `{}`", cfg.name);
    println!(
        "  array            {} x {} ({} MACs/cycle peak)",
        cfg.array.rows,
        cfg.array.cols,
        cfg.peak_macs_per_cycle()
    );
    println!(
        "  tiling           M tile {}, {} N blocks and {} K blocks per step",
        tiling.m_tile, tiling.n_blocks_per_step, tiling.k_blocks_per_step
    );
    println!(
        "  program          {} instructions ({} bytes)",
        program.len(),
        program.len() * tessera_isa::isa::INSTR_BYTES
    );
    println!("  backend          golden model (functional, bit-exact), {:.1} ms", elapsed.as_secs_f64() * 1e3);
    println!("  MACs issued      {} (useful {})", stats.macs, m * k * n);
    println!("  DDR traffic      {} bytes read, {} bytes written", stats.dma_read_bytes, stats.dma_write_bytes);
    println!("  output row 0     [{}{}]", row0.join(", "), if n > 12 { ", ..." } else { "" });
    println!("  output checksum  {checksum:#010x}");
    println!("  cycles           not measured: the cycle-accurate RTL backend arrives with issue #4");
    println!("  reference check  {} of {} outputs match ndarray + scalar requantization", m * n - mismatches, m * n);
    ensure!(mismatches == 0, "{mismatches} outputs differ from the reference");
    Ok(())
}
