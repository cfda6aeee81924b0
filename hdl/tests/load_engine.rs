//! The load engine against a behavioural AXI4 slave: for LOADs of every shape
//! (row and entry requests, unaligned addresses, padding on all sides, entry sizes
//! above and below the beat size) the writes it emits — address, padding flag and
//! entry bytes — are exactly those the ISA prescribes.

mod common;

use common::{memory_byte, AxiReadSlave};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rust_hdl::prelude::*;
use tessera_hdl::load_engine::LoadEngine;

const B: usize = 8;
const BASE: u64 = 0x8000_0000;

#[derive(Clone, Copy, Debug)]
struct Op {
    mem: u64,
    lanes: u64,
    pads: [u64; 4],
    sram: u64,
    x: u64,
    y: u64,
    dram: u64,
    xs: u64,
    ys: u64,
}

impl Op {
    fn entry_bytes(&self) -> u64 {
        match self.mem {
            3 => 9 * self.lanes,
            _ => self.lanes,
        }
    }

    /// (address, pad, bytes) in SRAM order, as docs/isa.md defines LOAD.
    fn expected(&self) -> Vec<(u64, bool, Vec<u8>)> {
        let [t, b, l, r] = self.pads;
        let (rows, cols) = (self.y + t + b, self.x + l + r);
        let mut out = Vec::new();
        for yy in 0..rows {
            for xx in 0..cols {
                let inside = (t..t + self.y).contains(&yy) && (l..l + self.x).contains(&xx);
                let bytes = if inside {
                    let src = BASE + self.dram + (yy - t) * self.ys + (xx - l) * self.xs;
                    (0..self.entry_bytes()).map(|i| memory_byte(src + i)).collect()
                } else {
                    Vec::new()
                };
                out.push((self.sram + yy * cols + xx, !inside, bytes));
            }
        }
        out
    }
}

#[test]
fn load_engine_writes_what_the_isa_prescribes() {
    let ops = vec![
        // Contiguous rows of 16-byte entries: row requests.
        Op { mem: 0, lanes: 16, pads: [0; 4], sram: 3, x: 5, y: 2, dram: 0x100, xs: 16, ys: 200 },
        // Strided, unaligned 5-byte entries with padding all round: entry requests.
        Op { mem: 0, lanes: 5, pads: [1, 2, 1, 1], sram: 0, x: 3, y: 2, dram: 0x13, xs: 29, ys: 301 },
        // 4-byte entries (below the beat size), contiguous but not beat multiples.
        Op { mem: 1, lanes: 4, pads: [0, 0, 0, 2], sram: 7, x: 6, y: 1, dram: 0x2, xs: 4, ys: 0 },
        // Parameter entries: 9 bytes per lane, three beats with the tail partial.
        Op { mem: 3, lanes: 2, pads: [0; 4], sram: 1, x: 2, y: 2, dram: 0x45, xs: 18, ys: 1000 },
        // Crosses a 4 KiB page in the middle of a row.
        Op { mem: 0, lanes: 16, pads: [0; 4], sram: 0, x: 8, y: 1, dram: 0xfc0, xs: 16, ys: 0 },
    ];
    let mut uut = LoadEngine::new(B, 4, 2, [64, 64, 64, 64], 18, false);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<LoadEngine>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<LoadEngine>| {
        let mut rng = StdRng::seed_from_u64(5);
        let mut slave = AxiReadSlave::new(B, 4);
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycle!(sim, clock, x);
        x.reset.next = false;
        x.dram_base.next = BASE.into();
        x.dram_size.next = 0x10000u64.into();
        x.wr_ready.next = true;
        let mut cycle = 0;
        for op in &ops {
            x.start.next = true;
            x.mem.next = op.mem.into();
            x.lanes.next = op.lanes.into();
            x.pad_top.next = op.pads[0].into();
            x.pad_bottom.next = op.pads[1].into();
            x.pad_left.next = op.pads[2].into();
            x.pad_right.next = op.pads[3].into();
            x.sram_addr.next = op.sram.into();
            x.x_size.next = op.x.into();
            x.y_size.next = op.y.into();
            x.dram_addr.next = op.dram.into();
            x.x_stride.next = op.xs.into();
            x.y_stride.next = op.ys.into();
            let mut writes = Vec::new();
            let mut done = false;
            while !done {
                sim_assert!(sim, cycle < 100_000, x);
                let d = slave.drive(&mut rng, cycle);
                x.ar_ready.next = d.ar_ready;
                x.r_valid.next = d.r_valid;
                x.r_last.next = d.r_last;
                x.r_resp.next = 0u64.into();
                for (i, byte) in d.r_data.iter().enumerate() {
                    x.r_data[i].next = u64::from(*byte).into();
                }
                let ar = (x.ar_valid.val() && d.ar_ready)
                    .then(|| (x.ar_addr.val().to_u64(), x.ar_len.val().to_u32() as usize + 1));
                if x.wr_valid.val() {
                    let bytes: Vec<u8> = (0..op.entry_bytes() as usize)
                        .map(|i| x.wr_bytes[i].val().to_u32() as u8)
                        .filter(|_| !x.wr_pad.val())
                        .collect();
                    writes.push((x.wr_addr.val().to_u64(), x.wr_pad.val(), bytes));
                }
                sim_assert!(sim, !x.error.val(), x);
                done = x.done.val();
                wait_clock_cycle!(sim, clock, x);
                x.start.next = false;
                slave.commit(&mut rng, cycle, &d, ar);
                cycle += 1;
            }
            let want = op.expected();
            if writes != want {
                println!("{op:?}\n got  {writes:?}\n want {want:?}");
            }
            sim_assert!(sim, writes == want, x);
        }
        sim.done(x)
    });
    sim.run(Box::new(uut), 50_000_000).unwrap();
}
