//! `process.terminal`: the container gets a real terminal of its own kernel (a devpts pty:
//! isatty, window size, line discipline, job-control signals to its foreground group), and
//! the caller gets, through `--console-socket`, the master of a host pty whose other side
//! the supervisor pumps to and from the container's pty master.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::termios;

use super::pump::{self, End, KernelFd};
use super::{setup_err, SupervisorError};
use crate::lkl::{sysnr as k, thread_syscall, Task, AT_FDCWD};

/// How often the host terminal's size is copied to the container's.
const WINSIZE_POLL: Duration = Duration::from_millis(200);


pub struct Terminal {
    /// The container's pty slave, in the supervisor's kernel fd table until installed.
    slave: Option<KernelFd>,
    /// The container's pty master and the host pty's slave, to copy the window size.
    master: Arc<KernelFd>,
    host: OwnedFd,
    /// Ends when the container's side of the terminal is closed by every process and its
    /// output has reached the host pty.
    output_done: mpsc::Receiver<()>,
}

/// Opens a pty device in the calling thread's task (the supervisor's, in the kernel's root).
fn kernel_open(path: &CString) -> Result<i32, Errno> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: path is a live NUL-terminated string.
    unsafe {
        thread_syscall(
            k::OPENAT,
            [
                AT_FDCWD as i64,
                path.as_ptr() as i64,
                i64::from(flags),
                0,
                0,
                0,
            ],
        )
    }
    .map(|fd| fd as i32)
}

fn kernel_ioctl(fd: &KernelFd, request: u64, arg: i64) -> Result<i64, Errno> {
    // SAFETY: callers pass a plain integer or a pointer to a live buffer of the size the
    // request uses.
    unsafe {
        thread_syscall(
            k::IOCTL,
            [i64::from(fd.raw()), request as i64, arg, 0, 0, 0],
        )
    }
}

