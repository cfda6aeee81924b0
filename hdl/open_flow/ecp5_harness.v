// tessera_ecp5: tessera_top on a Lattice ECP5 with five pins instead of ~200.
//
// The open-tool flow (`tessera synth --flow ecp5`, hdl/src/open_flow.rs) places and
// routes this wrapper, so the accelerator is implemented whole and nothing can be
// optimized away:
//   * the AXI4 master (m_axi_*) talks to an on-chip memory of 2^MEM_WORDS_LOG2 words
//     of DW bits (block RAM, true dual port: writes on one port, reads on the other),
//     standing in for DDR; addresses wrap around it;
//   * the AXI4-Lite slave (s_axi_*) is driven by a UART register bridge, 8N1 at
//     clock / CLKS_PER_BIT baud:
//        host -> 'w' (0x77) a[15:8] a[7:0] d[31:24] d[23:16] d[15:8] d[7:0]
//        fpga -> one byte: BRESP (0 = OKAY)
//        host -> 'r' (0x72) a[15:8] a[7:0]
//        fpga -> d[31:24] d[23:16] d[15:8] d[7:0]
//     (a[11:0] is the register offset; other command bytes are ignored);
//   * irq drives led_irq.
// rst_n is synchronized and drives the core's resetn.
//
// Verilog-2005; the generator substitutes nothing here: the parameters are set with
// Yosys `chparam` from the config's [axi] section and clock.

