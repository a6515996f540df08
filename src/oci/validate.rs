//! Checks a runtime config against what the runtime-spec requires and what kbox can honour.
//!
//! Errors are for configs that are invalid, or that ask for something kbox would silently get
//! wrong where the spec says a runtime MUST fail (joining an existing namespace). Settings
//! kbox accepts but does not enforce yet (cgroup limits, seccomp, LSM labels, id mappings)
//! are logged with `log::warn!`, because podman and containerd set some of them on every
//! container, and the container runs its own kernel, so host-side confinement of its
//! processes is not what isolates it.

use std::path::Path;

use oci_spec::runtime::{Process, Spec};

use super::hooks::HookKind;

/// Oldest and newest runtime-spec versions kbox has been written against.
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.2.0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("ociVersion is missing from config.json")]
    MissingVersion,
    #[error("unsupported ociVersion {0:?}: kbox supports {OCI_VERSION_MIN} to {OCI_VERSION_MAX}")]
    UnsupportedVersion(String),
    #[error("process is missing from config.json: a container needs a process to run")]
    MissingProcess,
    #[error("process.args must not be empty")]
    EmptyArgs,
    #[error("process.cwd {0:?} is not an absolute path")]
    RelativeCwd(String),
    #[error("process.env entry {0:?} is not in KEY=value form")]
    MalformedEnv(String),
    #[error("mount destination {0:?} is not an absolute path")]
    RelativeMountDestination(String),
    #[error("hook path {0:?} is not an absolute path")]
    RelativeHookPath(String),
    #[error("hook {0:?} has a timeout of {1}s; a hook timeout must be greater than zero")]
    BadHookTimeout(String, i64),
    #[error(
        "cannot join the existing {kind} namespace {path:?}: every kbox container runs its own kernel"
    )]
    NamespacePath { kind: String, path: String },
}

/// Validates a config for `create`/`run`.
pub fn validate_spec(spec: &Spec) -> Result<(), SpecError> {
    validate_version(spec.version())?;
    let process = spec.process().as_ref().ok_or(SpecError::MissingProcess)?;
    validate_process(process)?;
    for mount in spec.mounts().iter().flatten() {
        if !mount.destination().is_absolute() {
            return Err(SpecError::RelativeMountDestination(display(
                mount.destination(),
            )));
        }
    }
    validate_hooks(spec)?;
    validate_linux(spec)?;
    warn_unenforced(spec);
    Ok(())
}

/// Validates the process of `create` or of `exec`.
pub fn validate_process(process: &Process) -> Result<(), SpecError> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.first().is_none_or(|program| program.is_empty()) {
        return Err(SpecError::EmptyArgs);
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::RelativeCwd(display(process.cwd())));
    }
    if let Some(bad) = process
        .env()
        .iter()
        .flatten()
        .find(|entry| !entry.contains('=') || entry.starts_with('='))
    {
        return Err(SpecError::MalformedEnv(bad.clone()));
    }
    for warning in unenforced_process_settings(process) {
        log::warn!("{warning}");
    }
    Ok(())
}

/// What kbox accepts in a process (of `create` or `exec`) without doing as it says, to be
/// logged as warnings.
fn unenforced_process_settings(process: &Process) -> Vec<&'static str> {
    let mut warnings = Vec::new();
    if process.apparmor_profile().is_some() {
        warnings.push("process.apparmorProfile is ignored: kbox does not apply AppArmor profiles");
    }
    if process.selinux_label().is_some() {
        warnings.push("process.selinuxLabel is ignored: kbox does not apply SELinux labels");
    }
    warnings
}

/// Accepts every 1.x version (later minors only add optional fields, which are ignored when
/// unknown) and warns when the config is newer than kbox.
fn validate_version(version: &str) -> Result<(), SpecError> {
    if version.is_empty() {
        return Err(SpecError::MissingVersion);
    }
    let unsupported = || SpecError::UnsupportedVersion(version.to_owned());
    let release = version.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<u32> = release
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| unsupported())?;
    match numbers.as_slice() {
        [1, minor, _patch] if *minor > 2 => {
            log::warn!(
                "config.json is for runtime-spec {version}; kbox knows up to {OCI_VERSION_MAX}"
            );
            Ok(())
        }
        [1, _minor, _patch] => Ok(()),
        _ => Err(unsupported()),
    }
}

fn validate_hooks(spec: &Spec) -> Result<(), SpecError> {
    for kind in HookKind::ALL {
        for hook in kind.hooks_in(spec) {
            if !hook.path().is_absolute() {
                return Err(SpecError::RelativeHookPath(display(hook.path())));
            }
            if let Some(timeout) = hook.timeout().filter(|&timeout| timeout <= 0) {
                return Err(SpecError::BadHookTimeout(display(hook.path()), timeout));
            }
        }
    }
    Ok(())
}

fn validate_linux(spec: &Spec) -> Result<(), SpecError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    // A namespace without a path is satisfied by construction: the container's kernel is its
    // own, so every namespace kind is private. Joining a host namespace cannot be honoured.
    for namespace in linux.namespaces().iter().flatten() {
        if let Some(path) = namespace.path() {
            return Err(SpecError::NamespacePath {
                kind: namespace.typ().to_string(),
                path: display(path),
            });
        }
    }
    Ok(())
}

