//! Human-readable listing of instructions (`tessera compile --emit asm`).

use super::*;
use std::fmt;

impl fmt::Display for Deps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = [
            (self.pop_prev, "pop_prev"),
            (self.pop_next, "pop_next"),
            (self.push_prev, "push_prev"),
            (self.push_next, "push_next"),
        ];
        let set: Vec<&str> = flags.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
        if !set.is_empty() {
            write!(f, " [{}]", set.join(" "))?;
        }
        Ok(())
    }
}

fn lower<T: fmt::Debug>(v: T) -> String {
    format!("{v:?}").to_lowercase()
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instr::Load(l) => {
                write!(
                    f,
                    "{:<9} sram={} dram={:#x} x={}*{} y={}*{} lanes={}",
                    self.mnemonic(),
                    l.sram_addr,
                    l.dram_addr,
                    l.x_size,
                    l.x_stride,
                    l.y_size,
                    l.y_stride,
                    l.lanes
                )?;
                if l.mem == Mem::Acc {
                    write!(f, " elem={}", lower(l.acc_elem))?;
                }
                if l.combine != Combine::Overwrite {
                    write!(f, " combine={}", lower(l.combine))?;
                }
                if l.pad != Pad::default() {
                    let p = l.pad;
                    write!(f, " pad=t{},b{},l{},r{}", p.top, p.bottom, p.left, p.right)?;
                }
                if l.pad_value != 0 {
                    write!(f, " pad_value={}", l.pad_value)?;
                }
                write!(f, "{}", l.deps)
            }
            Instr::Store(s) => {
                write!(
                    f,
                    "{:<9} acc={} dram={:#x} x={}*{} y={}*{} lanes={} out={} mode={}",
                    format!("store.{}", lower(s.out_type)),
                    s.acc_addr,
                    s.dram_addr,
                    s.x_size,
                    s.x_stride,
                    s.y_size,
                    s.y_stride,
                    s.lanes,
                    lower(s.out_type),
                    lower(s.mode)
                )?;
                if s.mode != RequantMode::None {
                    let step = if s.pbuf_step { "+x" } else { "" };
                    write!(f, " pbuf={}{step} zp={}", s.pbuf_addr, s.zero_point)?;
                }
                if s.out_type != OutType::I32 {
                    write!(f, " clamp={}..{}", s.clamp_lo, s.clamp_hi)?;
                }
                write!(f, "{}", s.deps)
            }
            Instr::Gemm(g) => {
                write!(
                    f,
                    "{:<9} acc={} ibuf={} wbuf={} loop={}x{} ibuf_stride={},{} acc_stride={},{}",
                    "gemm",
                    g.acc_addr,
                    g.ibuf_addr,
                    g.wbuf_addr,
                    g.loops.outer,
                    g.loops.inner,
                    g.ibuf_stride.outer,
                    g.ibuf_stride.inner,
                    g.acc_stride.outer,
                    g.acc_stride.inner
                )?;
                let sign = |unsigned: bool| if unsigned { "u" } else { "s" };
                write!(f, " a={}{} w={}{}", sign(g.a_unsigned), g.a_zero, sign(g.w_unsigned), g.w_zero)?;
                if g.nm != 0 {
                    write!(f, " sparse={}:4", g.nm)?;
                }
                if g.accumulate {
                    write!(f, " accumulate")?;
                }
                if g.reuse_weights {
                    write!(f, " reuse_weights")?;
                }
                write!(f, "{}", g.deps)
            }
            Instr::Alu(a) => {
                write!(f, "{:<9} dst={}", format!("alu.{}", lower(a.op)), a.dst)?;
                if a.use_imm {
                    write!(f, " imm={}", a.imm)?;
                } else {
                    write!(f, " src={}", a.src)?;
                }
                if a.op == AluOp::Mbqm {
                    write!(f, " shift={}", a.shift)?;
                }
                write!(
                    f,
                    " loop={}x{} dst_stride={},{}",
                    a.loops.outer, a.loops.inner, a.dst_stride.outer, a.dst_stride.inner
                )?;
                if !a.use_imm {
                    write!(f, " src_stride={},{}", a.src_stride.outer, a.src_stride.inner)?;
                }
                write!(f, "{}", a.deps)
            }
            Instr::Spmv(x) => {
                write!(
                    f,
                    "{:<9} acc={}+{} ibuf={} wbuf={} k={} items={}",
                    "spmv", x.acc_addr, x.out_entries, x.ibuf_addr, x.wbuf_addr, x.k_size, x.item_entries
                )?;
                let sign = |unsigned: bool| if unsigned { "u" } else { "s" };
                write!(f, " a={}{} w={}{}", sign(x.a_unsigned), x.a_zero, sign(x.w_unsigned), x.w_zero)?;
                if x.accumulate {
                    write!(f, " accumulate")?;
                }
                write!(f, "{}", x.deps)
            }
            Instr::Table(t) => write!(f, "{:<9} dram={:#x}{}", "table", t.dram_addr, t.deps),
            Instr::Fence => write!(f, "fence"),
            Instr::Finish => write!(f, "finish"),
        }
    }
}
