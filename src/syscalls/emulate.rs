//! Syscalls the supervisor carries out itself, around calls into the container's kernel.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::kernel::{call, Arg, Arg::*, MAX_BUFFER};
use super::{Action, Call, Context, ExitHook, Served};
use crate::lkl::sysnr as k;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulation {
    Readv,
    Writev,
    Preadv,
    Pwritev,
    Dup2,
    Fcntl,
    Ioctl,
    Poll,
    Ppoll,
    Select,
    Pselect6,
    Execve,
    Execveat,
    Kill,
    Tkill,
    Tgkill,
    Mmap,
    /// A host call naming a process or group by the pid in this argument (0: the caller):
    /// guests run as host processes, so only the container's own may be named.
    OwnPid(usize),
    /// getpriority/setpriority: the container's processes and groups only.
    Priority,
    /// setrlimit/prlimit64: the limits hold in the container's kernel (fds, file sizes)
    /// as well as on the host (memory, CPU), so they are set in both.
    Rlimit,
}

fn errno_of(result: Result<i64, Errno>) -> i64 {
    result.unwrap_or_else(|e| -(e as i64))
}

fn done(result: Result<i64, Errno>, signals: u64) -> Served {
    Served {
        action: Action::Return(errno_of(result)),
        signals,
    }
}

fn kernel(ctx: &Context<'_>, lkl: i64, args: &[Arg], a: &[u64; 6]) -> Served {
    let (ret, signals) = call(ctx, lkl, args, a);
    done(ret, signals)
}

pub fn serve(ctx: &Context<'_>, emulation: Emulation, c: &Call) -> Served {
    let a = &c.args;
    match emulation {
        Emulation::Readv | Emulation::Preadv => vectored(ctx, c, false),
        Emulation::Writev | Emulation::Pwritev => vectored(ctx, c, true),
        Emulation::Dup2 => {
            if a[0] == a[1] {
                // dup2(fd, fd) checks fd and returns it.
                let (ret, signals) = call(ctx, k::FCNTL, &[Val(0), Const(libc::F_GETFD as i64)], a);
                done(ret.map(|_| a[1] as i64), signals)
            } else {
                kernel(ctx, k::DUP3, &[Val(0), Val(1), Const(0)], a)
            }
        }
        Emulation::Fcntl => fcntl(ctx, a),
        Emulation::Ioctl => ioctl(ctx, a),
        Emulation::Poll => poll(ctx, a),
        Emulation::Ppoll => {
            let fds = pollfds(a);
            kernel(
                ctx,
                k::PPOLL,
                &[
                    fds,
                    Val(1),
                    In {
                        ptr: 2,
                        size: 16,
                        opt: true,
                    },
                    Const(0),
                    Const(8),
                ],
                a,
            )
        }
        Emulation::Select | Emulation::Pselect6 => select(ctx, emulation, a),
        Emulation::Execve | Emulation::Execveat => exec(ctx, emulation, c),
        Emulation::Kill => signal_check(ctx, c, a[0] as i32),
        Emulation::Tkill => signal_check(ctx, c, a[0] as i32),
        Emulation::Tgkill => signal_check(ctx, c, a[0] as i32),
        Emulation::Mmap => mmap(ctx, c),
        Emulation::OwnPid(arg) => own_pid(ctx, c, a[arg] as i32),
        Emulation::Priority => match a[0] as u32 {
            libc::PRIO_PROCESS | libc::PRIO_PGRP => own_pid(ctx, c, a[1] as i32),
            // Every host process of that user: not the container's to see or change.
            _ => done(Err(Errno::EPERM), 0),
        },
        Emulation::Rlimit => rlimit(ctx, c),
    }
}

/// Whether `pid` in a call is the caller (0) or one of the container's processes.
fn names_own_process(ctx: &Context<'_>, pid: i32) -> bool {
    pid == 0 || (pid > 0 && (ctx.is_guest)(pid))
}

/// Lets the host run a call that names process `pid` if it is the caller (0) or one of the
/// container's processes; others do not exist for the container.
fn own_pid(ctx: &Context<'_>, c: &Call, pid: i32) -> Served {
    if !names_own_process(ctx, pid) {
        return done(Err(Errno::ESRCH), 0);
    }
    Served::host(c)
}

