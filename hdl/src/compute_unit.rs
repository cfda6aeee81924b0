//! The compute queue's unit: GEMMs on the systolic array with the accumulator
//! read-modify-write, ALU operations, and LOADs into the accumulator and the
//! parameter buffer.
//!
//! GEMMs are pipelined back to back: the next GEMM's weights go into the array's
//! shadow registers while the previous tile's vectors are still in the array (the
//! new tile's first vector switches each PE over), and each vector's
//! accumulator address travels beside it through the array's latency. ALU ops and
//! LOADs wait for the array to drain, so instructions complete (and give their
//! tokens) in program order.
//!
//! LOADs into the accumulator convert each entry's lanes (int8, uint8, int32, or
//! `lut8`: a lookup in `cols` copies of the 256-entry TABLE, one read port per lane)
//! and write them one cycle later, combined with the entry read from ACC port A
//! meanwhile (overwrite, add or max). A TABLE instruction fills the copies a word
//! per cycle through the same load engine.
//!
//! N:4 sparse tiles (`docs/sparse.md`) are loaded in blocks of eight rows: a
//! metadata entry, whose 2-bit lane indices are shifted out per pair as the block's
//! value rows are written; streaming starts once the metadata entries are read.
//! Their vectors are `4 / N` IBUF entries, read from the IBUF's banks at once and
//! routed onto the array's lanes by [`VectorRoute`].

use crate::accumulator::Accumulator;
use crate::alu::{AluLane, ALU_LATENCY};
use crate::array::SystolicArray;
use crate::controller::QueueEntry;
use crate::decode::{AluFields, GemmFields, HeaderFields, LoadFields, SpmvFields};
use crate::delay::Delay;
use crate::dff_en::DffEn;
use crate::load_engine::LoadEngine;
use crate::operand::OperandExt;
use crate::ram::{RamStyle, SyncRam};
use crate::sparse_engine::SparseEngine;
use crate::token_gate::TokenGate;
use crate::vec_of;
use crate::vector_route::VectorRoute;
use crate::widen::Widen;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{PARAM_LANE_BYTES, TABLE_ENTRIES};
use tessera_isa::regs::ErrorCode;

// Side-band bits travelling with each vector.
const SB_VALID: usize = 0;
const SB_ACCUMULATE: usize = 1;
const SB_LAST: usize = 2;
const SB_PUSH_PREV: usize = 3;
const SB_PUSH_NEXT: usize = 4;
const SB_ADDR: usize = 16;

#[derive(LogicBlock)]
pub struct ComputeUnit {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub halt: Signal<In, Bit>,
    pub head_valid: Signal<In, Bit>,
    pub head: Signal<In, QueueEntry>,
    pub pop: Signal<Out, Bit>,
    /// Tokens from load (prev) and store (next) waiting; tokens given to them not yet taken.
    pub avail_prev: Signal<In, Bits<8>>,
    pub avail_next: Signal<In, Bits<8>>,
    pub given_prev: Signal<In, Bits<8>>,
    pub given_next: Signal<In, Bits<8>>,
    pub take_prev: Signal<Out, Bit>,
    pub take_next: Signal<Out, Bit>,
    pub give_prev: Signal<Out, Bit>,
    pub give_next: Signal<Out, Bit>,
    pub dram_base: Signal<In, Bits<64>>,
    pub dram_size: Signal<In, Bits<32>>,
    pub ar_valid: Signal<Out, Bit>,
    pub ar_ready: Signal<In, Bit>,
    pub ar_addr: Signal<Out, Bits<64>>,
    pub ar_len: Signal<Out, Bits<8>>,
    pub r_valid: Signal<In, Bit>,
    pub r_data: Vec<Signal<In, Bits<8>>>,
    pub r_resp: Signal<In, Bits<2>>,
    pub r_last: Signal<In, Bit>,
    // Input and weight buffer read ports.
    pub ibuf_raddr: Signal<Out, Bits<16>>,
    pub ibuf_rdata: Vec<Signal<In, Bits<8>>>,
    /// A read address per weight-buffer column (the sparse engine reads each
    /// column pair on its own; everything else reads whole entries).
    pub wbuf_raddr: Vec<Signal<Out, Bits<16>>>,
    pub wbuf_rdata: Vec<Signal<In, Bits<8>>>,
    // Accumulator read port for the store unit.
    pub store_ren: Signal<In, Bit>,
    pub store_raddr: Signal<In, Bits<16>>,
    pub store_grant: Signal<Out, Bit>,
    pub store_rdata: Vec<Signal<Out, Bits<32>>>,
    // Parameter buffer write port.
    pub pbuf_we: Signal<Out, Bit>,
    pub pbuf_waddr: Signal<Out, Bits<16>>,
    pub pbuf_bias: Vec<Signal<Out, Bits<32>>>,
    pub pbuf_mult: Vec<Signal<Out, Bits<32>>>,
    pub pbuf_shift: Vec<Signal<Out, Bits<8>>>,
    // Status and counter events.
    pub idle: Signal<Out, Bit>,
    pub blocked: Signal<Out, Bit>,
    pub error: Signal<Out, Bit>,
    pub error_code: Signal<Out, Bits<8>>,
    pub error_pc: Signal<Out, Bits<32>>,
    pub retired: Signal<Out, Bit>,
    pub dma_wait: Signal<Out, Bit>,
    pub read_bytes: Signal<Out, Bits<16>>,
    pub vector_issued: Signal<Out, Bit>,
    pub macs: Signal<Out, Bits<32>>,

    gate: TokenGate,
    hdr: HeaderFields,
    ld: LoadFields,
    gm: GemmFields,
    al: AluFields,
    sp: SpmvFields,
    engine: LoadEngine,
    spmv: SparseEngine,
    array: SystolicArray,
    route: VectorRoute,
    acc: Accumulator,
    a_ext: Vec<OperandExt>,
    w_ext: Vec<OperandExt>,
    side: Delay<Bits<32>>,
    alu: Vec<AluLane>,
    alu_group_delay: Delay<Bits<16>>,
    byte_wide: Vec<Widen<32, 8>>,

    pc: DFF<Bits<32>>,
    push_prev_q: DFF<Bit>,
    push_next_q: DFF<Bit>,
    err_pulse: DFF<Bit>,
    err_code: DFF<Bits<8>>,
    err_pc: DFF<Bits<32>>,
    inflight: DFF<Bits<16>>,
    // GEMM issue stage.
    g_active: DFF<Bit>,
    g_wait_tile: DFF<Bit>,
    g_reuse: DffEn<Bit>,
    g_accumulate: DffEn<Bit>,
    g_a_unsigned: DffEn<Bit>,
    g_a_zero: DffEn<Bits<16>>,
    g_w_unsigned: DffEn<Bit>,
    g_w_zero: DffEn<Bits<16>>,
    g_wbuf: DffEn<Bits<16>>,
    g_outer: DffEn<Bits<16>>,
    g_inner: DffEn<Bits<16>>,
    g_ib_os: DffEn<Bits<16>>,
    g_ib_is: DffEn<Bits<16>>,
    g_ac_os: DffEn<Bits<16>>,
    g_ac_is: DffEn<Bits<16>>,
    g_o: DFF<Bits<16>>,
    g_i: DFF<Bits<16>>,
    g_ib_row: DFF<Bits<32>>,
    g_ib_cur: DFF<Bits<32>>,
    g_ac_row: DFF<Bits<32>>,
    g_ac_cur: DFF<Bits<32>>,
    g_streaming: DFF<Bit>,
    g_marker: DFF<Bit>,
    g_nm: DffEn<Bits<2>>,
    /// Cycles left before a sparse tile's vectors may stream (its metadata reads).
    g_hold: DFF<Bits<8>>,
    // Weight loading into the array.
    w_loading: DFF<Bit>,
    w_row: DFF<Bits<16>>,
    /// Weight-buffer entry offset of the next read (rows plus metadata entries).
    w_rd: DFF<Bits<16>>,
    /// The next read is a metadata entry; the entry arriving now is one.
    w_meta_next: DFF<Bit>,
    w_meta_q: DFF<Bit>,
    /// Per column pair: the current block's lane indices, two bits per row, next row
    /// lowest in `meta`; `meta_hi` holds the block's last four rows.
    meta: Vec<DFF<Bits<8>>>,
    meta_hi: Vec<DFF<Bits<8>>>,
    w_write: DFF<Bit>,
    w_write_row: DFF<Bits<8>>,
    w_write_unsigned: DFF<Bit>,
    w_write_zero: DFF<Bits<16>>,
    /// A tile was written into the array's shadow registers and no vector has
    /// switched to it yet: the next vector issued is marked `first`.
    shadow_fresh: DFF<Bit>,
    tile_valid: DFF<Bit>,
    tile_addr: DFF<Bits<16>>,
    tile_zero: DFF<Bits<16>>,
    tile_unsigned: DFF<Bit>,
    tile_nm: DFF<Bits<2>>,
    /// Cycles until the last `first` vector has made row 0 copy its shadow tile;
    /// the next tile waits for zero.
    shadow_busy: DFF<Bits<16>>,
    // Vector presentation stage (one cycle after the IBUF read).
    v_present: DFF<Bit>,
    v_side: DFF<Bits<32>>,
    v_first: DFF<Bit>,
    v_unsigned: DFF<Bit>,
    v_zero: DFF<Bits<16>>,
    v_bank: DFF<Bits<16>>,
    v_nm: DFF<Bits<2>>,
    // Read-modify-write stage.
    sb2: DFF<Bits<32>>,
    last_w_valid: DFF<Bit>,
    last_w_addr: DFF<Bits<16>>,
    last_w_data: Vec<DFF<Bits<32>>>,
    // ALU.
    alu_active: DFF<Bit>,
    alu_phase: DFF<Bits<4>>,
    alu_op: DFF<Bits<4>>,
    alu_imm: DFF<Bits<32>>,
    alu_use_imm: DFF<Bit>,
    alu_shift: DFF<Bits<8>>,
    alu_outer: DFF<Bits<16>>,
    alu_inner: DFF<Bits<16>>,
    alu_d_os: DFF<Bits<16>>,
    alu_d_is: DFF<Bits<16>>,
    alu_s_os: DFF<Bits<16>>,
    alu_s_is: DFF<Bits<16>>,
    alu_o: DFF<Bits<16>>,
    alu_i: DFF<Bits<16>>,
    alu_d_row: DFF<Bits<32>>,
    alu_d_cur: DFF<Bits<32>>,
    alu_s_row: DFF<Bits<32>>,
    alu_s_cur: DFF<Bits<32>>,
    alu_group: DFF<Bits<16>>,
    alu_dst: Vec<DFF<Bits<32>>>,
    alu_src: Vec<DFF<Bits<32>>>,
    alu_res: Vec<DFF<Bits<32>>>,
    ld_active: DFF<Bit>,
    /// The running LOAD's `combine`.
    ld_combine: DffEn<Bits<2>>,
    /// The lookup table, one copy per lane (each a read port), written together.
    lut: Vec<SyncRam<Bits<32>>>,
    /// TABLE: the next word of the offered entry, and the next table entry.
    tbl_word: DFF<Bits<8>>,
    tbl_addr: DFF<Bits<16>>,
    /// An ACC entry converted last cycle, written this cycle (after the ACC read
    /// and the table lookup): address and the lane values other than lut8.
    p_valid: DFF<Bit>,
    p_addr: DFF<Bits<16>>,
    p_val: Vec<DFF<Bits<32>>>,

