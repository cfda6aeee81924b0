//! The processing element in rust-hdl's simulator: weight banks, the MAC, and the
//! one-cycle forwarding of activation and bank select.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_hdl::prelude::*;
use tessera_hdl::pe::Pe;

fn val32(v: Signed<32>) -> i64 {
    v.bigint().try_into().unwrap()
}

fn val16(v: Signed<16>) -> i64 {
    v.bigint().try_into().unwrap()
}

#[test]
fn pe_multiplies_accumulates_and_forwards() {
    let mut rng = StdRng::seed_from_u64(9);
    // (a, bank, psum_in) per cycle, with extreme 9-bit operands included.
    let mut inputs: Vec<(i64, bool, i64)> = vec![(-255, false, 0), (255, true, -1), (-255, true, i32::MIN as i64 / 2)];
    inputs.extend(
        (0..50).map(|_| (rng.random_range(-255..=255), rng.random_bool(0.5), rng.random_range(-1_000_000..1_000_000))),
    );
    let weights = [-255i64, 255];
    let mut uut = Pe::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<Pe>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<Pe>| {
        let mut x = sim.init()?;
        for (bank, w) in weights.iter().enumerate() {
            x.w_write.next = true;
            x.w_bank.next = bank == 1;
            x.w_data.next = (*w).into();
            wait_clock_cycle!(sim, clock, x);
        }
        x.w_write.next = false;
        for (a, bank, psum) in &inputs {
            x.a_in.next = (*a).into();
            x.sel_in.next = *bank;
            x.psum_in.next = (*psum).into();
            wait_clock_cycle!(sim, clock, x);
            let w = weights[usize::from(*bank)];
            sim_assert_eq!(sim, val32(x.psum_out.val()), psum + a * w, x);
            sim_assert_eq!(sim, val16(x.a_out.val()), *a, x);
            sim_assert_eq!(sim, x.sel_out.val(), *bank, x);
        }
        // A write to one bank leaves the other in use.
        x.w_write.next = true;
        x.w_bank.next = false;
        x.w_data.next = 7i64.into();
        x.a_in.next = 3i64.into();
        x.sel_in.next = true;
        x.psum_in.next = 0i64.into();
        wait_clock_cycle!(sim, clock, x);
        sim_assert_eq!(sim, val32(x.psum_out.val()), 3 * 255, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}
