//! End-to-end tests of the container lifecycle as runc's clients drive it: the built `kbox`
//! binary on copies of the busybox bundle, through create, start, state, kill, delete, run,
//! list, a terminal handed over a console socket, hooks, several containers at once, and
//! the bad inputs every command must refuse cleanly (one line on stderr naming the problem,
//! a non-zero exit, no state directory and no supervisor left behind).
//!
//! Needs `bundles/busybox/rootfs.img` (built once per run by hack/mkimage-busybox.sh) and
//! root. Every test has a private `--root` and its own copy of the image, and every kbox
//! command is bounded in time, so a hang fails the test instead of blocking the suite.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const KBOX: &str = env!("CARGO_BIN_EXE_kbox");
/// How long one kbox command (or one container run) may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// How long a killed container may take to be reported stopped.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// The annotation every test config carries, to check it is passed through.
const ANNOTATION: (&str, &str) = ("org.kbox.test", "lifecycle");
/// A first process that runs until signalled, and exits 7 on SIGTERM.
const LONG_RUNNING: &[&str] = &["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 1; done"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The busybox image and config, (re)built by hack/mkimage-busybox.sh once per test run.
fn busybox() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo().join("hack/mkimage-busybox.sh"))
            .stdout(Stdio::null())
            .status()
            .expect("running hack/mkimage-busybox.sh");
        assert!(status.success(), "hack/mkimage-busybox.sh failed");
        repo().join("bundles/busybox")
    })
}

/// What a finished kbox command left.
#[derive(Debug)]
struct Done {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Done {
    fn success(&self) -> bool {
        self.code == 0
    }

    fn expect_ok(self, what: &str) -> Done {
        assert!(self.success(), "{what} failed: {self:?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {self:?}"))
    }

    /// Asserts a failure whose stderr is one line naming the problem (every word in
    /// `words`), and returns that line.
    fn expect_error(&self, words: &[&str]) -> String {
        assert_ne!(self.code, 0, "expected a failure: {self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr should be one line: {self:?}");
        let line = lines[0];
        assert!(line.starts_with("kbox: "), "{line:?}");
        for word in words {
            assert!(line.contains(word), "{line:?} does not mention {word:?}");
        }
        line.to_owned()
    }
}

