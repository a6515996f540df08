//! Safe binding to LKL, the Linux kernel linked into this process as `liblkl.a`.
//!
//! A process hosts at most one kernel, for its whole life: [`KernelBuilder::new`] claims it
//! (and calls `lkl_init`), disks are attached, then [`KernelBuilder::boot`] starts the kernel
//! and hands out the [`Kernel`], through which every syscall goes. LKL cannot be restarted
//! in-process, so after [`Kernel::shutdown`] no second kernel can be built.
//!
//! Syscall wrappers return the *kernel's* errno as [`Errno`]. LKL uses the asm-generic errno
//! and `O_*`/`AT_*`/`MS_*` values, which on x86_64 are the host's, so `libc` constants can be
//! passed as they are. File descriptors returned here ([`LklFd`]) live in the LKL kernel's fd
//! table and mean nothing to the host.

pub mod ffi;
pub mod stat;
pub mod sysnr;
pub mod task;

pub use task::{Task, TaskResult};

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the LKL binding's struct layouts are written and checked for x86_64 only");

use core::ffi::{c_char, c_int, c_long, c_uint, CStr};
use std::fmt;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use nix::errno::Errno;
pub use nix::mount::MsFlags;

use self::ffi::LklDisk;

/// A file descriptor in the LKL kernel's table (not a host fd).
pub type LklFd = i32;

/// `AT_FDCWD`: resolve a relative path against the kernel-side current directory.
pub const AT_FDCWD: LklFd = libc::AT_FDCWD;

/// Set once a kernel has been claimed in this process; never cleared, because LKL cannot be
/// initialised a second time.
static KERNEL_CLAIMED: AtomicBool = AtomicBool::new(false);

/// Largest value `lkl_syscall` returns that is an error (`-4095..=-1`, as in the kernel's
/// `IS_ERR_VALUE`).
const MAX_ERRNO: i64 = 4095;

/// Longest mount point path `lkl_mount_dev` may write, including the NUL.
const MOUNT_PATH_CAPACITY: usize = 4096;

/// An LKL entry point (not a syscall wrapper) failed with the kernel's errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LklError {
    /// What kbox was doing, e.g. `"lkl_disk_add"`.
    pub op: &'static str,
    pub errno: Errno,
}

impl fmt::Display for LklError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: lkl_strerror accepts any errno value and returns a pointer to a static,
        // NUL-terminated string (or null, handled below); we only read it.
        let message = unsafe { ffi::lkl_strerror(self.errno as c_int) };
        if message.is_null() {
            return write!(f, "{}: error {}", self.op, self.errno as i32);
        }
        // SAFETY: non-null pointers from lkl_strerror point at static C strings.
        let message = unsafe { CStr::from_ptr(message) };
        write!(f, "{}: {}", self.op, message.to_string_lossy())
    }
}

impl std::error::Error for LklError {}

