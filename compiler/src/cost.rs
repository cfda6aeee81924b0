//! Analytic cost model: predicts the cycles an accelerator program takes on a config
//! without simulating its datapath.
//!
//! Each instruction gets a duration from its transfer sizes and the config's memory
//! system (bus width, DDR bandwidth and latency, outstanding bursts) or, for GEMMs,
//! its row count plus the array's fill and drain. The three units (load, compute,
//! store) then run their queues in order, each instruction starting when its unit is
//! free and the dependency tokens it pops have been pushed: the decoupled
//! access-execute schedule the hardware follows, at instruction rather than cycle
//! granularity. The constants were calibrated against the Verilated RTL
//! (`docs/compiler.md` lists predicted against measured cycles per layer).

use std::collections::VecDeque;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::tokens::{pops, pushes, queue_index};
use tessera_isa::isa::{Instr, Load, Mem, Program, Queue, RequantMode, Spmv, Store};
use tessera_isa::nm;

/// Fixed costs of the RTL's units, in cycles (calibrated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overheads {
    /// Start and end of a whole program (fetch, first dispatch, FINISH, interrupt).
    pub program: f64,
    /// Per instruction, on any unit (dispatch and decode).
    pub instr: f64,
    /// Per GEMM beyond its vectors when GEMMs run back to back (the switch between
    /// weight tiles).
    pub gemm: f64,
    /// Per DDR read request (a row, or an entry when a row is not one aligned run),
    /// beyond its beats: issue and re-alignment in the read client.
    pub request: f64,
    /// Per LOAD from DDR beyond the read latency: the engine's start, the AXI
    /// register slices and the last entry's SRAM write.
    pub load: f64,
}

impl Overheads {
    pub const RTL: Overheads = Overheads { program: 30.0, instr: 1.0, gemm: 2.0, request: 0.6, load: 16.0 };
}

/// The model for one config.
#[derive(Debug, Clone)]
pub struct CostModel {
    rows: f64,
    /// Metadata entries an N:4 tile's vectors wait for.
    meta_entries: f64,
    cols: f64,
    /// Lanes the store unit's fixed-point requantizer handles per cycle.
    requant_lanes: f64,
    operand_bytes: f64,
    bus_bytes: f64,
    /// Sustained DDR bytes per accelerator cycle.
    ddr_bytes_per_cycle: f64,
    read_latency: f64,
    write_latency: f64,
    max_burst_bytes: f64,
    outstanding: f64,
    /// Instructions a queue holds (`control.queue_depth`).
    queue_depth: usize,
    overheads: Overheads,
}

/// Predicted cycles of a program and where they went.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prediction {
    pub cycles: u64,
    /// Busy cycles of the load, compute and store units.
    pub busy: [u64; 3],
}

impl CostModel {
    /// The model with the RTL's calibrated overheads.
    pub fn new(cfg: &AccelConfig) -> Self {
        Self::with_overheads(cfg, Overheads::RTL)
    }

    /// The model with other fixed costs (for calibration against measurements).
    pub fn with_overheads(cfg: &AccelConfig, overheads: Overheads) -> Self {
        let clock = cfg.clock_mhz;
        let bus_bytes = f64::from(cfg.axi.data_bits) / 8.0;
        CostModel {
            rows: f64::from(cfg.array.rows),
            meta_entries: f64::from(nm::meta_entries(cfg.array.rows)),
            cols: f64::from(cfg.array.cols),
            requant_lanes: [4.0, 2.0, 1.0].into_iter().find(|d| f64::from(cfg.array.cols) % d == 0.0).unwrap_or(1.0),
            operand_bytes: f64::from(cfg.array.operand_bits) / 8.0,
            bus_bytes,
            ddr_bytes_per_cycle: (cfg.ddr.bandwidth_mb_s / clock).min(bus_bytes),
            read_latency: cfg.ddr.read_latency_ns * clock / 1000.0,
            write_latency: cfg.ddr.write_latency_ns * clock / 1000.0,
            max_burst_bytes: f64::from(cfg.axi.max_burst_beats) * bus_bytes,
            outstanding: f64::from(cfg.axi.max_outstanding.max(1)),
            queue_depth: cfg.control.queue_depth.max(1) as usize,
            overheads,
        }
    }

