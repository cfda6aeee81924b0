//! Instruction field decoders. Each format's decoder slices its fields out of the
//! 256-bit instruction at the offsets of `tessera_isa`'s field table (the same
//! table the encoder, the golden model and `docs/isa.md` use), so the hardware
//! cannot drift from the ISA definition.

use rust_hdl::prelude::*;
use tessera_isa::isa::{format_of, Field, Opcode};

/// The field `name` of `opcode`'s format; panics on a name the ISA does not have
/// (a generator bug, caught by the tests).
pub fn field(opcode: Opcode, name: &str) -> Field {
    *format_of(opcode)
        .all_fields()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{opcode:?} has no field `{name}`"))
}

/// Bits of the instruction no field of `opcode`'s format covers (must be zero).
pub fn reserved_mask(opcode: Opcode) -> Bits<256> {
    let mut mask = Bits::<256>::default();
    for bit in 0..256 {
        mask = mask.replace_bit(bit, true);
    }
    for f in format_of(opcode).all_fields() {
        for bit in f.lo..f.lo + f.width {
            mask = mask.replace_bit(bit, false);
        }
    }
    mask
}

macro_rules! decoder {
    ($name:ident, $opcode:expr, { $($field:ident : $width:literal),* $(,)? }) => {
        paste::paste! {
            #[doc = concat!("Field decoder of the ", stringify!($opcode), " format.")]
            #[derive(LogicBlock)]
            pub struct $name {
                pub instr: Signal<In, Bits<256>>,
                $(pub $field: Signal<Out, Bits<$width>>,)*
                $([<$field _at>]: Constant<Bits<16>>,)*
            }

            impl Default for $name {
                fn default() -> Self {
                    $(
                        let f = field($opcode, stringify!($field));
                        assert_eq!(f.width, $width, "width of {:?}.{}", $opcode, f.name);
                        let [<$field _at>] = Constant::new((f.lo as u64).into());
                    )*
                    Self {
                        instr: Default::default(),
                        $($field: Default::default(),)*
                        $([<$field _at>],)*
                    }
                }
            }

            impl Logic for $name {
                #[hdl_gen]
                fn update(&mut self) {
                    $(self.$field.next = self.instr.val().get_bits::<$width>(self.[<$field _at>].val().index());)*
                }
            }
        }
    };
}

decoder!(HeaderFields, Opcode::Load, {
    opcode: 4, pop_prev: 1, pop_next: 1, push_prev: 1, push_next: 1,
});

decoder!(LoadFields, Opcode::Load, {
    mem: 2, acc_elem: 2, pad_value: 8, lanes: 8, pad_top: 8, pad_bottom: 8, pad_left: 8, pad_right: 8, combine: 2,
    sram_addr: 16, x_size: 16, y_size: 16, dram_addr: 32, y_stride: 32, x_stride: 32,
});

decoder!(StoreFields, Opcode::Store, {
    out_type: 3, mode: 2, pbuf_step: 1, lanes: 8, zero_point: 16, acc_addr: 16, x_size: 16, y_size: 16, pbuf_addr: 16,
    dram_addr: 32, y_stride: 32, x_stride: 32, clamp_lo: 16, clamp_hi: 16,
});

decoder!(GemmFields, Opcode::Gemm, {
    accumulate: 1, reuse_weights: 1, a_unsigned: 1, w_unsigned: 1, nm: 2, a_zero: 16, w_zero: 16, wbuf_addr: 16,
    ibuf_addr: 16, acc_addr: 16, outer: 16, inner: 16, ibuf_outer_stride: 16, ibuf_inner_stride: 16,
    acc_outer_stride: 16, acc_inner_stride: 16,
});

decoder!(AluFields, Opcode::Alu, {
    op: 4, use_imm: 1, shift: 8, imm: 32, dst: 16, src: 16, outer: 16, inner: 16, dst_outer_stride: 16,
    dst_inner_stride: 16, src_outer_stride: 16, src_inner_stride: 16,
});

decoder!(SpmvFields, Opcode::Spmv, {
    accumulate: 1, a_unsigned: 1, w_unsigned: 1, a_zero: 16, w_zero: 16, wbuf_addr: 16, ibuf_addr: 16,
    acc_addr: 16, k_size: 16, out_entries: 16, item_entries: 16,
});

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_isa::isa::*;

    #[test]
    fn decoders_extract_the_encoded_fields() {
        let load = Load {
            mem: Mem::Acc,
            acc_elem: AccElem::I32,
            pad_value: 0xab,
            lanes: 7,
            pad: Pad { top: 1, bottom: 2, left: 3, right: 4 },
            sram_addr: 0x1234,
            x_size: 5,
            y_size: 6,
            dram_addr: 0xdead_beef,
            y_stride: 0x1_0000,
            x_stride: 0x2_0000,
            deps: Deps { pop_prev: true, push_next: true, ..Deps::NONE },
            combine: Combine::Max,
        };
        let bits = Bits::<256>::from(num_bigint::BigUint::from_bytes_le(&Instr::Load(load).encode()));
        let mut d = LoadFields::default();
        d.instr.next = bits;
        d.update_all();
        d.update();
        assert_eq!(d.mem.next.to_u32(), Mem::Acc as u32);
        assert_eq!(d.acc_elem.next.to_u32(), AccElem::I32 as u32);
        assert_eq!(d.combine.next.to_u32(), Combine::Max as u32);
        assert_eq!(d.pad_value.next.to_u32(), 0xab);
        assert_eq!(d.pad_right.next.to_u32(), 4);
        assert_eq!(d.sram_addr.next.to_u32(), 0x1234);
        assert_eq!(d.dram_addr.next.to_u32(), 0xdead_beef);
        assert_eq!(d.x_stride.next.to_u32(), 0x2_0000);
        let mut h = HeaderFields::default();
        h.instr.next = bits;
        h.update_all();
        h.update();
        assert_eq!(h.opcode.next.to_u32(), 1);
        assert!(h.pop_prev.next.get_bit(0) && h.push_next.next.get_bit(0) && !h.pop_next.next.get_bit(0));
        // Reserved bits of LOAD: 62..63, 112..127, 224..255.
        let mask = reserved_mask(Opcode::Load);
        assert!(mask.get_bit(62) && mask.get_bit(127) && mask.get_bit(255) && !mask.get_bit(61) && !mask.get_bit(0));
    }
}
