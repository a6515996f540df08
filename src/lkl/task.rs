//! Kernel tasks for the container's processes.
//!
//! Every guest thread has a task of its own in the container's kernel, so that its file
//! table, cwd, root, umask and credentials behave as in Linux. A [`Task`] is forked from
//! another exactly as the guest forks (sharing what the clone flags share), and any host
//! thread may make syscalls on it, one at a time.

use core::ffi::{c_long, c_ulong, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use super::{errno_result, ffi, Errno, Kernel};

/// Clone flags a task fork honours; anything else is ignored.
pub const SHARE_FLAGS: u64 = (libc::CLONE_FILES
    | libc::CLONE_FS
    | libc::CLONE_THREAD
    | libc::CLONE_SIGHAND
    | libc::CLONE_SYSVSEM) as u64;

/// A task in the container's kernel. Dropping it ends the task.
pub struct Task {
    handle: NonNull<c_void>,
    /// The port serves one request per task at a time.
    busy: Mutex<()>,
    /// The restart code of the last call if a signal cut it short, else 0.
    restart: AtomicI64,
}

/// The kernel's restart codes, which a call cut short by a signal returns: what the host
/// does with them (restart the call, or fail it with EINTR) depends on the signal's
/// handler, as for the host's own syscalls.
pub const ERESTARTSYS: i64 = 512;
pub const ERESTARTNOINTR: i64 = 513;
pub const ERESTARTNOHAND: i64 = 514;
pub const ERESTART_RESTARTBLOCK: i64 = 516;

// SAFETY: the handle is an opaque token the port accepts from any host thread; `busy`
// serialises the requests the port requires to be serial.
unsafe impl Send for Task {}
// SAFETY: as above; every use of the handle goes through `busy`.
unsafe impl Sync for Task {}

/// The result of a syscall on a task, with the signals the kernel raised against it.
#[derive(Debug, Clone, Copy)]
pub struct TaskResult {
    pub ret: Result<i64, Errno>,
    /// Bit n-1 set for signal n (SIGPIPE from a pipe, SIGTTOU from a terminal, ...).
    pub signals: u64,
}

fn spawned(handle: *mut c_void, err: c_long) -> Result<Task, Errno> {
    match NonNull::new(handle) {
        Some(handle) => Ok(Task {
            handle,
            busy: Mutex::new(()),
            restart: AtomicI64::new(0),
        }),
        None => Err(Errno::from_raw(-(err as i32))),
    }
}

impl Kernel {
    /// Forks the calling host thread's own task (a thread of the kernel's pid 1) with clone
    /// `flags` (see [`SHARE_FLAGS`]): the start of a container's first process.
    pub fn spawn_task(&self, flags: u64) -> Result<Task, Errno> {
        Task::spawn_from_thread(flags)
    }
}

impl Task {
    /// As [`Kernel::spawn_task`], for threads that hold no `Kernel` (after the kernel halts it
    /// fails with ENODEV).
    pub fn spawn_from_thread(flags: u64) -> Result<Task, Errno> {
        let mut err: c_long = 0;
        // SAFETY: err is a valid out-pointer; the port checks that the kernel runs.
        let handle = unsafe { ffi::lkl_task_spawn(flags as c_ulong, &mut err) };
        spawned(handle, err)
    }

    /// Forks this task as the guest's fork or clone with `flags` does. The new task gets
    /// pid `pid` (the guest's host pid or tid), so that the container's /proc agrees with
    /// what the guest's getpid says, unless the kernel uses that pid already.
    pub fn spawn(&self, flags: u64, pid: i32) -> Result<Task, Errno> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let mut err: c_long = 0;
        // SAFETY: the handle is live (owned by self) and not in use (busy held).
        let handle = unsafe {
            ffi::lkl_task_spawn_as(self.handle.as_ptr(), flags as c_ulong, pid, &mut err)
        };
        spawned(handle, err)
    }

    /// Calls LKL syscall `nr` on this task.
    ///
    /// # Safety
    /// Pointer arguments are dereferenced by the kernel as addresses of this process: each
    /// must be valid for what syscall `nr` reads or writes.
    pub unsafe fn syscall(&self, nr: i64, args: [i64; 6]) -> TaskResult {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let mut params: [c_long; 6] = args;
        let mut signals: c_ulong = 0;
        // SAFETY: the handle is live and not in use; params and signals are valid for the
        // call; the caller vouches for the pointers inside params.
        let mut ret = unsafe {
            ffi::lkl_task_syscall(self.handle.as_ptr(), nr, params.as_mut_ptr(), &mut signals)
        };
        let restart = match -ret {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => -ret,
            // Its restart needs the kernel's restart block, which the host does not have:
            // restarted with the same arguments, as poll and friends are without a handler.
            ERESTART_RESTARTBLOCK => ERESTARTNOHAND,
            _ => 0,
        };
        self.restart.store(restart, Ordering::SeqCst);
        if restart != 0 {
            ret = -(libc::EINTR as i64);
        }
        TaskResult {
            ret: errno_result(ret),
            signals,
        }
    }

    /// The restart code of the last call, if a signal cut it short (the call returned
    /// EINTR); reading it clears it.
    pub fn take_restart(&self) -> Option<i64> {
        Some(self.restart.swap(0, Ordering::SeqCst)).filter(|&code| code != 0)
    }

    /// Cuts short the wait of the call this task is serving, as a signal would, so that a
    /// signal pending for the guest on the host is delivered without waiting for the call
    /// to end. Callable while another thread is in [`Task::syscall`].
    pub fn interrupt(&self) {
        // SAFETY: the handle is live; the port allows this call during another request.
        unsafe { ffi::lkl_task_interrupt(self.handle.as_ptr()) };
    }

    /// Delivers the signals the kernel raises against this task while it is idle (SIGINT
    /// from its terminal, ...) to host thread `tid` at once, with `tkill`. Signals raised
    /// during a syscall come back in [`TaskResult::signals`] instead.
    pub fn forward_signals_to(&self, tid: i32) {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is live; the callback only makes tkill syscalls and its data is
        // the tid itself, not a pointer.
        unsafe {
            ffi::lkl_task_set_signal_callback(
                self.handle.as_ptr(),
                Some(deliver_signals),
                tid as isize as *mut c_void,
            );
        }
    }

    /// What a successful execve does to the task: closes its close-on-exec descriptors,
    /// names the task after the program (`name`, up to 15 bytes, as /proc/PID/comm shows)
    /// and records its arguments and environment (`args` and `env`: NUL-terminated strings
    /// back to back, as /proc/PID/cmdline and environ show them).
    pub fn exec(&self, name: &std::ffi::CStr, args: &[u8], env: &[u8]) -> Result<(), Errno> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let name = if name.is_empty() {
            std::ptr::null()
        } else {
            name.as_ptr()
        };
        // SAFETY: the handle is live and not in use; name is NULL or a NUL-terminated
        // string, args and env are live buffers of the lengths passed; the kernel copies
        // them all.
        errno_result(unsafe {
            ffi::lkl_task_exec_with(
                self.handle.as_ptr(),
                name,
                args.as_ptr().cast(),
                args.len() as c_ulong,
                env.as_ptr().cast(),
                env.len() as c_ulong,
            )
        })
        .map(drop)
    }
}

