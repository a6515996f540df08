//! System call numbers of LKL, which uses the asm-generic table.
//!
//! Transcribed from `include/uapi/asm-generic/unistd.h` of Linux 6.12 as seen by a 64-bit,
//! non-compat build (`__BITS_PER_LONG == 64`): the `__NR3264_*` entries carry their 64-bit
//! names (`fcntl`, `lseek`, `newfstatat`, `fstat`, `mmap`, ...), the `*_time64` calls of
//! 32-bit ABIs (403..=423) do not exist, and `sync_file_range` (not `sync_file_range2`) is 84.
//! Cross-checked against `scripts/syscall.tbl` of the same kernel (from which 6.12 generates
//! the table) with the ABIs `common`, `64`, `renameat` and `rlimit`: the last two are the
//! optional ABIs kbox's port enables (`lkl/arch/lkl/kernel/Makefile.syscalls`). Entries
//! that are optional or configuration-dependent say so.
//!
//! These numbers are NOT the host's x86_64 numbers (host `openat` is 257, LKL's is 56):
//! translate through [`name`] or the constants, never pass a host number to LKL.

macro_rules! syscall_table {
    ($($(#[$doc:meta])* $konst:ident => $name:literal = $nr:literal;)*) => {
        $(
            $(#[$doc])*
            pub const $konst: i64 = $nr;
        )*

        /// Every syscall above as `(number, name)`, in ascending number order.
        pub const ALL: &[(i64, &str)] = &[$(($nr, $name)),*];
    };
}

syscall_table! {
IO_SETUP => "io_setup" = 0;
    IO_DESTROY => "io_destroy" = 1;
    IO_SUBMIT => "io_submit" = 2;
    IO_CANCEL => "io_cancel" = 3;
    IO_GETEVENTS => "io_getevents" = 4;
    SETXATTR => "setxattr" = 5;
    LSETXATTR => "lsetxattr" = 6;
    FSETXATTR => "fsetxattr" = 7;
    GETXATTR => "getxattr" = 8;
    LGETXATTR => "lgetxattr" = 9;
    FGETXATTR => "fgetxattr" = 10;
    LISTXATTR => "listxattr" = 11;
    LLISTXATTR => "llistxattr" = 12;
    FLISTXATTR => "flistxattr" = 13;
    REMOVEXATTR => "removexattr" = 14;
    LREMOVEXATTR => "lremovexattr" = 15;
    FREMOVEXATTR => "fremovexattr" = 16;
    GETCWD => "getcwd" = 17;
    LOOKUP_DCOOKIE => "lookup_dcookie" = 18;
    EVENTFD2 => "eventfd2" = 19;
    EPOLL_CREATE1 => "epoll_create1" = 20;
    EPOLL_CTL => "epoll_ctl" = 21;
    EPOLL_PWAIT => "epoll_pwait" = 22;
    DUP => "dup" = 23;
    DUP3 => "dup3" = 24;
    FCNTL => "fcntl" = 25;
    INOTIFY_INIT1 => "inotify_init1" = 26;
    INOTIFY_ADD_WATCH => "inotify_add_watch" = 27;
    INOTIFY_RM_WATCH => "inotify_rm_watch" = 28;
    IOCTL => "ioctl" = 29;
    IOPRIO_SET => "ioprio_set" = 30;
    IOPRIO_GET => "ioprio_get" = 31;
    FLOCK => "flock" = 32;
    MKNODAT => "mknodat" = 33;
    MKDIRAT => "mkdirat" = 34;
    UNLINKAT => "unlinkat" = 35;
    SYMLINKAT => "symlinkat" = 36;
    LINKAT => "linkat" = 37;
    /// Optional ABI `renameat` (`__ARCH_WANT_RENAMEAT`), which kbox's port enables.
    RENAMEAT => "renameat" = 38;
    UMOUNT2 => "umount2" = 39;
    MOUNT => "mount" = 40;
    PIVOT_ROOT => "pivot_root" = 41;
    NFSSERVCTL => "nfsservctl" = 42;
    STATFS => "statfs" = 43;
    FSTATFS => "fstatfs" = 44;
    TRUNCATE => "truncate" = 45;
    FTRUNCATE => "ftruncate" = 46;
    FALLOCATE => "fallocate" = 47;
    FACCESSAT => "faccessat" = 48;
    CHDIR => "chdir" = 49;
    FCHDIR => "fchdir" = 50;
    CHROOT => "chroot" = 51;
    FCHMOD => "fchmod" = 52;
    FCHMODAT => "fchmodat" = 53;
    FCHOWNAT => "fchownat" = 54;
    FCHOWN => "fchown" = 55;
    OPENAT => "openat" = 56;
    CLOSE => "close" = 57;
    VHANGUP => "vhangup" = 58;
    PIPE2 => "pipe2" = 59;
    QUOTACTL => "quotactl" = 60;
    GETDENTS64 => "getdents64" = 61;
    LSEEK => "lseek" = 62;
    READ => "read" = 63;
    WRITE => "write" = 64;
    READV => "readv" = 65;
    WRITEV => "writev" = 66;
    PREAD64 => "pread64" = 67;
    PWRITE64 => "pwrite64" = 68;
    PREADV => "preadv" = 69;
    PWRITEV => "pwritev" = 70;
    SENDFILE => "sendfile" = 71;
    PSELECT6 => "pselect6" = 72;
    PPOLL => "ppoll" = 73;
    SIGNALFD4 => "signalfd4" = 74;
    VMSPLICE => "vmsplice" = 75;
    SPLICE => "splice" = 76;
    TEE => "tee" = 77;
    READLINKAT => "readlinkat" = 78;
    /// 64-bit ABI only (`__ARCH_WANT_NEW_STAT` in the header).
    NEWFSTATAT => "newfstatat" = 79;
    /// 64-bit ABI only (`__ARCH_WANT_NEW_STAT` in the header).
    FSTAT => "fstat" = 80;
    SYNC => "sync" = 81;
    FSYNC => "fsync" = 82;
    FDATASYNC => "fdatasync" = 83;
    SYNC_FILE_RANGE => "sync_file_range" = 84;
    TIMERFD_CREATE => "timerfd_create" = 85;
    TIMERFD_SETTIME => "timerfd_settime" = 86;
    TIMERFD_GETTIME => "timerfd_gettime" = 87;
    UTIMENSAT => "utimensat" = 88;
    ACCT => "acct" = 89;
    CAPGET => "capget" = 90;
    CAPSET => "capset" = 91;
    PERSONALITY => "personality" = 92;
    EXIT => "exit" = 93;
    EXIT_GROUP => "exit_group" = 94;
    WAITID => "waitid" = 95;
    SET_TID_ADDRESS => "set_tid_address" = 96;
    UNSHARE => "unshare" = 97;
    FUTEX => "futex" = 98;
    SET_ROBUST_LIST => "set_robust_list" = 99;
    GET_ROBUST_LIST => "get_robust_list" = 100;
    NANOSLEEP => "nanosleep" = 101;
    GETITIMER => "getitimer" = 102;
    SETITIMER => "setitimer" = 103;
    KEXEC_LOAD => "kexec_load" = 104;
    INIT_MODULE => "init_module" = 105;
    DELETE_MODULE => "delete_module" = 106;
    TIMER_CREATE => "timer_create" = 107;
    TIMER_GETTIME => "timer_gettime" = 108;
    TIMER_GETOVERRUN => "timer_getoverrun" = 109;
    TIMER_SETTIME => "timer_settime" = 110;
    TIMER_DELETE => "timer_delete" = 111;
    CLOCK_SETTIME => "clock_settime" = 112;
    CLOCK_GETTIME => "clock_gettime" = 113;
    CLOCK_GETRES => "clock_getres" = 114;
    CLOCK_NANOSLEEP => "clock_nanosleep" = 115;
    SYSLOG => "syslog" = 116;
    PTRACE => "ptrace" = 117;
    SCHED_SETPARAM => "sched_setparam" = 118;
    SCHED_SETSCHEDULER => "sched_setscheduler" = 119;
    SCHED_GETSCHEDULER => "sched_getscheduler" = 120;
    SCHED_GETPARAM => "sched_getparam" = 121;
    SCHED_SETAFFINITY => "sched_setaffinity" = 122;
    SCHED_GETAFFINITY => "sched_getaffinity" = 123;
    SCHED_YIELD => "sched_yield" = 124;
    SCHED_GET_PRIORITY_MAX => "sched_get_priority_max" = 125;
    SCHED_GET_PRIORITY_MIN => "sched_get_priority_min" = 126;
    SCHED_RR_GET_INTERVAL => "sched_rr_get_interval" = 127;
    RESTART_SYSCALL => "restart_syscall" = 128;
    KILL => "kill" = 129;
    TKILL => "tkill" = 130;
    TGKILL => "tgkill" = 131;
    SIGALTSTACK => "sigaltstack" = 132;
    RT_SIGSUSPEND => "rt_sigsuspend" = 133;
    RT_SIGACTION => "rt_sigaction" = 134;
    RT_SIGPROCMASK => "rt_sigprocmask" = 135;
    RT_SIGPENDING => "rt_sigpending" = 136;
    RT_SIGTIMEDWAIT => "rt_sigtimedwait" = 137;
    RT_SIGQUEUEINFO => "rt_sigqueueinfo" = 138;
    RT_SIGRETURN => "rt_sigreturn" = 139;
    SETPRIORITY => "setpriority" = 140;
    GETPRIORITY => "getpriority" = 141;
    REBOOT => "reboot" = 142;
    SETREGID => "setregid" = 143;
    SETGID => "setgid" = 144;
    SETREUID => "setreuid" = 145;
    SETUID => "setuid" = 146;
    SETRESUID => "setresuid" = 147;
    GETRESUID => "getresuid" = 148;
    SETRESGID => "setresgid" = 149;
    GETRESGID => "getresgid" = 150;
    SETFSUID => "setfsuid" = 151;
    SETFSGID => "setfsgid" = 152;
    TIMES => "times" = 153;
    SETPGID => "setpgid" = 154;
    GETPGID => "getpgid" = 155;
    GETSID => "getsid" = 156;
    SETSID => "setsid" = 157;
    GETGROUPS => "getgroups" = 158;
    SETGROUPS => "setgroups" = 159;
    UNAME => "uname" = 160;
    SETHOSTNAME => "sethostname" = 161;
    SETDOMAINNAME => "setdomainname" = 162;
    /// Optional ABI `rlimit` (`__ARCH_WANT_SET_GET_RLIMIT`), which kbox's port enables.
    GETRLIMIT => "getrlimit" = 163;
    /// Optional ABI `rlimit` (`__ARCH_WANT_SET_GET_RLIMIT`), which kbox's port enables.
    SETRLIMIT => "setrlimit" = 164;
    GETRUSAGE => "getrusage" = 165;
    UMASK => "umask" = 166;
    PRCTL => "prctl" = 167;
    GETCPU => "getcpu" = 168;
    GETTIMEOFDAY => "gettimeofday" = 169;
    SETTIMEOFDAY => "settimeofday" = 170;
    ADJTIMEX => "adjtimex" = 171;
    GETPID => "getpid" = 172;
    GETPPID => "getppid" = 173;
    GETUID => "getuid" = 174;
    GETEUID => "geteuid" = 175;
    GETGID => "getgid" = 176;
    GETEGID => "getegid" = 177;
    GETTID => "gettid" = 178;
    SYSINFO => "sysinfo" = 179;
    MQ_OPEN => "mq_open" = 180;
    MQ_UNLINK => "mq_unlink" = 181;
    MQ_TIMEDSEND => "mq_timedsend" = 182;
    MQ_TIMEDRECEIVE => "mq_timedreceive" = 183;
    MQ_NOTIFY => "mq_notify" = 184;
    MQ_GETSETATTR => "mq_getsetattr" = 185;
    MSGGET => "msgget" = 186;
    MSGCTL => "msgctl" = 187;
    MSGRCV => "msgrcv" = 188;
    MSGSND => "msgsnd" = 189;
    SEMGET => "semget" = 190;
    SEMCTL => "semctl" = 191;
    SEMTIMEDOP => "semtimedop" = 192;
    SEMOP => "semop" = 193;
    SHMGET => "shmget" = 194;
    SHMCTL => "shmctl" = 195;
    SHMAT => "shmat" = 196;
    SHMDT => "shmdt" = 197;
    SOCKET => "socket" = 198;
    SOCKETPAIR => "socketpair" = 199;
    BIND => "bind" = 200;
    LISTEN => "listen" = 201;
    ACCEPT => "accept" = 202;
    CONNECT => "connect" = 203;
    GETSOCKNAME => "getsockname" = 204;
    GETPEERNAME => "getpeername" = 205;
    SENDTO => "sendto" = 206;
    RECVFROM => "recvfrom" = 207;
    SETSOCKOPT => "setsockopt" = 208;
    GETSOCKOPT => "getsockopt" = 209;
    SHUTDOWN => "shutdown" = 210;
    SENDMSG => "sendmsg" = 211;
    RECVMSG => "recvmsg" = 212;
    READAHEAD => "readahead" = 213;
    BRK => "brk" = 214;
    MUNMAP => "munmap" = 215;
    MREMAP => "mremap" = 216;
    ADD_KEY => "add_key" = 217;
    REQUEST_KEY => "request_key" = 218;
    KEYCTL => "keyctl" = 219;
    CLONE => "clone" = 220;
    EXECVE => "execve" = 221;
    MMAP => "mmap" = 222;
    FADVISE64 => "fadvise64" = 223;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    SWAPON => "swapon" = 224;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    SWAPOFF => "swapoff" = 225;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MPROTECT => "mprotect" = 226;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MSYNC => "msync" = 227;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MLOCK => "mlock" = 228;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MUNLOCK => "munlock" = 229;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MLOCKALL => "mlockall" = 230;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MUNLOCKALL => "munlockall" = 231;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MINCORE => "mincore" = 232;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MADVISE => "madvise" = 233;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    REMAP_FILE_PAGES => "remap_file_pages" = 234;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MBIND => "mbind" = 235;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    GET_MEMPOLICY => "get_mempolicy" = 236;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    SET_MEMPOLICY => "set_mempolicy" = 237;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MIGRATE_PAGES => "migrate_pages" = 238;
    /// MMU-only (`#ifndef __ARCH_NOMMU`): `ENOSYS` in a NOMMU kernel.
    MOVE_PAGES => "move_pages" = 239;
    RT_TGSIGQUEUEINFO => "rt_tgsigqueueinfo" = 240;
    PERF_EVENT_OPEN => "perf_event_open" = 241;
    ACCEPT4 => "accept4" = 242;
    RECVMMSG => "recvmmsg" = 243;
    WAIT4 => "wait4" = 260;
    PRLIMIT64 => "prlimit64" = 261;
    FANOTIFY_INIT => "fanotify_init" = 262;
    FANOTIFY_MARK => "fanotify_mark" = 263;
    NAME_TO_HANDLE_AT => "name_to_handle_at" = 264;
    OPEN_BY_HANDLE_AT => "open_by_handle_at" = 265;
    CLOCK_ADJTIME => "clock_adjtime" = 266;
    SYNCFS => "syncfs" = 267;
    SETNS => "setns" = 268;
    SENDMMSG => "sendmmsg" = 269;
    PROCESS_VM_READV => "process_vm_readv" = 270;
    PROCESS_VM_WRITEV => "process_vm_writev" = 271;
    KCMP => "kcmp" = 272;
    FINIT_MODULE => "finit_module" = 273;
    SCHED_SETATTR => "sched_setattr" = 274;
    SCHED_GETATTR => "sched_getattr" = 275;
    RENAMEAT2 => "renameat2" = 276;
    SECCOMP => "seccomp" = 277;
    GETRANDOM => "getrandom" = 278;
    MEMFD_CREATE => "memfd_create" = 279;
    BPF => "bpf" = 280;
    EXECVEAT => "execveat" = 281;
    USERFAULTFD => "userfaultfd" = 282;
    MEMBARRIER => "membarrier" = 283;
    MLOCK2 => "mlock2" = 284;
    COPY_FILE_RANGE => "copy_file_range" = 285;
    PREADV2 => "preadv2" = 286;
    PWRITEV2 => "pwritev2" = 287;
    PKEY_MPROTECT => "pkey_mprotect" = 288;
    PKEY_ALLOC => "pkey_alloc" = 289;
    PKEY_FREE => "pkey_free" = 290;
    STATX => "statx" = 291;
    IO_PGETEVENTS => "io_pgetevents" = 292;
    RSEQ => "rseq" = 293;
    KEXEC_FILE_LOAD => "kexec_file_load" = 294;
    PIDFD_SEND_SIGNAL => "pidfd_send_signal" = 424;
    IO_URING_SETUP => "io_uring_setup" = 425;
    IO_URING_ENTER => "io_uring_enter" = 426;
    IO_URING_REGISTER => "io_uring_register" = 427;
    OPEN_TREE => "open_tree" = 428;
    MOVE_MOUNT => "move_mount" = 429;
    FSOPEN => "fsopen" = 430;
    FSCONFIG => "fsconfig" = 431;
    FSMOUNT => "fsmount" = 432;
    FSPICK => "fspick" = 433;
    PIDFD_OPEN => "pidfd_open" = 434;
    CLONE3 => "clone3" = 435;
    CLOSE_RANGE => "close_range" = 436;
    OPENAT2 => "openat2" = 437;
    PIDFD_GETFD => "pidfd_getfd" = 438;
    FACCESSAT2 => "faccessat2" = 439;
    PROCESS_MADVISE => "process_madvise" = 440;
    EPOLL_PWAIT2 => "epoll_pwait2" = 441;
    MOUNT_SETATTR => "mount_setattr" = 442;
    QUOTACTL_FD => "quotactl_fd" = 443;
    LANDLOCK_CREATE_RULESET => "landlock_create_ruleset" = 444;
    LANDLOCK_ADD_RULE => "landlock_add_rule" = 445;
    LANDLOCK_RESTRICT_SELF => "landlock_restrict_self" = 446;
    /// Optional ABI `memfd_secret`, which kbox's port does not enable.
    MEMFD_SECRET => "memfd_secret" = 447;
    PROCESS_MRELEASE => "process_mrelease" = 448;
    FUTEX_WAITV => "futex_waitv" = 449;
    SET_MEMPOLICY_HOME_NODE => "set_mempolicy_home_node" = 450;
    CACHESTAT => "cachestat" = 451;
    FCHMODAT2 => "fchmodat2" = 452;
    MAP_SHADOW_STACK => "map_shadow_stack" = 453;
    FUTEX_WAKE => "futex_wake" = 454;
    FUTEX_WAIT => "futex_wait" = 455;
    FUTEX_REQUEUE => "futex_requeue" = 456;
    STATMOUNT => "statmount" = 457;
    LISTMOUNT => "listmount" = 458;
    LSM_GET_SELF_ATTR => "lsm_get_self_attr" = 459;
    LSM_SET_SELF_ATTR => "lsm_set_self_attr" = 460;
    LSM_LIST_MODULES => "lsm_list_modules" = 461;
    MSEAL => "mseal" = 462;
}

/// First of the numbers (244..=259) an architecture may use for syscalls of its own.
pub const ARCH_SPECIFIC_SYSCALL: i64 = 244;

/// One past the highest syscall number of the table (`__NR_syscalls`).
pub const NR_SYSCALLS: i64 = 463;

/// The name of LKL syscall `nr`, for logs and error messages.
pub fn name(nr: i64) -> Option<&'static str> {
    ALL.binary_search_by_key(&nr, |&(number, _)| number)
        .ok()
        .map(|index| ALL[index].1)
}

/// The LKL number of the syscall called `name` (e.g. `"openat"`).
pub fn number(name: &str) -> Option<i64> {
    ALL.iter()
        .find(|&&(_, candidate)| candidate == name)
        .map(|&(nr, _)| nr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_in_range() {
        for pair in ALL.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} then {:?}", pair[0], pair[1]);
        }
        assert!(ALL.iter().all(|&(nr, _)| (0..NR_SYSCALLS).contains(&nr)));
        let mut names: Vec<&str> = ALL.iter().map(|&(_, name)| name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name appears twice");
    }

    #[test]
    fn spot_checks_against_asm_generic() {
        assert_eq!((OPENAT, CLOSE, READ, WRITE), (56, 57, 63, 64));
        assert_eq!((NEWFSTATAT, FSTAT, GETDENTS64), (79, 80, 61));
        assert_eq!((RENAMEAT, RENAMEAT2, STATX, MSEAL), (38, 276, 291, 462));
        assert_eq!(name(172), Some("getpid"));
        assert_eq!(number("mount"), Some(40));
        assert_eq!(name(ARCH_SPECIFIC_SYSCALL), None);
        assert_eq!(name(403), None, "32-bit time64 calls are absent on 64-bit");
    }
}
