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

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use crate::oci::bundle::Bundle;
use crate::oci::signal::Signal;
use crate::oci::state::{ContainerId, ContainerRecord};
use crate::tracer::control::{Reply, Request};

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
    #[error("{0}")]
    Supervisor(String),
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

/// Name of the fifo in the state directory on which the supervisor waits for `start`.
const START_FIFO: &str = "start.fifo";
/// Name of the file in the state directory where the supervisor records the exit code.
const EXIT_STATUS: &str = "exit-status";

/// Boots the container's kernel, mounts its root image and prepares its process: starts a
/// supervisor (`kbox supervise`) and returns once it is ready and waiting for `start`.
pub fn create(options: &CreateOptions<'_>) -> Result<CreatedContainer, EngineError> {
    log::debug!(
        "create {} from {} (root image {})",
        options.id,
        options.bundle.dir.display(),
        options.bundle.root_image.display()
    );
    let fifo = options.state_dir.join(START_FIFO);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| EngineError::Supervisor(format!("creating {}: {e}", fifo.display())))?;
    let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::Supervisor(format!("creating the ready pipe: {e}")))?;
    let ready_fd = ready_write.as_raw_fd();
    let exe = std::env::current_exe()
        .map_err(|e| EngineError::Supervisor(format!("finding the kbox binary: {e}")))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("supervise")
        .arg("--bundle")
        .arg(&options.bundle.dir)
        .arg("--state-dir")
        .arg(options.state_dir)
        .arg("--ready-fd")
        .arg(ready_fd.to_string());
    if let Some(socket) = options.console_socket {
        command.arg("--console-socket").arg(socket);
    }
    let preserved = 3..3 + options.preserve_fds as i32;
    if !preserved.is_empty() {
        command
            .arg("--preserve-fds")
            .arg(options.preserve_fds.to_string());
    }
    // SAFETY: the closure only makes fcntl syscalls on fds it was given, which is
    // async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(move || {
            // The ready pipe and the preserved fds (as runc does) survive the exec.
            for fd in preserved.clone().chain([ready_fd]) {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| EngineError::Supervisor(format!("starting the supervisor: {e}")))?;
    drop(ready_write);
    let mut report = String::new();
    let _ = std::fs::File::from(ready_read).read_to_string(&mut report);
    if report.trim() == "ready" {
        return Ok(CreatedContainer {
            pid: child.id() as i32,
        });
    }
    let _ = child.kill();
    let _ = child.wait();
    let message = report
        .trim()
        .strip_prefix("error: ")
        .unwrap_or(report.trim());
    Err(EngineError::Supervisor(if message.is_empty() {
        "the supervisor exited before the container was ready".to_owned()
    } else {
        message.to_owned()
    }))
}

