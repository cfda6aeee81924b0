//! A program builder that makes any instruction sequence correctly synchronised.
//!
//! Every instruction is emitted with the on-chip and DDR footprint it reads and
//! writes. The builder remembers, per SRAM entry and DDR byte, the last writer and
//! the last reader in each queue, and before an instruction that conflicts with
//! earlier work of another queue (read-after-write, write-after-read,
//! write-after-write) it adds what orders the two: a token popped from the
//! neighbouring queue (draining stale tokens or asking the other queue for a fresh
//! one with an empty instruction, relayed through the compute queue between load
//! and store), or a FENCE.
//!
//! What each queue knows to be complete is tracked with vector clocks: a token
//! carries the clock of the instruction that pushed it, and popping it joins that
//! clock. Tokens are matched in FIFO order, as the hardware does.
//!
//! Deadlock freedom by construction: every pop is matched by a push *earlier* in
//! program order and no push ever exceeds `control.token_depth` outstanding tokens
//! in program order, so running the program one instruction at a time in program
//! order never blocks. The controller is a Kahn network (each wait condition is
//! stable until the waiter acts), so whether it deadlocks does not depend on the
//! schedule, and no schedule — the golden model's, the RTL's — can deadlock.

use crate::golden::sched::{queue_index, TokenFifo};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::VecDeque;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    load_entry_bytes, store_entry_bytes, AccElem, Alu, AluOp, Combine, Deps, Instr, Load, Loop2, Mem, OutType,
    RequantMode, Store, Stride2, TABLE_BYTES,
};
use tessera_isa::nm;

/// Queue indices, as `golden::sched::queue_index` numbers them.
pub const LOAD_Q: usize = 0;
pub const COMPUTE_Q: usize = 1;
pub const STORE_Q: usize = 2;

/// Per queue (load, compute, store): the highest program index known complete, -1 none.
pub type Clock = [i64; 3];

const NOTHING: Clock = [-1; 3];

/// The index (in `Builder::fifos`) of the token FIFO from queue `x` to its neighbour `y`.
fn fifo(x: usize, y: usize) -> usize {
    token_fifo(x, y) as usize
}

/// The token FIFO from queue `x` to its neighbour `y`.
fn token_fifo(x: usize, y: usize) -> TokenFifo {
    match (x, y) {
        (LOAD_Q, COMPUTE_Q) => TokenFifo::LoadToCompute,
        (COMPUTE_Q, LOAD_Q) => TokenFifo::ComputeToLoad,
        (COMPUTE_Q, STORE_Q) => TokenFifo::ComputeToStore,
        (STORE_Q, COMPUTE_Q) => TokenFifo::StoreToCompute,
        _ => unreachable!("queues {x} and {y} are not neighbours"),
    }
}

fn neighbours(y: usize) -> &'static [usize] {
    match y {
        LOAD_Q => &[COMPUTE_Q],
        COMPUTE_Q => &[LOAD_Q, STORE_Q],
        _ => &[COMPUTE_Q],
    }
}

/// Sets the flag of queue `y` that pops the token queue `x` sends.
fn set_pop(d: &mut Deps, y: usize, x: usize) {
    if x < y {
        d.pop_prev = true
    } else {
        d.pop_next = true
    }
}

fn pops(d: &Deps, y: usize, x: usize) -> bool {
    if x < y {
        d.pop_prev
    } else {
        d.pop_next
    }
}

/// Sets the flag of queue `y` that sends a token to queue `z`.
fn set_push(d: &mut Deps, y: usize, z: usize) {
    if z < y {
        d.push_prev = true
    } else {
        d.push_next = true
    }
}

fn pushes(d: &Deps, y: usize, z: usize) -> bool {
    if z < y {
        d.push_prev
    } else {
        d.push_next
    }
}

/// Memories whose entries (bytes for DDR) the builder tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    Ibuf = 0,
    Wbuf = 1,
    Acc = 2,
    Pbuf = 3,
    Ddr = 4,
}

impl Res {
    pub fn of(mem: Mem) -> Res {
        match mem {
            Mem::Ibuf => Res::Ibuf,
            Mem::Wbuf => Res::Wbuf,
            Mem::Acc => Res::Acc,
            Mem::Pbuf => Res::Pbuf,
        }
    }
}

