//! The PE pair in rust-hdl's simulator: packed weight banks, the shared DSP
//! multiply of both columns, and the one-cycle forwarding of activation and bank.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::pe::{pack_weights, PePair, WeightPacker, PSUM_BITS};

fn val<const N: usize>(v: Signed<N>) -> i64 {
    v.bigint().try_into().unwrap()
}

/// One cycle of stimulus: activation, bank, and the partial sums arriving from above.
#[derive(Clone, Copy)]
struct Step {
    a: i64,
    bank: bool,
    hi: i64,
    lo: i64,
}

#[test]
fn pe_pair_computes_both_columns_with_one_multiplier() {
    let mut rng = StdRng::seed_from_u64(9);
    // Banks hold (lo, hi) weights; the extremes make |a * w| reach 255 * 128.
    let banks = [(-128i64, 127i64), (127, -128)];
    let mut steps: Vec<Step> = [(-255, false), (255, false), (-255, true), (255, true), (0, true), (-1, false)]
        .into_iter()
        .map(|(a, bank)| Step { a, bank, hi: -3_000_000, lo: 4_000_000 })
        .collect();
    steps.extend((0..60).map(|_| Step {
        a: rng.random_range(-255..=255),
        bank: rng.random_bool(0.5),
        hi: rng.random_range(-4_000_000..4_000_000),
        lo: rng.random_range(-4_000_000..4_000_000),
    }));
    let mut uut = PePair::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<PePair>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<PePair>| {
        let mut x = sim.init()?;
        for (bank, (lo, hi)) in banks.iter().enumerate() {
            x.w_write.next = true;
            x.w_bank.next = bank == 1;
            x.w_data.next = pack_weights(*lo, *hi).into();
            wait_clock_cycle!(sim, clock, x);
        }
        x.w_write.next = false;
        // The high sum leaves one cycle after its activation; the low sum one cycle
        // later, from a partial sum presented one cycle later.
        for t in 0..steps.len() + 2 {
            let now = steps.get(t).copied();
            if let Some(s) = now {
                x.a_in.next = s.a.into();
                x.sel_in.next = s.bank;
                x.hi_in.next = s.hi.into();
            }
            if let Some(prev) = t.checked_sub(1).and_then(|p| steps.get(p)) {
                x.lo_in.next = prev.lo.into();
            }
            wait_clock_cycle!(sim, clock, x);
            if let Some(s) = now {
                let (_, w_hi) = banks[usize::from(s.bank)];
                sim_assert_eq!(sim, val::<PSUM_BITS>(x.hi_out.val()), s.hi + s.a * w_hi, x);
                sim_assert_eq!(sim, val(x.a_out.val()), s.a, x);
                sim_assert_eq!(sim, x.sel_out.val(), s.bank, x);
            }
            if let Some(prev) = t.checked_sub(1).and_then(|p| steps.get(p)) {
                let (w_lo, _) = banks[usize::from(prev.bank)];
                sim_assert_eq!(sim, val::<PSUM_BITS>(x.lo_out.val()), prev.lo + prev.a * w_lo, x);
            }
        }
        // A write to one bank leaves the other in use.
        x.w_write.next = true;
        x.w_bank.next = false;
        x.w_data.next = pack_weights(7, 7).into();
        x.a_in.next = 3i64.into();
        x.sel_in.next = true;
        x.hi_in.next = 0i64.into();
        wait_clock_cycle!(sim, clock, x);
        sim_assert_eq!(sim, val::<PSUM_BITS>(x.hi_out.val()), 3 * -128, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}

#[test]
fn weight_packer_matches_the_reference_packing() {
    let cases: Vec<(i64, i64)> = (-128..=127).step_by(5).flat_map(|lo| [(lo, -128), (lo, 0), (lo, 127)]).collect();
    let mut uut = WeightPacker::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_testbench(move |mut sim: Sim<WeightPacker>| {
        let mut x = sim.init()?;
        for (lo, hi) in &cases {
            x.lo.next = (*lo).into();
            x.hi.next = (*hi).into();
            x = sim.wait(1, x)?;
            // The multiplicand the pair builds (high field, then the low weight
            // sign-extended to 16 bits), read as a 25-bit number, is hi * 2^16 + lo.
            let bits = x.word.val().index() as i64;
            let high = (bits >> 8) - (((bits >> 8) & 0x100) << 1);
            let low16 = i64::from((bits & 0xff) as u8 as i8 as i16 as u16);
            let multiplicand = (high << 16) + low16;
            sim_assert_eq!(sim, multiplicand, hi * 65536 + lo, x);
            sim_assert_eq!(sim, bits as u64, pack_weights(*lo, *hi), x);
        }
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}