/// Waits for `child` at most `limit`, killing it and failing the test when it takes longer.
fn wait_bounded(mut child: Child, what: &str, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting") {
            use std::os::unix::process::ExitStatusExt;
            return status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A private `--root` and bundles in a temp dir. Dropping it removes every container left
/// and kills any supervisor of this root.
struct Env {
    dir: tempfile::TempDir,
    /// Counts kbox commands, to name their output files.
    runs: std::cell::Cell<usize>,
}

impl Env {
    fn new() -> Env {
        let _ = busybox();
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            runs: std::cell::Cell::new(0),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A bundle `name` with a copy of the busybox image and its config.json with `args`,
    /// the test annotation, and whatever `edit` changes.
    fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir(&dir).expect("creating the bundle directory");
        let status = Command::new("cp")
            .arg("--sparse=always")
            .arg(busybox().join("rootfs.img"))
            .arg(dir.join("rootfs.img"))
            .status()
            .expect("running cp");
        assert!(status.success(), "cannot copy the busybox image");
        let config = std::fs::read(busybox().join("config.json")).expect("busybox config.json");
        let mut config: Value = serde_json::from_slice(&config).expect("busybox config.json");
        config["process"]["args"] = json!(args);
        config["annotations"] = json!({ ANNOTATION.0: ANNOTATION.1 });
        edit(&mut config);
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        dir.canonicalize().unwrap()
    }

    /// `kbox --root ROOT ARGS...` with its stdout and stderr going to files (a container's
    /// processes inherit them and may outlive the command, so pipes would not end).
    fn command(&self, args: &[&str]) -> (Command, PathBuf, PathBuf) {
        let run = self.runs.get();
        self.runs.set(run + 1);
        let out = self.path(&format!("kbox-{run}.out"));
        let err = self.path(&format!("kbox-{run}.err"));
        let mut command = Command::new(KBOX);
        command
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        (command, out, err)
    }

    fn kbox(&self, args: &[&str]) -> Done {
        let (mut command, out, err) = self.command(args);
        let child = command.spawn().expect("spawning kbox");
        let code = wait_bounded(child, &format!("kbox {args:?}"), COMMAND_LIMIT);
        Done {
            code,
            stdout: std::fs::read_to_string(out).unwrap(),
            stderr: std::fs::read_to_string(err).unwrap(),
        }
    }

    fn create(&self, bundle: &Path, id: &str) {
        self.kbox(&["create", "--bundle", bundle.to_str().unwrap(), id])
            .expect_ok("create");
    }

    fn state(&self, id: &str) -> Value {
        self.kbox(&["state", id]).expect_ok("state").json()
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_owned()
    }

    /// Polls `state` until the container is stopped; every status seen before must be
    /// `running`.
    fn wait_stopped(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let state = self.state(id);
            match state["status"].as_str() {
                Some("stopped") => return state,
                Some("running") => {}
                other => panic!("{id} went {other:?} on its way to stopped: {state}"),
            }
            assert!(
                started.elapsed() < STOP_LIMIT,
                "{id} still running {STOP_LIMIT:?} after it was killed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Live `kbox supervise` processes whose state directory is under this root (not
    /// counting a supervisor's child that has not exec'd the container's program yet).
    fn supervisors(&self) -> Vec<i32> {
        let root = format!("{}/", self.root().display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let ours = args.iter().any(|arg| *arg == b"supervise")
                && args.iter().any(|arg| arg.starts_with(root.as_bytes()));
            if let Some(stat) = ours.then(|| proc_stat(pid)).flatten() {
                if !stat.zombie {
                    found.push((pid, stat.ppid));
                }
            }
        }
        let pids: Vec<i32> = found.iter().map(|(pid, _)| *pid).collect();
        found
            .into_iter()
            .filter(|(_, ppid)| !pids.contains(ppid))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Ids of the container directories under the root.
    fn state_dirs(&self) -> Vec<String> {
        match std::fs::read_dir(self.root()) {
            Ok(entries) => entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Asserts that no container state and no supervisor of this root is left (a
    /// supervisor being killed gets a few seconds to go).
    fn assert_nothing_left(&self) {
        assert_eq!(self.state_dirs(), Vec::<String>::new(), "state left behind");
        let started = Instant::now();
        while !self.supervisors().is_empty() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(self.supervisors(), Vec::<i32>::new(), "supervisors left");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.state_dirs() {
            let _ = self.kbox(&["delete", "--force", &id]);
        }
        for pid in self.supervisors() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

struct ProcStat {
    zombie: bool,
    ppid: i32,
}

/// State and parent of a process, from `/proc/<pid>/stat`; `None` once it is gone.
fn proc_stat(pid: i32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parentheses.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    Some(ProcStat {
        zombie: matches!(state, "Z" | "X"),
        ppid: fields.next()?.parse().ok()?,
    })
}

fn is_zombie(pid: i32) -> bool {
    proc_stat(pid).is_none_or(|stat| stat.zombie)
}

fn process_exists(pid: i64) -> bool {
    pid > 0 && !is_zombie(pid as i32)
}

/// Checks the runtime-spec fields of a `state` document.
fn assert_state(state: &Value, id: &str, status: &str, bundle: &Path) {
    assert_eq!(state["ociVersion"], "1.0.2", "{state}");
    assert_eq!(state["id"], id, "{state}");
    assert_eq!(state["status"], status, "{state}");
    assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{state}");
    assert_eq!(
        state["annotations"],
        json!({ ANNOTATION.0: ANNOTATION.1 }),
        "{state}"
    );
    let pid = state["pid"].as_i64().expect("pid is a number");
    if status == "stopped" {
        assert_eq!(pid, 0, "a stopped container has no pid: {state}");
    } else {
        assert!(process_exists(pid), "pid {pid} is not alive: {state}");
    }
}

#[test]
fn create_start_kill_delete_with_the_status_at_each_step() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    let pid_file = env.path("pid");
    env.kbox(&[
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "c1",
    ])
    .expect_ok("create");

    let created = env.state("c1");
    assert_state(&created, "c1", "created", &bundle);
    let pid = created["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        pid.to_string(),
        "--pid-file holds the pid state reports"
    );
    assert_eq!(env.supervisors(), vec![pid as i32]);

    env.kbox(&["start", "c1"]).expect_ok("start");
    let running = env.state("c1");
    assert_state(&running, "c1", "running", &bundle);
    assert_eq!(running["pid"], pid, "the pid stays the supervisor's");

    env.kbox(&["kill", "c1", "TERM"]).expect_ok("kill");
    let stopped = env.wait_stopped("c1");
    assert_state(&stopped, "c1", "stopped", &bundle);
    assert!(
        !process_exists(pid),
        "the supervisor outlived its container"
    );

    env.kbox(&["delete", "c1"]).expect_ok("delete");
    env.kbox(&["state", "c1"])
        .expect_error(&["c1", "does not exist"]);
    env.assert_nothing_left();
}

#[test]
fn a_created_container_can_be_killed_and_deleted() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.create(&bundle, "c1");
    env.kbox(&["kill", "c1", "KILL"]).expect_ok("kill");
    let started = Instant::now();
    while env.status("c1") != "stopped" {
        assert!(started.elapsed() < STOP_LIMIT, "c1 survived SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.kbox(&["kill", "c1", "KILL"])
        .expect_error(&["not running"]);
    env.kbox(&["start", "c1"])
        .expect_error(&["cannot start a container that has stopped"]);
    env.kbox(&["delete", "c1"]).expect_ok("delete");
    env.assert_nothing_left();
}

fn run_exit_code(script: &str) -> i32 {
    let env = Env::new();
    let bundle = env.bundle("b", &["sh", "-c", script], |_| {});
    let done = env.kbox(&["run", "--bundle", bundle.to_str().unwrap(), "r1"]);
    assert!(
        done.stderr.is_empty(),
        "run wrote to stderr: {:?}",
        done.stderr
    );
    env.assert_nothing_left();
    done.code
}

#[test]
fn run_returns_the_exit_code_of_the_first_process() {
    assert_eq!(run_exit_code("exit 0"), 0);
    assert_eq!(run_exit_code("exit 3"), 3);
    assert_eq!(run_exit_code("kill -9 $$"), 137);
}

#[test]
fn run_passes_stdout_through() {
    let env = Env::new();
    let bundle = env.bundle("b", &["sh", "-c", "echo hello from $(hostname)"], |_| {});
    let done = env
        .kbox(&["run", "--bundle", bundle.to_str().unwrap(), "r1"])
        .expect_ok("run");
    assert_eq!(done.stdout, "hello from kbox\n");
    env.assert_nothing_left();
}

#[test]
fn no_new_privileges_false_is_honoured() {
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "grep NoNewPrivs /proc/self/status; echo pid $$; exec sleep 30",
        ],
        |config| config["process"]["noNewPrivileges"] = json!(false),
    );
    let (mut command, out, _err) =
        env.command(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "n1"]);
    assert_eq!(
        wait_bounded(command.spawn().unwrap(), "run -d", COMMAND_LIMIT),
        0
    );
    let text = wait_for_output(&out, "the pid", |text| text.contains("pid "));
    // The container kernel's view, and the host process's own flag.
    assert!(text.starts_with("NoNewPrivs:\t0\n"), "{text:?}");
    let pid: i32 = text.split("pid ").nth(1).unwrap().trim().parse().unwrap();
    let host = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(host.contains("NoNewPrivs:\t0"), "{host}");
    kill_and_delete(&env, "n1");
}

#[test]
fn linux_sysctl_is_applied_to_the_container_kernel() {
    let env = Env::new();
    let bundle = env.bundle("b", &["cat", "/proc/sys/kernel/domainname"], |config| {
        config["linux"]["sysctl"] = json!({
            "kernel.domainname": "kbox.test",
            // The container's kernel has no network: skipped with a warning.
            "net.ipv4.ping_group_range": "0 0",
        });
    });
    let done = env
        .kbox(&["run", "--bundle", bundle.to_str().unwrap(), "s1"])
        .expect_ok("run");
    assert_eq!(done.stdout, "kbox.test\n");
    let bad = env.bundle("bad", &["true"], |config| {
        config["linux"]["sysctl"] = json!({"kernel.no_such_knob": "1"});
    });
    env.kbox(&["run", "--bundle", bad.to_str().unwrap(), "s2"])
        .expect_error(&["linux.sysctl kernel.no_such_knob=1"]);
    env.assert_nothing_left();
}

#[test]
fn rlimits_hold_in_the_container_kernel_too() {
    // The fd table is the container kernel's: RLIMIT_NOFILE must hold there (and ulimit in
    // the container must change it there), not only on the host.
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "grep 'open files' /proc/self/limits | tr -s ' '
             exec 19</dev/null && echo fd 19 ok
             (exec 20</dev/null) 2>/dev/null || echo fd 20 refused
             ulimit -S -n 10; grep 'open files' /proc/self/limits | tr -s ' '
             (exec 12</dev/null) 2>/dev/null || echo fd 12 refused",
        ],
        |config| {
            config["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}
            ]);
        },
    );
    let done = env
        .kbox(&["run", "--bundle", bundle.to_str().unwrap(), "l1"])
        .expect_ok("run");
    assert_eq!(
        done.stdout,
        "Max open files 20 20 files \nfd 19 ok\nfd 20 refused\n\
         Max open files 10 20 files \nfd 12 refused\n"
    );
    env.assert_nothing_left();
}

#[test]
fn linux_devices_and_oom_score_adj_are_applied() {
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "ls -ln /dev/kbox-null | cut -c1-10,11- | tr -s ' ' | cut -d' ' -f1,3-6,10
             echo data > /dev/kbox-null && echo writable
             cat /proc/self/oom_score_adj; echo pid $$; exec sleep 30",
        ],
        |config| {
            config["linux"]["devices"] = json!([{
                "path": "/dev/kbox-null", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o646, "uid": 1000, "gid": 1000
            }]);
            config["process"]["oomScoreAdj"] = json!(500);
        },
    );
    let (mut command, out, _err) =
        env.command(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "v1"]);
    assert_eq!(
        wait_bounded(command.spawn().unwrap(), "run -d", COMMAND_LIMIT),
        0
    );
    let text = wait_for_output(&out, "the pid", |text| text.contains("pid "));
    assert!(
        text.starts_with("crw-r--rw- 1000 1000 1, 3 /dev/kbox-null\nwritable\n500\n"),
        "{text:?}"
    );
    // The host's OOM killer is the one that acts: the host process has it too.
    let pid: i32 = text.split("pid ").nth(1).unwrap().trim().parse().unwrap();
    let host = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(host.trim(), "500");
    kill_and_delete(&env, "v1");
}

