//! Queue and dependency-token bookkeeping of the controller, shared by the golden
//! model's scheduler: which FIFOs an instruction pops and pushes, capacities, and a
//! readable account of who waits for what when nothing can move.

use std::collections::VecDeque;
use tessera_isa::isa::{Deps, Instr, Queue};

/// The four token FIFOs between neighbouring queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFifo {
    LoadToCompute = 0,
    ComputeToLoad = 1,
    ComputeToStore = 2,
    StoreToCompute = 3,
}

impl TokenFifo {
    pub fn describe(self) -> &'static str {
        match self {
            TokenFifo::LoadToCompute => "load->compute",
            TokenFifo::ComputeToLoad => "compute->load",
            TokenFifo::ComputeToStore => "compute->store",
            TokenFifo::StoreToCompute => "store->compute",
        }
    }
}

/// FIFO a flag refers to for a given queue; flags the queue cannot have are rejected
/// earlier by the static checks, so they map to `None` here.
fn fifo(queue: Queue, flag: Flag) -> Option<TokenFifo> {
    use TokenFifo::*;
    match (queue, flag) {
        (Queue::Load, Flag::PopNext) => Some(ComputeToLoad),
        (Queue::Load, Flag::PushNext) => Some(LoadToCompute),
        (Queue::Compute, Flag::PopPrev) => Some(LoadToCompute),
        (Queue::Compute, Flag::PopNext) => Some(StoreToCompute),
        (Queue::Compute, Flag::PushPrev) => Some(ComputeToLoad),
        (Queue::Compute, Flag::PushNext) => Some(ComputeToStore),
        (Queue::Store, Flag::PopPrev) => Some(ComputeToStore),
        (Queue::Store, Flag::PushPrev) => Some(StoreToCompute),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Flag {
    PopPrev,
    PopNext,
    PushPrev,
    PushNext,
}

pub fn pops(queue: Queue, d: Deps) -> impl Iterator<Item = TokenFifo> {
    [(d.pop_prev, Flag::PopPrev), (d.pop_next, Flag::PopNext)]
        .into_iter()
        .filter(|(on, _)| *on)
        .filter_map(move |(_, f)| fifo(queue, f))
}

pub fn pushes(queue: Queue, d: Deps) -> impl Iterator<Item = TokenFifo> {
    [(d.push_prev, Flag::PushPrev), (d.push_next, Flag::PushNext)]
        .into_iter()
        .filter(|(on, _)| *on)
        .filter_map(move |(_, f)| fifo(queue, f))
}

/// The index of `q` in per-queue arrays: load 0, compute 1, store 2.
pub(crate) fn queue_index(q: Queue) -> usize {
    match q {
        Queue::Load => 0,
        Queue::Compute => 1,
        Queue::Store => 2,
    }
}

/// Queues (holding instruction indices) and token counts.
pub struct Controller {
    queues: [VecDeque<usize>; 3],
    tokens: [u32; 4],
    queue_depth: usize,
    token_depth: u32,
}

impl Controller {
    pub fn new(queue_depth: u32, token_depth: u32) -> Self {
        Controller { queues: Default::default(), tokens: [0; 4], queue_depth: queue_depth as usize, token_depth }
    }

    pub fn all_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    pub fn has_room(&self, q: Queue) -> bool {
        self.queues[queue_index(q)].len() < self.queue_depth
    }

    pub fn enqueue(&mut self, q: Queue, index: usize) {
        self.queues[queue_index(q)].push_back(index);
    }

    pub fn head(&self, q: Queue) -> Option<usize> {
        self.queues[queue_index(q)].front().copied()
    }

    /// An instruction starts only when every token it pops is there and every FIFO it
    /// pushes has room (so a started instruction never blocks half-way).
    pub fn can_start(&self, q: Queue, d: Deps) -> bool {
        pops(q, d).all(|f| self.tokens[f as usize] > 0)
            && pushes(q, d).all(|f| self.tokens[f as usize] < self.token_depth)
    }

    /// Consumes the head of `q` and applies its token pops and pushes.
    pub fn retire_head(&mut self, q: Queue, d: Deps) {
        self.queues[queue_index(q)].pop_front();
        for f in pops(q, d) {
            self.tokens[f as usize] -= 1;
        }
        for f in pushes(q, d) {
            self.tokens[f as usize] += 1;
        }
    }

    /// Why each queue head cannot start, for a deadlock report.
    pub fn blocked_heads(&self, instrs: &[Instr]) -> Vec<String> {
        let mut out = Vec::new();
        for q in Queue::ALL {
            let Some(index) = self.head(q) else { continue };
            let d = instrs[index].deps();
            let mut waits: Vec<String> = pops(q, d)
                .filter(|f| self.tokens[*f as usize] == 0)
                .map(|f| format!("a {} token (none pending)", f.describe()))
                .collect();
            waits.extend(
                pushes(q, d)
                    .filter(|f| self.tokens[*f as usize] >= self.token_depth)
                    .map(|f| format!("room in the full {} FIFO ({} tokens)", f.describe(), self.token_depth)),
            );
            out.push(format!(
                "{} queue ({} queued) waits at #{index} `{}` for {}",
                q.name(),
                self.queues[queue_index(q)].len(),
                instrs[index].mnemonic(),
                waits.join(" and ")
            ));
        }
        out
    }
}
