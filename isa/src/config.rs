//! `AccelConfig`: the one description of an accelerator instance that the generator,
//! compiler, simulators and driver all read.
//!
//! Configs are TOML files (`configs/*.toml`). Unknown keys are rejected by the parser
//! and every semantic check names the offending field, so a typo never silently
//! falls back to a default.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Built-in configs, embedded so the CLI works without a checkout of `configs/`.
pub const BUILTIN_CONFIGS: [(&str, &str); 6] = [
    ("tiny", include_str!("../../configs/tiny.toml")),
    ("tiny-sparse", include_str!("../../configs/tiny-sparse.toml")),
    ("pynq-z2", include_str!("../../configs/pynq-z2.toml")),
    ("pynq-z2-sparse", include_str!("../../configs/pynq-z2-sparse.toml")),
    ("pynq-z2-resident", include_str!("../../configs/pynq-z2-resident.toml")),
    ("zcu104", include_str!("../../configs/zcu104.toml")),
];

/// Largest array edge: lane counts are 8-bit fields in the ISA.
pub const MAX_ARRAY_EDGE: u32 = 128;
/// SRAM addresses are 16-bit fields in the ISA.
pub const MAX_SRAM_ENTRIES: u32 = 1 << 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccelConfig {
    /// Short identifier used in reports, file names and the generated manifest.
    pub name: String,
    /// Fabric clock of the accelerator in MHz (converts DDR figures to cycles).
    pub clock_mhz: f64,
    pub array: ArrayConfig,
    pub memory: MemoryConfig,
    #[serde(default)]
    pub control: ControlConfig,
    pub axi: AxiConfig,
    pub ddr: DdrConfig,
    #[serde(default)]
    pub sparse: SparseConfig,
}

/// The systolic array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayConfig {
    /// PE rows = reduction (K) lanes: an input-buffer entry holds `rows` operands.
    pub rows: u32,
    /// PE columns = output (N) lanes: weight and accumulator entries hold `cols` lanes.
    pub cols: u32,
    /// Operand width in bits: 8 (int8/uint8) or 4 (int4/uint4, two per byte).
    pub operand_bits: u32,
    /// Accumulator width in bits (16..=32); sums wrap at this width.
    pub acc_bits: u32,
}

/// On-chip memories, sized in entries (one entry = one vector of lanes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// Input (activation) buffer entries, each `rows` operands.
    pub ibuf_entries: u32,
    /// Weight buffer entries, each `cols` operands; a weight tile is `rows` entries.
    pub wbuf_entries: u32,
    /// Accumulator entries, each `cols` lanes of `acc_bits`.
    pub acc_entries: u32,
    /// Requantization parameter entries, each `cols` lanes of (bias, multiplier, shift).
    pub pbuf_entries: u32,
    /// Build the accumulator from UltraRAM (`ram_style = "ultra"`): UltraScale+ parts
    /// only (ZCU104, Kria), where it frees the block RAM the buffers need. Changes
    /// the RTL, not the programs.
    #[serde(default)]
    pub ultraram: bool,
}

/// Controller queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Depth of each of the load / compute / store instruction queues.
    #[serde(default = "default_queue_depth")]
    pub queue_depth: u32,
    /// Capacity of each of the four dependency-token FIFOs.
    #[serde(default = "default_token_depth")]
    pub token_depth: u32,
}

fn default_queue_depth() -> u32 {
    16
}
fn default_token_depth() -> u32 {
    8
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self { queue_depth: default_queue_depth(), token_depth: default_token_depth() }
    }
}

/// The AXI4 master port towards DDR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxiConfig {
    /// Data bus width in bits (32, 64, 128, 256 or 512).
    pub data_bits: u32,
    /// Address width in bits (32..=64).
    pub addr_bits: u32,
    /// Longest burst in beats (a power of two, 1..=256; Zynq-7000 HP ports take 16).
    pub max_burst_beats: u32,
    /// Outstanding read bursts the DMA may issue before the first returns.
    pub max_outstanding: u32,
}

