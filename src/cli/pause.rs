//! `kbox pause`: suspend every process of a running container.

use kbox::engine::{self, EngineError};
use kbox::oci::lifecycle::{self, LifecycleError};
use kbox::oci::state::{ContainerRecord, Status};

use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &PauseArgs) -> anyhow::Result<()> {
    switch_pause_state(
        global,
        &args.id,
        lifecycle::check_pause,
        engine::pause,
        Status::Paused,
    )
}

/// The shared flow of pause and resume: check the status allows it, have the engine do it,
/// record the new status.
pub(super) fn switch_pause_state(
    global: &GlobalOptions,
    raw_id: &str,
    check: fn(Status) -> Result<(), LifecycleError>,
    act: fn(&ContainerRecord, &std::path::Path) -> Result<(), EngineError>,
    new_status: Status,
) -> anyhow::Result<()> {
    let mut container = global.open_container(raw_id)?;
    check(container.record().current_status())?;
    act(container.record(), container.dir())?;
    container.record_mut().status = new_status;
    container.save()?;
    Ok(())
}
