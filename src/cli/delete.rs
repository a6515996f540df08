//! `kbox delete`: remove a container, killing it first when it is created or `--force`d.

use std::time::Duration;

use kbox::engine;
use kbox::oci::hooks::{self, HookKind};
use kbox::oci::lifecycle::{self, DeletePlan};
use kbox::oci::state::{LockedContainer, StateError, Status};

fn is_not_exist(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<StateError>(),
        Some(StateError::NotExist(_))
    )
}

use super::GlobalOptions;

/// How long to wait for a killed container process to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Container id
    pub id: String,
    /// Kill a running container first; succeed if the container does not exist
    #[arg(long, short = 'f')]
    pub force: bool,
}

pub fn run(global: &GlobalOptions, args: &DeleteArgs) -> anyhow::Result<()> {
    let container = match global.open_container(&args.id) {
        Ok(container) => container,
        // As runc: deleting a container that is already gone is fine when forced.
        Err(err) if args.force && is_not_exist(&err) => return Ok(()),
        Err(err) => return Err(err),
    };
    delete_container(container, args.force)
}

/// Deletes a locked container: kill if needed, release engine resources, run poststop
/// hooks, remove the state.
pub fn delete_container(container: LockedContainer, force: bool) -> anyhow::Result<()> {
    let record = container.record();
    let plan = lifecycle::plan_delete(&record.id, record.current_status(), force)?;
    if plan == DeletePlan::KillThenRemove {
        engine::kill_and_wait(record, KILL_TIMEOUT)?;
    }
    engine::cleanup(record, container.dir())?;
    let state = record.oci_state(Status::Stopped);
    // The spec: a failing poststop hook is logged and deletion continues.
    if let Err(err) = hooks::run_spec_hooks(HookKind::Poststop, &record.config, &state) {
        log::warn!("{err}");
    }
    container.destroy()?;
    Ok(())
}
