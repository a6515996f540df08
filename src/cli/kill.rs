//! `kbox kill`: send a signal to a container's process.

use kbox::engine;
use kbox::oci::lifecycle;
use kbox::oci::signal::Signal;

use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Container id
    pub id: String,
    /// Signal name (KILL or SIGKILL) or number
    // A negative number is a bad signal (as runc reports it), not an unknown flag.
    #[arg(default_value = "SIGTERM", allow_negative_numbers = true)]
    pub signal: String,
    /// Send the signal to every process of the container
    #[arg(long, short = 'a')]
    pub all: bool,
}

pub fn run(global: &GlobalOptions, args: &KillArgs) -> anyhow::Result<()> {
    // Arguments are checked before any state is touched.
    let signal = Signal::parse(&args.signal)?;
    let container = global.open_container(&args.id)?;
    lifecycle::check_kill(container.record().current_status())?;
    engine::signal(container.record(), container.dir(), signal, args.all)?;
    Ok(())
}