/// The DDR model the simulators use, in board terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdrConfig {
    /// Sustained bandwidth available to the accelerator's port, MB/s.
    pub bandwidth_mb_s: f64,
    /// Latency from read address to first data beat, ns.
    pub read_latency_ns: f64,
    /// Latency from last write beat to write response, ns.
    pub write_latency_ns: f64,
}

/// Sparse features (the hardware for them is selected here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseConfig {
    /// N:M structured patterns the systolic PEs support, e.g. `["2:4", "1:4"]`.
    #[serde(default)]
    pub nm: Vec<NmPattern>,
    /// The unstructured sparse-matrix engine, if present.
    #[serde(default)]
    pub engine: Option<SparseEngineConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseEngineConfig {
    /// Processing elements working on nonzeros in parallel: one per weight-buffer
    /// column pair (`array.cols / 2`), whose 16 bits hold one nonzero item.
    pub pes: u32,
    /// Most activations (weight-matrix columns) one `SPMV` reads: the depth of each
    /// PE's copy of the activation vector and of its column counts.
    pub max_k: u32,
    /// Most output channels one `SPMV` computes: each PE keeps `max_n / pes` partial
    /// sums (at most 128, so that a column's count fits a byte).
    pub max_n: u32,
}

impl SparseEngineConfig {
    /// Accumulator entries one `SPMV` may write at most (`max_n / cols`).
    pub fn max_out_entries(&self, cols: u32) -> u32 {
        self.max_n / cols
    }
}

/// N nonzeros in every group of M consecutive weights along K.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NmPattern {
    pub n: u32,
    pub m: u32,
}

impl fmt::Display for NmPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.n, self.m)
    }
}

impl std::str::FromStr for NmPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, m) = s.split_once(':').ok_or_else(|| format!("`{s}` is not of the form N:M"))?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("`{s}` is not of the form N:M"));
        Ok(NmPattern { n: parse(n)?, m: parse(m)? })
    }
}

impl Serialize for NmPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NmPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One semantic problem with a config, naming the field as it is spelled in TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: cannot read config: {source}")]
    Io { origin: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: invalid config:\n{}", list_problems(.problems))]
    Invalid { origin: String, problems: Vec<FieldProblem> },
    #[error("unknown built-in config `{0}` (built-ins: {names})", names = builtin_names())]
    UnknownBuiltin(String),
}

