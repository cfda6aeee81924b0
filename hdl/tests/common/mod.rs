//! A behavioural AXI4 read slave for rust-hdl testbenches: accepts bursts at random,
//! returns their beats in order after a random latency, from a deterministic memory.

#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::VecDeque;

pub fn memory_byte(addr: u64) -> u8 {
    (addr.wrapping_mul(2654435761) >> 7) as u8
}

pub struct AxiReadSlave {
    pub beat_bytes: usize,
    pub max_burst: usize,
    bursts: VecDeque<(u64, usize, usize)>,
    beat: usize,
}

/// What the slave drives in one cycle.
pub struct Drive {
    pub ar_ready: bool,
    pub r_valid: bool,
    pub r_last: bool,
    pub r_data: Vec<u8>,
}

impl AxiReadSlave {
    pub fn new(beat_bytes: usize, max_burst: usize) -> Self {
        Self { beat_bytes, max_burst, bursts: VecDeque::new(), beat: 0 }
    }

    /// Decides this cycle's outputs.
    pub fn drive(&self, rng: &mut StdRng, cycle: usize) -> Drive {
        let mut d =
            Drive { ar_ready: rng.random_bool(0.7), r_valid: false, r_last: false, r_data: vec![0; self.beat_bytes] };
        if let Some((addr, beats, ready_at)) = self.bursts.front().copied() {
            if cycle >= ready_at && rng.random_bool(0.8) {
                let beat_addr = addr + (self.beat * self.beat_bytes) as u64;
                d.r_valid = true;
                d.r_last = self.beat + 1 == beats;
                d.r_data = (0..self.beat_bytes).map(|i| memory_byte(beat_addr + i as u64)).collect();
            }
        }
        d
    }

    /// Applies the handshakes that happened at the clock edge.
    pub fn commit(&mut self, rng: &mut StdRng, cycle: usize, d: &Drive, ar: Option<(u64, usize)>) {
        if let Some((addr, beats)) = ar {
            assert!(d.ar_ready);
            assert_eq!(addr % self.beat_bytes as u64, 0, "unaligned burst");
            assert!(beats <= self.max_burst, "burst of {beats} beats");
            assert_eq!(addr / 4096, (addr + (beats * self.beat_bytes) as u64 - 1) / 4096, "burst crosses a 4 KiB page");
            self.bursts.push_back((addr, beats, cycle + rng.random_range(3..12)));
        }
        if d.r_valid {
            self.beat += 1;
            if self.beat == self.bursts.front().unwrap().1 {
                self.bursts.pop_front();
                self.beat = 0;
            }
        }
    }
}
