//! Program bundles (`.tsr`): everything a device needs to run one compiled program.
//!
//! A bundle is the DDR image the program expects (weights, parameters, inputs,
//! output space and the encoded instructions, at fixed offsets from `DRAM_BASE`)
//! plus a JSON header naming the config it was compiled for and where its tensors
//! live. The layout is
//!
//! ```text
//! "TSRB" | u32 format version | u32 header length | header (JSON) | DDR image
//! ```
//!
//! all integers little-endian. JSON keeps the header readable with standard tools
//! (`tail -c +13 x.tsr | head -c LEN`) and lets later versions add fields.

use crate::config::AccelConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 4] = b"TSRB";
/// Bumped when an old reader could misread a new bundle.
pub const BUNDLE_VERSION: u32 = 1;

/// Element type of a tensor in the DDR image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    I8,
    U8,
    I32,
    /// Two signed 4-bit values per byte, low nibble first.
    I4,
    /// Two unsigned 4-bit values per byte, low nibble first.
    U4,
}

impl DType {
    /// Bytes `elements` values of this type occupy.
    pub fn bytes(self, elements: usize) -> usize {
        match self {
            DType::I8 | DType::U8 => elements,
            DType::I32 => elements * 4,
            DType::I4 | DType::U4 => elements.div_ceil(2),
        }
    }

    /// Element `i` of `data`, widened.
    pub fn get(self, data: &[u8], i: usize) -> i32 {
        match self {
            DType::I8 => data[i] as i8 as i32,
            DType::U8 => data[i] as i32,
            DType::I32 => i32::from_le_bytes(data[4 * i..4 * i + 4].try_into().expect("4 bytes")),
            DType::I4 | DType::U4 => {
                let nibble = (data[i / 2] >> (4 * (i % 2))) & 0xf;
                if self == DType::I4 {
                    ((nibble << 4) as i8 >> 4) as i32
                } else {
                    nibble as i32
                }
            }
        }
    }
}

/// Whether the host writes a tensor before a run or reads it after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Input,
    Output,
}

/// A tensor at a fixed place in the DDR image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSlot {
    pub name: String,
    pub role: Role,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Byte offset from `DRAM_BASE`; rows are contiguous.
    pub offset: u64,
}

impl TensorSlot {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn bytes(&self) -> usize {
        self.dtype.bytes(self.elements())
    }
}

/// The header of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// The config the program was compiled for (devices refuse others).
    pub config: AccelConfig,
    /// `config.fingerprint()` when the bundle was written (checked on load).
    pub fingerprint: u32,
    /// Byte offset of the first instruction in the image.
    pub program_offset: u64,
    /// Number of 32-byte instructions.
    pub program_len: u32,
    /// DDR bytes the program may touch (at least the image length).
    pub dram_bytes: u64,
    pub tensors: Vec<TensorSlot>,
    /// Free text: what produced the bundle.
    #[serde(default)]
    pub description: String,
}

/// A program bundle: header plus DDR image.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub header: BundleHeader,
    pub image: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a Tessera program bundle (expected the magic `TSRB`)")]
    BadMagic { path: String },
    #[error("{path}: bundle format version {found}; this build reads version {BUNDLE_VERSION}")]
    Version { path: String, found: u32 },
    #[error("{path}: truncated: {what}")]
    Truncated { path: String, what: String },
    #[error("{path}: bad header: {source}")]
    Header { path: String, source: serde_json::Error },
    #[error("{path}: {problem}")]
    Inconsistent { path: String, problem: String },
}

