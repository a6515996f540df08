//! The `createContainer` and `startContainer` hooks, which the runtime-spec runs "in the
//! container namespace". A kbox container's namespaces are its own kernel, so these hooks
//! are processes of the container: the hook's path is looked up in the container's
//! filesystem, and it runs traced like any process of the container, with the container's
//! state on its stdin, its stdout and stderr going to the supervisor's stderr, and the hook's
//! timeout enforced. createContainer hooks run during `create`, before it returns;
//! startContainer hooks during `start`, before the first process runs.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use oci_spec::runtime::Hook;

use super::{setup_err, stdio, SupervisorError};
use crate::tracer::{self, ExitStatus, Program};

/// A hook without a timeout may still not hang the container forever.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn host_err(what: &str) -> impl FnOnce(std::io::Error) -> SupervisorError + '_ {
    move |e| setup_err(what)(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Runs `hooks` (of kind `kind`, for messages) in the container whose image is mounted at
/// `root`, each with `state` on stdin. The first failing hook fails the whole.
pub fn run(
    kind: &str,
    hooks: &[Hook],
    state: &[u8],
    root: &str,
    pid_ns: &super::pidns::PidNamespace,
) -> Result<(), SupervisorError> {
    for hook in hooks {
        let path = hook.path().display().to_string();
        let failed = |why: String| SupervisorError::Hook(format!("{kind} hook {path}: {why}"));
        let cstr = |s: &str| CString::new(s).map_err(|_| failed(format!("{s:?} contains NUL")));
        let args = hook.args().clone().unwrap_or_else(|| vec![path.clone()]);
        let program = Program {
            path: cstr(&path)?,
            argv: args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?,
            env: hook
                .env()
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|e| cstr(e))
                .collect::<Result<_, _>>()?,
            rlimits: Vec::new(),
            terminal_session: false,
            no_new_privileges: false,
            oom_score_adj: None,
        };

        // stdin: a host pipe holding the state; stdout and stderr: ours.
        let mut fds = [0i32; 2];
        // SAFETY: fds is a 2-int buffer pipe2 fills.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(host_err("creating a hook's stdin")(
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: both fds were just created and are owned by nothing else.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut writer = std::fs::File::from(write_end);
        // A state larger than the pipe buffer would block: write from a thread.
        let state = state.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = writer.write_all(&state);
        });
        let own = stdio::Stdio::own_fds()?;
        let [_, _, err] = own;
        let err2 = err.try_clone().map_err(host_err("duplicating stderr"))?;
        let mut io = stdio::Stdio::new([read_end, err, err2])?;
        let task = pid_ns.process_task(root)?;
        io.install(&task, &mut stdio::Preserved::default())?;
        let timeout = hook
            .timeout()
            .filter(|&t| t > 0)
            .map_or(DEFAULT_TIMEOUT, |t| Duration::from_secs(t as u64));
        let status = tracer::run(task, &program, None, Some(timeout))?;
        io.finish();
        let _ = feeder.join();
        match status {
            ExitStatus::Exited(0) => {}
            ExitStatus::Exited(code) => return Err(failed(format!("exited with status {code}"))),
            ExitStatus::Signaled(libc::SIGKILL) => {
                return Err(failed(format!(
                    "killed after its timeout of {}s",
                    timeout.as_secs()
                )))
            }
            ExitStatus::Signaled(sig) => return Err(failed(format!("killed by signal {sig}"))),
        }
    }
    Ok(())
}
