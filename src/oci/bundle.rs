//! An OCI bundle as kbox needs it: `config.json` plus an ext4 image named by `root.path`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

pub const CONFIG_FILE: &str = "config.json";

/// Byte offset of `s_magic` in an ext2/3/4 image: the superblock starts at 1024 and the
/// magic is its field at offset 0x38.
const EXT4_MAGIC_OFFSET: u64 = 1024 + 0x38;
const EXT4_MAGIC: u16 = 0xEF53;

/// Every message is one line that names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {}: {source}", dir.display())]
    Directory { dir: PathBuf, source: io::Error },
    #[error("{}: not found (a bundle needs a config.json)", path.display())]
    MissingConfig { path: PathBuf },
    #[error("{}: {source}", path.display())]
    ReadConfig { path: PathBuf, source: io::Error },
    #[error("{}: malformed JSON: {source}", path.display())]
    MalformedConfig {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: not a valid OCI runtime config: {source}", path.display())]
    InvalidConfig {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: root.path is missing (kbox needs the path of an ext4 image file)", config.display())]
    MissingRootPath { config: PathBuf },
    #[error("root.path {}: {source}", path.display())]
    RootImage { path: PathBuf, source: io::Error },
    #[error("root.path {} is neither an ext4 image file nor a directory", path.display())]
    RootNotRegularFile { path: PathBuf },
    #[error("root.path {} is not an ext4 image (no superblock magic 0xEF53 at byte 1080)", path.display())]
    RootNotExt4 { path: PathBuf },
}

/// A loaded bundle; every path in it is absolute.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    /// `root.path`, resolved against the bundle directory when relative.
    pub root_image: PathBuf,
    /// `root.path` is a directory tree (as podman and containerd hand out), which the
    /// supervisor copies into an ext4 image of the container's own.
    pub root_is_dir: bool,
}

impl Bundle {
    /// Reads `dir/config.json` and checks that its root image is an ext4 image file.
    pub fn load(dir: &Path) -> Result<Bundle, BundleError> {
        let dir = std::fs::canonicalize(dir).map_err(|source| BundleError::Directory {
            dir: dir.to_path_buf(),
            source,
        })?;
        let config = dir.join(CONFIG_FILE);
        let spec = read_spec(&config)?;
        let root_path = spec
            .root()
            .as_ref()
            .map(|root| root.path().clone())
            .filter(|path| !path.as_os_str().is_empty())
            .ok_or_else(|| BundleError::MissingRootPath {
                config: config.clone(),
            })?;
        let root_image = dir.join(root_path);
        let root_is_dir = root_image.is_dir();
        if !root_is_dir {
            check_ext4_image(&root_image)?;
        }
        Ok(Bundle {
            dir,
            spec,
            root_image,
            root_is_dir,
        })
    }
}

/// Parses a runtime config, telling a JSON syntax error apart from a spec mismatch.
pub fn read_spec(config: &Path) -> Result<Spec, BundleError> {
    let bytes = std::fs::read(config).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => BundleError::MissingConfig {
            path: config.to_path_buf(),
        },
        _ => BundleError::ReadConfig {
            path: config.to_path_buf(),
            source,
        },
    })?;
    serde_json::from_slice(&bytes).map_err(|source| {
        let path = config.to_path_buf();
        match source.classify() {
            serde_json::error::Category::Data => BundleError::InvalidConfig { path, source },
            _ => BundleError::MalformedConfig { path, source },
        }
    })
}

/// Fails unless `path` is a regular file (after following symlinks) with an ext4 superblock.
pub fn check_ext4_image(path: &Path) -> Result<(), BundleError> {
    let image_error = |source| BundleError::RootImage {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(image_error)?;
    if !metadata.is_file() {
        return Err(BundleError::RootNotRegularFile {
            path: path.to_path_buf(),
        });
    }
    let image = File::open(path).map_err(image_error)?;
    if has_ext4_magic(&image).map_err(image_error)? {
        Ok(())
    } else {
        Err(BundleError::RootNotExt4 {
            path: path.to_path_buf(),
        })
    }
}

/// True when the superblock magic is present; a file too short to hold it is not ext4.
pub fn has_ext4_magic(image: &File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    match image.read_exact_at(&mut magic, EXT4_MAGIC_OFFSET) {
        Ok(()) => Ok(u16::from_le_bytes(magic) == EXT4_MAGIC),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file with just an ext4 superblock magic: enough for kbox's check, not mountable.
    pub(crate) fn write_fake_ext4(path: &Path) {
        let mut bytes = vec![0u8; 4096];
        bytes[1080..1082].copy_from_slice(&EXT4_MAGIC.to_le_bytes());
        std::fs::write(path, bytes).unwrap();
    }

    pub(crate) const MINIMAL_CONFIG: &str = r#"{
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs.img"},
        "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}
    }"#;

    fn bundle_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
        dir
    }

    #[test]
    fn loads_relative_root_image() {
        let dir = bundle_with(MINIMAL_CONFIG);
        write_fake_ext4(&dir.path().join("rootfs.img"));
        let bundle = Bundle::load(dir.path()).unwrap();
        assert!(bundle.root_image.is_absolute());
        assert_eq!(bundle.root_image.file_name().unwrap(), "rootfs.img");
        assert_eq!(bundle.spec.version(), "1.0.2");
    }

    #[test]
    fn missing_config_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Bundle::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with("config.json: not found (a bundle needs a config.json)"),
            "{err}"
        );
    }

    #[test]
    fn syntax_and_schema_errors_differ() {
        let dir = bundle_with("{\"ociVersion\": ");
        let err = Bundle::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("malformed JSON: EOF while parsing"), "{err}");

        let dir = bundle_with(r#"{"ociVersion": "1.0.2", "process": {"args": ["sh"]}}"#);
        let err = Bundle::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("not a valid OCI runtime config: missing field"),
            "{err}"
        );
    }

    #[test]
    fn root_path_must_exist_and_be_an_ext4_file() {
        let dir = bundle_with(r#"{"ociVersion": "1.0.2"}"#);
        let err = Bundle::load(dir.path()).unwrap_err();
        assert!(matches!(err, BundleError::MissingRootPath { .. }), "{err}");

        let dir = bundle_with(MINIMAL_CONFIG);
        let err = Bundle::load(dir.path()).unwrap_err();
        assert!(matches!(err, BundleError::RootImage { .. }), "{err}");

        std::fs::create_dir(dir.path().join("rootfs.img")).unwrap();
        let bundle = Bundle::load(dir.path()).unwrap();
        assert!(bundle.root_is_dir);

        std::fs::remove_dir(dir.path().join("rootfs.img")).unwrap();
        std::fs::write(dir.path().join("rootfs.img"), b"tiny").unwrap();
        let err = Bundle::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is not an ext4 image"), "{err}");
    }
}
