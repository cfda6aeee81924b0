# Tessera on a Zynq board: packages the generated RTL as an IP, builds the block
# design (PS + Tessera + SmartConnects + proc_sys_reset), runs synthesis and
# implementation, and exports the PYNQ-style .bit + .hwh pair and an .xsa.
#
#   vivado -mode batch -nojournal -source tcl/build.tcl \
#       -tclargs BOARD RTL_DIR OUT_DIR [JOBS] [ALLOW_TIMING_FAIL]
#
# BOARD is a file in boards/ (pynq-z2, zcu104, kv260); RTL_DIR holds tessera_top.v and
# tessera_top.json as `tessera generate` writes them; everything goes to OUT_DIR (see
# bitstreams/README.md for the list). Written for Vivado 2022.2 and later.

set here [file dirname [file normalize [info script]]]
set root [file dirname $here]

if {[llength $argv] < 3} {
    error "usage: vivado -mode batch -source tcl/build.tcl -tclargs BOARD RTL_DIR OUT_DIR \[JOBS\] \[ALLOW_TIMING_FAIL\]"
}
set board_name [lindex $argv 0]
set rtl_dir [file normalize [lindex $argv 1]]
set out_dir [file normalize [lindex $argv 2]]
set jobs [expr {[llength $argv] > 3 ? [lindex $argv 3] : 4}]
set allow_timing_fail [expr {[llength $argv] > 4 ? [lindex $argv 4] : 0}]

set board_file [file join $root boards $board_name.tcl]
if {![file exists $board_file]} {
    set known {}
    foreach f [glob -nocomplain -directory [file join $root boards] *.tcl] {
        lappend known [file rootname [file tail $f]]
    }
    set known [lsort $known]
    error "tessera: unknown board `$board_name` (no $board_file); boards: [join $known {, }]"
}
array set board {}
source $board_file
source [file join $here manifest.tcl]
source [file join $here package_ip.tcl]
source [file join $here ps.tcl]

# ---- the generated design and its config ---------------------------------------
array set tessera [tessera_read_manifest [file join $rtl_dir tessera_top.json]]
if {[lsearch -exact $board(data_widths) $tessera(data_bits)] < 0} {
    error "tessera: config `$tessera(name)`: \[axi\] data_bits = $tessera(data_bits), but $board(name)'s $board(data_port) takes [join $board(data_widths) {, }] bits"
}
set vivado_version [version -short]
if {[package vcompare [lindex [split $vivado_version _] 0] 2022.2] < 0} {
    puts "CRITICAL WARNING: tessera: written for Vivado 2022.2 or later; this is $vivado_version"
}
puts "tessera: `$tessera(name)` on $board(name) ($board(part)) at $tessera(clock_mhz) MHz, AXI $tessera(data_bits)-bit data / $tessera(addr_bits)-bit address"

file mkdir $out_dir
set proj_name tessera
set proj_dir [file join $out_dir vivado]
set bd tessera_bd
set base [file join $out_dir tessera_$board(name)]

# ---- the IP (packaged in its own throw-away project) ----------------------------
set ip_dir [file join $out_dir ip]
tessera_package_ip $rtl_dir $ip_dir $board(part)

# ---- project ------------------------------------------------------------------------
create_project -force $proj_name $proj_dir -part $board(part)
set board_part [lindex [get_board_parts -quiet -latest_file_version $board(board_part)] 0]
if {$board_part eq ""} {
    error "tessera: board files for $board(name) (`$board(board_part)`) are not installed: see bitstreams/README.md, 'Board files'"
}
set_property board_part $board_part [current_project]
if {$board(connections) ne ""} {
    set_property board_connections [tessera_board_connections $board(connections)] [current_project]
}
set_property ip_repo_paths [list $ip_dir] [current_project]
update_ip_catalog -rebuild

# ---- block design ---------------------------------------------------------------
create_bd_design $bd
set ps [tessera_create_ps board $tessera(clock_mhz) $tessera(data_bits)]
array set pins [tessera_ps_pins board]

set core [create_bd_cell -type ip -vlnv tessera.org:tessera:tessera:1.0 tessera]
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_pl]
set ctrl_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 ctrl_ic]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $ctrl_ic
set data_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 data_ic]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $data_ic

# One clock (the PS's PL clock 0 at the config's clock_mhz) for the accelerator, both
# interconnects and both PS ports; its reset through proc_sys_reset.
connect_bd_net [get_bd_pins ps/$pins(clk)] \
    [get_bd_pins tessera/clk] [get_bd_pins rst_pl/slowest_sync_clk] \
    [get_bd_pins ctrl_ic/aclk] [get_bd_pins data_ic/aclk] \
    [get_bd_pins ps/$pins(ctrl_aclk)] [get_bd_pins ps/$pins(data_aclk)]
connect_bd_net [get_bd_pins ps/$pins(resetn)] [get_bd_pins rst_pl/ext_reset_in]
connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins tessera/resetn]
connect_bd_net [get_bd_pins rst_pl/interconnect_aresetn] \
    [get_bd_pins ctrl_ic/aresetn] [get_bd_pins data_ic/aresetn]

