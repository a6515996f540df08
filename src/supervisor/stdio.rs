//! The container's stdin, stdout and stderr: pipes in the container's kernel whose other
//! ends the supervisor pumps to and from its own stdio (the pipes conmon gave it, a file, a
//! terminal). Inside, they behave as any descriptor does: dup2, fork, exec, poll.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;

use super::{setup_err, task_call, SupervisorError};
use crate::lkl::{sysnr as k, thread_syscall, Kernel, Task};

/// How long the container's output may keep flowing after its first process exits.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Stdio {
    /// Kernel fds of the container's ends, in the supervisor's table until installed.
    inner: [i32; 3],
    outputs: Vec<mpsc::Receiver<()>>,
}

fn pipe(kernel: &Kernel) -> Result<[i32; 2], SupervisorError> {
    kernel
        .pipe2(libc::O_CLOEXEC)
        .map_err(setup_err("creating a stdio pipe"))
}

impl Stdio {
    pub fn new(kernel: &Kernel) -> Result<Self, SupervisorError> {
        let stdin = pipe(kernel)?;
        let stdout = pipe(kernel)?;
        let stderr = pipe(kernel)?;
        let mut outputs = Vec::new();
        spawn_pump("stdin", move || pump_in(stdin[1]));
        for (name, read_end, host_fd) in [("stdout", stdout[0], 1), ("stderr", stderr[0], 2)] {
            let (tx, rx) = mpsc::channel();
            spawn_pump(name, move || {
                pump_out(read_end, host_fd);
                let _ = tx.send(());
            });
            outputs.push(rx);
        }
        Ok(Stdio {
            inner: [stdin[0], stdout[1], stderr[1]],
            outputs,
        })
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

fn pump_in(write_end: i32) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
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

fn pump_out(read_end: i32, host_fd: i32) {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: host_fd is this process's own stdout or stderr, open for its whole life; the
    // ManuallyDrop keeps it from being closed here.
    let mut out = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(host_fd)
    });
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
                if out.write_all(&buf[..n as usize]).is_err() {
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
