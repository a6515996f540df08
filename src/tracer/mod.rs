//! The ptrace transport: runs the container's processes as traced host processes and feeds
//! every syscall the seccomp filter stops for to the dispatcher.
//!
//! One tracer thread owns all ptrace requests (the kernel requires it). Each guest thread's
//! syscalls are served on its own kernel task, in kernel context on that task's host thread
//! ([`Task::call_async`]), so a guest blocked in the container's kernel (reading an empty
//! pipe, waiting on a child) never holds up the others, and the kernel calls a syscall's
//! service makes cost no hand-off between host threads. The served results are posted back,
//! and the tracer applies them and resumes the guest. The tracer waits on a signalfd for
//! SIGCHLD (ptrace stops) and an eventfd (results) at once.

pub mod affinity;
pub mod control;
pub mod filter;
pub mod memory;

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, RwLock};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::lkl::task::SHARE_FLAGS;
use crate::lkl::Task;
use crate::syscalls::emulate::ExecLoader;
use crate::syscalls::{dispatch, Action, Call, Context, ExitHook, Served};
use memory::GuestMemory;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("starting the container process: {0}")]
    Spawn(Errno),
    #[error("tracing the container process: {0}")]
    Ptrace(Errno),
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    #[error("setting process.oomScoreAdj {0}: {1}")]
    OomScoreAdj(i32, std::io::Error),
}

/// What the container's first process ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(sig) => 128 + sig,
        }
    }
}

/// The program the first process runs: already resolved in the container's filesystem.
pub struct Program {
    pub path: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// `process.rlimits` as (resource, soft, hard), set in the process before it execs.
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Leads a session of its own in the container's kernel, with its stdin (a terminal
    /// of that kernel) as its controlling terminal.
    pub terminal_session: bool,
    /// `process.noNewPrivileges`: set on the host process (and on its kernel task).
    pub no_new_privileges: bool,
    /// `process.oomScoreAdj`, for the host process (the host's OOM killer is the one that
    /// acts on it).
    pub oom_score_adj: Option<i32>,
}