impl Terminal {
    /// Opens a pty in the container's kernel (under `root`, the image's mount point) and a
    /// host pty, sends the host master to `console_socket`, and starts the pumps.
    pub fn new(root: &str, console_socket: &Path) -> Result<Self, SupervisorError> {
        let ptmx = CString::new(format!("{root}/dev/pts/ptmx"))
            .map_err(|_| setup_err("pty path")(Errno::EINVAL))?;
        let master = kernel_open(&ptmx)
            .map(|fd| Arc::new(KernelFd::new(fd)))
            .map_err(setup_err("opening the container's /dev/pts/ptmx (process.terminal needs a devpts mount on /dev/pts)"))?;
        let unlock: i32 = 0;
        kernel_ioctl(&master, libc::TIOCSPTLCK, &unlock as *const i32 as i64)
            .map_err(setup_err("unlocking the container's pty"))?;
        let mut number: u32 = 0;
        kernel_ioctl(&master, libc::TIOCGPTN, &mut number as *mut u32 as i64)
            .map_err(setup_err("naming the container's pty"))?;
        let slave_path = CString::new(format!("{root}/dev/pts/{number}"))
            .map_err(|_| setup_err("pty path")(Errno::EINVAL))?;
        let slave = kernel_open(&slave_path)
            .map(KernelFd::new)
            .map_err(setup_err("opening the container's pty"))?;

        let host_master = posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
            .map_err(setup_err("opening a host pty"))?;
        grantpt(&host_master).map_err(setup_err("granting the host pty"))?;
        unlockpt(&host_master).map_err(setup_err("unlocking the host pty"))?;
        let host_slave_name = ptsname_r(&host_master).map_err(setup_err("naming the host pty"))?;
        let host_slave: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&host_slave_name)
            .map_err(|e| {
                setup_err("opening the host pty")(Errno::from_raw(
                    e.raw_os_error().unwrap_or(libc::EIO),
                ))
            })?
            .into();
        // The container's line discipline does the work: the host side passes bytes through.
        let mut raw =
            termios::tcgetattr(&host_slave).map_err(setup_err("reading the host pty mode"))?;
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&host_slave, termios::SetArg::TCSANOW, &raw)
            .map_err(setup_err("making the host pty raw"))?;

        send_master(console_socket, host_master.as_raw_fd(), &host_slave_name)?;
        drop(host_master);

        let dup = || pump::dup(host_slave.as_fd()).map_err(setup_err("duplicating the host pty"));
        let host_in = dup()?;
        let host_out = dup()?;
        let host = dup()?;
        // Set once the container's side is closed: the host side then closes too, so that
        // the caller reading the master sees the end (EIO), as with runc.
        let hangup = Arc::new(
            EventFd::from_flags(EfdFlags::EFD_CLOEXEC)
                .map_err(setup_err("creating the terminal's hang-up event"))?,
        );
        let (done_tx, output_done) = mpsc::channel();
        {
            let (master, hangup) = (master.clone(), hangup.clone());
            pump::spawn("terminal-in", move || {
                pump::copy(
                    End::Host(host_in.as_fd()),
                    End::Kernel(&master),
                    Some(hangup.as_fd()),
                )
            });
        }
        {
            let (master, hangup) = (master.clone(), hangup.clone());
            pump::spawn("terminal-out", move || {
                pump::copy(End::Kernel(&master), End::Host(host_out.as_fd()), None);
                drop(host_out);
                let _ = hangup.write(1);
                let _ = done_tx.send(());
            });
        }
        {
            let master = master.clone();
            pump::spawn("terminal-size", move || {
                copy_window_size(host_slave, &master, &hangup)
            });
        }
        Ok(Terminal {
            slave: Some(slave),
            master,
            host,
            output_done,
        })
    }

    /// Copies the host pty's window size now: the caller usually sets it between create and
    /// start, and the first process may ask for it at once.
    pub fn sync_window_size(&self) {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize into `size`.
        if unsafe { libc::ioctl(self.host.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } == 0 {
            let _ = kernel_ioctl(
                &self.master,
                libc::TIOCSWINSZ,
                &size as *const libc::winsize as i64,
            );
        }
    }

    /// Makes the pty the stdio of `task`.
    pub fn install(
        &mut self,
        task: &Task,
        preserved: &mut super::stdio::Preserved,
    ) -> Result<(), SupervisorError> {
        let slave = self
            .slave
            .take()
            .ok_or_else(|| setup_err("terminal installed twice")(Errno::EBADF))?;
        let extra = preserved.take();
        let fds: Vec<&KernelFd> = [&slave, &slave, &slave]
            .into_iter()
            .chain(extra.iter())
            .collect();
        // The session and the controlling terminal come once the process has its host pid
        // (see `Program::terminal_session`).
        super::stdio::arrange(task, &fds)
    }

    /// Waits (a bounded time) until every process has closed the container's side and the
    /// output has reached the host pty; the host side closes as this value drops.
    pub fn finish(self) {
        let _ = self.output_done.recv_timeout(super::stdio::DRAIN_TIMEOUT);
    }
}

/// Sends the host pty master as runc does: one message carrying the pty's name and the fd.
fn send_master(socket: &Path, master: i32, name: &str) -> Result<(), SupervisorError> {
    let stream = UnixStream::connect(socket).map_err(|e| {
        setup_err(format!("connecting to console socket {}", socket.display()))(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    let fds = [master];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(setup_err("sending the pty master to the console socket"))?;
    Ok(())
}

/// Copies the host pty's window size to the container's whenever it changes, until the
/// terminal hangs up.
fn copy_window_size(host_slave: OwnedFd, kernel_master: &KernelFd, hangup: &EventFd) {
    let mut last = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    loop {
        let mut size = last;
        // SAFETY: TIOCGWINSZ writes a winsize into `size`.
        if unsafe { libc::ioctl(host_slave.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } < 0 {
            return;
        }
        if (size.ws_row, size.ws_col) != (last.ws_row, last.ws_col) {
            // The container's tty sends SIGWINCH to its foreground group.
            if kernel_ioctl(
                kernel_master,
                libc::TIOCSWINSZ,
                &size as *const libc::winsize as i64,
            )
            .is_err()
            {
                return;
            }
            last = size;
        }
        let mut fds = [PollFd::new(hangup.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(WINSIZE_POLL).unwrap_or(PollTimeout::NONE);
        if poll(&mut fds, timeout).is_ok_and(|ready| ready > 0) {
            return;
        }
    }
}
