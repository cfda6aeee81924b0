//! The dependency-token FIFOs between neighbouring queues and which of them an
//! instruction pops and pushes: the controller's rule, shared by the golden model's
//! scheduler and the compiler's cost model.

use super::{Deps, Queue};

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
pub fn queue_index(q: Queue) -> usize {
    match q {
        Queue::Load => 0,
        Queue::Compute => 1,
        Queue::Store => 2,
    }
}