/// setrlimit(resource, new) and prlimit64(pid, resource, new, old): the new limits go to the
/// process's task in the container's kernel first (which checks them, and enforces those on
/// fds and file sizes), then the host call sets them there and answers.
fn rlimit(ctx: &Context<'_>, c: &Call) -> Served {
    let a = &c.args;
    let (pid, resource, new) = if c.nr == libc::SYS_prlimit64 {
        (a[0] as i32, a[1], a[2])
    } else {
        (0, a[0], a[1])
    };
    if !names_own_process(ctx, pid) {
        return done(Err(Errno::ESRCH), 0);
    }
    if new != 0 {
        let mut limit = [0u8; 16];
        if let Err(e) = ctx.mem.read(new, &mut limit) {
            return done(Err(e), 0);
        }
        // SAFETY: limit is a live 16-byte struct rlimit64; the old-limit pointer is NULL.
        let set = unsafe {
            ctx.task.syscall(
                k::PRLIMIT64,
                [pid as i64, resource as i64, limit.as_ptr() as i64, 0, 0, 0],
            )
        };
        match set.ret {
            // ESRCH: a process whose task could not get its pid (see Task::spawn).
            Ok(_) | Err(Errno::ESRCH) => {}
            Err(e) => return done(Err(e), set.signals),
        }
    }
    Served::host(c)
}

/// poll's array of `struct pollfd` (8 bytes each), read and written back.
fn pollfds(a: &[u64; 6]) -> Arg {
    InOut {
        ptr: 0,
        size: (a[1] as usize).saturating_mul(8).min(MAX_BUFFER),
        opt: false,
    }
}

fn vectored(ctx: &Context<'_>, c: &Call, write: bool) -> Served {
    let a = &c.args;
    let count = a[2] as usize;
    if count > 1024 {
        return done(Err(Errno::EINVAL), 0);
    }
    let mut raw = vec![0u8; count * 16];
    if let Err(e) = ctx.mem.read(a[1], &mut raw) {
        return done(Err(e), 0);
    }
    let iovs: Vec<(u64, usize)> = raw
        .chunks_exact(16)
        .map(|v| {
            let base = u64::from_ne_bytes(v[..8].try_into().expect("8 bytes"));
            let len = u64::from_ne_bytes(v[8..].try_into().expect("8 bytes"));
            (base, len as usize)
        })
        .collect();
    let total = iovs
        .iter()
        .map(|v| v.1)
        .fold(0usize, usize::saturating_add)
        .min(MAX_BUFFER);
    let positional = matches!(c.nr, libc::SYS_preadv | libc::SYS_pwritev);
    let mut buf = vec![0u8; total];
    if write {
        let mut at = 0;
        for (base, len) in &iovs {
            let n = (*len).min(total - at);
            if let Err(e) = ctx.mem.read(*base, &mut buf[at..at + n]) {
                return done(Err(e), 0);
            }
            at += n;
        }
    }
    let args = [a[0], buf.as_ptr() as u64, total as u64, a[3], 0, 0];
    let spec: &[Arg] = &[Val(0), Val(1), Val(2), Val(3)];
    let nr = match (write, positional) {
        (false, false) => k::READ,
        (true, false) => k::WRITE,
        (false, true) => k::PREAD64,
        (true, true) => k::PWRITE64,
    };
    // SAFETY: args[1] points at `buf`, `total` bytes long, alive across the call.
    let result = unsafe {
        ctx.task.syscall(
            nr,
            [
                args[0] as i64,
                args[1] as i64,
                args[2] as i64,
                args[3] as i64,
                0,
                0,
            ],
        )
    };
    let _ = spec;
    if let (false, Ok(n)) = (write, result.ret) {
        let mut left = n as usize;
        let mut at = 0;
        for (base, len) in &iovs {
            if left == 0 {
                break;
            }
            let n = (*len).min(left);
            if let Err(e) = ctx.mem.write(*base, &buf[at..at + n]) {
                return done(Err(e), result.signals);
            }
            at += n;
            left -= n;
        }
    }
    done(result.ret, result.signals)
}

/// fcntl commands whose argument points at a `struct f_owner_ex` (not in libc).
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;

