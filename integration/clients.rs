//! kbox driven by real clients, the way users drive it: podman with `--runtime` and
//! containerd's runc shim with `--runc-binary`. Both hand kbox a directory root (podman's
//! overlay, containerd's snapshot), which kbox copies into an image of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KBOX: &str = env!("CARGO_BIN_EXE_kbox");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command with a time limit, so a hang fails the test instead of blocking CI.
fn run_with_timeout(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waiting").is_some() {
            return child.wait_with_output().expect("collecting output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "{command:?} timed out after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The busybox rootfs as a tarball (built by hack/mkimage-busybox.sh), once per test run.
fn rootfs_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo().join("hack/mkimage-busybox.sh"))
            .status()
            .expect("running hack/mkimage-busybox.sh");
        assert!(status.success(), "hack/mkimage-busybox.sh failed");
        let tar = std::env::temp_dir().join(format!("kbox-clients-{}.tar", std::process::id()));
        let status = Command::new("tar")
            .arg("-C")
            .arg(repo().join("bundles/busybox/rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("running tar");
        assert!(status.success());
        tar
    })
}

static NEXT_IMAGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Podman {
    dir: tempfile::TempDir,
    image: String,
}

impl Podman {
    /// A podman with private storage, set up as ENVIRONMENT.md says podman needs here, and
    /// the busybox rootfs imported as an image.
    fn new() -> Podman {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             netns = \"none\"\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             runtime_supports_json = [\"kbox\"]\n",
        )
        .unwrap();
        let podman = Podman {
            image: format!(
                "localhost/kbox-test-{}-{}",
                std::process::id(),
                NEXT_IMAGE.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ),
            dir,
        };
        let out = run_with_timeout(
            podman.command(&["import", rootfs_tar().to_str().unwrap(), &podman.image]),
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "podman import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        podman
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .arg("--root")
            .arg(self.dir.path().join("storage"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--runtime")
            .arg(KBOX)
            .args(args);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.command(&["rm", "-af"]).output();
        let _ = self.command(&["rmi", "-af"]).output();
    }
}

#[test]
fn podman_runs_a_container_with_its_exit_code_and_stdio() {
    let podman = Podman::new();
    let out = run_with_timeout(
        podman.command(&[
            "run",
            "--rm",
            &podman.image,
            "sh",
            "-c",
            "echo hello; uname -r; exit 3",
        ]),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "hello\n6.12.118\n");

    // stdin reaches the container.
    let mut cmd = podman.command(&["run", "-i", "--rm", &podman.image, "tr", "a-z", "A-Z"]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped through\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PIPED THROUGH\n");
}

#[test]
fn podman_detached_container_is_listed_and_stopped() {
    let podman = Podman::new();
    let out = run_with_timeout(
        podman.command(&[
            "run",
            "-d",
            "--name",
            "kb-detached",
            &podman.image,
            "sleep",
            "60",
        ]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_timeout(
        podman.command(&["ps", "--format", "{{.Names}} {{.Status}}"]),
        Duration::from_secs(60),
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("kb-detached Up"), "podman ps: {listing}");
    let out = run_with_timeout(
        podman.command(&["stop", "-t", "2", "kb-detached"]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_timeout(
        podman.command(&["inspect", "--format", "{{.State.Status}}", "kb-detached"]),
        Duration::from_secs(60),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "exited");
}

#[test]
fn podman_keeps_a_containers_changes_across_runs_and_for_cp() {
    // The container's writes reach its rootfs when it stops: a second start sees them, and
    // so does `podman cp` from the stopped container.
    let podman = Podman::new();
    let out = run_with_timeout(
        podman.command(&[
            "run",
            "--name",
            "kb-changes",
            &podman.image,
            "sh",
            "-c",
            "echo $(( $(cat /runs 2>/dev/null || echo 0) + 1 )) > /runs; rm -f /bin/false; cat /runs",
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_timeout(
        podman.command(&["start", "-a", "kb-changes"]),
        Duration::from_secs(120),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = podman.dir.path().join("runs");
    let out = run_with_timeout(
        podman.command(&["cp", "kb-changes:/runs", copy.to_str().unwrap()]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "2\n");
    let out = run_with_timeout(
        podman.command(&["diff", "kb-changes"]),
        Duration::from_secs(60),
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("A /runs"), "podman diff: {diff}");
    assert!(diff.contains("D /bin/false"), "podman diff: {diff}");
}

/// A containerd daemon of the test's own, killed when dropped.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: std::process::Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n[grpc]\n  address = \"{d}/containerd.sock\"\n"),
        )
        .unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting containerd (hack/setup.sh installs it)");
        let sock = dir.path().join("containerd.sock");
        let started = Instant::now();
        while !sock.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "containerd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Containerd { dir, daemon }
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(self.dir.path().join("containerd.sock"))
            .args(args);
        c
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn containerd_runs_a_container_through_the_runc_shim() {
    let podman = Podman::new();
    let ctrd = Containerd::start();
    let archive = ctrd.dir.path().join("image.tar");
    let out = run_with_timeout(
        podman.command(&[
            "save",
            "--format",
            "oci-archive",
            "-o",
            archive.to_str().unwrap(),
            &podman.image,
        ]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "podman save: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_timeout(
        ctrd.ctr(&["images", "import", archive.to_str().unwrap()]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "ctr import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = format!("{}:latest", podman.image);
    let out = run_with_timeout(
        ctrd.ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            KBOX,
            &image,
            "kbox-ctr",
            "sh",
            "-c",
            "echo via containerd; exit 4",
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via containerd\n");
    assert_eq!(
        out.status.code(),
        Some(4),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
