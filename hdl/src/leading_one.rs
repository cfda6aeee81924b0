//! Position of the highest set bit, by binary search: log2(N) shift-and-test steps
//! instead of an N-way priority chain. Both synthesize to a few LUT levels; the
//! search is also cheap to simulate, where the chain cost N compares every cycle.

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct LeadingOne<const N: usize> {
    pub value: Signal<In, Bits<N>>,
    /// Index of the highest set bit of `value`; 0 when `value` is 0.
    pub position: Signal<Out, Bits<8>>,
    /// `stage[s]` is `value` shifted right by `pos[s]`.
    stage: Vec<Signal<Local, Bits<N>>>,
    pos: Vec<Signal<Local, Bits<8>>>,
    /// N/2, N/4, ..., 1.
    shifts: Vec<Constant<Bits<8>>>,
    _steps: usize,
}

impl<const N: usize> LeadingOne<N> {
    pub fn new() -> Self {
        assert!(N.is_power_of_two() && (2..=64).contains(&N));
        let steps = N.trailing_zeros() as usize;
        Self {
            value: Default::default(),
            position: Default::default(),
            stage: (0..=steps).map(|_| Default::default()).collect(),
            pos: (0..=steps).map(|_| Default::default()).collect(),
            shifts: (0..steps).map(|s| Constant::new(((N >> (s + 1)) as u64).into())).collect(),
            _steps: steps,
        }
    }
}

impl<const N: usize> Default for LeadingOne<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Logic for LeadingOne<N> {
    #[hdl_gen]
    fn update(&mut self) {
        self.stage[0].next = self.value.val();
        self.pos[0].next = 0.into();
        for s in 0..self._steps {
            self.stage[s + 1].next = self.stage[s].val();
            self.pos[s + 1].next = self.pos[s].val();
            if (self.stage[s].val() >> self.shifts[s].val()).any() {
                self.stage[s + 1].next = self.stage[s].val() >> self.shifts[s].val();
                self.pos[s + 1].next = self.pos[s].val() + self.shifts[s].val();
            }
        }
        for last in self._steps..(self._steps + 1) {
            self.position.next = self.pos[last].val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position_of(value: u64) -> u64 {
        let mut uut = LeadingOne::<64>::new();
        uut.connect_all();
        uut.value.next = value.into();
        for _ in 0..4 {
            uut.update_all();
        }
        uut.position.val().index() as u64
    }

    #[test]
    fn finds_the_highest_set_bit() {
        assert_eq!(position_of(0), 0);
        assert_eq!(position_of(1), 0);
        for bit in 0..64 {
            assert_eq!(position_of(1u64 << bit), bit as u64, "bit {bit}");
            assert_eq!(position_of((1u64 << bit) | 1), bit as u64, "bit {bit} with bit 0");
        }
        assert_eq!(position_of(u64::MAX), 63);
    }
}
