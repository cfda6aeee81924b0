// C ABI around the Verilated tessera_top: clocking, an AXI4 memory model (the "DDR")
// with latency and bandwidth, an AXI4-Lite master, and optional FST tracing.
//
// The DDR buffer belongs to the Rust caller; the model reads and writes it through
// a pointer, so no data is copied per beat across the FFI boundary.
//
// Compiled with -DTSIM_DATA_BITS=<bits of m_axi_rdata>.

#include "Vtop.h"
#include "Vtop___024root.h"
#include "verilated.h"
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>
#if VM_TRACE
#include "verilated_fst_c.h"
#endif

#ifndef TSIM_DATA_BITS
#error "define TSIM_DATA_BITS"
#endif
static const int BEAT = TSIM_DATA_BITS / 8;

namespace {

struct Burst {
    uint64_t addr;
    uint32_t beats;
    uint32_t id;
    uint64_t ready_at;
    uint32_t done;
};

// Port access for every data width Verilator may choose (QData up to 64 bits, VlWide beyond).
template <typename T> void put_bytes(T& port, const uint8_t* bytes) {
    uint64_t v = 0;
    memcpy(&v, bytes, BEAT);
    port = static_cast<T>(v);
}
template <std::size_t N> void put_bytes(VlWide<N>& port, const uint8_t* bytes) {
    for (std::size_t w = 0; w < N; w++) {
        uint32_t v = 0;
        memcpy(&v, bytes + 4 * w, 4);
        port[w] = v;
    }
}
template <typename T> void get_bytes(const T& port, uint8_t* bytes) {
    uint64_t v = static_cast<uint64_t>(port);
    memcpy(bytes, &v, BEAT);
}
template <std::size_t N> void get_bytes(const VlWide<N>& port, uint8_t* bytes) {
    for (std::size_t w = 0; w < N; w++) {
        uint32_t v = port[w];
        memcpy(bytes + 4 * w, &v, 4);
    }
}

// One eval per clock cycle instead of two. Verilator finds a rising edge by
// comparing `clk` with its value at the previous eval, so a cycle normally costs an
// eval at the falling edge too, although nothing in the design is clocked on it
// and every AXI output of tessera_top is a register (the handshakes can be sampled
// as the last rising edge left them). Clearing the remembered value lets the next
// eval see the rising edge directly; it saves the second pass over the
// input-combinational logic and the eval overhead (about 3% of the model's time).
// Verilator 5.006 calls the member `__Vtrigrprev__TOP__clk`, later releases
// `__Vtrigprevexpr___TOP__clk__0`. Models whose root has neither (other
// Verilator versions) and traced models (the waveform should show the clock)
// keep the two-eval cycle.
template <typename R, typename = void>
struct HasClockMemory : std::false_type {};
template <typename R>
struct HasClockMemory<R, std::void_t<decltype(std::declval<R&>().__Vtrigprevexpr___TOP__clk__0)>>
    : std::true_type {};
template <typename R, typename = void>
struct HasOldClockMemory : std::false_type {};
template <typename R>
struct HasOldClockMemory<R, std::void_t<decltype(std::declval<R&>().__Vtrigrprev__TOP__clk)>> : std::true_type {};

template <typename R>
void forget_clock(R& root) {
    if constexpr (HasClockMemory<R>::value) {
        root.__Vtrigprevexpr___TOP__clk__0 = 0;
    } else if constexpr (HasOldClockMemory<R>::value) {
        root.__Vtrigrprev__TOP__clk = 0;
    }
}

constexpr bool ONE_EVAL =
    (HasClockMemory<Vtop___024root>::value || HasOldClockMemory<Vtop___024root>::value) && !VM_TRACE;

}  // namespace

// The model's evaluation proper, which `Vtop::eval()` wraps in per-call bookkeeping:
// first-call initialization, freeing queued class objects and draining the message
// queue of threaded models. tessera_top has no classes, no $display and one thread,
// so once the model is initialized the one-eval cycle calls it directly (about 1% of
// the model's time). Both Verilator 5.006 and 5.048 define it in Vtop.cpp.
void Vtop___024root___eval(Vtop___024root* vlSelf);

struct TSim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vtop> top;
#if VM_TRACE
    std::unique_ptr<VerilatedFstC> trace;