# Registers: PS master -> SmartConnect (AXI3/AXI4 -> AXI4-Lite) -> s_axi.
connect_bd_intf_net [get_bd_intf_pins ps/$board(ctrl_port)] [get_bd_intf_pins ctrl_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M00_AXI] [get_bd_intf_pins tessera/s_axi]
# Data: m_axi -> SmartConnect (bursts, and AXI4 -> AXI3 on Zynq-7000) -> PS slave port.
connect_bd_intf_net [get_bd_intf_pins tessera/m_axi] [get_bd_intf_pins data_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins data_ic/M00_AXI] [get_bd_intf_pins ps/$board(data_port)]
# Interrupt (level high) straight into the PS.
connect_bd_net [get_bd_pins tessera/irq] [get_bd_pins ps/$pins(irq)]

# ---- address map ------------------------------------------------------------------
# The register window: 4 KiB (isa/src/regs.rs REG_SPACE_BYTES) at the board's base.
assign_bd_address -offset $board(ctrl_base) -range 4K \
    -target_address_space [get_bd_addr_spaces ps/Data] [get_bd_addr_segs tessera/s_axi/*] -force
# The accelerator addresses DDR physically: every DDR segment the data port exposes,
# at its own address (DDR_HIGH only when the master has more than 32 address bits).
set ddr_segs {}
foreach seg [get_bd_addr_segs ps/$board(data_port)/*] {
    set seg_name [get_property NAME $seg]
    if {![string match -nocase *DDR* $seg_name]} { continue }
    if {$tessera(addr_bits) <= 32 && [string match -nocase *HIGH* $seg_name]} { continue }
    assign_bd_address -target_address_space [get_bd_addr_spaces tessera/m_axi] $seg -force
    lappend ddr_segs $seg_name
}
if {[llength $ddr_segs] == 0} {
    error "tessera: $board(data_port) exposes no DDR segment to tessera/m_axi"
}
puts "tessera: registers at $board(ctrl_base) (4 KiB); DDR segments for m_axi: [join $ddr_segs {, }]"

validate_bd_design
regenerate_bd_layout
save_bd_design

set bd_file [get_files $bd.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top ${bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

# ---- synthesis, implementation, bitstream ----------------------------------------
proc tessera_run {run jobs args} {
    reset_run $run
    launch_runs $run -jobs $jobs {*}$args
    wait_on_run $run
    if {[get_property PROGRESS [get_runs $run]] ne "100%"} {
        error "tessera: $run failed ([get_property STATUS [get_runs $run]]); see [get_property DIRECTORY [get_runs $run]]/runme.log"
    }
}
tessera_run synth_1 $jobs
tessera_run impl_1 $jobs -to_step write_bitstream

open_run impl_1
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -max_paths 10 -file [file join $out_dir timing_summary.rpt]
set worst [get_timing_paths -max_paths 1 -nworst 1 -setup]
set wns [expr {[llength $worst] ? [get_property SLACK $worst] : 0.0}]
set period [expr {1000.0 / $tessera(clock_mhz)}]
set fmax [expr {1000.0 / ($period - $wns)}]

# ---- exports: .bit + .hwh (PYNQ: same base name), .xsa ---------------------------
set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd}_wrapper.bit]
file copy -force $bit $base.bit
# 2020.2+ writes generated BD files under <proj>.gen; earlier releases under .srcs.
set hwh {}
foreach tree [list $proj_name.gen $proj_name.srcs] {
    set candidate [file join $proj_dir $tree sources_1 bd $bd hw_handoff $bd.hwh]
    if {[file exists $candidate]} { set hwh $candidate; break }
}
if {$hwh eq ""} {
    error "tessera: no $bd.hwh under $proj_dir/$proj_name.gen or .srcs/sources_1/bd/$bd/hw_handoff"
}
file copy -force $hwh $base.hwh
write_hw_platform -fixed -include_bit -force -file $base.xsa
if {$board(family) eq "zynqmp"} {
    # fpgautil / xmutil (Kria, PetaLinux) load a byte-swapped .bit.bin.
    write_cfgmem -force -format bin -interface SMAPx32 -disablebitswap \
        -loadbit "up 0x0 $base.bit" -file $base.bit.bin
}
file copy -force [file join $rtl_dir tessera_top.json] [file join $out_dir tessera_top.json]

set summary [list \
    "config $tessera(name)" "board $board(name)" "part $board(part)" "vivado $vivado_version" \
    "clock_mhz $tessera(clock_mhz)" "wns_ns [format %.3f $wns]" "fmax_mhz [format %.1f $fmax]" \
    "registers $board(ctrl_base)+4K" "ddr [join $ddr_segs ,]" \
    "bit [file tail $base.bit]" "hwh [file tail $base.hwh]" "xsa [file tail $base.xsa]"]
set fh [open [file join $out_dir build_summary.txt] w]
puts $fh [join $summary \n]
close $fh
puts "tessera: [join $summary {; }]"

if {$wns < 0} {
    set msg "tessera: timing not met at $tessera(clock_mhz) MHz (WNS $wns ns, Fmax ~[format %.1f $fmax] MHz); see $out_dir/timing_summary.rpt"
    if {!$allow_timing_fail} { error $msg }
    puts "CRITICAL WARNING: $msg"
}
