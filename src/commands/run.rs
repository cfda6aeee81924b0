//! `tessera run`: runs a program bundle on a backend and prints its outputs and
//! hardware counters.

use super::backend::{self, Backend};
use super::report::{checksum, print_counters};
use std::path::Path;
use std::time::{Duration, Instant};
use tessera_isa::bundle::{Bundle, Role};

pub struct RunArgs<'a> {
    pub program: &'a Path,
    pub backend: Backend,
    pub trace: Option<&'a Path>,
    /// Device time to wait for the interrupt.
    pub timeout: Duration,
    /// `--input`, `--output`, `--labels` or `--reference` was given (they belong to
    /// models: `.onnx`, `.tflite`, `.tsr`).
    pub model_io: bool,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.model_io,
        "--input, --output, --labels and --reference apply to models (.onnx, .tflite, .tsr); a bundle holds its own inputs"
    );
    let bundle = Bundle::load(args.program)?;
    let cfg = &bundle.header.config;
    let mut session = backend::open(args.backend, cfg, bundle.header.dram_bytes as usize, args.trace)?;
    let started = Instant::now();
    let report = session.run_bundle(&bundle, args.timeout)?;
    let wall = started.elapsed();

    println!("{} on `{}` ({:?} backend)", args.program.display(), cfg.name, args.backend);
    if !bundle.header.description.is_empty() {
        println!("  program          {}", bundle.header.description);
    }
    println!("  instructions     {} in the program", bundle.header.program_len);
    for slot in bundle.tensors(Role::Output) {
        let bytes = session.read_tensor(slot)?;
        let shown = slot.elements().min(16);
        let values: Vec<String> = (0..shown).map(|i| slot.dtype.get(&bytes, i).to_string()).collect();
        let more = if slot.elements() > shown { ", ..." } else { "" };
        println!(
            "  output `{}`       {:?} {:?}: [{}{more}] checksum {:#010x}",
            slot.name,
            slot.dtype,
            slot.shape,
            values.join(", "),
            checksum(&bytes)
        );
    }
    print_counters(cfg, &report);
    println!("  wall time        {:.3} s", wall.as_secs_f64());
    if let Some(path) = args.trace {
        println!("  waveform         {}", path.display());
    }
    Ok(())
}