    /// Cycles of `requests` DDR reads of `request_bytes` each, `stride` bytes apart:
    /// the beats at the sustained bandwidth, or the requests' latency spread over the
    /// outstanding bursts plus their issue cost, whichever is longer, after one latency.
    fn read(&self, requests: f64, request_bytes: f64, stride: f64) -> f64 {
        let bursts = requests * (request_bytes / self.max_burst_bytes).ceil().max(1.0);
        // Requests at a stride that is not whole beats start anywhere in a beat: on
        // average they touch (bytes + beat - 1) / beat beats.
        let per_request = if stride % self.bus_bytes == 0.0 {
            (request_bytes / self.bus_bytes).ceil()
        } else {
            (request_bytes + self.bus_bytes - 1.0) / self.bus_bytes
        };
        let beats = requests * per_request;
        let stream = (requests * request_bytes / self.ddr_bytes_per_cycle).max(beats);
        let latency_bound = bursts * self.read_latency / self.outstanding + requests * self.overheads.request;
        self.read_latency + stream.max(latency_bound)
    }

    /// Accumulator loads convert, look up (lut8) and combine (add, max) an entry per
    /// cycle, in the same time as an overwrite: the read of the entry they combine
    /// with and the write a cycle later overlap the next entries.
    /// Bytes a LOAD reads from DDR.
    fn load_bytes(&self, l: &Load) -> f64 {
        let elem_bytes = match l.mem {
            Mem::Acc => f64::from(l.acc_elem.bytes()),
            Mem::Pbuf => f64::from(tessera_isa::isa::PARAM_LANE_BYTES),
            Mem::Ibuf | Mem::Wbuf => self.operand_bytes,
        };
        f64::from(l.lanes) * elem_bytes * f64::from(l.x_size) * f64::from(l.y_size)
    }

    fn load(&self, l: &Load) -> f64 {
        let elem_bytes = match l.mem {
            Mem::Acc => f64::from(l.acc_elem.bytes()),
            Mem::Pbuf => f64::from(tessera_isa::isa::PARAM_LANE_BYTES),
            Mem::Ibuf | Mem::Wbuf => self.operand_bytes,
        };
        let entry_bytes = f64::from(l.lanes) * elem_bytes;
        let (x, y) = (f64::from(l.x_size), f64::from(l.y_size));
        let padded =
            (x + f64::from(l.pad.left) + f64::from(l.pad.right)) * (y + f64::from(l.pad.top) + f64::from(l.pad.bottom));
        // The engine reads a row in one request when its entries are contiguous and
        // each a whole number of beats (every entry starts a beat), else entry by entry.
        let row_bytes = x * entry_bytes;
        let whole_rows = f64::from(l.x_stride) == entry_bytes && entry_bytes % self.bus_bytes == 0.0;
        if x * y == 0.0 {
            return 0.0;
        }
        let read = if whole_rows {
            self.read(y, row_bytes, f64::from(l.y_stride))
        } else {
            self.read(x * y, entry_bytes, f64::from(l.x_stride))
        };
        // Loads into the accumulator and PBUF start from the compute unit's own engine,
        // next to the queue that issues them.
        let overhead = if matches!(l.mem, Mem::Ibuf | Mem::Wbuf) { self.overheads.load } else { 0.0 };
        overhead + read.max(padded)
    }

    /// The store unit streams entries: it reads the next accumulator entry while this
    /// one's lanes go to the requantizer in groups (four lanes per cycle at most; the
    /// float lane, the ONNX arithmetic, takes one per cycle), so an entry costs its
    /// feed. Its results land in one of a ring of result buffers, held from the read
    /// until the emitter copies them (the feed plus `HELD` cycles), and leave as
    /// beats. So an entry costs the longest of its feed, its beats and its buffer's
    /// turn; the first and the last add the read and the pipeline.
    fn store(&self, s: &Store) -> f64 {
        /// Read, latch, landing and copy around the requantization pipeline.
        const HELD: f64 = REQUANT_PIPELINE + 3.0;
        /// A write burst's cycles beyond the DDR's write latency: the register
        /// slices and the response (calibrated).
        const WRITE_ROUND_TRIP: f64 = 6.0;
        const MAX_BUFFERS: f64 = 4.0;
        let entry_bytes = f64::from(s.lanes) * f64::from(s.out_type.bits()) / 8.0;
        let entries = f64::from(s.x_size) * f64::from(s.y_size);
        let groups = self.cols / self.requant_lanes;
        let buffers = (1.0 + (HELD / groups).ceil()).clamp(2.0, MAX_BUFFERS);
        let feed = if s.mode == RequantMode::Float { self.cols } else { groups };
        let beats = (entry_bytes / self.bus_bytes).ceil().max(1.0);
        let per_entry = feed.max(beats).max((feed + HELD) / buffers);
        let first_and_last = 2.0 + REQUANT_PIPELINE + beats + 1.0;
        let bandwidth = entries * beats * self.bus_bytes / self.ddr_bytes_per_cycle;
        // Rows of whole beats go out as one request each, other entries one by one;
        // a burst holds one of the outstanding writes for its round trip.
        let whole_rows = f64::from(s.x_stride) == entry_bytes && entry_bytes % self.bus_bytes == 0.0;
        let bursts = if whole_rows {
            f64::from(s.y_size) * (f64::from(s.x_size) * entry_bytes / self.max_burst_bytes).ceil()
        } else {
            entries * (entry_bytes / self.max_burst_bytes).ceil()
        };
        let round_trips = bursts * (self.write_latency + WRITE_ROUND_TRIP) / self.outstanding;
        self.write_latency + (entries * per_entry + first_and_last).max(bandwidth).max(round_trips)
    }