#[test]
fn a_directory_root_gets_the_containers_changes_back() {
    // podman and containerd give the root as a directory: kbox runs from an image copied
    // from it, and writes the container's changes back when it stops.
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo new > /tmp/created; chmod 640 /tmp/created
             echo changed > /tmp/changed; rm /tmp/removed; rm -r /tmp/tree
             mkdir -p /made/deep; echo deep > /made/deep/file; ln -s /etc/hostname /made/link",
        ],
        |config| config["root"]["path"] = json!("rootfs"),
    );
    let rootfs = bundle.join("rootfs");
    let status = Command::new("cp")
        .arg("-a")
        .arg(busybox().join("rootfs"))
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(status.success());
    let tmp = rootfs.join("tmp");
    std::fs::write(tmp.join("changed"), "before\n").unwrap();
    std::fs::write(tmp.join("removed"), "gone soon\n").unwrap();
    std::fs::write(tmp.join("untouched"), "same\n").unwrap();
    std::fs::create_dir_all(tmp.join("tree/sub")).unwrap();
    std::fs::write(tmp.join("tree/sub/file"), "x").unwrap();
    env.kbox(&["run", "--bundle", bundle.to_str().unwrap(), "w1"])
        .expect_ok("run");

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::read_to_string(tmp.join("created")).unwrap(),
        "new\n"
    );
    let mode = std::fs::metadata(tmp.join("created"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(
        std::fs::read_to_string(tmp.join("changed")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.join("untouched")).unwrap(),
        "same\n"
    );
    assert!(!tmp.join("removed").exists(), "a removed file came back");
    assert!(!tmp.join("tree").exists(), "a removed tree came back");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("made/deep/file")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("made/link")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert!(
        !rootfs.join("lost+found").exists(),
        "the image's lost+found leaked"
    );
    env.assert_nothing_left();
}

#[test]
fn run_detach_leaves_a_running_container() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.kbox(&[
        "run",
        "--detach",
        "--bundle",
        bundle.to_str().unwrap(),
        "d1",
    ])
    .expect_ok("run --detach");
    assert_state(&env.state("d1"), "d1", "running", &bundle);
    env.kbox(&["kill", "d1"]).expect_ok("kill");
    env.wait_stopped("d1");
    env.kbox(&["delete", "d1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn kill_reaches_the_first_process_and_run_returns_its_status() {
    let env = Env::new();
    // Says when its trap is set, so that TERM is not sent before.
    let script = "trap 'exit 7' TERM; echo trapped; while :; do sleep 1; done";
    let bundle = env.bundle("b", &["sh", "-c", script], |_| {});
    for (signal, code) in [("TERM", 7), ("KILL", 137)] {
        let id = format!("k-{signal}");
        let (mut command, out, err) =
            env.command(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
        let run = command.spawn().expect("spawning kbox run");
        let started = Instant::now();
        while std::fs::read_to_string(&out).unwrap() != "trapped\n" {
            assert!(
                started.elapsed() < COMMAND_LIMIT,
                "{id} did not start: {}",
                std::fs::read_to_string(&err).unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(env.status(&id), "running");
        env.kbox(&["kill", &id, signal]).expect_ok("kill");
        assert_eq!(
            wait_bounded(run, "run", COMMAND_LIMIT),
            code,
            "after {signal}"
        );
        env.assert_nothing_left();
    }
}

/// Binds a console socket, runs `kbox ARGS` (which must pass `--console-socket SOCKET`,
/// written as `{socket}` in `args`), and returns the command and the pty master it sent.
fn spawn_with_console(env: &Env, args: &[&str]) -> (Child, OwnedFd) {
    let socket = env.path("console.sock");
    let listener = UnixListener::bind(&socket).expect("binding the console socket");
    listener.set_nonblocking(true).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|arg| arg.replace("{socket}", socket.to_str().unwrap()))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut command, _out, err) = env.command(&args);
    let mut child = command.spawn().expect("spawning kbox");
    let started = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accepting on the console socket: {e}"),
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "kbox {args:?} exited ({status}) without connecting to the console socket: {}",
                std::fs::read_to_string(&err).unwrap()
            );
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kbox {args:?} did not connect to the console socket");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(COMMAND_LIMIT))
        .expect("setting a read timeout");
    (child, receive_master(stream.as_raw_fd()))
}

/// Receives runc's console message: the pty name as data, the master by SCM_RIGHTS.
fn receive_master(socket: RawFd) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut name = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(socket, &mut iov, Some(&mut space), MsgFlags::empty())
        .expect("receiving the console message");
    assert!(message.bytes > 0, "the console message has no pty name");
    let mut fds = Vec::new();
    for cmsg in message.cmsgs().expect("console message control data") {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            fds.extend(received);
        }
    }
    assert_eq!(fds.len(), 1, "expected exactly one fd: {fds:?}");
    // SAFETY: SCM_RIGHTS installed this fd in our process and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fds[0]) }
}

fn set_window_size(master: &OwnedFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer, which is live.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(ret, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

/// Writes `input` to the master and reads everything until the other side closes (EIO)
/// or `COMMAND_LIMIT` passes.
fn talk(master: OwnedFd, input: &[u8]) -> String {
    let mut file = std::fs::File::from(master);
    std::io::Write::write_all(&mut file, input).expect("writing to the pty master");
    let started = Instant::now();
    let mut output = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready > 0 {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => output.extend_from_slice(&buffer[..n]),
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
                Err(e) => panic!("reading the pty master: {e}"),
            }
        }
        assert!(
            started.elapsed() < COMMAND_LIMIT,
            "the terminal did not close; output so far: {:?}",
            String::from_utf8_lossy(&output)
        );
    }
    String::from_utf8_lossy(&output).into_owned()
}

const TERMINAL_INPUT: &[u8] = b"echo $((6*7)); tty; stty size; exit 5\n";

fn assert_terminal_output(output: &str) {
    for expected in ["42", "/dev/pts/0", "24 80"] {
        assert!(
            output.contains(expected),
            "no {expected:?} in the terminal output {output:?}"
        );
    }
}

fn terminal_bundle(env: &Env, name: &str) -> PathBuf {
    env.bundle(name, &["sh"], |config| {
        config["process"]["terminal"] = json!(true);
    })
}

/// `kbox create --console-socket` of a shell, then `start`; returns the master, on which
/// a 24x80 window size was set between create and start.
fn create_and_start_with_terminal(env: &Env, id: &str) -> (PathBuf, OwnedFd) {
    let bundle = terminal_bundle(env, "b");
    let (create, master) = spawn_with_console(
        env,
        &[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--console-socket",
            "{socket}",
            id,
        ],
    );
    assert_eq!(wait_bounded(create, "create", COMMAND_LIMIT), 0);
    set_window_size(&master, 24, 80);
    assert_state(&env.state(id), id, "created", &bundle);
    env.kbox(&["start", id]).expect_ok("start");
    (bundle, master)
}

