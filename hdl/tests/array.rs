//! Component tests of the PE and the systolic array in rust-hdl's simulator.

use rust_hdl::prelude::*;
use tessera_hdl::array::SystolicArray;

fn s16(v: i64) -> Signed<16> {
    v.into()
}

fn i(v: Signed<32>) -> i64 {
    v.bigint().try_into().unwrap()
}

/// Loads two tiles into the two banks, then streams vectors alternating between
/// them back to back; every result must equal the matrix product with its tile.
#[test]
fn array_multiplies_with_both_banks() {
    let (rows, cols) = (3usize, 2usize);
    let tiles: [Vec<Vec<i64>>; 2] =
        [vec![vec![1, -2], vec![3, 4], vec![-255, 255]], vec![vec![-7, 0], vec![200, -200], vec![5, 6]]];
    let vectors: Vec<(usize, Vec<i64>)> = vec![
        (0, vec![1, 2, 3]),
        (1, vec![-255, 255, 100]),
        (0, vec![0, 0, 0]),
        (1, vec![7, -8, 9]),
        (1, vec![255, 255, 255]),
        (0, vec![-1, -1, -1]),
    ];
    let expected: Vec<Vec<i64>> = vectors
        .iter()
        .map(|(bank, v)| (0..cols).map(|c| (0..rows).map(|r| v[r] * tiles[*bank][r][c]).sum()).collect())
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
            for (r, row) in tile.iter().enumerate() {
                x.w_write.next = true;
                x.w_bank.next = bank == 1;
                x.w_row.next = (r as u64).into();
                for (w, value) in x.w_data.iter_mut().zip(row) {
                    w.next = s16(*value);
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
                    a.next = s16(*value);
                }
            } else {
                for a in x.a_in.iter_mut() {
                    a.next = s16(0);
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
    sim.run(Box::new(uut), 100_000).unwrap();
}