fn builtin_names() -> String {
    BUILTIN_CONFIGS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

fn list_problems(problems: &[FieldProblem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

impl AccelConfig {
    /// Parses and validates TOML text; `origin` (a path or a name) prefixes every error.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: AccelConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { origin: origin.to_string(), message: e.to_string() })?;
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid { origin: origin.to_string(), problems })
        }
    }

    /// Reads, parses and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { origin: origin.clone(), source })?;
        Self::from_toml_str(&text, &origin)
    }

    /// One of the configs shipped in `configs/`, by name.
    pub fn builtin(name: &str) -> Result<Self, ConfigError> {
        let (_, text) = BUILTIN_CONFIGS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ConfigError::UnknownBuiltin(name.to_string()))?;
        Self::from_toml_str(text, &format!("built-in config `{name}`"))
    }

    /// A path to a TOML file, or the name of a built-in config when no such file exists.
    pub fn load(spec: &str) -> Result<Self, ConfigError> {
        let path = Path::new(spec);
        if path.exists() || spec.ends_with(".toml") {
            Self::from_file(path)
        } else {
            Self::builtin(spec)
        }
    }

    /// Every semantic problem, each naming its field; empty when the config is valid.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut p = Problems::default();
        let a = &self.array;
        let m = &self.memory;

        p.check(
            !self.name.is_empty() && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "name",
            "must be non-empty and use only letters, digits, '-' and '_'",
        );
        p.check(
            self.clock_mhz.is_finite() && self.clock_mhz > 0.0 && self.clock_mhz <= 2000.0,
            "clock_mhz",
            "must be in (0, 2000]",
        );

        for (field, v) in [("array.rows", a.rows), ("array.cols", a.cols)] {
            p.check((1..=MAX_ARRAY_EDGE).contains(&v), field, &format!("must be in 1..={MAX_ARRAY_EDGE}, got {v}"));
        }
        p.check(
            matches!(a.operand_bits, 4 | 8),
            "array.operand_bits",
            &format!("must be 8 or 4, got {}", a.operand_bits),
        );
        if a.operand_bits == 4 {
            for (field, v) in [("array.rows", a.rows), ("array.cols", a.cols)] {
                p.check(v % 2 == 0, field, "must be even with 4-bit operands (two operands per byte)");
            }
        }
        p.check((16..=32).contains(&a.acc_bits), "array.acc_bits", &format!("must be in 16..=32, got {}", a.acc_bits));

        for (field, v, min) in [
            ("memory.ibuf_entries", m.ibuf_entries, 1),
            ("memory.wbuf_entries", m.wbuf_entries, a.rows.max(1)),
            ("memory.acc_entries", m.acc_entries, 1),
            ("memory.pbuf_entries", m.pbuf_entries, 1),
        ] {
            p.check(
                (min..=MAX_SRAM_ENTRIES).contains(&v),
                field,
                &format!(
                    "must be in {min}..={MAX_SRAM_ENTRIES} (16-bit addresses; weights need one {}-entry tile), got {v}",
                    a.rows
                ),
            );
        }

        let c = &self.control;
        p.check(
            (1..=1024).contains(&c.queue_depth),
            "control.queue_depth",
            &format!("must be in 1..=1024, got {}", c.queue_depth),
        );
        p.check(
            (1..=255).contains(&c.token_depth),
            "control.token_depth",
            &format!("must be in 1..=255, got {}", c.token_depth),
        );

        let x = &self.axi;
        p.check(
            matches!(x.data_bits, 32 | 64 | 128 | 256 | 512),
            "axi.data_bits",
            &format!("must be 32, 64, 128, 256 or 512, got {}", x.data_bits),
        );
        p.check((32..=64).contains(&x.addr_bits), "axi.addr_bits", &format!("must be in 32..=64, got {}", x.addr_bits));
        p.check(
            x.max_burst_beats.is_power_of_two() && x.max_burst_beats <= 256,
            "axi.max_burst_beats",
            &format!("must be a power of two in 1..=256, got {}", x.max_burst_beats),
        );
        p.check(
            (1..=64).contains(&x.max_outstanding),
            "axi.max_outstanding",
            &format!("must be in 1..=64, got {}", x.max_outstanding),
        );

        let d = &self.ddr;
        p.check(
            d.bandwidth_mb_s.is_finite() && d.bandwidth_mb_s > 0.0,
            "ddr.bandwidth_mb_s",
            "must be a positive number",
        );
        for (field, v) in [("ddr.read_latency_ns", d.read_latency_ns), ("ddr.write_latency_ns", d.write_latency_ns)] {
            p.check(v.is_finite() && v >= 0.0, field, "must be a non-negative number");
        }

        for (i, nm) in self.sparse.nm.iter().enumerate() {
            let field = format!("sparse.nm[{i}]");
            p.check(nm.m == 4 && matches!(nm.n, 1 | 2), &field, &format!("the array supports 1:4 and 2:4, got `{nm}`"));
            p.check(
                a.rows.is_multiple_of(nm.n.max(1)),
                &field,
                &format!("array.rows ({}) must be a multiple of N in `{nm}`", a.rows),
            );
        }
        if !self.sparse.nm.is_empty() {
            p.check(
                a.cols.is_multiple_of(2),
                "sparse.nm",
                &format!("N:M tiles index column pairs, so array.cols ({}) must be even", a.cols),
            );
            let banks = self.ibuf_banks();
            p.check(
                m.ibuf_entries.is_multiple_of(banks),
                "memory.ibuf_entries",
                &format!("must be a multiple of {banks}, the IBUF banks the sparse patterns read at once"),
            );
        }
        if let Some(e) = &self.sparse.engine {
            p.check(
                a.cols.is_multiple_of(2) && e.pes == a.cols / 2,
                "sparse.engine.pes",
                &format!("each PE owns a weight-buffer column pair, so it must be array.cols / 2, got {}", e.pes),
            );
            p.check(a.operand_bits == 8, "sparse.engine", "the engine's nonzero items hold 8-bit weights");
            p.check(
                a.rows.is_power_of_two(),
                "sparse.engine",
                &format!("array.rows ({}) must be a power of two (activation copies are read by bank)", a.rows),
            );
            p.check(
                e.max_k.is_power_of_two() && (a.rows.max(2)..=4096).contains(&e.max_k),
                "sparse.engine.max_k",
                &format!("must be a power of two in {}..=4096, got {}", a.rows.max(2), e.max_k),
            );
            p.check(
                e.max_n.is_multiple_of(a.cols.max(1)) && e.max_n >= a.cols && e.max_n / a.cols <= 64,
                "sparse.engine.max_n",
                &format!("must be a multiple of array.cols ({}) up to 64 times it, got {}", a.cols, e.max_n),
            );
        }
        p.0
    }

    /// Whether the array has the N:4 structured-sparse mode `n`.
    pub fn supports_nm(&self, n: u8) -> bool {
        self.sparse.nm.iter().any(|p| p.m == 4 && p.n == u32::from(n))
    }

    /// The N of every N:4 mode the array has, ascending (empty for a dense-only array).
    pub fn n_of_4_modes(&self) -> Vec<u8> {
        [1u8, 2].into_iter().filter(|&n| self.supports_nm(n)).collect()
    }

    /// The weight zero point an N:4 tile needs: zero once unsigned weights are biased
    /// to signed (the bias, 128 or 8 for int4, for unsigned weights; 0 for signed).
    pub fn nm_weight_zero(&self, w_unsigned: bool) -> i16 {
        if w_unsigned {
            1 << (self.array.operand_bits - 1)
        } else {
            0
        }
    }

    /// IBUF entries one array vector can span (the densest sparse pattern's 4 / N;
    /// 1 without N:M): the IBUF is built from this many banks read in parallel.
    pub fn ibuf_banks(&self) -> u32 {
        self.sparse.nm.iter().map(|p| p.m / p.n.max(1)).max().unwrap_or(1)
    }

    /// Dense multiply-accumulates the array can issue per cycle.
    pub fn peak_macs_per_cycle(&self) -> u64 {
        u64::from(self.array.rows) * u64::from(self.array.cols)
    }

    /// Dense peak in GOP/s (one MAC = two operations).
    pub fn peak_gops(&self) -> f64 {
        2.0 * self.peak_macs_per_cycle() as f64 * self.clock_mhz / 1000.0
    }

    /// Bytes the AXI port moves per beat.
    pub fn axi_bytes_per_beat(&self) -> u32 {
        self.axi.data_bits / 8
    }

    /// Sustained DDR bytes per accelerator cycle: the DDR bandwidth, capped by the port width.
    pub fn ddr_bytes_per_cycle(&self) -> f64 {
        (self.ddr.bandwidth_mb_s / self.clock_mhz).min(f64::from(self.axi_bytes_per_beat()))
    }

    /// DDR read latency in accelerator cycles (rounded up).
    pub fn ddr_read_latency_cycles(&self) -> u32 {
        (self.ddr.read_latency_ns * self.clock_mhz / 1000.0).ceil() as u32
    }

    /// DDR write-response latency in accelerator cycles (rounded up).
    pub fn ddr_write_latency_cycles(&self) -> u32 {
        (self.ddr.write_latency_ns * self.clock_mhz / 1000.0).ceil() as u32
    }

    /// Bytes one operand vector of `lanes` occupies in DDR and in SRAM.
    pub fn operand_bytes(&self, lanes: u32) -> u32 {
        (lanes * self.array.operand_bits).div_ceil(8)
    }

    /// Capacity of the on-chip memories in bytes: (ibuf, wbuf, acc, pbuf).
    pub fn sram_bytes(&self) -> SramBytes {
        let (a, m) = (&self.array, &self.memory);
        SramBytes {
            ibuf: u64::from(m.ibuf_entries) * u64::from(self.operand_bytes(a.rows)),
            wbuf: u64::from(m.wbuf_entries) * u64::from(self.operand_bytes(a.cols)),
            acc: u64::from(m.acc_entries) * u64::from(a.cols) * u64::from(a.acc_bits).div_ceil(8),
            pbuf: u64::from(m.pbuf_entries) * u64::from(a.cols) * u64::from(crate::isa::PARAM_LANE_BYTES),
        }
    }

    /// The fields a compiled program depends on, in a fixed order. Two configs with the
    /// same canonical form run the same programs; the hardware exposes its fingerprint.
    pub fn canonical(&self) -> String {
        let (a, m, c, s) = (&self.array, &self.memory, &self.control, &self.sparse);
        let nm: Vec<String> = s.nm.iter().map(|p| p.to_string()).collect();
        let engine =
            s.engine.as_ref().map(|e| format!("{}x{}x{}", e.pes, e.max_k, e.max_n)).unwrap_or_else(|| "none".into());
        format!(
            "isa={};array={}x{}x{}b/acc{};mem={},{},{},{};queues={},{};nm={};engine={}",
            crate::isa::ISA_VERSION,
            a.rows,
            a.cols,
            a.operand_bits,
            a.acc_bits,
            m.ibuf_entries,
            m.wbuf_entries,
            m.acc_entries,
            m.pbuf_entries,
            c.queue_depth,
            c.token_depth,
            nm.join("+"),
            engine
        )
    }

    /// 32-bit FNV-1a hash of [`AccelConfig::canonical`], readable from the `CFG_HASH` register.
    pub fn fingerprint(&self) -> u32 {
        fnv1a(self.canonical().as_bytes())
    }

    /// The config as TOML text (what `tessera info` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("AccelConfig always serializes")
    }
}

