//! The kernel's `struct stat` as LKL returns it, and its conversion to the host's.
//!
//! LKL uses the asm-generic layout (`include/uapi/asm-generic/stat.h`, 128 bytes on 64-bit);
//! x86_64 userspace uses the legacy x86_64 layout (`libc::stat`, 144 bytes) with the same
//! fields in another order and width. `struct statx` is architecture independent, so the
//! host type serves for both.

use core::mem::{offset_of, size_of};

/// asm-generic `struct stat` for a 64-bit kernel.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LklStat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    pub __pad1: u64,
    pub st_size: i64,
    pub st_blksize: i32,
    pub __pad2: i32,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: u64,
    pub st_mtime: i64,
    pub st_mtime_nsec: u64,
    pub st_ctime: i64,
    pub st_ctime_nsec: u64,
    pub __unused4: u32,
    pub __unused5: u32,
}

const _: () = {
    assert!(size_of::<LklStat>() == 128);
    assert!(offset_of!(LklStat, st_dev) == 0);
    assert!(offset_of!(LklStat, st_ino) == 8);
    assert!(offset_of!(LklStat, st_mode) == 16);
    assert!(offset_of!(LklStat, st_nlink) == 20);
    assert!(offset_of!(LklStat, st_uid) == 24);
    assert!(offset_of!(LklStat, st_gid) == 28);
    assert!(offset_of!(LklStat, st_rdev) == 32);
    assert!(offset_of!(LklStat, st_size) == 48);
    assert!(offset_of!(LklStat, st_blksize) == 56);
    assert!(offset_of!(LklStat, st_blocks) == 64);
    assert!(offset_of!(LklStat, st_atime) == 72);
    assert!(offset_of!(LklStat, st_atime_nsec) == 80);
    assert!(offset_of!(LklStat, st_mtime) == 88);
    assert!(offset_of!(LklStat, st_mtime_nsec) == 96);
    assert!(offset_of!(LklStat, st_ctime) == 104);
    assert!(offset_of!(LklStat, st_ctime_nsec) == 112);
    assert!(offset_of!(LklStat, __unused4) == 120);
};

// The host layout this module converts into: x86_64 `struct stat` (arch/x86/include/uapi/asm/stat.h).
#[cfg(target_arch = "x86_64")]
const _: () = {
    assert!(size_of::<libc::stat>() == 144);
    assert!(offset_of!(libc::stat, st_dev) == 0);
    assert!(offset_of!(libc::stat, st_ino) == 8);
    assert!(offset_of!(libc::stat, st_nlink) == 16);
    assert!(offset_of!(libc::stat, st_mode) == 24);
    assert!(offset_of!(libc::stat, st_uid) == 28);
    assert!(offset_of!(libc::stat, st_gid) == 32);
    assert!(offset_of!(libc::stat, st_rdev) == 40);
    assert!(offset_of!(libc::stat, st_size) == 48);
    assert!(offset_of!(libc::stat, st_blksize) == 56);
    assert!(offset_of!(libc::stat, st_blocks) == 64);
    assert!(offset_of!(libc::stat, st_atime) == 72);
    assert!(offset_of!(libc::stat, st_atime_nsec) == 80);
    assert!(offset_of!(libc::stat, st_mtime) == 88);
    assert!(offset_of!(libc::stat, st_mtime_nsec) == 96);
    assert!(offset_of!(libc::stat, st_ctime) == 104);
    assert!(offset_of!(libc::stat, st_ctime_nsec) == 112);
    // `struct statx` is the same uapi struct for LKL and the host.
    assert!(size_of::<libc::statx>() == 256);
    assert!(offset_of!(libc::statx, stx_mode) == 28);
    assert!(offset_of!(libc::statx, stx_ino) == 32);
    assert!(offset_of!(libc::statx, stx_atime) == 64);
    assert!(offset_of!(libc::statx, stx_dev_minor) == 140);
};

impl LklStat {
    /// The same information in the host's `struct stat` layout. Device numbers need no
    /// translation: both kernels encode them with `new_encode_dev`.
    pub fn to_host(&self) -> libc::stat {
        // SAFETY: libc::stat consists only of integer fields (some of them private
        // padding), for which the all-zero bit pattern is valid.
        let mut host: libc::stat = unsafe { core::mem::zeroed() };
        host.st_dev = self.st_dev;
        host.st_ino = self.st_ino;
        host.st_nlink = u64::from(self.st_nlink);
        host.st_mode = self.st_mode;
        host.st_uid = self.st_uid;
        host.st_gid = self.st_gid;
        host.st_rdev = self.st_rdev;
        host.st_size = self.st_size;
        host.st_blksize = i64::from(self.st_blksize);
        host.st_blocks = self.st_blocks;
        host.st_atime = self.st_atime;
        // Nanoseconds are below 10^9, so the unsigned kernel field always fits.
        host.st_atime_nsec = self.st_atime_nsec as i64;
        host.st_mtime = self.st_mtime;
        host.st_mtime_nsec = self.st_mtime_nsec as i64;
        host.st_ctime = self.st_ctime;
        host.st_ctime_nsec = self.st_ctime_nsec as i64;
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reaches_the_host_layout() {
        let kernel = LklStat {
            st_dev: 0xfe00,
            st_ino: 12,
            st_mode: 0o100644,
            st_nlink: 3,
            st_uid: 1000,
            st_gid: 100,
            st_rdev: 0x0501,
            st_size: 4096 * 3 + 1,
            st_blksize: 4096,
            st_blocks: 32,
            st_atime: 1_700_000_001,
            st_atime_nsec: 111,
            st_mtime: 1_700_000_002,
            st_mtime_nsec: 222,
            st_ctime: 1_700_000_003,
            st_ctime_nsec: 999_999_999,
            ..LklStat::default()
        };
        let host = kernel.to_host();
        assert_eq!((host.st_dev, host.st_ino, host.st_nlink), (0xfe00, 12, 3));
        assert_eq!(
            (host.st_mode, host.st_uid, host.st_gid),
            (0o100644, 1000, 100)
        );
        assert_eq!((host.st_rdev, host.st_size), (0x0501, 12289));
        assert_eq!((host.st_blksize, host.st_blocks), (4096, 32));
        assert_eq!((host.st_atime, host.st_atime_nsec), (1_700_000_001, 111));
        assert_eq!((host.st_mtime, host.st_mtime_nsec), (1_700_000_002, 222));
        assert_eq!(
            (host.st_ctime, host.st_ctime_nsec),
            (1_700_000_003, 999_999_999)
        );
    }
}