    /// The sparse engine (`hdl/src/sparse_engine.rs`): a preload of the counts and
    /// activations; the slowest PE's walk, one cycle per item and one per column it
    /// has no items in; the pipeline; one cycle per accumulator entry written. The
    /// longest PE's items are `item_entries`; its empty columns are estimated from
    /// its density, as if the nonzeros were spread uniformly.
    fn spmv(&self, x: &Spmv) -> f64 {
        let (k, out, items) = (f64::from(x.k_size), f64::from(x.out_entries), f64::from(x.item_entries));
        let preload = (k / 2.0).ceil().max((k / self.rows).ceil()) + 4.0;
        let local_rows = 2.0 * out;
        let density = (items / (k * local_rows)).min(1.0);
        let empty_columns = k * (1.0 - density).powf(local_rows);
        preload + items + empty_columns + SPMV_PIPELINE + out
    }

    /// Cycles `instr` keeps its unit busy.
    pub fn duration(&self, instr: &Instr) -> f64 {
        let o = &self.overheads;
        o.instr
            + match instr {
                Instr::Load(l) => self.load(l),
                Instr::Store(s) => self.store(s),
                // Back to back, a GEMM streams its vectors while the next tile's rows
                // go into the shadow registers (one per cycle, an N:4 tile's metadata
                // entries too): the longer of the two. One that reuses the array's
                // weights loads none. The array's fill and drain are paid once per
                // run of GEMMs (`predict`).
                Instr::Gemm(g) if g.reuse_weights => g.loops.iterations() as f64,
                Instr::Gemm(g) => {
                    let metadata = if g.nm == 0 { 0.0 } else { self.meta_entries };
                    (g.loops.iterations() as f64 + o.gemm).max(self.rows + metadata + 1.0)
                }
                // Per entry: read the destination and the source, feed the lanes to
                // the ALU's two lanes, wait for the last result, write it back.
                Instr::Alu(a) => a.loops.iterations() as f64 * (ALU_ENTRY_CYCLES + self.cols / ALU_LANES),
                Instr::Spmv(x) => self.spmv(x),
                // 1024 bytes in one request; the table takes a word per cycle.
                Instr::Table(_) => {
                    let bytes = f64::from(tessera_isa::isa::TABLE_BYTES);
                    self.read(1.0, bytes, self.bus_bytes).max(self.read_latency + bytes / 4.0)
                }
                Instr::Fence | Instr::Finish => 0.0,
            }
    }

    /// Cycles from a GEMM's last vector entering the array to its last result in
    /// the accumulator (the skewed array and the read-modify-write).
    fn latency(&self) -> f64 {
        self.rows + self.cols - 2.0
    }

