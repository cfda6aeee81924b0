//! Lowering of a GEMM `C[M,N] = A[M,K] x W[K,N]` onto the sparse engine: the
//! weights packed as compressed sparse columns (`tessera_isa::spmv`), one `SPMV`
//! per activation row and weight tile (docs/sparse.md).
//!
//! Tiling: output tiles of `out_entries * cols` channels (the accumulator and the
//! parameter buffer double-buffered between them), each streamed in K tiles of
//! `k_tile` activations that accumulate. Weight tiles alternate between the two
//! halves of the weight buffer, so the next tile's DMA overlaps the engine. All of
//! A stays in the input buffer. Instructions are emitted software-pipelined (a
//! tile's load follows the engine work of the tile two before it), so that the
//! bounded queues never hold a load that waits for work behind it in the stream.

use crate::gemm::{GemmOutput, GemmTiling, LowerError, OperandQuant};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Deps, Instr, Load, Mem, OutType, Program, Spmv, Store, PARAM_LANE_BYTES};
use tessera_isa::spmv::SpmvTile;

/// One weight tile and where it sits in the GEMM.
pub struct PlacedTile {
    pub n_tile: usize,
    /// First activation (weight row) of the tile.
    pub k0: usize,
    pub tile: SpmvTile,
}

/// The packed weights of a GEMM for the sparse engine, and how they are tiled.
pub struct SpmvWeights {
    pub k_tile: usize,
    /// Accumulator entries (of `cols` outputs) per output tile.
    pub out_entries: usize,
    /// Tiles in order: output tile by output tile, each its K tiles.
    pub tiles: Vec<PlacedTile>,
    /// Weight-buffer entries of the largest tile (each half holds one).
    pub slot: usize,
}

impl SpmvWeights {
    fn n_tiles(&self, n: usize, cols: usize) -> usize {
        n.div_ceil(self.out_entries * cols)
    }

    /// The tiles' weight-buffer entries, back to back (what the image holds).
    pub fn bytes(&self, cols: usize) -> Vec<u8> {
        self.tiles.iter().flat_map(|t| t.tile.to_entries(cols)).collect()
    }

    pub fn tiling(&self, m: usize, rows: usize) -> GemmTiling {
        GemmTiling { m_tile: m, n_blocks_per_step: self.out_entries, k_blocks_per_step: self.k_tile / rows }
    }
}

/// Why a GEMM does not go onto the sparse engine.
fn unfit(m: usize, k: usize, n: usize, reason: impl Into<String>) -> LowerError {
    LowerError::DoesNotFit { m, k, n, reason: reason.into() }
}

/// Packs `w` (`K x N`, raw bytes, row-major) for an `M`-row GEMM: the widest output
/// tiles the accumulator and parameter buffer allow, and the longest K tiles (whole
/// IBUF entries, at most `max_k`) whose every tile fits half the weight buffer.
pub fn pack_weights(
    cfg: &AccelConfig,
    [m, k, n]: [usize; 3],
    w: &[u8],
    w_zero: i16,
    requant: bool,
) -> Result<SpmvWeights, LowerError> {
    let engine = cfg.sparse.engine.as_ref().ok_or_else(|| unfit(m, k, n, "the config has no sparse engine"))?;
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let mem = &cfg.memory;
    let blocks = n.div_ceil(cols);
    let fits = |e: usize| {
        let halves = if blocks > e { 2 } else { 1 };
        halves * m * e <= mem.acc_entries as usize && (!requant || halves * e <= mem.pbuf_entries as usize)
    };
    let mut out_entries = blocks.min(engine.max_out_entries(cfg.array.cols) as usize);
    while out_entries > 1 && !fits(out_entries) {
        out_entries = out_entries.div_ceil(2);
    }
    if !fits(out_entries) {
        return Err(unfit(m, k, n, format!("{m} rows of outputs do not fit the accumulator")));
    }
    if m * k.div_ceil(rows) + 1 > mem.ibuf_entries as usize {
        return Err(unfit(m, k, n, "the activations do not fit the input buffer"));
    }
    let half = mem.wbuf_entries as usize / 2;
    let zero = w_zero as u8;
    let width = out_entries * cols;
    let mut k_tile = (engine.max_k as usize).min(k.next_multiple_of(rows));
    loop {
        let mut tiles = Vec::new();
        for (n_tile, n0) in (0..n).step_by(width).enumerate() {
            let nt = width.min(n - n0);
            for (k0, kt) in k_splits(k, k_tile, rows, n0 + width >= n) {
                let tile = SpmvTile::pack(kt, nt, cols, zero, |kk, c| w[(k0 + kk) * n + n0 + c]);
                tiles.push(PlacedTile { n_tile, k0, tile });
            }
        }
        let slot = tiles.iter().map(|t| t.tile.entries()).max().unwrap_or(1);
        if slot <= half {
            return Ok(SpmvWeights { k_tile, out_entries, tiles, slot });
        }
        if k_tile <= rows {
            return Err(unfit(m, k, n, format!("a tile of {k_tile} columns needs {slot} weight-buffer entries")));
        }
        k_tile = (k_tile / 2).next_multiple_of(rows);
    }
}

