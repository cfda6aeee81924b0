//! Hand-written programs on the golden model, each checked against values derived
//! independently (ndarray, or arithmetic worked out in the comments).

use ndarray::{Array2, ArrayView2};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::*;
use tessera_isa::quant::ParamLane;
use tessera_isa::regs::ErrorCode;
use tessera_sim::cosim::{run_both, run_both_bytes};
use tessera_sim::golden::{ExecError, Golden, RunStats};

/// Runs `program` on the golden model and the Verilated RTL from the same `ddr`;
/// both must succeed with identical DDR images. Leaves the result in `ddr`.
fn run(cfg: &AccelConfig, program: &Program, ddr: &mut [u8]) -> RunStats {
    let both = run_both(cfg, ddr, program, 5_000_000).expect("RTL model");
    let stats = both.golden_result.as_ref().unwrap_or_else(|e| panic!("golden: {e}")).clone();
    assert!(!both.outcome.timed_out, "the RTL did not finish");
    assert_eq!(both.outcome.error, None, "the RTL reported an error");
    if let Some(at) = both.first_difference() {
        panic!("DDR differs at {at:#x}: golden {:#04x}, RTL {:#04x}", both.golden[at], both.rtl[at]);
    }
    ddr.copy_from_slice(&both.golden[..ddr.len()]);
    stats
}

fn tiny() -> AccelConfig {
    AccelConfig::builtin("tiny").unwrap()
}

fn deps(f: impl FnOnce(&mut Deps)) -> Deps {
    let mut d = Deps::default();
    f(&mut d);
    d
}

fn read_i32(ddr: &[u8], addr: usize, n: usize) -> Vec<i32> {
    ddr[addr..addr + 4 * n].chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn as_bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|x| *x as u8).collect()
}

/// A 4x4 weight tile stored row-major (4 bytes per row) at `dram_addr`, into WBUF 0.
fn weight_tile_at(dram_addr: u32) -> Load {
    Load { mem: Mem::Wbuf, dram_addr, x_size: 4, x_stride: 4, y_size: 1, lanes: 4, ..Default::default() }
}

/// C = A x B for a single 4x4 tile, written instruction by instruction.
#[test]
fn single_tile_gemm_matches_ndarray() {
    let a: Vec<i8> = vec![1, -2, 3, 4, 5, 6, -7, 8, 9, 10, 11, -12, -128, 127, 0, 1];
    let b: Vec<i8> = vec![-1, 2, 3, 4, 5, -6, 7, 8, 9, 10, -11, 12, 127, -128, 1, 0];
    let mut ddr = vec![0u8; 0x200];
    ddr[0..16].copy_from_slice(&as_bytes(&a));
    ddr[0x40..0x50].copy_from_slice(&as_bytes(&b));
    let program = Program::new(vec![
        // Four activation rows (K = 4 lanes each), consecutive in DDR.
        Instr::Load(Load {
            mem: Mem::Ibuf,
            dram_addr: 0,
            x_size: 4,
            x_stride: 4,
            y_size: 1,
            lanes: 4,
            ..Default::default()
        }),
        // The weight tile: entry k holds B[k][0..4].
        Instr::Load(Load { deps: deps(|d| d.push_next = true), ..weight_tile_at(0x40) }),
        Instr::Gemm(Gemm {
            loops: Loop2::flat(4),
            ibuf_stride: Stride2::UNIT,
            acc_stride: Stride2::UNIT,
            deps: deps(|d| {
                d.pop_prev = true;
                d.push_next = true
            }),
            ..Default::default()
        }),
        Instr::Store(Store {
            out_type: OutType::I32,
            dram_addr: 0x100,
            x_size: 4,
            x_stride: 16,
            y_size: 1,
            lanes: 4,
            deps: deps(|d| d.pop_prev = true),
            ..Default::default()
        }),
        Instr::Finish,
    ]);
    let stats = run(&tiny(), &program, &mut ddr);

    let to_i32 = |v: &[i8]| Array2::from_shape_vec((4, 4), v.iter().map(|x| i32::from(*x)).collect()).unwrap();
    let expected = to_i32(&a).dot(&to_i32(&b));
    let got = Array2::from_shape_vec((4, 4), read_i32(&ddr, 0x100, 16)).unwrap();
    assert_eq!(got, expected);
    assert_eq!(stats.macs, 4 * 16);
    assert_eq!(stats.instructions, 5);
    assert_eq!(stats.dma_read_bytes, 32);
    assert_eq!(stats.dma_write_bytes, 64);
}

