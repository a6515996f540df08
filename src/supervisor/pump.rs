//! Byte pumps between the host and the container's kernel: the container's stdio pipes and
//! its terminal are each a host descriptor on one side and a descriptor of the container's
//! kernel on the other, copied by a thread per direction.

use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::lkl::{sysnr as k, thread_syscall};

/// A descriptor of the container's kernel, in the supervisor's table (shared by all the
/// supervisor's host threads); closed on drop.
#[derive(Debug)]
pub struct KernelFd(i32);

impl KernelFd {
    /// Takes ownership of `fd`, a kernel descriptor nothing else closes.
    pub fn new(fd: i32) -> Self {
        KernelFd(fd)
    }

    pub fn raw(&self) -> i32 {
        self.0
    }
}

impl Drop for KernelFd {
    fn drop(&mut self) {
        // SAFETY: plain close of a kernel fd this value owns.
        let _ = unsafe { thread_syscall(k::CLOSE, [i64::from(self.0), 0, 0, 0, 0, 0]) };
    }
}

/// One end of a pump.
#[derive(Clone, Copy)]
pub enum End<'a> {
    Host(BorrowedFd<'a>),
    Kernel(&'a KernelFd),
}

impl End<'_> {
    fn read(self, buf: &mut [u8]) -> Result<usize, Errno> {
        loop {
            let result = match self {
                End::Host(fd) => nix::unistd::read(fd, buf),
                // SAFETY: buf is a live buffer of the length passed.
                End::Kernel(fd) => unsafe {
                    thread_syscall(
                        k::READ,
                        [
                            i64::from(fd.raw()),
                            buf.as_mut_ptr() as i64,
                            buf.len() as i64,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                .map(|n| n as usize),
            };
            if result != Err(Errno::EINTR) {
                return result;
            }
        }
    }

    fn write_all(self, mut buf: &[u8]) -> Result<(), Errno> {
        while !buf.is_empty() {
            let result = match self {
                End::Host(fd) => nix::unistd::write(fd, buf),
                // SAFETY: buf is a live buffer of the length passed.
                End::Kernel(fd) => unsafe {
                    thread_syscall(
                        k::WRITE,
                        [
                            i64::from(fd.raw()),
                            buf.as_ptr() as i64,
                            buf.len() as i64,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                .map(|n| n as usize),
            };
            match result {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => buf = &buf[n..],
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Copies from `from` to `to` until end of file or an error on either side, or, when
/// `from` is a host descriptor, until `stop` becomes readable: a host read cannot be
/// interrupted by closing its descriptor, so a pump that must end early waits on both.
pub fn copy(from: End, to: End, stop: Option<BorrowedFd>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let (End::Host(fd), Some(stop)) = (from, stop) {
            let mut fds = [
                PollFd::new(fd.as_fd(), PollFlags::POLLIN),
                PollFd::new(stop, PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                return;
            }
            if fds[0].revents().is_none_or(|r| r.is_empty()) {
                continue;
            }
        }
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Starts a named pump thread; a failure to start is logged (the stream stays silent).
pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new().name(name.to_owned()).spawn(f);
    if let Err(e) = spawned {
        log::error!("cannot start {name}: {e}");
    }
}

/// Duplicates a host descriptor for a pump thread.
pub fn dup(fd: BorrowedFd) -> Result<std::os::fd::OwnedFd, Errno> {
    fd.try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EMFILE)))
}
