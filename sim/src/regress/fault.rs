//! Programs with one deliberate fault (or one perturbed token flag): both devices
//! must stop with the same error code at the same instruction (docs/isa.md §5,
//! "When errors are detected"), or both finish.

use super::random::{random_program, ProgramOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{format_of, Instr, Mem, OutType, Program, INSTR_BYTES, TABLE_BYTES};

/// A faulty program: the image, the program, an optional corrupt encoding of one
/// instruction, and what was done.
pub struct FaultCase {
    pub image: Vec<u8>,
    pub program: Program,
    pub patch: Option<(usize, [u8; INSTR_BYTES])>,
    pub description: String,
}

pub fn random_fault(cfg: &AccelConfig, seed: u64) -> FaultCase {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xfa17_0000_0000_0003);
    let opts = ProgramOptions::for_config(cfg, rng.random_range(10..40));
    let (image, mut program) = random_program(cfg, seed, &opts);
    let n = program.len();
    let ddr_len = (image.len().next_multiple_of(64) + n * INSTR_BYTES) as u32;
    let m = &cfg.memory;
    let (rows, cols) = (cfg.array.rows, cfg.array.cols);
    // Queued instructions after the prologue are the candidates.
    let queued: Vec<usize> = (0..n).filter(|i| program.instrs[*i].queue().is_some()).collect();
    let pick = |rng: &mut StdRng, instrs: &[Instr], f: &dyn Fn(&Instr) -> bool| -> Option<usize> {
        let c: Vec<usize> = queued.iter().copied().filter(|i| f(&instrs[*i])).collect();
        (!c.is_empty()).then(|| c[rng.random_range(0..c.len())])
    };
    // The seed picks the kind of fault (so consecutive seeds cover them all); a
    // program without a suitable instruction gets another kind.
    for attempt in 0..100 {
        let kind = if attempt == 0 { (seed % 8) as usize } else { rng.random_range(0..8) };
        let target = match kind {
            0 => pick(&mut rng, &program.instrs, &|i| matches!(i, Instr::Load(l) if l.x_size > 0 && l.y_size > 0)),
            6 => pick(&mut rng, &program.instrs, &|i| {
                matches!(i, Instr::Load(l) if l.x_size > 0 && l.y_size > 0) || matches!(i, Instr::Table(_))
            }),
            1 => pick(&mut rng, &program.instrs, &|i| matches!(i, Instr::Store(s) if s.out_type != OutType::I32)),
            2..=4 => pick(&mut rng, &program.instrs, &|i| matches!(i, Instr::Gemm(_))),
            5 => pick(&mut rng, &program.instrs, &|_| true),
            _ => Some(n - 1),
        };
        let Some(i) = target else { continue };
        let before = program.instrs[i].to_string();
        let what = match (kind, &mut program.instrs[i]) {
            (0, Instr::Load(l)) => {
                let (depth, width) = match l.mem {
                    Mem::Ibuf => (m.ibuf_entries, rows),
                    Mem::Wbuf => (m.wbuf_entries, cols),
                    Mem::Acc => (m.acc_entries, cols),
                    Mem::Pbuf => (m.pbuf_entries, cols),
                };
                if rng.random_bool(0.5) && width < 255 {
                    l.lanes = width as u8 + 1;
                    "lanes past the memory width (BadField)".to_string()
                } else {
                    l.sram_addr = (depth - 1) as u16;
                    l.x_size = l.x_size.max(2);
                    "SRAM range past the end of the memory (BadField)".to_string()
                }
            }
            (1, Instr::Store(s)) => {
                let (lo, hi) = s.out_type.range();
                s.clamp_lo = hi as i16;
                s.clamp_hi = lo as i16;
                "clamp_lo > clamp_hi (BadField)".to_string()
            }
            (2, Instr::Gemm(g)) => {
                g.wbuf_addr = (m.wbuf_entries - rows + 1) as u16;
                g.reuse_weights = false;
                "weight tile past the end of WBUF (BadField)".to_string()
            }
            (3, Instr::Gemm(g)) => {
                // The loop, not the base, leaves IBUF: checked when the unit gets there.
                g.loops.outer = g.loops.outer.max(1);
                g.loops.inner = g.loops.inner.max(2);
                g.ibuf_addr = (m.ibuf_entries - 1) as u16;
                g.ibuf_stride.inner = g.ibuf_stride.inner.max(1);
                "GEMM loop runs past the end of IBUF (BadField, found by the unit)".to_string()
            }
            (4, Instr::Gemm(g)) => {
                g.reuse_weights = true;
                g.w_zero = if g.w_zero == 0 { 1 } else { 0 };
                "reuse_weights with a different weight zero point (WeightReuse)".to_string()
            }
            (5, _) if rng.random_bool(0.5) => {
                // A pop that no push will ever match, on the last instruction of its
                // queue: a certain deadlock.
                let Some((j, flag)) = unmatched_pop(&program) else { continue };
                let was = program.instrs[j].to_string();
                let d = program.instrs[j].deps_mut().expect("queued");
                if flag == 0 {
                    d.pop_prev = true;
                } else {
                    d.pop_next = true;
                }
                return FaultCase {
                    image,
                    description: format!(
                        "#{j}: {} that no push matches (Deadlock); was `{was}`",
                        ["pop_prev", "pop_next"][flag]
                    ),
                    program,
                    patch: None,
                };
            }
            (5, instr) => {
                // One more or one fewer token: deadlock, or nothing at all.
                let allowed = token_flags(instr);
                let f = allowed[rng.random_range(0..allowed.len())];
                let d = instr.deps_mut().expect("queued");
                let flag = match f {
                    0 => &mut d.pop_prev,
                    1 => &mut d.pop_next,
                    2 => &mut d.push_prev,
                    _ => &mut d.push_next,
                };
                *flag = !*flag;
                format!("token flag {} flipped", ["pop_prev", "pop_next", "push_prev", "push_next"][f])
            }
            (6, Instr::Load(l)) => {
                // Just past the end, or so far that DRAM_BASE + dram_addr wraps 32 bits.
                l.dram_addr = if rng.random_bool(0.7) { ddr_len } else { 0xffff_ff00 };
                format!("LOAD at {:#x}, past the {ddr_len:#x}-byte DDR window (BadField)", l.dram_addr)
            }
            (6, Instr::Table(t)) => {
                // Its last byte one past the end, or wrapping 32 bits.
                t.dram_addr = if rng.random_bool(0.7) { ddr_len - TABLE_BYTES + 1 } else { 0xffff_ff00 };
                format!("TABLE at {:#x}, past the {ddr_len:#x}-byte DDR window (BadField)", t.dram_addr)
            }
            (7, _) => {
                if rng.random_bool(0.5) {
                    // A FENCE in its place keeps the program (and the DRAM window,
                    // which ends with it) the same length.
                    *program.instrs.last_mut().expect("FINISH") = Instr::Fence;
                    return FaultCase {
                        image,
                        program,
                        patch: None,
                        description: "the final FINISH replaced by a FENCE (NoFinish)".to_string(),
                    };
                }
                // A corrupt encoding somewhere: an invalid opcode or a set reserved bit.
                let i = rng.random_range(0..n);
                let mut bytes = program.instrs[i].encode();
                let what = if rng.random_bool(0.4) {
                    bytes[0] = (bytes[0] & 0xf0) | [0u8, 7, 15][rng.random_range(0..3)];
                    "invalid opcode".to_string()
                } else {
                    let mut covered = [false; 256];
                    for f in format_of(program.instrs[i].opcode()).all_fields() {
                        covered[f.lo..f.lo + f.width].fill(true);
                    }
                    let reserved: Vec<usize> = (0..256).filter(|b| !covered[*b]).collect();
                    let bit = reserved[rng.random_range(0..reserved.len())];
                    bytes[bit / 8] |= 1 << (bit % 8);
                    format!("reserved bit {bit} set")
                };
                return FaultCase {
                    image,
                    program,
                    patch: Some((i, bytes)),
                    description: format!("#{i}: {what} (BadInstruction)"),
                };
            }
            _ => continue,
        };
        return FaultCase { image, program, patch: None, description: format!("#{i}: {what}; was `{before}`") };
    }
    panic!("seed {seed}: found nowhere to put a fault")
}

