//! Keeping a container's syscall hand-offs on one CPU.
//!
//! Every syscall the container's kernel serves is a chain of wake-ups between host threads:
//! the guest stops, the tracer wakes, the kernel's threads run, the tracer resumes the guest.
//! When the threads of that chain sit on different CPUs, each wake-up is an inter-processor
//! interrupt, and on a virtual machine that costs several times the work itself (measured
//! here: a served `stat` takes about 80 us across two vCPUs and 17 us on one). So the
//! supervisor runs on one CPU, and a guest is held on that CPU while it makes served
//! syscalls; a guest that has made none for a while is given back every allowed CPU, so that
//! compute-bound processes still spread over the machine.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Where supervisors claim their CPUs: one place for the whole host, whatever `--root` each
/// container has, since they all share the host's CPUs.
pub const CLAIMS_DIR: &str = "/run/kbox-cpus";

/// How long a guest may go without a served syscall before it is given back every CPU.
const RELEASE_AFTER: Duration = Duration::from_millis(50);

/// The CPU the supervisor and its busy guests share, and the CPUs the caller allowed.
pub struct Affinity {
    home: CpuSet,
    allowed: CpuSet,
    /// Held for the supervisor's lifetime: this CPU is taken (see `settle`).
    _claim: Option<std::fs::File>,
}

/// The supervisor process's arrangement, settled once, before it starts any thread.
static SETTLED: OnceLock<Option<Affinity>> = OnceLock::new();

/// Settles the calling process on one CPU (see [`Affinity::settle_here`]); call it before
/// starting threads, which inherit it. Later calls change nothing. `claims` is a directory
/// shared by the supervisors of one host ([`CLAIMS_DIR`]), where each claims its CPU with
/// a lock file, so that containers started one after another spread over the CPUs.
pub fn settle(claims: &std::path::Path) {
    SETTLED.get_or_init(|| Affinity::settle_here(claims));
}

/// The arrangement [`settle`] made, if any.
pub fn settled() -> Option<&'static Affinity> {
    SETTLED.get().and_then(Option::as_ref)
}

impl Affinity {
    /// Moves the calling process (its threads started from now on follow) to one CPU of the
    /// ones it may use: the first, from the one it runs on, that no other supervisor has
    /// claimed (else the one it runs on). None when that fails or there is only one CPU.
    fn settle_here(claims: &std::path::Path) -> Option<Affinity> {
        let allowed = sched_getaffinity(Pid::from_raw(0)).ok()?;
        let usable: Vec<usize> = (0..CpuSet::count())
            .filter(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .collect();
        if usable.len() < 2 {
            return None;
        }
        // SAFETY: sched_getcpu has no arguments and no preconditions.
        let current = unsafe { libc::sched_getcpu() };
        let start = usize::try_from(current)
            .ok()
            .and_then(|cpu| usable.iter().position(|&u| u == cpu))
            .unwrap_or(0);
        let mut order = usable[start..].iter().chain(&usable[..start]);
        let claimed = order.find_map(|&cpu| claim(claims, cpu).map(|file| (cpu, file)));
        let (cpu, claim) = match claimed {
            Some((cpu, file)) => (cpu, Some(file)),
            None => (usable[start], None),
        };
        let mut home = CpuSet::new();
        home.set(cpu).ok()?;
        if let Err(e) = sched_setaffinity(Pid::from_raw(0), &home) {
            log::debug!("cannot keep the supervisor on CPU {cpu}: {e}");
            return None;
        }
        log::debug!("supervisor on CPU {cpu}");
        Some(Affinity {
            home,
            allowed,
            _claim: claim,
        })
    }

    /// Holds guest thread `tid` on the supervisor's CPU.
    fn hold(&self, tid: i32) {
        let _ = sched_setaffinity(Pid::from_raw(tid), &self.home);
    }

    /// Lets guest thread `tid` run on every CPU the caller allowed.
    fn release(&self, tid: i32) {
        let _ = sched_setaffinity(Pid::from_raw(tid), &self.allowed);
    }
}

/// Claims `cpu` for this supervisor: an exclusive lock on `cpu-N.lock` in `dir`, which the
/// kernel drops when the supervisor exits. None if another supervisor holds it.
fn claim(dir: &std::path::Path, cpu: usize) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let _ = std::fs::create_dir_all(dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("cpu-{cpu}.lock")))
        .ok()?;
    // SAFETY: flock on an fd this function owns.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(file)
}

/// Where one guest thread stands.
pub struct Placement {
    held: bool,
    last_served: Instant,
}

impl Placement {
    /// A new guest starts held: most begin with an exec and the loading that follows,
    /// all served syscalls; it is released if it turns out to make none.
    pub fn new(tid: i32) -> Self {
        if let Some(affinity) = settled() {
            affinity.hold(tid);
        }
        Placement {
            held: true,
            last_served: Instant::now(),
        }
    }

    /// A served syscall of `tid` is done: keep it near the supervisor.
    pub fn served(&mut self, affinity: &Affinity, tid: i32) {
        if !self.held {
            affinity.hold(tid);
            self.held = true;
        }
        self.last_served = Instant::now();
    }

    /// Whether the guest is held on the supervisor's CPU.
    pub fn held(&self) -> bool {
        self.held
    }

    /// Gives `tid` every allowed CPU if it has made no served syscall for a while.
    pub fn maybe_release(&mut self, affinity: &Affinity, tid: i32, now: Instant) {
        if self.held && now.duration_since(self.last_served) > RELEASE_AFTER {
            affinity.release(tid);
            self.held = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::claim;

    #[test]
    fn a_cpu_is_claimed_by_one_supervisor_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path(), 0).expect("a free CPU can be claimed");
        // flock locks belong to the open file description: a second open is another
        // supervisor as far as the lock is concerned.
        assert!(claim(dir.path(), 0).is_none(), "CPU 0 claimed twice");
        assert!(claim(dir.path(), 1).is_some(), "CPU 1 is free");
        drop(first);
        assert!(
            claim(dir.path(), 0).is_some(),
            "CPU 0 not freed with its claim"
        );
    }
}