/// The K tiles `(k0, columns)` of an output tile: `k_tile` columns at a time. The
/// last output tile's last chunk is halved towards its end (64, 32, 16, 16 of 128):
/// the engine is twice as fast as the DMA, so each tile's work hides under the next
/// one's load, and only the small last tile's work is left after the DMA stream.
fn k_splits(k: usize, k_tile: usize, rows: usize, taper: bool) -> Vec<(usize, usize)> {
    let mut splits = Vec::new();
    let mut k0 = 0;
    while k0 < k {
        let mut kt = k_tile.min(k - k0);
        if taper && k0 + kt == k {
            while kt > rows {
                let half = (kt / 2).next_multiple_of(rows);
                if half >= kt {
                    break;
                }
                splits.push((k0, half));
                k0 += half;
                kt -= half;
            }
        }
        splits.push((k0, kt));
        k0 += kt;
    }
    splits
}

/// Where the GEMM's operands are in DDR.
pub struct SpmvSpec {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// `M x K` activations, rows contiguous, followed by at least `rows` readable bytes.
    pub a_addr: u32,
    /// The tiles of [`SpmvWeights::bytes`].
    pub w_addr: u32,
    /// `M x N` outputs, rows contiguous.
    pub c_addr: u32,
    pub a: OperandQuant,
    pub w: OperandQuant,
    pub output: GemmOutput,
}

