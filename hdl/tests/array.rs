//! The systolic array in rust-hdl's simulator: successive tiles written into the
//! shadow registers while earlier vectors are in flight, weight zero points, odd
//! column counts (a half-used PE pair) and back-to-back vectors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::array::{SystolicArray, GROUP_ROWS};

fn i(v: Signed<32>) -> i64 {
    v.bigint().try_into().unwrap()
}

/// A weight tile (rows x cols, values -128..=127) and its zero point.
#[derive(Clone)]
struct Tile {
    w: Vec<Vec<i64>>,
    zero: i64,
}

/// What the testbench drives in one cycle.
#[derive(Clone, Default)]
struct Cycle {
    write: Option<(usize, Vec<i64>, i64)>,
    vector: Option<(Vec<i64>, bool)>,
    /// The window mode on, with these values on `win_in` (off, with garbage, if `None`).
    window: Option<Vec<i64>>,
}

/// Drives `plan` into `uut`, one entry per cycle (idle cycles carry garbage
/// activations, as in the compute unit), and checks that the results of the vectors
/// presented in cycles `presented` equal `expected`, in order.
fn run(mut uut: SystolicArray, plan: Vec<Cycle>, presented: Vec<usize>, expected: Vec<Vec<i64>>) {
    let (rows, cols) = (uut.a_in.len(), uut.psum_out.len());
    let latency = SystolicArray::latency(rows, cols);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<SystolicArray>| x.clock.next = !x.clock.val());
    let end = presented.last().unwrap() + latency + 2;
    sim.add_testbench(move |mut sim: Sim<SystolicArray>| {
        let mut x = sim.init()?;
        wait_clock_cycle!(sim, clock, x);
        let mut got = Vec::new();
        for t in 0..end {
            let cycle = plan.get(t).cloned().unwrap_or_default();
            x.w_write.next = cycle.write.is_some();
            if let Some((r, row, zero)) = &cycle.write {
                x.w_row.next = (*r as u64).into();
                x.w_zero.next = (*zero).into();
                for (w, value) in x.w_data.iter_mut().zip(row) {
                    w.next = (*value).into();
                }
            }
            let (a, first) = cycle.vector.unwrap_or((vec![77; rows], false));
            x.first_in.next = first;
            for (lane, value) in x.a_in.iter_mut().zip(&a) {
                lane.next = (*value).into();
            }
            x.window.next = cycle.window.is_some();
            let streams = cycle.window.unwrap_or_else(|| vec![-55; x.win_in.len()]);
            for (lane, value) in x.win_in.iter_mut().zip(&streams) {
                lane.next = (*value).into();
            }
            if t.checked_sub(latency).is_some_and(|s| presented.contains(&s)) {
                got.push((0..cols).map(|c| i(x.psum_out[c].val())).collect::<Vec<_>>());
            }
            wait_clock_cycle!(sim, clock, x);
        }
        sim_assert_eq!(sim, got, expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 10_000_000).unwrap();
}

/// Streams `vectors` (tile index, activations; tile indices non-decreasing) as
/// early as the array allows: tile `k`'s row `r` is written `r` cycles after its
/// first vector is presented (the latest legal time), and no earlier than
/// [`SystolicArray::shadow_span`] cycles after tile `k - 1`'s first vector (the
/// earliest). Both bounds are tight: one cycle either way breaks the results.
/// Every result must equal `sum_k a_k * (w_kn - zero)`.
/// With `windowed`, the array has the window mode, off, and garbage on its streams.
fn check_array(rows: usize, cols: usize, tiles: &[Tile], vectors: &[(usize, Vec<i64>)], gap: usize, windowed: bool) {
    let span = SystolicArray::shadow_span(cols);
    let mut plan: Vec<Cycle> = Vec::new();
    let mut presented = Vec::new();
    let (mut t, mut first_of_prev, mut writes_free) = (0usize, None::<usize>, 0usize);
    for (n, (tile, a)) in vectors.iter().enumerate() {
        let first = n == 0 || vectors[n - 1].0 != *tile;
        if first {
            if let Some(p) = first_of_prev {
                t = t.max(p + span);
            }
            t = t.max(writes_free);
            first_of_prev = Some(t);
            writes_free = t + rows;
        }
        if plan.len() < t + rows + 1 {
            plan.resize(t + rows + 1, Cycle::default());
        }
        if first {
            for r in 0..rows {
                plan[t + r].write = Some((r, tiles[*tile].w[r].clone(), tiles[*tile].zero));
            }
        }
        plan[t].vector = Some((a.clone(), first));
        presented.push(t);
        t += 1 + gap;
    }
    let expected: Vec<Vec<i64>> = vectors
        .iter()
        .map(|(k, a)| {
            let tile = &tiles[*k];
            (0..cols).map(|c| (0..rows).map(|r| a[r] * (tile.w[r][c] - tile.zero)).sum()).collect()
        })
        .collect();
    let uut = if windowed { SystolicArray::windowed(rows, cols) } else { SystolicArray::new(rows, cols, 1) };
    run(uut, plan, presented, expected);
}

#[test]
fn array_multiplies_with_successive_tiles_and_zero_points() {
    let tiles = [
        Tile { w: vec![vec![1, -2, -128], vec![3, 4, 127], vec![-128, 127, 0]], zero: 0 },
        Tile { w: vec![vec![-7, 0, 5], vec![100, -100, -128], vec![5, 6, 127]], zero: 127 },
        Tile { w: vec![vec![9, 9, 9], vec![-1, -1, -1], vec![0, 50, -50]], zero: -128 },
    ];
    let vectors = vec![
        (0, vec![1, 2, 3]),
        (0, vec![-255, 255, 100]),
        (1, vec![0, 0, 0]),
        (1, vec![7, -8, 9]),
        (1, vec![255, 255, 255]),
        (1, vec![-255, -255, -255]),
        (1, vec![-255, 255, -255]),
        (2, vec![-255, -255, -255]),
        (2, vec![1, 1, 1]),
    ];
    check_array(3, 3, &tiles, &vectors, 0, false);
    check_array(3, 3, &tiles, &vectors, 3, false);
}

#[test]
fn array_matches_the_reference_on_random_tiles() {
    let mut rng = StdRng::seed_from_u64(5);
    // Rows a multiple of 4 also run on an array with the window mode (off).
    for (rows, cols) in [(5, 6), (4, 1), (2, 7), (8, 6), (4, 5)] {
        let tiles: Vec<Tile> = (0..6)
            .map(|_| Tile {
                w: (0..rows).map(|_| (0..cols).map(|_| rng.random_range(-128..=127)).collect()).collect(),
                zero: rng.random_range(-128..=127),
            })
            .collect();
        let mut vectors = Vec::new();
        for k in 0..tiles.len() {
            for _ in 0..rng.random_range(1..8) {
                vectors.push((k, (0..rows).map(|_| rng.random_range(-255..=255)).collect()));
            }
        }
        check_array(rows, cols, &tiles, &vectors, 0, false);
        if rows % GROUP_ROWS == 0 {
            check_array(rows, cols, &tiles, &vectors, 0, true);
        }
    }
}

/// Window mode: one tile, then `vectors` outputs back to back; group `g`'s stream for
/// pair `p` is `streams[g][p]` (one value per cycle from the first vector on, three
/// more than the vectors). Output `t` of column `c` must be
/// `sum_g sum_j w[4g + j][c] * streams[g][c / 2][t + j]`; `a_in` carries garbage,
/// which the window mode must ignore.
fn check_window(rows: usize, cols: usize, w: &[Vec<i64>], streams: &[Vec<Vec<i64>>], vectors: usize) {
    let pairs = SystolicArray::pairs(cols);
    let groups = rows / GROUP_ROWS;
    let expected: Vec<Vec<i64>> = (0..vectors)
        .map(|t| {
            (0..cols)
                .map(|c| (0..rows).map(|r| w[r][c] * streams[r / GROUP_ROWS][c / 2][t + r % GROUP_ROWS]).sum::<i64>())
                .collect()
        })
        .collect();
    // Rows are written in cycles 0..rows, the first vector is presented at `rows`; the
    // mode stays on (garbage after the streams end) until the last result leaves.
    let value = |g: usize, p: usize, t: usize| t.checked_sub(rows).and_then(|s| streams[g][p].get(s)).copied();
    let plan: Vec<Cycle> = (0..rows + vectors + SystolicArray::latency(rows, cols) + 2)
        .map(|t| Cycle {
            write: (t < rows).then(|| (t, w[t].clone(), 0)),
            vector: (rows..rows + vectors).contains(&t).then(|| (vec![77; rows], t == rows)),
            window: Some((0..groups * pairs).map(|k| value(k / pairs, k % pairs, t).unwrap_or(-99)).collect()),
        })
        .collect();
    run(SystolicArray::windowed(rows, cols), plan, (rows..rows + vectors).collect(), expected);
}

#[test]
fn window_mode_correlates_each_group_stream_with_its_rows() {
    let mut rng = StdRng::seed_from_u64(19);
    for (rows, cols, vectors) in [(4, 4, 9), (8, 6, 12), (16, 16, 20), (8, 5, 7)] {
        let w: Vec<Vec<i64>> = (0..rows).map(|_| (0..cols).map(|_| rng.random_range(-128..=127)).collect()).collect();
        let streams: Vec<Vec<Vec<i64>>> = (0..rows / GROUP_ROWS)
            .map(|_| {
                (0..SystolicArray::pairs(cols))
                    .map(|_| (0..vectors + GROUP_ROWS).map(|_| rng.random_range(-255..=255)).collect())
                    .collect()
            })
            .collect();
        check_window(rows, cols, &w, &streams, vectors);
    }
}
