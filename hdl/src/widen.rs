//! Zero-extension as a component.
//!
//! Inside `#[hdl_gen]` loops, `bit_cast` cannot take an argument indexed by the loop
//! variable (rust-hdl evaluates the call to learn its width, outside the loop); a
//! `Vec<Widen>` indexed by the loop variable does the same job.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Widen<const N: usize, const M: usize> {
    pub narrow: Signal<In, Bits<M>>,
    pub wide: Signal<Out, Bits<N>>,
}

impl<const N: usize, const M: usize> Logic for Widen<N, M> {
    #[hdl_gen]
    fn update(&mut self) {
        self.wide.next = bit_cast::<N, M>(self.narrow.val());
    }
}