    /// Predicted cycles of `program` (in order per unit, synchronised by tokens).
    ///
    /// GEMMs pipeline through the array: back to back they cost [`CostModel::duration`]
    /// each, the first of a run also its tile's load, and their tokens come when their
    /// results have left the array; other compute instructions wait for that.
    pub fn predict(&self, program: &Program) -> Result<Prediction, String> {
        const COMPUTE: usize = 1;
        // Each queue's instructions with their index in the program.
        let mut queues: [VecDeque<(usize, &Instr)>; 3] = Default::default();
        let mut queue_of = Vec::with_capacity(program.instrs.len());
        for (i, instr) in program.instrs.iter().enumerate() {
            let q = instr.queue().map(queue_index);
            if let Some(q) = q {
                queues[q].push_back((i, instr));
            }
            queue_of.push(q);
        }
        let mut dispatch = Dispatch::new(self, program.instrs.len());
        // Times at which tokens become available, per token FIFO.
        let mut tokens: [VecDeque<f64>; 4] = Default::default();
        let mut free = [0.0f64; 3];
        let mut busy = [0.0f64; 3];
        // When the last GEMM's results are all in the accumulator (the array drained).
        let mut drained = 0.0f64;
        loop {
            dispatch.advance(&queue_of);
            // The unit whose head can start first.
            let mut best: Option<(usize, f64)> = None;
            for (u, queue) in queues.iter().enumerate() {
                let Some(&(i, instr)) = queue.front() else { continue };
                let Some(dispatched) = dispatch.time(i) else { continue };
                let popped = || pops(Queue::ALL[u], instr.deps()).map(|f| f as usize);
                if popped().any(|f| tokens[f].is_empty()) {
                    continue;
                }
                let mut start = popped().map(|f| tokens[f][0]).fold(free[u].max(dispatched), f64::max);
                if u == COMPUTE && !matches!(instr, Instr::Gemm(_)) {
                    start = start.max(drained);
                }
                if best.is_none_or(|(_, t)| start < t) {
                    best = Some((u, start));
                }
            }
            let Some((u, mut start)) = best else { break };
            let (i, instr) = queues[u].pop_front().expect("the head exists");
            for f in pops(Queue::ALL[u], instr.deps()) {
                tokens[f as usize].pop_front();
            }
            // A GEMM that does not follow another one straight away loads its tile first.
            if let Instr::Gemm(g) = instr {
                if !g.reuse_weights && start >= drained - self.latency() + 0.5 {
                    start += self.rows;
                }
            }
            dispatch.started(i, start);
            let end = start + self.duration(instr);
            let done = if matches!(instr, Instr::Gemm(_)) {
                drained = end + self.latency();
                drained
            } else {
                end
            };
            for f in pushes(Queue::ALL[u], instr.deps()) {
                tokens[f as usize].push_back(done);
            }
            busy[u] += end - start;
            free[u] = end;
        }
        if let Some(u) = queues.iter().position(|q| !q.is_empty()) {
            let unit = Queue::ALL[u].name();
            return Err(format!("the program deadlocks: the {unit} unit waits for a token that never comes"));
        }
        // Instruction fetch shares the read channel with the load unit's LOADs: it
        // lengthens them as much as they keep the channel busy (long bursts leave it
        // no gaps, latency-bound small loads leave many).
        let fetch = program.instrs.len() as f64 * tessera_isa::isa::INSTR_BYTES as f64 / self.bus_bytes;
        let streaming: f64 = program
            .instrs
            .iter()
            .filter_map(|i| match i {
                Instr::Load(l) if matches!(l.mem, Mem::Ibuf | Mem::Wbuf) => Some(self.load_bytes(l) / self.bus_bytes),
                _ => None,
            })
            .sum();
        let share = if busy[0] > 0.0 { (streaming / busy[0]).min(1.0) } else { 0.0 };
        let end = free.iter().copied().fold(drained, f64::max).max(busy[0] + fetch * share);
        let cycles = (end + self.overheads.program).round() as u64;
        Ok(Prediction { cycles, busy: busy.map(|b| b.round() as u64) })
    }

    /// The array's peak: MACs per cycle.
    pub fn peak_macs(&self) -> f64 {
        self.rows * self.cols
    }
}

/// The dispatcher: instructions enter their queues in program order, one per
/// fetch slot (32 bytes over the bus), and only while the queue has room
/// (`control.queue_depth`, counting the one waiting at its head): an instruction
/// that finds its queue full waits until the one `depth` places ahead of it in the
/// same queue has started.
struct Dispatch {
    fetch: f64,
    depth: usize,
    /// Dispatch time per instruction, once dispatched.
    times: Vec<Option<f64>>,
    /// Start time per instruction, once started.
    starts: Vec<Option<f64>>,
    /// Instructions of each queue so far, in order (program indices).
    queued: [Vec<usize>; 3],
    next: usize,
    last: f64,
}

