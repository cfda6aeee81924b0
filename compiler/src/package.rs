//! A compiled model (`.tsr`): the lowered program, the config and batch size it was
//! compiled for, and for every accelerator layer its program bundles (instruction
//! stream, weights in the array's order, requantization parameters, and a slot for
//! the activations). Running it writes each layer's activations into its bundle and
//! runs the bundle; nothing is lowered again.
//!
//! File layout: the magic `TSRMODEL`, a little-endian `u32` format version, a `u64`
//! length and that many bytes of JSON (config, batch, program), a `u32` count of
//! bundles, then each bundle as a `u64` length and its bytes (`Bundle::to_bytes`),
//! in the order of the program's layers.

use crate::plan::{plan, OpPlan};
use crate::program::Program;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tessera_isa::bundle::Bundle;
use tessera_isa::config::AccelConfig;

const MAGIC: &[u8; 8] = b"TSRMODEL";
const VERSION: u32 = 1;

/// A compiled model.
#[derive(Debug, Clone)]
pub struct Package {
    pub config: AccelConfig,
    /// Samples per run of the program (the first dimension of every input).
    pub batch: usize,
    pub program: Program,
    /// Per operation of the program: its bundles (one per weight matrix of an
    /// accelerator layer; none for host operations).
    pub bundles: Vec<Vec<Bundle>>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    config: AccelConfig,
    batch: usize,
    program: Program,
    /// Bundles per operation.
    counts: Vec<usize>,
}

/// Whether `bytes` start like a compiled model (rather than a program bundle).
pub fn is_package(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

impl Package {
    /// Compiles `program` for `cfg` at `batch` samples per run.
    pub fn compile(cfg: &AccelConfig, program: Program, batch: usize) -> Result<Package, String> {
        let plans = plan(cfg, &program, batch)?;
        Ok(Self::from_plans(cfg, program, batch, &plans))
    }

    /// The package of `program` whose plan at `batch` is `plans`.
    pub fn from_plans(cfg: &AccelConfig, program: Program, batch: usize, plans: &[OpPlan]) -> Package {
        let bundles = plans.iter().map(|p| p.layer.as_ref().map_or_else(Vec::new, |l| l.bundles.clone())).collect();
        Package { config: cfg.clone(), batch, program, bundles }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let manifest = Manifest {
            config: self.config.clone(),
            batch: self.batch,
            program: self.program.clone(),
            counts: self.bundles.iter().map(Vec::len).collect(),
        };
        let json = serde_json::to_vec(&manifest).expect("the manifest serializes");
        let mut out = MAGIC.to_vec();
        out.extend(VERSION.to_le_bytes());
        out.extend((json.len() as u64).to_le_bytes());
        out.extend(json);
        let all: Vec<&Bundle> = self.bundles.iter().flatten().collect();
        out.extend((all.len() as u32).to_le_bytes());
        for bundle in all {
            let bytes = bundle.to_bytes();
            out.extend((bytes.len() as u64).to_le_bytes());
            out.extend(bytes);
        }
        out
    }

    /// Parses a package; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Package, String> {
        let fail = |what: &str| format!("{path}: {what}");
        let mut rest =
            bytes.strip_prefix(MAGIC).ok_or_else(|| fail("not a compiled Tessera model (no TSRMODEL magic)"))?;
        let mut take = |n: usize| -> Result<&[u8], String> {
            if rest.len() < n {
                return Err(fail("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let version = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(fail(&format!("format version {version}; this build reads version {VERSION}")));
        }
        let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
        let manifest: Manifest = serde_json::from_slice(take(len)?).map_err(|e| fail(&format!("bad manifest: {e}")))?;
        let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        if count != manifest.counts.iter().sum::<usize>() || manifest.counts.len() != manifest.program.ops.len() {
            return Err(fail("the bundle count does not match the program"));
        }
        let mut all = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
            all.push(Bundle::from_bytes(take(len)?, path).map_err(|e| e.to_string())?);
        }
        let mut all = all.into_iter();
        let bundles = manifest.counts.iter().map(|&n| all.by_ref().take(n).collect()).collect();
        Ok(Package { config: manifest.config, batch: manifest.batch, program: manifest.program, bundles })
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.to_bytes()).map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Package, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_survives_its_bytes_and_refuses_damage() {
        let cfg = AccelConfig::builtin("tiny").unwrap();
        let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/digits_cnn/cnn_qop.onnx");
        let program = crate::load_program(Path::new(model)).unwrap();
        let package = Package::compile(&cfg, program, 2).unwrap();
        assert_eq!(package.bundles.iter().filter(|b| !b.is_empty()).count(), 3);
        let bytes = package.to_bytes();
        let back = Package::from_bytes(&bytes, "cnn.tsr").unwrap();
        assert_eq!(back.program, package.program);
        assert_eq!((back.batch, &back.config), (2, &cfg));
        assert_eq!(back.to_bytes(), bytes);
        let err = Package::from_bytes(&bytes[..bytes.len() - 10], "cut.tsr").unwrap_err();
        assert!(err.starts_with("cut.tsr:"), "{err}");
        assert!(Package::from_bytes(b"TSRMODEL\x09\0\0\0", "v9.tsr").unwrap_err().contains("format version 9"));
    }
}
