//! The load queue's unit: runs LOADs into the input and weight buffers, one at a
//! time, with their dependency tokens, and unpacks entries into operand lanes.

use crate::controller::QueueEntry;
use crate::decode::{HeaderFields, LoadFields};
use crate::load_engine::LoadEngine;
use crate::token_gate::TokenGate;
use rust_hdl::prelude::*;
use tessera_isa::config::AccelConfig;

#[derive(LogicBlock)]
pub struct LoadUnit {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub halt: Signal<In, Bit>,
    pub head_valid: Signal<In, Bit>,
    pub head: Signal<In, QueueEntry>,
    pub pop: Signal<Out, Bit>,
    /// compute->load tokens waiting, load->compute tokens given and not yet taken.
    pub avail_next: Signal<In, Bits<8>>,
    pub given_next: Signal<In, Bits<8>>,
    pub take_next: Signal<Out, Bit>,
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
    pub ibuf_we: Signal<Out, Bit>,
    pub wbuf_we: Signal<Out, Bit>,
    pub waddr: Signal<Out, Bits<16>>,
    /// Operand lanes of the entry being written (max(rows, cols) of them).
    pub wdata: Vec<Signal<Out, Bits<8>>>,
    pub idle: Signal<Out, Bit>,
    pub blocked: Signal<Out, Bit>,
    pub error: Signal<Out, Bit>,
    pub error_code: Signal<Out, Bits<8>>,
    pub error_pc: Signal<Out, Bits<32>>,
    pub retired: Signal<Out, Bit>,
    pub dma_wait: Signal<Out, Bit>,
    pub read_bytes: Signal<Out, Bits<16>>,

    gate: TokenGate,
    hdr: HeaderFields,
    fields: LoadFields,
    engine: LoadEngine,
    pc: DFF<Bits<32>>,
    push_next_q: DFF<Bit>,
    instr: Signal<Local, Bits<256>>,
    four_bit: Constant<Bit>,
    nibble: Constant<Bits<8>>,
    _lanes: usize,
    _pairs: usize,
}

impl LoadUnit {
    pub fn new(cfg: &AccelConfig) -> Self {
        let (a, m) = (&cfg.array, &cfg.memory);
        let b = cfg.axi_bytes_per_beat() as usize;
        let lanes = a.rows.max(a.cols) as usize;
        let four_bit = a.operand_bits == 4;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            halt: Default::default(),
            head_valid: Default::default(),
            head: Default::default(),
            pop: Default::default(),
            avail_next: Default::default(),
            given_next: Default::default(),
            take_next: Default::default(),
            give_next: Default::default(),
            dram_base: Default::default(),
            dram_size: Default::default(),
            ar_valid: Default::default(),
            ar_ready: Default::default(),
            ar_addr: Default::default(),
            ar_len: Default::default(),
            r_valid: Default::default(),
            r_data: (0..b).map(|_| Default::default()).collect(),
            r_resp: Default::default(),
            r_last: Default::default(),
            ibuf_we: Default::default(),
            wbuf_we: Default::default(),
            waddr: Default::default(),
            wdata: (0..lanes).map(|_| Default::default()).collect(),
            idle: Default::default(),
            blocked: Default::default(),
            error: Default::default(),
            error_code: Default::default(),
            error_pc: Default::default(),
            retired: Default::default(),
            dma_wait: Default::default(),
            read_bytes: Default::default(),
            gate: TokenGate::new(cfg.control.token_depth),
            hdr: Default::default(),
            fields: Default::default(),
            engine: LoadEngine::new(
                b,
                cfg.axi.max_burst_beats as usize,
                cfg.axi.max_outstanding as usize,
                [m.ibuf_entries, m.wbuf_entries, m.acc_entries, m.pbuf_entries],
                lanes,
                four_bit,
            ),
            pc: Default::default(),
            push_next_q: Default::default(),
            instr: Default::default(),
            four_bit: Constant::new(four_bit),
            nibble: Constant::new(0xfu64.into()),
            _lanes: lanes,
            _pairs: lanes / 2,
        }
    }
}

