//! A register with a clock enable, `if (en) q <= d`, as a leaf cell.
//!
//! rust-hdl's `DFF` holds its value through the combinational default `d = q`, so a
//! register loaded only now and then is `q <= en ? x : q` in the Verilog. Verilator
//! schedules such a self-dependent register before the logic that reads it and so
//! keeps a shadow copy of it (`__Vdly__`), copied in and out every cycle; with the
//! enable inside the clocked block it updates the register in place, after its
//! readers. Synthesis maps both forms to the same flip-flops with clock enable
//! (docs/simulation.md). Like rust-hdl's own `DFF`, the leaf is a Verilog template
//! with a Rust simulation model.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct DffEn<T: Synth> {
    pub clock: Signal<In, Clock>,
    /// Load `d` at the next rising edge; otherwise `q` holds.
    pub en: Signal<In, Bit>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
}

impl<T: Synth> Logic for DffEn<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.en.val() {
            self.q.next = self.d.val();
        }
    }

    fn connect(&mut self) {
        self.q.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "\
initial begin
   q = 0;
end

always @(posedge clock) begin
   if (en) q <= d;
end
"
            .into(),
        )
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "dff_en".into(),
            clock: "clock".into(),
            inputs: vec!["en".into(), "d".into()],
            outputs: vec!["q".into()],
        }]
    }
}