/// Lowers `spec` over the packed `weights` to a program ending in FINISH.
pub fn lower_spmv(cfg: &AccelConfig, spec: &SpmvSpec, weights: &SpmvWeights) -> Program {
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let (m, k, n) = (spec.m, spec.k, spec.n);
    let (out_entries, n_tiles) = (weights.out_entries, weights.n_tiles(n, cols));
    let row_entries = k.div_ceil(rows);
    let half_w = cfg.memory.wbuf_entries as usize / 2;
    let half_acc = m * out_entries;
    let half_pbuf = out_entries;
    let (out_type, requant) = match spec.output {
        GemmOutput::Raw32 => (OutType::I32, None),
        GemmOutput::Requant { params_addr, mode, out_type, zero_point, clamp } => {
            (out_type, Some((params_addr, mode, zero_point, clamp)))
        }
    };
    let out_bits = out_type.bits() as usize;
    let mut tile_addr = Vec::with_capacity(weights.tiles.len());
    let mut at = spec.w_addr as usize;
    for t in &weights.tiles {
        tile_addr.push(at);
        at += t.tile.entries() * cols;
    }
    let load_tile = |i: usize| {
        let t = &weights.tiles[i].tile;
        Instr::Load(Load {
            deps: Deps { pop_next: i >= 2, push_next: true, ..Deps::NONE },
            mem: Mem::Wbuf,
            sram_addr: ((i % 2) * half_w) as u16,
            dram_addr: tile_addr[i] as u32,
            x_size: t.entries() as u16,
            y_size: 1,
            x_stride: cols as u32,
            y_stride: 0,
            lanes: cols as u8,
            ..Default::default()
        })
    };

    let mut instrs = vec![Instr::Load(Load {
        mem: Mem::Ibuf,
        dram_addr: spec.a_addr,
        x_size: row_entries as u16,
        y_size: m as u16,
        x_stride: rows as u32,
        y_stride: k as u32,
        lanes: rows as u8,
        ..Default::default()
    })];
    instrs.extend((0..weights.tiles.len().min(2)).map(load_tile));
    for nt in 0..n_tiles {
        let (n0, acc_base) = (nt * out_entries * cols, (nt % 2) * half_acc);
        let entries = (n - n0).div_ceil(cols).min(out_entries);
        // The accumulator (and parameter) half of tile nt - 2 must be stored first.
        let mut wait_store = nt >= 2;
        if let Some((params_addr, ..)) = requant {
            instrs.push(Instr::Load(Load {
                deps: Deps { pop_next: wait_store, ..Deps::NONE },
                mem: Mem::Pbuf,
                sram_addr: ((nt % 2) * half_pbuf) as u16,
                dram_addr: params_addr + (n0 / cols * cols) as u32 * PARAM_LANE_BYTES,
                x_size: entries as u16,
                y_size: 1,
                x_stride: cols as u32 * PARAM_LANE_BYTES,
                lanes: cols as u8,
                ..Default::default()
            }));
            wait_store = false;
        }
        let tiles: Vec<usize> = (0..weights.tiles.len()).filter(|&i| weights.tiles[i].n_tile == nt).collect();
        for (j, &i) in tiles.iter().enumerate() {
            let PlacedTile { k0, tile, .. } = &weights.tiles[i];
            for row in 0..m {
                let last = row + 1 == m;
                instrs.push(Instr::Spmv(Spmv {
                    deps: Deps {
                        pop_prev: row == 0,
                        pop_next: row == 0 && j == 0 && wait_store,
                        push_prev: last && i + 2 < weights.tiles.len(),
                        push_next: last && j + 1 == tiles.len(),
                    },
                    accumulate: *k0 > 0,
                    a_unsigned: spec.a.unsigned,
                    w_unsigned: spec.w.unsigned,
                    a_zero: spec.a.zero,
                    w_zero: spec.w.zero,
                    wbuf_addr: ((i % 2) * half_w) as u16,
                    ibuf_addr: (row * row_entries + k0 / rows) as u16,
                    acc_addr: (acc_base + row * out_entries) as u16,
                    k_size: tile.k as u16,
                    out_entries: entries as u16,
                    item_entries: tile.item_entries() as u16,
                }));
            }
            if i + 2 < weights.tiles.len() {
                instrs.push(load_tile(i + 2));
            }
        }
        // Stores: per row, the full output blocks in one STORE (each block with its
        // own parameter entry), then a partial last block.
        let full = (n - n0).min(entries * cols) / cols;
        let mut stores = Vec::new();
        for row in 0..m {
            let base = acc_base + row * out_entries;
            let dram = spec.c_addr + ((row * n + n0) * out_bits / 8) as u32;
            if full > 0 {
                stores.push((base, dram, full, cols, 0));
            }
            if full < entries {
                let lanes = n - n0 - full * cols;
                stores.push((base + full, dram + (full * cols * out_bits / 8) as u32, 1, lanes, full));
            }
        }
        let (mode, zero_point, clamp) = requant.map_or((Default::default(), 0, (0, 0)), |(_, mo, z, c)| (mo, z, c));
        for (s, &(acc, dram, x, lanes, block)) in stores.iter().enumerate() {
            instrs.push(Instr::Store(Store {
                deps: Deps { pop_prev: s == 0, push_prev: s + 1 == stores.len() && nt + 2 < n_tiles, ..Deps::NONE },
                out_type,
                mode,
                lanes: lanes as u8,
                zero_point,
                clamp_lo: clamp.0,
                clamp_hi: clamp.1,
                acc_addr: acc as u16,
                pbuf_addr: ((nt % 2) * half_pbuf + block) as u16,
                pbuf_step: requant.is_some() && x > 1,
                dram_addr: dram,
                x_size: x as u16,
                y_size: 1,
                x_stride: (cols * out_bits / 8) as u32,
                y_stride: 0,
            }));
        }
    }
    instrs.push(Instr::Finish);
    Program::new(instrs)
}