fn fcntl(ctx: &Context<'_>, a: &[u64; 6]) -> Served {
    let cmd = a[1] as i32;
    let lock = InOut {
        ptr: 2,
        size: 32,
        opt: false,
    };
    let owner = InOut {
        ptr: 2,
        size: 8,
        opt: false,
    };
    match cmd {
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => kernel(ctx, k::FCNTL, &[Val(0), Val(1), lock], a),
        F_GETOWN_EX | F_SETOWN_EX => kernel(ctx, k::FCNTL, &[Val(0), Val(1), owner], a),
        // Every other command takes a plain integer (or nothing).
        _ => kernel(ctx, k::FCNTL, &[Val(0), Val(1), Val(2)], a),
    }
}

fn ioctl(ctx: &Context<'_>, a: &[u64; 6]) -> Served {
    const TERMIOS: usize = 36;
    let req = a[1] as u32;
    if matches!(
        req as u64,
        libc::TIOCGPGRP | libc::TIOCSPGRP | libc::TIOCGSID
    ) {
        return job_control(ctx, a);
    }
    let (size, dir): (usize, u8) = match req as u64 {
        libc::TCGETS => (TERMIOS, 2),
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF => (TERMIOS, 1),
        libc::TIOCGWINSZ => (8, 2),
        libc::TIOCSWINSZ => (8, 1),
        libc::TIOCGPGRP | libc::FIONREAD | libc::TIOCGSID | libc::TIOCOUTQ => (4, 2),
        libc::TIOCSPGRP | libc::FIONBIO | libc::FIOASYNC => (4, 1),
        libc::FIOCLEX | libc::FIONCLEX | libc::TIOCNOTTY => (0, 0),
        libc::TIOCSCTTY | libc::TCFLSH | libc::TCXONC | libc::TCSBRK => (0, 3),
        _ => {
            // Requests that encode their argument's size and direction.
            let size = ((req >> 16) & 0x3fff) as usize;
            match req >> 30 {
                1 if size > 0 => (size, 1),
                2 if size > 0 => (size, 2),
                3 if size > 0 => (size, 4),
                // An unknown request might take a pointer, which the kernel would follow
                // into the supervisor's memory: refuse it.
                _ => return done(Err(Errno::ENOTTY), 0),
            }
        }
    };
    let arg = match dir {
        0 => Const(0),
        1 => In {
            ptr: 2,
            size,
            opt: false,
        },
        2 => Out {
            ptr: 2,
            size,
            opt: false,
        },
        3 => Val(2),
        _ => InOut {
            ptr: 2,
            size,
            opt: false,
        },
    };
    kernel(ctx, k::IOCTL, &[Val(0), Val(1), arg], a)
}

/// Terminal process groups: the kernel's tty knows its own tasks' groups, but the guests'
/// groups are host pgids (setpgid and setsid are the host's), so tcgetpgrp/tcsetpgrp are
/// answered here, per terminal (its device number, from the kernel's fstat, which also
/// confirms the fd is one). Until a group is set, a terminal's foreground group is the
/// caller's session leader: each terminal belongs to the session of the process it was
/// made for (the first process, or an `exec --tty` one), which leads its own host session.
fn job_control(ctx: &Context<'_>, a: &[u64; 6]) -> Served {
    let mut probe = [0u8; 4];
    // SAFETY: probe is a live 4-byte buffer, what TIOCGPGRP writes.
    let is_tty = unsafe {
        ctx.task.syscall(
            k::IOCTL,
            [
                a[0] as i64,
                libc::TIOCGPGRP as i64,
                probe.as_mut_ptr() as i64,
                0,
                0,
                0,
            ],
        )
    };
    if let Err(e) = is_tty.ret {
        return done(Err(e), is_tty.signals);
    }
    let mut stat = crate::lkl::stat::LklStat::default();
    // SAFETY: stat is a live kernel stat buffer, what fstat writes.
    let statted = unsafe {
        ctx.task.syscall(
            k::FSTAT,
            [a[0] as i64, &mut stat as *mut _ as i64, 0, 0, 0, 0],
        )
    };
    if let Err(e) = statted.ret {
        return done(Err(e), is_tty.signals | statted.signals);
    }
    let terminal = stat.st_rdev;
    // SAFETY: getsid(2) takes a plain pid.
    let session = unsafe { libc::getsid(ctx.mem.tid()) };
    let mut foreground = ctx.foreground.lock().unwrap_or_else(|e| e.into_inner());
    let result = match a[1] {
        libc::TIOCSPGRP => {
            let mut raw = [0u8; 4];
            ctx.mem.read(a[2], &mut raw).and_then(|()| {
                let pgid = i32::from_ne_bytes(raw);
                if pgid <= 0 || !(ctx.is_guest)(pgid) {
                    return Err(Errno::EPERM);
                }
                foreground.insert(terminal, pgid);
                Ok(0)
            })
        }
        libc::TIOCGSID => ctx.mem.write(a[2], &session.to_ne_bytes()).map(|()| 0),
        _ => {
            let pgid = foreground.get(&terminal).copied().unwrap_or(session);
            ctx.mem.write(a[2], &pgid.to_ne_bytes()).map(|()| 0)
        }
    };
    done(result, is_tty.signals | statted.signals)
}

