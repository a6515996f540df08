//! The container engine: what actually boots a container's kernel and runs its processes.
//!
//! The CLI does bookkeeping (bundle, validation, state records, locks, hooks) and calls into
//! this module for everything that touches a running container. Operations that need the
//! supervisor (the process that hosts the LKL kernel and traces the container's processes)
//! return [`EngineError::NotImplemented`] until the supervisor is wired in.
//!
//! Contract with the CLI:
//! - [`create`] is called with the container's state directory locked and a record in
//!   `creating` state. It must leave a process that stands for the container (its pid goes
//!   into the record, `state` and `kill` use it) held before the user's program runs, and
//!   return that pid. The process must outlive the `kbox create` command.
//! - [`start`] lets the held process run the user's program.
//! - A container whose recorded process has exited is `stopped`: the engine needs no call
//!   to report that.
//! - The calling command holds the container's `flock` (an `O_CLOEXEC` fd) during these
//!   calls. The engine must not lock the container itself, and a supervisor forked without
//!   exec must close that fd, or every later command on the container blocks until the
//!   supervisor exits (an exec'd supervisor drops it automatically).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use crate::oci::bundle::Bundle;
use crate::oci::signal::Signal;
use crate::oci::state::{ContainerId, ContainerRecord};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("not implemented yet: {0}")]
    NotImplemented(&'static str),
    #[error("container not running")]
    NotRunning,
    #[error("cannot send {signal} to container process {pid}: {errno}")]
    Signal {
        signal: Signal,
        pid: i32,
        errno: nix::errno::Errno,
    },
    #[error("container process {pid} did not exit within {waited:?} of SIGKILL")]
    StillAlive { pid: i32, waited: Duration },
}

/// Everything `create` and `run` know about the container to create.
#[derive(Debug)]
pub struct CreateOptions<'a> {
    pub id: &'a ContainerId,
    pub bundle: &'a Bundle,
    /// The container's directory under `--root`, for the engine's sockets and fifos.
    pub state_dir: &'a Path,
    /// Unix socket to send the pty master to when `process.terminal` is true.
    pub console_socket: Option<&'a Path>,
    /// Fds 3..3+N of `kbox create` to pass on to the container process.
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
}

/// What a successful create leaves behind.
#[derive(Debug, Clone, Copy)]
pub struct CreatedContainer {
    /// Host pid of the process that stands for the container.
    pub pid: i32,
}

/// Boots the container's kernel, mounts its root image and prepares its process.
pub fn create(options: &CreateOptions<'_>) -> Result<CreatedContainer, EngineError> {
    log::debug!(
        "create {} from {} (root image {})",
        options.id,
        options.bundle.dir.display(),
        options.bundle.root_image.display()
    );
    Err(EngineError::NotImplemented(
        "create: booting the container's kernel and preparing its process",
    ))
}

/// Lets a created container's process run the user's program.
pub fn start(record: &ContainerRecord, state_dir: &Path) -> Result<(), EngineError> {
    log::debug!("start {} (state in {})", record.id, state_dir.display());
    Err(EngineError::NotImplemented(
        "start: running the container's process",
    ))
}

/// Waits for a started container's process to exit and returns its exit code
/// (128 + signal number when killed), for `run` without `--detach`.
pub fn wait(record: &ContainerRecord) -> Result<i32, EngineError> {
    log::debug!("wait for {}", record.id);
    Err(EngineError::NotImplemented(
        "waiting for the container's process",
    ))
}

/// Sends `signal` to the container's process, or with `all` to every process of the
/// container.
pub fn signal(record: &ContainerRecord, signal: Signal, all: bool) -> Result<(), EngineError> {
    if all {
        return Err(EngineError::NotImplemented(
            "kill --all: signalling every process of a container",
        ));
    }
    // The start-time check makes sure a reused pid is never signalled.
    let pid = match record.pid {
        Some(pid) if record.process_is_alive() => pid,
        _ => return Err(EngineError::NotRunning),
    };
    // Real-time signals have no nix::Signal; libc::kill takes any number.
    let errno = match signal.standard() {
        Some(standard) => kill(Pid::from_raw(pid), standard).err(),
        None => {
            // SAFETY: kill(2) has no memory-safety preconditions.
            let ret = unsafe { libc::kill(pid, signal.number()) };
            (ret != 0).then(nix::errno::Errno::last)
        }
    };
    match errno {
        None => Ok(()),
        Some(nix::errno::Errno::ESRCH) => Err(EngineError::NotRunning),
        Some(errno) => Err(EngineError::Signal { signal, pid, errno }),
    }
}

/// SIGKILLs the container's process and waits (polling, as it is not our child) until it
/// is gone, for `delete` of a created container or `delete --force`.
pub fn kill_and_wait(record: &ContainerRecord, timeout: Duration) -> Result<(), EngineError> {
    match signal(record, Signal::KILL, false) {
        Ok(()) | Err(EngineError::NotRunning) => {}
        Err(err) => return Err(err),
    }
    let started = Instant::now();
    while record.process_is_alive() {
        if started.elapsed() > timeout {
            return Err(EngineError::StillAlive {
                pid: record.pid.unwrap_or(0),
                waited: timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Releases what the engine holds for a stopped container besides its state directory
/// (which `delete` removes). Nothing yet.
pub fn cleanup(record: &ContainerRecord, state_dir: &Path) -> Result<(), EngineError> {
    log::debug!("cleanup {} (state in {})", record.id, state_dir.display());
    Ok(())
}

pub fn pause(record: &ContainerRecord) -> Result<(), EngineError> {
    log::debug!("pause {}", record.id);
    Err(EngineError::NotImplemented("pause"))
}

pub fn resume(record: &ContainerRecord) -> Result<(), EngineError> {
    log::debug!("resume {}", record.id);
    Err(EngineError::NotImplemented("resume"))
}

/// Host pids of every process of the container, for `ps`.
pub fn processes(record: &ContainerRecord) -> Result<Vec<i32>, EngineError> {
    log::debug!("processes of {}", record.id);
    Err(EngineError::NotImplemented(
        "ps: listing the processes of a container",
    ))
}

/// What `exec` asks for.
#[derive(Debug)]
pub struct ExecOptions<'a> {
    pub process: &'a Process,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: u32,
    pub detach: bool,
}

/// How an exec ended from the caller's point of view.
#[derive(Debug, Clone, Copy)]
pub enum ExecOutcome {
    /// `--detach`: the new process runs; this is its host pid.
    Detached { pid: i32 },
    /// Foreground: the process exited with this code.
    Exited { code: i32 },
}

/// Runs an additional process in a created or running container. Called without the
/// container's lock held, so a foreground exec does not block other commands.
pub fn exec(
    record: &ContainerRecord,
    state_dir: &Path,
    options: &ExecOptions<'_>,
) -> Result<ExecOutcome, EngineError> {
    log::debug!(
        "exec {:?} in {} (state in {}, detach {})",
        options.process.args(),
        record.id,
        state_dir.display(),
        options.detach
    );
    Err(EngineError::NotImplemented(
        "exec: running a process in a container",
    ))
}
