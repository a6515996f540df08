//! A directory root's changes, written back when the container stops.
//!
//! A root given as a directory (podman's overlay mount, containerd's snapshot) runs from an
//! ext4 image copied from it (`image::from_directory`). So that what the container changed
//! is in the directory afterwards, as with runc (podman's `cp`, `commit`, a later `start`),
//! the supervisor walks the image before unmounting it and brings the directory up to date:
//! entries the container changed (a ctime since the copy: the copy keeps the directory's
//! times) are written, entries it removed are removed, unless the host changed them
//! meanwhile (then the host's stay). Host paths are reached one directory fd at a time,
//! never following a symlink, so names the container chose cannot lead outside the root.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};

use crate::lkl::{Kernel, AT_FDCWD};

/// When the copy was made: entries with a later ctime were changed by the container or by
/// the host since.
#[derive(Clone, Copy)]
pub struct Since {
    secs: i64,
    nanos: i64,
}

impl Since {
    pub fn now() -> Self {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Since {
            secs: now.as_secs() as i64,
            nanos: i64::from(now.subsec_nanos()),
        }
    }

    fn is_before(&self, st: &libc::stat) -> bool {
        (st.st_ctime, st.st_ctime_nsec) >= (self.secs, self.nanos)
    }
}

/// What a write-back did.
#[derive(Debug, Default)]
pub struct Report {
    pub written: usize,
    pub removed: usize,
    pub kept_host: usize,
    pub failed: usize,
}

/// Brings `host` up to date with the image mounted at `image` (a path in the kernel).
pub fn write_back(kernel: &Kernel, image: &str, host: &Path, since: Since) -> Report {
    let mut report = Report::default();
    let host_fd = match nix::fcntl::open(
        host,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            log::warn!("writing changes back to {}: {e}", host.display());
            report.failed += 1;
            return report;
        }
    };
    let Some(device) = kernel_lstat(kernel, image).ok().map(|st| st.st_dev) else {
        report.failed += 1;
        return report;
    };
    let walk = Walk {
        kernel,
        since,
        device,
    };
    walk.directory(image, &host_fd, true, &mut report);
    report
}

struct Walk<'a> {
    kernel: &'a Kernel,
    since: Since,
    /// The image's device: other filesystems mounted below it are not the root's.
    device: u64,
}

