//! The process `kbox exec` runs: read from `--process`, or the container's own process with
//! the command line's overrides, as runc builds it.

use std::path::PathBuf;

use oci_spec::runtime::{Process, User};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("invalid user {0:?}: expected uid[:gid] with numeric ids")]
    InvalidUser(String),
    #[error("{}: {message}", path.display())]
    ProcessFile { path: PathBuf, message: String },
}

/// Command-line settings of `kbox exec` that override the base process (the container's
/// own, or the one read from `--process`).
#[derive(Debug, Clone, Default)]
pub struct ExecOverrides {
    /// Replaces the args when set (the command given on the command line).
    pub args: Option<Vec<String>>,
    /// `KEY=value` entries, appended (a later entry wins for the same key).
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    /// Sets `terminal` when `--tty` was given.
    pub tty: bool,
}

/// Reads a `--process` file (a JSON `process` object).
pub fn read_process_file(path: &std::path::Path) -> Result<Process, ProcessError> {
    let file_error = |message: String| ProcessError::ProcessFile {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|err| file_error(err.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|err| file_error(err.to_string()))
}

/// `base` with `overrides` applied: args and cwd replaced, the user set, env entries
/// appended (replacing an entry of the same key), the terminal turned on by `--tty`.
pub fn exec_process(base: &Process, overrides: &ExecOverrides) -> Result<Process, ProcessError> {
    let mut process = base.clone();
    if let Some(args) = &overrides.args {
        process.set_args(Some(args.clone()));
    }
    if overrides.tty {
        process.set_terminal(Some(true));
    }
    if let Some(cwd) = &overrides.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some(user) = &overrides.user {
        let (uid, gid) = parse_user(user)?;
        let mut new_user = User::default();
        new_user.set_uid(uid);
        new_user.set_gid(gid.unwrap_or(base.user().gid()));
        process.set_user(new_user);
    }
    if !overrides.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for entry in &overrides.env {
            let key = entry.split_once('=').map_or(entry.as_str(), |(key, _)| key);
            env.retain(|existing| existing.split_once('=').map(|(k, _)| k) != Some(key));
            env.push(entry.clone());
        }
        process.set_env(Some(env));
    }
    Ok(process)
}

/// Parses `uid` or `uid:gid` (numbers only, as `runc exec --user`).
pub fn parse_user(raw: &str) -> Result<(u32, Option<u32>), ProcessError> {
    let invalid = || ProcessError::InvalidUser(raw.to_owned());
    let (uid, gid) = match raw.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (raw, None),
    };
    let uid = uid.parse().map_err(|_| invalid())?;
    let gid = gid.map(str::parse).transpose().map_err(|_| invalid())?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        serde_json::from_str(
            r#"{"cwd": "/", "args": ["sh"], "env": ["PATH=/bin", "A=1"], "user": {"uid": 5, "gid": 6}}"#,
        )
        .unwrap()
    }

    #[test]
    fn overrides_replace_args_and_merge_env() {
        let overrides = ExecOverrides {
            args: Some(vec!["ls".into(), "-l".into()]),
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000".into()),
            tty: true,
        };
        let process = exec_process(&base(), &overrides).unwrap();
        assert_eq!(
            process.args().as_deref(),
            Some(&["ls".to_string(), "-l".to_string()][..])
        );
        assert_eq!(
            process.env().as_deref(),
            Some(
                &[
                    "PATH=/bin".to_string(),
                    "A=2".to_string(),
                    "B=3".to_string()
                ][..]
            )
        );
        assert_eq!(process.cwd().to_str(), Some("/tmp"));
        assert_eq!((process.user().uid(), process.user().gid()), (1000, 6));
        assert_eq!(process.terminal(), Some(true));
    }

    #[test]
    fn without_overrides_the_base_is_kept() {
        let process = exec_process(&base(), &ExecOverrides::default()).unwrap();
        assert_eq!(process, base());
    }

    #[test]
    fn user_syntax() {
        assert_eq!(parse_user("0"), Ok((0, None)));
        assert_eq!(parse_user("10:20"), Ok((10, Some(20))));
        for bad in ["root", "1:x", ":1", "", "1:2:3"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
    }
}
