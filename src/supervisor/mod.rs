//! The supervisor: the process that owns a container's kernel and its processes.
//!
//! It boots the kernel, mounts the bundle's root image as the container's `/`, applies the
//! spec's in-kernel mounts and hostname, wires the container's stdio to its own through
//! pipes in the container's kernel, runs `process.args` traced, and when the first process
//! exits ends the others, unmounts the image and halts the kernel.

mod caps;
mod hooks;
mod image;
mod pidns;
mod pump;
mod rootfs;
mod stdio;
mod terminal;
mod writeback;

pub use stdio::MAX_PRESERVED_FDS;

use std::ffi::CString;
use std::fs::OpenOptions;

use nix::errno::Errno;
use oci_spec::runtime::Spec;

use crate::lkl::{sysnr as k, Kernel, KernelBuilder, KernelError, LklError, MsFlags, Task};
use crate::oci::bundle::Bundle;
use crate::oci::hooks::HookKind;
use crate::tracer::{self, ExitStatus, Program};

/// Memory given to a container's kernel unless the spec's memory limit says otherwise.
const DEFAULT_KERNEL_MEM_MB: u32 = 256;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("opening root image {path}: {source}")]
    Image {
        path: String,
        source: std::io::Error,
    },
    #[error("booting the container's kernel: {0}")]
    Boot(#[from] KernelError),
    #[error("mounting root image {path} as ext4: {source}")]
    MountRoot { path: String, source: LklError },
    #[error("setting up the container: {what}: {errno}")]
    Setup { what: String, errno: Errno },
    #[error("config.json has no process to run")]
    NoProcess,
    #[error("{0}: not found in the container (PATH={1})")]
    NotFound(String, String),
    #[error(transparent)]
    Trace(#[from] tracer::TraceError),
    #[error("{0}")]
    Gate(String),
    #[error("root directory: {0}")]
    RootDirectory(String),
    #[error("{0}")]
    Hook(String),
}

pub(crate) fn setup_err(what: impl Into<String>) -> impl FnOnce(Errno) -> SupervisorError {
    let what = what.into();
    move |errno| SupervisorError::Setup { what, errno }
}

/// Runs the container described by `bundle` to completion in this process, with this
/// process's stdin, stdout and stderr as the container's (and `preserved_fds` as its fds 3,
/// 4, ...). `gate` runs once everything is
/// ready, just before the first process starts (`create` returns there; `start` opens the
/// gate). Returns the exit code of the container's first process (128 + n for signal n).
pub fn run(
    bundle: &Bundle,
    work_dir: &std::path::Path,
    console_socket: Option<&std::path::Path>,
    preserved_fds: Vec<std::os::fd::OwnedFd>,
    gate: impl FnOnce() -> Result<(), String>,
    started: impl FnOnce(Result<(), String>),
) -> Result<i32, SupervisorError> {
    tracer::block_signals().map_err(setup_err("blocking signals"))?;
    // Before the kernel starts its threads, which inherit it.
    tracer::affinity::settle(std::path::Path::new(tracer::affinity::CLAIMS_DIR));
    let spec = &bundle.spec;
    let process = spec.process().as_ref().ok_or(SupervisorError::NoProcess)?;
    let readonly = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    // A directory root gets the container's changes back at the end (writeback).
    let copied_at = writeback::Since::now();
    let image_file = if bundle.root_is_dir {
        image::from_directory(&bundle.root_image, work_dir)?
    } else {
        bundle.root_image.clone()
    };
    let image_path = image_file.display().to_string();
    let image = OpenOptions::new()
        .read(true)
        .write(!readonly)
        .open(&image_file)
        .map_err(|source| SupervisorError::Image {
            path: image_path.clone(),
            source,
        })?;

    let mut builder = KernelBuilder::new()?;
    let disk = builder.add_disk(&image)?;
    let kernel = builder.boot("loglevel=3", kernel_memory_mb(spec))?;
    let flags = if readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let root = kernel
        .mount_disk(disk, c"ext4", flags, None)
        .map_err(|source| SupervisorError::MountRoot {
            path: image_path.clone(),
            source,
        })?;

    let result = (|| {
        let pid_ns = std::sync::Arc::new(pidns::PidNamespace::new(&kernel)?);
        rootfs::mount_spec(&kernel, &root, spec, &pid_ns)?;
        rootfs::make_devices(&kernel, &root, spec)?;
        rootfs::mask_paths(&kernel, &root, spec)?;
        apply_sysctl(&kernel, spec)?;
        if let Some(hostname) = spec.hostname() {
            kernel
                .sethostname(hostname.as_bytes())
                .map_err(setup_err("setting the hostname"))?;
        }
        let wants_terminal = process.terminal().unwrap_or(false);
        let (mut stdio, mut terminal) = match (wants_terminal, console_socket) {
            (true, Some(socket)) => (None, Some(terminal::Terminal::new(&root, socket)?)),
            (true, None) => {
                return Err(SupervisorError::Setup {
                    what: "process.terminal is true but no --console-socket was given".into(),
                    errno: Errno::EINVAL,
                })
            }
            (false, _) => (Some(stdio::Stdio::new(stdio::Stdio::own_fds()?)?), None),
        };
        let mut preserved = stdio::Preserved::new(preserved_fds)?;
        let task = pid_ns.process_task(&root)?;
        if let Some(stdio) = &mut stdio {
            stdio.install(&task, &mut preserved)?;
        }
        if let Some(terminal) = &mut terminal {
            terminal.install(&task, &mut preserved)?;
        }
        let program = prepare(&task, process)?;
        let control = control_socket(work_dir, &root, pid_ns.clone())?;
        hooks::run(
            "createContainer",
            &HookKind::CreateContainer.hooks_in(spec),
            &state_json(bundle, work_dir, "creating"),
            &root,
            &pid_ns,
        )?;
        gate().map_err(SupervisorError::Gate)?;
        if let Some(terminal) = &terminal {
            terminal.sync_window_size();
        }
        // startContainer hooks: once start has opened the gate, before the first process;
        // `start` reports their failure.
        let hooked = hooks::run(
            "startContainer",
            &HookKind::StartContainer.hooks_in(spec),
            &state_json(bundle, work_dir, "created"),
            &root,
            &pid_ns,
        );
        started(hooked.as_ref().map(drop).map_err(|e| e.to_string()));
        hooked?;
        let status = tracer::run(task, &program, Some(control), None)?;
        if let Some(stdio) = stdio {
            stdio.finish();
        }
        preserved.finish();
        Ok(status)
    })();

    rootfs::unmount_spec(&kernel, &root, spec);
    if bundle.root_is_dir && !readonly {
        let report = writeback::write_back(&kernel, &root, &bundle.root_image, copied_at);
        log::debug!(
            "changes written back to {}: {report:?}",
            bundle.root_image.display()
        );
        if report.failed > 0 {
            log::warn!(
                "{} changes of the container could not be written back to {}",
                report.failed,
                bundle.root_image.display()
            );
        }
    }
    if let Err(e) = kernel.shutdown() {
        log::warn!("halting the container's kernel: {e}");
    }
    result.map(ExitStatus::code)
}

/// The control socket, and how it sets up `exec`'d processes: like the first process, a task
/// forked from the supervisor's own, in the image's root, with pipes to the caller's fds.
fn control_socket(
    work_dir: &std::path::Path,
    root: &str,
    pid_ns: std::sync::Arc<pidns::PidNamespace>,
) -> Result<tracer::Control, SupervisorError> {
    let path = work_dir.join(tracer::control::SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).map_err(|e| {
        setup_err(format!("binding {}", path.display()))(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    let root = root.to_owned();
    let exec: tracer::ExecSetup = Box::new(move |process, fds, console_socket| {
        // The kernel-side ends are opened in the supervisor's task first, so that the task
        // forked for the process has them to install.
        enum Io {
            Pipes(stdio::Stdio),
            Terminal(terminal::Terminal),
        }
        let set_up = || -> Result<(Task, Program, tracer::Drain), SupervisorError> {
            // The caller's stdin, stdout and stderr come first, unless the process has a
            // terminal; its preserved fds follow.
            let mut fds = fds;
            let io = match (process.terminal().unwrap_or(false), console_socket) {
                // exec --tty: a pty of its own, its master sent to the caller's socket.
                (true, Some(socket)) => Io::Terminal(terminal::Terminal::new(&root, socket)?),
                (true, None) => {
                    return Err(setup_err("exec --tty needs --console-socket")(
                        Errno::EINVAL,
                    ))
                }
                (false, _) => {
                    let stdio_fds: [std::os::fd::OwnedFd; 3] = fds
                        .drain(..fds.len().min(3))
                        .collect::<Vec<_>>()
                        .try_into()
                        .map_err(|_| {
                            setup_err("exec needs stdin, stdout and stderr")(Errno::EINVAL)
                        })?;
                    Io::Pipes(stdio::Stdio::new(stdio_fds)?)
                }
            };
            let mut preserved = stdio::Preserved::new(fds)?;
            let task = pid_ns.process_task(&root)?;
            let drain: tracer::Drain = match io {
                Io::Pipes(mut stdio) => {
                    stdio.install(&task, &mut preserved)?;
                    Box::new(move || {
                        stdio.finish();
                        preserved.finish();
                    })
                }
                Io::Terminal(mut terminal) => {
                    terminal.install(&task, &mut preserved)?;
                    terminal.sync_window_size();
                    Box::new(move || {
                        terminal.finish();
                        preserved.finish();
                    })
                }
            };
            let program = prepare(&task, process)?;
            Ok((task, program, drain))
        };
        set_up().map_err(|e| e.to_string())
    });
    Ok(tracer::Control { listener, exec })
}

/// The container's state as hooks get it on stdin. The supervisor is the container's
/// process; the state directory's name is the container's id.
fn state_json(bundle: &Bundle, work_dir: &std::path::Path, status: &str) -> Vec<u8> {
    let id = work_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": bundle.spec.version(),
        "id": id,
        "status": status,
        "pid": std::process::id(),
        "bundle": bundle.dir,
        "annotations": bundle.spec.annotations().clone().unwrap_or_default(),
    }))
    .unwrap_or_default()
}

fn kernel_memory_mb(spec: &Spec) -> u32 {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&limit| limit > 0)
        .map(|limit| ((limit as u64 >> 20) as u32).clamp(32, 4096))
        .unwrap_or(DEFAULT_KERNEL_MEM_MB)
}

