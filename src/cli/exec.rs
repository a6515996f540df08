//! `kbox exec`: run another process in a created or running container.

use std::path::PathBuf;

use anyhow::bail;

use kbox::engine::{self, ExecOptions, ExecOutcome};
use kbox::oci::lifecycle;
use kbox::oci::process::{self, ExecOverrides};
use kbox::oci::state;
use kbox::oci::validate;

use super::create::{check_console_socket, check_preserve_fds};
use super::GlobalOptions;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// Command and arguments (unless --process is given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// JSON file with the process to run (the OCI "process" object)
    #[arg(long, short = 'p', value_name = "FILE", conflicts_with = "command")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Unix socket to send the pty master to
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the new process's pid to FILE
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Return once the process started instead of waiting for it
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Add an environment variable (KEY=value); repeatable
    #[arg(long, short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// User to run as: uid[:gid]
    #[arg(long, short = 'u', value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Pass fds 3..3+N of this command on to the container process, as its fds 3..3+N (each
    /// becomes a pipe or Unix socket of the container's kernel, fed from the host fd)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// Returns the process's exit code, or 0 when detached.
pub fn run(global: &GlobalOptions, args: &ExecArgs) -> anyhow::Result<i32> {
    check_preserve_fds(args.preserve_fds)?;
    let container = global.open_container_shared(&args.id)?;
    lifecycle::check_exec(container.record().current_status())?;
    // The base is the --process file or else the container's own process; the command
    // line's settings apply on top of either, as with runc.
    let base = match &args.process {
        Some(path) => process::read_process_file(path)?,
        None if args.command.is_empty() => bail!("exec needs a command, or --process FILE"),
        None => container
            .record()
            .config
            .process()
            .clone()
            .unwrap_or_default(),
    };
    let overrides = ExecOverrides {
        args: (!args.command.is_empty()).then(|| args.command.clone()),
        env: args.env.clone(),
        cwd: args.cwd.clone(),
        user: args.user.clone(),
        tty: args.tty,
    };
    let process = process::exec_process(&base, &overrides)?;
    validate::validate_process(&process)?;
    check_console_socket(
        process.terminal().unwrap_or(false),
        args.console_socket.is_some(),
    )?;

    let record = container.record().clone();
    let state_dir = container.dir().to_path_buf();
    // A foreground exec may run for long; do not hold the container's lock meanwhile.
    drop(container);
    let outcome = engine::exec(
        &record,
        &state_dir,
        &ExecOptions {
            process: &process,
            console_socket: args.console_socket.as_deref(),
            preserve_fds: args.preserve_fds,
            detach: args.detach,
        },
    )?;
    match outcome {
        ExecOutcome::Detached { pid } => {
            if let Some(pid_file) = &args.pid_file {
                state::write_pid_file(pid_file, pid)?;
            }
            Ok(0)
        }
        ExecOutcome::Exited { code } => Ok(code),
    }
}
