//! Queue and dependency-token bookkeeping of the controller, shared by the golden
//! model's scheduler: which FIFOs an instruction pops and pushes, capacities, and a
//! readable account of who waits for what when nothing can move.

use std::collections::VecDeque;
use tessera_isa::isa::{Deps, Instr, Queue};

pub use tessera_isa::isa::tokens::{pops, pushes, queue_index, TokenFifo};

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