/// Work for [`Task::call_async`]: runs on the task, and gives back what to do once the task
/// is free for its next request.
pub type AsyncWork = Box<dyn FnOnce() -> Continuation + Send>;
/// What [`AsyncWork`] leaves to do after the task is free again.
pub type Continuation = Box<dyn FnOnce() + Send>;

struct AsyncCall {
    work: Option<AsyncWork>,
    then: Option<Continuation>,
}

impl Task {
    /// Runs `work` on this task without waiting for it: in kernel context, on the task's own
    /// host thread, so that the syscalls `work` makes on this task ([`Task::syscall`]) cost
    /// no hand-off between host threads. What `work` returns runs there too, once the task
    /// takes requests again. `work` may block in the kernel (reading an empty pipe); the
    /// kernel runs other tasks meanwhile. `work` must not make syscalls through other paths
    /// ([`super::thread_syscall`], a [`Kernel`]): the host thread holds the kernel's CPU.
    pub fn call_async(&self, work: AsyncWork) -> Result<(), Errno> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let call = Box::into_raw(Box::new(AsyncCall {
            work: Some(work),
            then: None,
        }));
        // SAFETY: the handle is live and not in use; `call` is a leaked box that
        // run_async_call borrows and finish_async_call takes back, exactly once.
        let ret = unsafe {
            ffi::lkl_task_call_async(
                self.handle.as_ptr(),
                run_async_call,
                finish_async_call,
                call.cast(),
            )
        };
        if ret < 0 {
            // SAFETY: not submitted: the box is still ours.
            drop(unsafe { Box::from_raw(call) });
            return Err(Errno::from_raw(-(ret as i32)));
        }
        Ok(())
    }
}

/// Runs an [`AsyncCall`]'s work in kernel context; a panic must not unwind into C.
unsafe extern "C" fn run_async_call(arg: *mut c_void) -> c_long {
    // SAFETY: arg is the AsyncCall call_async leaked; only this function and
    // finish_async_call (which runs after it) touch it.
    let call = unsafe { &mut *arg.cast::<AsyncCall>() };
    if let Some(work) = call.work.take() {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(then) => call.then = Some(then),
            Err(_) => log::error!("a call served on a kernel task panicked"),
        }
    }
    0
}

/// Runs an [`AsyncCall`]'s continuation and frees it (also when the kernel halted first).
unsafe extern "C" fn finish_async_call(arg: *mut c_void, _ret: c_long) {
    // SAFETY: arg is the AsyncCall call_async leaked; this is its last use.
    let call = unsafe { Box::from_raw(arg.cast::<AsyncCall>()) };
    if let Some(then) = call.then {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(then)).is_err() {
            log::error!("finishing a call served on a kernel task panicked");
        }
    }
}

/// Runs on a kernel thread: only host syscalls, no calls back into the kernel.
unsafe extern "C" fn deliver_signals(data: *mut c_void, mask: c_ulong) {
    let tid = data as isize as libc::pid_t;
    for sig in 1..64 {
        if mask & (1 << (sig - 1)) != 0 {
            // SAFETY: tkill takes plain integers.
            unsafe { libc::syscall(libc::SYS_tkill, tid, sig) };
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is live and released exactly once, here.
        unsafe { ffi::lkl_task_release(self.handle.as_ptr()) };
    }
}
