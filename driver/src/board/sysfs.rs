//! Reading and writing sysfs attributes: one short text value per file.

use super::BoardError;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// How a number without a `0x` prefix is read. sysfs is not consistent: UIO and
/// u-dma-buf print addresses as `0x...` hex, u-dma-buf prints sizes in decimal,
/// and the u-dma-buf README reads `phys_addr` with `%x` (hex, prefix optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Radix {
    Hex,
    Decimal,
}

/// Parses an unsigned number: `0x`/`0X` always means hex, otherwise `radix`.
/// Surrounding whitespace (sysfs's trailing newline) is ignored.
pub fn parse_int(text: &str, radix: Radix) -> Result<u64, String> {
    let t = text.trim();
    let (digits, base) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, if radix == Radix::Hex { 16 } else { 10 }),
    };
    if digits.is_empty() {
        return Err(format!("expected a number, found `{t}`"));
    }
    u64::from_str_radix(digits, base).map_err(|e| {
        let kind = if base == 16 { "hex" } else { "decimal" };
        format!("`{t}` is not a {kind} number ({e})")
    })
}

/// The attribute's text without surrounding whitespace.
pub(crate) fn read_attr(path: &Path) -> Result<String, BoardError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| BoardError::io(path, "read", e))
}

/// A numeric attribute; errors name the file and `field`.
pub(crate) fn read_int(path: &Path, field: &str, radix: Radix) -> Result<u64, BoardError> {
    parse_int(&read_attr(path)?, radix).map_err(|m| BoardError::field(path, field, m))
}

/// Writes `value` to an existing attribute in one `write` (sysfs handles one
/// store per write). The file is not created: a missing attribute means a
/// missing driver, which must not pass silently. Truncating lets the same code
/// run on plain files in tests.
pub(crate) fn write_attr(path: &Path, value: &str) -> Result<(), BoardError> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| BoardError::io(path, "open for writing", e))?;
    file.write_all(value.as_bytes()).map_err(|e| BoardError::io(path, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_both_radixes_with_and_without_prefix() {
        assert_eq!(parse_int("0x1f000000\n", Radix::Decimal), Ok(0x1f00_0000));
        assert_eq!(parse_int("0X0000000040000000", Radix::Decimal), Ok(0x4000_0000));
        assert_eq!(parse_int("1e900000", Radix::Hex), Ok(0x1e90_0000));
        assert_eq!(parse_int("1048576\n", Radix::Decimal), Ok(1 << 20));
        assert_eq!(parse_int("10", Radix::Hex), Ok(16));
    }

    #[test]
    fn malformed_numbers_are_explained() {
        assert_eq!(parse_int("  \n", Radix::Hex), Err("expected a number, found ``".to_string()));
        assert_eq!(parse_int("0x", Radix::Hex), Err("expected a number, found `0x`".to_string()));
        let err = parse_int("1e9", Radix::Decimal).unwrap_err();
        assert!(err.starts_with("`1e9` is not a decimal number"), "{err}");
        let err = parse_int("0xfffffffffffffffff", Radix::Hex).unwrap_err();
        assert!(err.starts_with("`0xfffffffffffffffff` is not a hex number"), "{err}");
    }
}
