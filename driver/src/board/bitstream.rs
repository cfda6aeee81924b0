//! Vivado bitstreams: the `.bit` file's header and the `.bin` image the kernel's
//! `fpga_manager` loads.
//!
//! A `.bit` starts with a TLV header: a 2-byte length (9) and 9 bytes of magic,
//! a 2-byte 1, then fields `a` design name (with `;UserID=...;Version=...`),
//! `b` part, `c` date, `d` time, each a key byte, a 2-byte big-endian length and
//! a NUL-terminated string, and `e`, a 4-byte big-endian length followed by the
//! configuration data itself. The Zynq `fpga_manager` wants that data with the
//! bytes of every 32-bit word swapped (the `.bin` PYNQ writes): its sync word
//! `AA 99 55 66` reads `66 55 99 AA`.

use super::BoardError;
use std::path::Path;

/// The sync word that starts configuration, as it appears in a `.bit`.
pub const SYNC_WORD: [u8; 4] = [0xAA, 0x99, 0x55, 0x66];

/// The 9 bytes after the first length field of every `.bit`.
const MAGIC: [u8; 9] = [0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x0F, 0xF0, 0x00];

/// What a `.bit` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitHeader {
    /// Field `a` in full, e.g. `design_1_wrapper;UserID=0XFFFFFFFF;Version=2022.2`.
    pub design: String,
    /// Field `b`, e.g. `7z020clg400`.
    pub part: String,
    /// Field `c`, e.g. `2024/05/01`.
    pub date: String,
    /// Field `d`, e.g. `12:34:56`.
    pub time: String,
}

impl BitHeader {
    /// The design name without the `;UserID=...;Version=...` suffix.
    pub fn design_name(&self) -> &str {
        self.design.split(';').next().unwrap_or(&self.design)
    }
}

/// A cursor over the header that names the file and field on every error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], BoardError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| {
            let message =
                format!("truncated: {n} bytes needed at offset {:#x}, the file has {:#x}", self.at, self.bytes.len());
            BoardError::field(self.path, field, message)
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self, field: &str) -> Result<u16, BoardError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, field: &str) -> Result<u32, BoardError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed, NUL-terminated string field.
    fn string(&mut self, field: &str) -> Result<String, BoardError> {
        let len = self.u16(field)? as usize;
        let raw = self.take(len, field)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| BoardError::field(self.path, field, "not UTF-8 text"))
    }
}

/// Splits a `.bit` file into its header and configuration data. `path` is for
/// messages.
pub fn parse_bit<'a>(bytes: &'a [u8], path: &Path) -> Result<(BitHeader, &'a [u8]), BoardError> {
    let mut r = Reader { bytes, at: 0, path };
    let not_bit = |what: &str| BoardError::field(path, "header", format!("not a Xilinx .bit file ({what})"));
    if r.u16("header")? != 9 || r.take(9, "header")? != MAGIC {
        return Err(not_bit("the first 11 bytes are not 00 09 0f f0 0f f0 0f f0 0f f0 00"));
    }
    if r.u16("header")? != 1 {
        return Err(not_bit("no 00 01 after the magic"));
    }
    let mut fields: [Option<String>; 4] = Default::default();
    let names = ["a (design name)", "b (part)", "c (date)", "d (time)"];
    loop {
        let key = r.take(1, "field key")?[0];
        match key {
            b'a'..=b'd' => {
                let i = usize::from(key - b'a');
                fields[i] = Some(r.string(&format!("field {}", names[i]))?);
            }
            b'e' => break,
            other => {
                let message = format!("unknown field key {other:#04x} at offset {:#x}", r.at - 1);
                return Err(BoardError::field(path, "header", message));
            }
        }
    }
    let len = r.u32("field e (bitstream length)")? as usize;
    let rest = bytes.len() - r.at;
    if len != rest {
        let message = format!("says {len} bytes of configuration data, {rest} follow");
        return Err(BoardError::field(path, "field e (bitstream length)", message));
    }
    let data = &bytes[r.at..];
    let [a, b, c, d] = fields;
    let missing = |i: usize| BoardError::field(path, &format!("field {}", names[i]), "missing");
    let header = BitHeader {
        design: a.ok_or_else(|| missing(0))?,
        part: b.ok_or_else(|| missing(1))?,
        date: c.ok_or_else(|| missing(2))?,
        time: d.ok_or_else(|| missing(3))?,
    };
    Ok((header, data))
}

/// Configuration data as `fpga_manager` loads it: every 32-bit word byte-swapped.
/// The data must be whole words and contain the sync word.
pub fn to_bin(data: &[u8], path: &Path) -> Result<Vec<u8>, BoardError> {
    if !data.len().is_multiple_of(4) {
        let message = format!("{} bytes is not a whole number of 32-bit words", data.len());
        return Err(BoardError::field(path, "configuration data", message));
    }
    if !data.chunks_exact(4).any(|w| w == SYNC_WORD) {
        return Err(BoardError::field(path, "configuration data", "no sync word aa 99 55 66"));
    }
    Ok(data.chunks_exact(4).flat_map(|w| [w[3], w[2], w[1], w[0]]).collect())
}

/// A bitstream ready for `fpga_manager`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitstream {
    /// The `.bit` header (`None` for a `.bin`).
    pub header: Option<BitHeader>,
    /// The byte-swapped image.
    pub bin: Vec<u8>,
}

/// Reads a `.bit` (converted) or a `.bin` (checked: already swapped, or swapped
/// here when its sync word is in `.bit` order).
pub fn read(path: &Path) -> Result<Bitstream, BoardError> {
    let bytes = std::fs::read(path).map_err(|e| BoardError::io(path, "read", e))?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("bin")) {
        let swapped: [u8; 4] = [SYNC_WORD[3], SYNC_WORD[2], SYNC_WORD[1], SYNC_WORD[0]];
        if bytes.len().is_multiple_of(4) && bytes.chunks_exact(4).any(|w| w == swapped) {
            return Ok(Bitstream { header: None, bin: bytes });
        }
        return Ok(Bitstream { header: None, bin: to_bin(&bytes, path)? });
    }
    let (header, data) = parse_bit(&bytes, path)?;
    Ok(Bitstream { header: Some(header), bin: to_bin(data, path)? })
}
