//! Simple dual-port RAM with a registered read port: the block-RAM inference
//! template, with its depth chosen at generation time.
//!
//! rust-hdl's own `RAM<D, N>` fixes the depth to `2^N` through a const generic and
//! is itself a Verilog template; this one takes the depth from the config (any
//! value, not only powers of two) so that one generator serves every config. It
//! is the only memory primitive in the design (see docs/hdl.md).

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct SyncRam<D: Synth> {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<16>>,
    /// Data at `read_address` one cycle after it was presented (old data on a
    /// same-cycle write to the same address).
    pub read_data: Signal<Out, D>,
    pub write_address: Signal<In, Bits<16>>,
    pub write_data: Signal<In, D>,
    pub write_enable: Signal<In, Bit>,
    _depth: usize,
    _mem: Vec<D>,
    _style: RamStyle,
}

/// Which memory resource synthesis should build a RAM from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamStyle {
    /// The tool decides (block RAM when deep, LUT RAM when shallow).
    Auto,
    /// Block RAM even when shallow.
    Block,
    /// UltraRAM (UltraScale+): large memories that would crowd out block RAM.
    Ultra,
}

impl RamStyle {
    fn attribute(self) -> &'static str {
        match self {
            RamStyle::Auto => "",
            RamStyle::Block => "(* ram_style = \"block\" *) ",
            RamStyle::Ultra => "(* ram_style = \"ultra\" *) ",
        }
    }
}

impl<D: Synth> SyncRam<D> {
    pub fn new(depth: usize) -> Self {
        assert!((1..=1 << 16).contains(&depth), "RAM depth {depth} is outside 1..=65536");
        Self {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _depth: depth,
            _mem: vec![D::default(); depth],
            _style: RamStyle::Auto,
        }
    }

    /// A RAM that synthesis must build from block RAM even when it is shallow
    /// (`ram_style = "block"`): wide, shallow memories would otherwise take
    /// thousands of LUTs as distributed RAM.
    pub fn block(depth: usize) -> Self {
        Self::styled(depth, RamStyle::Block)
    }

    /// A RAM built the way `style` asks.
    pub fn styled(depth: usize, style: RamStyle) -> Self {
        Self { _style: style, ..Self::new(depth) }
    }

    /// Address bits actually decoded.
    fn address_bits(&self) -> usize {
        clog2(self._depth).max(1)
    }
}

impl<D: Synth> Logic for SyncRam<D> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let read = self.read_address.val().index();
            self.read_data.next = self._mem.get(read).copied().unwrap_or_default();
            if self.write_enable.val() {
                let write = self.write_address.val().index();
                if write < self._depth {
                    self._mem[write] = self.write_data.val();
                }
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let a = self.address_bits();
        Verilog::Custom(format!(
            "\
{style}reg [{msb}:0] mem [0:{last}];
wire [{amsb}:0] ra = read_address[{amsb}:0];
wire [{amsb}:0] wa = write_address[{amsb}:0];

always @(posedge clock) begin
   if (write_enable) begin
      mem[wa] <= write_data;
   end
   read_data <= mem[ra];
end
",
            msb = D::BITS - 1,
            last = self._depth - 1,
            amsb = a - 1,
            style = self._style.attribute(),
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "sync_ram".into(),
            clock: "clock".into(),
            inputs: vec!["read_address".into(), "write_address".into(), "write_data".into(), "write_enable".into()],
            outputs: vec!["read_data".into()],
        }]
    }
}

/// One column's parameter memory (PBUF): bias, multiplier and shift of each
/// entry in one 72-bit block-RAM word, so a column costs one RAMB36 (72 bits is
/// its widest simple-dual-port shape) rather than three RAMs or 24 LUTRAM cells.
#[derive(LogicBlock)]
pub struct ParamRam {
    pub clock: Signal<In, Clock>,
    pub write_enable: Signal<In, Bit>,
    pub write_address: Signal<In, Bits<16>>,
    pub bias_in: Signal<In, Bits<32>>,
    pub mult_in: Signal<In, Bits<32>>,
    pub shift_in: Signal<In, Bits<8>>,
    pub read_address: Signal<In, Bits<16>>,
    /// The entry at `read_address`, one cycle later.
    pub bias: Signal<Out, Bits<32>>,
    pub mult: Signal<Out, Bits<32>>,
    pub shift: Signal<Out, Bits<8>>,
    ram: SyncRam<Bits<72>>,
    word: Signal<Local, Bits<72>>,
}

impl ParamRam {
    pub fn new(depth: usize) -> Self {
        Self {
            clock: Default::default(),
            write_enable: Default::default(),
            write_address: Default::default(),
            bias_in: Default::default(),
            mult_in: Default::default(),
            shift_in: Default::default(),
            read_address: Default::default(),
            bias: Default::default(),
            mult: Default::default(),
            shift: Default::default(),
            ram: SyncRam::block(depth),
            word: Default::default(),
        }
    }
}

impl Logic for ParamRam {
    #[hdl_gen]
    fn update(&mut self) {
        self.ram.clock.next = self.clock.val();
        self.ram.write_enable.next = self.write_enable.val();
        self.ram.write_address.next = self.write_address.val();
        self.ram.read_address.next = self.read_address.val();
        self.ram.write_data.next = bit_cast::<72, 32>(self.bias_in.val())
            | (bit_cast::<72, 32>(self.mult_in.val()) << 32)
            | (bit_cast::<72, 8>(self.shift_in.val()) << 64);
        self.word.next = self.ram.read_data.val();
        self.bias.next = self.word.val().get_bits::<32>(0);
        self.mult.next = self.word.val().get_bits::<32>(32);
        self.shift.next = self.word.val().get_bits::<8>(64);
    }
}
