//! `kbox pause`: suspend every process of a running container.

use kbox::engine;
use kbox::oci::lifecycle;
use kbox::oci::state::Status;

use super::{container_id, GlobalOptions};

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &PauseArgs) -> anyhow::Result<()> {
    let id = container_id(&args.id)?;
    let mut container = global.store().open(&id)?;
    lifecycle::check_pause(container.record().current_status())?;
    engine::pause(container.record())?;
    container.record_mut().status = Status::Paused;
    container.save()?;
    Ok(())
}