/// `process.oomScoreAdj` as the container kernel shows it, through the container's /proc
/// (the task is in the container's pid namespace by now); a container without /proc has
/// nowhere to show it.
fn set_oom_score_adj(task: &Task, adj: i32) -> Result<(), Errno> {
    use crate::lkl::sysnr as k;
    let path = c"/proc/self/oom_score_adj";
    let flags = i64::from(libc::O_WRONLY | libc::O_CLOEXEC);
    // SAFETY: path is a live NUL-terminated string.
    let fd = match unsafe {
        task.syscall(
            k::OPENAT,
            [libc::AT_FDCWD as i64, path.as_ptr() as i64, flags, 0, 0, 0],
        )
    }
    .ret
    {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    let value = adj.to_string();
    // SAFETY: value is a live buffer of the length passed.
    let written = unsafe {
        task.syscall(
            k::WRITE,
            [fd, value.as_ptr() as i64, value.len() as i64, 0, 0, 0],
        )
    };
    // SAFETY: plain close of the fd just opened.
    let _ = unsafe { task.syscall(k::CLOSE, [fd, 0, 0, 0, 0, 0]) };
    written.ret.map(drop)
}

/// The task a process gets once its host pid is known: a fork of `prepared` (which holds
/// its root, cwd, credentials and fds) with that pid, so that the container's /proc agrees
/// with getpid; then its session, if it leads one on its terminal.
fn task_for_pid(prepared: Task, pid: i32, program: &Program) -> Result<Task, Errno> {
    let task = prepared.spawn(0, pid)?;
    drop(prepared);
    if let Some(adj) = program.oom_score_adj {
        set_oom_score_adj(&task, adj)?;
    }
    if program.terminal_session {
        // SAFETY: plain integer arguments.
        unsafe { task.syscall(crate::lkl::sysnr::SETSID, [0; 6]) }.ret?;
        // SAFETY: TIOCSCTTY takes an integer argument.
        unsafe {
            task.syscall(
                crate::lkl::sysnr::IOCTL,
                [0, libc::TIOCSCTTY as i64, 0, 0, 0, 0],
            )
        }
        .ret?;
    }
    Ok(task)
}

/// What `exec` needs from the supervisor: a kernel task set up for `process` (root, cwd,
/// user, stdio from the fds), the resolved program, and something to call once the process
/// has exited that returns when its output has drained.
pub type ExecSetup = Box<
    dyn Fn(
        &oci_spec::runtime::Process,
        Vec<std::os::fd::OwnedFd>,
        Option<&std::path::Path>,
    ) -> Result<(Task, Program, Drain), String>,
>;
pub type Drain = Box<dyn FnOnce() + Send>;

/// The control socket and what serves exec requests.
pub struct Control {
    pub listener: std::os::unix::net::UnixListener,
    pub exec: ExecSetup,
}

struct Done {
    tid: i32,
    served: Served,
    /// The task the call was served on, handed back so that it is never released on its
    /// own host thread (that would wait for itself) if the guest is gone by now.
    _task: Arc<Task>,
}

struct Guest {
    task: Arc<Task>,
    /// Work to finish at the exit of a syscall the host runs on the guest's behalf.
    on_exit: Option<ExitHook>,
    /// Stopped before its parent's fork event named it: resume once it is set up.
    waiting: bool,
    /// A thread of another guest (not listed by `ps`).
    thread: bool,
    /// Which CPUs it may use (see [`affinity`]).
    placement: affinity::Placement,
}

/// Shared with the calls served on kernel tasks: results, and the container's host pids.
struct Shared {
    done: Mutex<Vec<Done>>,
    wake: EventFd,
    guests: RwLock<HashSet<i32>>,
    loader: ExecLoader,
    /// The terminals' foreground process groups (host pgids).
    foreground: crate::syscalls::Foreground,
}

/// Serves `call` of guest `tid` on its kernel task, and posts the result for the tracer.
fn serve_on_task(
    task: &Arc<Task>,
    shared: &Arc<Shared>,
    tid: i32,
    call: Call,
) -> Result<(), Errno> {
    let (task_ref, shared) = (task.clone(), shared.clone());
    task.call_async(Box::new(move || {
        let is_guest = |pid: i32| {
            shared
                .guests
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&pid)
        };
        let ctx = Context {
            mem: GuestMemory::new(tid),
            task: &task_ref,
            exec: &shared.loader,
            is_guest: &is_guest,
            foreground: &shared.foreground,
        };
        let served = dispatch(&ctx, &call);
        Box::new(move || {
            shared
                .done
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Done {
                    tid,
                    served,
                    _task: task_ref,
                });
            let _ = shared.wake.write(1);
        })
    }))
}

/// Runs `program` as the container's first process, on kernel task `task`, and traces it
/// and every process it starts until the first process exits; then ends the others.
/// With `timeout`, the first process is killed (SIGKILL) once it has run that long.
pub fn run(
    task: Task,
    program: &Program,
    control: Option<Control>,
    timeout: Option<std::time::Duration>,
) -> Result<ExitStatus, TraceError> {
    let programs = filter::build()?;
    // SIGCHLD and the signals to forward are read from a signalfd; they must be blocked in
    // every thread (see block_signals, called before the supervisor starts any thread).
    let mask = supervisor_signals();
    mask.thread_block().map_err(TraceError::Ptrace)?;
    let sigchld = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(TraceError::Ptrace)?;
    let shared = Arc::new(Shared {
        done: Mutex::new(Vec::new()),
        wake: EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)
            .map_err(TraceError::Ptrace)?,
        guests: RwLock::new(HashSet::new()),
        loader: ExecLoader::new(),
        foreground: Default::default(),
    });

    if let Some(control) = &control {
        control.listener.set_nonblocking(true).map_err(|e| {
            TraceError::Ptrace(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        })?;
    }
    let root = spawn_traced(program, &programs)?;
    let task = match task_for_pid(task, root, program) {
        Ok(task) => task,
        Err(e) => {
            // SAFETY: kill(2) on the child we just forked; no memory involved.
            unsafe { libc::kill(root, libc::SIGKILL) };
            let _ = waitpid(Pid::from_raw(root), Some(WaitPidFlag::__WALL));
            return Err(TraceError::Spawn(e));
        }
    };
    let mut tracer = Tracer {
        guests: HashMap::new(),
        early: HashSet::new(),
        shared: shared.clone(),
        root,
        root_status: None,
        programs,
        control,
        paused: false,
        frozen: HashSet::new(),
        exec_waiters: HashMap::new(),
        deadline: timeout.map(|t| std::time::Instant::now() + t),
        in_flight: HashMap::new(),
        placements_checked: std::time::Instant::now(),
    };
    tracer.add_guest(root, Arc::new(task), false);
    tracer.run_loop(&sigchld)
}

