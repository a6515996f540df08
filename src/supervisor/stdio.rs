//! The container's stdin, stdout and stderr: pipes in the container's kernel whose other
//! ends the supervisor pumps to and from its own stdio (the pipes conmon gave it, a file, a
//! terminal). Inside, they behave as any descriptor does: dup2, fork, exec, poll.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;

use super::pump::{self, End, KernelFd};
use super::{setup_err, task_call, SupervisorError};
use crate::lkl::{sysnr as k, thread_syscall, Task};

/// How long the container's output (pipes, preserved fds, a terminal) may keep flowing
/// after the process writing it exits.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Stdio {
    /// Kernel fds of the container's ends, in the supervisor's table until installed.
    inner: Option<[KernelFd; 3]>,
    outputs: Outputs,
}

/// The pumps that carry the container's output to the host, each reporting its end.
#[derive(Default)]
struct Outputs(Vec<mpsc::Receiver<()>>);

impl Outputs {
    /// A kernel pipe whose read end is pumped to `host`; returns the container's end.
    fn pipe_to(&mut self, name: &str, host: OwnedFd) -> Result<KernelFd, SupervisorError> {
        let (read_end, write_end) = pipe()?;
        let (tx, rx) = mpsc::channel();
        pump::spawn(name, move || {
            pump::copy(End::Kernel(&read_end), End::Host(host.as_fd()), None);
            drop(read_end);
            let _ = tx.send(());
        });
        self.0.push(rx);
        Ok(write_end)
    }

    /// Waits (a bounded time) for every pump to end.
    fn drain(self) {
        for rx in self.0 {
            let _ = rx.recv_timeout(DRAIN_TIMEOUT);
        }
    }
}

/// A kernel pipe whose write end is fed from `host`; returns the container's end.
fn pipe_from(name: &str, host: OwnedFd) -> Result<KernelFd, SupervisorError> {
    let (read_end, write_end) = pipe()?;
    pump::spawn(name, move || {
        pump::copy(End::Host(host.as_fd()), End::Kernel(&write_end), None)
    });
    Ok(read_end)
}

/// A kernel pipe as (read end, write end).
fn pipe() -> Result<(KernelFd, KernelFd), SupervisorError> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a live 2-int buffer, what pipe2 fills.
    unsafe {
        thread_syscall(
            k::PIPE2,
            [
                fds.as_mut_ptr() as i64,
                i64::from(libc::O_CLOEXEC),
                0,
                0,
                0,
                0,
            ],
        )
    }
    .map_err(setup_err("creating a stdio pipe"))?;
    Ok((KernelFd::new(fds[0]), KernelFd::new(fds[1])))
}

impl Stdio {
    /// Pipes in the kernel (in the calling thread's task) pumped to and from `host`: the
    /// host fds to read the container's stdin from and write its stdout and stderr to.
    pub fn new(host: [OwnedFd; 3]) -> Result<Self, SupervisorError> {
        let [host_in, host_out, host_err] = host;
        let mut outputs = Outputs::default();
        let stdin = pipe_from("stdin-pump", host_in)?;
        let stdout = outputs.pipe_to("stdout-pump", host_out)?;
        let stderr = outputs.pipe_to("stderr-pump", host_err)?;
        Ok(Stdio {
            inner: Some([stdin, stdout, stderr]),
            outputs,
        })
    }

    /// This process's own stdin, stdout and stderr, duplicated.
    pub fn own_fds() -> Result<[OwnedFd; 3], SupervisorError> {
        let dup = |fd: i32| {
            // SAFETY: borrowing our own standard fd only for the duration of the dup.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| {
                    setup_err("duplicating stdio")(Errno::from_raw(
                        e.raw_os_error().unwrap_or(libc::EBADF),
                    ))
                })
        };
        Ok([dup(0)?, dup(1)?, dup(2)?])
    }

    /// Gives `task` the container's ends as fds 0, 1 and 2, the preserved fds after them,
    /// and nothing else; the supervisor keeps no copy, so that end-of-file reaches readers.
    pub fn install(
        &mut self,
        task: &Task,
        preserved: &mut Preserved,
    ) -> Result<(), SupervisorError> {
        let inner = self
            .inner
            .take()
            .ok_or_else(|| setup_err("stdio installed twice")(Errno::EBADF))?;
        let extra = preserved.take();
        let fds: Vec<&KernelFd> = inner.iter().chain(extra.iter()).collect();
        arrange(task, &fds)
    }

    /// Waits (a bounded time) for the container's output to drain.
    pub fn finish(self) {
        self.outputs.drain();
    }
}