/// What an instruction reads and writes: (memory, first entry or byte, count).
#[derive(Debug, Default, Clone)]
pub struct Access {
    pub reads: Vec<(Res, usize, usize)>,
    pub writes: Vec<(Res, usize, usize)>,
}

impl Access {
    pub fn read(&mut self, r: Res, start: usize, len: usize) {
        if len > 0 {
            self.reads.push((r, start, len));
        }
    }

    pub fn write(&mut self, r: Res, start: usize, len: usize) {
        if len > 0 {
            self.writes.push((r, start, len));
        }
    }
}

/// Last writer and last reader per queue of one entry / byte.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Queue of the last writer (-1: never written by this program).
    wq: i8,
    wi: i64,
    readers: Clock,
}

const FRESH: Cell = Cell { wq: -1, wi: -1, readers: NOTHING };

/// How the builder synchronises and decorates instructions.
#[derive(Debug, Clone, Copy)]
pub struct SyncPolicy {
    /// Probability that a needed ordering is made by a FENCE instead of tokens.
    pub fence: f64,
    /// Probability of popping an available token that is not needed.
    pub spare_pop: f64,
    /// Probability of pushing a token nobody asked for yet (when the FIFO has room).
    pub spare_push: f64,
    /// Fill fields the instruction does not use (empty LOADs, STOREs without
    /// requantization, ALU with an immediate) with random values.
    pub junk: bool,
}

impl SyncPolicy {
    /// Tokens only where needed (like a compiler), no junk.
    pub const MINIMAL: SyncPolicy = SyncPolicy { fence: 0.0, spare_pop: 0.0, spare_push: 0.0, junk: false };
}

/// Counters of what the builder had to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Empty instructions that only drain a stale token.
    pub drains: usize,
    /// Empty instructions that push a token asked for (including compute relays).
    pub token_noops: usize,
    pub sync_fences: usize,
    /// Highest outstanding-token count (program order) each FIFO reached.
    pub max_tokens: [usize; 4],
}

pub struct Builder<'c> {
    pub cfg: &'c AccelConfig,
    pub rng: StdRng,
    pub policy: SyncPolicy,
    pub instrs: Vec<Instr>,
    pub stats: BuildStats,
    /// What the next instruction of each queue knows to be complete.
    know: [Clock; 3],
    /// Clocks of the tokens outstanding in each FIFO (program order).
    fifos: [VecDeque<Clock>; 4],
    token_depth: usize,
    cells: [Vec<Cell>; 5],
    /// Per DDR byte: written by a STORE of this program (so its value is unknown here).
    ddr_dirty: Vec<bool>,
}

impl<'c> Builder<'c> {
    pub fn new(cfg: &'c AccelConfig, rng: StdRng, policy: SyncPolicy, ddr_len: usize) -> Self {
        let m = &cfg.memory;
        let cells = [
            vec![FRESH; m.ibuf_entries as usize],
            vec![FRESH; m.wbuf_entries as usize],
            vec![FRESH; m.acc_entries as usize],
            vec![FRESH; m.pbuf_entries as usize],
            vec![FRESH; ddr_len],
        ];
        Builder {
            cfg,
            rng,
            policy,
            instrs: Vec::new(),
            stats: BuildStats::default(),
            know: [NOTHING; 3],
            fifos: Default::default(),
            token_depth: cfg.control.token_depth as usize,
            cells,
            ddr_dirty: vec![false; ddr_len],
        }
    }

    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// Whether a STORE earlier in the program may have changed DDR byte `offset`.
    pub fn ddr_dirty(&self, offset: usize) -> bool {
        self.ddr_dirty[offset]
    }

    /// Outstanding tokens (program order) in the FIFO from queue `x` to `y`.
    pub fn tokens(&self, x: usize, y: usize) -> usize {
        self.fifos[fifo(x, y)].len()
    }

