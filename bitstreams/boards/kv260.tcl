# Kria KV260 Vision AI Starter Kit: K26 SOM (xck26-sfvc784-2LV-c, 4 GiB DDR4) on the
# KV260 carrier. Sourced by tcl/build.tcl.
# The SOM and carrier board files come from the Xilinx board store (Vivado: Tools >
# Xilinx Board Store, or `xhub::install [xhub::get_xitems *kv260*]`). The carrier's
# PL I/O is not used: the accelerator only talks to the PS, so the SOM240 connector
# connection is set only so that the project matches the kit.
# On the board the PL is loaded at run time (`xmutil loadapp` with a .bit.bin + .dtbo,
# or PYNQ for Kria with the .bit + .hwh); see bitstreams/README.md.
set board(name)        kv260
set board(part)        xck26-sfvc784-2LV-c
set board(board_part)  {xilinx.com:kv260_som:part0:*}
set board(connections) {som240_1_connector xilinx.com:kv260_carrier:som240_1_connector:*}
set board(family)      zynqmp
set board(ps_vlnv)     xilinx.com:ip:zynq_ultra_ps_e
set board(ctrl_port)   M_AXI_HPM0_FPD
set board(ctrl_base)   0xA0000000
set board(data_port)   S_AXI_HP0_FPD
set board(data_widths) {32 64 128}
