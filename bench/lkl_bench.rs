//! `kbox-lkl-bench`: measurements of the in-process kernel for `bench/lkl.sh`.
//!
//!   kbox-lkl-bench boot IMAGE           one boot + mount + unmount/halt, timed (one per process:
//!                                       LKL boots once per process)
//!   kbox-lkl-bench syscalls IMAGE ITERS getpid and fstat through lkl_syscall from 1 and 4
//!                                       host threads, and the host's own getpid for scale
//!
//! Prints `key=value` lines: times in nanoseconds, memory in KiB (peak RSS of this process).

use std::ffi::CString;
use std::fs::OpenOptions;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kbox::lkl::{Kernel, KernelBuilder, MsFlags, AT_FDCWD};

const CMDLINE: &str = "loglevel=4";
const MEM_MB: u32 = 64;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["boot", image] => boot(Path::new(image)),
        ["syscalls", image, iters] => syscalls(Path::new(image), iters.parse().context("ITERS")?),
        _ => bail!("usage: kbox-lkl-bench boot IMAGE | syscalls IMAGE ITERS"),
    }
}

fn boot_and_mount(image: &Path) -> Result<(Kernel, String)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(image)
        .with_context(|| format!("open {}", image.display()))?;
    let mut builder = KernelBuilder::new()?;
    let disk = builder.add_disk(&file)?;
    let kernel = builder.boot(CMDLINE, MEM_MB)?;
    let mnt = kernel.mount_disk(disk, c"ext4", MsFlags::empty(), None)?;
    Ok((kernel, mnt))
}

fn boot(image: &Path) -> Result<()> {
    let start = Instant::now();
    let (kernel, _mnt) = boot_and_mount(image)?;
    let booted = start.elapsed();
    kernel.shutdown()?;
    let total = start.elapsed();
    println!("boot_mount_ns={}", booted.as_nanos());
    println!("boot_mount_halt_ns={}", total.as_nanos());
    println!("maxrss_kb={}", max_rss_kb());
    Ok(())
}

/// Runs `call` `iters` times on each of `threads` host threads at once; returns the wall time
/// per call of one thread (latency) and per call overall (wall time / all calls).
fn measure(
    threads: usize,
    iters: u64,
    call: &(dyn Fn() -> Result<()> + Sync),
) -> Result<(f64, f64)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    // Warm up: the first call of a host thread creates its kernel task.
                    for _ in 0..iters.min(1000) {
                        call()?;
                    }
                    let start = Instant::now();
                    for _ in 0..iters {
                        call()?;
                    }
                    Ok::<_, anyhow::Error>(start.elapsed())
                })
            })
            .collect();
        let mut worst = std::time::Duration::ZERO;
        for handle in handles {
            let elapsed = handle.join().expect("bench thread panicked")?;
            worst = worst.max(elapsed);
        }
        let per_thread = worst.as_nanos() as f64 / iters as f64;
        Ok((per_thread, per_thread / threads as f64))
    })
}

fn syscalls(image: &Path, iters: u64) -> Result<()> {
    let (kernel, mnt) = boot_and_mount(image)?;
    let path = CString::new(format!("{mnt}/bench-file"))?;
    let fd = kernel.openat(AT_FDCWD, &path, libc::O_CREAT | libc::O_RDWR, 0o644)?;
    kernel.write(fd, b"some bytes")?;

    let getpid = || -> Result<()> {
        kernel.getpid()?;
        Ok(())
    };
    let fstat = || -> Result<()> {
        kernel.fstat(fd)?;
        Ok(())
    };
    let host_getpid = || -> Result<()> {
        // SAFETY: getpid takes no arguments and cannot fail; syscall(2) bypasses glibc's cache.
        unsafe { libc::syscall(libc::SYS_getpid) };
        Ok(())
    };
    for (name, call) in [
        ("getpid", &getpid as &(dyn Fn() -> Result<()> + Sync)),
        ("fstat", &fstat),
        ("host_getpid", &host_getpid),
    ] {
        for threads in [1, 4] {
            let (latency, per_call) = measure(threads, iters, call)?;
            println!("{name}_t{threads}_latency_ns={latency:.0}");
            println!("{name}_t{threads}_per_call_ns={per_call:.0}");
        }
    }
    kernel.close(fd)?;
    kernel.shutdown()?;
    println!("maxrss_kb={}", max_rss_kb());
    Ok(())
}

fn max_rss_kb() -> i64 {
    // SAFETY: getrusage writes one struct rusage, which all-zero initialises validly.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable struct rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}
