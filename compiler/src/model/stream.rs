//! One instruction stream out of many layer programs.
//!
//! Each layer's program is lowered on its own (double-buffered, token-synchronised
//! as if it ran alone) and may leave tokens in the FIFOs at its end. Between two
//! layers the stream inserts a barrier made of empty LOADs (they move nothing and
//! exist for their tokens, `docs/isa.md` §2):
//!
//! - the compute queue pops every token the layer left from the store and load
//!   queues: once they are consumed, all of the layer's STOREs have written DDR;
//!   then it gives the load queue one token;
//! - the load queue pops the tokens the layer's GEMMs left it (the IBUF and WBUF
//!   halves are free again) and that one token (the layer's outputs are in DDR).
//!
//! So the next layer starts with empty token FIFOs, reads what the previous layers
//! wrote, and overwrites nothing they still read; its first weight and activation
//! loads overlap nothing of the previous layer's tail, which costs the drain of
//! one output tile per layer boundary.

use tessera_isa::isa::tokens::{pops, pushes, TokenFifo};
#[cfg(test)]
use tessera_isa::isa::Queue;
use tessera_isa::isa::{Deps, Instr, Load, Mem, Program};

/// An instruction stream under construction.
#[derive(Debug, Default)]
pub struct Stream {
    instrs: Vec<Instr>,
    /// Tokens in each FIFO (by `TokenFifo as usize`) at the end of the stream so far.
    left: [usize; 4],
}

impl Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing has been appended.
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// Appends a layer's program (its FINISH dropped), after a barrier if a layer came
    /// before.
    pub fn push_layer(&mut self, program: &Program) {
        if !self.instrs.is_empty() {
            self.barrier();
        }
        for instr in &program.instrs {
            match instr {
                Instr::Finish => continue,
                Instr::Fence => {}
                _ => {
                    let q = instr.queue().expect("only FENCE and FINISH have no queue");
                    for f in pops(q, instr.deps()) {
                        self.left[f as usize] -= 1;
                    }
                    for f in pushes(q, instr.deps()) {
                        self.left[f as usize] += 1;
                    }
                }
            }
            self.instrs.push(*instr);
        }
    }

    /// Waits (as described in the module documentation) until everything before has
    /// completed, leaving every token FIFO empty.
    fn barrier(&mut self) {
        use TokenFifo::*;
        let empty = |mem: Mem, deps: Deps| Instr::Load(Load { mem, deps, ..Load::default() });
        // Compute: consume the store and load queues' tokens, then signal the load queue.
        let mut compute = Vec::new();
        for _ in 0..self.left[StoreToCompute as usize] {
            compute.push(empty(Mem::Acc, Deps { pop_next: true, ..Deps::NONE }));
        }
        for _ in 0..self.left[LoadToCompute as usize] {
            compute.push(empty(Mem::Acc, Deps { pop_prev: true, ..Deps::NONE }));
        }
        compute.push(empty(Mem::Acc, Deps { push_prev: true, ..Deps::NONE }));
        // Load: consume the compute queue's tokens, the last being the signal.
        let load =
            (0..=self.left[ComputeToLoad as usize]).map(|_| empty(Mem::Ibuf, Deps { pop_next: true, ..Deps::NONE }));
        debug_assert_eq!(self.left[ComputeToStore as usize], 0, "every compute->store token has its STORE");
        self.instrs.extend(compute);
        self.instrs.extend(load);
        self.left = [0; 4];
    }

    /// The stream, ending in FINISH.
    pub fn finish(mut self) -> Program {
        self.instrs.push(Instr::Finish);
        Program::new(self.instrs)
    }
}

/// The queue an instruction runs on, for tests.
#[cfg(test)]
fn queue_of(i: &Instr) -> Option<Queue> {
    i.queue()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barrier_drains_what_a_layer_leaves_and_syncs_the_load_queue() {
        // A layer that leaves two compute->load tokens and one store->compute token.
        let push = |q: Mem, d: Deps| Instr::Load(Load { mem: q, deps: d, ..Load::default() });
        let layer = Program::new(vec![
            push(Mem::Acc, Deps { push_prev: true, ..Deps::NONE }),
            push(Mem::Acc, Deps { push_prev: true, ..Deps::NONE }),
            Instr::Store(tessera_isa::isa::Store {
                deps: Deps { push_prev: true, ..Deps::NONE },
                ..Default::default()
            }),
            Instr::Finish,
        ]);
        let mut s = Stream::new();
        s.push_layer(&layer);
        s.push_layer(&layer);
        let p = s.finish();
        let barrier = &p.instrs[3..3 + 5];
        let pops_of = |q: Queue| {
            barrier.iter().filter(|i| queue_of(i) == Some(q)).map(|i| pops(q, i.deps()).count()).sum::<usize>()
        };
        assert_eq!(pops_of(Queue::Compute), 1, "the STORE's token");
        assert_eq!(pops_of(Queue::Load), 3, "two GEMM tokens and the barrier's");
        assert_eq!(p.instrs.iter().filter(|i| matches!(i, Instr::Finish)).count(), 1);
    }
}