/// Why a kernel could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("this process already started an LKL kernel; LKL supports one kernel per process")]
    AlreadyClaimed,
    #[error("invalid kernel command line {cmdline:?}: {reason}")]
    InvalidCmdline {
        cmdline: String,
        reason: &'static str,
    },
    #[error("cannot duplicate the disk image descriptor: {0}")]
    DupImage(#[source] std::io::Error),
    #[error(transparent)]
    Lkl(#[from] LklError),
}

/// The id LKL gave a disk; pass it to [`Kernel::mount_disk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiskId(u32);

impl DiskId {
    pub fn index(self) -> u32 {
        self.0
    }
}

/// A disk handed to LKL. The kernel copies the `lkl_disk` descriptor in `lkl_disk_add` but
/// keeps doing I/O on the fd, so our duplicate of the image fd lives as long as the kernel.
struct AttachedDisk {
    _image: OwnedFd,
}

fn attach_disk(image: &File) -> Result<(DiskId, AttachedDisk), KernelError> {
    // Our own fd, so the caller may close theirs while the kernel keeps using the image.
    let image: OwnedFd = image.try_clone().map_err(KernelError::DupImage)?.into();
    let mut descriptor = LklDisk {
        dev: ptr::null_mut(),
        fd: image.as_raw_fd(),
        ops: &raw mut ffi::lkl_dev_blk_ops,
    };
    // SAFETY: `descriptor` is a valid, initialised lkl_disk for the duration of the call (LKL
    // copies it), its fd stays open as long as the kernel (stored with it), and
    // lkl_dev_blk_ops is the port's own static backend.
    let ret = unsafe { ffi::lkl_disk_add(&mut descriptor) };
    if ret < 0 {
        return Err(lkl_error("lkl_disk_add", i64::from(ret)).into());
    }
    Ok((DiskId(ret as u32), AttachedDisk { _image: image }))
}

/// A kernel that is initialised but not yet started: the place to attach disks.
///
/// Dropping it without booting leaves this process unable to start a kernel.
pub struct KernelBuilder {
    disks: Vec<AttachedDisk>,
}

impl KernelBuilder {
    /// Claims this process's one kernel and initialises LKL's host layer.
    pub fn new() -> Result<Self, KernelError> {
        if KERNEL_CLAIMED.swap(true, Ordering::SeqCst) {
            return Err(KernelError::AlreadyClaimed);
        }
        // SAFETY: lkl_host_ops is the port's static host-operations table; lkl_init is called
        // once per process, guarded by KERNEL_CLAIMED.
        let ret = unsafe { ffi::lkl_init(&raw mut ffi::lkl_host_ops) };
        if ret < 0 {
            return Err(lkl_error("lkl_init", i64::from(ret)).into());
        }
        Ok(Self { disks: Vec::new() })
    }

    /// Attaches `image` (an open disk image, read-write unless the mount is read-only) as a
    /// virtio block device.
    pub fn add_disk(&mut self, image: &File) -> Result<DiskId, KernelError> {
        let (id, disk) = attach_disk(image)?;
        self.disks.push(disk);
        Ok(id)
    }

    /// Starts the kernel with `mem={mem_mb}M` followed by `cmdline`.
    pub fn boot(self, cmdline: &str, mem_mb: u32) -> Result<Kernel, KernelError> {
        let full_cmdline = boot_cmdline(cmdline, mem_mb)?;
        // SAFETY: the format is the literal "%s" and its one argument a NUL-terminated string
        // that lives across the call, exactly what the variadic lkl_start_kernel expects.
        let ret = unsafe { ffi::lkl_start_kernel(c"%s".as_ptr(), full_cmdline.as_ptr()) };
        if ret < 0 {
            return Err(lkl_error("lkl_start_kernel", i64::from(ret)).into());
        }
        log::debug!("LKL kernel started: {}", full_cmdline.to_string_lossy());
        Ok(Kernel {
            disks: Mutex::new(self.disks),
            mounts: Mutex::new(Vec::new()),
            halted: AtomicBool::new(false),
        })
    }
}

/// The command line LKL boots with: the memory size first, then the caller's parameters.
fn boot_cmdline(cmdline: &str, mem_mb: u32) -> Result<std::ffi::CString, KernelError> {
    let invalid = |reason| KernelError::InvalidCmdline {
        cmdline: cmdline.to_owned(),
        reason,
    };
    if mem_mb == 0 {
        return Err(invalid("memory size must be at least 1 MiB"));
    }
    if cmdline
        .split_ascii_whitespace()
        .any(|word| word.starts_with("mem="))
    {
        return Err(invalid("mem= is set from the memory size argument"));
    }
    let full = format!("mem={mem_mb}M {}", cmdline.trim());
    std::ffi::CString::new(full.trim_end()).map_err(|_| invalid("contains a NUL byte"))
}

/// The running kernel. Dropping it halts the kernel if [`Kernel::shutdown`] was not called.
///
/// `Kernel` is `Send + Sync`: any host thread may make syscalls. The port gives each calling
/// host thread its own kernel task, all of them threads of the kernel's pid 1, so they share
/// one fd table, cwd and root.
pub struct Kernel {
    disks: Mutex<Vec<AttachedDisk>>,
    /// Mount points made by [`Kernel::mount_disk`] and not yet unmounted, in mount order.
    /// `lkl_sys_halt` only syncs: the shutdown unmounts these so that ext4 closes its journal
    /// and marks the filesystem clean.
    mounts: Mutex<Vec<std::ffi::CString>>,
    halted: AtomicBool,
}

impl Kernel {
    /// Claims, initialises and boots a kernel without disks.
    pub fn boot(cmdline: &str, mem_mb: u32) -> Result<Kernel, KernelError> {
        KernelBuilder::new()?.boot(cmdline, mem_mb)
    }

    /// Attaches a disk to the running kernel (hot-add; whether it works depends on the port:
    /// prefer [`KernelBuilder::add_disk`] before boot).
    pub fn add_disk(&self, image: &File) -> Result<DiskId, KernelError> {
        let (id, disk) = attach_disk(image)?;
        lock(&self.disks).push(disk);
        Ok(id)
    }

    /// Mounts the whole of `disk` (no partition table) as `fs_type` and returns the kernel
    /// path of the mount point, e.g. `/mnt/0000fe00`.
    pub fn mount_disk(
        &self,
        disk: DiskId,
        fs_type: &CStr,
        flags: MsFlags,
        options: Option<&CStr>,
    ) -> Result<String, LklError> {
        const WHOLE_DISK: c_uint = 0;
        let options = options.unwrap_or(c"");
        let mut mount_path = vec![0u8; MOUNT_PATH_CAPACITY];
        // SAFETY: every pointer is valid for the call: the strings are NUL-terminated and the
        // output buffer has the length passed with it. MS_* flags fit in 32 bits.
        let ret = unsafe {
            ffi::lkl_mount_dev(
                disk.0,
                WHOLE_DISK,
                fs_type.as_ptr(),
                flags.bits() as c_int,
                options.as_ptr(),
                mount_path.as_mut_ptr().cast::<c_char>(),
                MOUNT_PATH_CAPACITY as c_uint,
            )
        };
        if ret < 0 {
            return Err(lkl_error("lkl_mount_dev", i64::from(ret)));
        }
        let len = mount_path.iter().position(|&b| b == 0).unwrap_or(0);
        mount_path.truncate(len);
        let path = String::from_utf8_lossy(&mount_path).into_owned();
        // lkl_mount_dev wrote a C string, so the bytes before its NUL contain no NUL.
        if let Ok(c_path) = std::ffi::CString::new(mount_path) {
            lock(&self.mounts).push(c_path);
        }
        Ok(path)
    }

    /// Unmounts a filesystem mounted by [`Kernel::mount_disk`] (given the path it returned)
    /// and removes its mount point directory.
    pub fn unmount_disk(&self, mount_path: &str) -> Result<(), Errno> {
        let c_path = std::ffi::CString::new(mount_path).map_err(|_| Errno::EINVAL)?;
        self.umount2(&c_path, 0)?;
        lock(&self.mounts).retain(|mounted| *mounted != c_path);
        // The directory is lkl_mount_dev's; failing to remove it leaves only an empty dir.
        let _ = self.unlinkat(AT_FDCWD, &c_path, libc::AT_REMOVEDIR);
        Ok(())
    }

    /// Unmounts what [`Kernel::mount_disk`] mounted, syncs, halts the kernel and frees LKL's
    /// resources. The kernel is halted even when an unmount fails; the first error is returned.
    pub fn shutdown(self) -> Result<(), LklError> {
        self.halt()
    }

    fn halt(&self) -> Result<(), LklError> {
        if self.halted.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let unmounted = self.unmount_all();
        // SAFETY: the kernel was started and is halted only once (guarded by `halted`).
        let ret = unsafe { ffi::lkl_sys_halt() };
        if ret < 0 {
            return Err(lkl_error("lkl_sys_halt", ret));
        }
        // SAFETY: called once, after a successful halt, as the LKL API requires.
        unsafe { ffi::lkl_cleanup() };
        unmounted
    }

    /// Unmounts the remaining [`Kernel::mount_disk`] mounts, newest first. A busy filesystem
    /// (a file still open, e.g. by another host thread) gets a short grace period.
    fn unmount_all(&self) -> Result<(), LklError> {
        const BUSY_RETRIES: u32 = 50;
        let mounts = std::mem::take(&mut *lock(&self.mounts));
        let mut first_error = Ok(());
        for path in mounts.iter().rev() {
            let mut result = self.umount2(path, 0);
            for _ in 0..BUSY_RETRIES {
                if result != Err(Errno::EBUSY) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                result = self.umount2(path, 0);
            }
            match result {
                // EINVAL: no longer a mount point (someone unmounted it with umount2).
                Ok(()) | Err(Errno::EINVAL) => {
                    let _ = self.unlinkat(AT_FDCWD, path, libc::AT_REMOVEDIR);
                }
                Err(errno) => {
                    log::warn!("cannot unmount {path:?} before halting the kernel: {errno}");
                    if first_error.is_ok() {
                        first_error = Err(LklError {
                            op: "umount2",
                            errno,
                        });
                    }
                }
            }
        }
        first_error
    }

    /// Calls LKL syscall `nr` (an [`sysnr`] number, not a host number) with raw arguments.
    ///
    /// # Safety
    /// The kernel runs in this address space and dereferences pointer arguments as addresses
    /// of this process: every pointer in `args` must be valid for what syscall `nr` reads or
    /// writes, and fds passed in are LKL fds.
    pub unsafe fn syscall6(&self, nr: i64, args: [i64; 6]) -> Result<i64, Errno> {
        let mut params: [c_long; 6] = args;
        // SAFETY: params holds the 6 longs lkl_syscall reads; the caller vouches for the
        // pointers inside them.
        let ret = unsafe { ffi::lkl_syscall(nr, params.as_mut_ptr()) };
        errno_result(ret)
    }

    /// Safe syscall entry for the typed wrappers below, whose arguments are built from
    /// references and therefore valid.
    fn call(&self, nr: i64, args: [i64; 6]) -> Result<i64, Errno> {
        // SAFETY: only the wrappers in this impl call this, each passing pointers derived from
        // live references with the sizes the syscall expects.
        unsafe { self.syscall6(nr, args) }
    }

    pub fn openat(&self, dirfd: LklFd, path: &CStr, flags: i32, mode: u32) -> Result<LklFd, Errno> {
        let args = [
            dirfd.into(),
            cstr_arg(path),
            flags.into(),
            mode.into(),
            0,
            0,
        ];
        self.call(sysnr::OPENAT, args).map(|fd| fd as LklFd)
    }

    pub fn close(&self, fd: LklFd) -> Result<(), Errno> {
        self.call(sysnr::CLOSE, [fd.into(), 0, 0, 0, 0, 0])
            .map(drop)
    }

    pub fn read(&self, fd: LklFd, buf: &mut [u8]) -> Result<usize, Errno> {
        let args = [fd.into(), mut_buf_arg(buf), buf.len() as i64, 0, 0, 0];
        self.call(sysnr::READ, args).map(|n| n as usize)
    }

    pub fn write(&self, fd: LklFd, buf: &[u8]) -> Result<usize, Errno> {
        let args = [fd.into(), buf_arg(buf), buf.len() as i64, 0, 0, 0];
        self.call(sysnr::WRITE, args).map(|n| n as usize)
    }

    pub fn pread(&self, fd: LklFd, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        let args = [fd.into(), mut_buf_arg(buf), buf.len() as i64, offset, 0, 0];
        self.call(sysnr::PREAD64, args).map(|n| n as usize)
    }

    pub fn pwrite(&self, fd: LklFd, buf: &[u8], offset: i64) -> Result<usize, Errno> {
        let args = [fd.into(), buf_arg(buf), buf.len() as i64, offset, 0, 0];
        self.call(sysnr::PWRITE64, args).map(|n| n as usize)
    }

    pub fn lseek(&self, fd: LklFd, offset: i64, whence: i32) -> Result<i64, Errno> {
        self.call(sysnr::LSEEK, [fd.into(), offset, whence.into(), 0, 0, 0])
    }

    pub fn fsync(&self, fd: LklFd) -> Result<(), Errno> {
        self.call(sysnr::FSYNC, [fd.into(), 0, 0, 0, 0, 0])
            .map(drop)
    }

    pub fn ftruncate(&self, fd: LklFd, length: i64) -> Result<(), Errno> {
        self.call(sysnr::FTRUNCATE, [fd.into(), length, 0, 0, 0, 0])
            .map(drop)
    }

    /// `newfstatat`, converted to the host's `struct stat` layout.
    pub fn newfstatat(&self, dirfd: LklFd, path: &CStr, flags: i32) -> Result<libc::stat, Errno> {
        let mut kernel_stat = stat::LklStat::default();
        let stat_ptr = ptr::from_mut(&mut kernel_stat) as i64;
        let args = [dirfd.into(), cstr_arg(path), stat_ptr, flags.into(), 0, 0];
        self.call(sysnr::NEWFSTATAT, args)?;
        Ok(kernel_stat.to_host())
    }

    /// `fstat`, converted to the host's `struct stat` layout.
    pub fn fstat(&self, fd: LklFd) -> Result<libc::stat, Errno> {
        let mut kernel_stat = stat::LklStat::default();
        let stat_ptr = ptr::from_mut(&mut kernel_stat) as i64;
        self.call(sysnr::FSTAT, [fd.into(), stat_ptr, 0, 0, 0, 0])?;
        Ok(kernel_stat.to_host())
    }

    /// `statx`; the struct layout is the same for LKL and the host.
    pub fn statx(
        &self,
        dirfd: LklFd,
        path: &CStr,
        flags: i32,
        mask: u32,
    ) -> Result<libc::statx, Errno> {
        // SAFETY: libc::statx holds only integers and arrays of integers; all-zero is valid.
        let mut statx_buf: libc::statx = unsafe { core::mem::zeroed() };
        let statx_ptr = ptr::from_mut(&mut statx_buf) as i64;
        let args = [
            dirfd.into(),
            cstr_arg(path),
            flags.into(),
            mask.into(),
            statx_ptr,
            0,
        ];
        self.call(sysnr::STATX, args)?;
        Ok(statx_buf)
    }

    /// Fills `buf` with `struct linux_dirent64` records; returns the bytes used (0 at the end).
    pub fn getdents64(&self, fd: LklFd, buf: &mut [u8]) -> Result<usize, Errno> {
        let args = [fd.into(), mut_buf_arg(buf), buf.len() as i64, 0, 0, 0];
        self.call(sysnr::GETDENTS64, args).map(|n| n as usize)
    }

    pub fn mkdirat(&self, dirfd: LklFd, path: &CStr, mode: u32) -> Result<(), Errno> {
        let args = [dirfd.into(), cstr_arg(path), mode.into(), 0, 0, 0];
        self.call(sysnr::MKDIRAT, args).map(drop)
    }

    pub fn mknodat(&self, dirfd: LklFd, path: &CStr, mode: u32, dev: u32) -> Result<(), Errno> {
        let args = [dirfd.into(), cstr_arg(path), mode.into(), dev.into(), 0, 0];
        self.call(sysnr::MKNODAT, args).map(drop)
    }

    pub fn unlinkat(&self, dirfd: LklFd, path: &CStr, flags: i32) -> Result<(), Errno> {
        let args = [dirfd.into(), cstr_arg(path), flags.into(), 0, 0, 0];
        self.call(sysnr::UNLINKAT, args).map(drop)
    }

    pub fn renameat2(
        &self,
        old_dirfd: LklFd,
        old_path: &CStr,
        new_dirfd: LklFd,
        new_path: &CStr,
        flags: u32,
    ) -> Result<(), Errno> {
        let args = [
            old_dirfd.into(),
            cstr_arg(old_path),
            new_dirfd.into(),
            cstr_arg(new_path),
            flags.into(),
            0,
        ];
        self.call(sysnr::RENAMEAT2, args).map(drop)
    }

    /// Creates `link_path` (relative to `new_dirfd`) pointing at `target`.
    pub fn symlinkat(
        &self,
        target: &CStr,
        new_dirfd: LklFd,
        link_path: &CStr,
    ) -> Result<(), Errno> {
        let args = [
            cstr_arg(target),
            new_dirfd.into(),
            cstr_arg(link_path),
            0,
            0,
            0,
        ];
        self.call(sysnr::SYMLINKAT, args).map(drop)
    }

    /// Reads the link target into `buf` (not NUL-terminated); returns its length.
    pub fn readlinkat(&self, dirfd: LklFd, path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
        let args = [
            dirfd.into(),
            cstr_arg(path),
            mut_buf_arg(buf),
            buf.len() as i64,
            0,
            0,
        ];
        self.call(sysnr::READLINKAT, args).map(|n| n as usize)
    }

    pub fn fchmodat(&self, dirfd: LklFd, path: &CStr, mode: u32) -> Result<(), Errno> {
        let args = [dirfd.into(), cstr_arg(path), mode.into(), 0, 0, 0];
        self.call(sysnr::FCHMODAT, args).map(drop)
    }

    pub fn fchownat(
        &self,
        dirfd: LklFd,
        path: &CStr,
        uid: u32,
        gid: u32,
        flags: i32,
    ) -> Result<(), Errno> {
        let args = [
            dirfd.into(),
            cstr_arg(path),
            uid.into(),
            gid.into(),
            flags.into(),
            0,
        ];
        self.call(sysnr::FCHOWNAT, args).map(drop)
    }

    pub fn chdir(&self, path: &CStr) -> Result<(), Errno> {
        self.call(sysnr::CHDIR, [cstr_arg(path), 0, 0, 0, 0, 0])
            .map(drop)
    }

    pub fn fchdir(&self, fd: LklFd) -> Result<(), Errno> {
        self.call(sysnr::FCHDIR, [fd.into(), 0, 0, 0, 0, 0])
            .map(drop)
    }

    pub fn chroot(&self, path: &CStr) -> Result<(), Errno> {
        self.call(sysnr::CHROOT, [cstr_arg(path), 0, 0, 0, 0, 0])
            .map(drop)
    }

    /// Writes the NUL-terminated current directory into `buf`; returns its length with the NUL.
    pub fn getcwd(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let args = [mut_buf_arg(buf), buf.len() as i64, 0, 0, 0, 0];
        self.call(sysnr::GETCWD, args).map(|n| n as usize)
    }

    pub fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fs_type: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        let args = [
            optional_cstr_arg(source),
            cstr_arg(target),
            optional_cstr_arg(fs_type),
            flags.bits() as i64,
            optional_cstr_arg(data),
            0,
        ];
        self.call(sysnr::MOUNT, args).map(drop)
    }

    /// `umount2`; `flags` are `MNT_*` values such as `libc::MNT_DETACH`.
    pub fn umount2(&self, target: &CStr, flags: i32) -> Result<(), Errno> {
        self.call(sysnr::UMOUNT2, [cstr_arg(target), flags.into(), 0, 0, 0, 0])
            .map(drop)
    }

    pub fn getpid(&self) -> Result<i32, Errno> {
        self.call(sysnr::GETPID, [0; 6]).map(|pid| pid as i32)
    }

    /// Returns `[read end, write end]`.
    pub fn pipe2(&self, flags: i32) -> Result<[LklFd; 2], Errno> {
        let mut fds: [c_int; 2] = [-1, -1];
        let fds_ptr = fds.as_mut_ptr() as i64;
        self.call(sysnr::PIPE2, [fds_ptr, flags.into(), 0, 0, 0, 0])?;
        Ok(fds)
    }

    pub fn dup3(&self, old_fd: LklFd, new_fd: LklFd, flags: i32) -> Result<LklFd, Errno> {
        let args = [old_fd.into(), new_fd.into(), flags.into(), 0, 0, 0];
        self.call(sysnr::DUP3, args).map(|fd| fd as LklFd)
    }

    /// Sleeps in the kernel (its timers, not the host's) for `duration`.
    pub fn nanosleep(&self, duration: Duration) -> Result<(), Errno> {
        // __kernel_timespec is {i64 tv_sec; i64 tv_nsec} on 64-bit, the layout of libc::timespec.
        let request = libc::timespec {
            tv_sec: duration.as_secs().try_into().map_err(|_| Errno::EINVAL)?,
            tv_nsec: i64::from(duration.subsec_nanos()),
        };
        let request_ptr = ptr::from_ref(&request) as i64;
        self.call(sysnr::NANOSLEEP, [request_ptr, 0, 0, 0, 0, 0])
            .map(drop)
    }

    /// The kernel's `new_utsname` (sysname, nodename, release, version, machine, domainname).
    pub fn uname(&self) -> Result<libc::utsname, Errno> {
        // SAFETY: libc::utsname is six arrays of c_char; all-zero is valid.
        let mut names: libc::utsname = unsafe { core::mem::zeroed() };
        let names_ptr = ptr::from_mut(&mut names) as i64;
        self.call(sysnr::UNAME, [names_ptr, 0, 0, 0, 0, 0])?;
        Ok(names)
    }

    pub fn sync(&self) -> Result<(), Errno> {
        self.call(sysnr::SYNC, [0; 6]).map(drop)
    }

    /// `FUTEX_WAIT` (private) on `word`, a futex in this process's memory: sleeps in the kernel
    /// while `word` holds `expected`, until a [`Kernel::futex_wake`] on it or `timeout`
    /// (relative) passes. `EAGAIN`: `word` did not hold `expected`; `ETIMEDOUT`: timed out.
    pub fn futex_wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let timeout = timeout
            .map(|timeout| {
                Ok::<_, Errno>(libc::timespec {
                    tv_sec: timeout.as_secs().try_into().map_err(|_| Errno::EINVAL)?,
                    tv_nsec: i64::from(timeout.subsec_nanos()),
                })
            })
            .transpose()?;
        let timeout_ptr = timeout.as_ref().map_or(0, |ts| ptr::from_ref(ts) as i64);
        let op = libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG;
        let args = [
            word.as_ptr() as i64,
            op.into(),
            expected.into(),
            timeout_ptr,
            0,
            0,
        ];
        self.call(sysnr::FUTEX, args).map(drop)
    }

    /// `FUTEX_WAKE` (private): wakes up to `count` waiters on `word`; returns how many woke.
    pub fn futex_wake(&self, word: &AtomicU32, count: u32) -> Result<usize, Errno> {
        let op = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;
        let args = [word.as_ptr() as i64, op.into(), count.into(), 0, 0, 0];
        self.call(sysnr::FUTEX, args).map(|n| n as usize)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// struct new_utsname is 6 fields of __NEW_UTS_LEN + 1 = 65 bytes; glibc's utsname matches.
const _: () = assert!(core::mem::size_of::<libc::utsname>() == 6 * 65);

impl Drop for Kernel {
    fn drop(&mut self) {
        if let Err(err) = self.halt() {
            log::warn!("halting the LKL kernel on drop failed: {err}");
        }
    }
}

/// Splits `lkl_syscall`'s return value into a result or the kernel's errno.
/// A syscall on the calling host thread's own task, for threads that hold no [`Kernel`]
/// reference (stdio pumps). After the kernel halts it fails with ENODEV.
///
/// # Safety
/// As [`Kernel::syscall6`]: pointer arguments must be valid for what the syscall does.
pub unsafe fn thread_syscall(nr: i64, args: [i64; 6]) -> Result<i64, Errno> {
    let mut params: [c_long; 6] = args;
    // SAFETY: params holds 6 longs; the caller vouches for pointers inside them.
    errno_result(unsafe { ffi::lkl_syscall(nr, params.as_mut_ptr()) })
}

fn errno_result(ret: i64) -> Result<i64, Errno> {
    if (-MAX_ERRNO..0).contains(&ret) {
        Err(Errno::from_raw((-ret) as i32))
    } else {
        Ok(ret)
    }
}

fn lkl_error(op: &'static str, ret: i64) -> LklError {
    let errno = errno_result(ret).err().unwrap_or(Errno::UnknownErrno);
    LklError { op, errno }
}

fn cstr_arg(value: &CStr) -> i64 {
    value.as_ptr() as i64
}

fn optional_cstr_arg(value: Option<&CStr>) -> i64 {
    value.map_or(0, cstr_arg)
}

fn buf_arg(buf: &[u8]) -> i64 {
    buf.as_ptr() as i64
}

fn mut_buf_arg(buf: &mut [u8]) -> i64 {
    buf.as_mut_ptr() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_errno_range_becomes_errno() {
        assert_eq!(errno_result(-2), Err(Errno::ENOENT));
        assert_eq!(errno_result(-4095), Err(Errno::from_raw(4095)));
        assert_eq!(errno_result(0), Ok(0));
        assert_eq!(errno_result(7), Ok(7));
        // Results below -4095 are values (e.g. a high address), not errors.
        assert_eq!(errno_result(-4096), Ok(-4096));
    }

    #[test]
    fn boot_cmdline_puts_memory_first() {
        let cmdline = boot_cmdline("  loglevel=4 quiet ", 64).unwrap();
        assert_eq!(cmdline.to_str().unwrap(), "mem=64M loglevel=4 quiet");
        assert_eq!(boot_cmdline("", 32).unwrap().to_str().unwrap(), "mem=32M");
    }

    #[test]
    fn boot_cmdline_rejects_conflicts() {
        assert!(matches!(
            boot_cmdline("mem=1G", 64),
            Err(KernelError::InvalidCmdline { .. })
        ));
        assert!(boot_cmdline("a\0b", 64).is_err());
        assert!(boot_cmdline("quiet", 0).is_err());
    }
}