#endif
    uint64_t cycle = 0;
    bool initialized = false;  // `eval()` has run once (see Vtop___024root___eval)
    uint8_t* ddr = nullptr;
    uint64_t ddr_base = 0;
    uint64_t ddr_len = 0;
    uint32_t rd_latency = 20;
    uint32_t wr_latency = 10;
    double bytes_per_cycle = 8.0;
    double budget = 0.0;
    uint32_t max_reads = 16;
    std::deque<Burst> reads;
    std::deque<Burst> writes;        // address accepted, data in progress
    std::deque<uint64_t> responses;  // cycles at which B responses become due
    std::deque<uint32_t> response_codes;
    uint32_t write_error = 0;
    uint64_t read_bytes = 0;
    uint64_t write_bytes = 0;

    bool in_ddr(uint64_t addr, uint64_t len) const {
        return addr >= ddr_base && addr + len <= ddr_base + ddr_len;
    }

    // Drive the slave's outputs for this cycle from the model state.
    void drive() {
        Vtop& t = *top;
        t.m_axi_arready = reads.size() < max_reads;
        t.m_axi_awready = writes.size() < 16;
        t.m_axi_wready = !writes.empty() && budget >= BEAT;
        t.m_axi_rvalid = 0;
        t.m_axi_rlast = 0;
        if (!reads.empty() && reads.front().ready_at <= cycle && budget >= BEAT) {
            Burst& b = reads.front();
            uint64_t addr = b.addr + uint64_t(b.done) * BEAT;
            uint8_t bytes[64] = {0};
            bool ok = in_ddr(addr, BEAT);
            if (ok) memcpy(bytes, ddr + (addr - ddr_base), BEAT);
            put_bytes(t.m_axi_rdata, bytes);
            t.m_axi_rresp = ok ? 0 : 3;
            t.m_axi_rid = b.id;
            t.m_axi_rvalid = 1;
            t.m_axi_rlast = b.done + 1 == b.beats;
        }
        t.m_axi_bvalid = !responses.empty() && responses.front() <= cycle;
        t.m_axi_bresp = t.m_axi_bvalid ? response_codes.front() : 0;
    }

    // One clock cycle: settle, sample handshakes, rising edge, update the model.
    void tick() {
        Vtop& t = *top;
        drive();
        if (!ONE_EVAL) {
            t.clk = 0;
            t.eval();
#if VM_TRACE
            if (trace) trace->dump(ctx->time());
            ctx->timeInc(1);
#endif
        }
        bool ar = t.m_axi_arvalid && t.m_axi_arready;
        Burst ar_burst{t.m_axi_araddr, uint32_t(t.m_axi_arlen) + 1, uint32_t(t.m_axi_arid), cycle + rd_latency, 0};
        bool r = t.m_axi_rvalid && t.m_axi_rready;
        bool aw = t.m_axi_awvalid && t.m_axi_awready;
        Burst aw_burst{t.m_axi_awaddr, uint32_t(t.m_axi_awlen) + 1, 0, 0, 0};
        bool w = t.m_axi_wvalid && t.m_axi_wready;
        uint8_t w_bytes[64];
        if (w) get_bytes(t.m_axi_wdata, w_bytes);
        uint64_t w_strb = t.m_axi_wstrb;
        bool b = t.m_axi_bvalid && t.m_axi_bready;

        t.clk = 1;
        if (ONE_EVAL) forget_clock(*t.rootp);
        if (ONE_EVAL && initialized) {
            Vtop___024root___eval(t.rootp);
        } else {
            t.eval();
            initialized = true;
        }
#if VM_TRACE
        if (trace) trace->dump(ctx->time());
        ctx->timeInc(1);
#endif
        budget = std::min(budget + bytes_per_cycle, 4.0 * BEAT + bytes_per_cycle);
        if (ar) reads.push_back(ar_burst);
        if (r) {
            budget -= BEAT;
            read_bytes += BEAT;
            Burst& rb = reads.front();
            if (++rb.done == rb.beats) reads.pop_front();
        }
        if (aw) writes.push_back(aw_burst);
        if (w) {
            budget -= BEAT;
            write_bytes += BEAT;
            Burst& wb = writes.front();
            uint64_t addr = wb.addr + uint64_t(wb.done) * BEAT;
            bool ok = in_ddr(addr, BEAT);
            if (ok) {
                for (int i = 0; i < BEAT; i++) {
                    if (w_strb >> i & 1) ddr[addr - ddr_base + i] = w_bytes[i];
                }
            } else {
                wb.id = 3;  // remember the decode error for the response
            }
            if (++wb.done == wb.beats) {
                responses.push_back(cycle + wr_latency);
                response_codes.push_back(wb.id == 3 ? 3 : 0);
                writes.pop_front();
            }
        }
        if (b) {
            responses.pop_front();
            response_codes.pop_front();
        }
        cycle++;
    }
};