/// Lets a created container's process run the user's program.
pub fn start(record: &ContainerRecord, state_dir: &Path) -> Result<(), EngineError> {
    log::debug!("start {} (state in {})", record.id, state_dir.display());
    let fifo = state_dir.join(START_FIFO);
    // Non-blocking: a dead supervisor must not hang `start`.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| EngineError::Supervisor(format!("opening {}: {e}", fifo.display())))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut byte = [0u8; 1];
    loop {
        match (&file).read(&mut byte) {
            Ok(1) if byte[0] == b'1' => break,
            Ok(1) => {
                // "E" and a message: the container could not start (a startContainer hook).
                let mut message = Vec::new();
                while Instant::now() < deadline {
                    match (&file).read_to_end(&mut message) {
                        Ok(_) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
                let _ = std::fs::remove_file(&fifo);
                return Err(EngineError::Supervisor(
                    String::from_utf8_lossy(&message).into_owned(),
                ));
            }
            Ok(_) if !record.process_is_alive() => return Err(EngineError::NotRunning),
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                return Err(EngineError::Supervisor(format!(
                    "reading {}: {e}",
                    fifo.display()
                )))
            }
            _ if Instant::now() > deadline => {
                return Err(EngineError::Supervisor(
                    "the container process did not start".into(),
                ))
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let _ = std::fs::remove_file(&fifo);
    Ok(())
}

/// Waits for a started container's process to exit and returns its exit code
/// (128 + signal number when killed), for `run` without `--detach`.
pub fn wait(record: &ContainerRecord, state_dir: &Path) -> Result<i32, EngineError> {
    log::debug!("wait for {}", record.id);
    let pid = record.pid.ok_or(EngineError::NotRunning)?;
    // Like runc run: signals sent to this command go to the container (through its
    // supervisor, which hands them to the first process).
    let forwarded = forwarded_signals();
    let _ = forwarded.thread_block();
    // SIGCHLD too: the supervisor is usually our child (run), and its exit must end the
    // wait at once, not at the next timeout.
    let mut awaited = forwarded;
    awaited.add(nix::sys::signal::Signal::SIGCHLD);
    let _ = awaited.thread_block();
    loop {
        match nix::sys::wait::waitpid(
            Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {}
            _ => break,
        }
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        // SAFETY: sigtimedwait reads the set and timeout and writes nothing we pass.
        let sig = unsafe { libc::sigtimedwait(awaited.as_ref(), std::ptr::null_mut(), &timeout) };
        if sig > 0 && sig != libc::SIGCHLD {
            // SAFETY: kill(2) on the supervisor; no memory involved.
            unsafe { libc::kill(pid, sig) };
        }
    }
    // Not our child: wait for it to go away and read what it recorded.
    while record.process_is_alive() {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(state_dir.join(EXIT_STATUS))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(EngineError::Supervisor(
            "the container's exit status is unknown".into(),
        ))
}

/// Blocks the signals `run` forwards, from its start: one arriving between `start` and
/// `wait` must be forwarded too, not kill `run` with its default action.
pub fn block_forwarded_signals() {
    let _ = forwarded_signals().thread_block();
}

/// The signals `run` passes on to its container: every catchable asynchronous one.
fn forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal as S;
    let mut set = nix::sys::signal::SigSet::all();
    for sig in [
        S::SIGKILL,
        S::SIGSTOP,
        S::SIGCHLD,
        S::SIGSEGV,
        S::SIGBUS,
        S::SIGILL,
        S::SIGFPE,
        S::SIGTRAP,
        S::SIGSYS,
        S::SIGABRT,
    ] {
        set.remove(sig);
    }
    set
}

/// The body of `kbox supervise`: sets the container up, reports on `ready_fd`, waits for
/// `start`, runs the container and returns its exit code.
pub fn supervise(
    bundle_dir: &Path,
    state_dir: &Path,
    console_socket: Option<&Path>,
    ready_fd: i32,
    preserve_fds: u32,
) -> i32 {
    // SAFETY: the fd was handed to us by `create` for exactly this use; we own it now.
    let mut ready = unsafe { std::fs::File::from_raw_fd(ready_fd) };
    // Fds 3..3+N came from `create`'s caller for the container; the supervisor owns them
    // and keeps them from the container's host processes.
    let preserved: Vec<std::os::fd::OwnedFd> = (3..3 + preserve_fds as i32)
        // SAFETY: `create` checked these fds are open and passed them for this use only.
        .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
        .inspect(|fd| {
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
        })
        .collect();
    let bundle = match Bundle::load(bundle_dir) {
        Ok(bundle) => bundle,
        Err(e) => {
            let _ = writeln!(ready, "error: {e}");
            return 1;
        }
    };
    let fifo = state_dir.join(START_FIFO);
    let ready = std::cell::RefCell::new(Some(ready));
    let fifo_file = std::cell::RefCell::new(None);
    let gate = || -> Result<(), String> {
        if let Some(mut ready) = ready.borrow_mut().take() {
            let _ = writeln!(ready, "ready");
        }
        // Blocks until `start` opens the fifo for reading.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .map_err(|e| format!("waiting for start: {e}"))?;
        *fifo_file.borrow_mut() = Some(file);
        Ok(())
    };
    // What `start` learns: "1" once the first process runs, or "E" and why it could not.
    let started = |outcome: Result<(), String>| {
        if let Some(mut file) = fifo_file.borrow_mut().take() {
            let message = match outcome {
                Ok(()) => "1".to_owned(),
                Err(e) => format!("E{e}"),
            };
            let _ = file.write_all(message.as_bytes());
        }
    };
    let code = match crate::supervisor::run(
        &bundle,
        state_dir,
        console_socket,
        preserved,
        gate,
        started,
    ) {
        Ok(code) => code,
        Err(e) => {
            match ready.borrow_mut().take() {
                // Still setting up: `create` reports the error.
                Some(mut ready) => {
                    let _ = writeln!(ready, "error: {e}");
                }
                None => eprintln!("kbox: {e}"),
            }
            1
        }
    };
    let _ = std::fs::write(state_dir.join(EXIT_STATUS), format!("{code}\n"));
    code
}

/// Sends `signal` to the container's process, or with `all` to every process of the
/// container.
pub fn signal(
    record: &ContainerRecord,
    state_dir: &Path,
    signal: Signal,
    all: bool,
) -> Result<(), EngineError> {
    if all && record.process_is_alive() {
        return control(
            state_dir,
            &Request::SignalAll {
                signal: signal.number(),
            },
        )
        .map(drop);
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
    match signal(record, Path::new(""), Signal::KILL, false) {
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

/// Sends a request to the container's supervisor and returns its first reply.
fn control(state_dir: &Path, request: &Request) -> Result<Reply, EngineError> {
    let socket = state_dir.join(crate::tracer::control::SOCKET);
    let stream = crate::tracer::control::send(&socket, request, &[]).map_err(|e| {
        EngineError::Supervisor(format!("reaching the container's supervisor: {e}"))
    })?;
    match crate::tracer::control::read_reply(&mut std::io::BufReader::new(stream)) {
        Ok(Some(Reply::Error(message))) => Err(EngineError::Supervisor(message)),
        Ok(Some(reply)) => Ok(reply),
        Ok(None) => Err(EngineError::Supervisor(
            "the container's supervisor did not answer".into(),
        )),
        Err(e) => Err(EngineError::Supervisor(format!(
            "reading the supervisor's answer: {e}"
        ))),
    }
}

pub fn pause(record: &ContainerRecord, state_dir: &Path) -> Result<(), EngineError> {
    log::debug!("pause {}", record.id);
    control(state_dir, &Request::Pause).map(drop)
}

pub fn resume(record: &ContainerRecord, state_dir: &Path) -> Result<(), EngineError> {
    log::debug!("resume {}", record.id);
    control(state_dir, &Request::Resume).map(drop)
}

/// Host pids of every process of the container, for `ps`.
pub fn processes(record: &ContainerRecord, state_dir: &Path) -> Result<Vec<i32>, EngineError> {
    log::debug!("processes of {}", record.id);
    if !record.process_is_alive() {
        return Ok(Vec::new());
    }
    match control(state_dir, &Request::Ps)? {
        Reply::Pids(pids) => Ok(pids),
        other => Err(EngineError::Supervisor(format!(
            "unexpected answer {other:?}"
        ))),
    }
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
    log::debug!("exec {:?} in {}", options.process.args(), record.id);
    let terminal = options.process.terminal().unwrap_or(false);
    if terminal && options.console_socket.is_none() {
        return Err(EngineError::Supervisor(
            "exec --tty needs --console-socket".into(),
        ));
    }
    if !record.process_is_alive() {
        return Err(EngineError::NotRunning);
    }
    let socket = state_dir.join(crate::tracer::control::SOCKET);
    let console_socket = match options.console_socket {
        Some(path) if terminal => Some(
            std::path::absolute(path)
                .map_err(|e| EngineError::Supervisor(format!("{}: {e}", path.display())))?,
        ),
        _ => None,
    };
    let request = Request::Exec {
        process: Box::new(options.process.clone()),
        detach: options.detach,
        console_socket,
    };
    // The caller's stdio (unless the process has a terminal), then its preserved fds.
    let stdio: &[i32] = if terminal { &[] } else { &[0, 1, 2] };
    let fds: Vec<i32> = stdio
        .iter()
        .copied()
        .chain(3..3 + options.preserve_fds as i32)
        .collect();
    let stream = crate::tracer::control::send(&socket, &request, &fds).map_err(|e| {
        EngineError::Supervisor(format!("reaching the container's supervisor: {e}"))
    })?;
    let mut replies = std::io::BufReader::new(stream);
    let mut next = || match crate::tracer::control::read_reply(&mut replies) {
        Ok(Some(Reply::Error(message))) => Err(EngineError::Supervisor(message)),
        Ok(Some(reply)) => Ok(reply),
        Ok(None) => Err(EngineError::Supervisor(
            "the container ended during exec".into(),
        )),
        Err(e) => Err(EngineError::Supervisor(format!(
            "reading the supervisor's answer: {e}"
        ))),
    };
    let pid = match next()? {
        Reply::Started { pid } => pid,
        other => {
            return Err(EngineError::Supervisor(format!(
                "unexpected answer {other:?}"
            )))
        }
    };
    if options.detach {
        return Ok(ExecOutcome::Detached { pid });
    }
    match next()? {
        Reply::Exited { code } => Ok(ExecOutcome::Exited { code }),
        other => Err(EngineError::Supervisor(format!(
            "unexpected answer {other:?}"
        ))),
    }
}
