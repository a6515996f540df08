//! `createContainer` and `startContainer` hooks: kbox runs them "in the container namespace",
//! which for a container with its own kernel means as processes of the container: the hook's
//! path is the image's, it sees the container's filesystem, and it gets the state on stdin.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KBOX: &str = env!("CARGO_BIN_EXE_kbox");

fn busybox_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("bash")
            .arg(repo.join("hack/mkimage-busybox.sh"))
            .stdout(Stdio::null())
            .status()
            .expect("running hack/mkimage-busybox.sh");
        assert!(status.success());
        repo.join("bundles/busybox/rootfs.img")
    })
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A bundle with a copy of the busybox image and `config.json` edited by `edit`.
    fn new(edit: impl FnOnce(&mut serde_json::Value)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(busybox_image(), dir.path().join("rootfs.img")).unwrap();
        let mut config: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo.join("bundles/busybox/config.json")).unwrap(),
        )
        .unwrap();
        edit(&mut config);
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
        Env { dir }
    }

    /// Runs kbox with its output in files: a container's supervisor inherits stdout and
    /// stderr and outlives `create`, so pipes would not see end-of-file.
    fn kbox(&self, args: &[&str]) -> Output {
        let out_path = self.dir.path().join("kbox.out");
        let err_path = self.dir.path().join("kbox.err");
        let mut child = Command::new(KBOX)
            .arg("--root")
            .arg(self.dir.path().join("state"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("kbox {args:?} timed out");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    fn bundle(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in ["hooks", "failing"] {
            let _ = self.kbox(&["delete", "--force", id]);
        }
    }
}

fn hook(script: &str) -> serde_json::Value {
    serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn container_hooks_run_inside_the_container_with_the_state() {
    let env = Env::new(|c| {
        c["process"]["args"] =
            serde_json::json!(["sh", "-c", "cat /tmp/created; echo; cat /tmp/started"]);
        c["hooks"]["createContainer"] = serde_json::json!([hook("cat > /tmp/created")]);
        c["hooks"]["startContainer"] = serde_json::json!([hook("cat > /tmp/started")]);
    });
    let out = env.kbox(&["run", "--bundle", env.bundle(), "hooks"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The hooks wrote into the container's filesystem (not the host's /tmp), where the first
    // process read their stdin back: the state at each step.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let states: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(states.len(), 2, "{stdout}");
    assert_eq!(
        (states[0]["id"].as_str(), states[0]["status"].as_str()),
        (Some("hooks"), Some("creating"))
    );
    assert_eq!(
        (states[1]["id"].as_str(), states[1]["status"].as_str()),
        (Some("hooks"), Some("created"))
    );
    assert_eq!(states[1]["bundle"].as_str(), Some(env.bundle()));
}

#[test]
fn failing_container_hooks_fail_create_and_start() {
    let env = Env::new(|c| {
        c["process"]["args"] = serde_json::json!(["true"]);
        c["hooks"]["createContainer"] = serde_json::json!([{"path": "/no/such/hook"}]);
    });
    let out = env.kbox(&["create", "--bundle", env.bundle(), "failing"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("createContainer hook /no/such/hook"),
        "{stderr}"
    );
    let listed = env.kbox(&["list", "-q"]);
    assert!(
        listed.stdout.is_empty(),
        "a failed create leaves nothing behind"
    );

    let env = Env::new(|c| {
        c["process"]["args"] = serde_json::json!(["true"]);
        c["hooks"]["startContainer"] = serde_json::json!([hook("exit 3")]);
    });
    let out = env.kbox(&["create", "--bundle", env.bundle(), "failing"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.kbox(&["start", "failing"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("startContainer hook /bin/sh: exited with status 3"),
        "{stderr}"
    );
}

#[test]
fn a_hook_that_outlives_its_timeout_is_killed() {
    let env = Env::new(|c| {
        c["process"]["args"] = serde_json::json!(["true"]);
        c["hooks"]["createContainer"] =
            serde_json::json!([{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]);
    });
    let started = Instant::now();
    let out = env.kbox(&["create", "--bundle", env.bundle(), "failing"]);
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("killed after its timeout of 1s"),
        "{stderr}"
    );
}
