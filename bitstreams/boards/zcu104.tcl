# ZCU104: Zynq UltraScale+ xczu7ev, 2 GiB DDR4 on the PS. Sourced by tcl/build.tcl.
# The board files ship with Vivado.
set board(name)        zcu104
set board(part)        xczu7ev-ffvc1156-2-e
set board(board_part)  {xilinx.com:zcu104:part0:*}
set board(connections) {}
set board(family)      zynqmp
set board(ps_vlnv)     xilinx.com:ip:zynq_ultra_ps_e
# Registers on the full-power-domain master (M_AXI_HPM0_LPD at 0x80000000 works too:
# set board(ctrl_port) M_AXI_HPM0_LPD and board(ctrl_base) 0x80000000).
set board(ctrl_port)   M_AXI_HPM0_FPD
set board(ctrl_base)   0xA0000000
# Non-coherent HP0 (the driver flushes/invalidates its buffers); S_AXI_HPC0_FPD
# snoops the APU caches but needs the driver to set AxCACHE/AxPROT for coherency.
set board(data_port)   S_AXI_HP0_FPD
set board(data_widths) {32 64 128}
