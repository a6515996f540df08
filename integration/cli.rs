//! End-to-end tests of the `kbox` binary for everything that works without booting a kernel:
//! argument handling, documents it prints, the state store and lifecycle rules.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use kbox::oci::state::{ContainerId, ContainerRecord, StateStore, Status};

const KBOX: &str = env!("CARGO_BIN_EXE_kbox");

/// A temporary `--root` plus helpers to run kbox against it.
struct Runtime {
    dir: tempfile::TempDir,
}

impl Runtime {
    fn new() -> Self {
        Runtime {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn kbox(&self, args: &[&str]) -> Output {
        Command::new(KBOX)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    /// Puts a container record in the store directly, as a finished `create` would.
    fn add_record(&self, id: &str, status: Status, pid: Option<i32>) {
        self.add_record_with_config(id, status, pid, r#"{"ociVersion": "1.0.2"}"#);
    }

    fn add_record_with_config(&self, id: &str, status: Status, pid: Option<i32>, config: &str) {
        let id = ContainerId::new(id).unwrap();
        let spec = serde_json::from_str(config).unwrap();
        let record = ContainerRecord::new(&id, "/bundle".into(), "/bundle/rootfs.img".into(), spec);
        let mut container = StateStore::new(self.root()).create(&id, record).unwrap();
        container.record_mut().status = status;
        if let Some(pid) = pid {
            container.record_mut().set_process(pid).unwrap();
        }
        container.save().unwrap();
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts failure with exactly one line on stderr, and returns that line.
fn single_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure, got {output:?}");
    let text = stderr(output);
    assert_eq!(
        text.lines().count(),
        1,
        "stderr should be one line: {text:?}"
    );
    text.trim_end().to_owned()
}

fn write_fake_ext4(path: &Path) {
    let mut bytes = vec![0u8; 4096];
    bytes[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn help_lists_runc_commands() {
    let output = Command::new(KBOX).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = stdout(&output);
    for command in [
        "create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "pause",
        "resume", "features", "spec",
    ] {
        assert!(
            help.contains(&format!("  {command} ")),
            "{command} missing from:\n{help}"
        );
    }
    for flag in [
        "--root",
        "--log",
        "--log-format",
        "--debug",
        "--systemd-cgroup",
        "--rootless",
    ] {
        assert!(help.contains(flag), "{flag} missing");
    }
}

#[test]
fn features_is_a_truthful_json_document() {
    let output = Command::new(KBOX).arg("features").output().unwrap();
    assert!(output.status.success());
    let features: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(features["ociVersionMin"], "1.0.0");
    assert_eq!(features["ociVersionMax"], "1.2.0");
    let hooks = features["hooks"].as_array().unwrap();
    assert!(hooks.iter().any(|hook| hook == "poststop"));
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ] {
        assert!(
            hooks.iter().any(|hook| hook == kind),
            "{kind} is run by kbox"
        );
    }
    let options = features["mountOptions"].as_array().unwrap();
    assert!(options.iter().any(|option| option == "nosuid"));
    assert!(
        !options.iter().any(|option| option == "rbind"),
        "bind mounts are not claimed"
    );
    assert!(
        features.get("linux").is_none(),
        "nothing claimed that kbox cannot back"
    );
}

#[test]
fn spec_writes_a_config_that_validates_and_refuses_to_overwrite() {
    let runtime = Runtime::new();
    let bundle = runtime.dir.path();
    let bundle_arg = bundle.to_str().unwrap();
    let output = Command::new(KBOX)
        .args(["spec", "--bundle", bundle_arg])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let bytes = std::fs::read(bundle.join("config.json")).unwrap();
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(kbox::oci::validate::validate_spec(&spec), Ok(()));
    let config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(config["root"]["path"], "rootfs.img");
    assert_eq!(config["process"]["args"], serde_json::json!(["sh"]));
    let destinations: Vec<&str> = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|mount| mount["destination"].as_str().unwrap())
        .collect();
    assert_eq!(destinations, ["/proc", "/sys", "/dev", "/dev/pts"]);

    let again = Command::new(KBOX)
        .args(["spec", "-b", bundle_arg])
        .output()
        .unwrap();
    assert!(single_error_line(&again).contains("config.json exists. Remove it first"));
}

#[test]
fn state_of_unknown_container_is_a_one_line_error() {
    let runtime = Runtime::new();
    let output = runtime.kbox(&["state", "nosuch"]);
    assert_eq!(
        single_error_line(&output),
        r#"kbox: container "nosuch" does not exist"#
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn invalid_ids_are_refused() {
    let runtime = Runtime::new();
    for id in ["../escape", "a/b", "..", "with space"] {
        let line = single_error_line(&runtime.kbox(&["state", id]));
        assert!(line.contains("invalid container id"), "{id}: {line}");
    }
    assert!(
        !runtime.root().exists(),
        "nothing may be created for a bad id"
    );
}

#[test]
fn kill_rejects_bad_signals_before_looking_up_the_container() {
    let runtime = Runtime::new();
    let output = runtime.kbox(&["kill", "nosuch", "SIGNOPE"]);
    assert_eq!(
        single_error_line(&output),
        r#"kbox: unknown signal "SIGNOPE""#
    );
    let output = runtime.kbox(&["kill", "nosuch", "99"]);
    assert_eq!(single_error_line(&output), r#"kbox: unknown signal "99""#);
    // A valid signal gets as far as the lookup.
    let output = runtime.kbox(&["kill", "nosuch", "KILL"]);
    assert!(single_error_line(&output).contains("does not exist"));
}

#[test]
fn list_of_an_empty_root() {
    let runtime = Runtime::new();
    let table = runtime.kbox(&["list"]);
    assert!(table.status.success());
    assert_eq!(
        stdout(&table).trim_end(),
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER"
    );
    let json = runtime.kbox(&["list", "--format", "json"]);
    assert!(json.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap(),
        serde_json::json!([])
    );
    let quiet = runtime.kbox(&["list", "-q"]);
    assert!(quiet.status.success() && quiet.stdout.is_empty());
}

#[test]
fn json_log_format_writes_logrus_lines_to_the_log_file() {
    let runtime = Runtime::new();
    let log = runtime.dir.path().join("kbox.log");
    let log_arg = log.to_str().unwrap();
    let output = runtime.kbox(&[
        "--log",
        log_arg,
        "--log-format",
        "json",
        "--debug",
        "delete",
        "nosuch",
    ]);
    assert_eq!(
        single_error_line(&output),
        r#"kbox: container "nosuch" does not exist"#
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{line:?}: {err}")))
        .collect();
    let error = records.last().expect("the error is logged");
    assert_eq!(error["level"], "error");
    assert_eq!(error["msg"], r#"container "nosuch" does not exist"#);
    let time = error["time"].as_str().unwrap();
    assert!(
        time.len() >= 20 && time.contains('T') && time.ends_with('Z'),
        "RFC 3339: {time}"
    );
}

#[test]
fn stopped_container_lifecycle() {
    let runtime = Runtime::new();
    // A record of a process that is gone reads as stopped whatever status it was saved with.
    runtime.add_record("gone", Status::Running, None);

    let state = runtime.kbox(&["state", "gone"]);
    assert!(state.status.success(), "{state:?}");
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["status"], "stopped");
    assert_eq!(state["pid"], 0);
    assert_eq!(state["rootfs"], "/bundle/rootfs.img");

    let list = runtime.kbox(&["list", "-f", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["id"], "gone");

    let start = runtime.kbox(&["start", "gone"]);
    assert_eq!(
        single_error_line(&start),
        "kbox: cannot start a container that has stopped"
    );
    let kill = runtime.kbox(&["kill", "gone"]);
    assert_eq!(single_error_line(&kill), "kbox: container not running");

    let delete = runtime.kbox(&["delete", "gone"]);
    assert!(delete.status.success(), "{delete:?}");
    assert!(single_error_line(&runtime.kbox(&["state", "gone"])).contains("does not exist"));
    assert!(
        runtime
            .kbox(&["delete", "--force", "gone"])
            .status
            .success(),
        "force ignores a missing container"
    );
}

/// A child that stands in for a container's process; killed on drop if still running.
struct StandIn(Child);

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn running_container_needs_force_to_delete() {
    let runtime = Runtime::new();
    let stand_in = StandIn(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = stand_in.0.id() as i32;
    runtime.add_record("live", Status::Running, Some(pid));

    let state: serde_json::Value =
        serde_json::from_slice(&runtime.kbox(&["state", "live"]).stdout).unwrap();
    assert_eq!(
        (state["status"].as_str(), state["pid"].as_i64()),
        (Some("running"), Some(i64::from(pid)))
    );

    let delete = runtime.kbox(&["delete", "live"]);
    assert_eq!(
        single_error_line(&delete),
        "kbox: cannot delete container live that is not stopped: running"
    );
    // The stand-in is no supervisor: there is no control socket to reach.
    let kill_all = runtime.kbox(&["kill", "--all", "live", "TERM"]);
    assert!(
        single_error_line(&kill_all).contains("reaching the container's supervisor"),
        "{kill_all:?}"
    );

    // --force SIGKILLs the process and waits until it is gone (a zombie of ours counts).
    let delete = runtime.kbox(&["delete", "--force", "live"]);
    assert!(delete.status.success(), "{delete:?}");
    assert!(single_error_line(&runtime.kbox(&["state", "live"])).contains("does not exist"));
}

#[test]
fn kill_signals_the_recorded_process() {
    let runtime = Runtime::new();
    let mut stand_in = StandIn(Command::new("sleep").arg("60").spawn().unwrap());
    runtime.add_record("target", Status::Created, Some(stand_in.0.id() as i32));
    let kill = runtime.kbox(&["kill", "target", "SIGUSR1"]);
    assert!(kill.status.success(), "{kill:?}");
    let status = stand_in.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGUSR1));
}

#[test]
fn create_validates_the_bundle_and_leaves_nothing_behind_on_failure() {
    let runtime = Runtime::new();
    let bundle = runtime.dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    let bundle_arg = bundle.to_str().unwrap();

    let missing = runtime.kbox(&["create", "--bundle", bundle_arg, "c1"]);
    assert!(single_error_line(&missing)
        .ends_with("config.json: not found (a bundle needs a config.json)"));

    std::fs::write(
        bundle.join("config.json"),
        r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs.img"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}}"#,
    )
    .unwrap();
    let no_image = runtime.kbox(&["create", "-b", bundle_arg, "c1"]);
    assert!(
        single_error_line(&no_image).contains("root.path"),
        "{no_image:?}"
    );

    write_fake_ext4(&bundle.join("rootfs.img"));
    let pid_file = runtime.dir.path().join("pid");
    let create = runtime.kbox(&[
        "create",
        "-b",
        bundle_arg,
        "--pid-file",
        pid_file.to_str().unwrap(),
        "c1",
    ]);
    // The image has an ext4 magic but nothing else: the container's kernel refuses it.
    assert!(
        single_error_line(&create).contains("mounting root image"),
        "{create:?}"
    );
    assert!(!pid_file.exists());
    let list = runtime.kbox(&["list", "-q"]);
    assert!(
        list.stdout.is_empty(),
        "a failed create leaves no container"
    );
}

#[test]
fn delete_runs_poststop_hooks_with_the_stopped_state() {
    let runtime = Runtime::new();
    let out = runtime.dir.path().join("hook-stdin");
    let config = format!(
        r#"{{"ociVersion": "1.0.2", "hooks": {{
            "poststop": [{{"path": "/bin/sh", "args": ["sh", "-c", "cat > {}"]}},
                         {{"path": "/bin/false"}}]}}}}"#,
        out.display()
    );
    runtime.add_record_with_config("hooked", Status::Stopped, None, &config);
    let delete = runtime.kbox(&["delete", "hooked"]);
    // A failing poststop hook is a warning; the delete still succeeds.
    assert!(delete.status.success(), "{delete:?}");
    assert!(stderr(&delete).contains("poststop hook /bin/false: exited with status 1"));
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(state["id"], "hooked");
    assert_eq!(state["status"], "stopped");
    assert_eq!(state["bundle"], "/bundle");
}

#[test]
fn commands_that_need_the_engine_get_past_their_checks_and_say_so() {
    let runtime = Runtime::new();
    let running = StandIn(Command::new("sleep").arg("60").spawn().unwrap());
    let created = StandIn(Command::new("sleep").arg("60").spawn().unwrap());
    let config = r#"{"ociVersion": "1.0.2",
        "process": {"cwd": "/", "args": ["sh"], "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}}"#;
    runtime.add_record_with_config("up", Status::Running, Some(running.0.id() as i32), config);
    runtime.add_record_with_config("new", Status::Created, Some(created.0.id() as i32), config);
    runtime.add_record_with_config("down", Status::Stopped, None, config);

    // The stand-ins are no supervisors: each command passes its checks, then finds no
    // supervisor to talk to, and says so in one line.
    let no_supervisor = |args: &[&str], what: &str| {
        let line = single_error_line(&runtime.kbox(args));
        assert!(line.contains(what), "{args:?}: {line}");
    };
    no_supervisor(&["start", "new"], "start.fifo");
    no_supervisor(
        &["exec", "up", "ls", "-l"],
        "reaching the container's supervisor",
    );
    no_supervisor(
        &[
            "exec", "-e", "A=1", "--cwd", "/tmp", "-u", "1:1", "new", "true",
        ],
        "reaching the container's supervisor",
    );
    no_supervisor(&["pause", "up"], "reaching the container's supervisor");
    no_supervisor(&["ps", "up"], "reaching the container's supervisor");

    let line = single_error_line(&runtime.kbox(&["start", "up"]));
    assert_eq!(line, "kbox: cannot start an already running container");
    let line = single_error_line(&runtime.kbox(&["exec", "down", "ls"]));
    assert_eq!(line, "kbox: cannot exec in a stopped container");
    let line = single_error_line(&runtime.kbox(&["exec", "up", "--cwd", "relative", "ls"]));
    assert_eq!(
        line,
        r#"kbox: process.cwd "relative" is not an absolute path"#
    );
    let line = single_error_line(&runtime.kbox(&["exec", "up", "-u", "root", "ls"]));
    assert!(line.contains("invalid user \"root\""), "{line}");
    let line = single_error_line(&runtime.kbox(&["resume", "up"]));
    assert_eq!(line, "kbox: container not paused");
    let line = single_error_line(&runtime.kbox(&["pause", "down"]));
    assert_eq!(line, "kbox: container not running");
    // A failed engine call leaves the record as it was.
    let state: serde_json::Value =
        serde_json::from_slice(&runtime.kbox(&["state", "new"]).stdout).unwrap();
    assert_eq!(state["status"], "created");
}