impl Bundle {
    /// Serialized bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec_pretty(&self.header).expect("headers always serialize");
        let mut out = Vec::with_capacity(12 + header.len() + self.image.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.image);
        out
    }

    /// Parses bytes read from `path` (used in error messages only).
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Bundle, BundleError> {
        let p = || path.to_string();
        let truncated = |what: &str| BundleError::Truncated { path: p(), what: what.into() };
        if bytes.len() < 12 {
            return Err(if bytes.starts_with(MAGIC) || bytes.len() < 4 {
                truncated("shorter than the 12-byte preamble")
            } else {
                BundleError::BadMagic { path: p() }
            });
        }
        if &bytes[..4] != MAGIC {
            return Err(BundleError::BadMagic { path: p() });
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = word(4);
        if version != BUNDLE_VERSION {
            return Err(BundleError::Version { path: p(), found: version });
        }
        let header_len = word(8) as usize;
        let header_bytes = bytes.get(12..12 + header_len).ok_or_else(|| truncated("header"))?;
        let header: BundleHeader =
            serde_json::from_slice(header_bytes).map_err(|source| BundleError::Header { path: p(), source })?;
        let bundle = Bundle { header, image: bytes[12 + header_len..].to_vec() };
        if let Some(problem) = bundle.problems().into_iter().next() {
            return Err(BundleError::Inconsistent { path: p(), problem });
        }
        Ok(bundle)
    }

    pub fn save(&self, path: &Path) -> Result<(), BundleError> {
        std::fs::write(path, self.to_bytes())
            .map_err(|source| BundleError::Io { path: path.display().to_string(), source })
    }

    pub fn load(path: &Path) -> Result<Bundle, BundleError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io { path: name.clone(), source })?;
        Bundle::from_bytes(&bytes, &name)
    }

    /// Every inconsistency between header and image, each naming the field.
    pub fn problems(&self) -> Vec<String> {
        let h = &self.header;
        let mut problems = Vec::new();
        if h.config.fingerprint() != h.fingerprint {
            problems.push(format!(
                "fingerprint {:#010x} does not match its config `{}` ({:#010x})",
                h.fingerprint,
                h.config.name,
                h.config.fingerprint()
            ));
        }
        if (self.image.len() as u64) > h.dram_bytes {
            problems.push(format!("dram_bytes {} is smaller than the {}-byte image", h.dram_bytes, self.image.len()));
        }
        let program_end = h.program_offset + u64::from(h.program_len) * crate::isa::INSTR_BYTES as u64;
        if program_end > self.image.len() as u64 {
            problems.push(format!(
                "program_offset {:#x} + {} instructions ends past the {}-byte image",
                h.program_offset,
                h.program_len,
                self.image.len()
            ));
        }
        for t in &h.tensors {
            if t.offset + t.bytes() as u64 > h.dram_bytes {
                problems.push(format!(
                    "tensor `{}` ({} bytes at {:#x}) ends past dram_bytes",
                    t.name,
                    t.bytes(),
                    t.offset
                ));
            }
        }
        problems
    }

    /// The tensors of one role, in header order.
    pub fn tensors(&self, role: Role) -> impl Iterator<Item = &TensorSlot> {
        self.header.tensors.iter().filter(move |t| t.role == role)
    }

    /// The instruction stream in the image, decoded.
    pub fn program(&self) -> Result<crate::isa::Program, String> {
        let start = usize::try_from(self.header.program_offset).map_err(|e| e.to_string())?;
        let len = self.header.program_len as usize * crate::isa::INSTR_BYTES;
        let bytes = self.image.get(start..start + len).ok_or("the program lies outside the image")?;
        crate::isa::Program::decode(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        let config = AccelConfig::builtin("tiny").unwrap();
        let header = BundleHeader {
            fingerprint: config.fingerprint(),
            config,
            program_offset: 64,
            program_len: 1,
            dram_bytes: 256,
            tensors: vec![TensorSlot {
                name: "y".into(),
                role: Role::Output,
                dtype: DType::I32,
                shape: vec![2, 3],
                offset: 128,
            }],
            description: "test".into(),
        };
        Bundle { header, image: (0..96u8).collect() }
    }

    #[test]
    fn round_trips() {
        let b = sample();
        assert_eq!(Bundle::from_bytes(&b.to_bytes(), "x.tsr").unwrap(), b);
    }

    #[test]
    fn rejects_damage_naming_the_file_and_field() {
        let bytes = sample().to_bytes();
        let err = Bundle::from_bytes(b"PK\x03\x04 not a bundle", "m.zip").unwrap_err().to_string();
        assert!(err.starts_with("m.zip: not a Tessera program bundle"), "{err}");
        let err = Bundle::from_bytes(&bytes[..40], "cut.tsr").unwrap_err().to_string();
        assert_eq!(err, "cut.tsr: truncated: header");
        let mut b = sample();
        b.header.program_len = 3;
        let err = Bundle::from_bytes(&b.to_bytes(), "p.tsr").unwrap_err().to_string();
        assert!(err.contains("p.tsr: program_offset 0x40 + 3 instructions ends past the 96-byte image"), "{err}");
        let mut b = sample();
        b.header.config.array.rows = 8;
        let err = Bundle::from_bytes(&b.to_bytes(), "f.tsr").unwrap_err().to_string();
        assert!(err.contains("does not match its config `tiny`"), "{err}");
    }

    #[test]
    fn nibbles_unpack_low_first_and_sign_extend() {
        assert_eq!(DType::I4.get(&[0x8f], 0), -1);
        assert_eq!(DType::I4.get(&[0x8f], 1), -8);
        assert_eq!(DType::U4.get(&[0x8f], 1), 8);
        assert_eq!(DType::I32.get(&(-5i32).to_le_bytes(), 0), -5);
    }
}
