//! `kbox-lkl-check`: kernel scenarios for `integration/lkl.rs`, one per process.
//!
//! LKL hosts one kernel per process and cannot boot again after a halt, while cargo runs the
//! tests of a file as threads of one process; so each test spawns this program with the
//! scenario to run. A scenario prints `key=value` facts on stdout for the test to check, checks
//! its own invariants, and exits 0 on success or 1 with a message on stderr. A watchdog ends
//! the process with status 124 if a scenario hangs (a deadlock or a lost wake-up).
//!
//! Usage: kbox-lkl-check SCENARIO ARGS...
//!   roundtrip IMAGE KNOWN_PATH CONTENT   file operations on a fresh image, then halt
//!   verify IMAGE KNOWN_PATH CONTENT      a second boot sees what `roundtrip` left
//!   stress IMAGE SECONDS                 eight host threads in the kernel at once
//!   mount-fail IMAGE                     mounting a damaged image fails cleanly
//!   work IMAGE N                         the Nth of a series of boots appends to a log
//!   reboot                               a second boot in one process is a clean error
//!   cat IMAGE PATH                       prints a file of the image

use std::ffi::{CStr, CString};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use kbox::lkl::{Errno, Kernel, KernelBuilder, KernelError, LklFd, MsFlags, AT_FDCWD};

const CMDLINE: &str = "loglevel=4";
const MEM_MB: u32 = 64;
/// Longer than any scenario takes on a loaded 2-core machine, short enough to fail a test.
const WATCHDOG: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(scenario) = args.first().cloned() else {
        eprintln!("usage: kbox-lkl-check SCENARIO ARGS... (see the source)");
        std::process::exit(2);
    };
    start_watchdog(scenario.clone());
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let result = match (scenario.as_str(), rest.as_slice()) {
        ("roundtrip", [image, known, content]) => roundtrip(Path::new(image), known, content),
        ("verify", [image, known, content]) => verify(Path::new(image), known, content),
        ("stress", [image, seconds]) => stress(Path::new(image), seconds),
        ("mount-fail", [image]) => mount_fail(Path::new(image)),
        ("work", [image, n]) => work(Path::new(image), n),
        ("reboot", []) => reboot(),
        ("cat", [image, path]) => cat(Path::new(image), path),
        _ => {
            eprintln!("kbox-lkl-check: unknown scenario or wrong arguments: {args:?}");
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        eprintln!("kbox-lkl-check {scenario}: FAILED: {err:#}");
        std::process::exit(1);
    }
}

fn start_watchdog(scenario: String) {
    std::thread::spawn(move || {
        std::thread::sleep(WATCHDOG);
        eprintln!("kbox-lkl-check {scenario}: watchdog: still running after {WATCHDOG:?}");
        // SAFETY: _exit ends the process without running any cleanup, which is what we want
        // when kernel threads may be stuck; it has no memory-safety preconditions.
        unsafe { libc::_exit(124) };
    });
}

/// Boots a kernel with `image` as its only disk and mounts it read-write as ext4.
fn boot_and_mount(image: &Path) -> Result<(Kernel, String)> {
    let file = open_image(image)?;
    let mut builder = KernelBuilder::new()?;
    let disk = builder.add_disk(&file)?;
    let kernel = builder.boot(CMDLINE, MEM_MB)?;
    let mnt = kernel.mount_disk(disk, c"ext4", MsFlags::empty(), None)?;
    Ok((kernel, mnt))
}

fn open_image(image: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(image)
        .with_context(|| format!("open {}", image.display()))
}

fn cpath(s: &str) -> CString {
    CString::new(s).expect("paths here have no NUL")
}

/// Wraps an errno with what was being done.
fn op<T>(what: impl std::fmt::Display, result: Result<T, Errno>) -> Result<T> {
    result.map_err(|errno| anyhow::anyhow!("{what}: {errno} ({})", errno.desc()))
}

