//! `kbox state`: print a container's state as JSON (runc's fields).

use super::{container_id, print_json, GlobalOptions};

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &StateArgs) -> anyhow::Result<()> {
    let id = container_id(&args.id)?;
    let container = global.store().open_shared(&id)?;
    print_json(&container.report())
}
