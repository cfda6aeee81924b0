//! Readable account of a golden-vs-RTL disagreement.

use crate::cosim::{CosimRun, SIM_DDR_BASE};
use crate::golden::Golden;
use std::fmt::Write;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{store_entry_bytes, Instr, Program, INSTR_BYTES};

/// The command that reruns `seed` on `config` (every case kind of that seed).
pub fn repro_command(config: &str, seed: u64) -> String {
    format!(
        "TESSERA_SEED={seed} TESSERA_CONFIG={config} cargo test -p tessera-sim --test cosim_random -- --ignored --exact sweep --nocapture"
    )
}

/// Byte ranges `[start, end)` where the two images differ (the first `limit`).
fn differing_ranges(a: &[u8], b: &[u8], limit: usize) -> (Vec<(usize, usize)>, usize) {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut count = 0;
    for i in 0..a.len().max(b.len()) {
        if a.get(i) != b.get(i) {
            count += 1;
            let n = ranges.len();
            match ranges.last_mut() {
                Some(r) if r.1 == i => r.1 = i + 1,
                _ if n < limit => ranges.push((i, i + 1)),
                _ => {}
            }
        }
    }
    (ranges, count)
}

/// 16-byte hex rows of `bytes` around `at`, differing bytes (against `other`) in [].
fn hex_rows(bytes: &[u8], other: &[u8], at: usize) -> String {
    let first = (at / 16).saturating_sub(1) * 16;
    let last = ((at / 16 + 2) * 16).min(bytes.len());
    let mut s = String::new();
    for row in (first..last).step_by(16) {
        let _ = write!(s, "    {row:#08x}:");
        for (i, &b) in bytes.iter().enumerate().take((row + 16).min(last)).skip(row) {
            if other.get(i) != Some(&b) {
                let _ = write!(s, "[{b:02x}]");
            } else {
                let _ = write!(s, " {b:02x} ");
            }
        }
        s.push('\n');
    }
    s
}

/// STOREs whose DDR footprint covers byte `offset` (by their fields, whatever ran).
fn stores_covering(program: &Program, offset: usize) -> Vec<usize> {
    program
        .instrs
        .iter()
        .enumerate()
        .filter(|(_, instr)| match instr {
            Instr::Store(s) => {
                let eb = store_entry_bytes(s) as usize;
                (0..usize::from(s.y_size)).any(|y| {
                    (0..usize::from(s.x_size)).any(|x| {
                        let at = s.dram_addr as usize + y * s.y_stride as usize + x * s.x_stride as usize;
                        (at..at + eb).contains(&offset)
                    })
                })
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .collect()
}

fn listing_lines(program: &Program, around: usize, context: usize) -> String {
    let lo = around.saturating_sub(context);
    let hi = (around + context + 1).min(program.len());
    (lo..hi).map(|i| format!("  {} {i:5}: {}\n", if i == around { ">>" } else { "  " }, program.instrs[i])).collect()
}

/// Describes how the two runs of `program` differ: outcomes, the first differing
/// DDR byte (offset and physical address, bytes around it on both sides), the
/// instruction that last wrote it in the golden run with its listing line, and the
/// command that reproduces `seed`.
///
/// The writer comes from a second golden run with the write tracker on. Which
/// bytes a program writes does not depend on the data it reads (no instruction
/// branches on data), so that run starts from the golden run's final image.
pub fn describe_mismatch(cfg: &AccelConfig, run: &CosimRun, program: &Program, seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "golden vs RTL mismatch: config `{}`, seed {seed}", cfg.name);
    match &run.golden_result {
        Ok(stats) => {
            let _ = writeln!(s, "  golden: finished, {} instructions, {} MACs", stats.instructions, stats.macs);
        }
        Err(e) => {
            let _ = writeln!(s, "  golden: error {:?} at #{}: {e}", e.code(), e.pc());
        }
    }
    let o = &run.outcome;
    let _ = writeln!(
        s,
        "  RTL:    {} after {} cycles{}",
        match o.error {
            Some((code, pc)) => format!("error {code:?} at #{pc}"),
            None if o.timed_out => "TIMED OUT".to_string(),
            None => "finished".to_string(),
        },
        o.cycles,
        if o.timed_out { ", no interrupt within the cycle budget" } else { "" }
    );

    let prog_end = run.prog_offset + program.len() * INSTR_BYTES;
    match run.first_difference() {
        None => {
            let _ = writeln!(s, "  DDR images are identical ({} bytes)", run.golden.len());
        }
        Some(at) => {
            let (ranges, count) = differing_ranges(&run.golden, &run.rtl, 8);
            let place = if (run.prog_offset..prog_end).contains(&at) {
                format!("inside the program (instruction #{})", (at - run.prog_offset) / INSTR_BYTES)
            } else if at >= run.prog_offset {
                "past the program".to_string()
            } else {
                "in the data image".to_string()
            };
            let _ = writeln!(
                s,
                "first differing DDR byte: offset {at:#x} (physical {:#x}), {place}; {count} bytes differ",
                SIM_DDR_BASE + at as u64
            );
            let list: Vec<String> = ranges.iter().map(|(a, b)| format!("[{a:#x}, {b:#x})")).collect();
            let _ = writeln!(s, "  differing ranges: {}", list.join(" "));
            let _ = writeln!(s, "  golden ([..] = differs):\n{}", hex_rows(&run.golden, &run.rtl, at));
            let _ = writeln!(s, "  RTL:\n{}", hex_rows(&run.rtl, &run.golden, at));

            let mut tracked = Golden::new(cfg);
            tracked.track_writes();
            let mut scratch = run.golden.clone();
            let _ = tracked.run(program, &mut scratch);
            let writer_of = |offset: usize| tracked.last_writer(offset);
            match writer_of(at) {
                Some(w) => {
                    let _ = writeln!(
                        s,
                        "last written in the golden run by instruction #{w} `{}`:\n{}",
                        program.instrs[w].mnemonic(),
                        listing_lines(program, w, 3)
                    );
                }
                None => {
                    let _ =
                        writeln!(s, "no instruction wrote this byte in the golden run (the RTL should have left it)");
                }
            }
            let covering = stores_covering(program, at);
            if !covering.is_empty() {
                let list: Vec<String> = covering.iter().take(8).map(|i| format!("#{i}")).collect();
                let _ = writeln!(s, "STOREs whose footprint covers the byte: {}", list.join(" "));
            }
            for (a, _) in ranges.iter().skip(1).take(4) {
                if let Some(w) = writer_of(*a) {
                    let _ = writeln!(s, "  range at {a:#x} last written by #{w}: {}", program.instrs[w]);
                }
            }
        }
    }
    if program.len() <= 400 {
        let _ = writeln!(s, "program ({} instructions):\n{}", program.len(), program.listing());
    } else {
        let _ = writeln!(s, "program: {} instructions (listing omitted)", program.len());
    }
    let _ = writeln!(s, "reproduce: {}", repro_command(&cfg.name, seed));
    s
}
