//! The float requantization lane against the golden arithmetic (f64 product and
//! sum, ties to even), including ties, zero points before rounding, large and tiny
//! scales, subnormal scales and the saturating range.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::float_requant::{FloatLane, FLOAT_LATENCY};
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::{requantize, ParamLane};

#[derive(Clone, Copy, Debug)]
struct Case {
    acc: i32,
    bias: i32,
    scale: f32,
}

fn b32(v: i32) -> Bits<32> {
    (v as u32 as u64).into()
}

fn run(cases: Vec<Case>, zp: i32, lo: i32, hi: i32) {
    let expected: Vec<i32> = cases
        .iter()
        .map(|c| requantize(RequantMode::Float, c.acc, ParamLane::float(c.bias, c.scale), zp, lo, hi))
        .collect();
    let mut uut = FloatLane::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<FloatLane>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<FloatLane>| {
        let mut x = sim.init()?;
        x.zero_point.next = b32(zp);
        x.clamp_lo.next = b32(lo);
        x.clamp_hi.next = b32(hi);
        let mut got = Vec::new();
        for t in 0..cases.len() + FLOAT_LATENCY {
            x.valid_in.next = t < cases.len();
            if let Some(c) = cases.get(t) {
                x.acc.next = b32(c.acc);
                x.bias.next = b32(c.bias);
                x.scale.next = u64::from(c.scale.to_bits()).into();
            }
            wait_clock_cycle!(sim, clock, x);
            if x.valid_out.val() {
                got.push(x.value.val().to_u32() as i32);
            }
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate().filter(|(_, (g, e))| g != e).take(6) {
            println!("case {i} {:?} zp {zp}: got {g} want {e}", cases[i]);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 50_000_000).unwrap();
}

#[test]
fn float_lane_matches_golden() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut cases = Vec::new();
    // Exact ties: odd accumulators at scale 0.5 (x.5), and quarter steps.
    for acc in -9..=9 {
        cases.push(Case { acc, bias: 0, scale: 0.5 });
        cases.push(Case { acc, bias: 1, scale: 0.25 });
    }
    // Typical requantization scales.
    for _ in 0..300 {
        let scale = 10f32.powf(rng.random_range(-6.0..-1.0));
        cases.push(Case { acc: rng.random_range(-200_000..200_000), bias: rng.random_range(-5000..5000), scale });
    }
    // Large accumulators where the f64 product rounds, tiny and huge scales,
    // subnormal scales, the extremes of int32.
    for _ in 0..100 {
        let acc = rng.random::<i32>();
        let scale = f32::from_bits(rng.random_range(0x2000_0000..0x3f80_0000u32));
        cases.push(Case { acc, bias: rng.random(), scale });
    }
    cases.extend([
        Case { acc: i32::MIN, bias: 0, scale: 1e-7 },
        Case { acc: i32::MAX, bias: 0, scale: 6e-8 },
        Case { acc: 1_000_000, bias: 0, scale: 1e-40 },
        Case { acc: -3, bias: 0, scale: f32::MIN_POSITIVE },
        Case { acc: 12345, bias: 0, scale: 3.0e30 },
        Case { acc: -12345, bias: 0, scale: 3.0e30 },
        Case { acc: 0, bias: 0, scale: 0.75 },
        Case { acc: 100, bias: 0, scale: 0.0 },
        Case { acc: 7, bias: 0, scale: -0.5 },
        Case { acc: 1 << 29, bias: 3, scale: 1.0 / 1024.0 },
    ]);
    run(cases.clone(), 0, -128, 127);
    run(cases.clone(), 1, -128, 127);
    run(cases.clone(), 128, 0, 255);
    run(cases, -7, i32::MIN, i32::MAX);
}