/// A 1-D convolution (8 positions x 4 channels, kernel 3, "same" padding) as three
/// accumulating GEMMs over shifted windows of one padded load: implicit im2col.
#[test]
fn padded_conv1d_by_shifted_gemms() {
    let (len, ch, taps) = (8usize, 4usize, 3usize);
    let x: Vec<u8> = (0..len * ch).map(|i| (i * 37 % 256) as u8).collect(); // uint8 activations
    let a_zero = 100i16;
    let w: Vec<i8> = (0..taps * ch * ch).map(|i| ((i * 29 % 19) as i8) - 9).collect(); // [tap][cin][cout]
    let mut ddr = vec![0u8; 0x400];
    ddr[..x.len()].copy_from_slice(&x);
    ddr[0x100..0x100 + w.len()].copy_from_slice(&as_bytes(&w));

    let mut instrs = vec![Instr::Load(Load {
        mem: Mem::Ibuf,
        x_size: len as u16,
        x_stride: ch as u32,
        y_size: 1,
        lanes: ch as u8,
        pad: Pad { left: 1, right: 1, ..Pad::default() },
        pad_value: a_zero as u8, // padding equals the zero point, so it contributes nothing
        ..Default::default()
    })];
    for t in 0..taps {
        instrs.push(Instr::Load(Load {
            mem: Mem::Wbuf,
            sram_addr: (t * ch) as u16,
            dram_addr: (0x100 + t * ch * ch) as u32,
            x_size: ch as u16,
            x_stride: ch as u32,
            y_size: 1,
            lanes: ch as u8,
            ..Default::default()
        }));
    }
    instrs.push(Instr::Fence);
    for t in 0..taps {
        instrs.push(Instr::Gemm(Gemm {
            accumulate: t > 0,
            a_unsigned: true,
            a_zero,
            wbuf_addr: (t * ch) as u16,
            ibuf_addr: t as u16, // output position p reads padded position p + t
            loops: Loop2::flat(len as u16),
            ibuf_stride: Stride2::UNIT,
            acc_stride: Stride2::UNIT,
            ..Default::default()
        }));
    }
    instrs.push(Instr::Fence);
    instrs.push(Instr::Store(Store {
        out_type: OutType::I32,
        dram_addr: 0x200,
        x_size: len as u16,
        x_stride: (4 * ch) as u32,
        y_size: 1,
        lanes: ch as u8,
        ..Default::default()
    }));
    instrs.push(Instr::Finish);
    run(&tiny(), &Program::new(instrs), &mut ddr);

    let got = read_i32(&ddr, 0x200, len * ch);
    for p in 0..len {
        for co in 0..ch {
            let mut expected = 0i32;
            for t in 0..taps {
                let pos = p as isize + t as isize - 1;
                if (0..len as isize).contains(&pos) {
                    for ci in 0..ch {
                        let xv = i32::from(x[pos as usize * ch + ci]) - i32::from(a_zero);
                        expected += xv * i32::from(w[(t * ch + ci) * ch + co]);
                    }
                }
            }
            assert_eq!(got[p * ch + co], expected, "position {p}, channel {co}");
        }
    }
}

fn acc_load(sram_addr: u16, dram_addr: u32, acc_elem: AccElem) -> Instr {
    Instr::Load(acc_load_at(sram_addr, dram_addr, acc_elem, Combine::Overwrite))
}

fn alu(op: AluOp, dst: u16, b: Result<i32, u16>, shift: i8) -> Instr {
    Instr::Alu(Alu {
        op,
        use_imm: b.is_ok(),
        imm: b.unwrap_or(0),
        src: b.err().unwrap_or(0),
        shift,
        dst,
        loops: Loop2::flat(1),
        dst_stride: Stride2::UNIT,
        src_stride: Stride2::UNIT,
        ..Default::default()
    })
}

fn store_i32(acc_addr: u16, dram_addr: u32) -> Instr {
    Instr::Store(Store {
        out_type: OutType::I32,
        acc_addr,
        dram_addr,
        x_size: 1,
        y_size: 1,
        lanes: 4,
        ..Default::default()
    })
}