/// Token flags `instr`'s queue may carry: 0 pop_prev, 1 pop_next, 2 push_prev, 3 push_next.
fn token_flags(instr: &Instr) -> &'static [usize] {
    use tessera_isa::isa::Queue;
    match instr.queue() {
        Some(Queue::Load) => &[1, 3],
        Some(Queue::Compute) => &[0, 1, 2, 3],
        Some(Queue::Store) => &[0, 2],
        None => &[],
    }
}

/// The last instruction of some queue and a pop flag (0 pop_prev, 1 pop_next) it
/// does not carry, for a FIFO whose every token the program already consumes.
fn unmatched_pop(program: &Program) -> Option<(usize, usize)> {
    use tessera_isa::isa::Queue;
    // (queue, flag on that queue's instructions, FIFO) for every pop a queue can do;
    // FIFOs: 0 load->compute, 1 compute->load, 2 compute->store, 3 store->compute.
    let pops = [(Queue::Load, 1, 1), (Queue::Compute, 0, 0), (Queue::Compute, 1, 3), (Queue::Store, 0, 2)];
    let mut balance = [0i64; 4];
    for instr in &program.instrs {
        let d = instr.deps();
        match instr.queue() {
            Some(Queue::Load) => balance[0] += i64::from(d.push_next),
            Some(Queue::Compute) => {
                balance[1] += i64::from(d.push_prev);
                balance[2] += i64::from(d.push_next);
            }
            Some(Queue::Store) => balance[3] += i64::from(d.push_prev),
            None => {}
        }
        match instr.queue() {
            Some(Queue::Load) => balance[1] -= i64::from(d.pop_next),
            Some(Queue::Compute) => {
                balance[0] -= i64::from(d.pop_prev);
                balance[3] -= i64::from(d.pop_next);
            }
            Some(Queue::Store) => balance[2] -= i64::from(d.pop_prev),
            None => {}
        }
    }
    pops.iter().find_map(|&(q, flag, f)| {
        let last = program.instrs.iter().rposition(|i| i.queue() == Some(q))?;
        let d = program.instrs[last].deps();
        let has = if flag == 0 { d.pop_prev } else { d.pop_next };
        (balance[f] == 0 && !has).then_some((last, flag))
    })
}
