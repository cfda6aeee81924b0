//! One module per subcommand, plus what several share.

pub mod backend;
pub mod bench;
pub mod demo;
pub mod gemm_job;
pub mod generate;
pub mod info;
pub mod report;
pub mod run;
pub mod synth;

/// A subcommand whose implementation belongs to a later issue: say exactly that.
pub fn pending(command: &str, issue: u32, would: &str) -> anyhow::Result<()> {
    anyhow::bail!(
        "`tessera {command}` is not implemented yet: it would produce {would}. \
         It is owned by issue #{issue} (see `issues show {issue}`)."
    )
}
