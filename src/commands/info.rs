//! `tessera info` and `tessera isa`.

use tessera_isa::config::AccelConfig;
use tessera_isa::isa::layout_markdown;
use tessera_isa::regs::registers_markdown;

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The human-readable summary of a config: what it is and what it can do.
pub fn summary(cfg: &AccelConfig) -> String {
    let (a, m, c, x) = (&cfg.array, &cfg.memory, &cfg.control, &cfg.axi);
    let sram = cfg.sram_bytes();
    let ddr_bpc = cfg.ddr_bytes_per_cycle();
    let port_limited = ddr_bpc < cfg.ddr.bandwidth_mb_s / cfg.clock_mhz;
    let sparse = {
        let nm: Vec<String> = cfg.sparse.nm.iter().map(|p| p.to_string()).collect();
        let engine = cfg.sparse.engine.as_ref().map(|e| format!("sparse engine with {} PEs", e.pes));
        let parts: Vec<String> =
            [(!nm.is_empty()).then(|| format!("N:M {}", nm.join(", "))), engine].into_iter().flatten().collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join("; ")
        }
    };
    let rows = [
        ("name", cfg.name.clone()),
        ("rows", a.rows.to_string()),
        ("cols", a.cols.to_string()),
        ("operands", format!("int{} / uint{}, accumulators int{}", a.operand_bits, a.operand_bits, a.acc_bits)),
        ("peak MACs/cycle", cfg.peak_macs_per_cycle().to_string()),
        ("peak throughput", format!("{:.1} GOP/s at {} MHz", cfg.peak_gops(), cfg.clock_mhz)),
        ("input buffer", format!("{} entries x {} operands = {}", m.ibuf_entries, a.rows, kib(sram.ibuf))),
        (
            "weight buffer",
            format!(
                "{} entries x {} operands = {} ({} tiles)",
                m.wbuf_entries,
                a.cols,
                kib(sram.wbuf),
                m.wbuf_entries / a.rows
            ),
        ),
        ("accumulator", format!("{} entries x {} x int{} = {}", m.acc_entries, a.cols, a.acc_bits, kib(sram.acc))),
        ("parameters", format!("{} entries x {} lanes = {}", m.pbuf_entries, a.cols, kib(sram.pbuf))),
        ("on-chip total", kib(sram.total())),
        ("queues", format!("{} instructions each, {} tokens per FIFO", c.queue_depth, c.token_depth)),
        (
            "AXI master",
            format!(
                "{}-bit data, {}-bit address, bursts of {}, {} outstanding",
                x.data_bits, x.addr_bits, x.max_burst_beats, x.max_outstanding
            ),
        ),
        (
            "DDR",
            format!(
                "{} MB/s -> {:.2} bytes/cycle{}, latency {} cycles read / {} write",
                cfg.ddr.bandwidth_mb_s,
                ddr_bpc,
                if port_limited { " (AXI port limit)" } else { "" },
                cfg.ddr_read_latency_cycles(),
                cfg.ddr_write_latency_cycles()
            ),
        ),
        ("roofline ridge", format!("{:.1} MACs per DDR byte", cfg.peak_macs_per_cycle() as f64 / ddr_bpc)),
        ("sparse", sparse),
        ("fingerprint", format!("{:#010x}", cfg.fingerprint())),
    ];
    rows.iter().map(|(k, v)| format!("{k:<17} {v}\n")).collect()
}

pub fn run(spec: &str) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(spec)?;
    print!("{}", summary(&cfg));
    println!("\n# config");
    print!("{}", cfg.to_toml());
    Ok(())
}

pub fn isa() -> anyhow::Result<()> {
    println!("### Instruction formats\n");
    print!("{}", layout_markdown());
    println!("### Registers\n");
    print!("{}", registers_markdown());
    Ok(())
}
