//! Conversion of a stored operand to the PE's number: sign- or zero-extension of the
//! 8-bit (or 4-bit) value, minus the zero point. The result has 9 significant bits.

use crate::widen::Widen;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct OperandExt {
    pub raw: Signal<In, Bits<8>>,
    pub is_unsigned: Signal<In, Bit>,
    /// Zero point, two's complement.
    pub zero: Signal<In, Bits<16>>,
    pub value: Signal<Out, Signed<16>>,
    widen: Widen<16, 8>,
    extended: Signal<Local, Bits<16>>,
    four_bit: Constant<Bit>,
    high8: Constant<Bits<16>>,
    high12: Constant<Bits<16>>,
}

impl OperandExt {
    pub fn new(four_bit: bool) -> Self {
        Self {
            raw: Default::default(),
            is_unsigned: Default::default(),
            zero: Default::default(),
            value: Default::default(),
            widen: Default::default(),
            extended: Default::default(),
            four_bit: Constant::new(four_bit),
            high8: Constant::new(0xff00u64.into()),
            high12: Constant::new(0xfff0u64.into()),
        }
    }
}

impl Logic for OperandExt {
    #[hdl_gen]
    fn update(&mut self) {
        self.widen.narrow.next = self.raw.val();
        self.extended.next = self.widen.wide.val();
        if !self.is_unsigned.val() {
            if self.four_bit.val() {
                if self.raw.val().get_bit(3) {
                    self.extended.next = self.widen.wide.val() | self.high12.val();
                }
            } else if self.raw.val().get_bit(7) {
                self.extended.next = self.widen.wide.val() | self.high8.val();
            }
        }
        self.value.next = signed_cast::<16>(self.extended.val() - self.zero.val());
    }
}
