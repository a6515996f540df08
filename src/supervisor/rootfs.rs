//! The container's root: the mounted image becomes `/` of the supervisor's kernel tasks, and
//! the spec's mounts that live inside the container's kernel are made on it.

use std::ffi::CString;

use nix::errno::Errno;
use oci_spec::runtime::Spec;

use super::{setup_err, SupervisorError};
use crate::lkl::{sysnr as k, Kernel, MsFlags, Task, AT_FDCWD};
use crate::oci::mount_options;

/// Filesystems the container's kernel can mount for the spec; others (bind mounts of host
/// paths, cgroup) are skipped with a warning, since nothing of the host is reachable.
const KERNEL_FILESYSTEMS: &[&str] = &[
    "proc", "sysfs", "tmpfs", "devpts", "mqueue", "devtmpfs", "ramfs",
];

/// Makes the mounted image (at `root` in the kernel's own tree) the root of `task`, and so of
/// every task forked from it. The supervisor's own tasks keep the kernel's root, from which
/// the image is unmounted at the end.
pub fn enter(task: &Task, root: &str) -> Result<(), SupervisorError> {
    let root = CString::new(root).map_err(|_| setup_err("root path")(Errno::EINVAL))?;
    let call = |nr, path: &std::ffi::CStr, what: &str| {
        super::task_call(task, nr, [path.as_ptr() as i64, 0, 0, 0, 0, 0]).map_err(setup_err(what))
    };
    call(k::CHDIR, &root, "entering the root image")?;
    call(k::CHROOT, c".", "changing root to the image")?;
    call(k::CHDIR, c"/", "changing to /")?;
    Ok(())
}

fn mkdir_p(kernel: &Kernel, path: &str) -> Result<(), Errno> {
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        let c = CString::new(at.as_str()).map_err(|_| Errno::EINVAL)?;
        match kernel.mkdirat(AT_FDCWD, &c, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Device nodes a container's /dev needs when it is a plain tmpfs.
const DEVICES: &[(&str, u32, u32, u32)] = &[
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
];

/// The kernel's encoding of a device number (the new, 32-bit one).
fn makedev(major: u32, minor: u32) -> u32 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12)
}

