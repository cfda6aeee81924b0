# Reads what the block design needs from the manifest `tessera generate` writes next
# to tessera_top.v (tessera_top.json, hdl/src/manifest.rs): plain Tcl, no JSON package.
# Returns a list for `array set`: name clock_mhz data_bits addr_bits fingerprint top.

proc tessera_read_manifest {path} {
    if {![file exists $path]} {
        error "tessera: $path not found: run `tessera generate -c CONFIG -o [file dirname $path]` first"
    }
    set fh [open $path r]
    set json [read $fh]
    close $fh
    set out {}
    if {![regexp {"top":\s*"([^"]+)"} $json -> top] || $top ne "tessera_top"} {
        error "tessera: $path: field `top` is not \"tessera_top\""
    }
    lappend out top $top
    if {![regexp {"config":\s*\{\s*"name":\s*"([^"]+)"} $json -> name]} {
        error "tessera: $path: no field `config.name`"
    }
    lappend out name $name
    if {![regexp {"clock_mhz":\s*([0-9]+(?:\.[0-9]+)?)} $json -> mhz] || $mhz <= 0} {
        error "tessera: $path: field `config.clock_mhz` missing or not a positive number"
    }
    lappend out clock_mhz $mhz
    # config.axi holds no nested object, so [^{}]* stays inside it.
    if {![regexp {"axi":\s*\{([^{}]*)\}} $json -> axi]} {
        error "tessera: $path: no object `config.axi`"
    }
    foreach key {data_bits addr_bits} {
        if {![regexp "\"$key\":\\s*(\[0-9\]+)" $axi -> value]} {
            error "tessera: $path: no field `config.axi.$key`"
        }
        lappend out $key $value
    }
    if {![regexp {"fingerprint":\s*"([^"]+)"} $json -> fingerprint]} {
        set fingerprint unknown
    }
    lappend out fingerprint $fingerprint
    return $out
}