impl Dispatch {
    fn new(model: &CostModel, len: usize) -> Self {
        Dispatch {
            fetch: tessera_isa::isa::INSTR_BYTES as f64 / model.bus_bytes.min(model.ddr_bytes_per_cycle),
            depth: model.queue_depth,
            times: vec![None; len],
            starts: vec![None; len],
            queued: Default::default(),
            next: 0,
            last: 0.0,
        }
    }

    /// Dispatches every instruction whose queue has room.
    fn advance(&mut self, queue_of: &[Option<usize>]) {
        while self.next < queue_of.len() {
            // The first fetch's latency is part of the program's fixed cost.
            let mut at = if self.next == 0 { 0.0 } else { self.last + self.fetch };
            if let Some(q) = queue_of[self.next] {
                let ahead = self.queued[q].len().checked_sub(self.depth).map(|k| self.queued[q][k]);
                match ahead.map(|a| self.starts[a]) {
                    Some(None) => return,
                    Some(Some(started)) => at = at.max(started),
                    None => {}
                }
                self.queued[q].push(self.next);
            }
            self.times[self.next] = Some(at);
            self.last = at;
            self.next += 1;
        }
    }

    fn time(&self, i: usize) -> Option<f64> {
        self.times[i]
    }

    fn started(&mut self, i: usize, at: f64) {
        self.starts[i] = Some(at);
    }
}

/// Cycles of an ALU entry outside feeding its lanes: two reads, latch, the lane
/// pipeline and the write back (`hdl/src/compute_unit.rs`).
const ALU_ENTRY_CYCLES: f64 = 10.0;
/// Lanes the ALU processes per cycle.
const ALU_LANES: f64 = 2.0;

/// The sparse engine's item pipeline and its hand-overs between phases.
const SPMV_PIPELINE: f64 = 5.0;
/// Stages of the requantization lanes (`REQUANT_LATENCY`, `FLOAT_LATENCY`).
const REQUANT_PIPELINE: f64 = 6.0;

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_isa::isa::{Deps, Gemm, Loop2};

    fn gemm(rows: u16, deps: Deps) -> Instr {
        Instr::Gemm(Gemm { deps, loops: Loop2::flat(rows), ..Default::default() })
    }

    fn weight_load(deps: Deps) -> Instr {
        Instr::Load(Load { deps, mem: Mem::Wbuf, x_size: 64, y_size: 1, x_stride: 4, lanes: 4, ..Default::default() })
    }

    #[test]
    fn double_buffered_loads_overlap_compute() {
        let cfg = AccelConfig::builtin("tiny").unwrap();
        let model = CostModel::new(&cfg);
        let push = Deps { push_next: true, ..Deps::NONE };
        let pop = Deps { pop_prev: true, ..Deps::NONE };
        let (load, compute) = (model.duration(&weight_load(push)), model.duration(&gemm(2000, pop)));
        assert!(compute > load, "the GEMM must be long enough to hide a load");
        // The array loads the first tile before the first vector (one row per cycle)
        // and drains after the last (rows + cols - 2 cycles on tiny's 4x4).
        let (fill, drain) = (4.0, 6.0);
        // One load then its GEMM: strictly in sequence.
        let serial = model.predict(&Program::new(vec![weight_load(push), gemm(2000, pop), Instr::Finish])).unwrap();
        assert_eq!(serial.cycles, (load + fill + compute + drain + Overheads::RTL.program).round() as u64);
        // Two of each: the second load runs under the first GEMM, and the second GEMM
        // follows the first straight away, so the total is one load, one fill and one
        // drain shorter than two in sequence.
        let two =
            Program::new(vec![weight_load(push), weight_load(push), gemm(2000, pop), gemm(2000, pop), Instr::Finish]);
        let overlapped = model.predict(&two).unwrap();
        assert_eq!(overlapped.cycles, (load + fill + 2.0 * compute + drain + Overheads::RTL.program).round() as u64);
        assert_eq!(overlapped.busy, [(2.0 * load).round() as u64, (2.0 * compute).round() as u64, 0]);
    }

    #[test]
    fn a_token_nobody_pushes_is_a_deadlock() {
        let cfg = AccelConfig::builtin("tiny").unwrap();
        let program = Program::new(vec![gemm(8, Deps { pop_prev: true, ..Deps::NONE }), Instr::Finish]);
        let err = CostModel::new(&cfg).predict(&program).unwrap_err();
        assert!(err.contains("compute unit waits"), "{err}");
    }
}