impl Walk<'_> {
    fn directory(&self, kpath: &str, host: &OwnedFd, top: bool, report: &mut Report) {
        let names = match kernel_list(self.kernel, kpath) {
            Ok(names) => names,
            Err(e) => {
                log::warn!("write-back: listing {kpath}: {e}");
                report.failed += 1;
                return;
            }
        };
        for name in &names {
            if top && name == "lost+found" {
                continue;
            }
            let child = format!("{kpath}/{name}");
            if let Err(e) = self.entry(&child, name, host, report) {
                log::warn!("write-back: {child}: {e}");
                report.failed += 1;
            }
        }
        self.remove_missing(host, &names, top, report);
    }

    fn entry(
        &self,
        kpath: &str,
        name: &str,
        host: &OwnedFd,
        report: &mut Report,
    ) -> Result<(), Errno> {
        let st = kernel_lstat(self.kernel, kpath)?;
        if st.st_dev != self.device {
            return Ok(());
        }
        let changed = self.since.is_before(&st);
        let cname = CString::new(name).map_err(|_| Errno::EINVAL)?;
        let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
        if kind == SFlag::S_IFDIR {
            let existing =
                nix::sys::stat::fstatat(host, cname.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW);
            if !existing.is_ok_and(|h| h.st_mode & libc::S_IFMT == libc::S_IFDIR) {
                if existing.is_ok() {
                    remove_tree(host, &cname)?;
                }
                nix::sys::stat::mkdirat(host, cname.as_c_str(), Mode::from_bits_truncate(0o700))?;
                report.written += 1;
            }
            let dir = nix::fcntl::openat(
                host,
                cname.as_c_str(),
                OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            if changed {
                set_attributes(&dir, &st)?;
            }
            self.directory(kpath, &dir, false, report);
            return Ok(());
        }
        if !changed {
            return Ok(());
        }
        let temp = CString::new(format!(".kbox-writeback.{name}")).map_err(|_| Errno::EINVAL)?;
        let _ = nix::unistd::unlinkat(
            host,
            temp.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        match kind {
            SFlag::S_IFREG => {
                let file = nix::fcntl::openat(
                    host,
                    temp.as_c_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                copy_out(self.kernel, kpath, &file)?;
                set_attributes(&file, &st)?;
            }
            SFlag::S_IFLNK => {
                let target = kernel_readlink(self.kernel, kpath)?;
                nix::unistd::symlinkat(target.as_c_str(), host, temp.as_c_str())?;
                nix::unistd::fchownat(
                    host,
                    temp.as_c_str(),
                    Some(nix::unistd::Uid::from_raw(st.st_uid)),
                    Some(nix::unistd::Gid::from_raw(st.st_gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
            }
            SFlag::S_IFIFO => {
                nix::sys::stat::mknodat(
                    host,
                    temp.as_c_str(),
                    SFlag::S_IFIFO,
                    Mode::from_bits_truncate(st.st_mode & 0o7777),
                    0,
                )?;
            }
            // Device nodes of the container's kernel mean nothing on the host; sockets
            // are bound by processes that are gone.
            _ => return Ok(()),
        }
        if let Err(e) = nix::fcntl::renameat(host, temp.as_c_str(), host, cname.as_c_str()) {
            // A directory in the way: the container replaced it.
            if matches!(e, Errno::EISDIR | Errno::ENOTEMPTY | Errno::EEXIST) {
                remove_tree(host, &cname)?;
                nix::fcntl::renameat(host, temp.as_c_str(), host, cname.as_c_str())?;
            } else {
                let _ = nix::unistd::unlinkat(
                    host,
                    temp.as_c_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                return Err(e);
            }
        }
        report.written += 1;
        Ok(())
    }

    /// Removes host entries the image no longer has, unless the host changed them since.
    fn remove_missing(&self, host: &OwnedFd, present: &[String], top: bool, report: &mut Report) {
        let Ok(names) = host_list(host) else {
            report.failed += 1;
            return;
        };
        for name in names {
            if present.contains(&name) || (top && name == "lost+found") {
                continue;
            }
            let Ok(cname) = CString::new(name.as_str()) else {
                continue;
            };
            let Ok(st) =
                nix::sys::stat::fstatat(host, cname.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            if self.since.is_before(&st) {
                report.kept_host += 1;
                continue;
            }
            match remove_tree(host, &cname) {
                Ok(()) => report.removed += 1,
                Err(e) => {
                    log::warn!("write-back: removing {name}: {e}");
                    report.failed += 1;
                }
            }
        }
    }
}

/// Owner, mode and modification time of `st` on an open host file or directory.
fn set_attributes(fd: &OwnedFd, st: &libc::stat) -> Result<(), Errno> {
    nix::unistd::fchown(
        fd,
        Some(nix::unistd::Uid::from_raw(st.st_uid)),
        Some(nix::unistd::Gid::from_raw(st.st_gid)),
    )?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    let times = [
        nix::sys::time::TimeSpec::new(st.st_atime, st.st_atime_nsec),
        nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    ];
    nix::sys::stat::futimens(fd, &times[0], &times[1])
}

/// Removes `name` in `dir`, a whole tree if it is a directory, never following symlinks.
fn remove_tree(dir: &OwnedFd, name: &CStr) -> Result<(), Errno> {
    match nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Err(Errno::EISDIR) | Err(Errno::EPERM) => {}
        other => return other,
    }
    let sub = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    for child in host_list(&sub)? {
        let child = CString::new(child).map_err(|_| Errno::EINVAL)?;
        remove_tree(&sub, &child)?;
    }
    nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::RemoveDir)
}

fn host_list(dir: &OwnedFd) -> Result<Vec<String>, Errno> {
    let dup = dir
        .try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EMFILE)))?;
    let mut listing = nix::dir::Dir::from_fd(dup)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

fn kernel_lstat(kernel: &Kernel, path: &str) -> Result<libc::stat, Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    kernel.newfstatat(AT_FDCWD, &c, libc::AT_SYMLINK_NOFOLLOW)
}

fn kernel_readlink(kernel: &Kernel, path: &str) -> Result<CString, Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    let n = kernel.readlinkat(AT_FDCWD, &c, &mut buf)?;
    buf.truncate(n);
    CString::new(buf).map_err(|_| Errno::EINVAL)
}

/// The names in a kernel directory (getdents64 records).
fn kernel_list(kernel: &Kernel, path: &str) -> Result<Vec<String>, Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let fd = kernel.openat(
        AT_FDCWD,
        &c,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        0,
    )?;
    let mut names = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        let n = match kernel.getdents64(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let mut at = 0;
        while at + 19 <= n {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 || at + reclen > n {
                break;
            }
            let name_bytes = &buf[at + 19..at + reclen];
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            let name = &name_bytes[..end];
            if name != b"." && name != b".." {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
            at += reclen;
        }
    };
    let _ = kernel.close(fd);
    result.map(|()| names)
}

/// Copies a kernel file's bytes into an open host file.
fn copy_out(kernel: &Kernel, path: &str, host: &OwnedFd) -> Result<(), Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let fd = kernel.openat(
        AT_FDCWD,
        &c,
        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        0,
    )?;
    let mut buf = vec![0u8; 256 * 1024];
    let result = loop {
        let n = match kernel.read(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => break Err(e),
        };
        let mut done = 0;
        while done < n {
            match nix::unistd::write(host.as_fd(), &buf[done..n]) {
                Ok(w) => done += w,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    };
    let _ = kernel.close(fd);
    result
}