#[test]
fn terminal_through_console_socket_with_create_and_start() {
    let env = Env::new();
    let (bundle, master) = create_and_start_with_terminal(&env, "t1");
    // The supervisor copies the host pty's size to the container's every 200 ms (the
    // test below wants it at once).
    std::thread::sleep(Duration::from_millis(600));
    let output = talk(master, TERMINAL_INPUT);
    assert_terminal_output(&output);
    assert_state(&env.wait_stopped("t1"), "t1", "stopped", &bundle);
    env.kbox(&["delete", "t1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn window_size_set_before_start_is_seen_at_once() {
    let env = Env::new();
    let (_, master) = create_and_start_with_terminal(&env, "t1");
    let output = talk(master, b"stty size; exit 5\n");
    assert!(output.contains("24 80"), "{output:?}");
}

/// `kbox run --console-socket` of a shell in a new bundle; returns the command and the master.
fn run_with_terminal(env: &Env, id: &str) -> (Child, OwnedFd) {
    let bundle = terminal_bundle(env, "b");
    spawn_with_console(
        env,
        &[
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            "--console-socket",
            "{socket}",
            id,
        ],
    )
}

#[test]
fn terminal_through_console_socket_with_run_returns_the_exit_code() {
    let env = Env::new();
    let (run, master) = run_with_terminal(&env, "t1");
    set_window_size(&master, 24, 80);
    // The supervisor copies the host pty's size to the container's every 200 ms.
    std::thread::sleep(Duration::from_millis(600));
    let output = talk(master, TERMINAL_INPUT);
    assert_terminal_output(&output);
    assert_eq!(wait_bounded(run, "run", COMMAND_LIMIT), 5, "{output:?}");
    env.assert_nothing_left();
}

/// Writes `input` to the terminal and collects what it prints for `wait`.
fn type_and_read(master: &mut std::fs::File, input: &[u8], wait: Duration) -> String {
    std::io::Write::write_all(master, input).expect("writing to the pty master");
    let started = Instant::now();
    let mut output = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < wait {
        let mut poll = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        if unsafe { libc::poll(&mut poll, 1, 50) } > 0 {
            match master.read(&mut buffer) {
                Ok(n) if n > 0 => output.extend_from_slice(&buffer[..n]),
                _ => break,
            }
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

#[test]
fn job_control_on_the_terminal_stops_and_continues_a_job() {
    let env = Env::new();
    let (run, master) = run_with_terminal(&env, "j1");
    let mut master = std::fs::File::from(master);
    let mut seen = type_and_read(
        &mut master,
        b"sleep 3; echo slept $?\n",
        Duration::from_secs(1),
    );
    // ^Z: the container's line discipline sends SIGTSTP to the foreground job, which must
    // stop (not spin, not die) and be reported to the shell as stopped.
    seen += &type_and_read(&mut master, b"\x1a", Duration::from_millis(800));
    assert!(
        seen.contains("Stopped"),
        "the job was not reported stopped: {seen:?}"
    );
    seen += &type_and_read(&mut master, b"echo at-prompt\n", Duration::from_millis(800));
    assert!(
        seen.contains("at-prompt"),
        "the shell did not get the terminal back: {seen:?}"
    );
    // fg: SIGCONT, and the job finishes in the foreground.
    let rest = talk(master.into(), b"fg; echo fg-status $?; exit 3\n");
    assert!(rest.contains("fg-status 0"), "{seen:?} then {rest:?}");
    assert_eq!(wait_bounded(run, "run", COMMAND_LIMIT), 3, "{rest:?}");
    env.assert_nothing_left();
}

#[test]
fn terminal_signals_reach_only_the_foreground_job() {
    let env = Env::new();
    let (run, master) = run_with_terminal(&env, "j1");
    let mut master = std::fs::File::from(master);
    let mut seen = type_and_read(&mut master, b"sleep 30 &\n", Duration::from_secs(1));
    // ^C at the prompt: SIGINT goes to the shell's group only, not to the background job.
    seen += &type_and_read(&mut master, b"\x03", Duration::from_millis(500));
    seen += &type_and_read(&mut master, b"jobs\n", Duration::from_millis(800));
    assert!(
        seen.contains("Running"),
        "the background job did not survive ^C: {seen:?}"
    );
    // ^C during a foreground job interrupts it.
    seen += &type_and_read(&mut master, b"sleep 30\n", Duration::from_millis(800));
    seen += &type_and_read(&mut master, b"\x03", Duration::from_millis(500));
    seen += &type_and_read(&mut master, b"echo status $?\n", Duration::from_millis(800));
    assert!(
        seen.contains("status 130"),
        "^C did not interrupt the job: {seen:?}"
    );
    let rest = talk(master.into(), b"kill %1; wait; exit 3\n");
    assert_eq!(
        wait_bounded(run, "run", COMMAND_LIMIT),
        3,
        "{seen:?} then {rest:?}"
    );
    env.assert_nothing_left();
}

#[test]
fn hooks_run_on_the_host_with_the_state_on_stdin() {
    let env = Env::new();
    let markers = env.path("markers");
    std::fs::create_dir(&markers).unwrap();
    let hook = |name: &str| {
        let marker = markers.join(format!("marker-{name}"));
        json!([{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", marker.display())],
        }])
    };
    let hooks = json!({
        "prestart": hook("prestart"),
        "createRuntime": hook("createRuntime"),
        "poststart": hook("poststart"),
        "poststop": hook("poststop"),
    });
    let bundle = env.bundle("b", LONG_RUNNING, |config| config["hooks"] = hooks);
    let marker = |name: &str| -> Option<Value> {
        let text = std::fs::read_to_string(markers.join(format!("marker-{name}"))).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text:?}")))
    };
    let check = |name: &str, status: &str, pid: Option<i64>| {
        let state = marker(name).unwrap_or_else(|| panic!("no {name} marker"));
        assert_eq!(state["ociVersion"], "1.0.2", "{name}: {state}");
        assert_eq!(state["id"], "h1", "{name}: {state}");
        assert_eq!(state["status"], status, "{name}: {state}");
        assert_eq!(state["bundle"], bundle.to_str().unwrap(), "{name}: {state}");
        assert_eq!(
            state["annotations"],
            json!({ ANNOTATION.0: ANNOTATION.1 }),
            "{name}: {state}"
        );
        assert_eq!(state["pid"].as_i64(), pid, "{name}: {state}");
    };

    env.create(&bundle, "h1");
    let pid = env.state("h1")["pid"].as_i64();
    check("prestart", "creating", pid);
    check("createRuntime", "creating", pid);
    assert!(marker("poststart").is_none(), "poststart ran before start");

    env.kbox(&["start", "h1"]).expect_ok("start");
    check("poststart", "running", pid);
    assert!(marker("poststop").is_none(), "poststop ran before delete");

    env.kbox(&["kill", "h1"]).expect_ok("kill");
    env.wait_stopped("h1");
    assert!(marker("poststop").is_none(), "poststop ran before delete");
    env.kbox(&["delete", "h1"]).expect_ok("delete");
    check("poststop", "stopped", None);
    env.assert_nothing_left();
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |config| {
        config["hooks"] = json!({
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}],
        });
    });
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "h1"])
        .expect_error(&["createRuntime", "exited with status 4"]);
    env.assert_nothing_left();
}