fn poll(ctx: &Context<'_>, a: &[u64; 6]) -> Served {
    let timeout_ms = a[2] as i32;
    let ts: [i64; 2] = [
        i64::from(timeout_ms / 1000),
        i64::from(timeout_ms % 1000) * 1_000_000,
    ];
    let ts_ptr = if timeout_ms < 0 {
        0
    } else {
        ts.as_ptr() as u64
    };
    let args = [a[0], a[1], ts_ptr, 0, 8, 0];
    let fds = pollfds(a);
    // ts lives on this frame: pass it as a value (a supervisor pointer), not staged.
    kernel(
        ctx,
        k::PPOLL,
        &[fds, Val(1), Val(2), Const(0), Const(8)],
        &args,
    )
}

fn select(ctx: &Context<'_>, emulation: Emulation, a: &[u64; 6]) -> Served {
    let n = (a[0] as usize).min(1024);
    let set_bytes = n.div_ceil(64) * 8;
    let set = |ptr| InOut {
        ptr,
        size: set_bytes,
        opt: true,
    };
    let mut ts: [i64; 2] = [0, 0];
    let ts_ptr = if a[4] == 0 {
        0
    } else {
        let mut raw = [0u8; 16];
        if let Err(e) = ctx.mem.read(a[4], &mut raw) {
            return done(Err(e), 0);
        }
        ts[0] = i64::from_ne_bytes(raw[..8].try_into().expect("8 bytes"));
        let sub = i64::from_ne_bytes(raw[8..].try_into().expect("8 bytes"));
        // select's timeval has microseconds; pselect6's timespec nanoseconds.
        ts[1] = if emulation == Emulation::Select {
            sub * 1000
        } else {
            sub
        };
        ts.as_ptr() as u64
    };
    let args = [n as u64, a[1], a[2], a[3], ts_ptr, 0];
    kernel(
        ctx,
        k::PSELECT6,
        &[Val(0), set(1), set(2), set(3), Val(4), Const(0)],
        &args,
    )
}

fn signal_check(ctx: &Context<'_>, c: &Call, target: i32) -> Served {
    // kill(-1) would reach every host process the guest may signal; process groups are
    // checked by their leader.
    let pid = if c.nr == libc::SYS_kill && target < -1 {
        -target
    } else {
        target
    };
    let allowed = match c.nr {
        libc::SYS_kill | libc::SYS_rt_sigqueueinfo => pid > 0 && (ctx.is_guest)(pid) || target == 0,
        _ => pid > 0 && (ctx.is_guest)(pid),
    };
    if !allowed {
        return done(Err(Errno::EPERM), 0);
    }
    Served::host(c)
}

