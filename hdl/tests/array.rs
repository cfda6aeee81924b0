//! The systolic array in rust-hdl's simulator: both weight banks, weight zero
//! points, odd column counts (a half-used PE pair) and back-to-back vectors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::array::SystolicArray;

fn i(v: Signed<32>) -> i64 {
    v.bigint().try_into().unwrap()
}

/// A weight tile (rows x cols, values -128..=127) and its zero point.
struct Tile {
    w: Vec<Vec<i64>>,
    zero: i64,
}

/// Loads the two tiles into the two banks, streams `vectors` (bank, activations)
/// back to back and checks every result against `sum_k a_k * (w_kn - zero)`.
fn check_array(rows: usize, cols: usize, tiles: [Tile; 2], vectors: Vec<(usize, Vec<i64>)>) {
    let expected: Vec<Vec<i64>> = vectors
        .iter()
        .map(|(bank, a)| {
            let t = &tiles[*bank];
            (0..cols).map(|c| (0..rows).map(|r| a[r] * (t.w[r][c] - t.zero)).sum()).collect()
        })
        .collect();
    let latency = SystolicArray::latency(rows, cols);
    let mut uut = SystolicArray::new(rows, cols);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<SystolicArray>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<SystolicArray>| {
        let mut x = sim.init()?;
        wait_clock_cycle!(sim, clock, x);
        for (bank, tile) in tiles.iter().enumerate() {
            for (r, row) in tile.w.iter().enumerate() {
                x.w_write.next = true;
                x.w_bank.next = bank == 1;
                x.w_row.next = (r as u64).into();
                x.w_zero.next = tile.zero.into();
                for (w, value) in x.w_data.iter_mut().zip(row) {
                    w.next = (*value).into();
                }
                wait_clock_cycle!(sim, clock, x);
            }
        }
        x.w_write.next = false;
        let mut got = Vec::new();
        for t in 0..vectors.len() + latency + 1 {
            if let Some((bank, v)) = vectors.get(t) {
                x.sel_in.next = *bank == 1;
                for (a, value) in x.a_in.iter_mut().zip(v) {
                    a.next = (*value).into();
                }
            } else {
                for a in x.a_in.iter_mut() {
                    a.next = 0i64.into();
                }
            }
            if t >= latency && got.len() < vectors.len() {
                got.push((0..cols).map(|c| i(x.psum_out[c].val())).collect::<Vec<_>>());
            }
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 1_000_000).unwrap();
}

#[test]
fn array_multiplies_with_both_banks_and_zero_points() {
    let tiles = [
        Tile { w: vec![vec![1, -2, -128], vec![3, 4, 127], vec![-128, 127, 0]], zero: 0 },
        Tile { w: vec![vec![-7, 0, 5], vec![100, -100, -128], vec![5, 6, 127]], zero: 127 },
    ];
    let vectors = vec![
        (0, vec![1, 2, 3]),
        (1, vec![-255, 255, 100]),
        (0, vec![0, 0, 0]),
        (1, vec![7, -8, 9]),
        (1, vec![255, 255, 255]),
        (0, vec![-255, -255, -255]),
        (1, vec![-255, -255, -255]),
    ];
    check_array(3, 3, tiles, vectors);
}

#[test]
fn array_matches_the_reference_on_random_tiles() {
    let mut rng = StdRng::seed_from_u64(5);
    let (rows, cols) = (5, 6);
    let tile = |rng: &mut StdRng| Tile {
        w: (0..rows).map(|_| (0..cols).map(|_| rng.random_range(-128..=127)).collect()).collect(),
        zero: rng.random_range(-128..=127),
    };
    let tiles = [tile(&mut rng), tile(&mut rng)];
    let vectors =
        (0..40).map(|_| (rng.random_range(0..2), (0..rows).map(|_| rng.random_range(-255..=255)).collect())).collect();
    check_array(rows, cols, tiles, vectors);
}

/// The compute unit writes row `r` of a tile in the cycle before the tile's first
/// vector reaches row `r`; that vector must see the new weights and zero point.
#[test]
fn array_uses_rows_written_just_ahead_of_the_vector() {
    let (rows, cols) = (4usize, 3usize);
    let w: Vec<Vec<i64>> = vec![vec![5, -6, 7], vec![-128, 127, 1], vec![0, 3, -3], vec![90, -90, 45]];
    let zero = -7i64;
    let vectors: Vec<Vec<i64>> = vec![vec![10, -20, 30, -40], vec![255, 255, -255, 1], vec![-3, 0, 9, 200]];
    let expected: Vec<Vec<i64>> =
        vectors.iter().map(|a| (0..cols).map(|c| (0..rows).map(|r| a[r] * (w[r][c] - zero)).sum()).collect()).collect();
    let latency = SystolicArray::latency(rows, cols);
    let mut uut = SystolicArray::new(rows, cols);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<SystolicArray>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<SystolicArray>| {
        let mut x = sim.init()?;
        // Bank 1 starts with a different tile and zero point.
        for r in 0..rows {
            x.w_write.next = true;
            x.w_bank.next = true;
            x.w_row.next = (r as u64).into();
            x.w_zero.next = 100i64.into();
            for w in x.w_data.iter_mut() {
                w.next = 1i64.into();
            }
            wait_clock_cycle!(sim, clock, x);
        }
        let mut got = Vec::new();
        for t in 0..vectors.len() + latency + 1 {
            // Row `t` is written while vector 0 is presented at t = 0.
            x.w_write.next = false;
            if let Some(row) = w.get(t) {
                x.w_write.next = true;
                x.w_row.next = (t as u64).into();
                x.w_zero.next = zero.into();
                for (wd, value) in x.w_data.iter_mut().zip(row) {
                    wd.next = (*value).into();
                }
            }
            x.sel_in.next = true;
            for (k, a) in x.a_in.iter_mut().enumerate() {
                a.next = vectors.get(t).map_or(0, |v| v[k]).into();
            }
            if t >= latency && got.len() < vectors.len() {
                got.push((0..cols).map(|c| i(x.psum_out[c].val())).collect::<Vec<_>>());
            }
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 1_000_000).unwrap();
}
