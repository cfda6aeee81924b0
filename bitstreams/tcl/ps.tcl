# The processing system of each family: creating it with the board preset, enabling
# the ports the block design uses, and the names of its clock, reset and interrupt pins.
# Sourced by tcl/build.tcl; `board_var` names the caller's board(...) array.

# Zynq UltraScale+ AXI ports: (enable key, data-width key or "", clock pin).
array set tessera_zynqmp_ports {
    M_AXI_HPM0_FPD {PSU__USE__M_AXI_GP0 PSU__MAXIGP0__DATA_WIDTH maxihpm0_fpd_aclk}
    M_AXI_HPM1_FPD {PSU__USE__M_AXI_GP1 PSU__MAXIGP1__DATA_WIDTH maxihpm1_fpd_aclk}
    M_AXI_HPM0_LPD {PSU__USE__M_AXI_GP2 {} maxihpm0_lpd_aclk}
    S_AXI_HPC0_FPD {PSU__USE__S_AXI_GP0 PSU__SAXIGP0__DATA_WIDTH saxihpc0_fpd_aclk}
    S_AXI_HPC1_FPD {PSU__USE__S_AXI_GP1 PSU__SAXIGP1__DATA_WIDTH saxihpc1_fpd_aclk}
    S_AXI_HP0_FPD  {PSU__USE__S_AXI_GP2 PSU__SAXIGP2__DATA_WIDTH saxihp0_fpd_aclk}
    S_AXI_HP1_FPD  {PSU__USE__S_AXI_GP3 PSU__SAXIGP3__DATA_WIDTH saxihp1_fpd_aclk}
    S_AXI_HP2_FPD  {PSU__USE__S_AXI_GP4 PSU__SAXIGP4__DATA_WIDTH saxihp2_fpd_aclk}
    S_AXI_HP3_FPD  {PSU__USE__S_AXI_GP5 PSU__SAXIGP5__DATA_WIDTH saxihp3_fpd_aclk}
}

proc tessera_zynqmp_port {port} {
    global tessera_zynqmp_ports
    if {![info exists tessera_zynqmp_ports($port)]} {
        error "tessera: unknown Zynq UltraScale+ port `$port`; known: [join [lsort [array names tessera_zynqmp_ports]] {, }]"
    }
    return $tessera_zynqmp_ports($port)
}

# Creates the PS as cell `ps` with the board preset (DDR, MIO, PS clocks), the
# control and data ports, PL clock 0 at `mhz` and one fabric interrupt.
proc tessera_create_ps {board_var mhz data_bits} {
    upvar 1 $board_var board
    set ps [create_bd_cell -type ip -vlnv $board(ps_vlnv) ps]
    switch -- $board(family) {
        zynq7 {
            apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
                -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps
            set_property -dict [list \
                CONFIG.PCW_USE_$board(ctrl_port) {1} \
                CONFIG.PCW_USE_$board(data_port) {1} \
                CONFIG.PCW_$board(data_port)_DATA_WIDTH $data_bits \
                CONFIG.PCW_USE_FABRIC_INTERRUPT {1} \
                CONFIG.PCW_IRQ_F2P_INTR {1} \
                CONFIG.PCW_EN_CLK0_PORT {1} \
                CONFIG.PCW_EN_RST0_PORT {1} \
                CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $mhz] $ps
        }
        zynqmp {
            apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \
                -config {apply_board_preset "1"} $ps
            lassign [tessera_zynqmp_port $board(ctrl_port)] ctrl_use ctrl_width
            lassign [tessera_zynqmp_port $board(data_port)] data_use data_width
            # The presets enable HPM0/HPM1 FPD; only the ports used stay on. A dict, so
            # that the port enabled overrides the preset's 0 instead of repeating the key.
            set props [dict create \
                CONFIG.PSU__USE__M_AXI_GP0 0 CONFIG.PSU__USE__M_AXI_GP1 0 CONFIG.PSU__USE__M_AXI_GP2 0]
            dict set props CONFIG.$ctrl_use 1
            dict set props CONFIG.$data_use 1
            dict set props CONFIG.$data_width $data_bits
            dict set props CONFIG.PSU__USE__IRQ0 1
            dict set props CONFIG.PSU__FPGA_PL0_ENABLE 1
            dict set props CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $mhz
            if {$ctrl_width ne ""} { dict set props CONFIG.$ctrl_width 32 }
            set_property -dict $props $ps
        }
        default {
            error "tessera: board $board(name): unknown family `$board(family)` (zynq7 or zynqmp)"
        }
    }
    return $ps
}

# Pin names on cell `ps`, for `array set`: clk resetn irq ctrl_aclk data_aclk.
proc tessera_ps_pins {board_var} {
    upvar 1 $board_var board
    switch -- $board(family) {
        zynq7 {
            return [list clk FCLK_CLK0 resetn FCLK_RESET0_N irq IRQ_F2P \
                ctrl_aclk $board(ctrl_port)_ACLK data_aclk $board(data_port)_ACLK]
        }
        zynqmp {
            return [list clk pl_clk0 resetn pl_resetn0 irq pl_ps_irq0 \
                ctrl_aclk [lindex [tessera_zynqmp_port $board(ctrl_port)] 2] \
                data_aclk [lindex [tessera_zynqmp_port $board(data_port)] 2]]
        }
        default {
            error "tessera: board $board(name): unknown family `$board(family)`"
        }
    }
}

# board_connections with a `*` version resolved against the installed carrier board
# files: {som240_1_connector xilinx.com:kv260_carrier:som240_1_connector:*}.
proc tessera_board_connections {spec} {
    set out {}
    foreach {name vlnv} $spec {
        if {[string match {*\*} $vlnv]} {
            lassign [split $vlnv :] vendor carrier component
            set carrier_part [lindex [get_board_parts -quiet -latest_file_version "$vendor:$carrier:*"] 0]
            if {$carrier_part eq ""} {
                error "tessera: carrier board files `$vendor:$carrier` are not installed: see bitstreams/README.md, 'Board files'"
            }
            set vlnv "$vendor:$carrier:$component:[lindex [split $carrier_part :] end]"
        }
        lappend out $name $vlnv
    }
    return $out
}
