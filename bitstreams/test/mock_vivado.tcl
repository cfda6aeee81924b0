# A stand-in for Vivado's Tcl commands, so that tclsh can run tcl/build.tcl where
# Vivado is not installed (tests/bitstreams.rs):
#   tclsh test/mock_vivado.tcl LOG BOARD RTL_DIR OUT_DIR [JOBS] [ALLOW_TIMING_FAIL]
# Every Vivado command is logged to LOG, one call a line, and answers with a plausible
# value; a `-file F` argument creates F. It checks the script's Tcl (syntax, variables,
# control flow, its own procs and the files it reads and copies), not Vivado's
# acceptance of the commands: only Vivado can check that.

set mock_log [open [lindex $argv 0] w]
set argv [lrange $argv 1 end]
set argc [llength $argv]
set mock_proj_dir ""

proc version {args} { mock_record version {*}$args; return 2022.2 }

proc mock_record {args} {
    global mock_log
    puts $mock_log $args
    flush $mock_log
}

proc mock_touch {path} {
    file mkdir [file dirname $path]
    close [open $path a]
}

rename unknown mock_tcl_unknown
proc unknown {cmd args} {
    global mock_proj_dir
    mock_record $cmd {*}$args
    set i [lsearch -exact $args -file]
    if {$i >= 0} { mock_touch [lindex $args [expr {$i + 1}]] }
    switch -glob -- $cmd {
        create_project {
            set positional {}
            foreach a $args { if {![string match -* $a]} { lappend positional $a } }
            if {[llength $positional] >= 2} { set mock_proj_dir [lindex $positional 1] }
            return [lindex $positional 0]
        }
        get_board_parts {
            set pattern [lindex $args end]
            return [string map {* 1.0} $pattern]
        }
        create_bd_cell { return [lindex $args end] }
        get_bd_cells - get_bd_pins - get_bd_intf_pins - get_bd_addr_spaces - get_runs - get_files {
            return [lindex $args end]
        }
        get_bd_addr_segs {
            set pattern [lindex $args end]
            if {[string match */S_AXI_HP?/* $pattern]} {
                return [list [string map {* HP0_DDR_LOWOCM} $pattern]]
            }
            if {[string match */S_AXI_HP*_FPD/* $pattern]} {
                set segs {}
                foreach s {HP0_DDR_LOW HP0_DDR_HIGH HP0_LPS_OCM HP0_QSPI} {
                    lappend segs [string map [list * $s] $pattern]
                }
                return $segs
            }
            return [list [string map {* reg0} $pattern]]
        }
        get_property {
            set name [lindex $args 0]
            set object [lindex $args 1]
            switch -- $name {
                NAME { return [file tail $object] }
                PROGRESS { return 100% }
                STATUS { return "mock: complete" }
                DIRECTORY { return [file join $mock_proj_dir tessera.runs $object] }
                SLACK { return 0.250 }
                default { return "" }
            }
        }
        get_timing_paths { return path_0 }
        make_wrapper {
            return [file join $mock_proj_dir wrapper.v]
        }
        ipx::current_core { return core_0 }
        ipx::get_bus_interfaces - ipx::get_memory_maps { return [lindex $args 0] }
        ipx::get_address_blocks { return reg0 }
        ipx::get_bus_parameters { return "" }
        ipx::add_* { return [lindex $args 0] }
        default { return "" }
    }
}

source [file join [file dirname [file normalize [info script]]] .. tcl build.tcl]
close $mock_log