    /// Appends `instr` exactly as given (its token flags must be satisfiable in
    /// program order) and updates the clocks. Returns its index.
    pub fn emit_raw(&mut self, instr: Instr) -> usize {
        let idx = self.instrs.len() as i64;
        match instr.queue() {
            None => {
                // FENCE / FINISH: everything dispatched before has completed.
                let mut all = NOTHING;
                for k in &self.know {
                    for q in 0..3 {
                        all[q] = all[q].max(k[q]);
                    }
                }
                self.know = [all; 3];
            }
            Some(q) => {
                let y = queue_index(q);
                let d = instr.deps();
                for &x in neighbours(y) {
                    if pops(&d, y, x) {
                        let tok = self.fifos[fifo(x, y)].pop_front().unwrap_or_else(|| {
                            panic!("generator bug: #{idx} `{instr}` pops an empty {} FIFO", token_fifo(x, y).describe())
                        });
                        for (k, t) in self.know[y].iter_mut().zip(tok) {
                            *k = (*k).max(t);
                        }
                    }
                }
                self.know[y][y] = idx;
                for &z in neighbours(y) {
                    if pushes(&d, y, z) {
                        let (f, name) = (fifo(y, z), token_fifo(y, z).describe());
                        assert!(
                            self.fifos[f].len() < self.token_depth,
                            "generator bug: #{idx} `{instr}` pushes into a full {name} FIFO"
                        );
                        self.fifos[f].push_back(self.know[y]);
                        self.stats.max_tokens[f] = self.stats.max_tokens[f].max(self.fifos[f].len());
                    }
                }
            }
        }
        self.instrs.push(instr);
        idx as usize
    }

    /// Appends `instr` (whose token flags are ignored and replaced) after whatever
    /// orders it against the earlier instructions of other queues it conflicts
    /// with; may add spare pops and pushes. Returns its index.
    pub fn emit(&mut self, instr: Instr) -> usize {
        let access = access_of(self.cfg, &instr);
        self.emit_with(instr, &access)
    }

    /// [`Builder::emit`] with an explicit footprint.
    pub fn emit_with(&mut self, mut instr: Instr, access: &Access) -> usize {
        let y = queue_index(instr.queue().expect("FENCE and FINISH go through emit_raw"));
        let mut need = NOTHING;
        for &(r, start, len) in &access.reads {
            for c in &self.cells[r as usize][start..start + len] {
                if c.wq >= 0 && c.wq as usize != y {
                    need[c.wq as usize] = need[c.wq as usize].max(c.wi);
                }
            }
        }
        for &(r, start, len) in &access.writes {
            for c in &self.cells[r as usize][start..start + len] {
                if c.wq >= 0 && c.wq as usize != y {
                    need[c.wq as usize] = need[c.wq as usize].max(c.wi);
                }
                for q in (0..3).filter(|q| *q != y) {
                    need[q] = need[q].max(c.readers[q]);
                }
            }
        }
        let mut deps = self.sync(y, need);
        for &x in neighbours(y) {
            if !pops(&deps, y, x) && !self.fifos[fifo(x, y)].is_empty() && self.rng.random_bool(self.policy.spare_pop) {
                set_pop(&mut deps, y, x);
            }
        }
        for &z in neighbours(y) {
            if self.fifos[fifo(y, z)].len() < self.token_depth && self.rng.random_bool(self.policy.spare_push) {
                set_push(&mut deps, y, z);
            }
        }
        *instr.deps_mut().expect("queued instruction") = deps;
        let idx = self.emit_raw(instr);
        for &(r, start, len) in &access.reads {
            for c in &mut self.cells[r as usize][start..start + len] {
                c.readers[y] = c.readers[y].max(idx as i64);
            }
        }
        for &(r, start, len) in &access.writes {
            for c in &mut self.cells[r as usize][start..start + len] {
                *c = Cell { wq: y as i8, wi: idx as i64, readers: NOTHING };
            }
            if r == Res::Ddr {
                self.ddr_dirty[start..start + len].fill(true);
            }
        }
        idx
    }

    /// Emits what makes the next instruction of queue `y` know every `need`ed index
    /// complete; returns the pops that instruction itself must do.
    fn sync(&mut self, y: usize, need: Clock) -> Deps {
        let mut deps = Deps::NONE;
        if (0..3).all(|q| q == y || need[q] <= self.know[y][q]) {
            return deps;
        }
        if self.rng.random_bool(self.policy.fence) {
            self.emit_raw(Instr::Fence);
            self.stats.sync_fences += 1;
            return deps;
        }
        if y == COMPUTE_Q {
            if self.via(LOAD_Q, y, [need[LOAD_Q], -1, -1]) {
                set_pop(&mut deps, y, LOAD_Q);
            }
            if self.via(STORE_Q, y, [-1, -1, need[STORE_Q]]) {
                set_pop(&mut deps, y, STORE_Q);
            }
        } else if self.via(COMPUTE_Q, y, need) {
            set_pop(&mut deps, y, COMPUTE_Q);
        }
        deps
    }