fn mmap(ctx: &Context<'_>, c: &Call) -> Served {
    let a = &c.args;
    let (len, prot, flags, fd, offset) =
        (a[1] as usize, a[2] as i32, a[3] as i32, a[4], a[5] as i64);
    if flags & libc::MAP_SHARED != 0 && prot & libc::PROT_WRITE != 0 {
        // Writes could never reach the file in the container's kernel.
        return done(Err(Errno::ENODEV), 0);
    }
    if len == 0 || len > (1 << 30) {
        return done(Err(Errno::EINVAL), 0);
    }
    let mut data = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let ptr = data[filled..].as_mut_ptr() as i64;
        // SAFETY: ptr points into `data` with len - filled bytes left.
        let r = unsafe {
            ctx.task.syscall(
                k::PREAD64,
                [
                    fd as i64,
                    ptr,
                    (len - filled) as i64,
                    offset + filled as i64,
                    0,
                    0,
                ],
            )
        };
        match r.ret {
            Ok(0) => break,
            Ok(n) => filled += n as usize,
            Err(e) => return done(Err(if e == Errno::ESPIPE { Errno::ENODEV } else { e }), 0),
        }
    }
    let flags = (flags & !(libc::MAP_SHARED | libc::MAP_SHARED_VALIDATE))
        | libc::MAP_PRIVATE
        | libc::MAP_ANONYMOUS;
    Served {
        action: Action::RewriteThenExit {
            nr: libc::SYS_mmap,
            args: [a[0], a[1], a[2], flags as u64, u64::MAX, 0],
            on_exit: ExitHook::FillMapping { data },
        },
        signals: 0,
    }
}

/// The task name exec gives a program: its file name, at most 15 bytes (TASK_COMM_LEN).
fn program_name(path: &[u8]) -> CString {
    let base = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    let base = &base[..base.len().min(15)];
    CString::new(base).unwrap_or_default()
}

/// Where scratch data may be written in a stopped guest: well below its stack pointer and
/// red zone, in stack memory it is not using.
fn scratch(sp: u64, len: usize) -> u64 {
    (sp - 64 * 1024 - len as u64) & !15
}

fn exec(ctx: &Context<'_>, emulation: Emulation, c: &Call) -> Served {
    let a = &c.args;
    let (dirfd, path_arg, argv, envp, flags) = match emulation {
        Emulation::Execve => (libc::AT_FDCWD as i64, a[0], a[1], a[2], 0),
        _ => (a[0] as i64, a[1], a[2], a[3], a[4] as i32),
    };
    let path = match ctx.mem.read_cstring(path_arg) {
        Ok(p) => p,
        Err(e) => return done(Err(e), 0),
    };
    let argv_ptrs = match ctx.mem.read_pointer_array(argv, 1 << 16) {
        Ok(v) => v,
        Err(e) => return done(Err(e), 0),
    };
    let prepared = match ctx.exec.prepare(ctx.task, dirfd, &path, flags) {
        Ok(p) => p,
        Err(e) => return done(Err(e), 0),
    };
    // New argv: the interpreter words of #! scripts, then the script path, then argv[1..].
    let mut strings: Vec<Vec<u8>> = prepared.argv_prefix.clone();
    let host_path = prepared.host_path.clone().into_bytes();
    let mut layout = Vec::new();
    let mut offsets = Vec::new();
    let push = |layout: &mut Vec<u8>, s: &[u8]| {
        let at = layout.len();
        layout.extend_from_slice(s);
        layout.push(0);
        at
    };
    let path_off = push(&mut layout, &host_path);
    for s in strings.drain(..) {
        offsets.push(push(&mut layout, &s));
    }
    let rewrite_argv = !prepared.argv_prefix.is_empty();
    let base_len = layout.len().next_multiple_of(8);
    let total = base_len + 8 * (offsets.len() + argv_ptrs.len() + 1);
    let base = scratch(c.sp, total);
    let mut new_argv_ptr = argv;
    if rewrite_argv {
        layout.resize(base_len, 0);
        for off in &offsets {
            layout.extend_from_slice(&(base + *off as u64).to_ne_bytes());
        }
        // argv[0] of a script is replaced by the script's path (what the kernel does).
        layout.extend_from_slice(&path_arg.to_ne_bytes());
        for p in argv_ptrs.iter().skip(1) {
            layout.extend_from_slice(&p.to_ne_bytes());
        }
        layout.extend_from_slice(&0u64.to_ne_bytes());
        new_argv_ptr = base + base_len as u64;
    }
    if let Err(e) = ctx.mem.write(base, &layout) {
        return done(Err(e), 0);
    }
    Served {
        action: Action::RewriteThenExit {
            nr: libc::SYS_execve,
            args: [base + path_off as u64, new_argv_ptr, envp, 0, 0, 0],
            on_exit: ExitHook::Exec {
                keep: prepared.keep,
                name: program_name(&path),
            },
        },
        signals: 0,
    }
}

