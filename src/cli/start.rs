//! `kbox start`: run the user's program in a created container.

use kbox::engine;
use kbox::oci::hooks;
use kbox::oci::lifecycle;
use kbox::oci::state::{LockedContainer, Status};

use super::{container_id, GlobalOptions};

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &StartArgs) -> anyhow::Result<()> {
    let id = container_id(&args.id)?;
    let mut container = global.store().open(&id)?;
    start_container(&mut container)
}

/// Starts a locked, created container and runs its poststart hooks.
pub fn start_container(container: &mut LockedContainer) -> anyhow::Result<()> {
    lifecycle::check_start(container.record().current_status())?;
    engine::start(container.record(), container.dir())?;
    container.record_mut().status = Status::Running;
    container.save()?;
    let poststart = container
        .record()
        .config
        .hooks()
        .as_ref()
        .and_then(|hooks| hooks.poststart().clone())
        .unwrap_or_default();
    if !poststart.is_empty() {
        let state_json = serde_json::to_vec(&container.record().oci_state(Status::Running))?;
        // The spec: a failing poststart hook is logged and the lifecycle continues.
        if let Err(err) = hooks::run_hooks("poststart", &poststart, &state_json) {
            log::warn!("{err}");
        }
    }
    Ok(())
}