#[test]
fn two_containers_run_at_once() {
    let env = Env::new();
    let first = env.bundle("b1", LONG_RUNNING, |_| {});
    let second = env.bundle("b2", LONG_RUNNING, |_| {});
    for (bundle, id) in [(&first, "one"), (&second, "two")] {
        env.kbox(&["run", "-d", "--bundle", bundle.to_str().unwrap(), id])
            .expect_ok("run --detach");
    }
    let one = env.state("one");
    let two = env.state("two");
    assert_state(&one, "one", "running", &first);
    assert_state(&two, "two", "running", &second);
    assert_ne!(one["pid"], two["pid"]);
    assert_eq!(env.supervisors().len(), 2);

    env.kbox(&["kill", "one", "KILL"]).expect_ok("kill one");
    env.wait_stopped("one");
    assert_eq!(
        env.status("two"),
        "running",
        "killing one stopped the other"
    );
    env.kbox(&["kill", "two", "KILL"]).expect_ok("kill two");
    env.wait_stopped("two");
    for id in ["one", "two"] {
        env.kbox(&["delete", id]).expect_ok("delete");
    }
    env.assert_nothing_left();
}

#[test]
fn delete_force_kills_a_running_container() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.kbox(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "f1"])
        .expect_ok("run --detach");
    let pid = env.state("f1")["pid"].as_i64().unwrap();
    env.kbox(&["delete", "--force", "f1"])
        .expect_ok("delete --force");
    assert!(
        !process_exists(pid),
        "the supervisor survived delete --force"
    );
    env.kbox(&["state", "f1"])
        .expect_error(&["f1", "does not exist"]);
    env.assert_nothing_left();
    // As runc: forcing the deletion of a container that is gone succeeds.
    env.kbox(&["delete", "--force", "f1"])
        .expect_ok("delete --force of a deleted container");
}

#[test]
fn list_shows_every_container_with_its_status() {
    let env = Env::new();
    let listed = env.kbox(&["list"]).expect_ok("list");
    assert_eq!(listed.stdout.lines().count(), 1, "header only: {listed:?}");

    let created = env.bundle("b1", LONG_RUNNING, |_| {});
    let running = env.bundle("b2", LONG_RUNNING, |_| {});
    let stopped = env.bundle("b3", &["true"], |_| {});
    env.create(&created, "l-created");
    env.kbox(&[
        "run",
        "-d",
        "--bundle",
        running.to_str().unwrap(),
        "l-running",
    ])
    .expect_ok("run --detach");
    env.kbox(&[
        "run",
        "-d",
        "--bundle",
        stopped.to_str().unwrap(),
        "l-stopped",
    ])
    .expect_ok("run --detach");
    let started = Instant::now();
    while env.status("l-stopped") != "stopped" {
        assert!(started.elapsed() < STOP_LIMIT, "`true` did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let expected = [
        ("l-created", "created", &created),
        ("l-running", "running", &running),
        ("l-stopped", "stopped", &stopped),
    ];

    let table = env.kbox(&["list"]).expect_ok("list").stdout;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{table}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, (id, status, bundle)) in rows.iter().zip(&expected) {
        assert_eq!(row[0], *id, "{table}");
        assert_eq!(row[2], *status, "{table}");
        assert_eq!(row[3], bundle.to_str().unwrap(), "{table}");
        assert_eq!(row[5], "root", "{table}");
        assert_eq!(
            row[1],
            env.state(id)["pid"].to_string(),
            "the table's pid is state's: {table}"
        );
    }

    let quiet = env.kbox(&["list", "--quiet"]).expect_ok("list -q").stdout;
    assert_eq!(quiet, "l-created\nl-running\nl-stopped\n");

    let listed = env.kbox(&["list", "--format", "json"]).expect_ok("list");
    let listed = listed.json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (entry, (id, status, bundle)) in listed.iter().zip(&expected) {
        assert_state(entry, id, status, bundle);
    }

    env.kbox(&["delete", "--force", "l-running"])
        .expect_ok("delete --force");
    env.kbox(&["delete", "l-created"])
        .expect_ok("delete created");
    env.kbox(&["delete", "l-stopped"])
        .expect_ok("delete stopped");
    env.assert_nothing_left();
    let listed = env.kbox(&["list", "--format", "json"]).expect_ok("list");
    assert_eq!(listed.json(), json!([]));
}

// Bad input: one line naming the problem, a non-zero exit, nothing left behind.

#[test]
fn create_without_config_json() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    std::fs::remove_file(bundle.join("config.json")).unwrap();
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["config.json", "not found"]);
    env.assert_nothing_left();
}

#[test]
fn create_with_malformed_config_json() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    std::fs::write(bundle.join("config.json"), "{\"ociVersion\": \"1.0.2\",").unwrap();
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["config.json", "malformed JSON"]);
    env.assert_nothing_left();
}

#[test]
fn create_with_a_config_that_is_not_a_runtime_spec() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |config| {
        config["process"]["args"] = json!("sh");
    });
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["config.json", "not a valid OCI runtime config"]);
    env.assert_nothing_left();
}

#[test]
fn create_without_the_root_image() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    std::fs::remove_file(bundle.join("rootfs.img")).unwrap();
    let line = env
        .kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["root.path", "rootfs.img", "No such file or directory"]);
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "the cause is repeated: {line:?}"
    );
    env.assert_nothing_left();
}

#[test]
fn create_with_a_root_image_that_is_not_ext4() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    std::fs::write(bundle.join("rootfs.img"), vec![0u8; 1 << 20]).unwrap();
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["rootfs.img", "not an ext4 image"]);
    env.assert_nothing_left();
}

#[test]
fn create_with_a_corrupt_ext4_image() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    // The superblock magic and nothing else: past kbox's check, refused by the kernel.
    let mut bytes = vec![0u8; 1 << 20];
    bytes[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
    std::fs::write(bundle.join("rootfs.img"), bytes).unwrap();
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "c1"])
        .expect_error(&["rootfs.img"]);
    env.assert_nothing_left();
}

#[test]
fn create_with_a_duplicate_id() {
    let env = Env::new();
    let first = env.bundle("b1", LONG_RUNNING, |_| {});
    let second = env.bundle("b2", LONG_RUNNING, |_| {});
    env.create(&first, "dup");
    let pid = env.state("dup")["pid"].clone();
    env.kbox(&["create", "--bundle", second.to_str().unwrap(), "dup"])
        .expect_error(&["container with id exists: dup"]);
    env.kbox(&["run", "--bundle", second.to_str().unwrap(), "dup"])
        .expect_error(&["container with id exists: dup"]);
    // The first container is untouched, and no second one was started.
    let state = env.state("dup");
    assert_state(&state, "dup", "created", &first);
    assert_eq!(state["pid"], pid);
    assert_eq!(env.supervisors().len(), 1);
    env.kbox(&["delete", "dup"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn create_with_an_invalid_id() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    for id in ["a/b", "..", "with space", ""] {
        env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), id])
            .expect_error(&["invalid container id"]);
        env.assert_nothing_left();
    }
    let long = "x".repeat(1000);
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), &long])
        .expect_error(&["invalid container id"]);
    env.assert_nothing_left();
}

