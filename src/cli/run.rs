//! `kbox run`: create and start a container, and unless detached wait for it and delete it.

use kbox::engine;

use super::create::{create_container, CreateOptionsArgs};
use super::delete::delete_container;
use super::start::start_container;
use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub options: CreateOptionsArgs,
    /// Return after starting the container instead of waiting for it
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Keep the container's state after it exits (without --detach)
    #[arg(long)]
    pub keep: bool,
}

/// Returns the container's exit code, or 0 when detached.
pub fn run(global: &GlobalOptions, args: &RunArgs) -> anyhow::Result<i32> {
    if !args.detach {
        engine::block_forwarded_signals();
    }
    let mut container = create_container(global, &args.id, &args.options)?;
    if let Err(err) = start_container(&mut container) {
        // Do not leave a created container behind a failed run.
        if let Err(delete_err) = delete_container(container, true) {
            log::warn!(
                "removing container {} after a failed start: {delete_err}",
                args.id
            );
        }
        return Err(err);
    }
    if args.detach {
        return Ok(0);
    }
    let record = container.record().clone();
    let state_dir = container.dir().to_path_buf();
    // Other commands (kill, state) must work on the container while we wait.
    drop(container);
    let exit_code = engine::wait(&record, &state_dir)?;
    if !args.keep {
        delete_container(global.open_container(&args.id)?, true)?;
    }
    Ok(exit_code)
}
