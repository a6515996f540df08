//! Raw declarations of the LKL symbols kbox uses, written by hand to match the C ABI of
//! the kernel port (no bindgen, no LKL headers). Only the safe wrappers in `super` call these.

use core::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use core::marker::{PhantomData, PhantomPinned};
use core::mem::{offset_of, size_of};

/// `struct lkl_host_operations`: the host services table LKL calls back into. Opaque to
/// Rust; its address is passed to `lkl_init`.
#[repr(C)]
pub struct LklHostOperations {
    _opaque: [u8; 0],
    // Not Send/Sync/Unpin: the C side owns and mutates it.
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `struct lkl_dev_blk_ops`: the block-device backend (file I/O on the image fd). Opaque.
#[repr(C)]
pub struct LklDevBlkOps {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `struct lkl_disk`: a block device backed by a host file descriptor.
#[repr(C)]
#[derive(Debug)]
pub struct LklDisk {
    /// Filled in by LKL (its virtio device); must start out null.
    pub dev: *mut c_void,
    /// Host fd of the disk image, which LKL reads and writes with pread/pwrite.
    pub fd: c_int,
    /// Backend operations; kbox always uses `&lkl_dev_blk_ops`.
    pub ops: *mut LklDevBlkOps,
}

#[cfg(target_arch = "x86_64")]
const _: () = {
    assert!(size_of::<LklDisk>() == 24);
    assert!(offset_of!(LklDisk, dev) == 0);
    assert!(offset_of!(LklDisk, fd) == 8);
    assert!(offset_of!(LklDisk, ops) == 16);
};

extern "C" {
    pub static mut lkl_host_ops: LklHostOperations;
    pub static mut lkl_dev_blk_ops: LklDevBlkOps;

    pub fn lkl_init(ops: *mut LklHostOperations) -> c_int;
    /// Variadic: call as `lkl_start_kernel(c"%s".as_ptr(), cmdline)`, never with a
    /// caller-controlled format.
    pub fn lkl_start_kernel(fmt: *const c_char, ...) -> c_int;
    pub fn lkl_cleanup();
    /// Accepts a positive or negative errno; returns a static string.
    pub fn lkl_strerror(err: c_int) -> *const c_char;
    /// `params` points to exactly 6 longs; returns the result or `-errno`.
    pub fn lkl_syscall(nr: c_long, params: *mut c_long) -> c_long;
    /// Returns the disk id (>= 0) or `-errno`.
    pub fn lkl_disk_add(disk: *mut LklDisk) -> c_int;
    /// Mounts partition `part` (0 = whole disk) of disk `disk_id` at a path it writes
    /// into `mnt_str` (NUL-terminated). Returns 0 or `-errno`.
    pub fn lkl_mount_dev(
        disk_id: c_uint,
        part: c_uint,
        fs_type: *const c_char,
        flags: c_int,
        opts: *const c_char,
        mnt_str: *mut c_char,
        mnt_str_len: c_uint,
    ) -> c_int;
    /// Syncs, unmounts everything and halts the kernel. Returns 0 or `-errno`.
    pub fn lkl_sys_halt() -> c_long;

    // Kernel tasks per host program thread (kbox's port; see lkl/host/include/lkl_host.h).
    /// Forks the calling thread's task; NULL with `*err` set on failure.
    pub fn lkl_task_spawn(flags: c_ulong, err: *mut c_long) -> *mut c_void;
    /// Forks the task behind `parent`.
    pub fn lkl_task_spawn_from(
        parent: *mut c_void,
        flags: c_ulong,
        err: *mut c_long,
    ) -> *mut c_void;
    /// As `lkl_task_spawn_from`, the new task's pid `pid` if it is free in the kernel.
    pub fn lkl_task_spawn_as(
        parent: *mut c_void,
        flags: c_ulong,
        pid: c_int,
        err: *mut c_long,
    ) -> *mut c_void;
    /// Ends the task behind `handle` and frees the handle.
    pub fn lkl_task_release(handle: *mut c_void);
    /// Has `cb(data, mask)` called (on a kernel thread) with signals raised against the idle
    /// task behind `handle`.
    pub fn lkl_task_set_signal_callback(
        handle: *mut c_void,
        cb: Option<unsafe extern "C" fn(data: *mut c_void, mask: c_ulong)>,
        data: *mut c_void,
    ) -> c_int;
    /// What an exec does to the task behind `handle`: closes its close-on-exec descriptors,
    /// names it `name` (if not NULL) and records the program's arguments and environment
    /// (NUL-terminated strings back to back) for /proc/PID/cmdline and environ.
    pub fn lkl_task_exec_with(
        handle: *mut c_void,
        name: *const c_char,
        args: *const c_char,
        args_len: c_ulong,
        env: *const c_char,
        env_len: c_ulong,
    ) -> c_long;
    /// Cuts short the interruptible wait of the call the task behind `handle` is serving
    /// (it returns a restart code); callable from any thread, also during a call.
    pub fn lkl_task_interrupt(handle: *mut c_void) -> c_long;
    /// Runs `f(arg)` on the task behind `handle`, in kernel context on the task's own host
    /// thread, without waiting; `done(arg, ret)` is called there once the task takes
    /// requests again. `lkl_task_syscall` on the same task from `f` involves no hand-off.
    pub fn lkl_task_call_async(
        handle: *mut c_void,
        f: unsafe extern "C" fn(arg: *mut c_void) -> c_long,
        done: unsafe extern "C" fn(arg: *mut c_void, ret: c_long),
        arg: *mut c_void,
    ) -> c_long;
    /// A syscall on the task behind `handle`; the signals the kernel raised against the task
    /// are stored in `*signals` (a bit per signal, bit n-1 for signal n). A call cut short by
    /// a signal returns its restart code (-ERESTARTSYS, ...).
    pub fn lkl_task_syscall(
        handle: *mut c_void,
        nr: c_long,
        params: *mut c_long,
        signals: *mut c_ulong,
    ) -> c_long;
}
