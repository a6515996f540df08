//! `kbox resume`: continue a paused container.

use kbox::engine;
use kbox::oci::lifecycle;
use kbox::oci::state::Status;

use super::pause::switch_pause_state;
use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &ResumeArgs) -> anyhow::Result<()> {
    switch_pause_state(
        global,
        &args.id,
        lifecycle::check_resume,
        engine::resume,
        Status::Running,
    )
}