fn read_file(kernel: &Kernel, path: &str) -> Result<Vec<u8>> {
    let fd = op(
        format!("open {path}"),
        kernel.openat(AT_FDCWD, &cpath(path), libc::O_RDONLY, 0),
    )?;
    let mut content = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = op(format!("read {path}"), kernel.read(fd, &mut buf))?;
        if n == 0 {
            break;
        }
        content.extend_from_slice(&buf[..n]);
    }
    op(format!("close {path}"), kernel.close(fd))?;
    Ok(content)
}

fn write_all(kernel: &Kernel, fd: LklFd, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        let n = op("write", kernel.write(fd, data))?;
        ensure!(n > 0, "write returned 0");
        data = &data[n..];
    }
    Ok(())
}

/// The names in a directory, read with getdents64, sorted.
fn list_dir(kernel: &Kernel, path: &str) -> Result<Vec<String>> {
    let fd = op(
        format!("open dir {path}"),
        kernel.openat(
            AT_FDCWD,
            &cpath(path),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        ),
    )?;
    let mut names = Vec::new();
    // Small on purpose: the listing has to take several calls.
    let mut buf = vec![0u8; 64];
    loop {
        let n = op(
            format!("getdents64 {path}"),
            kernel.getdents64(fd, &mut buf),
        )?;
        if n == 0 {
            break;
        }
        names.extend(parse_dirents(&buf[..n])?);
    }
    op("close", kernel.close(fd))?;
    names.sort();
    Ok(names)
}

/// Parses `struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }`.
fn parse_dirents(mut buf: &[u8]) -> Result<Vec<String>> {
    const NAME_OFFSET: usize = 19;
    let mut names = Vec::new();
    while !buf.is_empty() {
        ensure!(buf.len() >= NAME_OFFSET, "truncated dirent");
        let reclen = usize::from(u16::from_ne_bytes([buf[16], buf[17]]));
        ensure!(
            (NAME_OFFSET + 1..=buf.len()).contains(&reclen),
            "bad d_reclen {reclen}"
        );
        let name = CStr::from_bytes_until_nul(&buf[NAME_OFFSET..reclen])
            .context("dirent name without NUL")?;
        names.push(name.to_string_lossy().into_owned());
        buf = &buf[reclen..];
    }
    Ok(names)
}

/// Deterministic content that spans several blocks and is not all one byte.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

const PATTERN_LEN: usize = 100_000;

