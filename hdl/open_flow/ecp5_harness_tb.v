// Testbench of tessera_ecp5's UART register bridge around the real tessera_top
// (tests/open_flow.rs runs it with `verilator --binary --timing`): reads ID, writes
// IRQ_ENABLE and reads it back, over the serial line at 4 clocks per bit. Prints
// "PASS" or "FAIL: ..." and finishes.
`timescale 1ns / 1ps
module tessera_ecp5_tb;
    localparam CPB = 4;          // clocks per UART bit (set on the harness too)
    localparam BIT = CPB * 10;   // ns per bit at a 10 ns clock
    reg clk = 1'b0;
    reg rst_n = 1'b0;
    reg rx = 1'b1;
    wire tx, led;
    always #5 clk = ~clk;

    tessera_ecp5 #(.CLKS_PER_BIT(CPB)) dut (
        .clk(clk), .rst_n(rst_n), .uart_rx(rx), .uart_tx(tx), .led_irq(led)
    );

    task send(input [7:0] b);
        integer i;
        begin
            rx = 1'b0;
            #(BIT);
            for (i = 0; i < 8; i = i + 1) begin
                rx = b[i];
                #(BIT);
            end
            rx = 1'b1;
            #(BIT);
        end
    endtask

    // Waits for a start bit (with a timeout) and samples mid-bit.
    task recv(output [7:0] b);
        integer i, t;
        begin
            t = 0;
            while (tx == 1'b1 && t < 200000) begin
                #1;
                t = t + 1;
            end
            if (t >= 200000) begin
                $display("FAIL: no reply on uart_tx");
                $finish;
            end
            #(BIT + BIT / 2);
            for (i = 0; i < 8; i = i + 1) begin
                b[i] = tx;
                #(BIT);
            end
        end
    endtask

    task read_reg(input [15:0] a, output [31:0] d);
        reg [7:0] b0, b1, b2, b3;
        begin
            send(8'h72); send(a[15:8]); send(a[7:0]);
            recv(b3); recv(b2); recv(b1); recv(b0);
            d = {b3, b2, b1, b0};
        end
    endtask

    task write_reg(input [15:0] a, input [31:0] d, output [7:0] resp);
        begin
            send(8'h77); send(a[15:8]); send(a[7:0]);
            send(d[31:24]); send(d[23:16]); send(d[15:8]); send(d[7:0]);
            recv(resp);
        end
    endtask

    reg [31:0] id, v;
    reg [7:0] resp;
    initial begin
        #100;
        rst_n = 1'b1;
        #200;
        read_reg(16'h0000, id);
        write_reg(16'h0050, 32'h0000_0003, resp);
        read_reg(16'h0050, v);
        if (id == 32'h0 || id == 32'hffff_ffff) begin
            $display("FAIL: ID reads %h", id);
        end else if (resp != 8'h00) begin
            $display("FAIL: write answered BRESP %h", resp);
        end else if (v[1:0] != 2'b11) begin
            $display("FAIL: IRQ_ENABLE reads %h after writing 3", v);
        end else begin
            $display("PASS id=%h irq_enable=%h", id, v);
        end
        $finish;
    end
endmodule