fn populate_dev(kernel: &Kernel, dev: &str) -> Result<(), Errno> {
    for (name, major, minor, mode) in DEVICES {
        let path = CString::new(format!("{dev}/{name}")).map_err(|_| Errno::EINVAL)?;
        match kernel.mknodat(
            AT_FDCWD,
            &path,
            libc::S_IFCHR | mode,
            makedev(*major, *minor),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        kernel.fchmodat(AT_FDCWD, &path, *mode)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let link = CString::new(format!("{dev}/{name}")).map_err(|_| Errno::EINVAL)?;
        let target = CString::new(target).map_err(|_| Errno::EINVAL)?;
        match kernel.symlinkat(&target, AT_FDCWD, &link) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Mounts the spec's in-kernel filesystems, in order.
pub fn mount_spec(
    kernel: &Kernel,
    root: &str,
    spec: &Spec,
    pid_ns: &super::pidns::PidNamespace,
) -> Result<(), SupervisorError> {
    for mount in spec.mounts().clone().unwrap_or_default() {
        let target = mount.destination().display().to_string();
        let fstype = mount.typ().clone().unwrap_or_default();
        if !KERNEL_FILESYSTEMS.contains(&fstype.as_str()) {
            log::warn!("mount of {target} ({fstype}) skipped: the container's kernel cannot reach host filesystems");
            continue;
        }
        let options = mount.options().clone().unwrap_or_default();
        let parsed = mount_options::parse(&options);
        let (flags, data) = (parsed.flags, parsed.data);
        let what = format!("mounting {fstype} on {target}");
        let target_in_root = format!("{root}{target}");
        mkdir_p(kernel, &target_in_root).map_err(setup_err(what.clone()))?;
        let ctarget = CString::new(target_in_root.as_str())
            .map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        let ctype =
            CString::new(fstype.as_str()).map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        let cdata = CString::new(data).map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        let source = mount
            .source()
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| fstype.clone());
        let csource = CString::new(source).map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        let mounted = if fstype == "proc" {
            // Seen from the container's pid namespace: only its processes.
            pid_ns.mount_proc(
                &csource,
                &ctarget,
                (flags & !MsFlags::MS_RDONLY).bits(),
                &cdata,
            )
        } else {
            kernel.mount(
                Some(&csource),
                &ctarget,
                Some(&ctype),
                flags & !MsFlags::MS_RDONLY,
                Some(&cdata),
            )
        };
        mounted.map_err(setup_err(what.clone()))?;
        if target == "/dev" && fstype == "tmpfs" {
            populate_dev(kernel, &target_in_root).map_err(setup_err("populating /dev"))?;
        }
        if flags.contains(MsFlags::MS_RDONLY) {
            kernel
                .mount(None, &ctarget, None, flags | MsFlags::MS_REMOUNT, None)
                .map_err(setup_err(format!("making {target} read-only")))?;
        }
    }
    Ok(())
}

/// `linux.devices`: device nodes (and fifos) of the container's kernel, made in its
/// filesystem with the spec's mode and owner. Their numbers are the container kernel's
/// devices, not the host's.
pub fn make_devices(kernel: &Kernel, root: &str, spec: &Spec) -> Result<(), SupervisorError> {
    use oci_spec::runtime::LinuxDeviceType;
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for device in devices {
        let path = device.path().display().to_string();
        let what = format!("linux.devices {path}");
        if !path.starts_with('/') || path.split('/').any(|part| part == "..") {
            return Err(setup_err(format!(
                "{what}: not an absolute path within the container"
            ))(Errno::EINVAL));
        }
        let kind = match device.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(setup_err(format!(
                    "{what}: type a is for cgroup rules only"
                ))(Errno::EINVAL))
            }
        };
        let devno = makedev(device.major() as u32, device.minor() as u32);
        let mode = device.file_mode().unwrap_or(0o666) & 0o7777;
        let in_root = format!("{root}{path}");
        if let Some((parent, _)) = in_root.rsplit_once('/') {
            mkdir_p(kernel, parent).map_err(setup_err(what.clone()))?;
        }
        let cpath = CString::new(in_root).map_err(|_| setup_err(what.clone())(Errno::EINVAL))?;
        match kernel.mknodat(AT_FDCWD, &cpath, kind | mode, devno) {
            Ok(()) => {}
            // Already there (a default device): the spec's settings win.
            Err(Errno::EEXIST) => {
                let _ = kernel.unlinkat(AT_FDCWD, &cpath, 0);
                kernel
                    .mknodat(AT_FDCWD, &cpath, kind | mode, devno)
                    .map_err(setup_err(what.clone()))?;
            }
            Err(e) => return Err(setup_err(what)(e)),
        }
        kernel
            .fchmodat(AT_FDCWD, &cpath, mode)
            .map_err(setup_err(what.clone()))?;
        kernel
            .fchownat(
                AT_FDCWD,
                &cpath,
                device.uid().unwrap_or(0),
                device.gid().unwrap_or(0),
                0,
            )
            .map_err(setup_err(what))?;
    }
    Ok(())
}

/// Unmounts the spec's mounts, innermost first, so the root image can be unmounted cleanly.
pub fn unmount_spec(kernel: &Kernel, root: &str, spec: &Spec) {
    for mount in spec.mounts().clone().unwrap_or_default().iter().rev() {
        if let Ok(target) = CString::new(format!("{root}{}", mount.destination().display())) {
            let _ = kernel.umount2(&target, libc::MNT_DETACH);
        }
    }
}

/// `linux.maskedPaths` (hidden: /dev/null over files, an empty read-only tmpfs over
/// directories) and `linux.readonlyPaths` (bind-mounted read-only), inside the container's
/// kernel. Paths the image lacks are skipped, as runc does.
pub fn mask_paths(kernel: &Kernel, root: &str, spec: &Spec) -> Result<(), SupervisorError> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(());
    };
    let in_root = |path: &str| {
        CString::new(format!("{root}{path}"))
            .map_err(|_| setup_err(format!("path {path}"))(Errno::EINVAL))
    };
    for path in linux.masked_paths().clone().unwrap_or_default() {
        let target = in_root(&path)?;
        let stat = match kernel.newfstatat(AT_FDCWD, &target, 0) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(setup_err(format!("masking {path}"))(e)),
        };
        let result = if stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
            kernel.mount(
                Some(c"tmpfs"),
                &target,
                Some(c"tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
        } else {
            let null = in_root("/dev/null")?;
            kernel.mount(Some(&null), &target, None, MsFlags::MS_BIND, None)
        };
        result.map_err(setup_err(format!("masking {path}")))?;
    }
    for path in linux.readonly_paths().clone().unwrap_or_default() {
        let target = in_root(&path)?;
        match kernel.mount(
            Some(&target),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        ) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(setup_err(format!("making {path} read-only"))(e)),
        }
        kernel
            .mount(
                None,
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
                None,
            )
            .map_err(setup_err(format!("making {path} read-only")))?;
    }
    Ok(())
}
