//! The container's stdin, stdout and stderr: pipes in the container's kernel whose other
//! ends the supervisor pumps to and from its own stdio (the pipes conmon gave it, a file, a
//! terminal). Inside, they behave as any descriptor does: dup2, fork, exec, poll.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;

use super::{setup_err, task_call, SupervisorError};
use std::fs::File;
use std::os::fd::OwnedFd;

use crate::lkl::{sysnr as k, thread_syscall, Task};

/// How long the container's output may keep flowing after its first process exits.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Stdio {
    /// Kernel fds of the container's ends, in the supervisor's table until installed.
    inner: [i32; 3],
    outputs: Vec<mpsc::Receiver<()>>,
}

fn pipe() -> Result<[i32; 2], SupervisorError> {
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
    Ok(fds)
}

impl Stdio {
    /// Pipes in the kernel (in the calling thread's task) pumped to and from `host`: the
    /// host fds to read the container's stdin from and write its stdout and stderr to.
    pub fn new(host: [OwnedFd; 3]) -> Result<Self, SupervisorError> {
        let stdin = pipe()?;
        let stdout = pipe()?;
        let stderr = pipe()?;
        let [host_in, host_out, host_err] = host;
        let mut outputs = Vec::new();
        spawn_pump("stdin", move || pump_in(File::from(host_in), stdin[1]));
        for (name, read_end, host_fd) in [
            ("stdout", stdout[0], host_out),
            ("stderr", stderr[0], host_err),
        ] {
            let (tx, rx) = mpsc::channel();
            spawn_pump(name, move || {
                pump_out(read_end, File::from(host_fd));
                let _ = tx.send(());
            });
            outputs.push(rx);
        }
        Ok(Stdio {
            inner: [stdin[0], stdout[1], stderr[1]],
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

    /// Gives `task` the container's ends as fds 0, 1 and 2 and nothing else, and drops the
    /// supervisor's copies so that end-of-file reaches the readers.
    pub fn install(&self, task: &Task) -> Result<(), SupervisorError> {
        let mut high = [0i64; 3];
        for (slot, fd) in high.iter_mut().zip(self.inner) {
            *slot = task_call(
                task,
                k::FCNTL,
                [
                    i64::from(fd),
                    i64::from(libc::F_DUPFD_CLOEXEC),
                    100,
                    0,
                    0,
                    0,
                ],
            )
            .map_err(setup_err("arranging stdio"))?;
        }
        for (target, fd) in high.iter().enumerate() {
            task_call(task, k::DUP3, [*fd, target as i64, 0, 0, 0, 0])
                .map_err(setup_err("arranging stdio"))?;
        }
        task_call(task, k::CLOSE_RANGE, [3, i64::from(u32::MAX), 0, 0, 0, 0])
            .map_err(setup_err("closing the supervisor's descriptors"))?;
        for fd in self.inner {
            // SAFETY: plain close of a kernel fd in this thread's table.
            let _ = unsafe { thread_syscall(k::CLOSE, [i64::from(fd), 0, 0, 0, 0, 0]) };
        }
        Ok(())
    }

    /// Waits (a bounded time) for the container's output to drain.
    pub fn finish(self) {
        for rx in self.outputs {
            let _ = rx.recv_timeout(DRAIN_TIMEOUT);
        }
    }
}

fn spawn_pump(name: &str, f: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name(format!("{name}-pump"))
        .spawn(f);
    if let Err(e) = spawned {
        log::error!("cannot start the {name} pump: {e}");
    }
}

fn pump_in(mut host: File, write_end: i32) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match host.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut at = 0;
        while at < n {
            let chunk = &buf[at..n];
            // SAFETY: chunk is a live buffer of the length passed.
            match unsafe {
                thread_syscall(
                    k::WRITE,
                    [
                        i64::from(write_end),
                        chunk.as_ptr() as i64,
                        chunk.len() as i64,
                        0,
                        0,
                        0,
                    ],
                )
            } {
                Ok(w) => at += w as usize,
                Err(Errno::EINTR) => {}
                Err(_) => return close(write_end),
            }
        }
    }
    close(write_end);
}

fn pump_out(read_end: i32, mut host: File) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: buf is a live buffer of the length passed.
        match unsafe {
            thread_syscall(
                k::READ,
                [
                    i64::from(read_end),
                    buf.as_mut_ptr() as i64,
                    buf.len() as i64,
                    0,
                    0,
                    0,
                ],
            )
        } {
            Ok(0) => break,
            Ok(n) => {
                if host.write_all(&buf[..n as usize]).is_err() {
                    break;
                }
            }
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    close(read_end);
}

fn close(fd: i32) {
    // SAFETY: plain close of a kernel fd in this thread's table.
    let _ = unsafe { thread_syscall(k::CLOSE, [i64::from(fd), 0, 0, 0, 0, 0]) };
}
