//! The block-RAM FIFO under random push/pop pressure: order, no loss, no
//! duplication, and one word per cycle when both sides are willing.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::fifo::{Fifo, QueueFifo};

type Uut = Fifo<Bits<8>>;

fn run(depth: usize, push_p: f64, pop_p: f64, n: usize) -> usize {
    let mut uut = Uut::new(2, depth);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
    let cycles = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let cycles_out = cycles.clone();
    sim.add_testbench(move |mut sim: Sim<Uut>| {
        let mut rng = StdRng::seed_from_u64(depth as u64);
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.reset.next = false;
        let (mut sent, mut got, mut t) = (0usize, Vec::new(), 0usize);
        while got.len() < n {
            let push = sent < n && rng.random_bool(push_p);
            let pop = rng.random_bool(pop_p);
            x.push.next = push;
            x.data_in[0].next = ((sent % 256) as u64).into();
            x.data_in[1].next = (((sent * 7) % 256) as u64).into();
            x.pop.next = pop;
            let (full, valid) = (x.full.val(), x.valid.val());
            let head = (x.data_out[0].val().to_u32(), x.data_out[1].val().to_u32());
            wait_clock_cycle!(sim, clock, x);
            if push && !full {
                sent += 1;
            }
            if pop && valid {
                got.push(head);
            }
            t += 1;
            sim_assert!(sim, t < 20 * n + 100, x);
        }
        let want: Vec<(u32, u32)> = (0..n).map(|i| ((i % 256) as u32, ((i * 7) % 256) as u32)).collect();
        sim_assert_eq!(sim, got, want, x);
        *cycles.lock().unwrap() = t;
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000_000).unwrap();
    let t = *cycles_out.lock().unwrap();
    t
}

#[test]
fn fifo_keeps_order_under_random_pressure() {
    for depth in [1, 2, 5, 16] {
        run(depth, 0.6, 0.5, 300);
        run(depth, 0.3, 0.9, 300);
        run(depth, 0.9, 0.2, 300);
    }
}

#[test]
fn fifo_streams_one_word_per_cycle() {
    // Both sides always willing: after the two-cycle fill latency, one word per cycle.
    let cycles = run(8, 1.0, 1.0, 200);
    assert!(cycles <= 200 + 4, "took {cycles} cycles for 200 words");
}

type Queue = QueueFifo<Bits<16>>;

/// Random push/pop on the instruction-queue FIFO; returns the cycles taken. The
/// queue must hold exactly `depth` entries (`full` and `level` agree with a model).
fn run_queue(depth: usize, push_p: f64, pop_p: f64, n: usize) -> usize {
    let mut uut = Queue::new(depth);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<Queue>| x.clock.next = !x.clock.val());
    let cycles = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let cycles_out = cycles.clone();
    sim.add_testbench(move |mut sim: Sim<Queue>| {
        let mut rng = StdRng::seed_from_u64(depth as u64 + 100);
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.reset.next = false;
        let (mut sent, mut got, mut t) = (0usize, Vec::new(), 0usize);
        while got.len() < n {
            let push = sent < n && rng.random_bool(push_p);
            let pop = rng.random_bool(pop_p);
            x.push.next = push;
            x.data_in.next = (((sent * 37) % 65536) as u64).into();
            x.pop.next = pop;
            let (full, valid, level) = (x.full.val(), x.valid.val(), x.level.val().index());
            sim_assert_eq!(sim, level, sent - got.len(), x);
            sim_assert_eq!(sim, full, level == depth, x);
            let head = x.data_out.val().to_u32();
            wait_clock_cycle!(sim, clock, x);
            if push && !full {
                sent += 1;
            }
            if pop && valid {
                got.push(head);
            }
            t += 1;
            sim_assert!(sim, t < 20 * n + 100, x);
        }
        let want: Vec<u32> = (0..n).map(|i| ((i * 37) % 65536) as u32).collect();
        sim_assert_eq!(sim, got, want, x);
        *cycles.lock().unwrap() = t;
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000_000).unwrap();
    let t = *cycles_out.lock().unwrap();
    t
}

#[test]
fn queue_fifo_keeps_order_and_exact_capacity() {
    for depth in [1, 2, 5, 16] {
        run_queue(depth, 0.6, 0.5, 300);
        run_queue(depth, 0.3, 0.9, 300);
        run_queue(depth, 0.9, 0.2, 300);
    }
}

#[test]
fn queue_fifo_pops_every_cycle_once_filled() {
    // The first entry shows two cycles after its push; then one pop per cycle.
    let cycles = run_queue(8, 1.0, 1.0, 200);
    assert!(cycles <= 200 + 3, "took {cycles} cycles for 200 entries");
}
