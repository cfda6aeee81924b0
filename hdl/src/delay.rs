//! A chain of registers of generation-time length (at least one stage).

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Delay<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub data_in: Signal<In, T>,
    /// `data_in` as it was `len` cycles ago.
    pub data_out: Signal<Out, T>,
    stages: Vec<DFF<T>>,
    _len: usize,
}

impl<T: Synth> Delay<T> {
    pub fn new(len: usize) -> Self {
        assert!(len >= 1, "a delay line has at least one stage");
        Self {
            clock: Default::default(),
            data_in: Default::default(),
            data_out: Default::default(),
            stages: (0..len).map(|_| DFF::default()).collect(),
            _len: len,
        }
    }
}

impl<T: Synth> Logic for Delay<T> {
    #[hdl_gen]
    fn update(&mut self) {
        for d in 0..self._len {
            self.stages[d].clock.next = self.clock.val();
        }
        self.stages[0].d.next = self.data_in.val();
        for d in 1..self._len {
            self.stages[d].d.next = self.stages[d - 1].q.val();
        }
        for last in (self._len - 1)..self._len {
            self.data_out.next = self.stages[last].q.val();
        }
    }
}
