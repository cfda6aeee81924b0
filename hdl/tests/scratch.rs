#[test]
fn gen_tiny() {
    for name in ["tiny", "pynq-z2", "zcu104"] {
        let cfg = tessera_isa::config::AccelConfig::builtin(name).unwrap();
        let t = std::time::Instant::now();
        let rtl = tessera_hdl::generate(&cfg).unwrap();
        println!("{name}: {} bytes in {:?}", rtl.verilog.len(), t.elapsed());
        std::fs::write(format!("/tmp/{name}.v"), &rtl.verilog).unwrap();
    }
}