    // Combinational.
    instr: Signal<Local, Bits<256>>,
    is_gemm: Signal<Local, Bit>,
    is_alu: Signal<Local, Bit>,
    is_load: Signal<Local, Bit>,
    is_spmv: Signal<Local, Bit>,
    is_table: Signal<Local, Bit>,
    start_spmv: Signal<Local, Bit>,
    wbuf_entry: Signal<Local, Bits<16>>,
    drained: Signal<Local, Bit>,
    gemm_ready: Signal<Local, Bit>,
    other_ready: Signal<Local, Bit>,
    start_gemm: Signal<Local, Bit>,
    start_alu: Signal<Local, Bit>,
    start_load: Signal<Local, Bit>,
    reuse_ok: Signal<Local, Bit>,
    no_iterations: Signal<Local, Bit>,
    target_busy: Signal<Local, Bit>,
    begin_tile: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    issue_last: Signal<Local, Bit>,
    issue_bad: Signal<Local, Bit>,
    side_out: Signal<Local, Bits<32>>,
    rmw_write: Signal<Local, Bit>,
    rmw_fwd: Signal<Local, Bit>,
    rmw_done: Signal<Local, Bit>,
    entry_in: Signal<Local, Bit>,
    acc_wr_en: Signal<Local, Bit>,
    acc_wr_addr: Signal<Local, Bits<16>>,
    acc_wr: Vec<Signal<Local, Bits<32>>>,
    sum: Vec<Signal<Local, Bits<32>>>,
    alu_read: Signal<Local, Bit>,
    alu_raddr: Signal<Local, Bits<16>>,
    alu_feed: Signal<Local, Bit>,
    alu_collect: Signal<Local, Bits<16>>,
    alu_collect_valid: Signal<Local, Bit>,
    rmw_ren: Signal<Local, Bit>,
    alu_collected_last: Signal<Local, Bit>,
    alu_write: Signal<Local, Bit>,
    alu_bad: Signal<Local, Bit>,
    ld_bytes: Vec<Signal<Local, Bits<32>>>,
    sext_byte: Vec<Signal<Local, Bits<32>>>,
    lane_value: Vec<Signal<Local, Bits<32>>>,
    pad32: Signal<Local, Bits<32>>,
    pad16: Signal<Local, Bits<16>>,
    acc_load: Signal<Local, Bit>,
    tbl_write: Signal<Local, Bit>,
    tbl_last_word: Signal<Local, Bit>,
    tbl_wdata: Signal<Local, Bits<32>>,
    /// Stage 1 of an ACC load: the lane value (wrapped to acc_bits) and the result.
    ld_value: Vec<Signal<Local, Bits<32>>>,
    ld_wrapped: Vec<Signal<Local, Bits<32>>>,
    ld_result: Vec<Signal<Local, Bits<32>>>,
    /// An adding load's cycle; the GEMM adder's operands.
    ld_add: Signal<Local, Bit>,
    addend: Vec<Signal<Local, Bits<32>>>,
    other: Vec<Signal<Local, Bits<32>>>,
    complete: Signal<Local, Bit>,