/// Makes a syscall on `task` with pointers into the supervisor's own memory.
fn task_call(task: &Task, nr: i64, args: [i64; 6]) -> Result<i64, Errno> {
    // SAFETY: every caller passes pointers to live supervisor buffers sized for the call.
    unsafe { task.syscall(nr, args) }.ret
}

/// Applies process.cwd, user, capabilities and umask to the first process's task.
/// Sets `task` up for `process` and finds its program there.
fn prepare(task: &Task, process: &oci_spec::runtime::Process) -> Result<Program, SupervisorError> {
    let limits = rlimits(process)?;
    prepare_process(task, process, &limits)?;
    resolve_program(task, process, limits)
}

fn prepare_process(
    task: &Task,
    process: &oci_spec::runtime::Process,
    limits: &[(u32, u64, u64)],
) -> Result<(), SupervisorError> {
    // The limits that hold in the kernel (open files, file sizes, ...), while the task is
    // still privileged; the host process gets them too (Program::rlimits).
    for &(resource, soft, hard) in limits {
        let limit = [soft, hard];
        task_call(
            task,
            k::PRLIMIT64,
            [0, i64::from(resource), limit.as_ptr() as i64, 0, 0, 0],
        )
        .map_err(setup_err(format!(
            "setting rlimit {resource} in the container's kernel"
        )))?;
    }
    let user = process.user();
    let gids: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    task_call(
        task,
        k::SETGROUPS,
        [gids.len() as i64, gids.as_ptr() as i64, 0, 0, 0, 0],
    )
    .map_err(setup_err("setting additional groups"))?;
    caps::before_user(task, process.capabilities().as_ref())?;
    let (uid, gid) = (i64::from(user.uid()), i64::from(user.gid()));
    task_call(task, k::SETRESGID, [gid, gid, gid, 0, 0, 0])
        .map_err(setup_err("setting the group id"))?;
    task_call(task, k::SETRESUID, [uid, uid, uid, 0, 0, 0])
        .map_err(setup_err("setting the user id"))?;
    caps::after_user(task, process.capabilities().as_ref())?;
    if process.no_new_privileges().unwrap_or(false) {
        // The kernel's view (/proc/PID/status) agrees with the host's.
        task_call(
            task,
            k::PRCTL,
            [i64::from(libc::PR_SET_NO_NEW_PRIVS), 1, 0, 0, 0, 0],
        )
        .map_err(setup_err("setting no_new_privs"))?;
    }
    if let Some(umask) = user.umask() {
        task_call(task, k::UMASK, [i64::from(umask), 0, 0, 0, 0, 0])
            .map_err(setup_err("setting the umask"))?;
    }
    let cwd = CString::new(process.cwd().as_os_str().as_encoded_bytes()).map_err(|_| {
        SupervisorError::Setup {
            what: "process.cwd".into(),
            errno: Errno::EINVAL,
        }
    })?;
    task_call(task, k::CHDIR, [cwd.as_ptr() as i64, 0, 0, 0, 0, 0]).map_err(setup_err(format!(
        "changing to process.cwd {:?}",
        process.cwd()
    )))?;
    Ok(())
}

