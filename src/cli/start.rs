//! `kbox start`: run the user's program in a created container.

use kbox::engine;
use kbox::oci::hooks::{self, HookKind};
use kbox::oci::lifecycle;
use kbox::oci::state::{LockedContainer, Status};

use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &StartArgs) -> anyhow::Result<()> {
    let mut container = global.open_container(&args.id)?;
    start_container(&mut container)
}

/// Starts a locked, created container and runs its poststart hooks.
pub fn start_container(container: &mut LockedContainer) -> anyhow::Result<()> {
    lifecycle::check_start(container.record().current_status())?;
    engine::start(container.record(), container.dir())?;
    container.record_mut().status = Status::Running;
    container.save()?;
    let record = container.record();
    let state = record.oci_state(Status::Running);
    // The spec: a failing poststart hook is logged and the lifecycle continues.
    if let Err(err) = hooks::run_spec_hooks(HookKind::Poststart, &record.config, &state) {
        log::warn!("{err}");
    }
    Ok(())
}
