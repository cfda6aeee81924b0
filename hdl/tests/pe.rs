//! The PE pair in rust-hdl's simulator: shadow and active weights, the shared DSP
//! multiply of both columns, and the one-cycle forwarding of the activation.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::pe::{pack_weights, PePair, WeightPacker, PSUM_BITS};

fn val<const N: usize>(v: Signed<N>) -> i64 {
    v.bigint().try_into().unwrap()
}

/// One cycle of stimulus: activation, whether it starts the next tile, and the
/// partial sums arriving from above.
#[derive(Clone, Copy)]
struct Step {
    a: i64,
    switch: bool,
    hi: i64,
    lo: i64,
}

#[test]
fn pe_pair_computes_both_columns_with_one_multiplier() {
    let mut rng = StdRng::seed_from_u64(9);
    // Tiles of (lo, hi) weights; the extremes make |a * w| reach 255 * 128.
    let tiles: Vec<(i64, i64)> = vec![(-128, 127), (127, -128), (-1, 0), (0, -1), (-128, -128), (55, -77)];
    let mut steps: Vec<Step> = [(-255, false), (255, false), (-255, true), (255, false), (0, true), (-1, false)]
        .into_iter()
        .map(|(a, switch)| Step { a, switch, hi: -3_000_000, lo: 4_000_000 })
        .collect();
    steps.extend((0..60).map(|_| Step {
        a: rng.random_range(-255..=255),
        switch: rng.random_bool(0.1),
        hi: rng.random_range(-4_000_000..4_000_000),
        lo: rng.random_range(-4_000_000..4_000_000),
    }));
    let switches = steps.iter().filter(|s| s.switch).count();
    let tiles: Vec<(i64, i64)> = tiles.into_iter().cycle().take(switches + 2).collect();
    let mut uut = PePair::new(false);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<PePair>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<PePair>| {
        let mut x = sim.init()?;
        // Tile 0 goes in and is switched to; tile 1 waits in the shadow register.
        x.w_write.next = true;
        x.w_data.next = pack_weights(tiles[0].0, tiles[0].1).into();
        wait_clock_cycle!(sim, clock, x);
        x.w_write.next = false;
        x.first_in.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.first_in.next = false;
        x.w_write.next = true;
        x.w_data.next = pack_weights(tiles[1].0, tiles[1].1).into();
        wait_clock_cycle!(sim, clock, x);
        x.w_write.next = false;
        // The high sum leaves one cycle after its activation; the low sum one cycle
        // later, from a partial sum presented one cycle later. A switch is announced
        // on `first_in` in the cycle before; the next tile is written just after it.
        let mut tile_of = Vec::new();
        let mut current = 0usize;
        for t in 0..steps.len() + 2 {
            let now = steps.get(t).copied();
            x.w_write.next = false;
            if let Some(s) = now {
                if s.switch {
                    current += 1;
                    x.w_write.next = true;
                    x.w_data.next = pack_weights(tiles[current + 1].0, tiles[current + 1].1).into();
                }
                tile_of.push(current);
                x.a_in.next = s.a.into();
                x.a_mul.next = s.a.into();
                x.hi_in.next = s.hi.into();
            }
            x.first_in.next = steps.get(t + 1).is_some_and(|s| s.switch);
            if let Some(prev) = t.checked_sub(1).and_then(|p| steps.get(p)) {
                x.lo_in.next = prev.lo.into();
            }
            wait_clock_cycle!(sim, clock, x);
            if let Some(s) = now {
                let (_, w_hi) = tiles[tile_of[t]];
                sim_assert_eq!(sim, val::<PSUM_BITS>(x.hi_out.val()), s.hi + s.a * w_hi, x);
                sim_assert_eq!(sim, val(x.a_out.val()), s.a, x);
            }
            if let Some(prev) = t.checked_sub(1).and_then(|p| steps.get(p)) {
                let (w_lo, _) = tiles[tile_of[t - 1]];
                sim_assert_eq!(sim, val::<PSUM_BITS>(x.lo_out.val()), prev.lo + prev.a * w_lo, x);
            }
        }
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
            // The word is the pair's DSP multiplicand: read as a 25-bit two's
            // complement number, it is hi * 2^16 + lo.
            let bits = x.word.val().index() as i64;
            let multiplicand = bits - ((bits & (1 << 24)) << 1);
            sim_assert_eq!(sim, multiplicand, hi * 65536 + lo, x);
            sim_assert_eq!(sim, bits as u64, pack_weights(*lo, *hi), x);
        }
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}