#[test]
fn commands_on_an_unknown_id() {
    let env = Env::new();
    for args in [
        &["state", "nope"][..],
        &["start", "nope"],
        &["kill", "nope"],
        &["kill", "nope", "KILL"],
        &["delete", "nope"],
    ] {
        env.kbox(args)
            .expect_error(&["container \"nope\" does not exist"]);
        env.assert_nothing_left();
    }
}

#[test]
fn kill_with_a_bad_signal() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.kbox(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "s1"])
        .expect_ok("run --detach");
    for signal in ["NOPE", "SIGNOPE", "0", "65", "-9", "RTMAX+1"] {
        env.kbox(&["kill", "s1", signal])
            .expect_error(&["unknown signal", signal]);
    }
    assert_eq!(
        env.status("s1"),
        "running",
        "a bad signal changed the container"
    );
    env.kbox(&["kill", "s1", "9"]).expect_ok("kill 9");
    env.wait_stopped("s1");
    env.kbox(&["delete", "s1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn start_twice() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.create(&bundle, "s1");
    env.kbox(&["start", "s1"]).expect_ok("start");
    env.kbox(&["start", "s1"])
        .expect_error(&["cannot start an already running container"]);
    assert_eq!(env.status("s1"), "running");
    env.kbox(&["kill", "s1"]).expect_ok("kill");
    env.wait_stopped("s1");
    env.kbox(&["start", "s1"])
        .expect_error(&["cannot start a container that has stopped"]);
    env.kbox(&["delete", "s1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn delete_of_a_running_container_without_force() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    env.kbox(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "r1"])
        .expect_ok("run --detach");
    env.kbox(&["delete", "r1"])
        .expect_error(&["cannot delete container r1 that is not stopped: running"]);
    assert_eq!(env.status("r1"), "running", "a refused delete changed it");
    env.kbox(&["delete", "--force", "r1"])
        .expect_ok("delete --force");
    env.assert_nothing_left();
}

#[test]
fn console_socket_rules() {
    let env = Env::new();
    let plain = env.bundle("b1", LONG_RUNNING, |_| {});
    let socket = env.path("unused.sock");
    env.kbox(&[
        "create",
        "--bundle",
        plain.to_str().unwrap(),
        "--console-socket",
        socket.to_str().unwrap(),
        "c1",
    ])
    .expect_error(&["--console-socket", "process.terminal is false"]);
    env.assert_nothing_left();
    let terminal = terminal_bundle(&env, "b2");
    env.kbox(&["create", "--bundle", terminal.to_str().unwrap(), "c1"])
        .expect_error(&["process.terminal is true", "--console-socket"]);
    env.assert_nothing_left();
    // A socket nobody listens on: the supervisor cannot hand the master over.
    env.kbox(&[
        "create",
        "--bundle",
        terminal.to_str().unwrap(),
        "--console-socket",
        socket.to_str().unwrap(),
        "c1",
    ])
    .expect_error(&["console socket", "unused.sock"]);
    env.assert_nothing_left();
}

// exec, ps, pause/resume and kill --all: through the supervisor's control socket.

/// Waits until `path` (a command's output file) satisfies `done`, and returns its text.
fn wait_for_output(path: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) {
            return text;
        }
        assert!(
            started.elapsed() < COMMAND_LIMIT,
            "{what}: {} holds {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A first process that runs until signalled (exiting 7 on TERM) and tells its host pid
/// on its first line once `setup` has run.
fn long_running_after(setup: &str) -> String {
    format!("trap 'exit 7' TERM; {setup} echo pid $$; while :; do sleep 1; done")
}

/// `run --detach` of `script` in a new bundle; returns the bundle and the host pid of the
/// container's first process (which `long_running_after` scripts print).
fn run_detached(env: &Env, id: &str, script: &str) -> (PathBuf, i32) {
    let bundle = env.bundle(id, &["sh", "-c", script], |_| {});
    let (mut command, out, err) =
        env.command(&["run", "-d", "--bundle", bundle.to_str().unwrap(), id]);
    let run = command.spawn().expect("spawning kbox run");
    let code = wait_bounded(run, "run --detach", COMMAND_LIMIT);
    assert_eq!(
        code,
        0,
        "run --detach: {}",
        std::fs::read_to_string(&err).unwrap()
    );
    let text = wait_for_output(&out, "the first process's pid", |text| text.contains('\n'));
    let pid = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("pid "))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"));
    (bundle, pid)
}

/// Kills the container with SIGKILL, waits for it to stop and deletes it.
fn kill_and_delete(env: &Env, id: &str) {
    env.kbox(&["kill", id, "KILL"]).expect_ok("kill");
    env.wait_stopped(id);
    env.kbox(&["delete", id]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn exec_runs_in_the_running_container_with_its_exit_code() {
    let env = Env::new();
    run_detached(&env, "e1", &long_running_after("echo first > /tmp/marker;"));
    let done = env.kbox(&[
        "exec",
        "e1",
        "sh",
        "-c",
        "cat /tmp/marker; echo via-exec; exit 4",
    ]);
    assert_eq!(done.code, 4, "{done:?}");
    assert_eq!(done.stdout, "first\nvia-exec\n", "{done:?}");
    assert_eq!(env.status("e1"), "running", "exec changed the container");
    kill_and_delete(&env, "e1");
}

#[test]
fn exec_applies_env_cwd_and_user() {
    let env = Env::new();
    run_detached(&env, "e1", &long_running_after(""));
    let done = env
        .kbox(&[
            "exec",
            "--env",
            "VAR=from-flag",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1000",
            "e1",
            "sh",
            "-c",
            "id -u; id -g; pwd; echo $VAR",
        ])
        .expect_ok("exec");
    assert_eq!(done.stdout, "1000\n1000\n/tmp\nfrom-flag\n", "{done:?}");
    kill_and_delete(&env, "e1");
}

#[test]
fn exec_runs_a_process_file() {
    let env = Env::new();
    run_detached(&env, "e1", &long_running_after(""));
    let process = env.path("process.json");
    std::fs::write(
        &process,
        serde_json::to_vec(&json!({
            "args": ["sh", "-c", "echo $X; id -u; pwd; exit 3"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "X=from-file"],
            "cwd": "/etc",
            "user": {"uid": 1000, "gid": 1000},
        }))
        .unwrap(),
    )
    .unwrap();
    let done = env.kbox(&["exec", "--process", process.to_str().unwrap(), "e1"]);
    assert_eq!(done.code, 3, "{done:?}");
    assert_eq!(done.stdout, "from-file\n1000\n/etc\n", "{done:?}");
    kill_and_delete(&env, "e1");
}

#[test]
fn exec_tty_gets_a_terminal_of_its_own_through_the_console_socket() {
    let env = Env::new();
    run_detached(&env, "e1", &long_running_after(""));
    let (exec, master) = spawn_with_console(
        &env,
        &["exec", "--tty", "--console-socket", "{socket}", "e1", "sh"],
    );
    set_window_size(&master, 24, 80);
    // The supervisor copies the host pty's size to the container's every 200 ms.
    std::thread::sleep(Duration::from_millis(600));
    // `talk` reads until the terminal closes: the exec'd shell's exit must close it.
    let output = talk(master, b"echo $((6*7)); tty; stty size; exit 6\n");
    for expected in ["42", "/dev/pts/", "24 80"] {
        assert!(output.contains(expected), "no {expected:?} in {output:?}");
    }
    assert_eq!(
        wait_bounded(exec, "exec --tty", COMMAND_LIMIT),
        6,
        "{output:?}"
    );
    assert_eq!(
        env.status("e1"),
        "running",
        "exec --tty changed the container"
    );
    kill_and_delete(&env, "e1");
}

#[test]
fn exec_detach_writes_the_pid_file_and_ps_lists_it() {
    let env = Env::new();
    let (_, first) = run_detached(&env, "e1", &long_running_after(""));
    let pid_file = env.path("exec.pid");
    env.kbox(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "e1",
        "sh",
        "-c",
        "while :; do sleep 1; done",
    ])
    .expect_ok("exec --detach");
    let exec_pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the pid file")
        .trim()
        .parse()
        .expect("a pid in the pid file");
    assert!(process_exists(exec_pid.into()), "{exec_pid} is not running");

    let listed = env.kbox(&["ps", "--format", "json", "e1"]).expect_ok("ps");
    let pids: Vec<i64> = listed
        .json()
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|pid| pid.as_i64().expect("a pid"))
        .collect();
    for pid in [first, exec_pid] {
        assert!(pids.contains(&pid.into()), "{pid} not in {pids:?}");
    }

    let table = env.kbox(&["ps", "e1"]).expect_ok("ps").stdout;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    let pid_column = header.iter().position(|name| *name == "PID").expect("PID");
    let listed: Vec<i32> = lines
        .map(|line| {
            line.split_whitespace()
                .nth(pid_column)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    for pid in [first, exec_pid] {
        assert!(listed.contains(&pid), "{pid} not in {table}");
    }
    kill_and_delete(&env, "e1");
    assert!(
        !process_exists(exec_pid.into()),
        "the exec'd process outlived its container"
    );
}

#[test]
fn pause_stops_the_container_and_resume_continues_it() {
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done",
        ],
        |_| {},
    );
    let (mut command, out, _err) =
        env.command(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "p1"]);
    assert_eq!(
        wait_bounded(command.spawn().unwrap(), "run -d", COMMAND_LIMIT),
        0
    );
    let count = || std::fs::read_to_string(&out).unwrap().lines().count();
    wait_for_output(&out, "the counter", |text| text.lines().count() >= 3);

    env.kbox(&["pause", "p1"]).expect_ok("pause");
    assert_state(&env.state("p1"), "p1", "paused", &bundle);
    // What was written before the pause drains first.
    std::thread::sleep(Duration::from_millis(300));
    let paused_at = count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(), paused_at, "the counter advanced while paused");

    env.kbox(&["resume", "p1"]).expect_ok("resume");
    assert_state(&env.state("p1"), "p1", "running", &bundle);
    wait_for_output(&out, "the counter after resume", |text| {
        text.lines().count() > paused_at + 2
    });
    kill_and_delete(&env, "p1");
}

#[test]
fn kill_all_ends_every_process() {
    let env = Env::new();
    let (_, first) = run_detached(&env, "k1", &long_running_after(""));
    let mut execs = Vec::new();
    for n in 0..2 {
        let pid_file = env.path(&format!("exec-{n}.pid"));
        env.kbox(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "k1",
            "sh",
            "-c",
            // Ignores TERM, so only KILL ends it.
            "trap '' TERM; while :; do sleep 1; done",
        ])
        .expect_ok("exec --detach");
        execs.push(
            std::fs::read_to_string(&pid_file)
                .unwrap()
                .trim()
                .parse::<i32>()
                .unwrap(),
        );
    }
    env.kbox(&["kill", "--all", "k1", "KILL"])
        .expect_ok("kill --all");
    env.wait_stopped("k1");
    let started = Instant::now();
    for pid in std::iter::once(first).chain(execs) {
        while process_exists(pid.into()) {
            assert!(started.elapsed() < STOP_LIMIT, "{pid} survived kill --all");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    env.kbox(&["delete", "k1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn exec_into_a_stopped_or_unknown_container() {
    let env = Env::new();
    let bundle = env.bundle("b", &["true"], |_| {});
    env.kbox(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "s1"])
        .expect_ok("run --detach");
    env.wait_stopped("s1");
    env.kbox(&["exec", "s1", "echo", "hi"])
        .expect_error(&["cannot exec in a stopped container"]);
    env.kbox(&["exec", "nope", "echo", "hi"])
        .expect_error(&["container \"nope\" does not exist"]);
    env.kbox(&["delete", "s1"]).expect_ok("delete");
    env.assert_nothing_left();
}

#[test]
fn preserve_fds_of_closed_fds_are_refused_and_zero_is_accepted() {
    let env = Env::new();
    let bundle = env.bundle("b", LONG_RUNNING, |_| {});
    let bundle = bundle.to_str().unwrap();
    for command in ["create", "run"] {
        env.kbox(&[command, "--preserve-fds", "2", "--bundle", bundle, "c1"])
            .expect_error(&["--preserve-fds 2", "fd 3 is not open"]);
        env.assert_nothing_left();
    }
    env.kbox(&["run", "-d", "--preserve-fds", "0", "--bundle", bundle, "c1"])
        .expect_ok("run --preserve-fds 0");
    env.kbox(&["exec", "--preserve-fds", "1", "c1", "true"])
        .expect_error(&["--preserve-fds 1", "fd 3 is not open"]);
    env.kbox(&["exec", "--preserve-fds", "0", "c1", "true"])
        .expect_ok("exec --preserve-fds 0");
    kill_and_delete(&env, "c1");
}

#[test]
fn supervisor_warnings_go_to_the_log_and_never_to_the_container() {
    let env = Env::new();
    let bundle = env.bundle("b", &["sh", "-c", "echo out; echo err >&2"], |config| {
        config["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind"]}),
        );
    });
    let log = env.path("kbox.log");
    let done = env
        .kbox(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            "w1",
        ])
        .expect_ok("run");
    assert_eq!(
        (done.stdout.as_str(), done.stderr.as_str()),
        ("out\n", "err\n")
    );
    let text = std::fs::read_to_string(&log).expect("the log file");
    let warning = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("log line {line:?} is not JSON: {e}"))
        })
        .find(|record| {
            record["msg"]
                .as_str()
                .is_some_and(|msg| msg.contains("/mnt"))
        })
        .unwrap_or_else(|| panic!("no warning about the bind mount in {text:?}"));
    assert_eq!(warning["level"], "warning", "{warning}");
    assert!(
        warning["msg"].as_str().unwrap().contains("skipped"),
        "{warning}"
    );
    env.assert_nothing_left();

    // Without a log file the warning goes nowhere: the supervisor's stderr is the
    // container's.
    let done = env
        .kbox(&["run", "--bundle", bundle.to_str().unwrap(), "w2"])
        .expect_ok("run");
    assert_eq!(
        (done.stdout.as_str(), done.stderr.as_str()),
        ("out\n", "err\n")
    );
    env.assert_nothing_left();
}

