//! Reading and writing a stopped guest's memory.
//!
//! `process_vm_readv`/`writev` move data without trusting the guest: a bad pointer is an
//! `EFAULT` for the guest, never a fault in the supervisor. Writes into pages the guest
//! mapped read-only (a file mapping being filled in) go through `/proc/PID/mem`, which the
//! tracer may write like a debugger.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use nix::errno::Errno;

/// Longest path or string argument read from a guest (PATH_MAX).
pub const MAX_STRING: usize = 4096;

/// A guest process's address space.
#[derive(Debug, Clone, Copy)]
pub struct GuestMemory {
    pid: i32,
}

impl GuestMemory {
    pub fn new(pid: i32) -> Self {
        Self { pid }
    }

    /// The guest thread whose memory this is.
    pub fn tid(&self) -> i32 {
        self.pid
    }

    /// Reads exactly `buf.len()` bytes at `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_some(addr + done as u64, &mut buf[done..])?;
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            done += n;
        }
        Ok(())
    }

    fn read_some(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: local describes `buf`, which we own mutably; the remote address is only
        // interpreted by the kernel in the guest's address space.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Err(match Errno::last() {
                Errno::ESRCH => Errno::ESRCH,
                _ => Errno::EFAULT,
            });
        }
        Ok(n as usize)
    }

    /// Reads a NUL-terminated string of at most [`MAX_STRING`] bytes (without the NUL).
    pub fn read_cstring(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        if addr == 0 {
            return Err(Errno::EFAULT);
        }
        let mut out = Vec::new();
        let mut chunk = [0u8; 256];
        while out.len() < MAX_STRING {
            // Stay within the current page so that a string ending just before an unmapped
            // page is still read.
            let at = addr + out.len() as u64;
            let to_page_end = 4096 - (at % 4096) as usize;
            let len = chunk.len().min(to_page_end);
            let n = self.read_some(at, &mut chunk[..len])?;
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// Reads a NULL-terminated array of pointers (argv, envp).
    pub fn read_pointer_array(&self, addr: u64, max: usize) -> Result<Vec<u64>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        loop {
            let mut word = [0u8; 8];
            self.read(addr + 8 * out.len() as u64, &mut word)?;
            let ptr = u64::from_ne_bytes(word);
            if ptr == 0 {
                return Ok(out);
            }
            if out.len() == max {
                return Err(Errno::E2BIG);
            }
            out.push(ptr);
        }
    }

    /// Writes all of `data` at `addr` (writable guest memory).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < data.len() {
            let local = libc::iovec {
                iov_base: data[done..].as_ptr() as *mut libc::c_void,
                iov_len: data.len() - done,
            };
            let remote = libc::iovec {
                iov_base: (addr + done as u64) as *mut libc::c_void,
                iov_len: data.len() - done,
            };
            // SAFETY: local describes `data`, which the kernel only reads; the remote address
            // is interpreted in the guest's address space.
            let n = unsafe { libc::process_vm_writev(self.pid, &local, 1, &remote, 1, 0) };
            if n <= 0 {
                return Err(Errno::EFAULT);
            }
            done += n as usize;
        }
        Ok(())
    }

    /// Writes into guest memory regardless of page protection, as a debugger does.
    pub fn poke(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let mem = self.mem_file(true)?;
        mem.write_all_at(data, addr)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EFAULT)))
    }

    fn mem_file(&self, write: bool) -> Result<File, Errno> {
        OpenOptions::new()
            .read(true)
            .write(write)
            .open(format!("/proc/{}/mem", self.pid))
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }
}
