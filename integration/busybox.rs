//! End-to-end tests of `kbox run` on the busybox bundle: shell scripts run inside the
//! container (its own kernel, programs traced by the supervisor) and, for comparison, by
//! runc on the same root file system as a directory. Outputs and exit statuses must match,
//! except where the difference is the point (kernel version, pids, /proc of the container
//! kernel), where the test asserts what kbox must show instead. Escape attempts are tests too.
//!
//! Needs `bundles/busybox/rootfs.img` and `bundles/busybox/rootfs/` (hack/mkimage-busybox.sh),
//! runc, jq (for hack/mkbundle-runc.sh), e2fsprogs, gcc with a static libc, and root.
//! Every test has its own temp dir, container ids and `--root`s, and every run of kbox or
//! runc is bounded by `timeout`, so a hang fails the test instead of blocking the suite.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

#[path = "support/e2fsck.rs"]
mod e2fsck;

const KBOX: &str = env!("CARGO_BIN_EXE_kbox");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TARGET_TMPDIR: &str = env!("CARGO_TARGET_TMPDIR");
/// Seconds one run of a container may take before `timeout` ends it.
const RUN_TIMEOUT: &str = "60";
/// `timeout`'s exit status when it had to end the command.
const TIMED_OUT: i32 = 124;

/// What a container run left: its exit status (128+n for a signal) and its output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "status {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn busybox_dir() -> PathBuf {
    let dir = Path::new(MANIFEST_DIR).join("bundles/busybox");
    assert!(
        dir.join("rootfs.img").is_file() && dir.join("rootfs/bin/busybox").is_file(),
        "no busybox image in {}: run hack/mkimage-busybox.sh",
        dir.display()
    );
    dir
}

fn next_id(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `command` under `timeout` with `stdin` as its input and collects the run.
fn run_bounded(command: &mut Command, stdin: &[u8]) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot spawn {command:?}: {err}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // The container may exit without reading everything: a broken pipe is fine.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let status = match output.status.code() {
        Some(code) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            128 + output.status.signal().unwrap_or(0)
        }
    };
    let run = Run {
        status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_ne!(
        run.status,
        TIMED_OUT,
        "{command:?} did not finish within {RUN_TIMEOUT} s: {}",
        run.describe()
    );
    run
}

fn bounded(program: &str) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", RUN_TIMEOUT, program])
        .env_remove("RUST_LOG");
    command
}

/// A kbox bundle in a temp dir: a private copy of an image and a config.json from
/// bundles/busybox whose args each run replaces. The image persists across runs.
struct Kbox {
    dir: tempfile::TempDir,
}

impl Kbox {
    fn new() -> Self {
        Self::with_image(&busybox_dir().join("rootfs.img"))
    }