/// 32-bit FNV-1a: the config fingerprint's hash, and a short checksum of any bytes.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// On-chip memory capacities in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SramBytes {
    pub ibuf: u64,
    pub wbuf: u64,
    pub acc: u64,
    pub pbuf: u64,
}

impl SramBytes {
    pub fn total(&self) -> u64 {
        self.ibuf + self.wbuf + self.acc + self.pbuf
    }
}

#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn check(&mut self, ok: bool, field: &str, reason: &str) {
        if !ok {
            self.0.push(FieldProblem { field: field.to_string(), reason: reason.to_string() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_are_valid() {
        for (name, _) in BUILTIN_CONFIGS {
            let cfg = AccelConfig::builtin(name).unwrap();
            assert_eq!(cfg.name, name);
        }
    }

    #[test]
    fn pynq_z2_peak_and_ddr_figures() {
        let cfg = AccelConfig::builtin("pynq-z2").unwrap();
        assert_eq!(cfg.peak_macs_per_cycle(), u64::from(cfg.array.rows * cfg.array.cols));
        // 64-bit HP port at 100 MHz caps the DDR at 8 bytes per cycle.
        assert_eq!(cfg.ddr_bytes_per_cycle(), 8.0);
    }

    fn tiny_with(edit: impl FnOnce(&mut AccelConfig)) -> Vec<FieldProblem> {
        let mut cfg = AccelConfig::builtin("tiny").unwrap();
        edit(&mut cfg);
        cfg.problems()
    }

    fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn each_invalid_field_is_named() {
        assert_eq!(fields(&tiny_with(|c| c.array.rows = 0)), ["array.rows"]);
        assert_eq!(fields(&tiny_with(|c| c.array.cols = 129)), ["array.cols"]);
        assert_eq!(fields(&tiny_with(|c| c.array.operand_bits = 6)), ["array.operand_bits"]);
        assert_eq!(fields(&tiny_with(|c| c.array.acc_bits = 40)), ["array.acc_bits"]);
        assert_eq!(fields(&tiny_with(|c| c.memory.ibuf_entries = 70_000)), ["memory.ibuf_entries"]);
        assert_eq!(fields(&tiny_with(|c| c.memory.wbuf_entries = 2)), ["memory.wbuf_entries"]);
        assert_eq!(fields(&tiny_with(|c| c.control.token_depth = 0)), ["control.token_depth"]);
        assert_eq!(fields(&tiny_with(|c| c.axi.data_bits = 48)), ["axi.data_bits"]);
        assert_eq!(fields(&tiny_with(|c| c.axi.max_burst_beats = 12)), ["axi.max_burst_beats"]);
        assert_eq!(fields(&tiny_with(|c| c.ddr.bandwidth_mb_s = -1.0)), ["ddr.bandwidth_mb_s"]);
        assert_eq!(fields(&tiny_with(|c| c.name = "a b".into())), ["name"]);
        assert_eq!(fields(&tiny_with(|c| c.sparse.nm = vec![NmPattern { n: 4, m: 4 }])), ["sparse.nm[0]"]);
        assert_eq!(fields(&tiny_with(|c| c.sparse.nm = vec![NmPattern { n: 2, m: 8 }])), ["sparse.nm[0]"]);
        assert_eq!(
            fields(&tiny_with(|c| {
                c.sparse.nm = vec![NmPattern { n: 1, m: 4 }];
                c.memory.ibuf_entries = 510;
            })),
            ["memory.ibuf_entries"]
        );
        assert_eq!(
            fields(&tiny_with(|c| {
                c.array.operand_bits = 4;
                c.array.rows = 3;
            })),
            ["array.rows"]
        );
    }

    #[test]
    fn parse_errors_name_the_unknown_key_and_origin() {
        let text = AccelConfig::builtin("tiny").unwrap().to_toml().replace("rows =", "rowz =");
        let err = AccelConfig::from_toml_str(&text, "my.toml").unwrap_err().to_string();
        assert!(err.starts_with("my.toml:"), "{err}");
        assert!(err.contains("rowz"), "{err}");
    }

    #[test]
    fn invalid_config_error_lists_fields() {
        let text = AccelConfig::builtin("tiny").unwrap().to_toml().replace("operand_bits = 8", "operand_bits = 5");
        let err = AccelConfig::from_toml_str(&text, "cfg.toml").unwrap_err().to_string();
        assert!(err.contains("cfg.toml") && err.contains("array.operand_bits") && err.contains("got 5"), "{err}");
    }

    #[test]
    fn toml_round_trip_and_fingerprint() {
        for (name, _) in BUILTIN_CONFIGS {
            let cfg = AccelConfig::builtin(name).unwrap();
            let again = AccelConfig::from_toml_str(&cfg.to_toml(), "round-trip").unwrap();
            assert_eq!(cfg, again);
            assert_eq!(cfg.fingerprint(), again.fingerprint());
        }
        let tiny = AccelConfig::builtin("tiny").unwrap();
        let mut other = tiny.clone();
        other.memory.acc_entries += 1;
        assert_ne!(tiny.fingerprint(), other.fingerprint());
        // Names, clocks and the DDR model do not change what programs run.
        other = tiny.clone();
        other.name = "renamed".into();
        other.clock_mhz *= 2.0;
        assert_eq!(tiny.fingerprint(), other.fingerprint());
    }

    #[test]
    fn nm_pattern_parses() {
        assert_eq!("2:4".parse::<NmPattern>().unwrap(), NmPattern { n: 2, m: 4 });
        assert!("2-4".parse::<NmPattern>().is_err());
        assert!("x:4".parse::<NmPattern>().is_err());
    }
}