/// Signals the supervisor handles itself: SIGCHLD (ptrace stops) and every catchable
/// asynchronous signal, which it forwards to the container's first process.
fn supervisor_signals() -> SigSet {
    let mut mask = SigSet::all();
    for sig in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGTRAP,
        Signal::SIGSYS,
        Signal::SIGABRT,
    ] {
        mask.remove(sig);
    }
    mask
}

/// Blocks the signals the tracer will read from its signalfd. Must run before the process
/// starts any thread, so that none of them takes such a signal with its default action.
pub fn block_signals() -> Result<(), Errno> {
    supervisor_signals().thread_block()
}

/// Forks a container process: it waits until the tracer has seized it, then installs the
/// filter and execs. PTRACE_SEIZE (not TRACEME) so that group-stops are told apart from
/// signal deliveries (PTRACE_EVENT_STOP) and can be left in place with PTRACE_LISTEN: job
/// control works as without a tracer. Children the guests fork are seized the same way.
fn spawn_traced(
    program: &Program,
    programs: &[seccompiler::BpfProgram],
) -> Result<i32, TraceError> {
    let mut argv: Vec<*const libc::c_char> = program.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = program.env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let (seized_read, seized_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(TraceError::Spawn)?;
    let (wait_fd, tell_fd) = (seized_read.as_raw_fd(), seized_write.as_raw_fd());
    // SAFETY: the child only makes raw syscalls (no allocation, no locks) before execve.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(TraceError::Spawn(Errno::last()));
    }
    if pid == 0 {
        // SAFETY: child side of fork: async-signal-safe syscalls only, then execve or _exit.
        unsafe {
            libc::close(tell_fd);
            // Nothing runs until the tracer holds this process: it reads one byte, or end
            // of file if the tracer failed (and exits then).
            let mut byte = 0u8;
            loop {
                let n = libc::read(wait_fd, (&mut byte as *mut u8).cast(), 1);
                if n == 1 {
                    break;
                }
                if n == 0 || *libc::__errno_location() != libc::EINTR {
                    libc::_exit(125);
                }
            }
            libc::close(wait_fd);
            // A process group and session of its own: the container's signals to groups
            // never reach the supervisor.
            libc::setsid();
            // Dispositions the supervisor set (Rust ignores SIGPIPE) must not leak into
            // the container: exec keeps ignored signals ignored.
            for sig in 1..libc::SIGRTMIN() {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let mut unblock: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut unblock);
            libc::sigprocmask(libc::SIG_SETMASK, &unblock, std::ptr::null_mut());
            for (resource, soft, hard) in &program.rlimits {
                let limit = libc::rlimit {
                    rlim_cur: *soft,
                    rlim_max: *hard,
                };
                if libc::setrlimit(*resource, &limit) != 0 {
                    libc::_exit(125);
                }
            }
            if filter::install(programs, program.no_new_privileges).is_err() {
                libc::_exit(126);
            }
            libc::execve(program.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    drop(seized_read);
    let child = Pid::from_raw(pid);
    let seized = ptrace::seize(
        child,
        Options::PTRACE_O_EXITKILL
            | Options::PTRACE_O_TRACESYSGOOD
            | Options::PTRACE_O_TRACESECCOMP
            | Options::PTRACE_O_TRACEFORK
            | Options::PTRACE_O_TRACEVFORK
            | Options::PTRACE_O_TRACECLONE
            | Options::PTRACE_O_TRACEEXEC,
    );
    if let Err(e) = seized {
        // The child sees end of file and exits; reap it.
        drop(seized_write);
        let _ = waitpid(child, Some(WaitPidFlag::__WALL));
        return Err(TraceError::Ptrace(e));
    }
    if let Some(adj) = program.oom_score_adj {
        // While the child waits, so that a failure is reported, not a silent exit.
        if let Err(e) = std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string()) {
            drop(seized_write);
            let _ = waitpid(child, Some(WaitPidFlag::__WALL));
            return Err(TraceError::OomScoreAdj(adj, e));
        }
    }
    nix::unistd::write(&seized_write, &[1]).map_err(TraceError::Spawn)?;
    Ok(pid)
}

struct Tracer {
    guests: HashMap<i32, Guest>,
    /// New tracees seen stopped before their parent's fork event.
    early: HashSet<i32>,
    shared: Arc<Shared>,
    root: i32,
    root_status: Option<ExitStatus>,
    programs: Vec<seccompiler::BpfProgram>,
    control: Option<Control>,
    /// `pause`: guests are stopped with SIGSTOP and held at that stop until `resume`.
    paused: bool,
    frozen: HashSet<i32>,
    /// exec'd processes whose caller waits for their exit, and how to drain their output.
    exec_waiters: HashMap<i32, (std::os::unix::net::UnixStream, Option<Drain>)>,
    /// When the first process is killed, if it has not exited by then.
    deadline: Option<std::time::Instant>,
    /// Guests whose call a kernel task is serving: since when, whether it was interrupted.
    in_flight: HashMap<i32, (std::time::Instant, bool)>,
    /// When guests idle in served syscalls were last given back every CPU.
    placements_checked: std::time::Instant,
}

impl Tracer {
    fn add_guest(&mut self, tid: i32, task: Arc<Task>, thread: bool) {
        task.forward_signals_to(tid);
        self.shared
            .guests
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tid);
        self.guests.insert(
            tid,
            Guest {
                task,
                on_exit: None,
                waiting: false,
                thread,
                placement: affinity::Placement::new(tid),
            },
        );
    }

    fn remove_guest(&mut self, tid: i32) {
        self.shared
            .guests
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tid);
        let guest = self.guests.remove(&tid);
        if self.in_flight.remove(&tid).is_some() {
            // A call still blocked in the kernel for a dead guest: end it, so that its task
            // (which the call holds) is released.
            if let Some(guest) = &guest {
                guest.task.interrupt();
            }
        }
    }

    fn run_loop(&mut self, sigchld: &SignalFd) -> Result<ExitStatus, TraceError> {
        loop {
            self.apply_results();
            while let Some(status) = self.reap()? {
                self.handle(status);
            }
            if let Some(status) = self.root_status {
                if self.guests.is_empty() {
                    return Ok(status);
                }
            }
            if self.root_status.is_none()
                && self.deadline.is_some_and(|d| std::time::Instant::now() > d)
            {
                self.deadline = None;
                // SAFETY: kill(2) on the first process; no memory involved.
                unsafe { libc::kill(self.root, libc::SIGKILL) };
            }
            let control_ready = {
                let mut fds = vec![
                    PollFd::new(sigchld.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.shared.wake.as_fd(), PollFlags::POLLIN),
                ];
                if let Some(control) = &self.control {
                    fds.push(PollFd::new(control.listener.as_fd(), PollFlags::POLLIN));
                }
                // While calls are in flight, wake often enough to see signals for them.
                // Also while guests are held on the supervisor's CPU, to release them soon.
                let timeout: u16 = if !self.in_flight.is_empty() {
                    20
                } else if affinity::settled().is_some()
                    && self.guests.values().any(|g| g.placement.held())
                {
                    25
                } else {
                    200
                };
                match poll(&mut fds, PollTimeout::from(timeout)) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(TraceError::Ptrace(e)),
                }
                fds.get(2)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| r.contains(PollFlags::POLLIN))
            };
            if control_ready {
                self.serve_control();
            }
            while let Ok(Some(info)) = sigchld.read_signal() {
                let signo = info.ssi_signo as i32;
                if signo != libc::SIGCHLD && self.root_status.is_none() {
                    // SAFETY: kill(2) on the container's first process; no memory involved.
                    unsafe { libc::kill(self.root, signo) };
                }
            }
            let _ = self.shared.wake.read();
            self.interrupt_signalled();
            self.release_idle_guests();
        }
    }

    /// Gives guests that have made no served syscall for a while every CPU back.
    fn release_idle_guests(&mut self) {
        const EVERY: std::time::Duration = std::time::Duration::from_millis(25);
        let Some(affinity) = affinity::settled() else {
            return;
        };
        let now = std::time::Instant::now();
        if now.duration_since(self.placements_checked) < EVERY {
            return;
        }
        self.placements_checked = now;
        for (tid, guest) in self.guests.iter_mut() {
            if !self.in_flight.contains_key(tid) {
                guest.placement.maybe_release(affinity, *tid, now);
            }
        }
    }

    /// A guest blocked in the container's kernel (reading an empty pipe, waiting on its
    /// terminal) is stopped on the host, so a signal sent to it stays pending there until
    /// the call ends. For each guest with a call in flight for a while and a signal it
    /// would act on, cut the kernel's call short: the signal is delivered and the call
    /// restarts or fails with EINTR, as the host decides (see `Action::Interrupted`).
    fn interrupt_signalled(&mut self) {
        const AFTER: std::time::Duration = std::time::Duration::from_millis(10);
        for (tid, (since, interrupted)) in self.in_flight.iter_mut() {
            if *interrupted || since.elapsed() < AFTER || !signal_waiting(*tid) {
                continue;
            }
            if let Some(guest) = self.guests.get(tid) {
                log::debug!("{tid}: signal pending during a kernel call: interrupting it");
                guest.task.interrupt();
                *interrupted = true;
            }
        }
    }

    fn reap(&mut self) -> Result<Option<WaitStatus>, TraceError> {
        match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::StillAlive) => Ok(None),
            Ok(status) => Ok(Some(status)),
            Err(Errno::ECHILD) => Ok(None),
            Err(Errno::EINTR) => Ok(None),
            Err(e) => Err(TraceError::Ptrace(e)),
        }
    }

    fn resume(&self, tid: i32, sig: Option<Signal>) {
        // ESRCH: the guest died meanwhile (SIGKILL); its exit is reported next.
        let _ = ptrace::cont(Pid::from_raw(tid), sig);
    }

    fn handle(&mut self, status: WaitStatus) {
        match status {
            WaitStatus::Exited(pid, code) => self.exited(pid.as_raw(), ExitStatus::Exited(code)),
            WaitStatus::Signaled(pid, sig, _) => {
                self.exited(pid.as_raw(), ExitStatus::Signaled(sig as i32))
            }
            WaitStatus::PtraceEvent(pid, sig, libc::PTRACE_EVENT_STOP) => {
                self.event_stop(pid.as_raw(), sig)
            }
            WaitStatus::PtraceEvent(pid, _, event) => self.event(pid.as_raw(), event),
            WaitStatus::PtraceSyscall(pid) => self.syscall_exit(pid.as_raw()),
            // A signal is about to be delivered: deliver it, except pause's SIGSTOP, which
            // holds the guest here until `resume`.
            WaitStatus::Stopped(pid, sig) => {
                let tid = pid.as_raw();
                if sig == Signal::SIGSTOP && self.paused {
                    self.frozen.insert(tid);
                } else {
                    self.resume(tid, Some(sig));
                }
            }
            _ => {}
        }
    }

    /// A seized guest stopped with PTRACE_EVENT_STOP: a new child's first stop, a group-stop
    /// (job control), or the end of one (SIGCONT).
    fn event_stop(&mut self, tid: i32, sig: Signal) {
        let stopping = matches!(
            sig,
            Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
        );
        match self.guests.get_mut(&tid) {
            // A new child, before its parent's fork event: wait for that.
            None => {
                self.early.insert(tid);
            }
            Some(g) if g.waiting && !stopping => {
                g.waiting = false;
                self.resume(tid, None);
            }
            // Group-stop: stay stopped, as without a tracer (the parent sees it with
            // WUNTRACED), until SIGCONT, which reports another PTRACE_EVENT_STOP.
            Some(_) if stopping => {
                // SAFETY: PTRACE_LISTEN on a tracee in group-stop; no memory involved.
                unsafe { libc::ptrace(libc::PTRACE_LISTEN, tid, 0, 0) };
            }
            Some(_) => self.resume(tid, None),
        }
    }

    fn serve_control(&mut self) {
        loop {
            let Some(control) = &self.control else { return };
            let stream = match control.listener.accept() {
                Ok((stream, _)) => stream,
                Err(_) => return,
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            match control::receive(&stream) {
                Ok((request, fds)) => self.handle_request(stream, request, fds),
                Err(e) => {
                    control::reply(&stream, &control::Reply::Error(format!("bad request: {e}")))
                }
            }
        }
    }

    fn handle_request(
        &mut self,
        stream: std::os::unix::net::UnixStream,
        request: control::Request,
        fds: Vec<std::os::fd::OwnedFd>,
    ) {
        use control::{Reply, Request};
        match request {
            Request::Ps => {
                let mut pids: Vec<i32> = self
                    .guests
                    .iter()
                    .filter(|(_, g)| !g.thread)
                    .map(|(tid, _)| *tid)
                    .collect();
                pids.sort_unstable();
                control::reply(&stream, &Reply::Pids(pids));
            }
            Request::SignalAll { signal } => {
                for tid in self.guests.keys() {
                    // SAFETY: kill(2) on a guest; no memory involved.
                    unsafe { libc::kill(*tid, signal) };
                }
                control::reply(&stream, &Reply::Done);
            }
            Request::Pause => {
                self.paused = true;
                for tid in self.guests.keys() {
                    // SAFETY: as above.
                    unsafe { libc::syscall(libc::SYS_tkill, *tid, libc::SIGSTOP) };
                }
                control::reply(&stream, &Reply::Done);
            }
            Request::Resume => {
                self.paused = false;
                for tid in std::mem::take(&mut self.frozen) {
                    self.resume(tid, None);
                }
                control::reply(&stream, &Reply::Done);
            }
            Request::Exec {
                process,
                detach,
                console_socket,
            } => {
                let Some(control) = &self.control else { return };
                let (task, program, drain) =
                    match (control.exec)(&process, fds, console_socket.as_deref()) {
                        Ok(set_up) => set_up,
                        Err(e) => return control::reply(&stream, &Reply::Error(e)),
                    };
                let pid = match spawn_traced(&program, &self.programs) {
                    Ok(pid) => pid,
                    Err(e) => return control::reply(&stream, &Reply::Error(e.to_string())),
                };
                let task = match task_for_pid(task, pid, &program) {
                    Ok(task) => task,
                    Err(e) => {
                        // SAFETY: kill(2) on the child we just forked; reaped as a stray.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return control::reply(
                            &stream,
                            &Reply::Error(format!("preparing the process's task: {e}")),
                        );
                    }
                };
                self.add_guest(pid, Arc::new(task), false);
                control::reply(&stream, &Reply::Started { pid });
                if !detach {
                    self.exec_waiters.insert(pid, (stream, Some(drain)));
                }
            }
        }
    }

    fn exited(&mut self, tid: i32, status: ExitStatus) {
        self.remove_guest(tid);
        self.frozen.remove(&tid);
        if let Some((stream, drain)) = self.exec_waiters.remove(&tid) {
            // Report the exit once the process's output has reached the caller.
            std::thread::spawn(move || {
                if let Some(drain) = drain {
                    drain();
                }
                control::reply(
                    &stream,
                    &control::Reply::Exited {
                        code: status.code(),
                    },
                );
            });
        }
        if tid == self.root {
            self.root_status = Some(status);
            // The container ends with its first process: end the others too.
            for other in self.guests.keys() {
                // SAFETY: kill(2) on a pid we trace; no memory involved.
                unsafe { libc::kill(*other, libc::SIGKILL) };
            }
        }
    }

    fn event(&mut self, tid: i32, event: i32) {
        let pid = Pid::from_raw(tid);
        if event == Event::PTRACE_EVENT_SECCOMP as i32 {
            return self.syscall_entry(tid);
        }
        if event == Event::PTRACE_EVENT_FORK as i32
            || event == Event::PTRACE_EVENT_VFORK as i32
            || event == Event::PTRACE_EVENT_CLONE as i32
        {
            let child = ptrace::getevent(pid).map(|c| c as i32).unwrap_or(-1);
            let flags = if event == Event::PTRACE_EVENT_CLONE as i32 {
                clone_flags(tid)
            } else {
                0
            };
            let task = self.guests.get(&tid).map(|g| g.task.clone());
            match task.map(|t| t.spawn(flags & SHARE_FLAGS, child)) {
                Some(Ok(child_task)) if child > 0 => {
                    let thread = flags & libc::CLONE_THREAD as u64 != 0;
                    self.add_guest(child, Arc::new(child_task), thread);
                    if self.early.remove(&child) {
                        self.resume(child, None);
                    } else if let Some(g) = self.guests.get_mut(&child) {
                        g.waiting = true;
                    }
                }
                other => {
                    if let Some(Err(e)) = other {
                        log::error!("no kernel task for new guest {child}: {e}");
                    }
                    if child > 0 {
                        // SAFETY: kill(2) on a pid we trace.
                        unsafe { libc::kill(child, libc::SIGKILL) };
                    }
                }
            }
        } else if event == Event::PTRACE_EVENT_EXEC as i32 {
            if let Some(g) = self.guests.get_mut(&tid) {
                let name = match g.on_exit.take() {
                    Some(ExitHook::Exec { name, .. }) => name,
                    _ => CString::default(),
                };
                let (args, env) = exec_strings(tid);
                if let Err(e) = g.task.exec(&name, &args, &env) {
                    log::warn!("closing close-on-exec files of {tid}: {e}");
                }
            }
        }
        self.resume(tid, None);
    }

    fn syscall_entry(&mut self, tid: i32) {
        let Ok(regs) = ptrace::getregs(Pid::from_raw(tid)) else {
            return;
        };
        let call = Call {
            tid,
            nr: regs.orig_rax as i64,
            args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
            sp: regs.rsp,
        };
        log::trace!(
            "{tid}: {}({:#x?})",
            crate::syscalls::table::lookup(call.nr).map_or("?", |e| e.name),
            call.args
        );
        match self.guests.get(&tid) {
            Some(g) => match serve_on_task(&g.task, &self.shared, tid, call) {
                Ok(()) => {
                    self.in_flight
                        .insert(tid, (std::time::Instant::now(), false));
                }
                Err(e) => {
                    // Never let the host run it instead: fail the call.
                    log::error!("{tid}: cannot serve syscall {}: {e}", call.nr);
                    self.fail_call(tid, Errno::EIO);
                }
            },
            None => {
                log::error!("syscall {} from unknown tracee {tid}", call.nr);
                // SAFETY: kill(2) on a pid we trace.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            }
        }
    }

    /// Skips the syscall a guest is stopped in, making it fail with `errno`.
    fn fail_call(&self, tid: i32, errno: Errno) {
        let pid = Pid::from_raw(tid);
        if let Ok(mut regs) = ptrace::getregs(pid) {
            regs.orig_rax = u64::MAX;
            regs.rax = (-(errno as i64)) as u64;
            if ptrace::setregs(pid, regs).is_ok() {
                self.resume(tid, None);
            }
        }
    }

    fn apply_results(&mut self) {
        let done = std::mem::take(&mut *self.shared.done.lock().unwrap_or_else(|e| e.into_inner()));
        for Done { tid, served, .. } in done {
            self.in_flight.remove(&tid);
            if let (Some(affinity), Some(guest)) = (affinity::settled(), self.guests.get_mut(&tid))
            {
                guest.placement.served(affinity, tid);
            }
            log::trace!("{tid}: {:?} signals {:#x}", served.action, served.signals);
            let pid = Pid::from_raw(tid);
            let Ok(mut regs) = ptrace::getregs(pid) else {
                continue;
            };
            for sig in 1..64 {
                if served.signals & (1u64 << (sig - 1)) != 0 {
                    // SAFETY: tgkill on a guest thread; no memory involved.
                    unsafe { libc::syscall(libc::SYS_tgkill, tid, tid, sig) };
                }
            }
            let mut trace_exit = false;
            match served.action {
                Action::Return(value) => {
                    regs.orig_rax = u64::MAX;
                    regs.rax = value as u64;
                }
                Action::Rewrite { nr, args } => set_call(&mut regs, nr, args),
                Action::RewriteThenExit { nr, args, on_exit } => {
                    set_call(&mut regs, nr, args);
                    if let Some(g) = self.guests.get_mut(&tid) {
                        g.on_exit = Some(on_exit);
                    }
                    trace_exit = true;
                }
                Action::Interrupted { code } => {
                    // The restart decision is made on the way out of a syscall: let the
                    // host run a harmless one, its arguments untouched for a restart.
                    let nr = regs.orig_rax as i64;
                    regs.orig_rax = libc::SYS_getpid as u64;
                    if let Some(g) = self.guests.get_mut(&tid) {
                        g.on_exit = Some(ExitHook::Interrupted { nr, code });
                    }
                    trace_exit = true;
                }
            }
            if ptrace::setregs(pid, regs).is_err() {
                continue;
            }
            let _ = if trace_exit {
                ptrace::syscall(pid, None)
            } else {
                ptrace::cont(pid, None)
            };
        }
    }

    fn syscall_exit(&mut self, tid: i32) {
        let pid = Pid::from_raw(tid);
        let hook = self.guests.get_mut(&tid).and_then(|g| g.on_exit.take());
        if let (Some(ExitHook::Interrupted { nr, code }), Ok(mut regs)) =
            (&hook, ptrace::getregs(pid))
        {
            if signal_waiting(tid) {
                // As if call `nr` returned the restart code: delivering the signal, the
                // host restarts it or makes it fail with EINTR.
                regs.orig_rax = *nr as u64;
                regs.rax = (-*code) as u64;
            } else {
                // The signal went elsewhere (another thread took it): just run it again.
                regs.orig_rax = u64::MAX;
                regs.rax = *nr as u64;
                regs.rip -= 2;
            }
            let _ = ptrace::setregs(pid, regs);
            return self.resume(tid, None);
        }
        if let (Some(ExitHook::FillMapping { data }), Ok(regs)) = (hook, ptrace::getregs(pid)) {
            let addr = regs.rax;
            if (addr as i64) > 0 || (addr as i64) < -4095 {
                if let Err(e) = GuestMemory::new(tid).poke(addr, &data) {
                    // The mapping exists but holds zeros: fail the call rather than lie.
                    log::warn!("filling file mapping of {tid} at {addr:#x}: {e}");
                    let mut regs = regs;
                    regs.rax = (-(Errno::ENOMEM as i64)) as u64;
                    let _ = ptrace::setregs(pid, regs);
                }
            }
        }
        self.resume(tid, None);
    }
}

