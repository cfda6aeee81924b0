//! Byte re-alignment on 32-bit words, shared by the DMA read and write clients.
//!
//! Output word m is the four bytes from byte `start + 4m` of a two-beat window:
//! with `start = 4q + r`, window words m+q and m+q+1 shifted down by 8r. A 64-bit
//! funnel shift per output word instead of a byte multiplexer per output byte
//! (a quarter of the signals for the Verilated model, see `docs/simulation.md`).

use crate::vec_of;
use crate::widen::Widen;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct WordFunnel {
    /// Two beats as 32-bit words; byte 4k + j is bits 8j.. of word k.
    pub window: Vec<Signal<In, Bits<32>>>,
    /// The first byte, below one beat (a larger value selects word pair 0).
    pub start: Signal<In, Bits<32>>,
    pub out: Vec<Signal<Out, Bits<32>>>,
    /// Window words zero-extended (see `Widen`).
    wide: Vec<Widen<64, 32>>,
    pair: Vec<Signal<Local, Bits<64>>>,
    shifted: Vec<Signal<Local, Bits<64>>>,
    start_words: Signal<Local, Bits<32>>,
    start_bits: Signal<Local, Bits<64>>,
    _w: usize,
    _window_words: usize,
}

impl WordFunnel {
    /// A funnel for beats of `words` 32-bit words.
    pub fn new(words: usize) -> Self {
        Self {
            window: (0..2 * words).map(|_| Default::default()).collect(),
            start: Default::default(),
            out: (0..words).map(|_| Default::default()).collect(),
            wide: (0..2 * words).map(|_| Default::default()).collect(),
            pair: (0..words).map(|_| Default::default()).collect(),
            shifted: (0..words).map(|_| Default::default()).collect(),
            start_words: Default::default(),
            start_bits: Default::default(),
            _w: words,
            _window_words: 2 * words,
        }
    }
}

impl Logic for WordFunnel {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..self._window_words {
            self.wide[i].narrow.next = self.window[i].val();
        }
        self.start_words.next = self.start.val() >> 2;
        self.start_bits.next = bit_cast::<64, 32>(self.start.val() & 3) << 3;
        for m in 0..self._w {
            self.pair[m].next = (self.wide[m + 1].wide.val() << 32) | self.wide[m].wide.val();
            for q in 1..self._w {
                if self.start_words.val().index() == q {
                    self.pair[m].next = (self.wide[m + q + 1].wide.val() << 32) | self.wide[m + q].wide.val();
                }
            }
            self.shifted[m].next = self.pair[m].val() >> self.start_bits.val();
            self.out[m].next = self.shifted[m].val().get_bits::<32>(0);
        }
    }
}

/// Bytes packed into 32-bit words, byte 4k + j at bits 8j.. of word k: the form in
/// which both DMA clients hold beats.
#[derive(LogicBlock)]
pub struct BytesToWords {
    pub bytes: Vec<Signal<In, Bits<8>>>,
    pub words: Vec<Signal<Out, Bits<32>>>,
    /// The bytes zero-extended (see `Widen`).
    wide: Vec<Widen<32, 8>>,
}

impl BytesToWords {
    /// A packer for `words` words (four times as many bytes).
    pub fn new(words: usize) -> Self {
        Self { bytes: vec_of(4 * words), words: vec_of(words), wide: vec_of(4 * words) }
    }
}

impl Logic for BytesToWords {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..self.bytes.len() {
            self.wide[i].narrow.next = self.bytes[i].val();
        }
        for w in 0..self.words.len() {
            self.words[w].next = self.wide[4 * w].wide.val()
                | (self.wide[4 * w + 1].wide.val() << 8)
                | (self.wide[4 * w + 2].wide.val() << 16)
                | (self.wide[4 * w + 3].wide.val() << 24);
        }
    }
}
