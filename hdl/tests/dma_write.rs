//! The DMA write client against a behavioural AXI4 write slave: every request's
//! bytes land at their addresses (and no other byte changes), bursts are aligned,
//! bounded and within a page, data follows its address, and `idle` waits for every
//! response.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use std::collections::{HashMap, VecDeque};
use tessera_hdl::dma_write::WriteClient;

const B: usize = 8;
const MAX_BURST: usize = 4;

fn payload(req: usize, i: usize) -> u8 {
    (req * 31 + i * 7 + 1) as u8
}

#[test]
fn write_client_writes_exact_bytes() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut requests: Vec<(u64, usize)> = Vec::new();
    let mut next = 0x4000_0000u64;
    for _ in 0..50 {
        next += rng.random_range(0..40);
        let n = rng.random_range(1..60);
        requests.push((next, n));
        next += n as u64;
    }
    requests.extend([(0x5000_0ffc, 9), (0x5000_2003, 1), (0x5000_3000, 8)]);
    let mut uut = WriteClient::new(B, MAX_BURST, 3);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<WriteClient>| x.clock.next = !x.clock.val());
    let reqs = requests.clone();
    sim.add_testbench(move |mut sim: Sim<WriteClient>| {
        let mut rng = StdRng::seed_from_u64(22);
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_true!(sim, clock, x);
        wait_clock_false!(sim, clock, x);
        wait_clock_true!(sim, clock, x);
        x.reset.next = false;
        let mut memory: HashMap<u64, u8> = HashMap::new();
        let (mut next_req, mut data_req, mut data_beat) = (0usize, 0usize, 0usize);
        let mut bursts: VecDeque<(u64, usize, usize)> = VecDeque::new(); // addr, beats, beats seen
        let mut responses: VecDeque<usize> = VecDeque::new();
        let mut cycle = 0;
        loop {
            sim_assert!(sim, cycle < 50_000, x);
            x.req_valid.next = next_req < reqs.len();
            if let Some((a, n)) = reqs.get(next_req) {
                x.req_addr.next = (*a).into();
                x.req_bytes.next = (*n as u64).into();
            }
            // Data for request `data_req`, beat `data_beat`, offered at random.
            let offer = data_req < next_req.max(data_req + 1).min(reqs.len()) && rng.random_bool(0.8);
            x.data_valid.next = offer;
            for j in 0..B {
                x.data[j].next = u64::from(payload(data_req, data_beat * B + j)).into();
            }
            let aw_ready = rng.random_bool(0.6);
            let w_ready = rng.random_bool(0.7);
            x.aw_ready.next = aw_ready;
            x.w_ready.next = w_ready;
            let respond = !responses.is_empty() && rng.random_bool(0.5) && cycle >= *responses.front().unwrap();
            x.b_valid.next = respond;
            x.b_resp.next = 0u64.into();
            // Let the combinational outputs settle on this cycle's inputs before sampling.
            wait_clock_false!(sim, clock, x);
            let req_fire = x.req_ready.val() && next_req < reqs.len();
            let data_fire = x.data_ready.val() && offer;
            let aw = (x.aw_valid.val() && aw_ready)
                .then(|| (x.aw_addr.val().to_u64(), x.aw_len.val().to_u32() as usize + 1));
            let w = (x.w_valid.val() && w_ready).then(|| {
                let bytes: Vec<u8> = (0..B).map(|j| x.w_data[j].val().to_u32() as u8).collect();
                (bytes, x.w_strb.val().to_u32(), x.w_last.val())
            });
            let idle = x.idle.val();
            wait_clock_true!(sim, clock, x);
            if req_fire {
                next_req += 1;
            }
            if data_fire {
                data_beat += 1;
                if data_beat == reqs[data_req].1.div_ceil(B) {
                    data_req += 1;
                    data_beat = 0;
                }
            }
            if let Some((addr, beats)) = aw {
                sim_assert!(sim, addr % B as u64 == 0 && beats <= MAX_BURST, x);
                sim_assert!(sim, addr / 4096 == (addr + (beats * B) as u64 - 1) / 4096, x);
                bursts.push_back((addr, beats, 0));
            }
            if let Some((bytes, strobe, last)) = w {
                let (addr, beats, seen) = bursts.front_mut().expect("W before its AW");
                let base = *addr + (*seen * B) as u64;
                for (j, byte) in bytes.iter().enumerate() {
                    if strobe & (1 << j) != 0 {
                        memory.insert(base + j as u64, *byte);
                    }
                }
                *seen += 1;
                sim_assert!(sim, last == (*seen == *beats), x);
                if *seen == *beats {
                    bursts.pop_front();
                    responses.push_back(cycle + 5);
                }
            }
            if respond {
                responses.pop_front();
            }
            cycle += 1;
            if idle && next_req == reqs.len() && data_req == reqs.len() && cycle > 10 {
                sim_assert!(sim, responses.is_empty() && bursts.is_empty(), x);
                break;
            }
        }
        let mut expected: HashMap<u64, u8> = HashMap::new();
        for (r, (a, n)) in reqs.iter().enumerate() {
            for i in 0..*n {
                expected.insert(a + i as u64, payload(r, i));
            }
        }
        sim_assert!(sim, memory == expected, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 50_000_000).unwrap();
}