extern "C" {

TSim* tsim_new() {
    TSim* s = new TSim();
    s->ctx.reset(new VerilatedContext);
    s->top.reset(new Vtop(s->ctx.get()));
    Vtop& t = *s->top;
    t.resetn = 0;
    t.s_axi_awvalid = 0;
    t.s_axi_wvalid = 0;
    t.s_axi_bready = 0;
    t.s_axi_arvalid = 0;
    t.s_axi_rready = 0;
    return s;
}

void tsim_free(TSim* s) {
#if VM_TRACE
    if (s->trace) s->trace->close();
#endif
    s->top->final();
    delete s;
}

int tsim_trace_open(TSim* s, const char* path) {
#if VM_TRACE
    s->ctx->traceEverOn(true);
    s->trace.reset(new VerilatedFstC);
    s->top->trace(s->trace.get(), 99);
    s->trace->open(path);
    return 0;
#else
    (void)s;
    (void)path;
    return -1;
#endif
}

void tsim_trace_close(TSim* s) {
#if VM_TRACE
    if (s->trace) {
        s->trace->close();
        s->trace.reset();
    }
#else
    (void)s;
#endif
}

void tsim_set_ddr(TSim* s, uint8_t* ptr, uint64_t base, uint64_t len) {
    s->ddr = ptr;
    s->ddr_base = base;
    s->ddr_len = len;
}

void tsim_set_timing(TSim* s, uint32_t rd_latency, uint32_t wr_latency, double bytes_per_cycle, uint32_t max_reads) {
    s->rd_latency = rd_latency;
    s->wr_latency = wr_latency;
    s->bytes_per_cycle = bytes_per_cycle;
    s->max_reads = max_reads ? max_reads : 1;
}

void tsim_reset(TSim* s, uint32_t cycles) {
    s->top->resetn = 0;
    for (uint32_t i = 0; i < cycles; i++) s->tick();
    s->top->resetn = 1;
    s->tick();
}

uint32_t tsim_beat_bytes() { return BEAT; }

uint32_t tsim_evals_per_cycle() { return ONE_EVAL ? 1 : 2; }

uint64_t tsim_cycle(TSim* s) { return s->cycle; }

uint64_t tsim_ddr_bytes(TSim* s, int write) { return write ? s->write_bytes : s->read_bytes; }

// AXI4-Lite write; returns 0 on an OKAY response, 1 on SLVERR/DECERR, -1 on timeout.
int tsim_reg_write(TSim* s, uint32_t addr, uint32_t data, uint64_t max_cycles) {
    Vtop& t = *s->top;
    t.s_axi_awaddr = addr;
    t.s_axi_awvalid = 1;
    t.s_axi_wdata = data;
    t.s_axi_wstrb = 0xf;
    t.s_axi_wvalid = 1;
    t.s_axi_bready = 1;
    for (uint64_t i = 0; i < max_cycles; i++) {
        t.clk = 0;
        s->drive();
        t.eval();
        bool aw = t.s_axi_awvalid && t.s_axi_awready;
        bool w = t.s_axi_wvalid && t.s_axi_wready;
        bool b = t.s_axi_bvalid && t.s_axi_bready;
        uint32_t resp = t.s_axi_bresp;
        s->tick();
        if (aw) t.s_axi_awvalid = 0;
        if (w) t.s_axi_wvalid = 0;
        if (b) {
            t.s_axi_bready = 0;
            return resp == 0 ? 0 : 1;
        }
    }
    return -1;
}

// AXI4-Lite read; returns 0 and the data on an OKAY response, 1 on SLVERR/DECERR,
// -1 on timeout.
int tsim_reg_read(TSim* s, uint32_t addr, uint32_t* data, uint64_t max_cycles) {
    Vtop& t = *s->top;
    t.s_axi_araddr = addr;
    t.s_axi_arvalid = 1;
    t.s_axi_rready = 1;
    for (uint64_t i = 0; i < max_cycles; i++) {
        t.clk = 0;
        s->drive();
        t.eval();
        bool ar = t.s_axi_arvalid && t.s_axi_arready;
        bool r = t.s_axi_rvalid && t.s_axi_rready;
        uint32_t value = t.s_axi_rdata;
        uint32_t resp = t.s_axi_rresp;
        s->tick();
        if (ar) t.s_axi_arvalid = 0;
        if (r) {
            t.s_axi_rready = 0;
            *data = value;
            return resp == 0 ? 0 : 1;
        }
    }
    return -1;
}

// Runs until the interrupt line is high (or `max_cycles` pass); returns the cycles run.
uint64_t tsim_run_until_irq(TSim* s, uint64_t max_cycles) {
    uint64_t start = s->cycle;
    while (s->cycle - start < max_cycles) {
        s->tick();
        if (s->top->irq) break;
    }
    return s->cycle - start;
}

int tsim_irq(TSim* s) { return s->top->irq; }

void tsim_ticks(TSim* s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) s->tick();
}

}  // extern "C"
