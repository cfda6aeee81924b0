//! One module per subcommand, plus what several share.

pub mod backend;
pub mod bench;
pub mod bench_models;
pub mod bench_sparse;
pub mod compile;
pub mod conv_job;
pub mod demo;
pub mod gemm_job;
pub mod generate;
pub mod info;
pub mod model;
pub mod prune;
pub mod report;
pub mod run;
pub mod synth;

/// A spinner for waits of unknown length (model builds, synthesis, long runs).
pub fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
