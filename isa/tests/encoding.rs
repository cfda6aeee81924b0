//! Property tests of the instruction encoding: every instruction survives
//! encode -> decode unchanged, and decoding arbitrary bytes never panics and only
//! accepts canonical encodings.

use proptest::prelude::*;
use tessera_isa::isa::*;

fn deps() -> impl Strategy<Value = Deps> {
    any::<[bool; 4]>().prop_map(|[a, b, c, d]| Deps { pop_prev: a, pop_next: b, push_prev: c, push_next: d })
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn loops() -> impl Strategy<Value = (Loop2, Stride2, Stride2)> {
    any::<[u16; 6]>().prop_map(|[o, i, a, b, c, d]| {
        (Loop2 { outer: o, inner: i }, Stride2 { outer: a, inner: b }, Stride2 { outer: c, inner: d })
    })
}

fn load() -> impl Strategy<Value = Instr> {
    (
        deps(),
        (pick(Mem::ALL), pick(AccElem::ALL), pick(Combine::ALL)),
        any::<[u16; 3]>(),
        any::<[u32; 3]>(),
        any::<[u8; 6]>(),
    )
        .prop_map(
            |(
                deps,
                (mem, acc_elem, combine),
                [sram_addr, x_size, y_size],
                [dram_addr, x_stride, y_stride],
                [lanes, t, b, l, r, pad_value],
            )| {
                Instr::Load(Load {
                    deps,
                    mem,
                    acc_elem,
                    sram_addr,
                    dram_addr,
                    x_size,
                    y_size,
                    x_stride,
                    y_stride,
                    lanes,
                    pad: Pad { top: t, bottom: b, left: l, right: r },
                    pad_value,
                    combine,
                })
            },
        )
}

fn table() -> impl Strategy<Value = Instr> {
    (deps(), any::<u32>()).prop_map(|(deps, dram_addr)| Instr::Table(Table { deps, dram_addr }))
}

fn store() -> impl Strategy<Value = Instr> {
    (
        deps(),
        pick(OutType::ALL),
        pick(RequantMode::ALL),
        (any::<u8>(), any::<bool>()),
        any::<[i16; 3]>(),
        any::<[u16; 4]>(),
        any::<[u32; 3]>(),
    )
        .prop_map(
            |(
                deps,
                out_type,
                mode,
                (lanes, pbuf_step),
                [zero_point, clamp_lo, clamp_hi],
                [acc_addr, pbuf_addr, x_size, y_size],
                [dram_addr, x_stride, y_stride],
            )| {
                Instr::Store(Store {
                    deps,
                    out_type,
                    mode,
                    lanes,
                    zero_point,
                    clamp_lo,
                    clamp_hi,
                    acc_addr,
                    pbuf_addr,
                    pbuf_step,
                    dram_addr,
                    x_size,
                    y_size,
                    x_stride,
                    y_stride,
                })
            },
        )
}

fn gemm() -> impl Strategy<Value = Instr> {
    (deps(), any::<[bool; 4]>(), any::<[i16; 2]>(), 0u8..3, any::<[u16; 3]>(), loops()).prop_map(
        |(
            deps,
            [accumulate, reuse_weights, a_unsigned, w_unsigned],
            [a_zero, w_zero],
            nm,
            [wbuf_addr, ibuf_addr, acc_addr],
            (loops, ibuf_stride, acc_stride),
        )| {
            Instr::Gemm(Gemm {
                deps,
                accumulate,
                reuse_weights,
                a_unsigned,
                w_unsigned,
                a_zero,
                w_zero,
                nm,
                wbuf_addr,
                ibuf_addr,
                acc_addr,
                loops,
                ibuf_stride,
                acc_stride,
            })
        },
    )
}

fn alu() -> impl Strategy<Value = Instr> {
    (deps(), pick(AluOp::ALL), any::<bool>(), any::<i32>(), any::<i8>(), any::<[u16; 2]>(), loops()).prop_map(
        |(deps, op, use_imm, imm, shift, [dst, src], (loops, dst_stride, src_stride))| {
            Instr::Alu(Alu { deps, op, use_imm, imm, shift, dst, src, loops, dst_stride, src_stride })
        },
    )
}

fn spmv() -> impl Strategy<Value = Instr> {
    (deps(), any::<[bool; 3]>(), any::<[i16; 2]>(), any::<[u16; 6]>()).prop_map(
        |(
            deps,
            [accumulate, a_unsigned, w_unsigned],
            [a_zero, w_zero],
            [wbuf_addr, ibuf_addr, acc_addr, k_size, out_entries, item_entries],
        )| {
            Instr::Spmv(Spmv {
                deps,
                accumulate,
                a_unsigned,
                w_unsigned,
                a_zero,
                w_zero,
                wbuf_addr,
                ibuf_addr,
                acc_addr,
                k_size,
                out_entries,
                item_entries,
            })
        },
    )
}

fn instr() -> impl Strategy<Value = Instr> {
    prop_oneof![load(), store(), gemm(), alu(), spmv(), table(), Just(Instr::Fence), Just(Instr::Finish)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_decode_round_trips(i in instr()) {
        let bytes = i.encode();
        prop_assert_eq!(Instr::decode(&bytes), Ok(i));
    }

    #[test]
    fn program_round_trips(instrs in proptest::collection::vec(instr(), 0..40)) {
        let p = Program::new(instrs);
        prop_assert_eq!(Program::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn arbitrary_bytes_decode_canonically_or_fail(bytes in any::<[u8; 32]>()) {
        if let Ok(i) = Instr::decode(&bytes) {
            prop_assert_eq!(i.encode(), bytes);
        }
    }

    #[test]
    fn flipping_a_reserved_bit_is_rejected(i in instr(), bit in 0usize..256) {
        let mut bytes = i.encode();
        bytes[bit / 8] ^= 1 << (bit % 8);
        // Either the flip hit a field (and decodes to something else, canonically)
        // or it is rejected; it never decodes back to the original instruction.
        if let Ok(other) = Instr::decode(&bytes) {
            prop_assert_ne!(other, i);
            prop_assert_eq!(other.encode(), bytes);
        }
    }
}

#[test]
fn known_encoding_of_finish_and_fence() {
    let mut finish = [0u8; 32];
    finish[0] = 6;
    assert_eq!(Instr::Finish.encode(), finish);
    assert_eq!(Instr::decode(&finish), Ok(Instr::Finish));
    // Deps bits are reserved for FENCE/FINISH.
    let mut bad = finish;
    bad[0] |= 0x10;
    assert!(matches!(Instr::decode(&bad), Err(DecodeError::ReservedBits { format: "FINISH", .. })));
}

#[test]
fn zero_and_unknown_opcodes_are_rejected() {
    assert_eq!(Instr::decode(&[0u8; 32]), Err(DecodeError::UnknownOpcode(0)));
    let mut b = [0u8; 32];
    b[0] = 0x0f;
    assert_eq!(Instr::decode(&b), Err(DecodeError::UnknownOpcode(15)));
}

#[test]
fn invalid_enum_values_name_the_field() {
    // STORE with out_type 7.
    let mut b = [0u8; 32];
    b[0] = 2; // opcode STORE
    b[1] = 7; // out_type occupies bits 8..10
    match Instr::decode(&b) {
        Err(DecodeError::BadValue { format, field, value }) => {
            assert_eq!((format, field, value), ("STORE", "out_type", 7));
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// ISA 1.1: LOAD's `combine` is bits 60..61 (3 is invalid), `acc_elem` 3 is lut8,
/// and TABLE is opcode 8 with `dram_addr` in bits 128..159.
#[test]
fn isa_1_1_encodings() {
    let load = Load { mem: Mem::Acc, acc_elem: AccElem::Lut8, combine: Combine::Max, ..Default::default() };
    let bytes = Instr::Load(load).encode();
    // Byte 1: mem 2 in bits 8..9, acc_elem 3 in bits 10..11; byte 7 bits 4..5 (bits 60..61): 2.
    assert_eq!((bytes[0], bytes[1], bytes[7]), (1, 0x0e, 0x20));
    let mut bad = bytes;
    bad[7] = 0x30;
    match Instr::decode(&bad) {
        Err(DecodeError::BadValue { format, field, value }) => {
            assert_eq!((format, field, value), ("LOAD", "combine", 3))
        }
        other => panic!("unexpected {other:?}"),
    }
    // LOAD bits 62..63 stay reserved.
    bad[7] = 0x40;
    assert!(matches!(Instr::decode(&bad), Err(DecodeError::ReservedBits { format: "LOAD", .. })));
    let table = Instr::Table(Table { deps: Deps { pop_prev: true, ..Deps::NONE }, dram_addr: 0x1234_5678 });
    let mut expected = [0u8; 32];
    expected[0] = 8 | 0x10;
    expected[16..20].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    assert_eq!(table.encode(), expected);
    assert_eq!(Instr::decode(&expected), Ok(table));
    assert_eq!(table.to_string(), "table     dram=0x12345678 [pop_prev]");
}

#[test]
fn program_decode_names_the_instruction() {
    let mut bytes = Program::new(vec![Instr::Fence, Instr::Finish]).encode();
    bytes[32] = 9;
    let err = Program::decode(&bytes).unwrap_err().to_string();
    assert_eq!(err, "instruction #1 (byte offset 0x20): unknown opcode 9");
    assert!(Program::decode(&bytes[..31]).unwrap_err().to_string().contains("not a multiple"));
}