/// Makes `fds` (kernel fds of the supervisor's table, which `task` was forked with) fds 0,
/// 1, 2, ... of `task`, and closes every other fd of `task`.
pub(super) fn arrange(task: &Task, fds: &[&KernelFd]) -> Result<(), SupervisorError> {
    // Above every target first, so that no dup3 overwrites a source still to be placed.
    const ABOVE_TARGETS: i64 = 1000;
    let mut high = Vec::with_capacity(fds.len());
    for fd in fds {
        high.push(
            task_call(
                task,
                k::FCNTL,
                [
                    i64::from(fd.raw()),
                    i64::from(libc::F_DUPFD_CLOEXEC),
                    ABOVE_TARGETS,
                    0,
                    0,
                    0,
                ],
            )
            .map_err(setup_err("arranging the container's fds"))?,
        );
    }
    for (target, fd) in high.iter().enumerate() {
        task_call(task, k::DUP3, [*fd, target as i64, 0, 0, 0, 0])
            .map_err(setup_err("arranging the container's fds"))?;
    }
    task_call(
        task,
        k::CLOSE_RANGE,
        [fds.len() as i64, i64::from(u32::MAX), 0, 0, 0, 0],
    )
    .map_err(setup_err("closing the supervisor's descriptors"))?;
    Ok(())
}

/// The most fds `--preserve-fds` passes on.
pub const MAX_PRESERVED_FDS: usize = 64;

/// Host fds passed on to the container (`--preserve-fds`) as its fds 3, 4, ...: a host fd
/// cannot enter the container's kernel, so each becomes a kernel pipe (a read-only or
/// write-only fd) or a Unix stream socket (a read-write fd) whose other end the supervisor
/// pumps to and from the host fd. Listening sockets cannot be carried this way.
#[derive(Default)]
pub struct Preserved {
    inner: Vec<KernelFd>,
    outputs: Outputs,
}

impl Preserved {
    pub fn new(host: Vec<OwnedFd>) -> Result<Self, SupervisorError> {
        let mut preserved = Preserved::default();
        for (index, fd) in host.into_iter().enumerate() {
            let number = index + 3;
            if is_listening_socket(&fd) {
                return Err(setup_err(format!(
                    "preserved fd {number} is a listening socket, which cannot be passed into \
                     the container's kernel"
                ))(Errno::EINVAL));
            }
            let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).map_err(
                setup_err(format!("reading the mode of preserved fd {number}")),
            )?;
            let name = format!("fd{number}-pump");
            match flags & libc::O_ACCMODE {
                libc::O_RDONLY => preserved.inner.push(pipe_from(&name, fd)?),
                libc::O_WRONLY => {
                    let end = preserved.outputs.pipe_to(&name, fd)?;
                    preserved.inner.push(end);
                }
                _ => {
                    let (ours, theirs) = socketpair()?;
                    let ours = std::sync::Arc::new(ours);
                    let host = std::sync::Arc::new(fd);
                    let (tx, rx) = mpsc::channel();
                    {
                        let (ours, host) = (ours.clone(), host.clone());
                        pump::spawn(&format!("{name}-in"), move || {
                            pump::copy(End::Host(host.as_fd()), End::Kernel(&ours), None);
                            // End of the host side: the container reads end of file.
                            // SAFETY: shutdown of a kernel socket; no memory involved.
                            let _ = unsafe {
                                thread_syscall(
                                    k::SHUTDOWN,
                                    [i64::from(ours.raw()), i64::from(libc::SHUT_WR), 0, 0, 0, 0],
                                )
                            };
                        });
                    }
                    pump::spawn(&format!("{name}-out"), move || {
                        pump::copy(End::Kernel(&ours), End::Host(host.as_fd()), None);
                        let _ = nix::sys::socket::shutdown(
                            host.as_raw_fd(),
                            nix::sys::socket::Shutdown::Write,
                        );
                        let _ = tx.send(());
                    });
                    preserved.outputs.0.push(rx);
                    preserved.inner.push(theirs);
                }
            }
        }
        Ok(preserved)
    }

    /// The container's ends, for installing; the supervisor's copies close with them.
    pub(super) fn take(&mut self) -> Vec<KernelFd> {
        std::mem::take(&mut self.inner)
    }

    /// Waits (a bounded time) for what the container wrote to the preserved fds to drain.
    pub fn finish(self) {
        self.outputs.drain();
    }
}

fn is_listening_socket(fd: &OwnedFd) -> bool {
    nix::sys::socket::getsockopt(fd, nix::sys::socket::sockopt::AcceptConn).unwrap_or(false)
}

/// A kernel Unix stream socket pair.
fn socketpair() -> Result<(KernelFd, KernelFd), SupervisorError> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a live 2-int buffer, what socketpair fills.
    unsafe {
        thread_syscall(
            k::SOCKETPAIR,
            [
                i64::from(libc::AF_UNIX),
                i64::from(libc::SOCK_STREAM | libc::SOCK_CLOEXEC),
                0,
                fds.as_mut_ptr() as i64,
                0,
                0,
            ],
        )
    }
    .map_err(setup_err("creating a socket for a preserved fd"))?;
    Ok((KernelFd::new(fds[0]), KernelFd::new(fds[1])))
}
