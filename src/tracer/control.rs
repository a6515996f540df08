//! The supervisor's control socket (`ctl.sock` in the container's state directory): how
//! `kbox exec`, `ps`, `pause`, `resume` and `kill --all` reach a running container, since the
//! supervisor's signals all go to the container's first process.
//!
//! One JSON request per connection; `exec` passes the caller's stdin, stdout and stderr
//! along with it (SCM_RIGHTS). Replies are JSON lines: `exec` answers `Started` at once and,
//! unless detached, `Exited` when the process ends.

use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

/// Name of the control socket in the state directory.
pub const SOCKET: &str = "ctl.sock";

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// The host pids of the container's processes.
    Ps,
    Pause,
    Resume,
    /// A signal to every process of the container.
    SignalAll {
        signal: i32,
    },
    /// Runs another process in the container, with the fds that come with the request as
    /// its stdin, stdout and stderr.
    Exec {
        /// Boxed: a process spec is large next to the other requests.
        process: Box<oci_spec::runtime::Process>,
        detach: bool,
        /// With `process.terminal`: where to send the pty master (exec --tty).
        #[serde(default)]
        console_socket: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Pids(Vec<i32>),
    Done,
    Started { pid: i32 },
    Exited { code: i32 },
    Error(String),
}

/// Sends a request (with `fds`, for exec) and returns the stream to read replies from.
pub fn send(
    socket: &std::path::Path,
    request: &Request,
    fds: &[RawFd],
) -> std::io::Result<UnixStream> {
    let stream = UnixStream::connect(socket)?;
    let body = serde_json::to_vec(request)?;
    let iov = [IoSlice::new(&body)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    Ok(stream)
}

/// Reads the next reply line.
pub fn read_reply(reader: &mut impl std::io::BufRead) -> std::io::Result<Option<Reply>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Server side: reads a request and the fds sent with it.
pub fn receive(stream: &UnixStream) -> std::io::Result<(Request, Vec<OwnedFd>)> {
    let mut body = vec![0u8; 256 * 1024];
    // stdin, stdout, stderr and the preserved fds.
    let mut cmsg_space = nix::cmsg_space!([RawFd; 3 + crate::supervisor::MAX_PRESERVED_FDS]);
    let (len, fds) = {
        let mut iov = [IoSliceMut::new(&mut body)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: the kernel just installed these fds for us; we own them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        (msg.bytes, fds)
    };
    let request = serde_json::from_slice(&body[..len]).map_err(std::io::Error::other)?;
    Ok((request, fds))
}

/// Writes one reply line; a caller that went away is not an error worth reporting.
pub fn reply(mut stream: &UnixStream, reply: &Reply) {
    if let Ok(mut line) = serde_json::to_vec(reply) {
        line.push(b'\n');
        let _ = stream.write_all(&line);
    }
}
