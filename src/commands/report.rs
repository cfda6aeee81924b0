//! Printing what a run's hardware counters say.

use tessera_driver::RunReport;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::Counter;

/// The counters of `report` as aligned lines (cycles, busy, utilization, traffic, stalls).
pub fn print_counters(cfg: &AccelConfig, report: &RunReport) {
    let c = |x| report.counter(x);
    match report.utilization(cfg) {
        Some(util) => {
            let harness = report.harness_cycles.map(|h| format!(" (harness {h})")).unwrap_or_default();
            println!("  cycles           {}{harness}", c(Counter::Cycles));
            println!(
                "  array busy       {} cycles ({:.1}%)",
                c(Counter::ComputeBusy),
                100.0 * report.busy_fraction().unwrap_or(0.0)
            );
            println!("  MACs issued      {}", c(Counter::Macs));
            println!("  PE utilization   {:.1}% of {} MACs/cycle", 100.0 * util, cfg.peak_macs_per_cycle());
            println!(
                "  stalls           load token {}, compute token {}, store token {}, DMA {}, fetch {}",
                c(Counter::LoadTokenStall),
                c(Counter::ComputeTokenStall),
                c(Counter::StoreTokenStall),
                c(Counter::DmaStall),
                c(Counter::FetchStall)
            );
        }
        None => {
            println!("  cycles           not modeled (the golden model is untimed; use --backend verilator)");
            println!("  MACs issued      {}", c(Counter::Macs));
        }
    }
    println!("  instructions     {}", c(Counter::Instructions));
    print!(
        "  DDR traffic      {} bytes read, {} bytes written by LOAD/STORE",
        c(Counter::DmaReadBytes),
        c(Counter::DmaWriteBytes)
    );
    match report.bus_bytes {
        Some((read, write)) => println!("; {read} read, {write} written on the bus (fetch included)"),
        None => println!(),
    }
}

/// A short fingerprint of an output for eyeballing runs (FNV-1a, as the config hash).
pub use tessera_isa::config::fnv1a as checksum;
