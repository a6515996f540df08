//! The seccomp filters installed in every guest before its first instruction.
//!
//! Two filters, built from the syscall table: the first makes refused syscalls fail with
//! EPERM inside the kernel (no stop); the second lets the syscalls the host serves run at
//! native speed and stops the tracer (`SECCOMP_RET_TRACE`) for everything else. Seccomp
//! applies the strictest action of all filters, so a refused syscall never reaches the
//! tracer and an allowed one never stops.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::syscalls::table::{Disposition, TABLE};

#[derive(Debug, thiserror::Error)]
#[error("building the guest seccomp filter: {0}")]
pub struct FilterError(String);

fn err(e: impl std::fmt::Display) -> FilterError {
    FilterError(e.to_string())
}

/// The BPF programs, in the order they must be installed.
pub fn build() -> Result<Vec<BpfProgram>, FilterError> {
    let mut refused = BTreeMap::new();
    let mut host = BTreeMap::new();
    for entry in TABLE {
        match entry.disposition {
            Disposition::Refused(_) => {
                refused.insert(entry.nr, vec![]);
            }
            Disposition::Host => {
                host.insert(entry.nr, vec![]);
            }
            _ => {}
        }
    }
    // Anonymous memory is the host's; a file mapping needs the file's bytes from the
    // container's kernel, so it stops like any other kernel call.
    let anonymous = SeccompCondition::new(
        3,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(libc::MAP_ANONYMOUS as u64),
        libc::MAP_ANONYMOUS as u64,
    )
    .map_err(err)?;
    host.insert(
        libc::SYS_mmap,
        vec![SeccompRule::new(vec![anonymous]).map_err(err)?],
    );

    let refuse = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )
    .map_err(err)?;
    let trace = SeccompFilter::new(
        host,
        SeccompAction::Trace(0),
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(err)?;
    Ok(vec![
        refuse.try_into().map_err(err)?,
        trace.try_into().map_err(err)?,
    ])
}

/// Installs the programs in the calling thread. Runs in a freshly forked guest before exec:
/// it only makes syscalls. Sets no_new_privs when `no_new_privs` asks for it, and also when
/// the process may not install a filter without it (no CAP_SYS_ADMIN: a rootless kbox).
pub fn install(programs: &[BpfProgram], no_new_privs: bool) -> Result<(), i32> {
    let set_no_new_privs = || {
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(nix::errno::Errno::last_raw());
        }
        Ok(())
    };
    if no_new_privs {
        set_no_new_privs()?;
    }
    for (index, program) in programs.iter().enumerate() {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points at a live BPF program of `len` instructions; seccomp copies it.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if ret != 0 {
            let errno = nix::errno::Errno::last_raw();
            if errno == libc::EACCES && index == 0 && !no_new_privs {
                return install(programs, true);
            }
            return Err(errno);
        }
    }
    Ok(())
}