    ibuf_entries: Constant<Bits<32>>,
    acc_entries: Constant<Bits<32>>,
    macs_per_vector: Constant<Bits<32>>,
    shadow_hold: Constant<Bits<16>>,
    /// What unsigned weights are biased by to become signed (128, or 8 for int4).
    unsigned_bias: Constant<Bits<16>>,
    /// The bias of the weights being written: `unsigned_bias` or 0.
    w_bias: Signal<Local, Bits<16>>,
    rows_m1: Constant<Bits<16>>,
    /// Metadata entries of a sparse tile.
    meta_entries: Constant<Bits<8>>,
    banks_m1: Constant<Bits<16>>,
    acc_low_mask: Constant<Bits<32>>,
    acc_sign_bit: Constant<Bits<8>>,
    high24: Constant<Bits<32>>,
    alu_groups_m1: Constant<Bits<16>>,
    low15: Constant<Bits<16>>,
    sb_valid: Constant<Bits<8>>,
    sb_accumulate: Constant<Bits<8>>,
    sb_last: Constant<Bits<8>>,
    sb_push_prev: Constant<Bits<8>>,
    sb_push_next: Constant<Bits<8>>,
    sb_addr: Constant<Bits<8>>,
    one32: Constant<Bits<32>>,
    last_only: Constant<Bits<32>>,
    bit15: Constant<Bits<16>>,
    code_bad_field: Constant<Bits<8>>,
    code_weight_reuse: Constant<Bits<8>>,
    has_engine: Constant<Bit>,
    sign32: Constant<Bits<32>>,
    tbl_words_m1: Constant<Bits<8>>,
    _tbl_words: usize,
    _rows: usize,
    _cols: usize,
    _al: usize,
    _groups: usize,
    _b: usize,
    _entry_bytes: usize,
    _banks: usize,
    _lanes: usize,
    /// Column pairs with metadata registers (none in a dense-only array).
    _meta_pairs: usize,
    _array_pairs: usize,
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

impl ComputeUnit {
    pub fn new(cfg: &AccelConfig) -> Self {
        let (a, m) = (&cfg.array, &cfg.memory);
        let (rows, cols) = (a.rows as usize, a.cols as usize);
        let b = cfg.axi_bytes_per_beat() as usize;
        let four_bit = a.operand_bits == 4;
        // ALU lanes per cycle: two (each a 32x32 multiplier and a fixed-point
        // rounding datapath). Element-wise layers are bound by this, convolutions not;
        // see docs/hdl.md for the area trade-off.
        let al = [2usize, 1].into_iter().find(|d| cols.is_multiple_of(*d)).expect("1 divides everything");
        let entry_bytes = PARAM_LANE_BYTES as usize * cols;
        let latency = SystolicArray::latency(rows, cols);
        let n_of_4 = cfg.n_of_4_modes();
        let route = VectorRoute::new(rows, &n_of_4);
        let (banks, lanes) = (route.banks(), route.lane_count());
        let low_mask = if a.acc_bits == 32 { u64::from(u32::MAX) } else { (1u64 << a.acc_bits) - 1 };
        // A TABLE entry is one beat, taken a word at a time from the engine's entry.
        assert!(b <= entry_bytes, "a {b}-byte beat is wider than the {entry_bytes}-byte load entry");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            halt: Default::default(),
            head_valid: Default::default(),
            head: Default::default(),
            pop: Default::default(),
            avail_prev: Default::default(),
            avail_next: Default::default(),
            given_prev: Default::default(),
            given_next: Default::default(),
            take_prev: Default::default(),
            take_next: Default::default(),
            give_prev: Default::default(),
            give_next: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            ar_valid: Default::default(),
            ar_ready: Default::default(),
            ar_addr: Default::default(),
            ar_len: Default::default(),
            r_valid: Default::default(),
            r_data: vec_of(b),
            r_resp: Default::default(),
            r_last: Default::default(),
            ibuf_raddr: Default::default(),
            ibuf_rdata: vec_of(banks * rows),
            wbuf_raddr: vec_of(cols),
            wbuf_rdata: vec_of(cols),
            store_ren: Default::default(),
            store_raddr: Default::default(),
            store_grant: Default::default(),
            store_rdata: vec_of(cols),
            pbuf_we: Default::default(),
            pbuf_waddr: Default::default(),
            pbuf_bias: vec_of(cols),
            pbuf_mult: vec_of(cols),
            pbuf_shift: vec_of(cols),
            idle: Default::default(),
            blocked: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            error_pc: Default::default(),
            retired: Default::default(),
            dma_wait: Default::default(),
            read_bytes: Default::default(),
            vector_issued: Default::default(),
            macs: Default::default(),
            gate: TokenGate::new(cfg.control.token_depth),
            hdr: Default::default(),
            ld: Default::default(),
            gm: Default::default(),
            al: Default::default(),
            sp: Default::default(),
            spmv: SparseEngine::new(cfg),
            engine: LoadEngine::new(
                b,
                cfg.axi.max_burst_beats as usize,
                cfg.axi.max_outstanding as usize,
                [m.ibuf_entries, m.wbuf_entries, m.acc_entries, m.pbuf_entries],
                entry_bytes,
                four_bit,
            ),
            array: SystolicArray::new(rows, cols, lanes),
            route,
            acc: Accumulator::new(
                cols,
                m.acc_entries as usize,
                if m.ultraram { RamStyle::Ultra } else { RamStyle::Auto },
            ),
            a_ext: (0..banks * rows).map(|_| OperandExt::new(four_bit)).collect(),
            w_ext: (0..cols).map(|_| OperandExt::new(four_bit)).collect(),
            side: Delay::new(latency - 1),
            alu: vec_of(al),
            alu_group_delay: Delay::new(ALU_LATENCY),
            byte_wide: vec_of(entry_bytes),
            pc: Default::default(),
            push_prev_q: Default::default(),
            push_next_q: Default::default(),
            err_pulse: Default::default(),
            err_code: Default::default(),
            err_pc: Default::default(),
            inflight: Default::default(),
            g_active: Default::default(),
            g_wait_tile: Default::default(),
            g_reuse: Default::default(),
            g_accumulate: Default::default(),
            g_a_unsigned: Default::default(),
            g_a_zero: Default::default(),
            g_w_unsigned: Default::default(),
            g_w_zero: Default::default(),
            g_wbuf: Default::default(),
            g_outer: Default::default(),
            g_inner: Default::default(),
            g_ib_os: Default::default(),
            g_ib_is: Default::default(),
            g_ac_os: Default::default(),
            g_ac_is: Default::default(),
            g_o: Default::default(),
            g_i: Default::default(),
            g_ib_row: Default::default(),
            g_ib_cur: Default::default(),
            g_ac_row: Default::default(),
            g_ac_cur: Default::default(),
            g_streaming: Default::default(),
            g_marker: Default::default(),
            g_nm: Default::default(),
            g_hold: Default::default(),
            w_loading: Default::default(),
            w_row: Default::default(),
            w_rd: Default::default(),
            w_meta_next: Default::default(),
            w_meta_q: Default::default(),
            meta: vec_of(if n_of_4.is_empty() { 0 } else { cols / 2 }),
            meta_hi: vec_of(if n_of_4.is_empty() { 0 } else { cols / 2 }),
            w_write: Default::default(),
            w_write_row: Default::default(),
            w_write_unsigned: Default::default(),
            w_write_zero: Default::default(),
            shadow_fresh: Default::default(),
            tile_valid: Default::default(),
            tile_addr: Default::default(),
            tile_zero: Default::default(),
            tile_unsigned: Default::default(),
            tile_nm: Default::default(),
            shadow_busy: Default::default(),
            v_present: Default::default(),
            v_side: Default::default(),
            v_first: Default::default(),
            v_unsigned: Default::default(),
            v_zero: Default::default(),
            v_bank: Default::default(),
            v_nm: Default::default(),
            sb2: Default::default(),
            last_w_valid: Default::default(),
            last_w_addr: Default::default(),
            last_w_data: vec_of(cols),
            alu_active: Default::default(),
            alu_phase: Default::default(),
            alu_op: Default::default(),
            alu_imm: Default::default(),
            alu_use_imm: Default::default(),
            alu_shift: Default::default(),
            alu_outer: Default::default(),
            alu_inner: Default::default(),
            alu_d_os: Default::default(),
            alu_d_is: Default::default(),
            alu_s_os: Default::default(),
            alu_s_is: Default::default(),
            alu_o: Default::default(),
            alu_i: Default::default(),
            alu_d_row: Default::default(),
            alu_d_cur: Default::default(),
            alu_s_row: Default::default(),
            alu_s_cur: Default::default(),
            alu_group: Default::default(),
            alu_dst: vec_of(cols),
            alu_src: vec_of(cols),
            alu_res: vec_of(cols),
            ld_active: Default::default(),
            ld_combine: Default::default(),
            lut: (0..cols).map(|_| SyncRam::block(TABLE_ENTRIES)).collect(),
            tbl_word: Default::default(),
            tbl_addr: Default::default(),
            p_valid: Default::default(),
            p_addr: Default::default(),
            p_val: vec_of(cols),
            instr: Default::default(),
            is_gemm: Default::default(),
            is_alu: Default::default(),
            is_load: Default::default(),
            is_spmv: Default::default(),
            is_table: Default::default(),
            start_spmv: Default::default(),
            wbuf_entry: Default::default(),
            drained: Default::default(),
            gemm_ready: Default::default(),
            other_ready: Default::default(),
            start_gemm: Default::default(),
            start_alu: Default::default(),
            start_load: Default::default(),
            reuse_ok: Default::default(),
            no_iterations: Default::default(),
            target_busy: Default::default(),
            begin_tile: Default::default(),
            issue: Default::default(),
            issue_last: Default::default(),
            issue_bad: Default::default(),
            side_out: Default::default(),
            rmw_write: Default::default(),
            rmw_fwd: Default::default(),
            rmw_done: Default::default(),
            entry_in: Default::default(),
            acc_wr_en: Default::default(),
            acc_wr_addr: Default::default(),
            acc_wr: vec_of(cols),
            sum: vec_of(cols),
            alu_read: Default::default(),
            alu_raddr: Default::default(),
            alu_feed: Default::default(),
            alu_collect: Default::default(),
            alu_collect_valid: Default::default(),
            rmw_ren: Default::default(),
            alu_collected_last: Default::default(),
            alu_write: Default::default(),
            alu_bad: Default::default(),
            ld_bytes: vec_of(entry_bytes),
            sext_byte: vec_of(cols),
            lane_value: vec_of(cols),
            pad32: Default::default(),
            pad16: Default::default(),
            acc_load: Default::default(),
            tbl_write: Default::default(),
            tbl_last_word: Default::default(),
            tbl_wdata: Default::default(),
            ld_value: vec_of(cols),
            ld_wrapped: vec_of(cols),
            ld_result: vec_of(cols),
            ld_add: Default::default(),
            addend: vec_of(cols),
            other: vec_of(cols),
            complete: Default::default(),
            ibuf_entries: konst(u64::from(m.ibuf_entries)),
            acc_entries: konst(u64::from(m.acc_entries)),
            macs_per_vector: konst((rows * cols) as u64),
            shadow_hold: konst(SystolicArray::shadow_span(cols) as u64 + 1),
            unsigned_bias: konst(if four_bit { 8 } else { 128 }),
            w_bias: Default::default(),
            rows_m1: konst(rows as u64 - 1),
            meta_entries: konst(u64::from(tessera_isa::nm::meta_entries(a.rows))),
            banks_m1: konst(banks as u64 - 1),
            acc_low_mask: konst(low_mask),
            acc_sign_bit: konst(u64::from(a.acc_bits - 1)),
            high24: konst(0xffff_ff00),
            alu_groups_m1: konst((cols / al - 1) as u64),
            low15: konst(0x7fff),
            sb_valid: konst(SB_VALID as u64),
            sb_accumulate: konst(SB_ACCUMULATE as u64),
            sb_last: konst(SB_LAST as u64),
            sb_push_prev: konst(SB_PUSH_PREV as u64),
            sb_push_next: konst(SB_PUSH_NEXT as u64),
            sb_addr: konst(SB_ADDR as u64),
            one32: konst(1 << SB_VALID),
            last_only: konst(1 << SB_LAST),
            bit15: konst(0x8000),
            code_bad_field: konst(ErrorCode::BadField as u64),
            has_engine: Constant::new(cfg.sparse.engine.is_some()),
            code_weight_reuse: konst(ErrorCode::WeightReuse as u64),
            sign32: konst(0x8000_0000),
            tbl_words_m1: konst((b / 4 - 1) as u64),
            _tbl_words: b / 4,
            _rows: rows,
            _cols: cols,
            _al: al,
            _groups: cols / al,
            _b: b,
            _entry_bytes: entry_bytes,
            _banks: banks,
            _lanes: lanes,
            _meta_pairs: if n_of_4.is_empty() { 0 } else { cols / 2 },
            _array_pairs: SystolicArray::pairs(cols),
        }
    }
}

