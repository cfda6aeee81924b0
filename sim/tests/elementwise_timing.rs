//! Cycles of the element-wise building blocks on the RTL (TABLE, lut8 and combining
//! LOADs into the accumulator, STOREs in the fixed and float modes) against the
//! compiler's cost model (`compiler/src/cost.rs`), which must predict each program
//! within 15%. Each program is run alone and its cycles printed, so
//! `cargo test -p tessera-sim --test elementwise_timing -- --ignored --nocapture`
//! reports the pynq-z2 figures.

use tessera_compiler::cost::CostModel;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::*;
use tessera_isa::quant::ParamLane;
use tessera_sim::cosim::run_both;

/// DDR layout: the table, then the input entries, then the parameters, then the output.
const TABLE_AT: u32 = 0;
const INPUT_AT: u32 = 0x400;

/// Runs `instrs` (then FINISH) on both devices; they must agree. Returns the RTL's
/// cycles and the model's prediction.
fn cycles(cfg: &AccelConfig, image: &[u8], mut instrs: Vec<Instr>) -> (u64, u64) {
    instrs.push(Instr::Finish);
    let program = Program::new(instrs);
    let both = run_both(cfg, image, &program, 10_000_000).expect("RTL model");
    assert!(both.golden_result.is_ok(), "golden: {:?}", both.golden_result);
    assert!(!both.outcome.timed_out && both.outcome.error.is_none(), "RTL: {:?}", both.outcome);
    assert_eq!(both.first_difference(), None, "the DDR images differ");
    let predicted = CostModel::new(cfg).predict(&program).expect("no deadlock").cycles;
    (both.outcome.cycles, predicted)
}

/// Runs the programs of one config, printing each one's cycles beyond an empty
/// program; fails listing the programs the model misses by more than 15%.
fn check(cfg_name: &str, entries: u16) {
    let cfg = AccelConfig::builtin(cfg_name).unwrap();
    let cols = cfg.array.cols as usize;
    let n = usize::from(entries);
    let params_at = INPUT_AT as usize + 4 * n * cols;
    let out_at = params_at + 9 * cols;
    let mut image: Vec<u8> = (0..out_at + 4 * n * cols).map(|i| (i * 37 % 251) as u8).collect();
    let params: Vec<ParamLane> =
        (0..cols).map(|c| ParamLane { bias: c as i32, multiplier: 1 << 30, shift: -1 }).collect();
    image[params_at..out_at].copy_from_slice(&encode_param_entries(cols, &params));

    let table = Instr::Table(Table { dram_addr: TABLE_AT, ..Default::default() });
    let load = |acc_elem: AccElem, combine: Combine| {
        let eb = acc_elem.bytes() * cols as u32;
        Instr::Load(Load {
            mem: Mem::Acc,
            acc_elem,
            combine,
            dram_addr: INPUT_AT,
            x_size: entries,
            x_stride: eb,
            y_size: 1,
            lanes: cols as u8,
            ..Default::default()
        })
    };
    let pbuf = Instr::Load(Load {
        mem: Mem::Pbuf,
        dram_addr: params_at as u32,
        x_size: 1,
        y_size: 1,
        lanes: cols as u8,
        ..Default::default()
    });
    let store = |mode: RequantMode, out_type: OutType| {
        let eb = out_type.bits() * cols as u32 / 8;
        let (lo, hi) = out_type.range();
        Instr::Store(Store {
            out_type,
            mode,
            lanes: cols as u8,
            clamp_lo: lo.max(-32768) as i16,
            clamp_hi: hi.min(32767) as i16,
            dram_addr: out_at as u32,
            x_size: entries,
            x_stride: eb,
            y_size: 1,
            ..Default::default()
        })
    };
    // ACC holds the converted input before the stores: the compute queue's last
    // setup LOAD gives the STORE its token (the cost model orders by tokens only).
    let pbuf_push = match pbuf {
        Instr::Load(l) => Instr::Load(Load { deps: Deps { push_next: true, ..Deps::NONE }, ..l }),
        other => other,
    };
    let setup = vec![load(AccElem::I8, Combine::Overwrite), pbuf_push];
    let popping = |i: Instr| match i {
        Instr::Store(s) => Instr::Store(Store { deps: Deps { pop_prev: true, ..Deps::NONE }, ..s }),
        other => other,
    };
    let with = |mut v: Vec<Instr>, i: Instr| {
        v.push(i);
        v
    };
    let mut programs: Vec<(&str, Vec<Instr>, Vec<Instr>)> = vec![("TABLE", vec![], vec![table])];
    // TABLE and the ACC loads share the compute queue: in order without tokens.
    for (name, elem, combine) in [
        ("LOAD int8", AccElem::I8, Combine::Overwrite),
        ("LOAD lut8", AccElem::Lut8, Combine::Overwrite),
        ("LOAD lut8 add", AccElem::Lut8, Combine::Add),
        ("LOAD lut8 max", AccElem::Lut8, Combine::Max),
        ("LOAD int32 add", AccElem::I32, Combine::Add),
    ] {
        programs.push((name, vec![table], vec![table, load(elem, combine)]));
    }
    for (name, mode, out_type) in [
        ("STORE int8 fixed", RequantMode::Fixed, OutType::I8),
        ("STORE int8 none", RequantMode::None, OutType::I8),
        ("STORE int8 float", RequantMode::Float, OutType::I8),
        ("STORE int32", RequantMode::None, OutType::I32),
    ] {
        // The baseline STORE writes no entry but pops the token all the same.
        let empty = Instr::Store(Store {
            x_size: 0,
            lanes: cols as u8,
            deps: Deps { pop_prev: true, ..Deps::NONE },
            ..Store::default()
        });
        programs.push((name, with(setup.clone(), empty), with(setup.clone(), popping(store(mode, out_type)))));
    }
    let mut misses = Vec::new();
    for (name, base, program) in programs {
        let (base_rtl, base_model) = cycles(&cfg, &image, base);
        let (rtl, model) = cycles(&cfg, &image, program);
        let (d_rtl, d_model) = (rtl - base_rtl, model as i64 - base_model as i64);
        println!(
            "{cfg_name:8} {name:17} {entries:5} entries: {d_rtl:6} cycles ({:.2}/entry), model {d_model:6}; \
             program {rtl} cycles, model {model}",
            d_rtl as f64 / f64::from(entries)
        );
        let error = (model as f64 - rtl as f64) / rtl as f64;
        if error.abs() > 0.15 {
            misses.push(format!("{name}: RTL {rtl}, model {model} ({:+.1}%)", 100.0 * error));
        }
    }
    assert!(misses.is_empty(), "{cfg_name}: the cost model misses:\n{}", misses.join("\n"));
}

#[test]
fn tiny_elementwise_cycles_match_the_cost_model() {
    check("tiny", 200);
}

#[test]
#[ignore = "builds the pynq-z2 model (minutes)"]
fn pynq_z2_elementwise_cycles_match_the_cost_model() {
    check("pynq-z2", 1024);
}
