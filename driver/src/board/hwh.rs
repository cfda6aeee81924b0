//! The Vivado hardware handoff (`.hwh`) exported next to a `.bit`: where the
//! accelerator's registers are and which PS interrupt it drives.
//!
//! The `.hwh` is XML. Each IP is a `MODULE` (`INSTANCE`, `MODTYPE`); the masters'
//! `MEMORYMAP`s hold a `MEMRANGE` per slave (`INSTANCE`, `BASEVALUE`,
//! `HIGHVALUE`). The interrupt is found from the processing system's side: its
//! `IRQ_F2P` (Zynq-7000) or `pl_ps_irq0/1` (Zynq UltraScale+) `PORT` lists its
//! `CONNECTION`s, directly to the accelerator or to an `xlconcat` whose `InK`
//! inputs stack up from bit 0.

use super::sysfs::{parse_int, Radix};
use super::BoardError;
use roxmltree::{Document, Node};
use std::path::Path;

/// The accelerator as the block design placed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelInfo {
    pub instance: String,
    pub modtype: String,
    /// First register address (`BASEVALUE`).
    pub base: u64,
    /// Last register address (`HIGHVALUE`).
    pub high: u64,
    /// Its interrupt, when wired to the PS.
    pub irq: Option<IrqLine>,
}

impl AccelInfo {
    /// Bytes of address space.
    pub fn range(&self) -> u64 {
        self.high - self.base + 1
    }
}

/// One bit of a PS interrupt input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrqLine {
    /// The PS port: `IRQ_F2P`, `pl_ps_irq0` or `pl_ps_irq1`.
    pub port: String,
    /// The bit of that port.
    pub bit: u32,
    /// The GIC shared peripheral interrupt number a device-tree `interrupts`
    /// property names (`<0 SPI 4>`), when the PS is a known one.
    pub gic_spi: Option<u32>,
}

/// PS modules and their PL-to-PS interrupt ports, with the GIC SPI of bit 0 of
/// each group of eight (Zynq-7000 TRM: IRQ IDs 61-68 and 84-91; Zynq UltraScale+
/// TRM: 121-128 and 136-143; SPI = ID - 32).
const PS_IRQ_PORTS: [(&str, &str, [u32; 2]); 3] = [
    ("processing_system7", "IRQ_F2P", [29, 52]),
    ("zynq_ultra_ps_e", "pl_ps_irq0", [89, 89]),
    ("zynq_ultra_ps_e", "pl_ps_irq1", [104, 104]),
];

fn gic_spi(modtype: &str, port: &str, bit: u32) -> Option<u32> {
    let (_, _, groups) = PS_IRQ_PORTS.iter().find(|(m, p, _)| *m == modtype && *p == port)?;
    match (port, bit) {
        ("IRQ_F2P", 0..=7) => Some(groups[0] + bit),
        ("IRQ_F2P", 8..=15) => Some(groups[1] + bit - 8),
        (_, 0..=7) => Some(groups[0] + bit),
        _ => None,
    }
}

fn modules<'a, 'i>(doc: &'a Document<'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    doc.descendants().filter(|n| n.has_tag_name("MODULE"))
}

/// Reads `path` and finds the accelerator called `name` (an `INSTANCE`, or the
/// `MODTYPE` of exactly one module).
pub fn read(path: &Path, name: &str) -> Result<AccelInfo, BoardError> {
    let text = std::fs::read_to_string(path).map_err(|e| BoardError::io(path, "read", e))?;
    parse(&text, path, name)
}

