//! `kbox supervise` (internal, like runc's `init`): the process that becomes a container.
//! `create` starts it; it boots the container's kernel, reports readiness, waits for
//! `start`, runs the container and exits with its first process's exit code.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SuperviseArgs {
    /// The bundle directory
    #[arg(long)]
    pub bundle: PathBuf,
    /// The container's state directory (start fifo, exit status)
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Where to send the terminal's master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Inherited pipe to report readiness (or the setup error) on
    #[arg(long)]
    pub ready_fd: i32,
    /// Inherited fds 3..3+N to pass on to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

pub fn run(args: &SuperviseArgs) -> anyhow::Result<i32> {
    Ok(kbox::engine::supervise(
        &args.bundle,
        &args.state_dir,
        args.console_socket.as_deref(),
        args.ready_fd,
        args.preserve_fds,
    ))
}