/// Finds process.args[0] in the container's filesystem, through PATH when it has no slash.
fn resolve_program(
    task: &Task,
    process: &oci_spec::runtime::Process,
    rlimits: Vec<(u32, u64, u64)>,
) -> Result<Program, SupervisorError> {
    let args = process.args().clone().unwrap_or_default();
    let first = args.first().cloned().ok_or(SupervisorError::NoProcess)?;
    let env = process.env().clone().unwrap_or_default();
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_owned();
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| SupervisorError::Setup {
            what: format!("{s:?} contains NUL"),
            errno: Errno::EINVAL,
        })
    };
    let path = if first.contains('/') {
        first.clone()
    } else {
        path_var
            .split(':')
            .filter(|dir| !dir.is_empty())
            .map(|dir| format!("{}/{first}", dir.trim_end_matches('/')))
            .find(|candidate| {
                CString::new(candidate.as_str()).is_ok_and(|c| {
                    task_call(
                        task,
                        k::FACCESSAT,
                        [
                            libc::AT_FDCWD as i64,
                            c.as_ptr() as i64,
                            i64::from(libc::X_OK),
                            0,
                            0,
                            0,
                        ],
                    )
                    .is_ok()
                })
            })
            .ok_or_else(|| SupervisorError::NotFound(first.clone(), path_var.clone()))?
    };
    Ok(Program {
        oom_score_adj: process.oom_score_adj(),
        terminal_session: process.terminal().unwrap_or(false),
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        rlimits,
        path: cstr(&path)?,
        argv: args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?,
        env: env.iter().map(|e| cstr(e)).collect::<Result<_, _>>()?,
    })
}

