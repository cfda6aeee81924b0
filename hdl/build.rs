//! Fingerprints the generator's own sources (and the shared core it reads) so that
//! caches of generated artefacts (the Verilator models in `tessera-sim`) can be
//! keyed without generating the Verilog first.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let roots = [
        manifest.join("src"),
        manifest.join("../isa/src"),
        manifest.join("Cargo.toml"),
        manifest.join("../Cargo.lock"),
    ];
    let mut files = Vec::new();
    for root in &roots {
        println!("cargo:rerun-if-changed={}", root.display());
        if root.is_dir() {
            files_under(root, &mut files);
        } else {
            files.push(root.clone());
        }
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        hasher.write(file.strip_prefix(&manifest).unwrap_or(file).to_string_lossy().as_bytes());
        hasher.write(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=TESSERA_HDL_SOURCE_HASH={:016x}", hasher.finish());
}