/// A program made ready for the host to exec.
pub struct Prepared {
    /// The path the host execs: a supervisor memfd holding the image.
    pub host_path: String,
    /// Words to put before the original argv (interpreter and its argument for `#!`).
    pub argv_prefix: Vec<Vec<u8>>,
    pub keep: Vec<File>,
}

/// Loads programs from the container's filesystem into memfds the host kernel can exec.
/// Images are cached by inode and modification time: a shell runs the same busybox often.
/// A cached image's identity: device, inode, mtime (s, ns) and size.
type ImageKey = (u64, u64, i64, i64, i64);

pub struct ExecLoader {
    supervisor_pid: u32,
    cache: Mutex<HashMap<ImageKey, Arc<File>>>,
}

const MAX_IMAGE: i64 = 512 << 20;

impl ExecLoader {
    pub fn new() -> Self {
        ExecLoader {
            supervisor_pid: std::process::id(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn prepare(
        &self,
        task: &crate::lkl::Task,
        dirfd: i64,
        path: &[u8],
        flags: i32,
    ) -> Result<Prepared, Errno> {
        let mut prefix = Vec::new();
        let mut target = (dirfd, path.to_vec(), flags);
        for _depth in 0..4 {
            let (file, image) = self.load(task, target.0, &target.1, target.2)?;
            if image.starts_with(b"#!") {
                let line_end = image
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(image.len())
                    .min(256);
                let line = &image[2..line_end];
                let line = line.trim_ascii();
                let mut words = line.splitn(2, |b| *b == b' ' || *b == b'\t');
                let interp = words
                    .next()
                    .filter(|w| !w.is_empty())
                    .ok_or(Errno::ENOEXEC)?
                    .to_vec();
                let mut words_prefix = vec![interp.clone()];
                if let Some(arg) = words
                    .next()
                    .map(|w| w.trim_ascii())
                    .filter(|w| !w.is_empty())
                {
                    words_prefix.push(arg.to_vec());
                }
                words_prefix.append(&mut prefix);
                prefix = words_prefix;
                target = (libc::AT_FDCWD as i64, interp, 0);
                continue;
            }
            let mut keep = vec![];
            let host_file = self.host_image(task, file, &image, &mut keep)?;
            let host_path = format!("/proc/{}/fd/{}", self.supervisor_pid, host_file.as_raw_fd());
            keep.push(host_file.try_clone().map_err(|_| Errno::ENOMEM)?);
            return Ok(Prepared {
                host_path,
                argv_prefix: prefix,
                keep,
            });
        }
        Err(Errno::ELOOP)
    }

    /// Opens and reads a program from the container kernel, checking it may be executed.
    fn load(
        &self,
        task: &crate::lkl::Task,
        dirfd: i64,
        path: &[u8],
        flags: i32,
    ) -> Result<(StatKey, Vec<u8>), Errno> {
        let cpath = CString::new(path).map_err(|_| Errno::EINVAL)?;
        let open_flags = libc::O_RDONLY
            | libc::O_CLOEXEC
            | if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
                libc::O_NOFOLLOW
            } else {
                0
            };
        // SAFETY: cpath is a live NUL-terminated string.
        let fd = unsafe {
            task.syscall(
                k::OPENAT,
                [dirfd, cpath.as_ptr() as i64, i64::from(open_flags), 0, 0, 0],
            )
        }
        .ret?;
        let result = (|| {
            let mut st = crate::lkl::stat::LklStat::default();
            // SAFETY: st is a writable LklStat, the layout fstat fills in.
            unsafe {
                task.syscall(
                    k::FSTAT,
                    [
                        fd,
                        (&mut st as *mut crate::lkl::stat::LklStat) as i64,
                        0,
                        0,
                        0,
                        0,
                    ],
                )
            }
            .ret?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(Errno::EACCES);
            }
            // Execute permission as the container kernel sees the guest's credentials.
            let empty = c"";
            // SAFETY: empty is a NUL-terminated string.
            unsafe {
                task.syscall(
                    k::FACCESSAT2,
                    [
                        fd,
                        empty.as_ptr() as i64,
                        i64::from(libc::X_OK),
                        i64::from(libc::AT_EMPTY_PATH | libc::AT_EACCESS),
                        0,
                        0,
                    ],
                )
            }
            .ret?;
            if st.st_size > MAX_IMAGE {
                return Err(Errno::E2BIG);
            }
            let key = StatKey(
                st.st_dev,
                st.st_ino,
                st.st_mtime,
                st.st_mtime_nsec as i64,
                st.st_size,
            );
            if let Some(cached) = self.cached(&key) {
                let _ = cached;
                return Ok((key, Vec::from(&b"\x7fELF"[..])));
            }
            let mut data = vec![0u8; st.st_size as usize];
            let mut at = 0;
            while at < data.len() {
                let ptr = data[at..].as_mut_ptr() as i64;
                // SAFETY: ptr points into data with data.len() - at bytes left.
                let n = unsafe {
                    task.syscall(
                        k::PREAD64,
                        [fd, ptr, (data.len() - at) as i64, at as i64, 0, 0],
                    )
                }
                .ret?;
                if n == 0 {
                    break;
                }
                at += n as usize;
            }
            data.truncate(at);
            Ok((key, data))
        })();
        // SAFETY: closing the fd we opened.
        let _ = unsafe { task.syscall(k::CLOSE, [fd, 0, 0, 0, 0, 0]) };
        result
    }

    fn cached(&self, key: &StatKey) -> Option<Arc<File>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key.tuple())
            .cloned()
    }

    /// A memfd with the image, its ELF interpreter (if any) redirected to a memfd too.
    fn host_image(
        &self,
        task: &crate::lkl::Task,
        key: StatKey,
        image: &[u8],
        keep: &mut Vec<File>,
    ) -> Result<Arc<File>, Errno> {
        // Cached images, and the interpreters they name, stay open in the cache.
        if let Some(cached) = self.cached(&key) {
            return Ok(cached);
        }
        if !image.starts_with(b"\x7fELF") {
            return Err(Errno::ENOEXEC);
        }
        let mut image = image.to_vec();
        let elf = goblin::elf::Elf::parse(&image).map_err(|_| Errno::ENOEXEC)?;
        if let Some(ph) = elf
            .program_headers
            .iter()
            .find(|ph| ph.p_type == goblin::elf::program_header::PT_INTERP)
        {
            let (off, size) = (ph.p_offset as usize, ph.p_filesz as usize);
            let interp_path = image.get(off..off + size).ok_or(Errno::ENOEXEC)?;
            let interp_path = interp_path
                .split(|b| *b == 0)
                .next()
                .unwrap_or_default()
                .to_vec();
            let (ikey, idata) = self.load(task, libc::AT_FDCWD as i64, &interp_path, 0)?;
            let interp_file = match self.cached(&ikey) {
                Some(f) => f,
                None => {
                    let f = Arc::new(memfd(&idata)?);
                    self.cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ikey.tuple(), f.clone());
                    f
                }
            };
            let redirected = format!(
                "/proc/{}/fd/{}",
                self.supervisor_pid,
                interp_file.as_raw_fd()
            );
            if redirected.len() + 1 > size {
                return Err(Errno::ENAMETOOLONG);
            }
            image[off..off + size].fill(0);
            image[off..off + redirected.len()].copy_from_slice(redirected.as_bytes());
            keep.push(interp_file.try_clone().map_err(|_| Errno::ENOMEM)?);
        }
        let file = Arc::new(memfd(&image)?);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.tuple(), file.clone());
        Ok(file)
    }
}

impl Default for ExecLoader {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy)]
struct StatKey(u64, u64, i64, i64, i64);

impl StatKey {
    fn tuple(&self) -> ImageKey {
        (self.0, self.1, self.2, self.3, self.4)
    }
}

fn memfd(data: &[u8]) -> Result<File, Errno> {
    // SAFETY: the name is a NUL-terminated string; memfd_create returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"kbox-exec".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd was just created and is owned by nothing else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(data).map_err(|_| Errno::ENOMEM)?;
    Ok(file)
}
