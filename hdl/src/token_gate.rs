//! Dependency-token bookkeeping of one queue (docs/isa.md §2, start rule): the head
//! instruction starts when every token it pops is there and every FIFO it pushes
//! has room, counting the pushes of started-but-unfinished instructions as already
//! made; its pushes happen when the unit reports it complete (in order).

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct TokenGate {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// The queue has an instruction and the unit could start it now.
    pub head_valid: Signal<In, Bit>,
    pub ready: Signal<In, Bit>,
    pub halt: Signal<In, Bit>,
    pub pop_prev: Signal<In, Bit>,
    pub pop_next: Signal<In, Bit>,
    pub push_prev: Signal<In, Bit>,
    pub push_next: Signal<In, Bit>,
    /// Tokens waiting for this queue from its neighbours.
    pub avail_prev: Signal<In, Bits<8>>,
    pub avail_next: Signal<In, Bits<8>>,
    /// Tokens this queue has given its neighbours that they have not taken yet.
    pub given_prev: Signal<In, Bits<8>>,
    pub given_next: Signal<In, Bits<8>>,
    /// An instruction finished; its push flags.
    pub complete: Signal<In, Bit>,
    pub complete_push_prev: Signal<In, Bit>,
    pub complete_push_next: Signal<In, Bit>,
    pub start: Signal<Out, Bit>,
    /// The head waits only for tokens (or room for them).
    pub blocked: Signal<Out, Bit>,
    pub take_prev: Signal<Out, Bit>,
    pub take_next: Signal<Out, Bit>,
    pub give_prev: Signal<Out, Bit>,
    pub give_next: Signal<Out, Bit>,
    pending_prev: DFF<Bits<8>>,
    pending_next: DFF<Bits<8>>,
    ok: Signal<Local, Bit>,
    go: Signal<Local, Bit>,
    depth: Constant<Bits<8>>,
}

impl TokenGate {
    pub fn new(token_depth: u32) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            head_valid: Default::default(),
            ready: Default::default(),
            halt: Default::default(),
            pop_prev: Default::default(),
            pop_next: Default::default(),
            push_prev: Default::default(),
            push_next: Default::default(),
            avail_prev: Default::default(),
            avail_next: Default::default(),
            given_prev: Default::default(),
            given_next: Default::default(),
            complete: Default::default(),
            complete_push_prev: Default::default(),
            complete_push_next: Default::default(),
            start: Default::default(),
            blocked: Default::default(),
            take_prev: Default::default(),
            take_next: Default::default(),
            give_prev: Default::default(),
            give_next: Default::default(),
            pending_prev: Default::default(),
            pending_next: Default::default(),
            ok: Default::default(),
            go: Default::default(),
            depth: Constant::new(u64::from(token_depth).into()),
        }
    }
}

impl Logic for TokenGate {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, pending_prev, pending_next);
        self.ok.next = (!self.pop_prev.val() | self.avail_prev.val().any())
            & (!self.pop_next.val() | self.avail_next.val().any())
            & (!self.push_prev.val() | ((self.given_prev.val() + self.pending_prev.q.val()) < self.depth.val()))
            & (!self.push_next.val() | ((self.given_next.val() + self.pending_next.q.val()) < self.depth.val()));
        self.go.next = self.head_valid.val() & self.ready.val() & !self.halt.val() & self.ok.val();
        self.start.next = self.go.val();
        self.blocked.next = self.head_valid.val() & self.ready.val() & !self.halt.val() & !self.ok.val();
        self.take_prev.next = self.go.val() & self.pop_prev.val();
        self.take_next.next = self.go.val() & self.pop_next.val();
        self.give_prev.next = self.complete.val() & self.complete_push_prev.val();
        self.give_next.next = self.complete.val() & self.complete_push_next.val();
        self.pending_prev.d.next = self.pending_prev.q.val()
            + bit_cast::<8, 1>((self.go.val() & self.push_prev.val()).into())
            - bit_cast::<8, 1>((self.complete.val() & self.complete_push_prev.val()).into());
        self.pending_next.d.next = self.pending_next.q.val()
            + bit_cast::<8, 1>((self.go.val() & self.push_next.val()).into())
            - bit_cast::<8, 1>((self.complete.val() & self.complete_push_next.val()).into());
        if self.reset.val() {
            self.pending_prev.d.next = 0.into();
            self.pending_next.d.next = 0.into();
        }
    }
}