#[test]
fn alu_operations_hand_derived() {
    let mut ddr = vec![0u8; 0x100];
    ddr[0..4].copy_from_slice(&as_bytes(&[1, -2, 3, 100]));
    ddr[4..8].copy_from_slice(&as_bytes(&[4, 4, 4, 4]));
    let program = Program::new(vec![
        acc_load(0, 0, AccElem::I8),
        acc_load(1, 4, AccElem::U8),
        alu(AluOp::Add, 0, Ok(5), 0),      // [6, 3, 8, 105]
        alu(AluOp::Max, 0, Err(1), 0),     // [6, 4, 8, 105]
        alu(AluOp::Shl, 0, Ok(2), 0),      // [24, 16, 32, 420]
        alu(AluOp::SraRound, 0, Ok(3), 0), // /8: [3, 2, 4, 52.5 -> 53]
        store_i32(0, 0x20),
        // x0.25 with double rounding: SRDHM halves (ties up), RDBPOT halves again
        // (ties away): 3 -> 2 -> 1, 2 -> 1 -> 1, 4 -> 2 -> 1, 53 -> 27 -> 14.
        alu(AluOp::Mbqm, 0, Ok(1 << 30), -1),
        alu(AluOp::Sub, 0, Err(1), 0), // - [4,4,4,4]: [-3, -3, -3, 10]
        alu(AluOp::Mul, 0, Ok(-7), 0), // [21, 21, 21, -70]
        alu(AluOp::Min, 0, Ok(0), 0),  // [0, 0, 0, -70]
        store_i32(0, 0x30),
        alu(AluOp::Mov, 1, Ok(-9), 0),
        store_i32(1, 0x40),
        Instr::Finish,
    ]);
    let program = fence_stores(program);
    run(&tiny(), &program, &mut ddr);
    assert_eq!(read_i32(&ddr, 0x20, 4), [3, 2, 4, 53]);
    assert_eq!(read_i32(&ddr, 0x30, 4), [0, 0, 0, -70]);
    assert_eq!(read_i32(&ddr, 0x40, 4), [-9, -9, -9, -9]);
}

/// The store queue runs independently of the compute queue: put a FENCE before and
/// after every STORE so each observes the accumulator at its program position.
fn fence_stores(p: Program) -> Program {
    let mut out = Vec::new();
    for i in p.instrs {
        if matches!(i, Instr::Store(_)) {
            out.extend([Instr::Fence, i, Instr::Fence]);
        } else {
            out.push(i);
        }
    }
    Program::new(out)
}