    /// Makes the FIFO from `x` to `y` hold, at its front, a token whose clock covers
    /// `need` (returns true: the next instruction of `y` must pop it), unless `y`
    /// already knows enough (returns false).
    fn via(&mut self, x: usize, y: usize, need: Clock) -> bool {
        let f = fifo(x, y);
        let covers = |c: &Clock| (0..3).all(|q| q == y || c[q] >= need[q]);
        loop {
            if covers(&self.know[y]) {
                return false;
            }
            if let Some(front) = self.fifos[f].front() {
                if covers(front) {
                    return true;
                }
                // A stale token: consume it with an empty instruction.
                let mut d = Deps::NONE;
                set_pop(&mut d, y, x);
                let noop = self.noop(y, d);
                self.emit_raw(noop);
                self.stats.drains += 1;
                continue;
            }
            // Nothing in flight: `x` sends a token now (the FIFO is empty, so it has
            // room). Between load and store the compute queue relays what it learns
            // from the third queue.
            let mut d = Deps::NONE;
            if x == COMPUTE_Q {
                let third = if y == LOAD_Q { STORE_Q } else { LOAD_Q };
                let mut sub = NOTHING;
                sub[third] = need[third];
                if self.via(third, COMPUTE_Q, sub) {
                    set_pop(&mut d, COMPUTE_Q, third);
                }
            }
            set_push(&mut d, x, y);
            let noop = self.noop(x, d);
            self.emit_raw(noop);
            self.stats.token_noops += 1;
        }
    }

    /// An instruction of queue `q` that touches no memory, carrying `deps`.
    pub fn noop(&mut self, q: usize, deps: Deps) -> Instr {
        let junk = self.policy.junk;
        let rng = &mut self.rng;
        let cfg = self.cfg;
        // Which of the extents is zero (either, or both).
        let (x_size, y_size): (u16, u16) = match rng.random_range(0..3) {
            0 => (0, if junk { rng.random() } else { 1 }),
            1 => (if junk { rng.random() } else { 1 }, 0),
            _ => (0, 0),
        };
        match q {
            LOAD_Q | COMPUTE_Q if q == LOAD_Q || rng.random_bool(0.7) => {
                let mem = match (q, rng.random_bool(0.5)) {
                    (LOAD_Q, false) => Mem::Ibuf,
                    (LOAD_Q, true) => Mem::Wbuf,
                    (_, false) => Mem::Acc,
                    (_, true) => Mem::Pbuf,
                };
                let mut l = Load { deps, mem, x_size, y_size, ..Load::default() };
                if junk {
                    l.sram_addr = rng.random();
                    l.dram_addr = rng.random();
                    l.x_stride = rng.random();
                    l.y_stride = rng.random();
                    l.lanes = rng.random();
                    l.pad_value = rng.random();
                    l.acc_elem = AccElem::ALL[rng.random_range(0..AccElem::ALL.len())];
                    l.combine = Combine::ALL[rng.random_range(0..Combine::ALL.len())];
                }
                Instr::Load(l)
            }
            COMPUTE_Q => {
                // An ALU loop with no iterations.
                let loops = match rng.random_range(0..3) {
                    0 => Loop2 { outer: 0, inner: rng.random_range(0..4) },
                    1 => Loop2 { outer: rng.random_range(0..4), inner: 0 },
                    _ => Loop2 { outer: 0, inner: 0 },
                };
                let mut a = Alu { deps, loops, op: AluOp::Add, use_imm: true, imm: 1, ..Alu::default() };
                if junk {
                    a.dst = rng.random();
                    a.src = rng.random();
                    a.dst_stride = Stride2 { outer: rng.random(), inner: rng.random() };
                    a.src_stride = Stride2 { outer: rng.random(), inner: rng.random() };
                    a.imm = rng.random();
                }
                Instr::Alu(a)
            }
            _ => {
                let cols = cfg.array.cols as u8;
                let mut s = Store { deps, x_size, y_size, out_type: OutType::I32, lanes: cols, ..Store::default() };
                if junk {
                    s.acc_addr = 0;
                    s.dram_addr = rng.random();
                    s.x_stride = rng.random();
                    s.y_stride = rng.random();
                    s.out_type = OutType::I8;
                    s.mode = RequantMode::None;
                    s.clamp_lo = -128;
                    s.clamp_hi = 127;
                    s.zero_point = rng.random();
                    s.pbuf_addr = rng.random();
                    s.lanes = rng.random_range(1..=cols);
                }
                Instr::Store(s)
            }
        }
    }
}

