# PYNQ-Z2 (TUL): Zynq-7020, 512 MiB DDR3. Sourced by tcl/build.tcl.
# The board files (tul.com.tw:pynq-z2) are not shipped with Vivado: install them from
# TUL's PYNQ-Z2 package into <Vivado>/data/boards/board_files or point
# `set_param board.repoPaths` at them (bitstreams/README.md).
set board(name)        pynq-z2
set board(part)        xc7z020clg400-1
# Matched with get_board_parts, newest file version first.
set board(board_part)  {*:pynq-z2:part0:*}
set board(connections) {}
set board(family)      zynq7
set board(ps_vlnv)     xilinx.com:ip:processing_system7:5.5
# Registers on the general-purpose master, at the first address Vivado gives a GP0
# peripheral (PYNQ's overlays use it too).
set board(ctrl_port)   M_AXI_GP0
set board(ctrl_base)   0x43C00000
# The accelerator's AXI4 master on a high-performance port (AXI3, 16-beat bursts).
set board(data_port)   S_AXI_HP0
# Data widths the port supports.
set board(data_widths) {32 64}
