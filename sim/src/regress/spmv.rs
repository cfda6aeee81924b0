//! Unstructured-sparse `SPMV`s on the sparse engine (issue 6): random pruned weight
//! matrices packed by `tessera_isa::spmv::SpmvTile`, split along K into tiles that
//! accumulate. Patterns include empty output channels, fully dense ones, all-zero
//! tiles and columns, and activations equal to the zero point (which the engine
//! skips). The expected output is the plain product of the activations and the
//! dense pruned weights, computed here without the golden model.

use super::builder::{Builder, SyncPolicy};
use super::conv::{ext, Regions};
use super::Generated;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Instr, Load, Mem, OutType, Program, Spmv, Store};
use tessera_isa::spmv::SpmvTile;

/// What an output channel's weights look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Sparse,
    Empty,
    Dense,
}

/// A random SPMV case for `cfg` (which must have the sparse engine).
pub fn random_spmv(cfg: &AccelConfig, seed: u64) -> Generated {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5b_3a7e_0000_0007);
    let engine = cfg.sparse.engine.as_ref().expect("a config with the sparse engine");
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let wbuf = cfg.memory.wbuf_entries as usize;
    let max_out = engine.max_out_entries(cfg.array.cols) as usize;
    let n = rng.random_range(1..=(max_out * cols).min(4 * cols));
    // K in chunks of whole IBUF entries; each chunk is one tile (accumulating), small
    // enough that even a fully dense tile fits the weight buffer.
    let dense_entries_per_k = 0.5 + 2.0 * n.div_ceil(cols) as f64;
    let fit = ((wbuf as f64 / dense_entries_per_k) as usize / rows).max(1);
    let chunk = rows * rng.random_range(1..=(engine.max_k as usize / rows).min(8).min(fit));
    let chunks = rng.random_range(1..=3usize);
    let k = chunks * chunk - rng.random_range(0..rows);
    let k_pad = chunks * chunk;
    let m = rng.random_range(1..=3usize);
    let density = [0.02, 0.1, 0.3, 0.6][rng.random_range(0..4)];
    let w_unsigned = rng.random_bool(0.3);
    let a_unsigned = rng.random_bool(0.4);
    let w_zero = if w_unsigned { rng.random_range(0..=255) } else { rng.random_range(-128..=127) } as i16;
    let a_zero = if a_unsigned { rng.random_range(0..=255) } else { rng.random_range(-128..=127) } as i16;
    let zero_raw = w_zero as u8;
    let channels: Vec<Channel> = (0..n)
        .map(|_| match rng.random_range(0..10) {
            0 => Channel::Empty,
            1 => Channel::Dense,
            _ => Channel::Sparse,
        })
        .collect();
    let empty_chunk = (chunks > 1 && rng.random_bool(0.3)).then(|| rng.random_range(0..chunks));

    // Dense pruned weights `w[kk * n + c]`, raw bytes; the zero point where pruned.
    let nonzero = |rng: &mut StdRng| loop {
        let v: u8 = rng.random();
        if v != zero_raw {
            break v;
        }
    };
    let mut w = vec![zero_raw; k_pad * n];
    for kk in 0..k {
        if empty_chunk == Some(kk / chunk) {
            continue;
        }
        for (c, channel) in channels.iter().enumerate() {
            let keep = match channel {
                Channel::Empty => false,
                Channel::Dense => true,
                Channel::Sparse => rng.random_bool(density),
            };
            if keep {
                w[kk * n + c] = nonzero(&mut rng);
            }
        }
    }
    // Activations: some equal to the zero point, a few whole chunks of them.
    let a: Vec<u8> = (0..m * k_pad)
        .map(|i| if i % k_pad >= k || rng.random_bool(0.25) { a_zero as u8 } else { rng.random() })
        .collect();

    let tiles: Vec<SpmvTile> =
        (0..chunks).map(|ch| SpmvTile::pack(chunk, n, cols, zero_raw, |kk, c| w[(ch * chunk + kk) * n + c])).collect();
    let entries: Vec<Vec<u8>> = tiles.iter().map(|t| t.to_entries(cols)).collect();
    let slot = entries.iter().map(|e| e.len() / cols).max().unwrap_or(1);
    assert!(slot <= wbuf, "a {slot}-entry tile does not fit the {wbuf}-entry WBUF (k {chunk}, n {n})");
    let slots = (wbuf / slot).clamp(1, 2);

    let mut regions = Regions::default();
    let a_addr = regions.take(&mut rng, a.len());
    let tile_addrs: Vec<usize> = entries.iter().map(|t| regions.take(&mut rng, t.len().max(1))).collect();
    let out_addr = regions.take(&mut rng, m * n * 4);
    let mut image = regions.image(&mut rng);
    image[a_addr..a_addr + a.len()].copy_from_slice(&a);
    for (t, &addr) in entries.iter().zip(&tile_addrs) {
        image[addr..addr + t.len()].copy_from_slice(t);
    }

    let policy = SyncPolicy {
        fence: 0.0,
        spare_pop: rng.random_range(0.0..0.3),
        spare_push: rng.random_range(0.0..0.3),
        junk: false,
    };
    let mut b = Builder::new(cfg, StdRng::seed_from_u64(rng.random()), policy, image.len());
    let row_entries = k_pad / rows;
    b.emit(Instr::Load(Load {
        mem: Mem::Ibuf,
        dram_addr: a_addr as u32,
        x_size: (m * row_entries) as u16,
        x_stride: rows as u32,
        y_size: 1,
        lanes: rows as u8,
        ..Default::default()
    }));
    let out_entries = n.div_ceil(cols);
    for (ch, (tile, bytes)) in tiles.iter().zip(&entries).enumerate() {
        let wbuf_addr = (ch % slots) * slot;
        b.emit(Instr::Load(Load {
            mem: Mem::Wbuf,
            sram_addr: wbuf_addr as u16,
            dram_addr: tile_addrs[ch] as u32,
            x_size: (bytes.len() / cols) as u16,
            x_stride: cols as u32,
            y_size: 1,
            lanes: cols as u8,
            ..Default::default()
        }));
        for mm in 0..m {
            b.emit(Instr::Spmv(Spmv {
                accumulate: ch > 0,
                a_unsigned,
                w_unsigned,
                a_zero,
                w_zero,
                wbuf_addr: wbuf_addr as u16,
                ibuf_addr: (mm * row_entries + ch * chunk / rows) as u16,
                acc_addr: (mm * out_entries) as u16,
                k_size: chunk as u16,
                out_entries: out_entries as u16,
                item_entries: tile.item_entries() as u16,
                ..Default::default()
            }));
        }
    }
    for mm in 0..m {
        for e in 0..out_entries {
            b.emit(Instr::Store(Store {
                out_type: OutType::I32,
                lanes: cols.min(n - e * cols) as u8,
                acc_addr: (mm * out_entries + e) as u16,
                dram_addr: (out_addr + (mm * n + e * cols) * 4) as u32,
                x_size: 1,
                x_stride: 0,
                y_size: 1,
                ..Default::default()
            }));
        }
    }
    b.emit_raw(Instr::Finish);

    let acc_bits = cfg.array.acc_bits;
    let wrap = |v: i32| (v << (32 - acc_bits)) >> (32 - acc_bits);
    let mut out = Vec::with_capacity(m * n * 4);
    for mm in 0..m {
        for c in 0..n {
            let mut sum = 0i32;
            for kk in 0..k {
                let av = ext(a[mm * k_pad + kk], 8, a_unsigned) - i32::from(a_zero);
                let wv = ext(w[kk * n + c], 8, w_unsigned) - i32::from(w_zero);
                sum = sum.wrapping_add(av * wv);
            }
            out.extend(wrap(sum).to_le_bytes());
        }
    }
    let nonzeros: usize = tiles.iter().map(SpmvTile::nonzeros).sum();
    let description = format!(
        "SPMV {m}x{k}x{n} in {chunks} tiles of k {chunk} ({nonzeros} of {} weights nonzero, density {density}, empty tile {empty_chunk:?}), a={}{} w={}{}, {slots} WBUF slots of {slot}",
        k * n,
        if a_unsigned { "u" } else { "s" },
        a_zero,
        if w_unsigned { "u" } else { "s" },
        w_zero,
    );
    Generated { image, program: Program::new(b.instrs), expected: vec![(out_addr, out)], description }
}