fn roundtrip(image: &Path, known: &str, content: &str) -> Result<()> {
    let (kernel, mnt) = boot_and_mount(image)?;
    println!("mount={mnt}");

    let known_content = read_file(&kernel, &format!("{mnt}/{known}"))?;
    ensure!(
        known_content == content.as_bytes(),
        "{known} holds {:?}, expected {content:?}",
        String::from_utf8_lossy(&known_content)
    );
    println!("read_known=ok");

    let work = format!("{mnt}/work");
    op("mkdir work", kernel.mkdirat(AT_FDCWD, &cpath(&work), 0o755))?;
    let st = op("stat work", kernel.newfstatat(AT_FDCWD, &cpath(&work), 0))?;
    ensure!(
        st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        "work is not a directory"
    );

    // create, write, fsync
    let draft = format!("{work}/draft");
    let data = pattern(PATTERN_LEN);
    let fd = op(
        "create draft",
        kernel.openat(
            AT_FDCWD,
            &cpath(&draft),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            0o644,
        ),
    )?;
    write_all(&kernel, fd, &data)?;
    op("fsync draft", kernel.fsync(fd))?;
    let st = op("fstat draft", kernel.fstat(fd))?;
    ensure!(
        st.st_size == PATTERN_LEN as i64,
        "fstat size {}",
        st.st_size
    );
    ensure!(
        st.st_mode == libc::S_IFREG | 0o644,
        "fstat mode {:o}",
        st.st_mode
    );
    ensure!(
        st.st_nlink == 1 && st.st_blocks > 0,
        "fstat nlink/blocks {st:?}"
    );
    op("close draft", kernel.close(fd))?;
    println!("write_fsync=ok");

    // rename
    let final_path = format!("{work}/final");
    op(
        "rename draft final",
        kernel.renameat2(AT_FDCWD, &cpath(&draft), AT_FDCWD, &cpath(&final_path), 0),
    )?;
    ensure!(
        kernel.newfstatat(AT_FDCWD, &cpath(&draft), 0).err() == Some(Errno::ENOENT),
        "draft still exists after rename"
    );
    let st = op(
        "stat final",
        kernel.newfstatat(AT_FDCWD, &cpath(&final_path), 0),
    )?;
    ensure!(
        st.st_size == PATTERN_LEN as i64,
        "renamed file size {}",
        st.st_size
    );
    println!("rename=ok");

    // unlink
    let scratch = format!("{work}/scratch");
    let fd = op(
        "create scratch",
        kernel.openat(
            AT_FDCWD,
            &cpath(&scratch),
            libc::O_CREAT | libc::O_WRONLY,
            0o600,
        ),
    )?;
    write_all(&kernel, fd, b"short-lived")?;
    op("close scratch", kernel.close(fd))?;
    op(
        "unlink scratch",
        kernel.unlinkat(AT_FDCWD, &cpath(&scratch), 0),
    )?;
    ensure!(
        kernel.newfstatat(AT_FDCWD, &cpath(&scratch), 0).err() == Some(Errno::ENOENT),
        "scratch still exists after unlink"
    );
    println!("unlink=ok");

    // symlink
    let link = format!("{work}/link");
    op(
        "symlink",
        kernel.symlinkat(c"final", AT_FDCWD, &cpath(&link)),
    )?;
    let mut target = [0u8; 64];
    let n = op(
        "readlink",
        kernel.readlinkat(AT_FDCWD, &cpath(&link), &mut target),
    )?;
    ensure!(
        &target[..n] == b"final",
        "link points at {:?}",
        &target[..n]
    );
    let lst = op(
        "lstat link",
        kernel.newfstatat(AT_FDCWD, &cpath(&link), libc::AT_SYMLINK_NOFOLLOW),
    )?;
    ensure!(
        lst.st_mode & libc::S_IFMT == libc::S_IFLNK,
        "link mode {:o}",
        lst.st_mode
    );
    let through = op(
        "stat via link",
        kernel.newfstatat(AT_FDCWD, &cpath(&link), 0),
    )?;
    ensure!(
        through.st_ino == st.st_ino,
        "link resolves to inode {} not {}",
        through.st_ino,
        st.st_ino
    );
    println!("symlink=ok");

    // chmod
    op(
        "chmod final",
        kernel.fchmodat(AT_FDCWD, &cpath(&final_path), 0o600),
    )?;
    let st = op(
        "stat final",
        kernel.newfstatat(AT_FDCWD, &cpath(&final_path), 0),
    )?;
    ensure!(
        st.st_mode == libc::S_IFREG | 0o600,
        "mode after chmod {:o}",
        st.st_mode
    );
    println!("chmod=ok");

    // getdents64, and everything so far as a second boot must find it
    check_work_dir(&kernel, &work)?;
    println!("getdents64=ok");

    // the content as the kernel reads it back (from its page cache)
    let fd = op(
        "open final",
        kernel.openat(AT_FDCWD, &cpath(&final_path), libc::O_RDONLY, 0),
    )?;
    let mut tail = vec![0u8; 1000];
    let n = op(
        "pread final",
        kernel.pread(fd, &mut tail, (PATTERN_LEN - 1000) as i64),
    )?;
    ensure!(
        n == 1000 && tail == data[PATTERN_LEN - 1000..],
        "pread tail differs"
    );
    op("close final", kernel.close(fd))?;

    // unmount: afterwards the files are gone from the kernel's view
    op("unmount", kernel.unmount_disk(&mnt))?;
    ensure!(
        kernel.newfstatat(AT_FDCWD, &cpath(&final_path), 0).err() == Some(Errno::ENOENT),
        "final still visible after unmount"
    );
    println!("umount=ok");
    kernel.shutdown()?;
    println!("halt=ok");
    Ok(())
}