/// Gives the command `fds` as its fds 3, 4, ... (dup2 in the child before exec).
fn with_fds(command: &mut Command, fds: Vec<RawFd>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls dup2, which is async-signal-safe, on fds that stay
    // open in the parent until the child has started.
    unsafe {
        command.pre_exec(move || {
            for (index, fd) in fds.iter().enumerate() {
                if libc::dup2(*fd, 3 + index as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[test]
fn preserve_fds_pass_host_fds_on_to_the_container() {
    use std::io::{BufRead, Write};
    let env = Env::new();
    let input = env.path("input");
    std::fs::write(&input, "hello\n").unwrap();
    let input = std::fs::File::open(&input).unwrap();
    let (output_read, output_write) = nix::unistd::pipe().unwrap();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    // fd 3: a read-only file, fd 4: the write end of a pipe, fd 5: a read-write socket.
    let bundle = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "read line <&3; echo \"got $line\" >&4; echo ask >&5; read answer <&5; \
             echo \"answer $answer\" >&4; ls /proc/self/fd | sort -n | tr '\\n' ' ' >&4",
        ],
        |_| {},
    );
    let (mut command, _out, err) = env.command(&[
        "run",
        "--preserve-fds",
        "3",
        "--bundle",
        bundle.to_str().unwrap(),
        "p1",
    ]);
    with_fds(
        &mut command,
        vec![
            input.as_raw_fd(),
            output_write.as_raw_fd(),
            theirs.as_raw_fd(),
        ],
    );
    let run = command.spawn().expect("spawning kbox run");
    drop((output_write, theirs, input));
    ours.set_read_timeout(Some(COMMAND_LIMIT)).unwrap();
    let mut asked = String::new();
    std::io::BufReader::new(&ours)
        .read_line(&mut asked)
        .expect("reading the container's question from fd 5");
    assert_eq!(asked, "ask\n");
    (&ours).write_all(b"yes\n").unwrap();
    let code = wait_bounded(run, "run --preserve-fds", COMMAND_LIMIT);
    assert_eq!(code, 0, "{}", std::fs::read_to_string(&err).unwrap());
    let mut written = String::new();
    std::fs::File::from(output_read)
        .read_to_string(&mut written)
        .unwrap();
    // 0-5, and 6: the directory `ls` reads.
    assert_eq!(
        written, "got hello\nanswer yes\n0 1 2 3 4 5 6 ",
        "{written:?}"
    );
    env.assert_nothing_left();
}

#[test]
fn exec_preserve_fds_passes_host_fds_on() {
    let env = Env::new();
    run_detached(&env, "e1", &long_running_after(""));
    let (output_read, output_write) = nix::unistd::pipe().unwrap();
    let (mut command, _out, err) = env.command(&[
        "exec",
        "--preserve-fds",
        "1",
        "e1",
        "sh",
        "-c",
        "echo via-exec >&3",
    ]);
    with_fds(&mut command, vec![output_write.as_raw_fd()]);
    let exec = command.spawn().expect("spawning kbox exec");
    drop(output_write);
    let code = wait_bounded(exec, "exec --preserve-fds", COMMAND_LIMIT);
    assert_eq!(code, 0, "{}", std::fs::read_to_string(&err).unwrap());
    let mut written = String::new();
    std::fs::File::from(output_read)
        .read_to_string(&mut written)
        .unwrap();
    assert_eq!(written, "via-exec\n");
    kill_and_delete(&env, "e1");
}

#[test]
fn preserve_fds_refuses_closed_fds_and_listening_sockets() {
    let env = Env::new();
    let bundle = env.bundle("b", &["true"], |_| {});
    let (mut command, _out, err) = env.command(&[
        "run",
        "--preserve-fds",
        "5",
        "--bundle",
        bundle.to_str().unwrap(),
        "p1",
    ]);
    let code = wait_bounded(command.spawn().unwrap(), "run", COMMAND_LIMIT);
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--preserve-fds 5: fd 3 is not open"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    env.assert_nothing_left();

    let listener = UnixListener::bind(env.path("listening.sock")).unwrap();
    let (mut command, _out, err) = env.command(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        bundle.to_str().unwrap(),
        "p2",
    ]);
    with_fds(&mut command, vec![listener.as_raw_fd()]);
    let code = wait_bounded(command.spawn().unwrap(), "run", COMMAND_LIMIT);
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_ne!(code, 0);
    assert!(stderr.contains("fd 3 is a listening socket"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    env.assert_nothing_left();
}

// createContainer and startContainer hooks: kbox runs them "in the container namespace",
// which for a container with its own kernel means as processes of the container: the hook's
// path is the image's, it sees the container's filesystem, and it gets the state on stdin.

fn container_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn container_hooks_run_inside_the_container_with_the_state() {
    let env = Env::new();
    let bundle = env.bundle(
        "b",
        &["sh", "-c", "cat /tmp/created; echo; cat /tmp/started"],
        |config| {
            config["hooks"]["createContainer"] = json!([container_hook("cat > /tmp/created")]);
            config["hooks"]["startContainer"] = json!([container_hook("cat > /tmp/started")]);
        },
    );
    let done = env
        .kbox(&["run", "--bundle", bundle.to_str().unwrap(), "hooks"])
        .expect_ok("run");
    // The hooks wrote into the container's filesystem (not the host's /tmp), where the first
    // process read their stdin back: the state at each step.
    let states: Vec<Value> = done
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(states.len(), 2, "{done:?}");
    assert_eq!(
        (states[0]["id"].as_str(), states[0]["status"].as_str()),
        (Some("hooks"), Some("creating"))
    );
    assert_eq!(
        (states[1]["id"].as_str(), states[1]["status"].as_str()),
        (Some("hooks"), Some("created"))
    );
    assert_eq!(states[1]["bundle"].as_str(), bundle.to_str());
    env.assert_nothing_left();
}

#[test]
fn failing_container_hooks_fail_create_and_start() {
    let env = Env::new();
    let bundle = env.bundle("b", &["true"], |config| {
        config["hooks"]["createContainer"] = json!([{"path": "/no/such/hook"}]);
    });
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "failing"])
        .expect_error(&["createContainer hook /no/such/hook"]);
    env.assert_nothing_left();

    let bundle = env.bundle("c", &["true"], |config| {
        config["hooks"]["startContainer"] = json!([container_hook("exit 3")]);
    });
    env.create(&bundle, "failing");
    env.kbox(&["start", "failing"])
        .expect_error(&["startContainer hook /bin/sh: exited with status 3"]);
}

#[test]
fn a_container_hook_that_outlives_its_timeout_is_killed() {
    let env = Env::new();
    let bundle = env.bundle("b", &["true"], |config| {
        config["hooks"]["createContainer"] =
            json!([{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]);
    });
    let started = Instant::now();
    env.kbox(&["create", "--bundle", bundle.to_str().unwrap(), "slow"])
        .expect_error(&["killed after its timeout of 1s"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    env.assert_nothing_left();
}
