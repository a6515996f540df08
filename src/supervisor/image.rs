//! Root filesystems given as directory trees (podman's overlay mount, containerd's
//! snapshot) are copied into an ext4 image of the container's own with `mke2fs -d`: the
//! container's kernel mounts block devices, not host directories. The container's changes
//! are written back to the directory when it stops (`writeback`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SupervisorError;

/// Room left for the container to write, beyond what the tree holds.
const FREE_SPACE_KB: u64 = 256 * 1024;

fn tree_size_kb(dir: &Path) -> u64 {
    Command::new("du")
        .args(["-sk", "--apparent-size"])
        .arg(dir)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Builds `work_dir/rootfs.img` from `dir` and returns its path.
pub fn from_directory(dir: &Path, work_dir: &Path) -> Result<PathBuf, SupervisorError> {
    let image = work_dir.join("rootfs.img");
    // Inodes and directories cost blocks beyond the files' sizes.
    let size_kb = tree_size_kb(dir) * 3 / 2 + FREE_SPACE_KB;
    log::info!(
        "copying root directory {} into {} ({} KiB)",
        dir.display(),
        image.display(),
        size_kb
    );
    let output = Command::new("mke2fs")
        .args(["-q", "-t", "ext4", "-F", "-d"])
        .arg(dir)
        .arg(&image)
        .arg(format!("{size_kb}k"))
        .output()
        .map_err(|e| {
            SupervisorError::RootDirectory(format!(
                "running mke2fs: {e} (install e2fsprogs: hack/setup.sh)"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(SupervisorError::RootDirectory(format!(
            "mke2fs -d {}: {}",
            dir.display(),
            stderr.lines().last().unwrap_or("failed")
        )));
    }
    Ok(image)
}
