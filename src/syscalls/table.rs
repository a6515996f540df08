//! The syscall table: for every x86_64 syscall a guest may make, who serves it and how far
//! it is supported. Syscalls not listed fail with ENOSYS.
//!
//! - `Host`: runs on the host kernel at native speed (memory, futexes, signals, scheduling,
//!   time, process lifecycle): the guest's processes are host processes.
//! - `Kernel`: served by the container's own kernel (files, directories, pipes, sockets,
//!   polling, credentials, mounts, /proc, ...), arguments copied across as described.
//! - `Emulated`: the supervisor's own logic, usually around a kernel call (exec, file
//!   mappings, signals to other guests, ...).
//! - `Refused`: would act on the host beyond the guest's own processes; fails in the filter.

use libc::*;

use super::emulate::Emulation;
use super::kernel::{Arg, Arg::*, KernelCall};
use crate::lkl::sysnr as k;

#[derive(Debug)]
pub enum Disposition {
    Host,
    Kernel(KernelCall),
    Emulated(Emulation),
    /// Fails in the seccomp filter (with EPERM; the value is the errno reported when a
    /// transport without a filter meets it).
    Refused(i32),
}

#[derive(Debug)]
pub struct Entry {
    /// x86_64 syscall number.
    pub nr: i64,
    pub name: &'static str,
    pub disposition: Disposition,
    /// How far the syscall is supported.
    pub note: &'static str,
}

const FD: i64 = AT_FDCWD as i64;

macro_rules! table {
    ($( $nr:ident => $disp:expr, $note:literal; )*) => {
        pub static TABLE: &[Entry] = &[
            $( Entry { nr: $nr, name: stringify!($nr), disposition: $disp, note: $note }, )*
        ];
    };
}

const fn kern(lkl: i64, args: &'static [Arg]) -> Disposition {
    Disposition::Kernel(KernelCall { lkl, args })
}

const fn out(ptr: usize, size: usize) -> Arg {
    Out {
        ptr,
        size,
        opt: false,
    }
}
const fn out_opt(ptr: usize, size: usize) -> Arg {
    Out {
        ptr,
        size,
        opt: true,
    }
}
const fn inp(ptr: usize, size: usize) -> Arg {
    In {
        ptr,
        size,
        opt: false,
    }
}
const fn inp_opt(ptr: usize, size: usize) -> Arg {
    In {
        ptr,
        size,
        opt: true,
    }
}
const fn inout_opt(ptr: usize, size: usize) -> Arg {
    InOut {
        ptr,
        size,
        opt: true,
    }
}

use Disposition::{Emulated as E, Host, Refused};