/// What `instr` reads and writes, per docs/isa.md §3. A GEMM that reuses the tile in
/// the array does not read the weight buffer; an ALU reads its destination (every
/// op is `d = op(d, b)`); a STORE without requantization reads no parameters.
pub fn access_of(cfg: &AccelConfig, instr: &Instr) -> Access {
    let mut a = Access::default();
    match instr {
        Instr::Load(l) => {
            let (x, y) = (usize::from(l.x_size), usize::from(l.y_size));
            if x == 0 || y == 0 {
                return a;
            }
            let (pt, pl) = (usize::from(l.pad.top), usize::from(l.pad.left));
            let rows = y + pt + usize::from(l.pad.bottom);
            let cols = x + pl + usize::from(l.pad.right);
            let eb = load_entry_bytes(cfg, l) as usize;
            for yy in 0..y {
                for xx in 0..x {
                    a.read(Res::Ddr, l.dram_addr as usize + yy * l.y_stride as usize + xx * l.x_stride as usize, eb);
                }
            }
            // A combining load reads the entries it writes.
            if l.combine != Combine::Overwrite {
                a.read(Res::of(l.mem), usize::from(l.sram_addr), rows * cols);
            }
            a.write(Res::of(l.mem), usize::from(l.sram_addr), rows * cols);
        }
        // The table itself is only touched by the compute queue (TABLE and its LOADs),
        // which runs in order: only its DDR bytes can race.
        Instr::Table(t) => a.read(Res::Ddr, t.dram_addr as usize, TABLE_BYTES as usize),
        Instr::Store(s) => {
            let (x, y) = (usize::from(s.x_size), usize::from(s.y_size));
            if s.mode != RequantMode::None && x * y > 0 {
                a.read(Res::Pbuf, usize::from(s.pbuf_addr), if s.pbuf_step { x } else { 1 });
            }
            a.read(Res::Acc, usize::from(s.acc_addr), x * y);
            let eb = store_entry_bytes(s) as usize;
            for yy in 0..y {
                for xx in 0..x {
                    a.write(Res::Ddr, s.dram_addr as usize + yy * s.y_stride as usize + xx * s.x_stride as usize, eb);
                }
            }
        }
        Instr::Gemm(g) => {
            if !g.reuse_weights {
                a.read(Res::Wbuf, usize::from(g.wbuf_addr), nm::tile_entries(cfg.array.rows, g.nm) as usize);
            }
            let vector = nm::ratio(g.nm) as usize;
            for o in 0..g.loops.outer {
                for i in 0..g.loops.inner {
                    a.read(Res::Ibuf, g.ibuf_stride.address(g.ibuf_addr, o, i), vector);
                    let d = g.acc_stride.address(g.acc_addr, o, i);
                    if g.accumulate {
                        a.read(Res::Acc, d, 1);
                    }
                    a.write(Res::Acc, d, 1);
                }
            }
        }
        Instr::Alu(al) => {
            for o in 0..al.loops.outer {
                for i in 0..al.loops.inner {
                    if !al.use_imm {
                        a.read(Res::Acc, al.src_stride.address(al.src, o, i), 1);
                    }
                    let d = al.dst_stride.address(al.dst, o, i);
                    a.read(Res::Acc, d, 1);
                    a.write(Res::Acc, d, 1);
                }
            }
        }
        Instr::Spmv(x) => {
            let tile = tessera_isa::spmv::count_entries(x.k_size.into()) + usize::from(x.item_entries);
            a.read(Res::Wbuf, usize::from(x.wbuf_addr), tile);
            a.read(Res::Ibuf, usize::from(x.ibuf_addr), usize::from(x.k_size).div_ceil(cfg.array.rows as usize));
            if x.accumulate {
                a.read(Res::Acc, usize::from(x.acc_addr), usize::from(x.out_entries));
            }
            a.write(Res::Acc, usize::from(x.acc_addr), usize::from(x.out_entries));
        }
        Instr::Fence | Instr::Finish => {}
    }
    a
}