#[test]
fn store_requantization_modes_and_packing() {
    let mut ddr = vec![0u8; 0x200];
    // Accumulator lanes [100, -37, 1000, 7] from int32 DDR values.
    for (i, v) in [100i32, -37, 1000, 7].iter().enumerate() {
        ddr[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    // Per-lane parameters: x0.5 with biases [10, 0, 0, 1], shift 0.
    let params: Vec<ParamLane> =
        [10, 0, 0, 1].iter().map(|b| ParamLane { bias: *b, multiplier: 1 << 30, shift: 0 }).collect();
    let table = encode_param_entries(4, &params);
    ddr[0x40..0x40 + table.len()].copy_from_slice(&table);
    let store = |out_type, mode, zp, lo, hi, dram_addr| {
        Instr::Store(Store {
            out_type,
            mode,
            zero_point: zp,
            clamp_lo: lo,
            clamp_hi: hi,
            dram_addr,
            x_size: 1,
            y_size: 1,
            lanes: 4,
            ..Default::default()
        })
    };
    let program = fence_stores(Program::new(vec![
        acc_load(0, 0, AccElem::I32),
        Instr::Load(Load { mem: Mem::Pbuf, dram_addr: 0x40, x_size: 1, y_size: 1, lanes: 4, ..Default::default() }),
        // (acc + bias) * 0.5 + 3: [58, -18.5 -> -15 (SRDHM ties up: -18), 503 -> 127, 7]
        store(OutType::I8, RequantMode::Fixed, 3, -128, 127, 0x100),
        // No scaling, clamp to uint4: [15, 0, 15, 7] packed low nibble first.
        store(OutType::U4, RequantMode::None, 0, 0, 15, 0x110),
        // No scaling, clamp to int4 [-8, 7]: [7, -8, 7, 7] -> nibbles 7, 8, 7, 7.
        store(OutType::I4, RequantMode::None, 0, -8, 7, 0x118),
        Instr::Finish,
    ]));
    run(&tiny(), &program, &mut ddr);
    // Lane 1: -37 * 0.5 = -18.5; SRDHM rounds ties towards +inf -> -18; + 3 = -15.
    assert_eq!(as_bytes(&[58, -15, 127, 7]), ddr[0x100..0x104]);
    assert_eq!(ddr[0x110..0x112], [0x0f, 0x7f]);
    assert_eq!(ddr[0x118..0x11a], [0x87, 0x77]);

    let mut ddr2 = ddr.clone();
    let floats: Vec<ParamLane> = [0, 0, 0, 1].iter().map(|b| ParamLane::float(*b, 0.5)).collect();
    let table = encode_param_entries(4, &floats);
    ddr2[0x40..0x40 + table.len()].copy_from_slice(&table);
    let program = fence_stores(Program::new(vec![
        acc_load(0, 0, AccElem::I32),
        Instr::Load(Load { mem: Mem::Pbuf, dram_addr: 0x40, x_size: 1, y_size: 1, lanes: 4, ..Default::default() }),
        store(OutType::U8, RequantMode::Float, 0, 0, 255, 0x120),
        store(OutType::I8, RequantMode::Float, 1, -128, 127, 0x128),
        Instr::Finish,
    ]));
    run(&tiny(), &program, &mut ddr2);
    // [100, -37, 1000, 7+1] * 0.5 = [50, -18.5, 500, 4] -> uint8 [50, 0, 255, 4]
    assert_eq!(ddr2[0x120..0x124], [50, 0, 255, 4]);
    // + zero point 1 before rounding: [51, -17.5 -> -18 (ties to even), 127, 5]
    assert_eq!(ddr2[0x128..0x12c], as_bytes(&[51, -18, 127, 5]));
}

#[test]
fn four_bit_operands_unpack_and_multiply() {
    let mut cfg = tiny();
    cfg.array.operand_bits = 4;
    // A: one row [1, -2, 7, -8] packed low nibble first: 0xE1, 0x87.
    // B: 4x4 with row k = [k+1, -(k+1), 0, 1] for k = 0..3.
    let b_rows: Vec<[i8; 4]> = (0..4).map(|k| [k + 1, -(k + 1), 0, 1]).collect();
    let pack = |v: &[i8]| -> Vec<u8> { v.chunks(2).map(|p| (p[0] as u8 & 0xf) | ((p[1] as u8 & 0xf) << 4)).collect() };
    let mut ddr = vec![0u8; 0x100];
    ddr[0..2].copy_from_slice(&pack(&[1, -2, 7, -8]));
    for (k, row) in b_rows.iter().enumerate() {
        ddr[0x10 + 2 * k..0x12 + 2 * k].copy_from_slice(&pack(row));
    }
    let program = Program::new(vec![
        Instr::Load(Load { mem: Mem::Ibuf, x_size: 1, y_size: 1, lanes: 4, ..Default::default() }),
        Instr::Load(Load {
            mem: Mem::Wbuf,
            dram_addr: 0x10,
            x_size: 4,
            x_stride: 2,
            y_size: 1,
            lanes: 4,
            ..Default::default()
        }),
        Instr::Fence,
        Instr::Gemm(Gemm { loops: Loop2::flat(1), ..Default::default() }),
        Instr::Fence,
        store_i32(0, 0x40),
        Instr::Finish,
    ]);
    run(&cfg, &program, &mut ddr);
    // sum_k a[k] * (k+1) = 1*1 - 2*2 + 7*3 - 8*4 = -14; column 1 is its negation;
    // column 2 is 0; column 3 is the sum of a: 1 - 2 + 7 - 8 = -2.
    assert_eq!(read_i32(&ddr, 0x40, 4), [-14, 14, 0, -2]);
}

#[test]
fn reused_weights_must_match_the_loaded_tile() {
    let mut ddr = vec![0u8; 0x100];
    let gemm = |wbuf_addr, reuse| {
        Instr::Gemm(Gemm { wbuf_addr, reuse_weights: reuse, loops: Loop2::flat(1), ..Default::default() })
    };
    let ok = Program::new(vec![gemm(0, false), gemm(0, true), Instr::Finish]);
    run(&tiny(), &ok, &mut ddr);
    let err = run_err(vec![gemm(0, false), gemm(4, true), Instr::Finish], 0x100);
    assert_eq!((err.code(), err.pc()), (ErrorCode::WeightReuse, 1));
    assert_eq!(run_err(vec![gemm(0, true), Instr::Finish], 0x100).code(), ErrorCode::WeightReuse);
}

/// Runs a program that must fail; the RTL must report the same error code and PC.
fn run_err_on(cfg: &AccelConfig, instrs: Vec<Instr>, ddr_len: usize) -> ExecError {
    let ddr = vec![0u8; ddr_len];
    let both = run_both(cfg, &ddr, &Program::new(instrs), 1_000_000).expect("RTL model");
    let err = both.golden_result.clone().expect_err("the program must fail");
    assert!(!both.outcome.timed_out, "the RTL hung instead of reporting {err}");
    assert_eq!(both.outcome.error, Some((err.code(), err.pc() as u32)), "RTL error vs golden `{err}`");
    err
}

fn run_err(instrs: Vec<Instr>, ddr_len: usize) -> ExecError {
    run_err_on(&tiny(), instrs, ddr_len)
}

#[test]
fn malformed_fields_are_rejected_with_their_names() {
    let load = Load { mem: Mem::Ibuf, x_size: 1, y_size: 1, lanes: 4, ..Default::default() };
    let cases: Vec<(Instr, &str, &str)> = vec![
        (Instr::Load(Load { lanes: 5, ..load }), "lanes", "must be in 1..=4"),
        (Instr::Load(Load { sram_addr: 511, x_size: 2, ..load }), "sram_addr", "run past the 512-entry"),
        (Instr::Load(Load { mem: Mem::Pbuf, lanes: 3, ..load }), "lanes", "must equal cols (4) for PBUF"),
        (Instr::Load(Load { dram_addr: 0xffff_0000, ..load }), "dram_addr", "run past the end"),
        (Instr::Load(Load { deps: deps(|d| d.pop_prev = true), ..load }), "pop_prev", "no previous queue"),
        (Instr::Gemm(Gemm { wbuf_addr: 126, ..Default::default() }), "wbuf_addr", "runs past"),
        (Instr::Gemm(Gemm { a_zero: 200, ..Default::default() }), "a_zero", "outside the operand range -128..=127"),
        (
            Instr::Gemm(Gemm {
                loops: Loop2 { outer: 2, inner: 2 },
                acc_stride: Stride2 { outer: 255, inner: 1 },
                ..Default::default()
            }),
            "acc_addr",
            "reaches entry 256",
        ),
        (
            Instr::Store(Store { lanes: 4, out_type: OutType::I8, clamp_lo: 5, clamp_hi: 4, ..Default::default() }),
            "clamp_lo",
            "exceeds",
        ),
        (
            Instr::Store(Store { lanes: 4, mode: RequantMode::Fixed, pbuf_addr: 16, ..Default::default() }),
            "pbuf_addr",
            "past",
        ),
        (Instr::Alu(Alu { op: AluOp::Add, shift: 3, ..Default::default() }), "shift", "only MBQM"),
    ];
    for (instr, field, reason) in cases {
        let err = run_err(vec![Instr::Fence, instr, Instr::Finish], 0x100);
        match &err {
            ExecError::Invalid { index: 1, problem, .. } => {
                assert_eq!(problem.field, field, "{err}");
                assert!(problem.reason.contains(reason), "{err}");
            }
            other => panic!("{instr}: expected a field error, got {other}"),
        }
        assert_eq!(err.code(), ErrorCode::BadField);
    }
}

#[test]
fn bad_opcode_in_ddr_is_reported_with_its_index() {
    let mut ddr = vec![0u8; 0x100];
    let program = Program::new(vec![Instr::Fence, Instr::Fence, Instr::Finish]).encode();
    ddr[..program.len()].copy_from_slice(&program);
    ddr[32] = 0x0c; // instruction 1 gets opcode 12
    let err = Golden::new(&tiny()).run_from_ddr(&mut ddr.clone(), 0, 3).unwrap_err();
    assert_eq!((err.code(), err.pc()), (ErrorCode::BadInstruction, 1));
    assert_eq!(err.to_string(), "instruction #1: unknown opcode 12");
    let both = run_both_bytes(&tiny(), ddr.clone(), 0, 3, 100_000).unwrap();
    assert_eq!(both.outcome.error, Some((ErrorCode::BadInstruction, 1)));
    // A program that does not fit in DDR is refused before decoding.
    let err = Golden::new(&tiny()).run_from_ddr(&mut ddr, 0xf0, 3).unwrap_err();
    assert!(err.to_string().contains("outside the 0x100-byte DDR"), "{err}");
}

#[test]
fn missing_token_is_a_deadlock_naming_the_waiter() {
    let gemm = Instr::Gemm(Gemm { deps: deps(|d| d.pop_prev = true), loops: Loop2::flat(1), ..Default::default() });
    let err = run_err(vec![gemm, Instr::Finish], 0x100);
    assert_eq!((err.code(), err.pc()), (ErrorCode::Deadlock, 0));
    let msg = err.to_string();
    assert!(msg.contains("compute queue (1 queued) waits at #0 `gemm` for a load->compute token"), "{msg}");
    assert!(msg.contains("dispatcher waits to issue #1 `finish`"), "{msg}");
}

#[test]
fn bounded_queues_can_deadlock_a_program_that_infinite_queues_would_run() {
    // n loads each wait for a token from compute; the compute instructions that give
    // those tokens come after them in the stream. With queue depth >= n the loads
    // all fit and the computes dispatch; with depth < n the dispatcher is stuck
    // behind a full load queue and the computes never arrive.
    let program = |n: usize| {
        let load = Instr::Load(Load { deps: deps(|d| d.pop_next = true), ..Default::default() });
        let gemm = Instr::Gemm(Gemm { deps: deps(|d| d.push_prev = true), ..Default::default() });
        let mut v = vec![load; n];
        v.extend(std::iter::repeat_n(gemm, n));
        v.push(Instr::Finish);
        Program::new(v)
    };
    let mut cfg = tiny();
    cfg.control.token_depth = 16;
    let mut ddr = vec![0u8; 0x100];
    let depth = cfg.control.queue_depth as usize;
    run(&cfg, &program(depth), &mut ddr);
    let err = run_err_on(&cfg, program(depth + 1).instrs, 0x100);
    assert_eq!(err.code(), ErrorCode::Deadlock);
    assert!(err.to_string().contains(&format!("dispatcher waits to issue #{depth} `load.ibuf`")), "{err}");
}

#[test]
fn full_token_fifo_blocks_the_pusher() {
    let cfg = tiny();
    let n = cfg.control.token_depth as usize + 1;
    let load = Instr::Load(Load { deps: deps(|d| d.push_next = true), ..Default::default() });
    let mut instrs = vec![load; n];
    instrs.push(Instr::Finish);
    let err = run_err(instrs, 0x100);
    assert!(err.to_string().contains("room in the full load->compute FIFO (4 tokens)"), "{err}");
}

#[test]
fn a_program_without_finish_is_an_error() {
    let err = run_err(vec![Instr::Fence, Instr::Fence], 0x100);
    assert_eq!((err.code(), err.pc()), (ErrorCode::NoFinish, 2));
}

/// The golden model's GEMM agrees with ndarray on a view with strides (a check of
/// the two-level loop addressing): every other activation row, written to every
/// third accumulator entry.
#[test]
fn strided_gemm_loops() {
    let a: Vec<i8> = (0..32).map(|i| (i * 7 % 23) as i8 - 11).collect(); // 8 rows of 4
    let b: Vec<i8> = (0..16).map(|i| (i * 5 % 17) as i8 - 8).collect();
    let mut ddr = vec![0u8; 0x400];
    ddr[..32].copy_from_slice(&as_bytes(&a));
    ddr[0x40..0x50].copy_from_slice(&as_bytes(&b));
    let program = Program::new(vec![
        Instr::Load(Load { mem: Mem::Ibuf, x_size: 8, x_stride: 4, y_size: 1, lanes: 4, ..Default::default() }),
        Instr::Load(weight_tile_at(0x40)),
        Instr::Fence,
        // rows 0, 2, 4, 6 (outer 2 x inner 2: o*4 + i*2) -> acc 0, 3, 6, 9 (o*6 + i*3)
        Instr::Gemm(Gemm {
            loops: Loop2 { outer: 2, inner: 2 },
            ibuf_stride: Stride2 { outer: 4, inner: 2 },
            acc_stride: Stride2 { outer: 6, inner: 3 },
            ..Default::default()
        }),
        Instr::Fence,
        Instr::Store(Store {
            out_type: OutType::I32,
            dram_addr: 0x100,
            x_size: 10,
            x_stride: 16,
            y_size: 1,
            lanes: 4,
            ..Default::default()
        }),
        Instr::Finish,
    ]);
    run(&tiny(), &program, &mut ddr);
    let a2 = Array2::from_shape_vec((8, 4), a.iter().map(|v| i32::from(*v)).collect()).unwrap();
    let b2 = Array2::from_shape_vec((4, 4), b.iter().map(|v| i32::from(*v)).collect()).unwrap();
    let full = a2.dot(&b2);
    let got = read_i32(&ddr, 0x100, 40);
    let got: ArrayView2<i32> = ArrayView2::from_shape((10, 4), &got).unwrap();
    for (row, acc) in [(0, 0), (2, 3), (4, 6), (6, 9)] {
        assert_eq!(got.row(acc), full.row(row), "activation row {row} -> accumulator {acc}");
    }
}

/// A TABLE image: entry `i` (for raw byte `i`) is `f(i)`.
fn table_bytes(f: impl Fn(i32) -> i32) -> Vec<u8> {
    (0..256).flat_map(|i| f(i).to_le_bytes()).collect()
}

fn acc_load_at(sram_addr: u16, dram_addr: u32, acc_elem: AccElem, combine: Combine) -> Load {
    Load {
        mem: Mem::Acc,
        acc_elem,
        combine,
        sram_addr,
        dram_addr,
        x_size: 1,
        y_size: 1,
        lanes: 4,
        ..Default::default()
    }
}

/// ISA 1.1: LOAD `lut8` looks each byte up in the TABLE (padding looks up
/// `pad_value`), and `combine` adds or takes the maximum instead of overwriting,
/// padding included: a TFLite-style ADD (two lookups, the second added), a 1-D max
/// pool (kernel 3, padding 1) and a wrapping uint8 add, derived by hand.
#[test]
fn lut8_loads_and_combining_loads_hand_derived() {
    let mut ddr = vec![0u8; 0x800];
    // TABLE[i] = 1000 * i - 5 for i < 128, and -7 * i for i >= 128.
    let t = |i: i32| if i < 128 { 1000 * i - 5 } else { -7 * i };
    ddr[0x400..0x800].copy_from_slice(&table_bytes(t));
    ddr[0..4].copy_from_slice(&[0, 1, 200, 127]); // x1 (lane 3 is not loaded)
    ddr[4..8].copy_from_slice(&[3, 255, 2, 9]); // x2
                                                // Pool input: three positions of four channels.
    ddr[8..20].copy_from_slice(&as_bytes(&[-5, 7, -128, 100, 6, -3, 0, 100, 1, 2, 3, 4]));
    ddr[20..22].copy_from_slice(&[5, 6]);
    for (i, v) in [10, -20, 30, i32::MAX].iter().enumerate() {
        ddr[24 + 4 * i..28 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let row = |sram, dram, x_size, pad, combine| {
        Instr::Load(Load { x_size, x_stride: 4, pad, pad_value: 0x80, ..acc_load_at(sram, dram, AccElem::I8, combine) })
    };
    let left = Pad { left: 1, ..Pad::default() };
    let right = Pad { right: 1, ..Pad::default() };
    let program = fence_stores(Program::new(vec![
        Instr::Table(Table { dram_addr: 0x400, ..Default::default() }),
        // ADD: ACC[0] = T[x1] + T[x2]; lane 3 of the first load is padding (lanes 3).
        Instr::Load(Load { lanes: 3, pad_value: 128, ..acc_load_at(0, 0, AccElem::Lut8, Combine::Overwrite) }),
        Instr::Load(acc_load_at(0, 4, AccElem::Lut8, Combine::Add)),
        // Max pool into ACC[1..4): out[p] = max(in[p - 1], in[p], in[p + 1]), padding -128.
        row(1, 8, 2, left, Combine::Overwrite),
        row(1, 8, 3, Pad::default(), Combine::Max),
        row(1, 12, 2, right, Combine::Max),
        // ACC[4] = int32 [10, -20, 30, MAX] + uint8 [5, 6, pad 250, pad 250], wrapping.
        Instr::Load(Load { x_size: 1, ..acc_load_at(4, 24, AccElem::I32, Combine::Overwrite) }),
        Instr::Load(Load { lanes: 2, pad_value: 250, ..acc_load_at(4, 20, AccElem::U8, Combine::Add) }),
        // ACC[5] = max(T[x2], T[x1 with lane 3 = 127]).
        Instr::Load(acc_load_at(5, 4, AccElem::Lut8, Combine::Overwrite)),
        Instr::Load(acc_load_at(5, 0, AccElem::Lut8, Combine::Max)),
        // An empty combining load writes nothing.
        Instr::Load(Load { x_size: 0, ..acc_load_at(1, 0, AccElem::Lut8, Combine::Add) }),
        Instr::Store(Store {
            out_type: OutType::I32,
            dram_addr: 0x100,
            x_size: 6,
            x_stride: 16,
            y_size: 1,
            lanes: 4,
            ..Default::default()
        }),
        Instr::Finish,
    ]));
    let stats = run(&tiny(), &program, &mut ddr);
    let got = read_i32(&ddr, 0x100, 24);
    // T[x1] = [T 0, T 1, T 200, T 128 (pad)] = [-5, 995, -1400, -896];
    // T[x2] = [T 3, T 255, T 2, T 9] = [2995, -1785, 1995, 8995].
    assert_eq!(got[0..4], [2990, -790, 595, 8099]);
    // in = [-5, 7, -128, 100], [6, -3, 0, 100], [1, 2, 3, 4].
    assert_eq!(got[4..8], [6, 7, 0, 100]);
    assert_eq!(got[8..12], [6, 7, 3, 100]);
    assert_eq!(got[12..16], [6, 2, 3, 100]);
    assert_eq!(got[16..20], [15, -14, 280, i32::MIN + 249]);
    // max([2995, -1785, 1995, 8995], [T 0, T 1, T 200, T 127 = 126995]).
    assert_eq!(got[20..24], [2995, 995, 1995, 126_995]);
    assert_eq!(stats.dma_read_bytes, 1024 + 3 + 4 + 8 + 12 + 8 + 16 + 2 + 4 + 4);
    assert_eq!(stats.tables, 1);
}

/// Combining loads wrap at `acc_bits` (golden model; the RTL is compared on the
/// 20-bit `tiny-edge` config by the random sweep): on 20-bit accumulators
/// 2^19 - 1 + 1 wraps to -2^19, and max compares the wrapped values.
#[test]
fn combining_loads_wrap_at_acc_bits() {
    let mut cfg = tiny();
    cfg.array.acc_bits = 20;
    let mut ddr = vec![0u8; 0x100];
    for (i, v) in [(1i32 << 19) - 1, 5, -3, 1 << 20].iter().enumerate() {
        ddr[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    ddr[16..20].copy_from_slice(&[1, 1, 1, 1]);
    for (i, v) in [7i32, 4, -2, (1 << 20) - 1].iter().enumerate() {
        ddr[0x20 + 4 * i..0x24 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut golden = Golden::new(&cfg);
    let prog = Program::new(vec![
        Instr::Load(acc_load_at(0, 0, AccElem::I32, Combine::Overwrite)),
        Instr::Load(acc_load_at(0, 16, AccElem::I8, Combine::Add)),
        Instr::Load(acc_load_at(1, 0, AccElem::I32, Combine::Overwrite)),
        Instr::Load(acc_load_at(1, 0x20, AccElem::I32, Combine::Max)),
        Instr::Finish,
    ]);
    golden.run(&prog, &mut ddr).unwrap();
    let acc = &golden.memories().acc;
    // [2^19 - 1, 5, -3, 2^20 -> 0] + 1 = [-2^19, 6, -2, 1].
    assert_eq!(acc[0..4], [-(1 << 19), 6, -2, 1]);
    // max([2^19 - 1, 5, -3, 0], [7, 4, -2, 2^20 - 1 -> -1]) = [2^19 - 1, 5, -2, 0]
    // (compared unwrapped, the last lane would be 2^20 - 1, written as -1).
    assert_eq!(acc[4..8], [(1 << 19) - 1, 5, -2, 0]);
}

/// ISA 1.1 errors, on both devices: `combine` 3 is an invalid enumeration
/// (BadInstruction at decode), `combine` on a non-ACC load and a TABLE past the DDR
/// window are BadField, each at the instruction's index.
#[test]
fn isa_1_1_errors() {
    let good = Instr::Load(acc_load_at(0, 0, AccElem::Lut8, Combine::Add));
    let mut ddr = vec![0u8; 0x100];
    let program = Program::new(vec![Instr::Fence, good, Instr::Finish]).encode();
    ddr[..program.len()].copy_from_slice(&program);
    ddr[32 + 7] |= 0x30; // instruction 1: combine (bits 60..61) = 3
    let err = Golden::new(&tiny()).run_from_ddr(&mut ddr.clone(), 0, 3).unwrap_err();
    assert_eq!((err.code(), err.pc()), (ErrorCode::BadInstruction, 1));
    assert!(err.to_string().contains("field `combine` has invalid value 3"), "{err}");
    let both = run_both_bytes(&tiny(), ddr, 0, 3, 100_000).unwrap();
    assert_eq!(both.outcome.error, Some((ErrorCode::BadInstruction, 1)));

    let ibuf = Load { mem: Mem::Ibuf, x_size: 1, y_size: 1, lanes: 4, ..Default::default() };
    let cases: Vec<(Instr, &str, &str)> = vec![
        (Instr::Load(Load { combine: Combine::Max, ..ibuf }), "combine", "must be 0 unless mem is ACC"),
        (Instr::Load(Load { mem: Mem::Pbuf, combine: Combine::Add, ..ibuf }), "combine", "must be 0 unless mem is ACC"),
        (Instr::Load(Load { acc_elem: AccElem::Lut8, ..ibuf }), "acc_elem", "must be 0 unless mem is ACC"),
        // The DDR window is the 0x4000-byte image and the four instructions after it.
        (Instr::Table(Table { dram_addr: 0x4080 - 1023, ..Default::default() }), "dram_addr", "run past the end"),
    ];
    for (instr, field, reason) in cases {
        let table = Instr::Table(Table::default());
        let err = run_err(
            vec![table, Instr::Load(acc_load_at(0, 0, AccElem::Lut8, Combine::Add)), instr, Instr::Finish],
            0x4000,
        );
        match &err {
            ExecError::Invalid { index: 2, problem, .. } => {
                assert_eq!(problem.field, field, "{err}");
                assert!(problem.reason.contains(reason), "{err}");
            }
            other => panic!("{instr}: expected a field error, got {other}"),
        }
        assert_eq!(err.code(), ErrorCode::BadField);
    }
}