module tessera_ecp5 #(
    parameter DW = 64,
    parameter AW = 32,
    parameter CLKS_PER_BIT = 868,
    parameter MEM_WORDS_LOG2 = 10
) (
    input  wire clk,
    input  wire rst_n,
    input  wire uart_rx,
    output wire uart_tx,
    output wire led_irq
);
    localparam SW = DW / 8;
    localparam SB = (DW == 32) ? 2 : (DW == 64) ? 3 : (DW == 128) ? 4 : 5;
    localparam MW = MEM_WORDS_LOG2;

    // ---- reset synchronizer ----------------------------------------------------
    reg [1:0] rst_sync = 2'b00;
    always @(posedge clk) rst_sync <= {rst_sync[0], rst_n};
    wire resetn = rst_sync[1];

    // ---- the accelerator --------------------------------------------------------
    wire [11:0] s_awaddr, s_araddr;
    reg         s_awvalid, s_wvalid, s_bready, s_arvalid, s_rready;
    wire        s_awready, s_wready, s_bvalid, s_arready, s_rvalid;
    wire [31:0] s_wdata, s_rdata;
    wire [1:0]  s_bresp, s_rresp;

    wire [1:0]    m_arid;
    wire [AW-1:0] m_araddr, m_awaddr;
    wire [7:0]    m_arlen, m_awlen;
    wire [2:0]    m_arsize, m_awsize, m_arprot, m_awprot;
    wire [1:0]    m_arburst, m_awburst;
    wire [3:0]    m_arcache, m_awcache;
    wire          m_arvalid, m_arready, m_rlast, m_rvalid, m_rready;
    wire          m_awvalid, m_awready, m_wlast, m_wvalid, m_wready, m_bvalid, m_bready;
    wire [1:0]    m_rid, m_rresp, m_bresp;
    wire [DW-1:0] m_rdata, m_wdata;
    wire [SW-1:0] m_wstrb;
    wire          irq;

    tessera_top core (
        .clk(clk), .resetn(resetn), .irq(irq),
        .s_axi_awaddr(s_awaddr), .s_axi_awvalid(s_awvalid), .s_axi_awready(s_awready),
        .s_axi_wdata(s_wdata), .s_axi_wstrb(4'hf), .s_axi_wvalid(s_wvalid), .s_axi_wready(s_wready),
        .s_axi_bresp(s_bresp), .s_axi_bvalid(s_bvalid), .s_axi_bready(s_bready),
        .s_axi_araddr(s_araddr), .s_axi_arvalid(s_arvalid), .s_axi_arready(s_arready),
        .s_axi_rdata(s_rdata), .s_axi_rresp(s_rresp), .s_axi_rvalid(s_rvalid), .s_axi_rready(s_rready),
        .m_axi_arid(m_arid), .m_axi_araddr(m_araddr), .m_axi_arlen(m_arlen), .m_axi_arsize(m_arsize),
        .m_axi_arburst(m_arburst), .m_axi_arcache(m_arcache), .m_axi_arprot(m_arprot),
        .m_axi_arvalid(m_arvalid), .m_axi_arready(m_arready),
        .m_axi_rid(m_rid), .m_axi_rdata(m_rdata), .m_axi_rresp(m_rresp), .m_axi_rlast(m_rlast),
        .m_axi_rvalid(m_rvalid), .m_axi_rready(m_rready),
        .m_axi_awaddr(m_awaddr), .m_axi_awlen(m_awlen), .m_axi_awsize(m_awsize),
        .m_axi_awburst(m_awburst), .m_axi_awcache(m_awcache), .m_axi_awprot(m_awprot),
        .m_axi_awvalid(m_awvalid), .m_axi_awready(m_awready),
        .m_axi_wdata(m_wdata), .m_axi_wstrb(m_wstrb), .m_axi_wlast(m_wlast),
        .m_axi_wvalid(m_wvalid), .m_axi_wready(m_wready),
        .m_axi_bresp(m_bresp), .m_axi_bvalid(m_bvalid), .m_axi_bready(m_bready)
    );
    assign led_irq = irq;

    // ---- on-chip memory behind the AXI4 master ----------------------------------
    reg [DW-1:0] mem [0:(1 << MW) - 1];

    // Writes: AW, then W beats until WLAST, then B. INCR bursts only (the core
    // issues nothing else).
    localparam W_ADDR = 2'd0, W_DATA = 2'd1, W_RESP = 2'd2;
    reg [1:0]    wr_state;
    reg [MW-1:0] wr_idx;
    assign m_awready = (wr_state == W_ADDR);
    assign m_wready  = (wr_state == W_DATA);
    assign m_bvalid  = (wr_state == W_RESP);
    assign m_bresp   = 2'b00;
    always @(posedge clk) begin
        if (!resetn) begin
            wr_state <= W_ADDR;
        end else begin
            case (wr_state)
                W_ADDR: if (m_awvalid) begin
                    wr_idx   <= m_awaddr[SB +: MW];
                    wr_state <= W_DATA;
                end
                W_DATA: if (m_wvalid) begin
                    wr_idx <= wr_idx + 1'b1;
                    if (m_wlast) wr_state <= W_RESP;
                end
                default: if (m_bready) wr_state <= W_ADDR;
            endcase
        end
    end
    integer b;
    always @(posedge clk) begin
        if (wr_state == W_DATA && m_wvalid) begin
            for (b = 0; b < SW; b = b + 1)
                if (m_wstrb[b]) mem[wr_idx][8 * b +: 8] <= m_wdata[8 * b +: 8];
        end
    end

    // Reads: AR, then one beat every other cycle (fetch, then present) until the
    // burst's last. Reads the block RAM synchronously.
    localparam R_ADDR = 2'd0, R_FETCH = 2'd1, R_DATA = 2'd2;
    reg [1:0]    rd_state;
    reg [MW-1:0] rd_idx;
    reg [7:0]    rd_left;
    reg [1:0]    rd_id;
    reg [DW-1:0] rd_q;
    assign m_arready = (rd_state == R_ADDR);
    assign m_rvalid  = (rd_state == R_DATA);
    assign m_rdata   = rd_q;
    assign m_rid     = rd_id;
    assign m_rlast   = (rd_left == 8'd0);
    assign m_rresp   = 2'b00;
    always @(posedge clk) begin
        if (rd_state == R_FETCH) rd_q <= mem[rd_idx];
    end
    always @(posedge clk) begin
        if (!resetn) begin
            rd_state <= R_ADDR;
        end else begin
            case (rd_state)
                R_ADDR: if (m_arvalid) begin
                    rd_idx   <= m_araddr[SB +: MW];
                    rd_left  <= m_arlen;
                    rd_id    <= m_arid;
                    rd_state <= R_FETCH;
                end
                R_FETCH: rd_state <= R_DATA;
                default: if (m_rready) begin
                    rd_idx   <= rd_idx + 1'b1;
                    rd_left  <= rd_left - 1'b1;
                    rd_state <= (rd_left == 8'd0) ? R_ADDR : R_FETCH;
                end
            endcase
        end
    end

    // ---- UART receiver (8N1, sampled mid-bit) --------------------------------------
    reg [1:0]  rx_sync = 2'b11;
    always @(posedge clk) rx_sync <= {rx_sync[0], uart_rx};
    wire       rx = rx_sync[1];
    reg        rx_busy, rx_done;
    reg [3:0]  rx_bit;
    reg [15:0] rx_cnt;
    reg [7:0]  rx_shift, rx_byte;
    always @(posedge clk) begin
        rx_done <= 1'b0;
        if (!resetn) begin
            rx_busy <= 1'b0;
        end else if (!rx_busy) begin
            if (!rx) begin
                rx_busy <= 1'b1;
                rx_bit  <= 4'd0;
                rx_cnt  <= CLKS_PER_BIT / 2;
            end
        end else if (rx_cnt != 16'd0) begin
            rx_cnt <= rx_cnt - 1'b1;
        end else begin
            rx_cnt <= CLKS_PER_BIT - 1;
            if (rx_bit == 4'd0) begin
                if (rx) rx_busy <= 1'b0;  // a glitch, not a start bit
                rx_bit <= 4'd1;
            end else if (rx_bit == 4'd9) begin
                rx_busy <= 1'b0;
                if (rx) begin  // good stop bit
                    rx_done <= 1'b1;
                    rx_byte <= rx_shift;
                end
            end else begin
                rx_shift <= {rx, rx_shift[7:1]};
                rx_bit   <= rx_bit + 1'b1;
            end
        end
    end

    // ---- UART transmitter ---------------------------------------------------------
    reg        tx_start;
    reg [7:0]  tx_data;
    reg [9:0]  tx_shift = 10'h3ff;
    reg [3:0]  tx_left;
    reg [15:0] tx_cnt;
    wire       tx_idle = (tx_left == 4'd0);
    assign uart_tx = tx_shift[0];
    always @(posedge clk) begin
        if (!resetn) begin
            tx_shift <= 10'h3ff;
            tx_left  <= 4'd0;
        end else if (tx_start) begin
            tx_shift <= {1'b1, tx_data, 1'b0};
            tx_left  <= 4'd10;
            tx_cnt   <= CLKS_PER_BIT - 1;
        end else if (!tx_idle) begin
            if (tx_cnt != 16'd0) begin
                tx_cnt <= tx_cnt - 1'b1;
            end else begin
                tx_cnt   <= CLKS_PER_BIT - 1;
                tx_shift <= {1'b1, tx_shift[9:1]};
                tx_left  <= tx_left - 1'b1;
            end
        end
    end

    // ---- register bridge: UART commands -> AXI4-Lite ----------------------------
    localparam B_CMD = 3'd0, B_ARGS = 3'd1, B_WRITE = 3'd2, B_WRESP = 3'd3,
               B_READ = 3'd4, B_RRESP = 3'd5, B_SEND = 3'd6;
    reg [2:0]  br_state;
    reg        br_write;
    reg [2:0]  br_need;
    reg [2:0]  br_send;
    reg [47:0] br_sh;
    assign s_awaddr = br_sh[43:32];
    assign s_wdata  = br_sh[31:0];
    assign s_araddr = br_sh[11:0];
    always @(posedge clk) begin
        tx_start <= 1'b0;
        if (!resetn) begin
            br_state  <= B_CMD;
            s_awvalid <= 1'b0;
            s_wvalid  <= 1'b0;
            s_bready  <= 1'b0;
            s_arvalid <= 1'b0;
            s_rready  <= 1'b0;
        end else begin
            case (br_state)
                B_CMD: if (rx_done) begin
                    if (rx_byte == 8'h77) begin
                        br_write <= 1'b1;
                        br_need  <= 3'd6;
                        br_state <= B_ARGS;
                    end else if (rx_byte == 8'h72) begin
                        br_write <= 1'b0;
                        br_need  <= 3'd2;
                        br_state <= B_ARGS;
                    end
                end
                B_ARGS: if (rx_done) begin
                    br_sh   <= {br_sh[39:0], rx_byte};
                    br_need <= br_need - 1'b1;
                    if (br_need == 3'd1) begin
                        if (br_write) begin
                            s_awvalid <= 1'b1;
                            s_wvalid  <= 1'b1;
                            br_state  <= B_WRITE;
                        end else begin
                            s_arvalid <= 1'b1;
                            br_state  <= B_READ;
                        end
                    end
                end
                B_WRITE: begin
                    if (s_awready) s_awvalid <= 1'b0;
                    if (s_wready) s_wvalid <= 1'b0;
                    if ((!s_awvalid || s_awready) && (!s_wvalid || s_wready)) begin
                        s_bready <= 1'b1;
                        br_state <= B_WRESP;
                    end
                end
                B_WRESP: if (s_bvalid) begin
                    s_bready        <= 1'b0;
                    br_sh[31:24]    <= {6'd0, s_bresp};
                    br_send         <= 3'd1;
                    br_state        <= B_SEND;
                end
                B_READ: if (s_arready) begin
                    s_arvalid <= 1'b0;
                    s_rready  <= 1'b1;
                    br_state  <= B_RRESP;
                end
                B_RRESP: if (s_rvalid) begin
                    s_rready    <= 1'b0;
                    br_sh[31:0] <= s_rdata;
                    br_send     <= 3'd4;
                    br_state    <= B_SEND;
                end
                default: if (tx_idle && !tx_start) begin
                    tx_data     <= br_sh[31:24];
                    tx_start    <= 1'b1;
                    br_sh[31:0] <= {br_sh[23:0], 8'h00};
                    br_send     <= br_send - 1'b1;
                    if (br_send == 3'd1) br_state <= B_CMD;
                end
            endcase
        end
    end
endmodule
