//! Tests of the in-process kernel (LKL) itself, on real ext4 images: the safe binding in
//! `src/lkl` driven by `kbox-lkl-check` (one kernel per process, so one process per
//! scenario), a C client that declares the API itself, and the archive's exported symbols.
//!
//! Needs `mke2fs`, `e2fsck` and `gcc` (hack/setup.sh installs them).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/e2fsck.rs"]
mod e2fsck;

const CHECK: &str = env!("CARGO_BIN_EXE_kbox-lkl-check");
const LIBLKL: &str = env!("KBOX_LIBLKL_PATH");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The file every test image carries, and its content.
const KNOWN_PATH: &str = "etc/kbox-test.txt";
const KNOWN_CONTENT: &str = "kbox test image: known content";

/// A fresh 16 MiB ext4 image (with journal) made by `mke2fs -d` in a temp dir.
struct TestImage {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl TestImage {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(tree.join("etc")).unwrap();
        fs::create_dir_all(tree.join("var/empty")).unwrap();
        fs::write(tree.join(KNOWN_PATH), KNOWN_CONTENT).unwrap();
        let path = dir.path().join("rootfs.img");
        let output = Command::new("mke2fs")
            .args(["-q", "-t", "ext4", "-d"])
            .arg(&tree)
            .arg("-F")
            .arg(&path)
            .arg("16M")
            .output()
            .expect("cannot run mke2fs (install e2fsprogs: hack/setup.sh)");
        assert!(output.status.success(), "mke2fs: {}", describe(&output));
        TestImage { dir, path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn assert_clean(&self) {
        e2fsck::assert_clean(&self.path);
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command`, killing it if it is still running after `timeout`.
fn run_with_timeout(command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot spawn {command:?}: {err}"));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let output = Output {
                status,
                stdout: out_reader.join().unwrap(),
                stderr: err_reader.join().unwrap(),
            };
            panic!(
                "{command:?} did not finish within {timeout:?} (a deadlock?): {}",
                describe(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Runs a `kbox-lkl-check` scenario and returns its output; it must exit 0.
fn scenario(args: &[&str], timeout: Duration) -> Output {
    let output = run_with_timeout(Command::new(CHECK).args(args), timeout);
    assert!(
        output.status.success(),
        "kbox-lkl-check {args:?} failed: {}",
        describe(&output)
    );
    output
}

/// The value of a `key=value` line of a scenario's stdout.
fn fact(output: &Output, key: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in the output: {}", describe(output)))
        .to_owned()
}

fn count(output: &Output, key: &str) -> u64 {
    fact(output, key).parse().unwrap()
}

const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn file_operations_persist_across_boots_and_leave_a_clean_filesystem() {
    let image = TestImage::new();
    let output = scenario(
        &["roundtrip", image.arg(), KNOWN_PATH, KNOWN_CONTENT],
        SCENARIO_TIMEOUT,
    );
    for step in [
        "read_known",
        "write_fsync",
        "rename",
        "unlink",
        "symlink",
        "chmod",
        "getdents64",
        "umount",
        "halt",
    ] {
        assert_eq!(fact(&output, step), "ok", "step {step}");
    }
    assert!(fact(&output, "mount").starts_with("/mnt/"));
    image.assert_clean();

    // A new process, a new kernel: the data is on the image, not in a cache.
    let output = scenario(
        &["verify", image.arg(), KNOWN_PATH, KNOWN_CONTENT],
        SCENARIO_TIMEOUT,
    );
    assert_eq!(fact(&output, "verify"), "ok");
    // `verify` leaves the filesystem mounted: the binding's shutdown must unmount it.
    image.assert_clean();
}

#[test]
fn eight_threads_block_and_wake_in_the_kernel_without_deadlock() {
    let image = TestImage::new();
    let started = Instant::now();
    let output = scenario(&["stress", image.arg(), "3"], SCENARIO_TIMEOUT);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3),
        "stress ended after {elapsed:?}"
    );

    // Pipes: every ping came back, and the echo side saw each one.
    let rounds = count(&output, "pipe_rounds");
    assert_eq!(count(&output, "pipe_echoed"), rounds);
    assert!(rounds >= 100, "only {rounds} pipe round trips in 3 s");

    // Futex ping-pong: strict alternation, so the two sides' turns differ by at most one,
    // and each side slept in FUTEX_WAIT (the other woke it).
    let (even, odd) = (
        count(&output, "futex_turns_0"),
        count(&output, "futex_turns_1"),
    );
    assert!(even.abs_diff(odd) <= 1, "futex turns {even} vs {odd}");
    assert!(even + odd >= 100, "only {} futex turns in 3 s", even + odd);
    assert!(count(&output, "futex_waits_0") > 0 && count(&output, "futex_waits_1") > 0);

    // Sleeps end on the kernel's timers: 1 ms sleeps and 2 ms futex timeouts over 3 s.
    let sleeps = count(&output, "nanosleeps");
    assert!(
        (100..=3000).contains(&sleeps),
        "{sleeps} nanosleeps of 1 ms in 3 s"
    );
    let timeouts = count(&output, "futex_timeouts");
    assert!(
        (50..=1500).contains(&timeouts),
        "{timeouts} futex timeouts of 2 ms in 3 s"
    );

    assert!(count(&output, "files") >= 10);
    assert!(count(&output, "cheap_calls") >= 300);
    assert_eq!(fact(&output, "halt"), "ok");
    image.assert_clean();
}

/// Mounting `image` must fail with `errno` (and a message naming it), the kernel must survive
/// and halt, and the image must be left exactly as it was.
fn assert_mount_fails_cleanly(image: &Path, stage: &str, errno: &str, strerror: &str) {
    let before = fs::read(image).unwrap();
    let output = scenario(&["mount-fail", image.to_str().unwrap()], SCENARIO_TIMEOUT);
    assert_eq!(fact(&output, "stage"), stage);
    assert!(
        fact(&output, "errno").starts_with(&format!("{errno}:")),
        "{}",
        describe(&output)
    );
    let message = fact(&output, "message");
    assert!(
        message.starts_with(&format!("lkl_{stage}")) && message.ends_with(strerror),
        "unclear message {message:?}"
    );
    assert_eq!(fact(&output, "halt"), "ok");
    assert!(
        fs::read(image).unwrap() == before,
        "the failed mount modified the image"
    );
}

#[test]
fn a_corrupt_image_fails_to_mount_with_the_kernels_error() {
    let image = TestImage::new();
    // Zero the first 64 KiB: boot block, superblock and group descriptors.
    let mut bytes = fs::read(image.path()).unwrap();
    bytes[..64 * 1024].fill(0);
    fs::write(image.path(), &bytes).unwrap();
    assert_mount_fails_cleanly(image.path(), "mount_dev", "EINVAL", "Invalid argument");
}

#[test]
fn a_truncated_image_fails_to_mount_with_the_kernels_error() {
    let image = TestImage::new();
    // A quarter of the filesystem: ext4 refuses a block count beyond the device's end.
    fs::File::options()
        .write(true)
        .open(image.path())
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    assert_mount_fails_cleanly(image.path(), "mount_dev", "EINVAL", "Invalid argument");

    // An empty file is not even a disk.
    let empty = image.dir.path().join("empty.img");
    fs::write(&empty, b"").unwrap();
    assert_mount_fails_cleanly(&empty, "disk_add", "EINVAL", "Invalid argument");
}

#[test]
fn fifty_processes_in_a_row_boot_work_and_halt() {
    const BOOTS: usize = 50;
    let image = TestImage::new();
    let started = Instant::now();
    for n in 1..=BOOTS {
        let output = scenario(
            &["work", image.arg(), &n.to_string()],
            Duration::from_secs(30),
        );
        assert_eq!(count(&output, "boot"), n as u64);
    }
    let elapsed = started.elapsed();
    // About 60 ms each when idle; generous for a loaded CI machine.
    assert!(
        elapsed < Duration::from_secs(120),
        "{BOOTS} boots took {elapsed:?}"
    );
    image.assert_clean();
}

#[test]
fn a_second_boot_in_one_process_is_a_clean_error() {
    let output = scenario(&["reboot"], SCENARIO_TIMEOUT);
    assert_eq!(fact(&output, "first_boot"), "ok");
    assert!(
        fact(&output, "binding_second_boot").contains("one kernel per process"),
        "{}",
        describe(&output)
    );
    assert!(fact(&output, "port_second_start").starts_with("EALREADY"));
    assert!(fact(&output, "port_syscall_after_halt").starts_with("ENODEV"));
}

#[test]
fn a_c_client_that_declares_the_api_itself_links_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("c_client");
    let source = Path::new(MANIFEST_DIR).join("lkl/tests/c_client.c");
    // No -I: the client may not use any header of ours.
    let output = run_with_timeout(
        Command::new("gcc")
            .args(["-O2", "-Wall", "-Werror", "-o"])
            .arg(&client)
            .arg(&source)
            .arg(LIBLKL)
            .args(["-lpthread", "-lrt"]),
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "gcc: {}", describe(&output));

    let image = TestImage::new();
    let output = run_with_timeout(
        Command::new(&client)
            .arg(image.path())
            .arg(KNOWN_PATH)
            .arg(KNOWN_CONTENT),
        SCENARIO_TIMEOUT,
    );
    assert!(output.status.success(), "c_client: {}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "c_client: ok\n");
    image.assert_clean();

    // What the C client wrote, read back through the Rust binding in another process.
    let output = scenario(
        &["cat", image.arg(), "c-client-wrote-this"],
        SCENARIO_TIMEOUT,
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello from C\n");
}

#[test]
fn liblkl_exports_the_nine_symbols_of_the_seed() {
    let script = Path::new(MANIFEST_DIR).join("hack/check-liblkl-symbols.sh");
    let output = run_with_timeout(
        Command::new("sh").arg(&script).arg(LIBLKL),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ok: Vec<&str> = stdout
        .lines()
        .filter(|line| line.trim_end().ends_with(" OK"))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        ok,
        [
            "lkl_init",
            "lkl_start_kernel",
            "lkl_cleanup",
            "lkl_syscall",
            "lkl_strerror",
            "lkl_disk_add",
            "lkl_mount_dev",
            "lkl_host_ops",
            "lkl_dev_blk_ops"
        ],
        "{stdout}"
    );
    assert!(!stdout.contains("MISSING"), "{stdout}");
}