/// The arguments and environment of the program `tid` has just exec'd, as the host laid
/// them out (what its task's /proc/PID/cmdline and environ are to show), each at most
/// what exec allows for all strings.
fn exec_strings(tid: i32) -> (Vec<u8>, Vec<u8>) {
    const MOST: usize = 2 << 20;
    let read = |what: &str| {
        let mut data = std::fs::read(format!("/proc/{tid}/{what}")).unwrap_or_default();
        data.truncate(MOST);
        data
    };
    (read("cmdline"), read("environ"))
}

/// Whether host thread `tid` has a signal pending that it would act on now: not blocked,
/// not ignored, and caught or with a default action other than ignoring it.
fn signal_waiting(tid: i32) -> bool {
    // Signals whose default action is to do nothing (SIGCONT's only resumes).
    const DEFAULT_IGNORED: u64 = 1 << (libc::SIGCHLD - 1)
        | 1 << (libc::SIGURG - 1)
        | 1 << (libc::SIGWINCH - 1)
        | 1 << (libc::SIGCONT - 1);
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
            .unwrap_or(0)
    };
    let pending = field("SigPnd:") | field("ShdPnd:");
    let acting = field("SigCgt:") | !DEFAULT_IGNORED;
    pending & !field("SigBlk:") & !field("SigIgn:") & acting != 0
}

fn set_call(regs: &mut libc::user_regs_struct, nr: i64, args: [u64; 6]) {
    regs.orig_rax = nr as u64;
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.r10 = args[3];
    regs.r8 = args[4];
    regs.r9 = args[5];
}

/// The clone flags of the clone or clone3 call a guest is stopped in.
fn clone_flags(tid: i32) -> u64 {
    let Ok(regs) = ptrace::getregs(Pid::from_raw(tid)) else {
        return 0;
    };
    if regs.orig_rax as i64 == libc::SYS_clone3 {
        let mut raw = [0u8; 8];
        if GuestMemory::new(tid).read(regs.rdi, &mut raw).is_ok() {
            return u64::from_ne_bytes(raw);
        }
        return 0;
    }
    regs.rdi
}
