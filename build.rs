//! Links kbox against LKL, the Linux kernel built as the static library `liblkl.a`.
//!
//! The library comes from `KBOX_LIBLKL` when set (a path to `liblkl.a`), otherwise from
//! `hack/build-lkl.sh`, whose last stdout line is the absolute path of the archive it built.

use std::env;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LIBLKL_ENV: &str = "KBOX_LIBLKL";
const BUILD_SCRIPT: &str = "hack/build-lkl.sh";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=lkl");
    println!("cargo:rerun-if-changed={BUILD_SCRIPT}");
    println!("cargo:rerun-if-env-changed={LIBLKL_ENV}");

    let archive = match env::var_os(LIBLKL_ENV) {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                // `cargo check` and `cargo clippy` never link, so a missing archive is only
                // a problem for builds that produce a binary; say so without failing here.
                println!(
                    "cargo:warning={LIBLKL_ENV}={} does not exist; linking kbox will fail",
                    path.display()
                );
            }
            path
        }
        None => run_build_script(),
    };
    // Relink when the kernel library is rebuilt even if no Rust source changed.
    println!("cargo:rerun-if-changed={}", archive.display());

    let dir = archive
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let file_name = archive.file_name().and_then(|name| name.to_str());
    if file_name != Some("liblkl.a") {
        panic!(
            "{LIBLKL_ENV} must name a file called liblkl.a, got {}",
            archive.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    // Tests that check the archive itself (its symbols, a C client linked against it) find it
    // through env!("KBOX_LIBLKL_PATH").
    let absolute = archive.canonicalize().unwrap_or_else(|_| archive.clone());
    println!("cargo:rustc-env=KBOX_LIBLKL_PATH={}", absolute.display());
    // `-bundle` keeps the archive out of the rlib: it is linked only into final binaries,
    // so the library crate itself builds without copying a kernel into it.
    println!("cargo:rustc-link-lib=static:-bundle=lkl");
    // LKL's POSIX host layer uses threads, semaphores and timers from these.
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:rustc-link-lib=rt");
}

/// Runs `hack/build-lkl.sh`, relaying its progress, and returns the archive path it printed last.
fn run_build_script() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = manifest_dir.join(BUILD_SCRIPT);
    if !script.is_file() {
        panic!(
            "{} not found: set {LIBLKL_ENV}=/path/to/liblkl.a to use a prebuilt LKL",
            script.display()
        );
    }
    let mut child = Command::new("bash")
        .arg(&script)
        .current_dir(&manifest_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run bash {}: {err}", script.display()));

    // Relay stderr line by line as it arrives (cargo shows it on failure, or live with -vv)
    // and remember the last non-empty line to quote in the panic message.
    let stderr = child.stderr.take().expect("stderr is piped");
    let relay = std::thread::spawn(move || {
        let mut last_line = String::new();
        let mut our_stderr = std::io::stderr();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(our_stderr, "{line}");
            if !line.trim().is_empty() {
                last_line = line;
            }
        }
        last_line
    });
    let mut last_stdout_line = String::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if !line.trim().is_empty() {
            last_stdout_line = line;
        }
    }
    let status = child
        .wait()
        .unwrap_or_else(|err| panic!("cannot wait for {BUILD_SCRIPT}: {err}"));
    let last_stderr_line = relay.join().unwrap_or_default();
    if !status.success() {
        panic!("{BUILD_SCRIPT} failed ({status}): {last_stderr_line}");
    }
    let archive = PathBuf::from(last_stdout_line.trim());
    if !archive.is_absolute() || !archive.is_file() {
        panic!(
            "{BUILD_SCRIPT} succeeded but its last stdout line {:?} is not the absolute path of an existing liblkl.a",
            last_stdout_line.trim()
        );
    }
    archive
}
