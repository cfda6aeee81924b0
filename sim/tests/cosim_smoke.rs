//! First light: one program on the golden model and on the Verilated RTL.

use tessera_isa::config::AccelConfig;
use tessera_isa::isa::*;
use tessera_isa::regs;
use tessera_sim::verilator::{BuildOptions, VerilatorDevice};
use tessera_sim::Golden;

const BASE: u64 = 0x1000_0000;

fn gemm_program() -> (Vec<u8>, Program) {
    let mut ddr = vec![0u8; 0x400];
    for i in 0..16 {
        ddr[i] = (i as u8).wrapping_mul(7).wrapping_sub(50);
        ddr[0x40 + i] = (i as u8).wrapping_mul(13).wrapping_add(3);
    }
    let deps = |f: fn(&mut Deps)| {
        let mut d = Deps::default();
        f(&mut d);
        d
    };
    let program = Program::new(vec![
        Instr::Load(Load { mem: Mem::Ibuf, x_size: 4, x_stride: 4, y_size: 1, lanes: 4, ..Default::default() }),
        Instr::Load(Load {
            mem: Mem::Wbuf,
            dram_addr: 0x40,
            x_size: 4,
            x_stride: 4,
            y_size: 1,
            lanes: 4,
            deps: deps(|d| d.push_next = true),
            ..Default::default()
        }),
        Instr::Gemm(Gemm {
            loops: Loop2::flat(4),
            ibuf_stride: Stride2::UNIT,
            acc_stride: Stride2::UNIT,
            deps: deps(|d| {
                d.pop_prev = true;
                d.push_next = true
            }),
            ..Default::default()
        }),
        Instr::Store(Store {
            out_type: OutType::I32,
            dram_addr: 0x100,
            x_size: 4,
            x_stride: 16,
            y_size: 1,
            lanes: 4,
            deps: deps(|d| d.pop_prev = true),
            ..Default::default()
        }),
        Instr::Finish,
    ]);
    (ddr, program)
}

#[test]
fn single_gemm_matches_golden() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let (mut image, program) = gemm_program();
    let prog_off = image.len();
    image.extend(program.encode());
    let mut golden_ddr = image.clone();
    let stats = Golden::new(&cfg).run_from_ddr(&mut golden_ddr, prog_off as u64, program.len() as u32).unwrap();

    let mut sim = VerilatorDevice::new(&cfg, &BuildOptions::default(), BASE, image.len()).unwrap();
    sim.ddr_mut().copy_from_slice(&image);
    assert_eq!(sim.reg_read(regs::ID).unwrap(), regs::ID_MAGIC);
    sim.reg_write(regs::DRAM_BASE_LO, BASE as u32).unwrap();
    sim.reg_write(regs::DRAM_BASE_HI, (BASE >> 32) as u32).unwrap();
    sim.reg_write(regs::DRAM_SIZE, image.len() as u32).unwrap();
    sim.reg_write(regs::PROG_ADDR_LO, (BASE + prog_off as u64) as u32).unwrap();
    sim.reg_write(regs::PROG_ADDR_HI, 0).unwrap();
    sim.reg_write(regs::PROG_LEN, program.len() as u32).unwrap();
    sim.reg_write(regs::IRQ_ENABLE, regs::IRQ_DONE | regs::IRQ_ERROR).unwrap();
    sim.reg_write(regs::CTRL, regs::CTRL_START).unwrap();
    let cycles = sim.run_until_irq(100_000);
    let status = sim.reg_read(regs::STATUS).unwrap();
    println!("ran {cycles} cycles, status {status:#x}, pc {}", sim.reg_read(regs::ERROR_PC).unwrap());
    assert_eq!(status & regs::STATUS_DONE, regs::STATUS_DONE, "status {status:#x}");
    let macs = sim.reg_read(regs::Counter::Macs.offset()).unwrap();
    assert_eq!(u64::from(macs), stats.macs);
    assert_eq!(sim.ddr(), golden_ddr.as_slice());
}