/// `process.rlimits` in setrlimit(2) terms; the limits apply on the host, where the
/// container's processes run.
fn rlimits(process: &oci_spec::runtime::Process) -> Result<Vec<(u32, u64, u64)>, SupervisorError> {
    let mut out = Vec::new();
    for limit in process.rlimits().clone().unwrap_or_default() {
        let name = limit.typ().to_string();
        let resource = match name.as_str() {
            "RLIMIT_CPU" => libc::RLIMIT_CPU,
            "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
            "RLIMIT_DATA" => libc::RLIMIT_DATA,
            "RLIMIT_STACK" => libc::RLIMIT_STACK,
            "RLIMIT_CORE" => libc::RLIMIT_CORE,
            "RLIMIT_RSS" => libc::RLIMIT_RSS,
            "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
            "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
            "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
            "RLIMIT_AS" => libc::RLIMIT_AS,
            "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
            "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
            "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
            "RLIMIT_NICE" => libc::RLIMIT_NICE,
            "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
            "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
            _ => {
                return Err(SupervisorError::Setup {
                    what: format!("process.rlimits: unknown type {name}"),
                    errno: Errno::EINVAL,
                })
            }
        };
        if limit.soft() > limit.hard() {
            return Err(SupervisorError::Setup {
                what: format!("process.rlimits: {name} soft limit above its hard limit"),
                errno: Errno::EINVAL,
            });
        }
        out.push((resource as u32, limit.soft(), limit.hard()));
    }
    Ok(out)
}

/// `linux.sysctl`, written to the container kernel's /proc/sys (the kernel's own, not the
/// container's mount, which the image may not have).
fn apply_sysctl(kernel: &Kernel, spec: &Spec) -> Result<(), SupervisorError> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc_dir = c"/proc";
    match kernel.mkdirat(crate::lkl::AT_FDCWD, proc_dir, 0o555) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(setup_err("creating the kernel's /proc")(e)),
    }
    match kernel.mount(
        Some(c"proc"),
        proc_dir,
        Some(c"proc"),
        MsFlags::empty(),
        None,
    ) {
        Ok(()) | Err(Errno::EBUSY) => {}
        Err(e) => return Err(setup_err("mounting the kernel's /proc")(e)),
    }
    for (key, value) in sysctl {
        if key.starts_with("net.") {
            // Podman and others set some by default (net.ipv4.ping_group_range).
            log::warn!("linux.sysctl {key} is not applied: the container's kernel has no network");
            continue;
        }
        let what = format!("linux.sysctl {key}={value}");
        if key.contains("..") || key.contains('/') {
            return Err(setup_err(what)(Errno::EINVAL));
        }
        let path = CString::new(format!("/proc/sys/{}", key.replace('.', "/")))
            .map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        let fd = kernel
            .openat(
                crate::lkl::AT_FDCWD,
                &path,
                libc::O_WRONLY | libc::O_CLOEXEC,
                0,
            )
            .map_err(setup_err(what.clone()))?;
        let written = kernel.write(fd, value.as_bytes());
        let _ = kernel.close(fd);
        written.map_err(setup_err(what))?;
    }
    Ok(())
}

impl Kernel {
    /// Sets the container kernel's hostname.
    pub fn sethostname(&self, name: &[u8]) -> Result<(), Errno> {
        // SAFETY: name is a live buffer of the length passed.
        unsafe {
            self.syscall6(
                k::SETHOSTNAME,
                [name.as_ptr() as i64, name.len() as i64, 0, 0, 0, 0],
            )
        }
        .map(drop)
    }
}
