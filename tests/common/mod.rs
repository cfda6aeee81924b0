//! Helpers shared by the end-to-end tests: a bump allocator over a DDR image and
//! operand packing.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `tessera` binary from the repository root, as a user would.
pub fn tessera<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tessera runs")
}

/// A path in the repository.
pub fn root(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A file in this test process's scratch directory (created on first use).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `tessera prune MODEL --pattern PATTERN -o OUT`.
pub fn prune(model: &Path, pattern: &str, out: &Path) -> Output {
    tessera([
        "prune".as_ref(),
        model.as_os_str(),
        "--pattern".as_ref(),
        pattern.as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
}

/// `tessera run MODEL -c CONFIG --backend BACKEND --input INPUT` and the options
/// in `extra` (e.g. `--output`, `--reference` with their paths).
pub fn run_model(model: &Path, config: &str, backend: &str, input: &Path, extra: &[(&str, &Path)]) -> Output {
    let mut args: Vec<&OsStr> = vec!["run".as_ref(), model.as_os_str(), "-c".as_ref(), config.as_ref()];
    args.extend(["--backend".as_ref(), backend.as_ref(), "--input".as_ref(), input.as_os_str()]);
    for (flag, path) in extra {
        args.extend([flag.as_ref(), path.as_os_str()]);
    }
    tessera(args)
}

/// A DDR image with a bump allocator (64-byte aligned, like a DMA buffer).
#[derive(Default)]
pub struct DdrImage {
    pub bytes: Vec<u8>,
}

impl DdrImage {
    /// Appends `data` and returns its offset.
    pub fn push(&mut self, data: &[u8]) -> u32 {
        let offset = self.bytes.len().next_multiple_of(64);
        self.bytes.resize(offset, 0);
        self.bytes.extend_from_slice(data);
        offset as u32
    }

    /// Reserves `len` zero bytes and returns their offset.
    pub fn reserve(&mut self, len: usize) -> u32 {
        self.push(&vec![0; len])
    }

    pub fn read_i32(&self, offset: u32, n: usize) -> Vec<i32> {
        self.bytes[offset as usize..offset as usize + 4 * n]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    pub fn read_i8(&self, offset: u32, n: usize) -> Vec<i8> {
        self.bytes[offset as usize..offset as usize + n].iter().map(|b| *b as i8).collect()
    }
}

/// Operands as stored in DDR: one byte each, or two nibbles per byte (low first).
pub fn pack_operands(values: &[i32], bits: u32) -> Vec<u8> {
    match bits {
        8 => values.iter().map(|v| *v as u8).collect(),
        4 => {
            values.chunks(2).map(|p| (p[0] as u8 & 0xf) | ((p.get(1).copied().unwrap_or(0) as u8 & 0xf) << 4)).collect()
        }
        _ => panic!("unsupported operand width {bits}"),
    }
}

use tessera_isa::config::AccelConfig;
use tessera_isa::isa::Program;
use tessera_sim::cosim::{run_both, CosimRun};

/// Runs `program` after `image` on the golden model and the Verilated RTL of `cfg`;
/// both must succeed and leave identical DDR images.
pub fn cosim(cfg: &AccelConfig, image: &DdrImage, program: &Program) -> CosimRun {
    let run = run_both(cfg, &image.bytes, program, 50_000_000).expect("build and run the RTL model");
    if let Err(e) = &run.golden_result {
        panic!("{}: golden: {e}", cfg.name);
    }
    assert!(!run.outcome.timed_out, "{}: the RTL did not finish", cfg.name);
    assert_eq!(run.outcome.error, None, "{}: the RTL reported an error", cfg.name);
    if let Some(at) = run.first_difference() {
        panic!(
            "{}: DDR differs first at offset {at:#x}: golden {:#04x}, RTL {:#04x}",
            cfg.name, run.golden[at], run.rtl[at]
        );
    }
    run
}

/// `(stem, outputs)` of every fixture a generator listed in `<dir>/cases.txt`.
pub fn listed_cases(dir: &str) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(root(&format!("{dir}/cases.txt"))).expect("cases.txt");
    text.lines()
        .map(|l| {
            let (stem, n) = l.split_once(' ').expect("stem and count");
            (stem.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

/// [`check_listed`], failing the test with what went wrong.
pub fn check_fixture(dir: &str, stem: &str, ext: &str, count: usize, config: &str, backend: &str) {
    if let Some(failure) = check_listed(dir, stem, ext, count, config, backend) {
        panic!("{failure}");
    }
}

/// `tessera compile MODEL --report` for `pynq-z2`: the report, the command having
/// succeeded.
pub fn compile_report(model: &Path) -> String {
    let out = tessera(["compile".as_ref(), model.as_os_str(), "--report".as_ref()]);
    assert!(out.status.success(), "{}: {}", model.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows of `node` in a report's table of operations (one per program operation
/// the node lowered to; not the segment summary below the table).
pub fn op_rows<'a>(report: &'a str, node: &str) -> Vec<&'a str> {
    report
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.split_whitespace().nth(1) == Some(node))
        .collect()
}

/// Runs `<dir>/<stem><ext>` on `<stem>_x.npy` on `backend` against `<stem>_ref.npy`:
/// `None` when all `count` outputs are equal, else what went wrong.
pub fn check_listed(dir: &str, stem: &str, ext: &str, count: usize, config: &str, backend: &str) -> Option<String> {
    let path = |suffix: &str| root(&format!("{dir}/{stem}{suffix}"));
    let out = run_model(&path(ext), config, backend, &path("_x.npy"), &[("--reference", &path("_ref.npy"))]);
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success() && text.contains(&format!("{count} of {count} outputs equal"));
    (!ok).then(|| format!("{stem} on {backend}: {}\n{text}", String::from_utf8_lossy(&out.stderr)))
}

/// The models of a zoo directory's `manifest.json` (docs/zoo.md).
pub fn zoo_manifest(dir: &Path) -> Vec<serde_json::Value> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["models"].as_array().expect("a list of models").clone()
}

/// A zoo `entry`'s model compiled for `config`, its outputs replaced by `outputs` if
/// given.
pub fn zoo_compiled(
    dir: &Path,
    entry: &serde_json::Value,
    config: &str,
    outputs: Option<Vec<String>>,
) -> Result<tessera_compiler::model::CompiledModel, String> {
    let mut program =
        tessera_compiler::load_program(&dir.join(entry["file"].as_str().unwrap())).map_err(|e| format!("{e:#}"))?;
    if let Some(outputs) = outputs {
        program.outputs = outputs;
    }
    let config = tessera_isa::config::AccelConfig::builtin(config).unwrap();
    tessera_compiler::model::compile(&config, program, 1, tessera_compiler::model::CompileOptions::default())
}

/// The cache of large zoo models: `${TESSERA_ZOO:-~/.cache/tessera/zoo}`.
pub fn zoo_cache() -> PathBuf {
    std::env::var_os("TESSERA_ZOO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/tessera/zoo"))
}

/// Calls `check` with every model of a zoo manifest that is not listed in
/// `unsupported` (names and the error each must give).
pub fn for_each_supported(
    models: &[serde_json::Value],
    unsupported: &[(&str, &str)],
    mut check: impl FnMut(&serde_json::Value),
) {
    for entry in models {
        let name = entry["name"].as_str().unwrap();
        if !unsupported.iter().any(|(n, _)| *n == name) {
            check(entry);
        }
    }
}

/// Every architecture family of a zoo manifest has a model with per-layer checks.
pub fn assert_every_family_has_intermediates(models: &[serde_json::Value]) {
    for family in models.iter().map(|e| e["family"].as_str().unwrap()) {
        assert!(
            models.iter().any(|e| e["family"] == family && !e["intermediates"].as_array().unwrap().is_empty()),
            "family {family}"
        );
    }
}

/// Checks every model of the zoo in `dir` with `check(dir, entry, config)` on
/// pynq-z2 and zcu104, except those in `unsupported`, which must fail to compile
/// with an error naming their operator (and fail the test once they compile).
/// Returns the names of the models checked.
pub fn check_zoo(
    dir: &Path,
    unsupported: &[(&str, &str)],
    check: impl Fn(&Path, &serde_json::Value, &str),
) -> Vec<String> {
    let mut ran = Vec::new();
    for entry in zoo_manifest(dir) {
        let name = entry["name"].as_str().unwrap();
        if let Some((_, op)) = unsupported.iter().find(|(n, _)| *n == name) {
            let err = zoo_compiled(dir, &entry, "pynq-z2", None)
                .err()
                .unwrap_or_else(|| panic!("{name} compiles now: move it out of UNSUPPORTED"));
            assert!(err.contains(op) && err.contains("not supported"), "{name}: {err}");
            continue;
        }
        for config in ["pynq-z2", "zcu104"] {
            check(dir, &entry, config);
        }
        ran.push(name.to_string());
    }
    ran
}
