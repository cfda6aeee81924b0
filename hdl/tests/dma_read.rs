//! The DMA read client against a behavioural AXI4 slave (random latency and
//! acceptance): every request's bytes come back in order and start at byte 0 of a
//! beat; bursts respect the length limit and never cross a 4 KiB page.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use std::collections::VecDeque;
use tessera_hdl::dma_read::ReadClient;

const B: usize = 8;
const MAX_BURST: usize = 4;

fn memory_byte(addr: u64) -> u8 {
    (addr.wrapping_mul(2654435761) >> 7) as u8
}

#[test]
fn read_client_realigns_requests() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut requests: Vec<(u64, u32)> = (0..60)
        .map(|_| {
            let addr = 0x1000_0000 + rng.random_range(0..20_000u64);
            (addr, rng.random_range(1..70u32))
        })
        .collect();
    // Corners: one byte at the end of a beat, a page crossing, exactly one beat.
    requests.extend([(0x2000_0007, 1), (0x2000_0ffa, 20), (0x2000_1000, 8), (0x2000_0001, 8)]);
    let expected: Vec<Vec<u8>> =
        requests.iter().map(|(a, n)| (0..*n as u64).map(|i| memory_byte(a + i)).collect()).collect();

    let mut uut = ReadClient::new(B, MAX_BURST, 2);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<ReadClient>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<ReadClient>| {
        let mut rng = StdRng::seed_from_u64(12);
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.reset.next = false;
        let mut next_req = 0;
        // Bursts accepted by the slave: (address, beats, cycle their data may start).
        let mut bursts: VecDeque<(u64, usize, usize)> = VecDeque::new();
        let mut beat_in_burst = 0;
        let mut got: Vec<Vec<u8>> = vec![Vec::new()];
        let mut cycle = 0usize;
        while got.len() <= requests.len() {
            sim_assert!(sim, cycle < 40_000, x);
            // Request side.
            x.req_valid.next = next_req < requests.len();
            if let Some((a, n)) = requests.get(next_req) {
                x.req_addr.next = (*a).into();
                x.req_bytes.next = u64::from(*n).into();
            }
            // AR side: accept at random.
            let ar_ready = rng.random_bool(0.7);
            x.ar_ready.next = ar_ready;
            // R side: one beat per cycle from the oldest burst once its latency passed.
            x.r_valid.next = false;
            x.r_last.next = false;
            x.r_resp.next = 0u64.into();
            if let Some((addr, beats, ready_at)) = bursts.front().copied() {
                if cycle >= ready_at && rng.random_bool(0.8) {
                    let beat_addr = addr + (beat_in_burst * B) as u64;
                    x.r_valid.next = true;
                    x.r_last.next = beat_in_burst + 1 == beats;
                    for i in 0..B {
                        x.r_data[i].next = u64::from(memory_byte(beat_addr + i as u64)).into();
                    }
                }
            }
            x.out_ready.next = rng.random_bool(0.8);
            let (req_ready, ar_valid) = (x.req_ready.val(), x.ar_valid.val());
            let (ar_addr, ar_len) = (x.ar_addr.val().to_u64(), x.ar_len.val().to_u32() as usize + 1);
            let r_fire = x.r_valid.next;
            let (out_fire, out_last) = (x.out_valid.val() && x.out_ready.next, x.out_last.val());
            let out: Vec<u8> = (0..B).map(|i| x.out_data[i].val().to_u32() as u8).collect();
            wait_clock_cycle!(sim, clock, x);
            if req_ready && next_req < requests.len() {
                next_req += 1;
            }
            if ar_valid && ar_ready {
                sim_assert!(sim, ar_addr % B as u64 == 0 && ar_len <= MAX_BURST, x);
                sim_assert!(sim, ar_addr / 4096 == (ar_addr + (ar_len * B) as u64 - 1) / 4096, x);
                bursts.push_back((ar_addr, ar_len, cycle + rng.random_range(3..12)));
            }
            if r_fire {
                beat_in_burst += 1;
                if beat_in_burst == bursts.front().unwrap().1 {
                    bursts.pop_front();
                    beat_in_burst = 0;
                }
            }
            if out_fire {
                got.last_mut().unwrap().extend(out);
                if out_last {
                    got.push(Vec::new());
                }
            }
            cycle += 1;
        }
        got.pop();
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            sim_assert!(sim, g.len() == e.len().div_ceil(B) * B, x);
            if &g[..e.len()] != e.as_slice() {
                println!("request {i} {:x?}: got {:02x?} want {:02x?}", requests[i], &g[..e.len()], e);
            }
            sim_assert!(sim, &g[..e.len()] == e.as_slice(), x);
        }
        sim.done(x)
    });
    sim.run(Box::new(uut), 10_000_000).unwrap();
}