/// What `roundtrip` leaves in `work`: exactly `final` (the pattern, mode 0600) and `link`
/// (a symlink to it), as listed by getdents64.
fn check_work_dir(kernel: &Kernel, work: &str) -> Result<()> {
    let final_path = format!("{work}/final");
    ensure!(
        read_file(kernel, &final_path)? == pattern(PATTERN_LEN),
        "{final_path} differs"
    );
    let st = op(
        "stat final",
        kernel.newfstatat(AT_FDCWD, &cpath(&final_path), 0),
    )?;
    ensure!(
        st.st_mode == libc::S_IFREG | 0o600,
        "final has mode {:o}",
        st.st_mode
    );
    let mut target = [0u8; 64];
    let link = cpath(&format!("{work}/link"));
    let n = op("readlink", kernel.readlinkat(AT_FDCWD, &link, &mut target))?;
    ensure!(
        &target[..n] == b"final",
        "link points at {:?}",
        &target[..n]
    );
    let names = list_dir(kernel, work)?;
    ensure!(
        names == [".", "..", "final", "link"],
        "work holds {names:?}"
    );
    Ok(())
}

fn verify(image: &Path, known: &str, content: &str) -> Result<()> {
    let (kernel, mnt) = boot_and_mount(image)?;
    let known_content = read_file(&kernel, &format!("{mnt}/{known}"))?;
    ensure!(known_content == content.as_bytes(), "{known} changed");
    check_work_dir(&kernel, &format!("{mnt}/work"))?;
    // Left mounted on purpose: the shutdown has to unmount it.
    kernel.shutdown()?;
    println!("verify=ok");
    Ok(())
}

