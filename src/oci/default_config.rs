//! The starter `config.json` that `kbox spec` writes.

use oci_spec::runtime::Spec;
use serde_json::json;

use super::validate::OCI_VERSION_MAX;

/// Name of the root image the starter config points at, relative to the bundle.
pub const DEFAULT_ROOT_IMAGE: &str = "rootfs.img";

/// A config that runs `sh` on a terminal with `rootfs.img` as root, writable (the image
/// belongs to the bundle, as runc's rootfs directory does), and proc, sysfs, a tmpfs `/dev`
/// and devpts mounted.
pub fn default_spec() -> Spec {
    let config = json!({
        "ociVersion": OCI_VERSION_MAX,
        "root": {"path": DEFAULT_ROOT_IMAGE, "readonly": false},
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/"
        },
        "hostname": "kbox",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"}, {"type": "network"}
            ]
        }
    });
    serde_json::from_value(config).expect("the starter config matches the OCI schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_config_is_valid() {
        let spec = default_spec();
        assert_eq!(crate::oci::validate::validate_spec(&spec), Ok(()));
        assert_eq!(
            spec.root().as_ref().unwrap().path().to_str(),
            Some(DEFAULT_ROOT_IMAGE)
        );
    }
}
