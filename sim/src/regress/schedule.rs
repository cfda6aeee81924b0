//! An independent check that a program is correctly synchronised: run it on the
//! golden model's memories (`Memories`, one instruction at a time) under random
//! legal schedules of the controller — dispatch in order into bounded queues,
//! tokens and barriers as docs/isa.md §2 says — and compare the DDR images. A
//! program with an unordered cross-queue conflict gives schedule-dependent results
//! (on the RTL too); this catches that without trusting the generator's own
//! bookkeeping.

use crate::golden::{Memories, RunStats};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::VecDeque;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{check_instr, Deps, Instr, Program, Queue};

fn qi(q: Queue) -> usize {
    match q {
        Queue::Load => 0,
        Queue::Compute => 1,
        Queue::Store => 2,
    }
}

/// FIFOs an instruction of queue `q` pops and pushes (load->compute 0,
/// compute->load 1, compute->store 2, store->compute 3).
fn token_fifos(q: usize, d: Deps) -> (Vec<usize>, Vec<usize>) {
    let mut pops = Vec::new();
    let mut pushes = Vec::new();
    match q {
        0 => {
            if d.pop_next {
                pops.push(1)
            }
            if d.push_next {
                pushes.push(0)
            }
        }
        1 => {
            if d.pop_prev {
                pops.push(0)
            }
            if d.pop_next {
                pops.push(3)
            }
            if d.push_prev {
                pushes.push(1)
            }
            if d.push_next {
                pushes.push(2)
            }
        }
        _ => {
            if d.pop_prev {
                pops.push(2)
            }
            if d.push_prev {
                pushes.push(3)
            }
        }
    }
    (pops, pushes)
}

/// Runs `program` on `ddr` under one random legal schedule drawn from `rng`.
/// `Err` describes a static problem, a weight-reuse mismatch, a deadlock or a
/// missing FINISH.
pub fn run_random_schedule(
    cfg: &AccelConfig,
    program: &Program,
    ddr: &mut [u8],
    rng: &mut StdRng,
) -> Result<(), String> {
    let instrs = &program.instrs;
    for (i, instr) in instrs.iter().enumerate() {
        check_instr(instr, cfg, Some(ddr.len() as u64)).map_err(|p| format!("#{i} `{instr}`: {p}"))?;
    }
    let depth = cfg.control.queue_depth as usize;
    let token_depth = cfg.control.token_depth;
    let mut mem = Memories::new(cfg);
    let mut stats = RunStats::default();
    let mut queues: [VecDeque<usize>; 3] = Default::default();
    let mut tokens = [0u32; 4];
    let mut pc = 0;
    // Each schedule favours different parts: slow or eager dispatch, lazy queues.
    let weights: [u32; 4] = std::array::from_fn(|_| rng.random_range(1..=10));
    loop {
        // Enabled actions: 0 dispatch, 1 + q run the head of queue q.
        let mut enabled = Vec::new();
        if let Some(instr) = instrs.get(pc) {
            let ready = match instr.queue() {
                Some(q) => queues[qi(q)].len() < depth,
                None => queues.iter().all(VecDeque::is_empty),
            };
            if ready {
                enabled.push(0);
            }
        }
        for (q, queue) in queues.iter().enumerate() {
            if let Some(&head) = queue.front() {
                let (pops, pushes) = token_fifos(q, instrs[head].deps());
                if pops.iter().all(|f| tokens[*f] > 0) && pushes.iter().all(|f| tokens[*f] < token_depth) {
                    enabled.push(1 + q);
                }
            }
        }
        if enabled.is_empty() {
            return Err(if pc >= instrs.len() && queues.iter().all(VecDeque::is_empty) {
                "no FINISH".to_string()
            } else {
                format!("deadlock with the dispatcher at #{pc}")
            });
        }
        let total: u32 = enabled.iter().map(|a| weights[*a]).sum();
        let mut pick = rng.random_range(0..total);
        let action = *enabled
            .iter()
            .find(|a| {
                if pick < weights[**a] {
                    true
                } else {
                    pick -= weights[**a];
                    false
                }
            })
            .expect("a pick below the total");
        if action == 0 {
            let instr = &instrs[pc];
            match instr.queue() {
                Some(q) => queues[qi(q)].push_back(pc),
                None if *instr == Instr::Finish => return Ok(()),
                None => {}
            }
            pc += 1;
            continue;
        }
        let q = action - 1;
        let index = queues[q].pop_front().expect("enabled head");
        let (pops, pushes) = token_fifos(q, instrs[index].deps());
        match &instrs[index] {
            Instr::Load(l) => mem.load(cfg, l, ddr, &mut stats),
            Instr::Store(s) => mem.store(s, ddr, &mut stats),
            Instr::Gemm(g) => mem.gemm(g, &mut stats).map_err(|e| format!("#{index}: weight reuse {e:?}"))?,
            Instr::Alu(a) => mem.alu(a),
            Instr::Spmv(x) => mem.spmv(x, &mut stats).map_err(|e| format!("#{index}: {e}"))?,
            Instr::Table(t) => mem.table(t, ddr, &mut stats),
            Instr::Fence | Instr::Finish => unreachable!("barriers are not queued"),
        }
        for f in pops {
            tokens[f] -= 1;
        }
        for f in pushes {
            tokens[f] += 1;
        }
    }
}