table! {
    // --- files: read and write
    SYS_read => kern(k::READ, &[Val(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_write => kern(k::WRITE, &[Val(0), InBuf { ptr: 1, len: 2 }, Val(2)]), "full (at most 1 MiB per call)";
    SYS_pread64 => kern(k::PREAD64, &[Val(0), OutBuf { ptr: 1, len: 2 }, Val(2), Val(3)]), "full";
    SYS_pwrite64 => kern(k::PWRITE64, &[Val(0), InBuf { ptr: 1, len: 2 }, Val(2), Val(3)]), "full";
    SYS_readv => E(Emulation::Readv), "full, gathered through one buffer";
    SYS_writev => E(Emulation::Writev), "full, gathered through one buffer";
    SYS_preadv => E(Emulation::Preadv), "full";
    SYS_pwritev => E(Emulation::Pwritev), "full";
    SYS_lseek => kern(k::LSEEK, &[Val(0), Val(1), Val(2)]), "full";
    SYS_sendfile => kern(k::SENDFILE, &[Val(0), Val(1), inout_opt(2, 8), Val(3)]), "full";
    SYS_copy_file_range => kern(k::COPY_FILE_RANGE, &[Val(0), inout_opt(1, 8), Val(2), inout_opt(3, 8), Val(4), Val(5)]), "full";
    SYS_fsync => kern(k::FSYNC, &[Val(0)]), "full";
    SYS_fdatasync => kern(k::FDATASYNC, &[Val(0)]), "full";
    SYS_sync => kern(k::SYNC, &[]), "the container kernel's filesystems";
    SYS_syncfs => kern(k::SYNCFS, &[Val(0)]), "full";
    SYS_truncate => kern(k::TRUNCATE, &[Str(0), Val(1)]), "full";
    SYS_ftruncate => kern(k::FTRUNCATE, &[Val(0), Val(1)]), "full";
    SYS_fallocate => kern(k::FALLOCATE, &[Val(0), Val(1), Val(2), Val(3)]), "full";
    SYS_fadvise64 => kern(k::FADVISE64, &[Val(0), Val(1), Val(2), Val(3)]), "full";

    // --- files: open and descriptors
    SYS_open => kern(k::OPENAT, &[Const(FD), Str(0), Val(1), Val(2)]), "full";
    SYS_openat => kern(k::OPENAT, &[Val(0), Str(1), Val(2), Val(3)]), "full";
    SYS_creat => kern(k::OPENAT, &[Const(FD), Str(0), Const((O_CREAT | O_WRONLY | O_TRUNC) as i64), Val(1)]), "full";
    SYS_close => kern(k::CLOSE, &[Val(0)]), "full";
    SYS_close_range => kern(k::CLOSE_RANGE, &[Val(0), Val(1), Val(2)]), "full";
    SYS_dup => kern(k::DUP, &[Val(0)]), "full";
    SYS_dup2 => E(Emulation::Dup2), "full (dup3, or a check when both are the same)";
    SYS_dup3 => kern(k::DUP3, &[Val(0), Val(1), Val(2)]), "full";
    SYS_fcntl => E(Emulation::Fcntl), "full; record locks copied both ways";
    SYS_flock => kern(k::FLOCK, &[Val(0), Val(1)]), "full";
    SYS_ioctl => E(Emulation::Ioctl), "terminal, FIONREAD/FIONBIO and size-encoded requests";
    SYS_pipe => kern(k::PIPE2, &[out(0, 8), Const(0)]), "full";
    SYS_pipe2 => kern(k::PIPE2, &[out(0, 8), Val(1)]), "full";

    // --- files: metadata and directories
    SYS_stat => kern(k::NEWFSTATAT, &[Const(FD), Str(0), Stat(1), Const(0)]), "full, converted to the host layout";
    SYS_lstat => kern(k::NEWFSTATAT, &[Const(FD), Str(0), Stat(1), Const(AT_SYMLINK_NOFOLLOW as i64)]), "full";
    SYS_fstat => kern(k::FSTAT, &[Val(0), Stat(1)]), "full";
    SYS_newfstatat => kern(k::NEWFSTATAT, &[Val(0), Str(1), Stat(2), Val(3)]), "full";
    SYS_statx => kern(k::STATX, &[Val(0), Str(1), Val(2), Val(3), out(4, 256)]), "full (same layout on both)";
    SYS_statfs => kern(k::STATFS, &[Str(0), out(1, 120)]), "full";
    SYS_fstatfs => kern(k::FSTATFS, &[Val(0), out(1, 120)]), "full";
    SYS_getdents64 => kern(k::GETDENTS64, &[Val(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_access => kern(k::FACCESSAT, &[Const(FD), Str(0), Val(1)]), "full";
    SYS_faccessat => kern(k::FACCESSAT, &[Val(0), Str(1), Val(2)]), "full";
    SYS_faccessat2 => kern(k::FACCESSAT2, &[Val(0), Str(1), Val(2), Val(3)]), "full";
    SYS_mkdir => kern(k::MKDIRAT, &[Const(FD), Str(0), Val(1)]), "full";
    SYS_mkdirat => kern(k::MKDIRAT, &[Val(0), Str(1), Val(2)]), "full";
    SYS_rmdir => kern(k::UNLINKAT, &[Const(FD), Str(0), Const(AT_REMOVEDIR as i64)]), "full";
    SYS_unlink => kern(k::UNLINKAT, &[Const(FD), Str(0), Const(0)]), "full";
    SYS_unlinkat => kern(k::UNLINKAT, &[Val(0), Str(1), Val(2)]), "full";
    SYS_rename => kern(k::RENAMEAT2, &[Const(FD), Str(0), Const(FD), Str(1), Const(0)]), "full";
    SYS_renameat => kern(k::RENAMEAT2, &[Val(0), Str(1), Val(2), Str(3), Const(0)]), "full";
    SYS_renameat2 => kern(k::RENAMEAT2, &[Val(0), Str(1), Val(2), Str(3), Val(4)]), "full";
    SYS_link => kern(k::LINKAT, &[Const(FD), Str(0), Const(FD), Str(1), Const(0)]), "full";
    SYS_linkat => kern(k::LINKAT, &[Val(0), Str(1), Val(2), Str(3), Val(4)]), "full";
    SYS_symlink => kern(k::SYMLINKAT, &[Str(0), Const(FD), Str(1)]), "full";
    SYS_symlinkat => kern(k::SYMLINKAT, &[Str(0), Val(1), Str(2)]), "full";
    SYS_readlink => kern(k::READLINKAT, &[Const(FD), Str(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_readlinkat => kern(k::READLINKAT, &[Val(0), Str(1), OutBuf { ptr: 2, len: 3 }, Val(3)]), "full";
    SYS_chmod => kern(k::FCHMODAT, &[Const(FD), Str(0), Val(1)]), "full";
    SYS_fchmod => kern(k::FCHMOD, &[Val(0), Val(1)]), "full";
    SYS_fchmodat => kern(k::FCHMODAT, &[Val(0), Str(1), Val(2)]), "full";
    SYS_chown => kern(k::FCHOWNAT, &[Const(FD), Str(0), Val(1), Val(2), Const(0)]), "full";
    SYS_lchown => kern(k::FCHOWNAT, &[Const(FD), Str(0), Val(1), Val(2), Const(AT_SYMLINK_NOFOLLOW as i64)]), "full";
    SYS_fchown => kern(k::FCHOWN, &[Val(0), Val(1), Val(2)]), "full";
    SYS_fchownat => kern(k::FCHOWNAT, &[Val(0), Str(1), Val(2), Val(3), Val(4)]), "full";
    SYS_utimensat => kern(k::UTIMENSAT, &[Val(0), StrOpt(1), inp_opt(2, 32), Val(3)]), "full";
    SYS_mknod => kern(k::MKNODAT, &[Const(FD), Str(0), Val(1), Val(2)]), "full";
    SYS_mknodat => kern(k::MKNODAT, &[Val(0), Str(1), Val(2), Val(3)]), "full";
    SYS_umask => kern(k::UMASK, &[Val(0)]), "full";
    SYS_chdir => kern(k::CHDIR, &[Str(0)]), "full";
    SYS_fchdir => kern(k::FCHDIR, &[Val(0)]), "full";
    SYS_getcwd => kern(k::GETCWD, &[OutBuf { ptr: 0, len: 1 }, Val(1)]), "full";
    SYS_chroot => kern(k::CHROOT, &[Str(0)]), "inside the container kernel";
    SYS_getxattr => kern(k::GETXATTR, &[Str(0), Str(1), OutBuf { ptr: 2, len: 3 }, Val(3)]), "full";
    SYS_lgetxattr => kern(k::LGETXATTR, &[Str(0), Str(1), OutBuf { ptr: 2, len: 3 }, Val(3)]), "full";
    SYS_fgetxattr => kern(k::FGETXATTR, &[Val(0), Str(1), OutBuf { ptr: 2, len: 3 }, Val(3)]), "full";
    SYS_setxattr => kern(k::SETXATTR, &[Str(0), Str(1), InBuf { ptr: 2, len: 3 }, Val(3), Val(4)]), "full";
    SYS_lsetxattr => kern(k::LSETXATTR, &[Str(0), Str(1), InBuf { ptr: 2, len: 3 }, Val(3), Val(4)]), "full";
    SYS_fsetxattr => kern(k::FSETXATTR, &[Val(0), Str(1), InBuf { ptr: 2, len: 3 }, Val(3), Val(4)]), "full";
    SYS_listxattr => kern(k::LISTXATTR, &[Str(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_llistxattr => kern(k::LLISTXATTR, &[Str(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_flistxattr => kern(k::FLISTXATTR, &[Val(0), OutBuf { ptr: 1, len: 2 }, Val(2)]), "full";

    // --- polling and event descriptors
    SYS_poll => E(Emulation::Poll), "full (as ppoll)";
    SYS_ppoll => E(Emulation::Ppoll), "full; the signal mask is ignored";
    SYS_select => E(Emulation::Select), "full (as pselect6)";
    SYS_pselect6 => E(Emulation::Pselect6), "full; the signal mask is ignored";
    SYS_epoll_create => kern(k::EPOLL_CREATE1, &[Const(0)]), "full";
    SYS_epoll_create1 => kern(k::EPOLL_CREATE1, &[Val(0)]), "full";
    SYS_epoll_ctl => kern(k::EPOLL_CTL, &[Val(0), Val(1), Val(2), inp_opt(3, 12)]), "full";
    SYS_epoll_wait => kern(k::EPOLL_PWAIT, &[Val(0), OutArray { ptr: 1, count: 2, elem: 12 }, Val(2), Val(3), Const(0), Const(8)]), "full";
    SYS_epoll_pwait => kern(k::EPOLL_PWAIT, &[Val(0), OutArray { ptr: 1, count: 2, elem: 12 }, Val(2), Val(3), Const(0), Const(8)]), "full; the signal mask is ignored";
    SYS_eventfd => kern(k::EVENTFD2, &[Val(0), Const(0)]), "full";
    SYS_eventfd2 => kern(k::EVENTFD2, &[Val(0), Val(1)]), "full";
    SYS_timerfd_create => kern(k::TIMERFD_CREATE, &[Val(0), Val(1)]), "full";
    SYS_timerfd_settime => kern(k::TIMERFD_SETTIME, &[Val(0), Val(1), inp(2, 32), out_opt(3, 32)]), "full";
    SYS_timerfd_gettime => kern(k::TIMERFD_GETTIME, &[Val(0), out(1, 32)]), "full";
    SYS_inotify_init => kern(k::INOTIFY_INIT1, &[Const(0)]), "full";
    SYS_inotify_init1 => kern(k::INOTIFY_INIT1, &[Val(0)]), "full";
    SYS_inotify_add_watch => kern(k::INOTIFY_ADD_WATCH, &[Val(0), Str(1), Val(2)]), "full";
    SYS_inotify_rm_watch => kern(k::INOTIFY_RM_WATCH, &[Val(0), Val(1)]), "full";
    SYS_signalfd => Refused(ENOSYS), "signals are the host's; a kernel-side signalfd would never fire";
    SYS_signalfd4 => Refused(ENOSYS), "as signalfd";
    SYS_memfd_create => Refused(ENOSYS), "not yet: needs host-backed descriptors";

    // --- sockets (AF_UNIX inside the container kernel; no IP networking)
    SYS_socket => kern(k::SOCKET, &[Val(0), Val(1), Val(2)]), "AF_UNIX";
    SYS_socketpair => kern(k::SOCKETPAIR, &[Val(0), Val(1), Val(2), out(3, 8)]), "full";
    SYS_bind => kern(k::BIND, &[Val(0), InBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_connect => kern(k::CONNECT, &[Val(0), InBuf { ptr: 1, len: 2 }, Val(2)]), "full";
    SYS_listen => kern(k::LISTEN, &[Val(0), Val(1)]), "full";
    SYS_accept => kern(k::ACCEPT4, &[Val(0), Const(0), Const(0), Const(0)]), "peer address not returned";
    SYS_accept4 => kern(k::ACCEPT4, &[Val(0), Const(0), Const(0), Val(3)]), "peer address not returned";
    SYS_shutdown => kern(k::SHUTDOWN, &[Val(0), Val(1)]), "full";
    SYS_sendto => kern(k::SENDTO, &[Val(0), InBuf { ptr: 1, len: 2 }, Val(2), Val(3), Const(0), Const(0)]), "destination address ignored";
    SYS_recvfrom => kern(k::RECVFROM, &[Val(0), OutBuf { ptr: 1, len: 2 }, Val(2), Val(3), Const(0), Const(0)]), "source address not returned";
    SYS_setsockopt => kern(k::SETSOCKOPT, &[Val(0), Val(1), Val(2), InBuf { ptr: 3, len: 4 }, Val(4)]), "full";

    // --- identity inside the container kernel
    SYS_getuid => kern(k::GETUID, &[]), "the container kernel's credentials";
    SYS_geteuid => kern(k::GETEUID, &[]), "full";
    SYS_getgid => kern(k::GETGID, &[]), "full";
    SYS_getegid => kern(k::GETEGID, &[]), "full";
    SYS_getresuid => kern(k::GETRESUID, &[out(0, 4), out(1, 4), out(2, 4)]), "full";
    SYS_getresgid => kern(k::GETRESGID, &[out(0, 4), out(1, 4), out(2, 4)]), "full";
    SYS_setuid => kern(k::SETUID, &[Val(0)]), "full";
    SYS_setgid => kern(k::SETGID, &[Val(0)]), "full";
    SYS_setreuid => kern(k::SETREUID, &[Val(0), Val(1)]), "full";
    SYS_setregid => kern(k::SETREGID, &[Val(0), Val(1)]), "full";
    SYS_setresuid => kern(k::SETRESUID, &[Val(0), Val(1), Val(2)]), "full";
    SYS_setresgid => kern(k::SETRESGID, &[Val(0), Val(1), Val(2)]), "full";
    SYS_setfsuid => kern(k::SETFSUID, &[Val(0)]), "full";
    SYS_setfsgid => kern(k::SETFSGID, &[Val(0)]), "full";
    SYS_getgroups => kern(k::GETGROUPS, &[Val(0), OutArray { ptr: 1, count: 0, elem: 4 }]), "full";
    SYS_setgroups => kern(k::SETGROUPS, &[Val(0), InArray { ptr: 1, count: 0, elem: 4 }]), "full";
    SYS_capget => kern(k::CAPGET, &[InOut { ptr: 0, size: 8, opt: false }, out_opt(1, 24)]), "full";
    SYS_capset => kern(k::CAPSET, &[InOut { ptr: 0, size: 8, opt: false }, inp_opt(1, 24)]), "full";

    // --- the container kernel's view of the system
    SYS_uname => kern(k::UNAME, &[out(0, 390)]), "the container kernel";
    SYS_sethostname => kern(k::SETHOSTNAME, &[InBuf { ptr: 0, len: 1 }, Val(1)]), "the container kernel";
    SYS_setdomainname => kern(k::SETDOMAINNAME, &[InBuf { ptr: 0, len: 1 }, Val(1)]), "the container kernel";
    SYS_sysinfo => kern(k::SYSINFO, &[out(0, 112)]), "the container kernel";
    SYS_mount => kern(k::MOUNT, &[StrOpt(0), Str(1), StrOpt(2), Val(3), StrOpt(4)]), "inside the container kernel";
    SYS_umount2 => kern(k::UMOUNT2, &[Str(0), Val(1)]), "inside the container kernel";
    SYS_pivot_root => kern(k::PIVOT_ROOT, &[Str(0), Str(1)]), "inside the container kernel";

    // --- processes and threads: host processes, traced
    SYS_execve => E(Emulation::Execve), "programs from the image: static and dynamic ELF, #! scripts";
    SYS_execveat => E(Emulation::Execveat), "as execve, for paths";
    SYS_fork => Host, "traced: the child gets a fork of the parent's kernel task";
    SYS_vfork => Host, "as fork";
    SYS_clone => Host, "as fork; threads share the parent's task state per the flags";
    SYS_clone3 => Host, "as clone";
    SYS_exit => Host, "full";
    SYS_exit_group => Host, "full";
    SYS_wait4 => Host, "full";
    SYS_waitid => Host, "full";
    SYS_getpid => Host, "host pids";
    SYS_getppid => Host, "host pids";
    SYS_gettid => Host, "host pids";
    SYS_getpgrp => Host, "full";
    SYS_getpgid => E(Emulation::OwnPid(0)), "the container's processes";
    SYS_setpgid => Host, "full";
    SYS_getsid => E(Emulation::OwnPid(0)), "the container's processes";
    SYS_setsid => Host, "full";
    SYS_set_tid_address => Host, "full";
    SYS_set_robust_list => Host, "full";
    SYS_get_robust_list => E(Emulation::OwnPid(0)), "the container's threads";
    SYS_rseq => Host, "full";
    SYS_arch_prctl => Host, "full";
    SYS_prctl => Host, "full";
    SYS_personality => Host, "full";
    SYS_getrlimit => Host, "full";
    SYS_setrlimit => E(Emulation::Rlimit), "in the container kernel and on the host";
    SYS_prlimit64 => E(Emulation::Rlimit), "the container's processes, in its kernel and on the host";
    SYS_getrusage => Host, "full";
    SYS_times => Host, "full";
    SYS_getpriority => E(Emulation::Priority), "the container's processes and groups";
    SYS_setpriority => E(Emulation::Priority), "the container's processes and groups";
    SYS_seccomp => Host, "a guest may only restrict itself further";

    // --- signals: the host's, between the container's own processes
    SYS_rt_sigaction => Host, "full";
    SYS_rt_sigprocmask => Host, "full";
    SYS_rt_sigreturn => Host, "full";
    SYS_rt_sigpending => Host, "full";
    SYS_rt_sigsuspend => Host, "full";
    SYS_rt_sigtimedwait => Host, "full";
    SYS_rt_sigqueueinfo => E(Emulation::Kill), "only to the container's processes";
    SYS_rt_tgsigqueueinfo => E(Emulation::Tgkill), "only to the container's processes";
    SYS_sigaltstack => Host, "full";
    SYS_pause => Host, "full";
    SYS_alarm => Host, "full";
    SYS_kill => E(Emulation::Kill), "only to the container's processes";
    SYS_tkill => E(Emulation::Tkill), "only to the container's threads";
    SYS_tgkill => E(Emulation::Tgkill), "only to the container's threads";

    // --- memory: the host's
    SYS_mmap => E(Emulation::Mmap), "anonymous: host; files: private copies of the image's bytes";
    SYS_munmap => Host, "full";
    SYS_mprotect => Host, "full";
    SYS_mremap => Host, "full";
    SYS_madvise => Host, "full";
    SYS_brk => Host, "full";
    SYS_msync => Host, "full";
    SYS_mlock => Host, "full";
    SYS_munlock => Host, "full";
    SYS_mincore => Host, "full";
    SYS_membarrier => Host, "full";
    SYS_futex => Host, "full";
    SYS_getrandom => Host, "full";

    // --- time and scheduling: the host's
    SYS_nanosleep => Host, "full";
    SYS_clock_nanosleep => Host, "full";
    SYS_clock_gettime => Host, "full";
    SYS_clock_getres => Host, "full";
    SYS_gettimeofday => Host, "full";
    SYS_time => Host, "full";
    SYS_getitimer => Host, "full";
    SYS_setitimer => Host, "full";
    SYS_timer_create => Host, "full";
    SYS_timer_settime => Host, "full";
    SYS_timer_gettime => Host, "full";
    SYS_timer_getoverrun => Host, "full";
    SYS_timer_delete => Host, "full";
    SYS_sched_yield => Host, "full";
    SYS_sched_getaffinity => E(Emulation::OwnPid(0)), "the container's threads";
    SYS_sched_setaffinity => E(Emulation::OwnPid(0)), "the container's threads";
    SYS_sched_getparam => E(Emulation::OwnPid(0)), "the container's threads";
    SYS_sched_getscheduler => E(Emulation::OwnPid(0)), "the container's threads";
    SYS_sched_get_priority_max => Host, "full";
    SYS_sched_get_priority_min => Host, "full";
    SYS_getcpu => Host, "full";

    // --- refused: would reach the host beyond the guest's own processes
    SYS_ptrace => Refused(EPERM), "the supervisor is the only tracer";
    SYS_process_vm_readv => Refused(EPERM), "refused";
    SYS_process_vm_writev => Refused(EPERM), "refused";
    SYS_kexec_load => Refused(EPERM), "refused";
    SYS_kexec_file_load => Refused(EPERM), "refused";
    SYS_init_module => Refused(EPERM), "refused";
    SYS_finit_module => Refused(EPERM), "refused";
    SYS_delete_module => Refused(EPERM), "refused";
    SYS_bpf => Refused(EPERM), "refused";
    SYS_perf_event_open => Refused(EPERM), "refused";
    SYS_reboot => Refused(EPERM), "refused";
    SYS_swapon => Refused(EPERM), "refused";
    SYS_swapoff => Refused(EPERM), "refused";
    SYS_acct => Refused(EPERM), "refused";
    SYS_iopl => Refused(EPERM), "refused";
    SYS_ioperm => Refused(EPERM), "refused";
    SYS_settimeofday => Refused(EPERM), "the host's clock";
    SYS_clock_settime => Refused(EPERM), "the host's clock";
    SYS_clock_adjtime => Refused(EPERM), "the host's clock";
    SYS_adjtimex => Refused(EPERM), "the host's clock";
    SYS_open_by_handle_at => Refused(EPERM), "refused";
    SYS_name_to_handle_at => Refused(EPERM), "refused";
    SYS_userfaultfd => Refused(EPERM), "refused";
    SYS_keyctl => Refused(EPERM), "refused";
    SYS_add_key => Refused(EPERM), "refused";
    SYS_request_key => Refused(EPERM), "refused";
    SYS_unshare => Refused(EPERM), "the container already has its own kernel";
    SYS_setns => Refused(EPERM), "refused";
    SYS_pidfd_open => Refused(EPERM), "not yet";
    SYS_pidfd_send_signal => Refused(EPERM), "not yet";
    SYS_pidfd_getfd => Refused(EPERM), "refused";
    SYS_process_madvise => Refused(EPERM), "refused";
    SYS_kcmp => Refused(EPERM), "refused";
    SYS_fanotify_init => Refused(EPERM), "refused";
    SYS_quotactl => Refused(EPERM), "refused";
    SYS_modify_ldt => Refused(EPERM), "refused";
    SYS_vhangup => Refused(EPERM), "refused";
    SYS_io_uring_setup => Refused(EPERM), "refused";
    SYS_io_uring_enter => Refused(EPERM), "refused";
    SYS_io_uring_register => Refused(EPERM), "refused";
    SYS_mount_setattr => Refused(EPERM), "not yet";
    SYS_move_mount => Refused(EPERM), "not yet";
    SYS_open_tree => Refused(EPERM), "not yet";
    SYS_fsopen => Refused(EPERM), "not yet";
    SYS_fsmount => Refused(EPERM), "not yet";
    SYS_fsconfig => Refused(EPERM), "not yet";
    SYS_fspick => Refused(EPERM), "not yet";
    SYS_lookup_dcookie => Refused(EPERM), "refused";
    SYS_nfsservctl => Refused(EPERM), "refused";
    SYS_syslog => Refused(EPERM), "the host's log";
}

/// The entry for x86_64 syscall `nr`.
pub fn lookup(nr: i64) -> Option<&'static Entry> {
    static INDEX: std::sync::OnceLock<Vec<Option<u16>>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = vec![None; 512];
        for (i, entry) in TABLE.iter().enumerate() {
            index[entry.nr as usize] = Some(i as u16);
        }
        index
    });
    let slot = usize::try_from(nr).ok()?;
    index
        .get(slot)
        .copied()
        .flatten()
        .map(|i| &TABLE[i as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syscall_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for entry in TABLE {
            assert!(seen.insert(entry.nr), "{} listed twice", entry.name);
        }
    }

    #[test]
    fn lookup_finds_entries_and_rejects_unknown_numbers() {
        assert_eq!(lookup(SYS_openat).map(|e| e.name), Some("SYS_openat"));
        assert!(lookup(-1).is_none());
        assert!(lookup(100_000).is_none());
        assert!(matches!(
            lookup(SYS_ptrace).unwrap().disposition,
            Disposition::Refused(_)
        ));
    }

    #[test]
    fn stat_conversion_targets_the_host_layout() {
        assert_eq!(std::mem::size_of::<libc::stat>(), 144);
    }
}
