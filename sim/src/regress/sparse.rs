//! N:4 structured-sparse GEMMs (issue 6): random pruned weight matrices, packed into
//! N:4 tiles by `tessera_isa::nm::pack`, multiplied on the array in 2:4, 1:4 and
//! dense mode (chosen per output block, so modes switch while vectors are in
//! flight). Patterns include all-zero tiles, all-zero output columns and groups
//! with exactly N nonzeros. The expected output is the plain product of the
//! activations and the dense pruned weights, computed here without the golden model.

use super::builder::{Builder, SyncPolicy};
use super::conv::{ext, Regions};
use super::Generated;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Gemm, Instr, Load, Loop2, Mem, OutType, Program, Store, Stride2};
use tessera_isa::nm;

/// How the nonzeros of one output block are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// Every column pair has a random 0..=N nonzero positions per group.
    Random,
    /// Exactly N per group: the densest the mode allows.
    Full,
    /// No nonzero at all.
    Empty,
}

/// A random N:4 sparse GEMM case for `cfg` (which must have N:4 modes).
pub fn random_sparse(cfg: &AccelConfig, seed: u64) -> Generated {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ba5_5e00_0000_0006);
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let modes = cfg.n_of_4_modes();
    assert!(!modes.is_empty(), "{} has no N:4 mode", cfg.name);
    let span = rows * 4; // positions of a 1:4 tile: every mode's tiles divide it
    let k_tiles = rng.random_range(1..=3);
    let k_pad = k_tiles * span;
    let k = k_pad - rng.random_range(0..span / 2);
    let n = rng.random_range(1..=3 * cols);
    let n_blocks = n.div_ceil(cols);
    let m = rng.random_range(1..=10usize).min(cfg.memory.acc_entries as usize / 2);
    let w_unsigned = rng.random_bool(0.3);
    let a_unsigned = rng.random_bool(0.4);
    let a_zero = if a_unsigned { rng.random_range(0..=255) } else { rng.random_range(-128..=127) } as i16;
    let (w_zero, zero_raw) = if w_unsigned { (128i16, 128u8) } else { (0, 0) };

    // Per output block: its mode (N, or 0 for dense tiles) and pattern.
    let blocks: Vec<(u8, Pattern)> = (0..n_blocks)
        .map(|_| {
            let mode = if rng.random_bool(0.2) { 0 } else { modes[rng.random_range(0..modes.len())] };
            let pattern = match rng.random_range(0..10) {
                0 => Pattern::Empty,
                1..=2 => Pattern::Full,
                _ => Pattern::Random,
            };
            (mode, pattern)
        })
        .collect();

    // Dense pruned weights `w[kk * n + c]`, raw bytes; zero_raw where pruned.
    let mut w = vec![zero_raw; k_pad * n];
    let nonzero = |rng: &mut StdRng| loop {
        let v: u8 = rng.random();
        if v != zero_raw {
            break v;
        }
    };
    for (nb, &(mode, pattern)) in blocks.iter().enumerate() {
        let per_group = if mode == 0 { 4 } else { usize::from(mode) };
        let dead_column = rng.random_range(0..cols); // a column left empty in Random blocks
        for g in 0..k.div_ceil(4) {
            for p in 0..cols / 2 {
                let count = match pattern {
                    Pattern::Empty => 0,
                    Pattern::Full => per_group,
                    Pattern::Random => rng.random_range(0..=per_group),
                };
                let mut positions: Vec<usize> = (0..4).collect();
                for i in 0..count {
                    let j = rng.random_range(i..4);
                    positions.swap(i, j);
                }
                for &j in &positions[..count] {
                    let kk = g * 4 + j;
                    for c in [2 * p, 2 * p + 1] {
                        let col = nb * cols + c;
                        let keep = kk < k && col < n && !(pattern == Pattern::Random && c == dead_column);
                        // Within a kept pair position one of the two weights may still be zero.
                        if keep && (c == 2 * p || rng.random_bool(0.8)) {
                            w[kk * n + col] = nonzero(&mut rng);
                        }
                    }
                }
            }
        }
    }
    let a: Vec<u8> = (0..m * k_pad).map(|i| if i % k_pad < k { rng.random() } else { a_zero as u8 }).collect();

    // Tiles of each block, in DDR as weight-buffer entries.
    let mut tiles: Vec<Vec<u8>> = Vec::new();
    for (nb, &(mode, _)) in blocks.iter().enumerate() {
        let positions = rows * nm::ratio(mode) as usize;
        for kt in 0..k_pad / positions {
            let block = nm::matrix_block(&w, [k_pad, n], [kt * positions, nb * cols], positions, cols, zero_raw);
            tiles.push(if mode == 0 {
                block
            } else {
                nm::pack(&block, positions, rows, cols, mode, zero_raw)
                    .expect("generated within the pattern")
                    .to_entries()
            });
        }
    }

    let mut regions = Regions::default();
    let a_addr = regions.take(&mut rng, a.len());
    let tile_addrs: Vec<usize> = tiles.iter().map(|t| regions.take(&mut rng, t.len())).collect();
    let out_addr = regions.take(&mut rng, m * n * 4);
    let mut image = regions.image(&mut rng);
    image[a_addr..a_addr + a.len()].copy_from_slice(&a);
    for (t, &addr) in tiles.iter().zip(&tile_addrs) {
        image[addr..addr + t.len()].copy_from_slice(t);
    }

    let policy = SyncPolicy {
        fence: 0.0,
        spare_pop: rng.random_range(0.0..0.3),
        spare_push: rng.random_range(0.0..0.3),
        junk: false,
    };
    let mut b = Builder::new(cfg, StdRng::seed_from_u64(rng.random()), policy, image.len());
    // Activations: row-major, k_pad / rows entries per vector row, from IBUF entry 0.
    let entries_per_row = k_pad / rows;
    b.emit(Instr::Load(Load {
        mem: Mem::Ibuf,
        dram_addr: a_addr as u32,
        x_size: (m * entries_per_row) as u16,
        x_stride: rows as u32,
        y_size: 1,
        lanes: rows as u8,
        ..Default::default()
    }));
    let slot_entries = nm::tile_entries(rows as u32, 1) as usize;
    let slots = (cfg.memory.wbuf_entries as usize / slot_entries).min(rng.random_range(1..=4));
    let split = rng.random_range(1..=m); // vectors of the first GEMM on each tile; the rest reuse it
    let mut t = 0;
    for (nb, &(mode, _)) in blocks.iter().enumerate() {
        let ratio = nm::ratio(mode) as usize;
        let k_tiles_mode = k_pad / (rows * ratio);
        let acc_base = (nb % 2) * m;
        for kt in 0..k_tiles_mode {
            let slot = (t % slots) * slot_entries;
            b.emit(Instr::Load(Load {
                mem: Mem::Wbuf,
                sram_addr: slot as u16,
                dram_addr: tile_addrs[t] as u32,
                x_size: (tiles[t].len() / cols) as u16,
                x_stride: cols as u32,
                y_size: 1,
                lanes: cols as u8,
                ..Default::default()
            }));
            t += 1;
            for (first, count) in [(0, split), (split, m - split)] {
                if count == 0 {
                    continue;
                }
                b.emit(Instr::Gemm(Gemm {
                    accumulate: kt > 0,
                    reuse_weights: first > 0,
                    a_unsigned,
                    w_unsigned,
                    a_zero,
                    w_zero,
                    nm: mode,
                    wbuf_addr: slot as u16,
                    ibuf_addr: (first * entries_per_row + kt * ratio) as u16,
                    acc_addr: (acc_base + first) as u16,
                    loops: Loop2::flat(count as u16),
                    ibuf_stride: Stride2 { outer: 0, inner: entries_per_row as u16 },
                    acc_stride: Stride2::UNIT,
                    ..Default::default()
                }));
            }
        }
        let lanes = cols.min(n - nb * cols);
        b.emit(Instr::Store(Store {
            out_type: OutType::I32,
            lanes: lanes as u8,
            acc_addr: acc_base as u16,
            dram_addr: (out_addr + nb * cols * 4) as u32,
            x_size: m as u16,
            x_stride: (n * 4) as u32,
            y_size: 1,
            ..Default::default()
        }));
    }
    b.emit_raw(Instr::Finish);

    // The product with the dense pruned weights, directly.
    let acc_bits = cfg.array.acc_bits;
    let wrap = |v: i32| (v << (32 - acc_bits)) >> (32 - acc_bits);
    let bits = cfg.array.operand_bits;
    let mut out = Vec::with_capacity(m * n * 4);
    for mm in 0..m {
        for c in 0..n {
            let mut sum = 0i32;
            for kk in 0..k {
                let av = ext(a[mm * k_pad + kk], bits, a_unsigned) - i32::from(a_zero);
                let wv = ext(w[kk * n + c], bits, w_unsigned) - i32::from(w_zero);
                sum = sum.wrapping_add(av * wv);
            }
            out.extend(wrap(sum).to_le_bytes());
        }
    }
    let nonzeros = w.iter().filter(|&&v| v != zero_raw).count();
    let description = format!(
        "sparse GEMM {m}x{k}x{n} ({} of {} weights nonzero), blocks {:?}, a={}{} w={}{}, {slots} WBUF slots, first GEMM {split} vectors",
        nonzeros,
        k * n,
        blocks,
        if a_unsigned { "u" } else { "s" },
        a_zero,
        if w_unsigned { "u" } else { "s" },
        w_zero,
    );
    Generated { image, program: Program::new(b.instrs), expected: vec![(out_addr, out)], description }
}