impl Logic for LoadUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, pc, push_next_q);
        clock!(self, clock, gate, engine);
        self.gate.reset.next = self.reset.val();
        self.engine.reset.next = self.reset.val();
        self.instr.next = self.head.val().get_bits::<256>(0);
        self.hdr.instr.next = self.instr.val();
        self.fields.instr.next = self.instr.val();

        // ---- Start the head when its tokens allow and the engine is free.
        self.gate.head_valid.next = self.head_valid.val();
        self.gate.ready.next = !self.engine.busy.val();
        self.gate.halt.next = self.halt.val();
        self.gate.pop_prev.next = false;
        self.gate.push_prev.next = false;
        self.gate.pop_next.next = self.hdr.pop_next.val().any();
        self.gate.push_next.next = self.hdr.push_next.val().any();
        self.gate.avail_prev.next = 0.into();
        self.gate.given_prev.next = 0.into();
        self.gate.avail_next.next = self.avail_next.val();
        self.gate.given_next.next = self.given_next.val();
        self.pop.next = self.gate.start.val();
        self.take_next.next = self.gate.take_next.val();
        self.give_next.next = self.gate.give_next.val();
        self.blocked.next = self.gate.blocked.val();

        self.engine.start.next = self.gate.start.val();
        self.engine.mem.next = self.fields.mem.val();
        self.engine.acc_elem.next = self.fields.acc_elem.val();
        self.engine.lanes.next = self.fields.lanes.val();
        self.engine.pad_value.next = self.fields.pad_value.val();
        self.engine.pad_top.next = self.fields.pad_top.val();
        self.engine.pad_bottom.next = self.fields.pad_bottom.val();
        self.engine.pad_left.next = self.fields.pad_left.val();
        self.engine.pad_right.next = self.fields.pad_right.val();
        self.engine.sram_addr.next = self.fields.sram_addr.val();
        self.engine.x_size.next = self.fields.x_size.val();
        self.engine.y_size.next = self.fields.y_size.val();
        self.engine.dram_addr.next = self.fields.dram_addr.val();
        self.engine.x_stride.next = self.fields.x_stride.val();
        self.engine.y_stride.next = self.fields.y_stride.val();
        self.engine.dram_base.next = self.dram_base.val();
        self.engine.dram_size.next = self.dram_size.val();
        self.engine.table_mode.next = false;
        self.engine.wr_ready.next = true;
        if self.gate.start.val() {
            self.pc.d.next = self.head.val().get_bits::<32>(256);
            self.push_next_q.d.next = self.hdr.push_next.val().any();
        }
        // ---- Completion gives the tokens.
        self.gate.complete.next = self.engine.done.val();
        self.gate.complete_push_prev.next = false;
        self.gate.complete_push_next.next = self.push_next_q.q.val();
        self.retired.next = self.engine.done.val();

        // ---- AXI read channel.
        self.ar_valid.next = self.engine.ar_valid.val();
        self.ar_addr.next = self.engine.ar_addr.val();
        self.ar_len.next = self.engine.ar_len.val();
        self.engine.ar_ready.next = self.ar_ready.val();
        self.engine.r_valid.next = self.r_valid.val();
        self.engine.r_resp.next = self.r_resp.val();
        self.engine.r_last.next = self.r_last.val();
        for j in 0..self.r_data.len() {
            self.engine.r_data[j].next = self.r_data[j].val();
        }

        // ---- Unpack the entry into operand lanes; lanes past `lanes` and padding
        // entries take the pad value.
        self.ibuf_we.next = self.engine.wr_valid.val() & (self.engine.cur_mem.val() == 0);
        self.wbuf_we.next = self.engine.wr_valid.val() & (self.engine.cur_mem.val() == 1);
        self.waddr.next = self.engine.wr_addr.val();
        for l in 0..self._lanes {
            self.wdata[l].next = self.engine.wr_bytes[l].val();
        }
        for p in 0..self._pairs {
            if self.four_bit.val() {
                self.wdata[2 * p].next = self.engine.wr_bytes[p].val() & self.nibble.val();
                self.wdata[2 * p + 1].next = self.engine.wr_bytes[p].val() >> 4;
            }
        }
        for l in 0..self._lanes {
            if self.engine.wr_pad.val() | (self.engine.cur_lanes.val().index() <= l) {
                self.wdata[l].next = self.engine.cur_pad_value.val();
            }
        }

        self.idle.next = !self.engine.busy.val();
        self.error.next = self.engine.error.val();
        self.error_code.next = self.engine.error_code.val();
        self.error_pc.next = self.pc.q.val();
        self.dma_wait.next = self.engine.waiting.val();
        self.read_bytes.next = self.engine.read_bytes.val();
    }
}