    fn with_image(image: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("cp")
            .arg("--sparse=always")
            .arg(image)
            .arg(dir.path().join("rootfs.img"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot copy {}", image.display());
        Kbox { dir }
    }

    fn image(&self) -> PathBuf {
        self.dir.path().join("rootfs.img")
    }

    /// `kbox run` (under `timeout`) of a container whose process.args are `args`.
    fn command(&self, args: &[&str]) -> Command {
        let config = std::fs::read(busybox_dir().join("config.json")).unwrap();
        let mut config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        config["process"]["args"] = serde_json::json!(args);
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        let mut command = bounded(KBOX);
        command
            .arg("--root")
            .arg(self.dir.path().join("state"))
            .arg("run")
            .arg("--bundle")
            .arg(self.dir.path())
            .arg(next_id("kbox"));
        command
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_bounded(&mut self.command(args), stdin)
    }

    fn sh(&self, script: &str) -> Run {
        self.run(&["sh", "-c", script], b"")
    }
}

/// A runc bundle (hack/mkbundle-runc.sh) on a private copy of bundles/busybox/rootfs/.
struct Runc {
    dir: tempfile::TempDir,
}

impl Runc {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("image")).unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(busybox_dir().join("rootfs"))
            .arg(dir.path().join("image/rootfs"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot copy the busybox rootfs");
        Runc { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `runc run` (under `timeout`) of a container whose process.args are `args`, and its id.
    fn command(&self, args: &[&str]) -> (Command, String) {
        let bundle = self.dir.path().join("bundle");
        let output = Command::new(Path::new(MANIFEST_DIR).join("hack/mkbundle-runc.sh"))
            .arg(self.dir.path().join("image"))
            .arg(&bundle)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "mkbundle-runc.sh: {output:?}");
        let id = next_id("runc");
        let mut command = bounded("runc");
        command
            .arg("--root")
            .arg(self.state())
            .arg("run")
            .arg("--bundle")
            .arg(&bundle)
            .arg(&id);
        (command, id)
    }

    /// Removes what is left of container `id` (after a failure or a timeout).
    fn delete(&self, id: &str) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(self.state())
            .args(["delete", "--force", id])
            .output();
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let (mut command, id) = self.command(args);
        let run = run_bounded(&mut command, stdin);
        self.delete(&id);
        run
    }
}

/// Runs `sh -c script` with `stdin` in kbox and in runc; both must give the same status,
/// stdout and stderr. Returns the kbox run for further checks.
fn same_as_runc_with_stdin(script: &str, stdin: &[u8]) -> Run {
    let args = ["sh", "-c", script];
    let kbox = Kbox::new().run(&args, stdin);
    let runc = Runc::new().run(&args, stdin);
    assert_eq!(
        kbox,
        runc,
        "kbox and runc differ for script:\n{script}\n=== kbox: {}\n=== runc: {}",
        kbox.describe(),
        runc.describe()
    );
    kbox
}

fn same_as_runc(script: &str) -> Run {
    same_as_runc_with_stdin(script, b"")
}

/// Asserts that `run` exited 0 and its stdout is `expected`.
fn assert_output(run: &Run, expected: &str) {
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (0, expected),
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------
// Shell features, compared with runc.

#[test]
fn pipelines() {
    let run = same_as_runc(
        "echo hello world | tr a-z A-Z | wc -c
         printf 'b\\na\\nc\\n' | sort | head -n 2
         seq 1 1000 | grep 7 | wc -l
         cat /usr/share/kbox-test/pattern-1m.txt | cat | cat | md5sum
         yes kbox | head -n 3
         false | true; echo status $?
         true | false; echo status $?",
    );
    assert!(
        run.stdout.starts_with("12\na\nb\n271\n"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.ends_with("status 0\nstatus 1\n"));
}

#[test]
fn redirections() {
    let run = same_as_runc(
        "cd /tmp
         echo one >f; echo two >>f; cat <f
         ls /nonexistent 2>err; echo status $?; cat err
         ls /nonexistent >both 2>&1; cat both
         exec 3>g; echo to fd3 >&3; echo more >&3; exec 3>&-; cat g
         exec 4<f; read line <&4; echo read $line; read line <&4; echo read $line; exec 4<&-
         echo to stderr >&2 2>/dev/null
         echo discarded >/dev/null; cat /dev/null
         : >f; wc -c <f
         echo rw 1<>h; cat h
         { echo grouped; echo block; } >k; cat k",
    );
    assert!(
        run.stdout.starts_with("one\ntwo\nstatus 1\n"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("to stderr"));
}

#[test]
fn here_documents() {
    let run = same_as_runc(
        "name=kbox
cat <<EOF
hello $name
$(echo command substitution)
  indented $((6 * 7))
EOF
cat <<'EOF'
literal $name $(echo no)
EOF
cat <<-EOF
	tabs stripped
	EOF
wc -l <<EOF
1
2
3
EOF
while read a b; do echo \"$b $a\"; done <<EOF
x 1
y 2
EOF
cat <<EOF | tr a-z A-Z
piped here document
EOF",
    );
    assert_output(
        &run,
        "hello kbox\ncommand substitution\n  indented 42\nliteral $name $(echo no)\n\
         tabs stripped\n3\n1 x\n2 y\nPIPED HERE DOCUMENT\n",
    );
}

#[test]
fn subshells() {
    let run = same_as_runc(
        "x=outer
         (x=inner; echo in $x); echo out $x
         (cd /etc && pwd); pwd
         echo $(echo a $(echo b $(echo c)))
         echo `echo backquotes`
         (exit 3); echo status $?
         (umask 077; umask); umask
         y=$(cd /usr/share; pwd; exit 4); echo $? $y
         ( (echo nested) | cat )",
    );
    assert_output(
        &run,
        "in inner\nout outer\n/etc\n/\na b c\nbackquotes\nstatus 3\n0077\n0022\n4 /usr/share\nnested\n",
    );
}

#[test]
fn for_loops() {
    let run = same_as_runc(
        "for i in 1 2 3; do echo item $i; done
         for f in /usr/share/kbox-test/*; do echo $f; done
         n=0; while [ $n -lt 100 ]; do n=$((n + 1)); done; echo n $n
         for i in a b c d; do [ $i = b ] && continue; [ $i = d ] && break; echo $i; done
         for i in $(seq 3); do for j in x y; do printf '%s%s ' $i $j; done; done; echo
         i=0; until [ $i -ge 3 ]; do i=$((i + 1)); sh -c \"echo child $i\"; done",
    );
    assert!(
        run.stdout
            .starts_with("item 1\nitem 2\nitem 3\n/usr/share/kbox-test/SHA256SUMS\n"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.ends_with("child 1\nchild 2\nchild 3\n"));
}

#[test]
fn background_jobs_and_wait() {
    let run = same_as_runc(
        "cd /tmp
         (sleep 0.3; echo slow >slow) &
         (echo fast >fast) &
         wait; cat fast slow
         sleep 0.1 & p=$!; wait $p; echo sleep status $?
         (exit 7) & p=$!; wait $p; echo job status $?
         for i in 1 2 3 4 5; do (echo job $i >job$i) & done; wait; cat job1 job2 job3 job4 job5
         sh -c 'exit 9' & a=$!; sh -c 'exit 11' & b=$!; wait $b; echo b $?; wait $a; echo a $?
         yes | head -c 100000 | wc -c &
         wait",
    );
    assert_output(
        &run,
        "fast\nslow\nsleep status 0\njob status 7\njob 1\njob 2\njob 3\njob 4\njob 5\nb 11\na 9\n100000\n",
    );
}

#[test]
fn trap_and_kill_between_processes() {
    // ash reports "Killed" / "Terminated" only when `wait` itself reaps the job, which is a
    // race with the child's death (runc, too, misses it now and then): those reports go to
    // /dev/null, the statuses are what is compared.
    let run = same_as_runc(
        "cd /tmp
         trap 'echo parent got USR1' USR1
         kill -USR1 $$
         echo after self signal
         trap 'echo parent got USR2' USR2
         sh -c 'kill -USR2 $PPID'
         echo after child signal
         sh -c 'trap \"echo child got TERM; exit 5\" TERM; echo ready >ready; while :; do sleep 0.05; done' &
         p=$!
         while [ ! -e ready ]; do sleep 0.05; done
         kill -TERM $p; wait $p; echo child status $?
         { sleep 30 & p=$!; kill -9 $p; wait $p; echo killed status $?; } 2>/dev/null
         { sleep 30 & p=$!; kill $p; wait $p; echo terminated status $?; } 2>/dev/null
         trap - USR1; trap '' HUP; kill -HUP $$; echo ignored HUP",
    );
    assert_output(
        &run,
        "parent got USR1\nafter self signal\nparent got USR2\nafter child signal\n\
         child got TERM\nchild status 5\nkilled status 137\nterminated status 143\nignored HUP\n",
    );
}

#[test]
fn signals_reach_a_process_blocked_in_the_container_kernel() {
    // cat waits in the container's kernel for a fifo writer that never writes: timeout's
    // SIGTERM must end it at once, not when the kernel call ends (never, here: the test
    // would run into its time bound).
    let run = same_as_runc(
        "cd /tmp; mkfifo f
         sleep 1000 > f & s=$!
         timeout 1 cat f; echo status $?
         { kill $s; wait $s; echo sleep status $?; } 2>/dev/null",
    );
    // busybox timeout runs the command in its own process and kills it with SIGTERM.
    assert_output(&run, "status 143\nsleep status 143\n");
}

#[test]
fn a_process_killed_while_blocked_in_the_container_kernel_leaves_cleanly() {
    // SIGKILL ends the process at once; its kernel task, blocked in open, is cut short and
    // released, and the container goes on and ends normally. (ash's "Killed" reports are a
    // race with the reaping, see trap_and_kill_between_processes: not compared.)
    let run = same_as_runc(
        "cd /tmp; mkfifo f
         cat f & p=$!
         { sleep 0.3; kill -9 $p; wait $p; echo cat status $?; } 2>/dev/null
         cat f & p=$!
         { sleep 0.3; kill -9 $p; wait $p; echo again $?; } 2>/dev/null",
    );
    assert_output(&run, "cat status 137\nagain 137\n");
}

#[test]
fn a_caught_signal_interrupts_a_blocked_call_as_the_handler_says() {
    // The shell's trap runs while it waits in the container's kernel (opening a fifo no one
    // writes); whether the call then restarts or fails (ash's handler has no SA_RESTART:
    // it fails) is the host's rule, as in runc.
    let run = same_as_runc(
        "cd /tmp; mkfifo g
         trap 'echo got USR1' USR1
         (sleep 0.5; kill -USR1 $$) &
         read x < g; echo \"after: $?\"; wait",
    );
    assert!(run.stdout.contains("got USR1"), "{}", run.describe());
}

#[test]
fn exit_statuses() {
    let run = same_as_runc(
        "true; echo $?; false; echo $?
         sh -c 'exit 3'; echo $?
         sh -c 'exit 255'; echo $?
         sh -c 'kill -9 $$'; echo $?
         sh -c 'kill -TERM $$'; echo $?
         sh -c 'kill -SEGV $$'; echo $?
         sh -c 'kill -ABRT $$'; echo $?
         /nonexistent 2>/dev/null; echo $?
         /etc/kbox-test.txt 2>/dev/null; echo $?
         ! true; echo $?",
    );
    assert_output(&run, "0\n1\n3\n255\n137\n143\n139\n134\n127\n126\n1\n");
}

#[test]
fn container_exit_status_is_the_first_process_status() {
    let kbox = Kbox::new();
    let runc = Runc::new();
    for (script, expected) in [("exit 42", 42), ("exit 0", 0), ("false", 1)] {
        let k = kbox.sh(script);
        let r = runc.run(&["sh", "-c", script], b"");
        assert_eq!(k.status, expected, "{script}: {}", k.describe());
        assert_eq!(k, r, "{script}");
    }
    // runc's first process is pid 1 of a pid namespace, which SIGKILL from inside cannot
    // end; kbox's first process is an ordinary process, so the container dies of it.
    assert_eq!(kbox.sh("kill -9 $$; echo survived").status, 137);
    assert_eq!(kbox.sh("kill -TERM $$; echo survived").status, 143);
}

// ---------------------------------------------------------------------------------------
// Programs and the file system, compared with runc.

#[test]
fn ls_la() {
    // Image files all have the same fixed time; files made here get one with touch -d.
    // The image's ext4 has 1 KiB blocks where runc's directory has 4 KiB ones: directory
    // sizes and the block totals are not compared, nor `..` of a listing's top (the image's
    // root also holds lost+found).
    let run = same_as_runc(
        "nodirsize() { grep -v -e '^total ' -e ' \\.\\.$' | awk '$1 ~ /^d/ { $5 = \"-\" } { print }'; }
         ls -la /etc /usr/share/kbox-test /usr/share/kbox-test/tree/a/b/c | nodirsize
         mkdir /tmp/d; cd /tmp/d
         echo data >file; chmod 604 file; ln -s file link; mkdir sub; mkfifo fifo; ln file hard
         touch -h -d '2020-02-02 02:02:02' file link sub fifo hard .
         ls -la --full-time . | nodirsize
         ls -lan /bin/sh /bin/busybox",
    );
    assert!(
        run.stdout.contains("kbox-test.link -> kbox-test.txt"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("prw-r--r--"));
}

#[test]
fn find() {
    let run = same_as_runc(
        "find /usr/share/kbox-test | sort
         find /etc -type l
         find / -xdev -name leaf.txt
         find /usr/share -type f -size +100k
         find /usr/share/kbox-test -type d -name b -exec ls {} \\;
         find /usr/share/kbox-test/tree -mindepth 2 -maxdepth 3 | sort
         find /bin -name 'sh' -type l | wc -l",
    );
    assert!(
        run.stdout
            .contains("/usr/share/kbox-test/tree/a/b/c/leaf.txt\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn tar_round_trip() {
    let run = same_as_runc(
        "cd /tmp
         tar cf t.tar -C /usr/share kbox-test
         tar tf t.tar | sort
         mkdir x && tar xf t.tar -C x
         diff -r x/kbox-test /usr/share/kbox-test && echo same tree
         (cd x/kbox-test && sha256sum -c SHA256SUMS 2>&1 | sed s,^,/,) || true
         cd / && sha256sum -c usr/share/kbox-test/SHA256SUMS
         cd /tmp && tar czf t.tgz -C /etc . && tar tzf t.tgz | sort
         mkdir y && tar xzf t.tgz -C y && cmp y/kbox-test.txt /etc/kbox-test.txt && readlink y/kbox-test.link
         tar cf - -C /usr/share/kbox-test tree | tar xf - -C /tmp/y && cat /tmp/y/tree/a/b/c/leaf.txt",
    );
    assert!(run.stdout.contains("same tree\n"), "{}", run.describe());
    assert!(run.stdout.ends_with("kbox-test.txt\ndeep\n"));
}

#[test]
fn sort() {
    let run = same_as_runc(
        "printf '10 b\\n9 a\\n100 c\\n9 a\\n' >/tmp/s
         sort /tmp/s; sort -n /tmp/s; sort -rn /tmp/s; sort -u /tmp/s; sort -k2 -r /tmp/s
         sort -r /usr/share/kbox-test/pattern-1m.txt >/tmp/r; head -n 2 /tmp/r
         sort /tmp/r | md5sum; md5sum </usr/share/kbox-test/pattern-1m.txt
         seq 20 | sort | tr '\\n' ' '; echo",
    );
    assert!(
        run.stdout.starts_with("10 b\n100 c\n9 a\n9 a\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn md5sum_of_a_file_written_by_dd() {
    let run = same_as_runc(
        "cd /tmp
         dd if=/dev/zero of=zero bs=4096 count=256 2>/dev/null; md5sum zero; wc -c <zero
         dd if=/usr/share/kbox-test/pattern-1m.txt of=part bs=1000 skip=3 count=100 2>/dev/null
         md5sum part; wc -c <part
         dd if=/usr/share/kbox-test/pattern-1m.txt of=big bs=64k 2>/dev/null; md5sum big
         md5sum /usr/share/kbox-test/pattern-1m.txt | cut -d' ' -f1
         dd if=/etc/kbox-test.txt of=conv conv=ucase 2>/dev/null; cat conv
         dd if=/dev/zero of=sparse bs=1 count=1 seek=1048575 2>/dev/null; md5sum sparse",
    );
    assert!(
        run.stdout
            .starts_with("b6d81b360a5672d80c27430f39153e2c  zero\n1048576\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn mkdir_rename_unlink_symlink_chmod() {
    let run = same_as_runc(
        "cd /tmp
         mkdir -p a/b/c; echo x >a/f
         mv a/f a/b/g; ls a a/b
         ln -s b/g a/l; readlink a/l; cat a/l
         ln a/b/g a/hard; stat -c '%h %n' a/b/g a/hard
         chmod 640 a/b/g; chmod u+x,o-rwx a/b; stat -c '%a %A %n' a/b/g a/b a/l
         chmod 4755 a/hard; stat -c '%a %n' a/hard
         mv a/b/c a/c2; ls a
         rm a/l; rmdir a/c2; rm a/hard; ls -R a
         rm nonexistent 2>&1; rmdir a 2>&1; echo status $?
         ln -s nowhere dangling; cat dangling 2>&1; readlink dangling
         mv a renamed && ls renamed/b
         rm -r renamed; ls",
    );
    assert!(run.stdout.contains("b/g\nx\n"), "{}", run.describe());
}

#[test]
fn umask() {
    let run = same_as_runc(
        "umask
         cd /tmp
         touch f0; mkdir d0; stat -c '%a %n' f0 d0
         umask 027; umask
         touch f1; mkdir d1; stat -c '%a %n' f1 d1
         sh -c umask
         umask 0; echo x >f2; mkdir d2; stat -c '%a %n' f2 d2
         umask 777; touch f3; stat -c '%a %n' f3
         umask -S",
    );
    assert!(run
        .stdout
        .starts_with("0022\n644 f0\n755 d0\n0027\n640 f1\n750 d1\n0027\n"));
}

#[test]
fn cd_and_pwd() {
    let run = same_as_runc(
        "cd /usr/share/kbox-test/tree/a/b; pwd
         cd ..; pwd; cd -; cd ../../..; pwd
         cd /etc/../usr//share/; pwd
         ln -s /usr/share/kbox-test /tmp/sl; cd /tmp/sl/tree; pwd; pwd -P; /bin/pwd
         sh -c pwd
         cd; pwd
         cd /nonexistent 2>&1; echo status $?; pwd
         mkdir /tmp/gone; cd /tmp/gone; rmdir /tmp/gone; /bin/pwd 2>&1; ls 2>&1; echo status $?",
    );
    assert!(
        run.stdout.starts_with(
            "/usr/share/kbox-test/tree/a/b\n/usr/share/kbox-test/tree/a\n\
             /usr/share/kbox-test/tree/a/b\n/usr/share/kbox-test\n/usr/share\n\
             /tmp/sl/tree\n/usr/share/kbox-test/tree\n/usr/share/kbox-test/tree\n/tmp/sl/tree\n/root\n"
        ),
        "{}",
        run.describe()
    );
}

#[test]
fn stat() {
    // The image's files have a fixed mtime (2024-01-01): %Y is comparable. Directory sizes
    // are not: the image's ext4 has 1 KiB blocks, runc's directory 4 KiB ones.
    let run = same_as_runc(
        "stat -c '%n %s %a %A %F %h %u %g %U %G %Y' /etc/kbox-test.txt /etc/kbox-test.link \
            /usr/share/kbox-test/pattern-1m.txt /bin/busybox
         stat -c '%n %a %A %F %h %u %g %U %G %Y' /usr/share/kbox-test/tree /tmp
         stat -L -c '%n %s %F' /etc/kbox-test.link
         stat -c '%F' /dev/null /dev/zero; stat -c '%t %T' /dev/null
         cd /tmp && echo 12345 >f && touch -d '2001-02-03 04:05:06' f && stat -c '%s %Y %X' f
         stat /nonexistent 2>&1; echo status $?
         [ -d /etc ] && [ -f /etc/passwd ] && [ -L /bin/sh ] && [ -x /bin/busybox ] && echo tests ok",
    );
    assert!(
        run.stdout.starts_with(
            "/etc/kbox-test.txt 59 644 -rw-r--r-- regular file 1 0 0 root root 1704067200\n"
        ),
        "{}",
        run.describe()
    );
}

#[test]
fn hostname() {
    let run = same_as_runc("hostname; uname -n; cat /proc/sys/kernel/hostname; cat /etc/hostname");
    assert_output(&run, "kbox\nkbox\nkbox\nkbox\n");
}

#[test]
fn capabilities_follow_the_process_spec() {
    // bundles/busybox grants CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE only, as
    // runc's default spec does: root in the container cannot chown, mknod or chroot.
    let run = same_as_runc(
        "grep ^Cap /proc/self/status
         cd /tmp; touch t
         chown nobody t 2>&1; echo chown $?
         mknod n c 1 3 2>&1; echo mknod $?
         chroot / true 2>&1; echo chroot $?
         sh -c 'kill -0 $PPID'; echo kill $?",
    );
    assert!(
        run.stdout.contains("CapEff:\t0000000020000420\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn env() {
    let run = same_as_runc(
        "env | sort
         echo HOME=$HOME
         X=1 sh -c 'echo X=$X'
         export Y=exported; sh -c 'echo Y=$Y'
         env -i A=1 B=2 env
         env -u PATH env | sort
         unset HOME; sh -c 'echo HOME=${HOME-unset}'",
    );
    assert!(
        run.stdout.contains("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn stdin_of_the_runtime_reaches_the_container() {
    let run = same_as_runc_with_stdin(
        "read first; echo first=$first; read second; echo second=$second; tr a-z A-Z",
        b"line one\nline two\nthe rest\nof the input\n",
    );
    assert_output(
        &run,
        "first=line one\nsecond=line two\nTHE REST\nOF THE INPUT\n",
    );

    // A megabyte through a pipe into the container, read by a child after a dup2.
    let input: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let run = same_as_runc_with_stdin("exec 5<&0; md5sum <&5; cat | wc -c", &input);
    assert!(run.stdout.ends_with("  -\n0\n"), "{}", run.describe());

    // Without input the container sees end of file at once.
    let run = same_as_runc_with_stdin("cat; echo eof", b"");
    assert_output(&run, "eof\n");
}

/// Spawns `command` (a runtime under `timeout`), reads the container's first line of
/// output, hands it to `between` with the pid of `timeout` and the container's stdin, then
/// closes that stdin and collects the run (the first line included).
fn interact(
    command: &mut Command,
    between: impl FnOnce(&str, u32, &mut std::process::ChildStdin),
) -> Run {
    use std::io::{BufRead, BufReader, Read};

    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    between(first.trim_end(), child.id(), &mut stdin);
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let run = Run {
        status: status.code().unwrap_or(-1),
        stdout: first + &rest,
        stderr,
    };
    assert_ne!(run.status, TIMED_OUT, "{command:?}: {}", run.describe());
    run
}

/// Runs `command` (a runtime under `timeout`), waits for the container to print "ready",
/// sends `signal` to the runtime (the child of `timeout`) and collects the run.
fn signal_the_runtime(command: &mut Command, signal: i32) -> Run {
    interact(command, |first, timeout, _| {
        assert_eq!(first, "ready");
        let children =
            std::fs::read_to_string(format!("/proc/{timeout}/task/{timeout}/children")).unwrap();
        let runtime: i32 = children.trim().parse().unwrap();
        // SAFETY: kill(2) on a pid we just read as our own grandchild.
        assert_eq!(unsafe { libc::kill(runtime, signal) }, 0);
    })
}

/// A loop that ends by itself (in 15 s or more), in case a signal never arrives: a
/// container orphaned by its runtime still holds the test's pipes.
const WAIT_A_WHILE: &str = "for i in $(seq 300); do sleep 0.05; done; echo no signal";

#[test]
fn signals_to_the_runtime_reach_the_container() {
    let kbox = Kbox::new();
    let runc = Runc::new();
    for (signal, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT")] {
        let script = format!("trap 'echo got {name}; exit 7' {name}; echo ready; {WAIT_A_WHILE}");
        let args = ["sh", "-c", script.as_str()];
        let k = signal_the_runtime(&mut kbox.command(&args), signal);
        let (mut command, id) = runc.command(&args);
        let r = signal_the_runtime(&mut command, signal);
        runc.delete(&id);
        assert_eq!(k, r, "{name}: kbox {}\nrunc {}", k.describe(), r.describe());
        assert_eq!(
            (k.status, k.stdout.as_str()),
            (7, format!("ready\ngot {name}\n").as_str())
        );
    }
    // Without a trap the first process dies of the signal, and so does kbox run (as runc
    // run's exit status shows it: 128+n); runc's pid 1 would ignore it, so no comparison.
    let k = signal_the_runtime(
        &mut kbox.command(&["sh", "-c", &format!("echo ready; {WAIT_A_WHILE}")]),
        libc::SIGTERM,
    );
    assert_eq!(k.status, 143, "{}", k.describe());
}

// ---------------------------------------------------------------------------------------
// The container kernel: where kbox differs from runc on purpose.

#[test]
fn uname_reports_the_container_kernel() {
    let run = Kbox::new().sh("uname -r; uname -s; uname -m; uname -v; cat /proc/version");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(run.status, 0, "{}", run.describe());
    // uname -m is the kernel's architecture, "lkl", not the host's x86_64.
    assert_eq!(
        &lines[..3],
        ["6.12.118", "Linux", "lkl"],
        "{}",
        run.describe()
    );
    assert!(
        lines[4].starts_with("Linux version 6.12.118"),
        "{}",
        run.describe()
    );
    let host = Command::new("uname").arg("-r").output().unwrap();
    let host = String::from_utf8(host.stdout).unwrap();
    let runc = Runc::new().run(&["uname", "-r"], b"");
    assert_eq!(runc.stdout, host, "runc shows the host's kernel");
}

#[test]
fn proc_mounts_of_the_container_kernel() {
    let run = Kbox::new().sh("cat /proc/mounts; echo --; cat /proc/self/mounts | wc -l");
    assert_eq!(run.status, 0, "{}", run.describe());
    let (mounts, count) = run.stdout.split_once("--\n").unwrap();
    let fields: Vec<Vec<&str>> = mounts
        .lines()
        .map(|line| line.split(' ').collect())
        .collect();
    assert_eq!(count.trim(), fields.len().to_string());
    assert_eq!(fields[0][1..3], ["/", "ext4"], "root first: {mounts}");
    assert!(fields[0][3].starts_with("rw"), "{mounts}");
    for (dest, kind) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
    ] {
        assert!(
            fields.iter().any(|f| f[1] == dest && f[2] == kind),
            "no {kind} on {dest}: {mounts}"
        );
    }
    assert!(
        !mounts.contains("cgroup") && !mounts.contains("overlay"),
        "host mounts leak into the container: {mounts}"
    );
}

#[test]
fn no_new_privileges_as_the_config_says() {
    // bundles/busybox/config.json sets process.noNewPrivileges: the container kernel's
    // /proc says so, as runc's does.
    let run = same_as_runc("grep NoNewPrivs /proc/self/status");
    assert_output(&run, "NoNewPrivs:\t1\n");
}

#[test]
fn proc_cmdline_and_environ_show_the_program() {
    // What exec gave the program (kbox records it at exec: a program that rewrites its own
    // argv later, as busybox tr does, is not followed).
    let run = same_as_runc(
        "cat /proc/self/cmdline | tr '\\0' ' '; echo
         sh -c 'cat /proc/$$/cmdline | tr \"\\0\" \" \"' one two; echo
         env -i A=1 B=two cat /proc/self/environ | tr '\\0' ' '; echo",
    );
    assert_output(
        &run,
        "cat /proc/self/cmdline \nsh -c cat /proc/$$/cmdline | tr \"\\0\" \" \" one two \nA=1 B=two \n",
    );
}

#[test]
fn pids_in_proc_are_the_pids_the_processes_have() {
    // Each process's task in the container's kernel has the process's own pid, so /proc
    // agrees with $$ and $!, and a pid found in /proc (as pkill finds it) can be signalled.
    let run = Kbox::new().sh("[ -d /proc/$$ ] && echo shell in proc
         sleep 30 & p=$!
         [ \"$(cut -d' ' -f4 /proc/$p/stat)\" = $$ ] && echo parent is the shell
         sh -c 'echo $$ > /tmp/inner; readlink /proc/self > /tmp/self'
         [ \"$(cat /tmp/inner)\" = \"$(cat /tmp/self)\" ] && echo self is getpid
         for d in /proc/[0-9]*; do
           [ \"$(cat $d/comm 2>/dev/null)\" = sleep ] && kill ${d#/proc/}
         done
         wait $p; echo sleep status $?
         cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l");
    // The container's /proc is its pid namespace's: pid 1 (kbox's) and its processes (the
    // shell, ls and wc), none of the kernel's own threads.
    assert_output(
        &run,
        "shell in proc\nparent is the shell\nself is getpid\nsleep status 143\nkbox-init\n4\n",
    );
}

#[test]
fn proc_self_of_the_container_kernel() {
    let run = Kbox::new().sh(
        "cd /usr/share/kbox-test; readlink /proc/self/cwd
         cd /; umask 027; grep Umask /proc/self/status
         exec 7>/tmp/seven; readlink /proc/self/fd/7; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo
         exec 7>&-; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo
         echo $(grep -c . /proc/self/mountinfo) $(grep -c . /proc/mounts)
         cat /proc/self/stat | cut -d' ' -f1 | grep -c '^[0-9][0-9]*$'
         ls -d /proc/[0-9]* | wc -l | grep -qv '^0$' && echo has pids",
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(run.status, 0, "{}", run.describe());
    assert_eq!(
        lines[..5],
        [
            "/usr/share/kbox-test",
            "Umask:\t0027",
            "/tmp/seven",
            "0 1 2 3 7 ",
            "0 1 2 3 "
        ],
        "{}",
        run.describe()
    );
    // One mountinfo line per mount, at least the spec's six and the root.
    let counts: Vec<usize> = lines[5].split(' ').map(|n| n.parse().unwrap()).collect();
    assert!(
        counts[0] == counts[1] && counts[0] >= 7,
        "mountinfo and mounts: {}",
        run.describe()
    );
    assert_eq!(lines[6..], ["1", "has pids"], "{}", run.describe());
}

// ---------------------------------------------------------------------------------------
// The image: what the guest writes stays, and the file system stays consistent.

fn debugfs_cat(image: &Path, path: &str) -> String {
    let output = Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat {path}"))
        .arg(image)
        .output()
        .expect("cannot run debugfs (e2fsprogs)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn files_written_by_the_guest_are_in_the_image() {
    let kbox = Kbox::new();
    let run = kbox.sh("echo persisted >/root/persist.txt
         mkdir -p /var/lib/kbox && seq 1 20000 >/var/lib/kbox/numbers
         dd if=/usr/share/kbox-test/pattern-1m.txt of=/var/lib/kbox/copy bs=4096 2>/dev/null
         rm /etc/kbox-test.link; mv /etc/hosts /etc/hosts.moved
         tar cf /root/tree.tar -C /usr/share/kbox-test tree
         echo done");
    assert_output(&run, "done\n");
    let image = kbox.image();
    e2fsck::assert_clean(&image);
    assert_eq!(debugfs_cat(&image, "/root/persist.txt"), "persisted\n");
    let numbers: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert_eq!(debugfs_cat(&image, "/var/lib/kbox/numbers"), numbers);
    let pattern =
        std::fs::read_to_string(busybox_dir().join("rootfs/usr/share/kbox-test/pattern-1m.txt"))
            .unwrap();
    assert!(debugfs_cat(&image, "/var/lib/kbox/copy") == pattern);
    assert_eq!(debugfs_cat(&image, "/etc/kbox-test.link"), "");
    assert!(debugfs_cat(&image, "/etc/hosts.moved").contains("localhost"));

    // A second container on the same image sees it all.
    let run = kbox.sh("cat /root/persist.txt; wc -l </var/lib/kbox/numbers
         ls /etc/kbox-test.link 2>&1; tar tf /root/tree.tar | wc -l");
    assert_output(
        &run,
        "persisted\n20000\nls: /etc/kbox-test.link: No such file or directory\n5\n",
    );
    e2fsck::assert_clean(&image);
}

// ---------------------------------------------------------------------------------------
// Escape attempts: each must fail.

/// A host file with a unique name, that the image does not have.
struct HostMarker {
    dir: tempfile::TempDir,
}

impl HostMarker {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("kbox-host-marker-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(dir.path().join("secret"), "host secret\n").unwrap();
        HostMarker { dir }
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn file(&self) -> String {
        format!("{}/secret", self.dir())
    }
}

/// The names in the image's root directory, as the test reads them on the host.
fn image_root_names() -> String {
    let output = Command::new("debugfs")
        .args(["-R", "ls -p /"])
        .arg(busybox_dir().join("rootfs.img"))
        .output()
        .unwrap();
    // ls -p: /inode/mode/uid/gid/name/size/
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split('/').nth(5).map(str::to_owned))
        .filter(|name| !name.is_empty() && name != "." && name != "..")
        .collect();
    names.sort();
    names.join("\n") + "\n"
}

#[test]
fn escape_by_dot_dot_stays_at_the_image_root() {
    let run = Kbox::new().sh("cd /../../..; pwd; ls -a | grep -v '^\\.' | sort; echo --
         cd /; cd ..; cd ..; ls | sort; echo --; ls /../../../../.. | sort; echo --
         cd /tmp/../../../../etc && cat hostname");
    assert_eq!(run.status, 0, "{}", run.describe());
    let names = image_root_names();
    assert!(
        names.contains("lost+found\n") && names.contains("linuxrc\n"),
        "{names}"
    );
    let visible: String = names
        .lines()
        .filter(|name| !name.starts_with('.'))
        .map(|name| format!("{name}\n"))
        .collect();
    assert_eq!(
        run.stdout,
        format!("/\n{visible}--\n{visible}--\n{visible}--\nkbox\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn escape_by_symlink_resolves_in_the_image() {
    let marker = HostMarker::new();
    let script = format!(
        "cd /tmp
         ln -s /../../../etc/kbox-test.txt x; cat x
         ln -s ../../../../../../etc/hostname y; cat y
         ln -s /../../..{file} z; cat z 2>&1; echo status $?
         ln -s ../../../../../../../../{dir} w; ls w 2>&1; echo status $?",
        file = marker.file(),
        dir = marker.dir(),
    );
    let run = Kbox::new().sh(&script);
    assert_eq!(
        run.stdout,
        format!(
            "kbox test file\nthe quick brown fox jumps over the lazy dog\nkbox\n\
             cat: can't open 'z': No such file or directory\nstatus 1\n\
             ls: w: No such file or directory\nstatus 1\n"
        ),
        "{}",
        run.describe()
    );
}

#[test]
fn escape_by_proc_1_root_does_not_reach_the_host() {
    let marker = HostMarker::new();
    let script = format!(
        "for p in /proc/1 /proc/self /proc/$$ /proc/[0-9]*; do
           cat $p/root{file} 2>/dev/null && echo LEAK $p
           ls $p/root{dir} >/dev/null 2>&1 && echo LEAK $p
           cat $p/root/work/main/Cargo.toml >/dev/null 2>&1 && echo LEAK $p
           cat $p/cwd{file} 2>/dev/null && echo LEAK $p
         done
         cat /proc/1/root/etc/hostname 2>/dev/null | grep -v '^kbox$'
         echo checked",
        file = marker.file(),
        dir = marker.dir(),
    );
    let run = Kbox::new().sh(&script);
    assert_output(&run, "checked\n");
    assert!(
        Path::new(MANIFEST_DIR).join("Cargo.toml").exists(),
        "the probe of the host's repository path means something"
    );
}

#[test]
fn escape_by_host_paths_finds_nothing() {
    let marker = HostMarker::new();
    let script = format!(
        "cat {file} 2>&1; echo status $?
         ls {dir} 2>&1; echo status $?
         test -e {file} || echo absent
         ls {manifest} 2>&1; echo status $?
         {{ echo overwrite >{file}; }} 2>&1; echo status $?",
        file = marker.file(),
        dir = marker.dir(),
        manifest = MANIFEST_DIR,
    );
    let run = Kbox::new().sh(&script);
    assert_output(
        &run,
        &format!(
            "cat: can't open '{file}': No such file or directory\nstatus 1\n\
             ls: {dir}: No such file or directory\nstatus 1\nabsent\n\
             ls: {manifest}: No such file or directory\nstatus 1\n\
             sh: can't create {file}: nonexistent directory\nstatus 1\n",
            file = marker.file(),
            dir = marker.dir(),
            manifest = MANIFEST_DIR,
        ),
    );
    assert_eq!(
        std::fs::read_to_string(marker.file()).unwrap(),
        "host secret\n"
    );
}

/// Tries to reach the process given as argv[1] from inside the container.
const ESCAPE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%s: %s\n", what, r == -1 ? strerror(errno) : "succeeded");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    pid_t target = atoi(argv[1]);
    char buf[16];
    struct iovec local = { buf, sizeof buf }, remote = { (void *)0x400000, sizeof buf };
    report("ptrace attach", ptrace(PTRACE_ATTACH, target, 0, 0));
    report("ptrace seize", ptrace(PTRACE_SEIZE, target, 0, 0));
    report("process_vm_readv", process_vm_readv(target, &local, 1, &remote, 1, 0));
    report("kill SIGKILL", kill(target, SIGKILL));
    report("kill SIGSTOP", kill(target, SIGSTOP));
    report("kill group", kill(-target, SIGKILL));
    report("kill all", kill(-1, SIGKILL));
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(0, &cpus);
    report("sched_setaffinity", sched_setaffinity(target, sizeof cpus, &cpus));
    report("setpriority", setpriority(PRIO_PROCESS, target, 19));
    report("setpriority user", setpriority(PRIO_USER, 0, 19));
    struct rlimit none = { 0, 0 };
    report("prlimit", prlimit(target, RLIMIT_NOFILE, &none, NULL));
    return 0;
}
"#;

/// The busybox image plus /usr/local/bin/kbox-escape (ESCAPE_C, static), built once per
/// test binary under cargo's target tmp dir by hack/mkimage-busybox.sh.
fn escape_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        busybox_dir();
        let dir = Path::new(TARGET_TMPDIR).join("busybox-escape");
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("escape.c");
        std::fs::write(&source, ESCAPE_C).unwrap();
        let binary = dir.join("kbox-escape");
        let output = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&binary)
            .arg(&source)
            .output()
            .expect("cannot run gcc");
        assert!(output.status.success(), "gcc: {output:?}");
        let out = dir.join("bundle");
        let output = Command::new(Path::new(MANIFEST_DIR).join("hack/mkimage-busybox.sh"))
            .arg(&out)
            .env(
                "KBOX_IMAGE_EXTRA",
                format!("{}:/usr/local/bin/kbox-escape", binary.display()),
            )
            .output()
            .unwrap();
        assert!(output.status.success(), "mkimage-busybox.sh: {output:?}");
        out.join("rootfs.img")
    })
}

/// The parent pid from a host process's /proc/PID/status.
fn host_parent(pid: i32) -> i32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn escape_by_ptrace_or_kill_of_the_supervisor_fails() {
    let kbox = Kbox::with_image(escape_image());
    // The first process's parent is the supervisor. It says who that is and waits for the
    // test to check it on the host before it attacks.
    let script = "echo supervisor $PPID; read go
        /usr/local/bin/kbox-escape $PPID
        kill -9 $PPID 2>&1; echo kill status $?; kill -STOP $PPID 2>&1
        kill -9 1 2>&1; echo still alive";
    let mut supervisor = 0;
    let run = interact(
        &mut kbox.command(&["sh", "-c", script]),
        |first, timeout, stdin| {
            supervisor = first
                .strip_prefix("supervisor ")
                .and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("no supervisor pid: {first:?}"));
            // timeout -> kbox run -> kbox supervise
            let cmdline = std::fs::read(format!("/proc/{supervisor}/cmdline")).unwrap();
            assert!(
                String::from_utf8_lossy(&cmdline).contains("supervise"),
                "{supervisor} is not the supervisor: {cmdline:?}"
            );
            assert_eq!(host_parent(host_parent(supervisor)), timeout as i32);
            stdin.write_all(b"go\n").unwrap();
        },
    );
    assert_eq!(run.status, 0, "{}", run.describe());
    assert_eq!(
        run.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            "ptrace attach: Operation not permitted",
            "ptrace seize: Operation not permitted",
            "process_vm_readv: Operation not permitted",
            "kill SIGKILL: Operation not permitted",
            "kill SIGSTOP: Operation not permitted",
            "kill group: Operation not permitted",
            "kill all: Operation not permitted",
            "sched_setaffinity: No such process",
            "setpriority: No such process",
            "setpriority user: Operation not permitted",
            "prlimit: No such process",
            &format!("sh: can't kill pid {supervisor}: Operation not permitted"),
            "kill status 1",
            &format!("sh: can't kill pid {supervisor}: Operation not permitted"),
            "sh: can't kill pid 1: Operation not permitted",
            "still alive",
        ],
        "{}",
        run.describe()
    );
}