fn warn_unenforced(spec: &Spec) {
    if let Some(linux) = spec.linux() {
        if let Some(resources) = linux.resources() {
            let limited = resources.memory().is_some()
                || resources.cpu().is_some()
                || resources.pids().is_some()
                || resources.block_io().is_some()
                || resources.hugepage_limits().is_some();
            if limited {
                log::warn!("linux.resources limits are not enforced by kbox yet");
            }
        }
        if linux.seccomp().is_some() {
            log::warn!(
                "linux.seccomp is not applied: the container's syscalls go to its own kernel"
            );
        }
        if linux.uid_mappings().is_some() || linux.gid_mappings().is_some() {
            log::warn!(
                "linux uid/gid mappings are ignored: ids inside the container's kernel are its own"
            );
        }
        if linux.mount_label().is_some() {
            log::warn!("linux.mountLabel is ignored: kbox does not apply SELinux labels");
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    const PROCESS: &str =
        r#""process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}"#;

    #[test]
    fn accepts_a_minimal_config() {
        let config = format!(r#"{{"ociVersion": "1.0.2-dev", {PROCESS}}}"#);
        assert_eq!(validate_spec(&spec(&config)), Ok(()));
        let newer = format!(r#"{{"ociVersion": "1.3.0", {PROCESS}}}"#);
        assert_eq!(validate_spec(&spec(&newer)), Ok(()));
    }

    #[test]
    fn version_must_be_1_x() {
        for version in ["2.0.0", "0.9.0", "one", "1.0"] {
            let config = format!(r#"{{"ociVersion": "{version}", {PROCESS}}}"#);
            assert_eq!(
                validate_spec(&spec(&config)),
                Err(SpecError::UnsupportedVersion(version.into()))
            );
        }
        let config = format!(r#"{{{PROCESS}}}"#);
        assert_eq!(
            validate_spec(&spec(&config)),
            Err(SpecError::MissingVersion)
        );
    }

    #[test]
    fn process_rules() {
        assert_eq!(
            validate_spec(&spec(r#"{"ociVersion": "1.0.0"}"#)),
            Err(SpecError::MissingProcess)
        );
        let empty_args = r#"{"ociVersion": "1.0.0", "process": {"cwd": "/", "args": [], "user": {"uid": 0, "gid": 0}}}"#;
        assert_eq!(validate_spec(&spec(empty_args)), Err(SpecError::EmptyArgs));
        let relative = r#"{"ociVersion": "1.0.0", "process": {"cwd": "tmp", "args": ["sh"], "user": {"uid": 0, "gid": 0}}}"#;
        assert_eq!(
            validate_spec(&spec(relative)),
            Err(SpecError::RelativeCwd("tmp".into()))
        );
        let bad_env = r#"{"ociVersion": "1.0.0", "process": {"cwd": "/", "args": ["sh"], "env": ["PATH"], "user": {"uid": 0, "gid": 0}}}"#;
        assert_eq!(
            validate_spec(&spec(bad_env)),
            Err(SpecError::MalformedEnv("PATH".into()))
        );
    }

    #[test]
    fn namespace_paths_are_refused_but_private_namespaces_accepted() {
        let private = format!(
            r#"{{"ociVersion": "1.0.0", {PROCESS}, "linux": {{"namespaces": [{{"type": "network"}}, {{"type": "mount"}}]}}}}"#
        );
        assert_eq!(validate_spec(&spec(&private)), Ok(()));
        let join = format!(
            r#"{{"ociVersion": "1.0.0", {PROCESS}, "linux": {{"namespaces": [{{"type": "network", "path": "/proc/1/ns/net"}}]}}}}"#
        );
        let err = validate_spec(&spec(&join)).unwrap_err();
        assert!(matches!(err, SpecError::NamespacePath { .. }), "{err}");
        assert!(err.to_string().contains("/proc/1/ns/net"), "{err}");
    }

    #[test]
    fn no_new_privileges_either_way_is_accepted_quietly() {
        let process = |field: &str| -> Process {
            serde_json::from_str(&format!(
                r#"{{"cwd": "/", "args": ["sh"], "user": {{"uid": 0, "gid": 0}}{field}}}"#
            ))
            .unwrap()
        };
        for field in [
            r#", "noNewPrivileges": false"#,
            r#", "noNewPrivileges": true"#,
            "",
        ] {
            let process = process(field);
            assert_eq!(validate_process(&process), Ok(()));
            assert_eq!(unenforced_process_settings(&process), Vec::<&str>::new());
        }
    }

    #[test]
    fn mounts_and_hooks_need_absolute_paths() {
        let mount = format!(
            r#"{{"ociVersion": "1.0.0", {PROCESS}, "mounts": [{{"destination": "proc", "type": "proc"}}]}}"#
        );
        assert_eq!(
            validate_spec(&spec(&mount)),
            Err(SpecError::RelativeMountDestination("proc".into()))
        );
        let hook = format!(
            r#"{{"ociVersion": "1.0.0", {PROCESS}, "hooks": {{"poststop": [{{"path": "/bin/true", "timeout": 0}}]}}}}"#
        );
        assert_eq!(
            validate_spec(&spec(&hook)),
            Err(SpecError::BadHookTimeout("/bin/true".into(), 0))
        );
    }
}
