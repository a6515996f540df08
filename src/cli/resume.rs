//! `kbox resume`: continue a paused container.

use kbox::engine;
use kbox::oci::lifecycle;
use kbox::oci::state::Status;

use super::{container_id, GlobalOptions};

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &ResumeArgs) -> anyhow::Result<()> {
    let id = container_id(&args.id)?;
    let mut container = global.store().open(&id)?;
    lifecycle::check_resume(container.record().current_status())?;
    engine::resume(container.record())?;
    container.record_mut().status = Status::Running;
    container.save()?;
    Ok(())
}
