//! A compiled model on disk (`.tsr`): everything [`CompiledModel`] holds — the
//! config and batch it was compiled for, the lowered program (host operations keep
//! their parameters there), the DDR slots of the activations, the steps of an
//! inference and the segments' instruction streams — and the DDR image of
//! constants and instructions the runtime writes once per session.
//!
//! File layout: the magic `TSRMODEL`, a little-endian `u32` format version, a `u64`
//! length and that many bytes of JSON (the model without its image), a `u64` length
//! and the image's bytes.

use crate::model::CompiledModel;
use std::path::Path;

const MAGIC: &[u8; 8] = b"TSRMODEL";
/// 1: one bundle per layer. 2: whole-model segments over one DDR image.
const VERSION: u32 = 2;

/// Whether `bytes` start like a compiled model (rather than a program bundle).
pub fn is_package(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The file's bytes.
pub fn to_bytes(model: &CompiledModel) -> Vec<u8> {
    let json = serde_json::to_vec(model).expect("a compiled model serializes");
    let mut out = MAGIC.to_vec();
    out.extend(VERSION.to_le_bytes());
    out.extend((json.len() as u64).to_le_bytes());
    out.extend(json);
    out.extend((model.image.len() as u64).to_le_bytes());
    out.extend(&model.image);
    out
}

/// Parses a compiled model; `path` names it in errors.
pub fn from_bytes(bytes: &[u8], path: &str) -> Result<CompiledModel, String> {
    let fail = |what: &str| format!("{path}: {what}");
    let mut rest = bytes.strip_prefix(MAGIC).ok_or_else(|| fail("not a compiled Tessera model (no TSRMODEL magic)"))?;
    let mut take = |n: u64| -> Result<&[u8], String> {
        let n = usize::try_from(n).ok().filter(|&n| n <= rest.len()).ok_or_else(|| fail("truncated"))?;
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let version = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(fail(&format!(
            "format version {version}; this build reads version {VERSION} (compile the model again)"
        )));
    }
    let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
    let mut model: CompiledModel =
        serde_json::from_slice(take(len)?).map_err(|e| fail(&format!("bad manifest: {e}")))?;
    let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
    model.image = take(len)?.to_vec();
    if !rest.is_empty() {
        return Err(fail(&format!("{} bytes after the image", rest.len())));
    }
    model.check().map_err(|e| fail(&e))?;
    Ok(model)
}

pub fn save(model: &CompiledModel, path: &Path) -> Result<(), String> {
    std::fs::write(path, to_bytes(model)).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

pub fn load(path: &Path) -> Result<CompiledModel, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    from_bytes(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{compile, CompileOptions};
    use tessera_isa::config::AccelConfig;

    #[test]
    fn a_package_survives_its_bytes_and_refuses_damage() {
        let cfg = AccelConfig::builtin("tiny").unwrap();
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/digits_cnn/cnn_qop.onnx");
        let program = crate::load_program(Path::new(file)).unwrap();
        let model = compile(&cfg, program, 2, CompileOptions::default()).unwrap();
        let bytes = to_bytes(&model);
        let back = from_bytes(&bytes, "cnn.tsr").unwrap();
        assert_eq!(back, model);
        assert_eq!(to_bytes(&back), bytes);
        let err = from_bytes(&bytes[..bytes.len() - 10], "cut.tsr").unwrap_err();
        assert!(err.starts_with("cut.tsr:"), "{err}");
        assert!(from_bytes(b"TSRMODEL\x09\0\0\0", "v9.tsr").unwrap_err().contains("format version 9"));
    }
}
