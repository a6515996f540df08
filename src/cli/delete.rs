//! `kbox delete`: remove a container, killing it first when it is created or `--force`d.

use std::time::Duration;

use kbox::engine;
use kbox::oci::hooks;
use kbox::oci::lifecycle::{self, DeletePlan};
use kbox::oci::state::{LockedContainer, StateError, Status};

use super::{container_id, GlobalOptions};

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
    let id = container_id(&args.id)?;
    let container = match global.store().open(&id) {
        Ok(container) => container,
        // As runc: deleting a container that is already gone is fine when forced.
        Err(StateError::NotExist(_)) if args.force => return Ok(()),
        Err(err) => return Err(err.into()),
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
    let poststop = record
        .config
        .hooks()
        .as_ref()
        .and_then(|hooks| hooks.poststop().clone())
        .unwrap_or_default();
    if !poststop.is_empty() {
        let state_json = serde_json::to_vec(&record.oci_state(Status::Stopped))?;
        // The spec: a failing poststop hook is logged and deletion continues.
        if let Err(err) = hooks::run_hooks("poststop", &poststop, &state_json) {
            log::warn!("{err}");
        }
    }
    container.destroy()?;
    Ok(())
}