impl Logic for ComputeUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            pc,
            push_prev_q,
            push_next_q,
            err_pulse,
            err_code,
            err_pc,
            inflight,
            g_active,
            g_wait_tile,
            g_o,
            g_i,
            g_ib_row,
            g_ib_cur,
            g_ac_row,
            g_ac_cur,
            g_streaming,
            g_marker,
            g_hold,
            w_loading,
            w_row,
            w_rd,
            w_meta_next,
            w_meta_q,
            w_write,
            w_write_row,
            w_write_unsigned,
            w_write_zero,
            shadow_fresh,
            tile_valid,
            tile_addr,
            tile_zero,
            tile_unsigned,
            tile_nm,
            shadow_busy,
            v_present,
            v_side,
            v_first,
            v_unsigned,
            v_zero,
            v_bank,
            v_nm,
            sb2,
            last_w_valid,
            last_w_addr,
            alu_active,
            alu_phase,
            alu_op,
            alu_imm,
            alu_use_imm,
            alu_shift,
            alu_outer,
            alu_inner,
            alu_d_os,
            alu_d_is,
            alu_s_os,
            alu_s_is,
            alu_o,
            alu_i,
            alu_d_row,
            alu_d_cur,
            alu_s_row,
            alu_s_cur,
            alu_group,
            ld_active,
            tbl_word,
            tbl_addr,
            p_valid,
            p_addr
        );
        clock!(self, clock, ld_combine);
        clock!(self, clock, gate, engine, spmv, array, acc, side, alu_group_delay);
        for c in 0..self._cols {
            self.lut[c].clock.next = self.clock.val();
            self.p_val[c].clock.next = self.clock.val();
            self.last_w_data[c].clock.next = self.clock.val();
            self.alu_dst[c].clock.next = self.clock.val();
            self.alu_src[c].clock.next = self.clock.val();
            self.alu_res[c].clock.next = self.clock.val();
            self.last_w_data[c].d.next = self.last_w_data[c].q.val();
            self.alu_dst[c].d.next = self.alu_dst[c].q.val();
            self.alu_src[c].d.next = self.alu_src[c].q.val();
            self.alu_res[c].d.next = self.alu_res[c].q.val();
        }
        for l in 0..self._al {
            self.alu[l].clock.next = self.clock.val();
        }
        for p in 0..self._meta_pairs {
            self.meta[p].clock.next = self.clock.val();
            self.meta[p].d.next = self.meta[p].q.val();
            self.meta_hi[p].clock.next = self.clock.val();
            self.meta_hi[p].d.next = self.meta_hi[p].q.val();
        }
        self.gate.reset.next = self.reset.val();
        self.engine.reset.next = self.reset.val();
        self.spmv.reset.next = self.reset.val();
        self.err_pulse.d.next = false;
        self.instr.next = self.head.val().get_bits::<256>(0);
        self.hdr.instr.next = self.instr.val();
        self.ld.instr.next = self.instr.val();
        self.gm.instr.next = self.instr.val();
        self.al.instr.next = self.instr.val();
        self.sp.instr.next = self.instr.val();

        // ---- Which instruction may start.
        self.is_gemm.next = self.hdr.opcode.val() == 3;
        self.is_alu.next = self.hdr.opcode.val() == 4;
        self.is_load.next = self.hdr.opcode.val() == 1;
        self.is_spmv.next = (self.hdr.opcode.val() == 7) & self.has_engine.val();
        self.is_table.next = self.hdr.opcode.val() == 8;
        self.drained.next =
            !self.g_active.q.val() & !self.w_loading.q.val() & !self.inflight.q.val().any() & !self.v_present.q.val();
        self.gemm_ready.next = !self.g_active.q.val()
            & !self.w_loading.q.val()
            & !self.alu_active.q.val()
            & !self.ld_active.q.val()
            & !self.spmv.busy.val();
        self.other_ready.next = self.drained.val()
            & !self.alu_active.q.val()
            & !self.ld_active.q.val()
            & !self.engine.busy.val()
            & !self.spmv.busy.val();
        self.gate.head_valid.next = self.head_valid.val();
        self.gate.ready.next = self.other_ready.val();
        if self.is_gemm.val() {
            self.gate.ready.next = self.gemm_ready.val();
        }
        self.gate.halt.next = self.halt.val();
        self.gate.pop_prev.next = self.hdr.pop_prev.val().any();
        self.gate.pop_next.next = self.hdr.pop_next.val().any();
        self.gate.push_prev.next = self.hdr.push_prev.val().any();
        self.gate.push_next.next = self.hdr.push_next.val().any();
        self.gate.avail_prev.next = self.avail_prev.val();
        self.gate.avail_next.next = self.avail_next.val();
        self.gate.given_prev.next = self.given_prev.val();
        self.gate.given_next.next = self.given_next.val();
        self.pop.next = self.gate.start.val();
        self.take_prev.next = self.gate.take_prev.val();
        self.take_next.next = self.gate.take_next.val();
        self.give_prev.next = self.gate.give_prev.val();
        self.give_next.next = self.gate.give_next.val();
        self.blocked.next = self.gate.blocked.val();
        self.start_gemm.next = self.gate.start.val() & self.is_gemm.val();
        self.start_alu.next = self.gate.start.val() & self.is_alu.val();
        self.start_load.next = self.gate.start.val() & (self.is_load.val() | self.is_table.val());
        self.start_spmv.next = self.gate.start.val() & self.is_spmv.val();
        if self.gate.start.val() {
            self.pc.d.next = self.head.val().get_bits::<32>(256);
            self.push_prev_q.d.next = self.hdr.push_prev.val().any();
            self.push_next_q.d.next = self.hdr.push_next.val().any();
        }

        // ---- GEMM start: latch the instruction; reuse the tile or wait to load a new one.
        self.reuse_ok.next = self.tile_valid.q.val()
            & (self.tile_addr.q.val() == self.gm.wbuf_addr.val())
            & (self.tile_zero.q.val() == self.gm.w_zero.val())
            & (self.tile_unsigned.q.val() == self.gm.w_unsigned.val().any())
            & (self.tile_nm.q.val() == self.gm.nm.val());
        self.no_iterations.next = !self.g_outer.q.val().any() | !self.g_inner.q.val().any();
        // The instruction's fields, loaded at start (clock enables, see `DffEn`).
        clock!(self, clock, g_accumulate, g_a_unsigned, g_a_zero, g_w_unsigned, g_w_zero, g_wbuf, g_nm);
        clock!(self, clock, g_outer, g_inner, g_ib_os, g_ib_is, g_ac_os, g_ac_is, g_reuse);
        self.g_accumulate.en.next = self.start_gemm.val();
        self.g_accumulate.d.next = self.gm.accumulate.val().any();
        self.g_a_unsigned.en.next = self.start_gemm.val();
        self.g_a_unsigned.d.next = self.gm.a_unsigned.val().any();
        self.g_a_zero.en.next = self.start_gemm.val();
        self.g_a_zero.d.next = self.gm.a_zero.val();
        self.g_w_unsigned.en.next = self.start_gemm.val();
        self.g_w_unsigned.d.next = self.gm.w_unsigned.val().any();
        self.g_w_zero.en.next = self.start_gemm.val();
        self.g_w_zero.d.next = self.gm.w_zero.val();
        self.g_wbuf.en.next = self.start_gemm.val();
        self.g_wbuf.d.next = self.gm.wbuf_addr.val();
        self.g_nm.en.next = self.start_gemm.val();
        self.g_nm.d.next = self.gm.nm.val();
        self.g_outer.en.next = self.start_gemm.val();
        self.g_outer.d.next = self.gm.outer.val();
        self.g_inner.en.next = self.start_gemm.val();
        self.g_inner.d.next = self.gm.inner.val();
        self.g_ib_os.en.next = self.start_gemm.val();
        self.g_ib_os.d.next = self.gm.ibuf_outer_stride.val();
        self.g_ib_is.en.next = self.start_gemm.val();
        self.g_ib_is.d.next = self.gm.ibuf_inner_stride.val();
        self.g_ac_os.en.next = self.start_gemm.val();
        self.g_ac_os.d.next = self.gm.acc_outer_stride.val();
        self.g_ac_is.en.next = self.start_gemm.val();
        self.g_ac_is.d.next = self.gm.acc_inner_stride.val();
        self.g_reuse.en.next = self.start_gemm.val();
        self.g_reuse.d.next = self.gm.reuse_weights.val().any();
        if self.start_gemm.val() {
            self.g_o.d.next = 0.into();
            self.g_i.d.next = 0.into();
            self.g_ib_row.d.next = bit_cast::<32, 16>(self.gm.ibuf_addr.val());
            self.g_ib_cur.d.next = bit_cast::<32, 16>(self.gm.ibuf_addr.val());
            self.g_ac_row.d.next = bit_cast::<32, 16>(self.gm.acc_addr.val());
            self.g_ac_cur.d.next = bit_cast::<32, 16>(self.gm.acc_addr.val());
            self.g_active.d.next = true;
            self.g_wait_tile.d.next = true;
            self.g_streaming.d.next = false;
            self.g_marker.d.next = false;
            if self.gm.reuse_weights.val().any() {
                if !self.reuse_ok.val() {
                    self.g_active.d.next = false;
                    self.g_wait_tile.d.next = false;
                    self.err_pulse.d.next = true;
                    self.err_code.d.next = self.code_weight_reuse.val();
                    self.err_pc.d.next = self.head.val().get_bits::<32>(256);
                }
            }
        }
        // A reused tile needs no loading; a new one waits until row 0 has switched to
        // the previous tile, then loads one row per cycle while the vectors start.
        self.target_busy.next = self.shadow_busy.q.val().any();
        self.begin_tile.next =
            self.g_active.q.val() & self.g_wait_tile.q.val() & (self.g_reuse.q.val() | !self.target_busy.val());
        if self.begin_tile.val() {
            self.g_wait_tile.d.next = false;
            self.g_streaming.d.next = !self.no_iterations.val();
            self.g_marker.d.next = self.no_iterations.val();
            if !self.g_reuse.q.val() {
                self.w_loading.d.next = true;
                self.w_row.d.next = 0.into();
                self.w_rd.d.next = 0.into();
                self.w_meta_next.d.next = self.g_nm.q.val().any();
                self.shadow_fresh.d.next = true;
                self.tile_valid.d.next = true;
                self.tile_addr.d.next = self.g_wbuf.q.val();
                self.tile_zero.d.next = self.g_w_zero.q.val();
                self.tile_unsigned.d.next = self.g_w_unsigned.q.val();
                self.tile_nm.d.next = self.g_nm.q.val();
                // A sparse tile's rows come after its metadata entries: the vectors
                // wait that long so that every row is still written in time.
                if self.g_nm.q.val().any() {
                    self.g_streaming.d.next = false;
                    self.g_hold.d.next = self.meta_entries.val();
                }
            }
        }
        if self.g_hold.q.val().any() {
            self.g_hold.d.next = self.g_hold.q.val() - 1;
            if self.g_hold.q.val() == 1 {
                self.g_streaming.d.next = !self.no_iterations.val();
            }
        }

        // ---- Weight loading: WBUF row j is read, then written into the array next cycle
        // (a sparse tile's metadata entry before each block of eight rows).
        self.wbuf_entry.next = self.g_wbuf.q.val() + self.w_rd.q.val();
        if self.w_loading.q.val() {
            self.w_rd.d.next = self.w_rd.q.val() + 1;
            if self.w_meta_next.q.val() {
                self.w_meta_next.d.next = false;
            } else {
                self.w_row.d.next = self.w_row.q.val() + 1;
                if self.w_row.q.val() == self.rows_m1.val() {
                    self.w_loading.d.next = false;
                }
                if self.tile_nm.q.val().any() & (self.w_row.q.val().get_bits::<3>(0) == 7) {
                    self.w_meta_next.d.next = true;
                }
            }
        }
        self.w_meta_q.d.next = self.w_loading.q.val() & self.w_meta_next.q.val();
        self.w_write.d.next = self.w_loading.q.val() & !self.w_meta_next.q.val();
        for p in 0..self._array_pairs {
            self.array.w_index[p].next = 0.into();
        }
        for pp in self._meta_pairs..(self._meta_pairs + 1) {
            for p in 0..self._meta_pairs {
                if self.w_meta_q.q.val() {
                    self.meta[p].d.next = self.wbuf_rdata[p].val();
                    self.meta_hi[p].d.next = self.wbuf_rdata[p + pp].val();
                }
                if self.w_write.q.val() {
                    self.meta[p].d.next = (self.meta[p].q.val() >> 2) | (self.meta_hi[p].q.val() << 6);
                    self.meta_hi[p].d.next = self.meta_hi[p].q.val() >> 2;
                }
                if self.tile_nm.q.val().any() {
                    self.array.w_index[p].next = self.meta[p].q.val().get_bits::<2>(0);
                }
            }
        }
        self.w_write_row.d.next = self.w_row.q.val().get_bits::<8>(0);
        self.w_write_unsigned.d.next = self.g_w_unsigned.q.val();
        self.w_write_zero.d.next = self.g_w_zero.q.val();
        // The array multiplies signed 8-bit weights and removes the zero point per
        // vector, so unsigned weights and their zero point are biased to signed.
        self.w_bias.next = 0.into();
        if self.w_write_unsigned.q.val() {
            self.w_bias.next = self.unsigned_bias.val();
        }
        for c in 0..self._cols {
            self.w_ext[c].raw.next = self.wbuf_rdata[c].val();
            self.w_ext[c].is_unsigned.next = self.w_write_unsigned.q.val();
            self.w_ext[c].zero.next = self.w_bias.val();
            self.array.w_data[c].next = self.w_ext[c].value.val();
        }
        self.array.w_zero.next = signed_cast(self.w_write_zero.q.val() - self.w_bias.val());
        self.array.w_row.next = self.w_write_row.q.val();
        self.array.w_write.next = self.w_write.q.val();

        // ---- Vector issue: read the activation entry; it is presented next cycle.
        self.issue.next = self.g_active.q.val() & self.g_streaming.q.val() & !self.halt.val();
        self.issue_bad.next = self.issue.val()
            & ((self.g_ib_cur.q.val() >= self.ibuf_entries.val()) | (self.g_ac_cur.q.val() >= self.acc_entries.val()));
        self.issue_last.next =
            ((self.g_o.q.val() + 1) == self.g_outer.q.val()) & ((self.g_i.q.val() + 1) == self.g_inner.q.val());
        self.ibuf_raddr.next = self.g_ib_cur.q.val().get_bits::<16>(0);
        if self.issue.val() & !self.issue_bad.val() {
            if (self.g_i.q.val() + 1) == self.g_inner.q.val() {
                self.g_i.d.next = 0.into();
                self.g_o.d.next = self.g_o.q.val() + 1;
                self.g_ib_row.d.next = self.g_ib_row.q.val() + bit_cast::<32, 16>(self.g_ib_os.q.val());
                self.g_ib_cur.d.next = self.g_ib_row.q.val() + bit_cast::<32, 16>(self.g_ib_os.q.val());
                self.g_ac_row.d.next = self.g_ac_row.q.val() + bit_cast::<32, 16>(self.g_ac_os.q.val());
                self.g_ac_cur.d.next = self.g_ac_row.q.val() + bit_cast::<32, 16>(self.g_ac_os.q.val());
            } else {
                self.g_i.d.next = self.g_i.q.val() + 1;
                self.g_ib_cur.d.next = self.g_ib_cur.q.val() + bit_cast::<32, 16>(self.g_ib_is.q.val());
                self.g_ac_cur.d.next = self.g_ac_cur.q.val() + bit_cast::<32, 16>(self.g_ac_is.q.val());
            }
            if self.issue_last.val() {
                self.g_streaming.d.next = false;
                self.g_active.d.next = false;
            }
        }
        if self.issue_bad.val() {
            self.g_streaming.d.next = false;
            self.g_active.d.next = false;
            self.err_pulse.d.next = true;
            self.err_code.d.next = self.code_bad_field.val();
            self.err_pc.d.next = self.pc.q.val();
        }
        // A GEMM without iterations still completes in order: a marker travels instead.
        self.v_present.d.next = false;
        self.v_side.d.next = 0.into();
        if self.issue.val() & !self.issue_bad.val() {
            self.v_present.d.next = true;
            self.v_side.d.next = (self.g_ac_cur.q.val() << 16)
                | self.one32.val()
                | (bit_cast::<32, 1>(self.g_accumulate.q.val().into()) << 1)
                | (bit_cast::<32, 1>(self.issue_last.val().into()) << 2)
                | (bit_cast::<32, 1>((self.issue_last.val() & self.push_prev_q.q.val()).into()) << 3)
                | (bit_cast::<32, 1>((self.issue_last.val() & self.push_next_q.q.val()).into()) << 4);
        }
        if self.g_active.q.val() & self.g_marker.q.val() & !self.g_wait_tile.q.val() {
            self.g_marker.d.next = false;
            self.g_active.d.next = false;
            self.v_present.d.next = true;
            self.v_side.d.next = self.last_only.val()
                | (bit_cast::<32, 1>(self.push_prev_q.q.val().into()) << 3)
                | (bit_cast::<32, 1>(self.push_next_q.q.val().into()) << 4);
        }
        if self.halt.val() & self.g_active.q.val() {
            self.g_hold.d.next = 0.into();
            self.g_active.d.next = false;
            self.g_streaming.d.next = false;
            self.g_wait_tile.d.next = false;
            self.g_marker.d.next = false;
        }
        self.v_first.d.next = false;
        if self.issue.val() & !self.issue_bad.val() & self.shadow_fresh.q.val() {
            self.v_first.d.next = true;
            self.shadow_fresh.d.next = false;
        }
        self.v_unsigned.d.next = self.g_a_unsigned.q.val();
        self.v_zero.d.next = self.g_a_zero.q.val();
        self.v_bank.d.next = self.g_ib_cur.q.val().get_bits::<16>(0) & self.banks_m1.val();
        self.v_nm.d.next = self.g_nm.q.val();
        for k in 0..(self._banks * self._rows) {
            self.a_ext[k].raw.next = self.ibuf_rdata[k].val();
            self.a_ext[k].is_unsigned.next = self.v_unsigned.q.val();
            self.a_ext[k].zero.next = self.v_zero.q.val();
            self.route.banks_in[k].next = self.a_ext[k].value.val();
        }
        self.route.bank.next = self.v_bank.q.val();
        self.route.nm.next = self.v_nm.q.val();
        for i in 0..(self._rows * self._lanes) {
            self.array.a_in[i].next = self.route.lanes[i].val();
        }
        self.array.first_in.next = self.v_first.q.val();
        // The window mode (docs/depthwise.md, option B) has no instruction yet.
        self.array.window.next = false;
        self.side.data_in.next = self.v_side.q.val();
        if self.shadow_busy.q.val().any() {
            self.shadow_busy.d.next = self.shadow_busy.q.val() - 1;
        }
        if self.v_first.q.val() {
            self.shadow_busy.d.next = self.shadow_hold.val();
        }
        self.vector_issued.next = self.v_present.q.val() & self.v_side.q.val().get_bit(self.sb_valid.val().index());
        self.macs.next = self.spmv.macs.val();
        if self.vector_issued.val() {
            self.macs.next = self.macs_per_vector.val();
        }

        // ---- SPMV on the sparse engine, which owns the buffers' read ports and the
        // accumulator while it runs (it starts only when everything else is idle).
        self.spmv.start.next = self.start_spmv.val();
        self.spmv.halt.next = self.halt.val();
        self.spmv.accumulate.next = self.sp.accumulate.val().any();
        self.spmv.a_unsigned.next = self.sp.a_unsigned.val().any();
        self.spmv.w_unsigned.next = self.sp.w_unsigned.val().any();
        self.spmv.a_zero.next = self.sp.a_zero.val();
        self.spmv.w_zero.next = self.sp.w_zero.val();
        self.spmv.wbuf_addr.next = self.sp.wbuf_addr.val();
        self.spmv.ibuf_addr.next = self.sp.ibuf_addr.val();
        self.spmv.acc_addr.next = self.sp.acc_addr.val();
        self.spmv.k_size.next = self.sp.k_size.val();
        self.spmv.out_entries.next = self.sp.out_entries.val();
        self.spmv.item_entries.next = self.sp.item_entries.val();
        for k in 0..(self._banks * self._rows) {
            self.spmv.ibuf_rdata[k].next = self.ibuf_rdata[k].val();
        }
        for c in 0..self._cols {
            self.spmv.wbuf_rdata[c].next = self.wbuf_rdata[c].val();
            self.spmv.acc_rdata[c].next = self.acc.ra_data[c].val();
            self.wbuf_raddr[c].next = self.wbuf_entry.val();
            if self.spmv.busy.val() {
                self.wbuf_raddr[c].next = self.spmv.wbuf_raddr[c].val();
            }
        }
        if self.spmv.busy.val() {
            self.ibuf_raddr.next = self.spmv.ibuf_raddr.val();
        }
        if self.spmv.fault.val() {
            self.err_pulse.d.next = true;
            self.err_code.d.next = self.code_bad_field.val();
            self.err_pc.d.next = self.pc.q.val();
        }

        // ---- Read-modify-write: read the accumulator one cycle before the results
        // leave the array; forward the previous cycle's write to the same entry.
        self.side_out.next = self.side.data_out.val();
        self.sb2.d.next = self.side_out.val();
        self.rmw_ren.next = self.side_out.val().get_bit(self.sb_valid.val().index())
            & self.side_out.val().get_bit(self.sb_accumulate.val().index());
        self.rmw_write.next = self.sb2.q.val().get_bit(self.sb_valid.val().index());
        self.rmw_done.next = self.sb2.q.val().get_bit(self.sb_last.val().index());
        self.rmw_fwd.next = self.last_w_valid.q.val()
            & (self.last_w_addr.q.val() == self.sb2.q.val().get_bits::<16>(self.sb_addr.val().index()));
        // Stage 1 of an ACC load (stage 0 is with the LOAD below): the value as an
        // overwrite would write it (wrapped to acc_bits), or its maximum with the
        // entry read; an adding load uses the GEMM's adder (the array is idle).
        self.ld_add.next = self.p_valid.q.val() & (self.ld_combine.q.val() == 1);
        for c in 0..self._cols {
            self.ld_value[c].next = self.p_val[c].q.val();
            if self.engine.cur_acc_elem.val() == 3 {
                self.ld_value[c].next = self.lut[c].read_data.val();
            }
            self.ld_wrapped[c].next = self.ld_value[c].val() & self.acc_low_mask.val();
            if self.ld_value[c].val().get_bit(self.acc_sign_bit.val().index()) {
                self.ld_wrapped[c].next = self.ld_value[c].val() | !self.acc_low_mask.val();
            }
            self.ld_result[c].next = self.ld_wrapped[c].val();
            if (self.ld_combine.q.val() == 2)
                & ((self.acc.ra_data[c].val() ^ self.sign32.val()) > (self.ld_wrapped[c].val() ^ self.sign32.val()))
            {
                self.ld_result[c].next = self.acc.ra_data[c].val();
            }
        }
        for c in 0..self._cols {
            self.addend[c].next = unsigned_cast::<32>(self.array.psum_out[c].val());
            if self.p_valid.q.val() {
                self.addend[c].next = self.ld_wrapped[c].val();
            }
            self.other[c].next = self.acc.ra_data[c].val();
            if self.rmw_fwd.val() {
                self.other[c].next = self.last_w_data[c].q.val();
            }
            self.sum[c].next = self.addend[c].val();
            if self.sb2.q.val().get_bit(self.sb_accumulate.val().index()) | self.ld_add.val() {
                self.sum[c].next = self.addend[c].val() + self.other[c].val();
            }
        }
        self.entry_in.next = self.v_present.q.val();
        self.inflight.d.next = self.inflight.q.val() + bit_cast::<16, 1>(self.entry_in.val().into())
            - bit_cast::<16, 1>((self.rmw_write.val() | self.rmw_done.val()).into());

        // ---- ALU: read dst (and src), stream lane groups, collect, write back.
        self.alu_read.next = false;
        self.alu_raddr.next = self.alu_d_cur.q.val().get_bits::<16>(0);
        self.alu_feed.next = false;
        self.alu_write.next = false;
        self.alu_bad.next = false;
        if self.start_alu.val() {
            self.alu_active.d.next = true;
            self.alu_phase.d.next = 1.into();
            self.alu_op.d.next = self.al.op.val();
            self.alu_imm.d.next = self.al.imm.val();
            self.alu_use_imm.d.next = self.al.use_imm.val().any();
            self.alu_shift.d.next = self.al.shift.val();
            self.alu_outer.d.next = self.al.outer.val();
            self.alu_inner.d.next = self.al.inner.val();
            self.alu_d_os.d.next = self.al.dst_outer_stride.val();
            self.alu_d_is.d.next = self.al.dst_inner_stride.val();
            self.alu_s_os.d.next = self.al.src_outer_stride.val();
            self.alu_s_is.d.next = self.al.src_inner_stride.val();
            self.alu_o.d.next = 0.into();
            self.alu_i.d.next = 0.into();
            self.alu_d_row.d.next = bit_cast::<32, 16>(self.al.dst.val());
            self.alu_d_cur.d.next = bit_cast::<32, 16>(self.al.dst.val());
            self.alu_s_row.d.next = bit_cast::<32, 16>(self.al.src.val());
            self.alu_s_cur.d.next = bit_cast::<32, 16>(self.al.src.val());
            if !self.al.outer.val().any() | !self.al.inner.val().any() {
                self.alu_phase.d.next = 7.into();
            }
        }
        match self.alu_phase.q.val().index() {
            1 => {
                self.alu_read.next = true;
                self.alu_phase.d.next = 2.into();
                if self.alu_d_cur.q.val() >= self.acc_entries.val() {
                    self.alu_bad.next = true;
                }
            }
            2 => {
                for c in 0..self._cols {
                    self.alu_dst[c].d.next = self.acc.ra_data[c].val();
                }
                self.alu_raddr.next = self.alu_s_cur.q.val().get_bits::<16>(0);
                self.alu_read.next = !self.alu_use_imm.q.val();
                self.alu_phase.d.next = 3.into();
                if !self.alu_use_imm.q.val() & (self.alu_s_cur.q.val() >= self.acc_entries.val()) {
                    self.alu_bad.next = true;
                }
            }
            3 => {
                for c in 0..self._cols {
                    self.alu_src[c].d.next = self.acc.ra_data[c].val();
                }
                self.alu_group.d.next = 0.into();
                self.alu_phase.d.next = 4.into();
            }
            4 => {
                self.alu_feed.next = true;
                self.alu_group.d.next = self.alu_group.q.val() + 1;
                if self.alu_group.q.val() == self.alu_groups_m1.val() {
                    self.alu_phase.d.next = 5.into();
                }
            }
            6 => {
                self.alu_write.next = true;
                self.alu_phase.d.next = 1.into();
                if (self.alu_i.q.val() + 1) == self.alu_inner.q.val() {
                    self.alu_i.d.next = 0.into();
                    self.alu_o.d.next = self.alu_o.q.val() + 1;
                    self.alu_d_row.d.next = self.alu_d_row.q.val() + bit_cast::<32, 16>(self.alu_d_os.q.val());
                    self.alu_d_cur.d.next = self.alu_d_row.q.val() + bit_cast::<32, 16>(self.alu_d_os.q.val());
                    self.alu_s_row.d.next = self.alu_s_row.q.val() + bit_cast::<32, 16>(self.alu_s_os.q.val());
                    self.alu_s_cur.d.next = self.alu_s_row.q.val() + bit_cast::<32, 16>(self.alu_s_os.q.val());
                    if (self.alu_o.q.val() + 1) == self.alu_outer.q.val() {
                        self.alu_phase.d.next = 7.into();
                    }
                } else {
                    self.alu_i.d.next = self.alu_i.q.val() + 1;
                    self.alu_d_cur.d.next = self.alu_d_cur.q.val() + bit_cast::<32, 16>(self.alu_d_is.q.val());
                    self.alu_s_cur.d.next = self.alu_s_cur.q.val() + bit_cast::<32, 16>(self.alu_s_is.q.val());
                }
            }
            7 => {
                self.alu_active.d.next = false;
                self.alu_phase.d.next = 0.into();
            }
            _ => {}
        }
        if self.alu_bad.val() | (self.halt.val() & self.alu_active.q.val()) {
            self.alu_active.d.next = false;
            self.alu_phase.d.next = 0.into();
        }
        if self.alu_bad.val() {
            self.err_pulse.d.next = true;
            self.err_code.d.next = self.code_bad_field.val();
            self.err_pc.d.next = self.pc.q.val();
        }
        // Defaults (group 0) so that no input is left unassigned (no latches).
        for l in 0..self._al {
            self.alu[l].d.next = self.alu_dst[l].q.val();
            self.alu[l].b.next = self.alu_src[l].q.val();
            if self.alu_use_imm.q.val() {
                self.alu[l].b.next = self.alu_imm.q.val();
            }
        }
        for al in self._al..(self._al + 1) {
            for g in 0..self._groups {
                if self.alu_group.q.val().index() == g {
                    for l in 0..self._al {
                        self.alu[l].d.next = self.alu_dst[g * al + l].q.val();
                        self.alu[l].b.next = self.alu_src[g * al + l].q.val();
                        if self.alu_use_imm.q.val() {
                            self.alu[l].b.next = self.alu_imm.q.val();
                        }
                    }
                }
            }
        }
        for l in 0..self._al {
            self.alu[l].op.next = self.alu_op.q.val();
            self.alu[l].shift.next = self.alu_shift.q.val();
        }
        self.alu_group_delay.data_in.next = 0.into();
        if self.alu_feed.val() {
            self.alu_group_delay.data_in.next = self.alu_group.q.val() | self.bit15.val();
        }
        self.alu_collect.next = self.alu_group_delay.data_out.val() & self.low15.val();
        self.alu_collect_valid.next = self.alu_group_delay.data_out.val().get_bit(15);
        self.alu_collected_last.next =
            self.alu_collect_valid.val() & (self.alu_collect.val() == self.alu_groups_m1.val());
        for al in self._al..(self._al + 1) {
            for g in 0..self._groups {
                if self.alu_collect_valid.val() & (self.alu_collect.val().index() == g) {
                    for l in 0..self._al {
                        self.alu_res[g * al + l].d.next = self.alu[l].result.val();
                    }
                }
            }
        }
        if self.alu_collected_last.val() {
            self.alu_phase.d.next = 6.into();
        }

        // ---- LOAD into the accumulator or the parameter buffer; TABLE.
        self.engine.start.next = self.start_load.val();
        self.engine.table_mode.next = self.is_table.val();
        self.ld_combine.en.next = self.start_load.val();
        self.ld_combine.d.next = self.ld.combine.val();
        self.engine.mem.next = self.ld.mem.val();
        self.engine.acc_elem.next = self.ld.acc_elem.val();
        self.engine.lanes.next = self.ld.lanes.val();
        self.engine.pad_value.next = self.ld.pad_value.val();
        self.engine.pad_top.next = self.ld.pad_top.val();
        self.engine.pad_bottom.next = self.ld.pad_bottom.val();
        self.engine.pad_left.next = self.ld.pad_left.val();
        self.engine.pad_right.next = self.ld.pad_right.val();
        self.engine.sram_addr.next = self.ld.sram_addr.val();
        self.engine.x_size.next = self.ld.x_size.val();
        self.engine.y_size.next = self.ld.y_size.val();
        self.engine.dram_addr.next = self.ld.dram_addr.val();
        self.engine.x_stride.next = self.ld.x_stride.val();
        self.engine.y_stride.next = self.ld.y_stride.val();
        self.engine.dram_base.next = self.dram_base.val();
        self.engine.dram_size.next = self.dram_size.val();
        // TABLE: the offered entry's words go into every copy, one per cycle; the
        // engine moves on with the last.
        self.tbl_write.next = self.engine.wr_offer.val() & self.engine.cur_table.val();
        self.tbl_last_word.next = self.tbl_word.q.val() == self.tbl_words_m1.val();
        self.engine.wr_ready.next = !self.engine.cur_table.val() | self.tbl_last_word.val();
        if self.start_load.val() {
            self.tbl_word.d.next = 0.into();
            self.tbl_addr.d.next = 0.into();
        }
        if self.tbl_write.val() {
            self.tbl_addr.d.next = self.tbl_addr.q.val() + 1;
            self.tbl_word.d.next = self.tbl_word.q.val() + 1;
            if self.tbl_last_word.val() {
                self.tbl_word.d.next = 0.into();
            }
        }
        self.tbl_wdata.next = self.ld_bytes[0].val()
            | (self.ld_bytes[1].val() << 8)
            | (self.ld_bytes[2].val() << 16)
            | (self.ld_bytes[3].val() << 24);
        for k in 0..self._tbl_words {
            if self.tbl_word.q.val().index() == k {
                self.tbl_wdata.next = self.ld_bytes[4 * k].val()
                    | (self.ld_bytes[4 * k + 1].val() << 8)
                    | (self.ld_bytes[4 * k + 2].val() << 16)
                    | (self.ld_bytes[4 * k + 3].val() << 24);
            }
        }
        if self.start_load.val() {
            self.ld_active.d.next = true;
        }
        if self.engine.done.val() | self.engine.error.val() {
            self.ld_active.d.next = false;
        }
        if self.engine.error.val() {
            self.err_pulse.d.next = true;
            self.err_code.d.next = self.engine.error_code.val();
            self.err_pc.d.next = self.pc.q.val();
        }
        self.ar_valid.next = self.engine.ar_valid.val();
        self.ar_addr.next = self.engine.ar_addr.val();
        self.ar_len.next = self.engine.ar_len.val();
        self.engine.ar_ready.next = self.ar_ready.val();
        self.engine.r_valid.next = self.r_valid.val();
        self.engine.r_resp.next = self.r_resp.val();
        self.engine.r_last.next = self.r_last.val();
        for j in 0..self._b {
            self.engine.r_data[j].next = self.r_data[j].val();
        }
        for i in 0..self._entry_bytes {
            self.byte_wide[i].narrow.next = self.engine.wr_bytes[i].val();
            self.ld_bytes[i].next = self.byte_wide[i].wide.val();
        }
        // Pad value as the element type extends it.
        self.pad32.next = bit_cast::<32, 8>(self.engine.cur_pad_value.val());
        if (self.engine.cur_acc_elem.val() != 1) & self.engine.cur_pad_value.val().get_bit(7) {
            self.pad32.next = bit_cast::<32, 8>(self.engine.cur_pad_value.val()) | self.high24.val();
        }
        for c in 0..self._cols {
            self.sext_byte[c].next = self.ld_bytes[c].val();
            if self.engine.wr_bytes[c].val().get_bit(7) {
                self.sext_byte[c].next = self.ld_bytes[c].val() | self.high24.val();
            }
            self.lane_value[c].next = self.sext_byte[c].val();
            if self.engine.cur_acc_elem.val() == 1 {
                self.lane_value[c].next = self.ld_bytes[c].val();
            }
            if self.engine.cur_acc_elem.val() == 2 {
                self.lane_value[c].next = self.ld_bytes[4 * c].val()
                    | (self.ld_bytes[4 * c + 1].val() << 8)
                    | (self.ld_bytes[4 * c + 2].val() << 16)
                    | (self.ld_bytes[4 * c + 3].val() << 24);
            }
            if self.engine.wr_pad.val() | (self.engine.cur_lanes.val().index() <= c) {
                self.lane_value[c].next = self.pad32.val();
            }
        }
        // Stage 0 of an ACC load: look the bytes (padding: `pad_value`) up in the
        // table, read the entry for combining, keep the other element types' values.
        self.acc_load.next =
            self.engine.wr_valid.val() & (self.engine.cur_mem.val() == 2) & !self.engine.cur_table.val();
        self.pad16.next = bit_cast::<16, 8>(self.engine.cur_pad_value.val());
        self.p_valid.d.next = self.acc_load.val();
        self.p_addr.d.next = self.engine.wr_addr.val();
        for c in 0..self._cols {
            self.p_val[c].d.next = self.lane_value[c].val();
            self.lut[c].read_address.next = self.ld_bytes[c].val().get_bits::<16>(0);
            if self.engine.wr_pad.val() | (self.engine.cur_lanes.val().index() <= c) {
                self.lut[c].read_address.next = self.pad16.val();
            }
            self.lut[c].write_enable.next = self.tbl_write.val();
            self.lut[c].write_address.next = self.tbl_addr.q.val();
            self.lut[c].write_data.next = self.tbl_wdata.val();
        }
        self.pbuf_we.next = self.engine.wr_valid.val() & (self.engine.cur_mem.val() == 3);
        self.pbuf_waddr.next = self.engine.wr_addr.val();
        for cc in self._cols..(self._cols + 1) {
            for c in 0..self._cols {
                self.pbuf_bias[c].next = self.ld_bytes[4 * c].val()
                    | (self.ld_bytes[4 * c + 1].val() << 8)
                    | (self.ld_bytes[4 * c + 2].val() << 16)
                    | (self.ld_bytes[4 * c + 3].val() << 24);
                self.pbuf_mult[c].next = self.ld_bytes[4 * cc + 4 * c].val()
                    | (self.ld_bytes[4 * cc + 4 * c + 1].val() << 8)
                    | (self.ld_bytes[4 * cc + 4 * c + 2].val() << 16)
                    | (self.ld_bytes[4 * cc + 4 * c + 3].val() << 24);
                self.pbuf_shift[c].next = self.engine.wr_bytes[8 * cc + c].val();
                if self.engine.wr_pad.val() {
                    self.pbuf_bias[c].next = 0.into();
                    self.pbuf_mult[c].next = 0.into();
                    self.pbuf_shift[c].next = 0.into();
                }
            }
        }

        // ---- Accumulator ports. Writes wrap to `acc_bits`.
        self.acc.ra_en.next = self.rmw_ren.val() | self.alu_read.val();
        self.acc.ra_addr.next = self.side_out.val().get_bits::<16>(self.sb_addr.val().index());
        if self.alu_read.val() {
            self.acc.ra_addr.next = self.alu_raddr.val();
        }
        if self.spmv.acc_ren.val() {
            self.acc.ra_en.next = true;
            self.acc.ra_addr.next = self.spmv.acc_raddr.val();
        }
        if self.acc_load.val() & self.ld_combine.q.val().any() {
            self.acc.ra_en.next = true;
            self.acc.ra_addr.next = self.engine.wr_addr.val();
        }
        self.acc_wr_en.next = false;
        self.acc_wr_addr.next = self.sb2.q.val().get_bits::<16>(self.sb_addr.val().index());
        for c in 0..self._cols {
            self.acc_wr[c].next = self.sum[c].val();
        }
        if self.rmw_write.val() {
            self.acc_wr_en.next = true;
        }
        if self.alu_write.val() {
            self.acc_wr_en.next = true;
            self.acc_wr_addr.next = self.alu_d_cur.q.val().get_bits::<16>(0);
            for c in 0..self._cols {
                self.acc_wr[c].next = self.alu_res[c].q.val();
            }
        }
        if self.p_valid.q.val() {
            self.acc_wr_en.next = true;
            self.acc_wr_addr.next = self.p_addr.q.val();
            for c in 0..self._cols {
                self.acc_wr[c].next = self.ld_result[c].val();
                if self.ld_add.val() {
                    self.acc_wr[c].next = self.sum[c].val();
                }
            }
        }
        if self.spmv.acc_we.val() {
            self.acc_wr_en.next = true;
            self.acc_wr_addr.next = self.spmv.acc_waddr.val();
            for c in 0..self._cols {
                self.acc_wr[c].next = self.spmv.acc_wdata[c].val();
            }
        }
        self.acc.wr_en.next = self.acc_wr_en.val();
        self.acc.wr_addr.next = self.acc_wr_addr.val();
        for c in 0..self._cols {
            self.acc.wr_data[c].next = self.acc_wr[c].val() & self.acc_low_mask.val();
            if self.acc_wr[c].val().get_bit(self.acc_sign_bit.val().index()) {
                self.acc.wr_data[c].next = self.acc_wr[c].val() | !self.acc_low_mask.val();
            }
        }
        self.last_w_valid.d.next = self.rmw_write.val();
        self.last_w_addr.d.next = self.sb2.q.val().get_bits::<16>(self.sb_addr.val().index());
        for c in 0..self._cols {
            self.last_w_data[c].d.next = self.acc_wr[c].val() & self.acc_low_mask.val();
            if self.acc_wr[c].val().get_bit(self.acc_sign_bit.val().index()) {
                self.last_w_data[c].d.next = self.acc_wr[c].val() | !self.acc_low_mask.val();
            }
        }
        self.acc.rb_en.next = self.store_ren.val();
        self.acc.rb_addr.next = self.store_raddr.val();
        self.store_grant.next = self.acc.rb_grant.val();
        for c in 0..self._cols {
            self.store_rdata[c].next = self.acc.rb_data[c].val();
        }

        // ---- Completion (in program order) gives the tokens.
        self.complete.next = self.rmw_done.val()
            | (self.alu_phase.q.val() == 7)
            | (self.engine.done.val() & self.ld_active.q.val())
            | self.spmv.done.val();
        self.gate.complete.next = self.complete.val();
        self.gate.complete_push_prev.next = self.push_prev_q.q.val();
        self.gate.complete_push_next.next = self.push_next_q.q.val();
        if self.rmw_done.val() {
            self.gate.complete_push_prev.next = self.sb2.q.val().get_bit(self.sb_push_prev.val().index());
            self.gate.complete_push_next.next = self.sb2.q.val().get_bit(self.sb_push_next.val().index());
        }
        self.retired.next = self.complete.val();

        self.idle.next = self.drained.val()
            & !self.alu_active.q.val()
            & !self.ld_active.q.val()
            & !self.engine.busy.val()
            & !self.spmv.busy.val();
        self.error.next = self.err_pulse.q.val();
        self.error_code.next = self.err_code.q.val();
        self.error_pc.next = self.err_pc.q.val();
        self.dma_wait.next = self.engine.waiting.val();
        self.read_bytes.next = self.engine.read_bytes.val();

        if self.reset.val() {
            self.g_active.d.next = false;
            self.g_wait_tile.d.next = false;
            self.g_streaming.d.next = false;
            self.g_marker.d.next = false;
            self.w_loading.d.next = false;
            self.w_write.d.next = false;
            self.tile_valid.d.next = false;
            self.shadow_fresh.d.next = false;
            self.shadow_busy.d.next = 0.into();
            self.v_first.d.next = false;
            self.v_present.d.next = false;
            self.v_side.d.next = 0.into();
            self.sb2.d.next = 0.into();
            self.last_w_valid.d.next = false;
            self.inflight.d.next = 0.into();
            self.alu_active.d.next = false;
            self.alu_phase.d.next = 0.into();
            self.ld_active.d.next = false;
            self.p_valid.d.next = false;
        }
    }
}
