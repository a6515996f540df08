//! `kbox state`: print a container's state as JSON (runc's fields).

use super::{print_json, GlobalOptions};

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Container id
    pub id: String,
}

pub fn run(global: &GlobalOptions, args: &StateArgs) -> anyhow::Result<()> {
    let container = global.open_container_shared(&args.id)?;
    print_json(&container.report())
}