/// Eight host threads in the kernel at once for `seconds`: two ping-pong through pipes, two
/// through a futex in this process's memory, two sleep in the kernel (nanosleep and a futex
/// wait that times out), one does file I/O, one cheap syscalls.
fn stress(image: &Path, seconds: &str) -> Result<()> {
    let seconds: f64 = seconds.parse().context("SECONDS")?;
    let (owned_kernel, mnt) = boot_and_mount(image)?;
    let kernel = &owned_kernel;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let failed = AtomicBool::new(false);
    let failed = &failed;
    // Every thread stops early once another failed, so a failure cannot become a hang.
    let running = move || Instant::now() < deadline && !failed.load(Ordering::SeqCst);

    let [ping_r, ping_w] = op("pipe2", kernel.pipe2(libc::O_CLOEXEC))?;
    let [pong_r, pong_w] = op("pipe2", kernel.pipe2(libc::O_CLOEXEC))?;
    let futex_word = AtomicU32::new(0);
    let futex_word = &futex_word;
    let never_changes = AtomicU32::new(7);
    let never_changes = &never_changes;
    let mnt = mnt.as_str();

    type Body<'a> = Box<dyn FnOnce() -> Result<String> + Send + 'a>;
    let mut bodies: Vec<(&str, Body)> = Vec::new();
    let mut spawn = |name, body| bodies.push((name, body));
    {
        // 1 and 2: a ping-pong through two pipes. The echo side blocks in read until the
        // pinger writes; every 32nd round the pinger pauses on the host first, so the echo side
        // is certainly asleep in the kernel when the write comes.
        spawn(
            "pipe-ping",
            Box::new(move || {
                let mut rounds = 0u64;
                loop {
                    let stop = !running();
                    let value = if stop { u64::MAX } else { rounds };
                    if rounds.is_multiple_of(32) {
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    write_all(kernel, ping_w, &value.to_ne_bytes())?;
                    let mut echo = [0u8; 8];
                    let n = op("read pong", kernel.read(pong_r, &mut echo))?;
                    ensure!(n == 8, "short pong read {n}");
                    ensure!(
                        u64::from_ne_bytes(echo) == value,
                        "pong {echo:?} for {value}"
                    );
                    if stop {
                        return Ok(format!("pipe_rounds={rounds}"));
                    }
                    rounds += 1;
                }
            }),
        );
        spawn(
            "pipe-echo",
            Box::new(move || {
                let mut echoed = 0u64;
                loop {
                    let mut value = [0u8; 8];
                    let n = op("read ping", kernel.read(ping_r, &mut value))?;
                    ensure!(n == 8, "short ping read {n}");
                    write_all(kernel, pong_w, &value)?;
                    if u64::from_ne_bytes(value) == u64::MAX {
                        return Ok(format!("pipe_echoed={echoed}"));
                    }
                    echoed += 1;
                }
            }),
        );

        // 3 and 4: a futex ping-pong. The word counts turns; the even side moves it from even
        // to odd, the odd side back, each waking the other with FUTEX_WAKE and otherwise
        // sleeping in FUTEX_WAIT with no timeout: a lost wake-up hangs (and the watchdog fires).
        for parity in [0u32, 1] {
            spawn(
                if parity == 0 {
                    "futex-even"
                } else {
                    "futex-odd"
                },
                Box::new(move || {
                    let mut turns = 0u64;
                    let mut waits = 0u64;
                    loop {
                        let value = futex_word.load(Ordering::SeqCst);
                        if value == FUTEX_STOP {
                            return Ok(format!(
                                "futex_turns_{parity}={turns}\nfutex_waits_{parity}={waits}"
                            ));
                        }
                        if value % 2 != parity {
                            waits += 1;
                            match kernel.futex_wait(futex_word, value, None) {
                                Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                                Err(errno) => bail!("FUTEX_WAIT: {errno}"),
                            }
                        }
                        let next = if running() { value + 1 } else { FUTEX_STOP };
                        futex_word.store(next, Ordering::SeqCst);
                        op("FUTEX_WAKE", kernel.futex_wake(futex_word, 1))?;
                        turns += 1;
                    }
                }),
            );
        }

        // 5: nanosleep in the kernel; the host clock must agree that the time passed.
        spawn(
            "nanosleep",
            Box::new(move || {
                let nap = Duration::from_millis(1);
                let sleeps =
                    timed_sleeps(&running, nap, || op("nanosleep", kernel.nanosleep(nap)))?;
                Ok(format!("nanosleeps={sleeps}"))
            }),
        );

        // 6: FUTEX_WAIT with a timeout on a word nobody wakes: a timer must end each wait.
        spawn(
            "futex-timeout",
            Box::new(move || {
                let timeout = Duration::from_millis(2);
                let timeouts = timed_sleeps(&running, timeout, || {
                    match kernel.futex_wait(never_changes, 7, Some(timeout)) {
                        Err(Errno::ETIMEDOUT) => Ok(()),
                        other => bail!("FUTEX_WAIT with a timeout returned {other:?}"),
                    }
                })?;
                Ok(format!("futex_timeouts={timeouts}"))
            }),
        );

        // 7: file I/O on the mounted image.
        spawn(
            "file-io",
            Box::new(move || {
                let mut files = 0u64;
                let data = pattern(4096 + 123);
                while running() {
                    let path = cpath(&format!("{mnt}/stress-{}", files % 8));
                    let fd = op(
                        "create",
                        kernel.openat(
                            AT_FDCWD,
                            &path,
                            libc::O_CREAT | libc::O_TRUNC | libc::O_RDWR,
                            0o644,
                        ),
                    )?;
                    write_all(kernel, fd, &data)?;
                    if files.is_multiple_of(16) {
                        op("fsync", kernel.fsync(fd))?;
                    }
                    let mut back = vec![0u8; data.len()];
                    let n = op("pread", kernel.pread(fd, &mut back, 0))?;
                    ensure!(n == data.len() && back == data, "read back differs");
                    op("close", kernel.close(fd))?;
                    if !files.is_multiple_of(2) {
                        op("unlink", kernel.unlinkat(AT_FDCWD, &path, 0))?;
                    }
                    files += 1;
                }
                Ok(format!("files={files}"))
            }),
        );

        // 8: cheap syscalls. Every host thread is a thread of the kernel's pid 1.
        spawn(
            "cheap",
            Box::new(move || {
                let mut calls = 0u64;
                let root = op("open /", kernel.openat(AT_FDCWD, c"/", libc::O_RDONLY, 0))?;
                while running() {
                    let pid = op("getpid", kernel.getpid())?;
                    ensure!(pid == 1, "getpid returned {pid}");
                    let st = op("fstat /", kernel.fstat(root))?;
                    ensure!(st.st_mode & libc::S_IFMT == libc::S_IFDIR, "/ is not a dir");
                    let names = op("uname", kernel.uname())?;
                    ensure!(names.sysname[0] == b'L' as libc::c_char, "uname sysname");
                    calls += 3;
                }
                op("close /", kernel.close(root))?;
                Ok(format!("cheap_calls={calls}"))
            }),
        );
    }
    let results: Vec<(&str, Result<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|(name, body)| {
                let handle = scope.spawn(move || {
                    let result = body();
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    result
                });
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("thread panicked")));
                (name, result)
            })
            .collect()
    });

    let mut errors = Vec::new();
    for (name, result) in results {
        match result {
            Ok(facts) => println!("{facts}"),
            Err(err) => errors.push(format!("{name}: {err:#}")),
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    let word = futex_word.load(Ordering::SeqCst);
    ensure!(
        word == FUTEX_STOP,
        "futex word ended at {word}, not the stop value"
    );
    for fd in [ping_r, ping_w, pong_r, pong_w] {
        op("close pipe", kernel.close(fd))?;
    }
    owned_kernel.shutdown()?;
    println!("halt=ok");
    Ok(())
}

/// Repeats `sleep`, a wait in the kernel of at least `duration`, while `running`; the host
/// clock must agree that each took that long. Returns how many there were.
fn timed_sleeps(
    running: &dyn Fn() -> bool,
    duration: Duration,
    sleep: impl Fn() -> Result<()>,
) -> Result<u64> {
    let mut count = 0;
    while running() {
        let start = Instant::now();
        sleep()?;
        let elapsed = start.elapsed();
        ensure!(
            elapsed >= duration,
            "a {duration:?} sleep ended after {elapsed:?}"
        );
        count += 1;
    }
    Ok(count)
}

/// The futex ping-pong's last value: whoever sees the deadline pass stores it and wakes.
const FUTEX_STOP: u32 = u32::MAX;

/// Tries to mount `image`, which should fail; the kernel must stay usable and halt cleanly.
fn mount_fail(image: &Path) -> Result<()> {
    let file = open_image(image)?;
    let mut builder = KernelBuilder::new()?;
    let disk = match builder.add_disk(&file) {
        Ok(disk) => Some(disk),
        Err(KernelError::Lkl(err)) => {
            println!("stage=disk_add");
            println!("errno={}", err.errno);
            println!("message={err}");
            None
        }
        Err(err) => return Err(err.into()),
    };
    let kernel = builder.boot(CMDLINE, MEM_MB)?;
    if let Some(disk) = disk {
        match kernel.mount_disk(disk, c"ext4", MsFlags::empty(), None) {
            Ok(mnt) => bail!("mounting the damaged image succeeded at {mnt}"),
            Err(err) => {
                println!("stage=mount_dev");
                println!("errno={}", err.errno);
                println!("message={err}");
            }
        }
    }
    // The kernel is still in working order.
    ensure!(
        op("getpid", kernel.getpid())? == 1,
        "getpid after the failure"
    );
    let st = op("stat /", kernel.newfstatat(AT_FDCWD, c"/", 0))?;
    ensure!(
        st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        "/ is not a directory"
    );
    kernel.shutdown()?;
    println!("halt=ok");
    Ok(())
}

/// One boot of a series: the log must hold one line per earlier boot; this one adds its own.
fn work(image: &Path, n: &str) -> Result<()> {
    let n: usize = n.parse().context("N")?;
    let (kernel, mnt) = boot_and_mount(image)?;
    let log = cpath(&format!("{mnt}/boots.log"));
    let fd = op(
        "open log",
        kernel.openat(
            AT_FDCWD,
            &log,
            libc::O_CREAT | libc::O_RDWR | libc::O_APPEND,
            0o644,
        ),
    )?;
    let mut content = vec![0u8; 64 * 1024];
    let len = op("pread log", kernel.pread(fd, &mut content, 0))?;
    let lines: Vec<&[u8]> = content[..len]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    ensure!(
        lines.len() == n - 1,
        "boot {n} found {} lines in the log, expected {}",
        lines.len(),
        n - 1
    );
    for (i, line) in lines.iter().enumerate() {
        ensure!(
            *line == format!("boot {}", i + 1).as_bytes(),
            "log line {} is {:?}",
            i + 1,
            String::from_utf8_lossy(line)
        );
    }
    write_all(&kernel, fd, format!("boot {n}\n").as_bytes())?;
    op("fsync log", kernel.fsync(fd))?;
    op("close log", kernel.close(fd))?;
    let dir = cpath(&format!("{mnt}/boot-{n}"));
    op("mkdir", kernel.mkdirat(AT_FDCWD, &dir, 0o755))?;
    kernel.shutdown()?;
    println!("boot={n}");
    Ok(())
}

/// Boots and halts, then tries to boot again: through the binding and through the raw API.
fn reboot() -> Result<()> {
    let kernel = Kernel::boot(CMDLINE, MEM_MB)?;
    ensure!(op("getpid", kernel.getpid())? == 1, "getpid");
    kernel.shutdown()?;
    println!("first_boot=ok");

    match KernelBuilder::new() {
        Err(err @ KernelError::AlreadyClaimed) => println!("binding_second_boot={err}"),
        Err(err) => bail!("second KernelBuilder::new failed with an unexpected error: {err}"),
        Ok(_) => bail!("second KernelBuilder::new succeeded"),
    }
    // The port itself refuses too (the binding's guard aside).
    // SAFETY: a literal "%s" format with one NUL-terminated string argument; the port checks
    // its state before touching anything.
    let ret = unsafe { kbox::lkl::ffi::lkl_start_kernel(c"%s".as_ptr(), c"mem=64M".as_ptr()) };
    println!("port_second_start={}", Errno::from_raw(-ret));
    ensure!(
        ret == -(Errno::EALREADY as i32),
        "lkl_start_kernel after halt returned {ret}"
    );
    let mut params = [0i64; 6];
    // SAFETY: params points at the 6 longs lkl_syscall reads; getpid takes no pointers.
    let ret = unsafe { kbox::lkl::ffi::lkl_syscall(kbox::lkl::sysnr::GETPID, params.as_mut_ptr()) };
    println!("port_syscall_after_halt={}", Errno::from_raw(-ret as i32));
    ensure!(ret < 0, "lkl_syscall after halt returned {ret}");
    Ok(())
}

fn cat(image: &Path, path: &str) -> Result<()> {
    let (kernel, mnt) = boot_and_mount(image)?;
    let content = read_file(&kernel, &format!("{mnt}/{}", path.trim_start_matches('/')))?;
    kernel.shutdown()?;
    use std::io::Write;
    std::io::stdout().write_all(&content)?;
    Ok(())
}
