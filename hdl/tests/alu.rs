//! The ALU lane against the golden model's lane operation, every opcode, random
//! operands streamed one per cycle.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::alu::{AluLane, ALU_LATENCY};
use tessera_isa::isa::AluOp;
use tessera_sim::golden::alu_op;

#[test]
fn alu_lane_matches_golden() {
    let mut rng = StdRng::seed_from_u64(3);
    let cases: Vec<(AluOp, i32, i32, i8)> = (0..600)
        .map(|_| {
            let op = AluOp::ALL[rng.random_range(0..AluOp::ALL.len())];
            let d = if rng.random_bool(0.3) { rng.random() } else { rng.random_range(-5000..5000) };
            let b = match op {
                AluOp::Mbqm => rng.random_range(1 << 29..i32::MAX),
                _ if rng.random_bool(0.3) => rng.random(),
                _ => rng.random_range(-40..40),
            };
            let shift = if op == AluOp::Mbqm { rng.random_range(-31..=30) } else { 0 };
            (op, d, b, shift)
        })
        .collect();
    let expected: Vec<i32> = cases.iter().map(|(op, d, b, s)| alu_op(*op, *d, *b, *s)).collect();
    let mut uut = AluLane::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<AluLane>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<AluLane>| {
        let mut x = sim.init()?;
        let mut got = Vec::new();
        for t in 0..cases.len() + ALU_LATENCY {
            if let Some((op, d, b, s)) = cases.get(t) {
                x.op.next = (*op as u64).into();
                x.d.next = (*d as u32 as u64).into();
                x.b.next = (*b as u32 as u64).into();
                x.shift.next = (*s as u8 as u64).into();
            }
            wait_clock_cycle!(sim, clock, x);
            if t + 1 >= ALU_LATENCY && got.len() < cases.len() {
                got.push(x.result.val().to_u32() as i32);
            }
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate().filter(|(_, (g, e))| g != e).take(5) {
            println!("case {i} {:?}: got {g} want {e}", cases[i]);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 10_000_000).unwrap();
}
