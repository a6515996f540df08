//! Runs OCI hooks: the hook's path with its args and (only) its env, the container state
//! JSON on stdin, killed when its timeout expires. Its stdout and stderr go to kbox's stderr
//! so they never mix into JSON that kbox prints on stdout.

use std::io::{self, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{Hook, Spec, State};

/// The hook lists of the runtime-spec, by the name they have in config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind that `spec` lists (often none).
    pub fn hooks_in(self, spec: &Spec) -> Vec<Hook> {
        let Some(hooks) = spec.hooks() else {
            return Vec::new();
        };
        #[allow(deprecated)] // prestart is deprecated by the spec but still used
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {}: cannot run: {source}", path.display())]
    Spawn {
        kind: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{kind} hook {}: {}", path.display(), describe_exit(*status))]
    Failed {
        kind: &'static str,
        path: PathBuf,
        status: ExitStatus,
    },
    #[error("{kind} hook {}: timed out after {seconds}s and was killed", path.display())]
    TimedOut {
        kind: &'static str,
        path: PathBuf,
        seconds: u64,
    },
    #[error("cannot serialise the container state for {kind} hooks: {source}")]
    State {
        kind: &'static str,
        source: serde_json::Error,
    },
    #[error("{kind} hook {}: {source}", path.display())]
    Wait {
        kind: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended abnormally ({status})"),
    }
}

/// Runs the `kind` hooks of `spec` in order with `state` on their stdin, stopping at the
/// first failure.
pub fn run_spec_hooks(kind: HookKind, spec: &Spec, state: &State) -> Result<(), HookError> {
    let hooks = kind.hooks_in(spec);
    if hooks.is_empty() {
        return Ok(());
    }
    let state_json = serde_json::to_vec(state).map_err(|source| HookError::State {
        kind: kind.name(),
        source,
    })?;
    hooks
        .iter()
        .try_for_each(|hook| run_hook(kind.name(), hook, &state_json))
}

/// Runs one hook and waits for it (at most its timeout, when it has one).
pub fn run_hook(kind: &'static str, hook: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    let path = hook.path().clone();
    log::debug!("running {kind} hook {}", path.display());
    let mut command = Command::new(&path);
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        command.arg0(argv0).args(rest);
    }
    command.env_clear();
    for entry in hook.env().iter().flatten() {
        if let Some((key, value)) = entry.split_once('=') {
            command.env(key, value);
        }
    }
    let stderr_for_stdout = stderr_as_stdio().map_err(|source| spawn_error(kind, &path, source))?;
    command
        .stdin(Stdio::piped())
        .stdout(stderr_for_stdout)
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(kind, &path, source))?;
    let pid = Pid::from_raw(child.id() as i32);
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let state = state_json.to_vec();

    // The waiter feeds stdin and reaps the hook; this thread only enforces the timeout, so a
    // hook that never reads stdin cannot block us past it.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(&state);
        drop(stdin);
        let _ = done_tx.send(child.wait());
    });
    let outcome = match hook.timeout() {
        Some(seconds) if seconds > 0 => {
            let seconds = seconds as u64;
            match done_rx.recv_timeout(Duration::from_secs(seconds)) {
                Ok(outcome) => outcome,
                Err(_) => {
                    // Still running (the waiter has not reaped it), so the pid is still ours.
                    let _ = kill(pid, Signal::SIGKILL);
                    let _ = done_rx.recv();
                    return Err(HookError::TimedOut {
                        kind,
                        path,
                        seconds,
                    });
                }
            }
        }
        _ => done_rx.recv().unwrap_or_else(|_| {
            Err(io::Error::other(
                "hook waiter thread ended without a result",
            ))
        }),
    };
    let status = outcome.map_err(|source| HookError::Wait {
        kind,
        path: path.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(HookError::Failed { kind, path, status })
    }
}

fn spawn_error(kind: &'static str, path: &std::path::Path, source: io::Error) -> HookError {
    HookError::Spawn {
        kind,
        path: path.to_path_buf(),
        source,
    }
}

/// A duplicate of our stderr, to serve as a child's stdout.
fn stderr_as_stdio() -> io::Result<Stdio> {
    use std::os::fd::AsFd;
    Ok(Stdio::from(io::stderr().as_fd().try_clone_to_owned()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn passes_state_on_stdin_args_and_only_hook_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!(
            r#"{{"path": "/bin/sh", "args": ["sh", "-c", "cat > {0}; echo \"$0 $1 $FOO ${{HOME:-nohome}}\" >> {0}", "zero", "one"], "env": ["FOO=bar"]}}"#,
            out.display()
        );
        run_hook("poststop", &hook(&script), br#"{"id":"c"}"#).unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(written, "{\"id\":\"c\"}zero one bar nohome\n");
    }

    #[test]
    fn nonzero_exit_names_the_hook() {
        let err = run_hook(
            "createRuntime",
            &hook(r#"{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}"#),
            b"{}",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "createRuntime hook /bin/sh: exited with status 3"
        );
    }

    #[test]
    fn timeout_kills_the_hook() {
        let started = std::time::Instant::now();
        let err = run_hook(
            "poststart",
            &hook(r#"{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}"#),
            b"{}",
        )
        .unwrap_err();
        assert!(
            matches!(err, HookError::TimedOut { seconds: 1, .. }),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_binary_is_a_spawn_error() {
        let err =
            run_hook("poststop", &hook(r#"{"path": "/nonexistent/hook"}"#), b"{}").unwrap_err();
        assert!(matches!(err, HookError::Spawn { .. }), "{err}");
    }
}
