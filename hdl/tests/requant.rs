//! The requantization lane in rust-hdl's simulator against the normative arithmetic
//! (`tessera_isa::quant::requantize`), with random operands and random stalls.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::requant::{RequantLane, REQUANT_LATENCY};
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::{requantize, ParamLane};

#[derive(Clone, Copy, Debug)]
struct Case {
    acc: i32,
    p: ParamLane,
    mode: RequantMode,
    zp: i32,
    lo: i32,
    hi: i32,
}

/// Zero point and clamp are per-instruction settings, held for a whole STORE.
fn random_case(rng: &mut StdRng, zp: i32, lo: i32, hi: i32) -> Case {
    let mode = [RequantMode::None, RequantMode::Fixed, RequantMode::FixedSingle][rng.random_range(0..3)];
    let multiplier = match rng.random_range(0..4) {
        0 => rng.random(),
        1 => i32::MIN,
        _ => rng.random_range(1 << 30..i32::MAX),
    };
    let acc = match rng.random_range(0..5) {
        0 => i32::MIN,
        1 => rng.random(),
        _ => rng.random_range(-100_000..100_000),
    };
    Case {
        acc,
        p: ParamLane { bias: rng.random_range(-50_000..50_000), multiplier, shift: rng.random_range(-40..40) },
        mode,
        zp,
        lo,
        hi,
    }
}

fn b32(v: i32) -> Bits<32> {
    (v as u32 as u64).into()
}

#[test]
fn requant_lane_matches_golden_arithmetic() {
    let mut rng = StdRng::seed_from_u64(7);
    for (zp, lo, hi) in [(0, -128, 127), (-7, -100, 120), (100, 0, 255), (3, -8, 7)] {
        let cases = (0..150).map(|_| random_case(&mut rng, zp, lo, hi)).collect();
        check(cases, &mut rng);
    }
    // Hand-picked corners with the full int32 range: MIN * MIN saturation, ties,
    // extreme and clamped shifts.
    let corner = |acc, multiplier, shift, mode| Case {
        acc,
        p: ParamLane { bias: 0, multiplier, shift },
        mode,
        zp: 0,
        lo: i32::MIN,
        hi: i32::MAX,
    };
    let cases = vec![
        corner(i32::MIN, i32::MIN, 0, RequantMode::Fixed),
        corner(5, 1 << 30, -1, RequantMode::Fixed),
        corner(5, 1 << 30, -1, RequantMode::FixedSingle),
        corner(-3, 1 << 30, 0, RequantMode::Fixed),
        corner(i32::MAX, i32::MAX, 30, RequantMode::FixedSingle),
        corner(i32::MIN, i32::MAX, -31, RequantMode::Fixed),
        corner(123_456_789, 1_500_000_000, 100, RequantMode::Fixed),
        corner(-123_456_789, 1_500_000_000, -100, RequantMode::FixedSingle),
        corner(-123_456_789, 1_500_000_000, -100, RequantMode::None),
    ];
    check(cases, &mut rng);
}

fn check(cases: Vec<Case>, rng: &mut StdRng) {
    let expected: Vec<i32> = cases.iter().map(|c| requantize(c.mode, c.acc, c.p, c.zp, c.lo, c.hi)).collect();
    let stalls: Vec<bool> = (0..cases.len() * 2).map(|_| rng.random_bool(0.2)).collect();

    let mut uut = RequantLane::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<RequantLane>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<RequantLane>| {
        let mut x = sim.init()?;
        let mut fed = 0;
        let mut got = Vec::new();
        let mut cycle = 0;
        while got.len() < cases.len() {
            assert!(cycle < cases.len() * 4 + REQUANT_LATENCY * 2, "pipeline stopped producing");
            let advance = !stalls[cycle % stalls.len()];
            x.advance.next = advance;
            x.valid_in.next = fed < cases.len();
            if let Some(c) = cases.get(fed) {
                x.acc.next = b32(c.acc);
                x.bias.next = b32(c.p.bias);
                x.multiplier.next = b32(c.p.multiplier);
                x.shift.next = (c.p.shift as u8 as u64).into();
                x.mode.next = (c.mode as u64).into();
                x.zero_point.next = b32(c.zp);
                x.clamp_lo.next = b32(c.lo);
                x.clamp_hi.next = b32(c.hi);
            }
            wait_clock_cycle!(sim, clock, x);
            if advance && fed < cases.len() {
                fed += 1;
            }
            if x.valid_out.val() && advance {
                got.push(x.value.val().to_u32() as i32);
            }
            cycle += 1;
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate().filter(|(_, (g, e))| g != e).take(8) {
            println!("case {i}: got {g} expected {e}: {:?}", cases[i]);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 10_000_000).unwrap();
}