/// [`read`] on text already read; `path` is for messages.
pub fn parse(text: &str, path: &Path, name: &str) -> Result<AccelInfo, BoardError> {
    let doc = Document::parse(text).map_err(|e| BoardError::field(path, "XML", e.to_string()))?;
    let by_instance: Vec<Node> = modules(&doc).filter(|m| m.attribute("INSTANCE") == Some(name)).collect();
    let by_type: Vec<Node> = modules(&doc).filter(|m| m.attribute("MODTYPE") == Some(name)).collect();
    let module = match (by_instance.as_slice(), by_type.as_slice()) {
        ([m], _) | ([], [m]) => *m,
        ([], []) => {
            let all: Vec<String> = modules(&doc)
                .map(|m| {
                    format!("{} ({})", m.attribute("INSTANCE").unwrap_or("?"), m.attribute("MODTYPE").unwrap_or("?"))
                })
                .collect();
            let message = format!("no MODULE with INSTANCE or MODTYPE `{name}`; the design has: {}", all.join(", "));
            return Err(BoardError::field(path, "MODULE", message));
        }
        (_, several) => {
            let names: Vec<&str> = several.iter().filter_map(|m| m.attribute("INSTANCE")).collect();
            let message = format!("several MODULEs of MODTYPE `{name}` ({}): name one by INSTANCE", names.join(", "));
            return Err(BoardError::field(path, "MODULE", message));
        }
    };
    let field = |what: &str| format!("MODULE `{name}`: {what}");
    let instance =
        module.attribute("INSTANCE").ok_or_else(|| BoardError::field(path, &field("INSTANCE"), "missing"))?;
    let modtype = module.attribute("MODTYPE").unwrap_or_default().to_string();

    let ranges: Vec<Node> =
        doc.descendants().filter(|n| n.has_tag_name("MEMRANGE") && n.attribute("INSTANCE") == Some(instance)).collect();
    let range =
        ranges.iter().find(|r| r.attribute("MEMTYPE") == Some("REGISTER")).or(ranges.first()).ok_or_else(|| {
            BoardError::field(path, &format!("MEMRANGE of `{instance}`"), "none: the accelerator has no address")
        })?;
    let address = |attr: &str| {
        let what = format!("MEMRANGE of `{instance}`: {attr}");
        let text = range.attribute(attr).ok_or_else(|| BoardError::field(path, &what, "missing"))?;
        parse_int(text, Radix::Hex).map_err(|m| BoardError::field(path, &what, m))
    };
    let (base, high) = (address("BASEVALUE")?, address("HIGHVALUE")?);
    if high < base {
        let message = format!("HIGHVALUE {high:#x} lies below BASEVALUE {base:#x}");
        return Err(BoardError::field(path, &format!("MEMRANGE of `{instance}`"), message));
    }
    let irq = find_irq(&doc, path, instance)?;
    Ok(AccelInfo { instance: instance.to_string(), modtype, base, high, irq })
}

/// The PS interrupt bit `instance` drives, directly or through an `xlconcat`.
fn find_irq(doc: &Document, path: &Path, instance: &str) -> Result<Option<IrqLine>, BoardError> {
    for ps in modules(doc) {
        let ps_type = ps.attribute("MODTYPE").unwrap_or_default();
        for port in ps.descendants().filter(|n| n.has_tag_name("PORT")) {
            let port_name = port.attribute("NAME").unwrap_or_default();
            if !PS_IRQ_PORTS.iter().any(|(m, p, _)| *m == ps_type && *p == port_name) {
                continue;
            }
            for conn in port.descendants().filter(|n| n.has_tag_name("CONNECTION")) {
                let source = conn.attribute("INSTANCE").unwrap_or_default();
                let bit = if source == instance { Some(0) } else { concat_bit(doc, path, source, instance)? };
                if let Some(bit) = bit {
                    let gic_spi = gic_spi(ps_type, port_name, bit);
                    return Ok(Some(IrqLine { port: port_name.to_string(), bit, gic_spi }));
                }
            }
        }
    }
    Ok(None)
}

/// The output bit of concat module `concat` that `instance` drives, if it is an
/// `xlconcat` fed by it: the widths of the `InK` inputs before it add up.
fn concat_bit(doc: &Document, path: &Path, concat: &str, instance: &str) -> Result<Option<u32>, BoardError> {
    let Some(module) =
        modules(doc).find(|m| m.attribute("INSTANCE") == Some(concat) && m.attribute("MODTYPE") == Some("xlconcat"))
    else {
        return Ok(None);
    };
    let mut inputs: Vec<(u32, Node)> = module
        .descendants()
        .filter(|n| n.has_tag_name("PORT"))
        .filter_map(|p| Some((p.attribute("NAME")?.strip_prefix("In")?.parse().ok()?, p)))
        .collect();
    inputs.sort_by_key(|(k, _)| *k);
    let mut bit = 0u32;
    for (k, port) in inputs {
        let width = |attr: &str| -> Result<u32, BoardError> {
            let what = format!("MODULE `{concat}`: PORT In{k}: {attr}");
            let text = port.attribute(attr).unwrap_or("0");
            let v = parse_int(text, Radix::Decimal).map_err(|m| BoardError::field(path, &what, m))?;
            u32::try_from(v).map_err(|_| BoardError::field(path, &what, "too large"))
        };
        let (left, right) = (width("LEFT")?, width("RIGHT")?);
        let drives =
            port.descendants().any(|c| c.has_tag_name("CONNECTION") && c.attribute("INSTANCE") == Some(instance));
        if drives {
            return Ok(Some(bit));
        }
        bit += left.abs_diff(right) + 1;
    }
    Ok(None)
}
