//! `process.capabilities` applied to the first process's task in the container's kernel,
//! as runc applies them: the bounding set is cut down, the effective, permitted and
//! inheritable sets are set (kept across the switch to `process.user`), and the ambient
//! capabilities are raised where the kernel allows it. Without `process.capabilities` the
//! task keeps what it has.

use nix::errno::Errno;
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use super::{setup_err, task_call, SupervisorError};
use crate::lkl::{sysnr as k, Task};

/// The kernel's numbers for the capabilities the runtime-spec names (linux/capability.h).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const PR_SET_KEEPCAPS: i64 = 8;
const PR_CAPBSET_DROP: i64 = 24;
const PR_CAP_AMBIENT: i64 = 47;
const PR_CAP_AMBIENT_RAISE: i64 = 2;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// A capability set as the kernel's bit mask; a set the spec leaves out is empty.
fn mask(set: &Option<Capabilities>) -> u64 {
    let mut bits = 0u64;
    for cap in set.iter().flatten() {
        let name = serde_json::to_value(cap).ok();
        let name = name.as_ref().and_then(|v| v.as_str()).unwrap_or("");
        match NAMES.iter().position(|known| *known == name) {
            Some(nr) => bits |= 1 << nr,
            None => log::warn!(
                "process.capabilities: {name:?} is unknown to the container's kernel; ignored"
            ),
        }
    }
    bits
}

fn prctl(task: &Task, option: i64, arg: i64, arg3: i64) -> Result<i64, Errno> {
    task_call(task, k::PRCTL, [option, arg, arg3, 0, 0, 0])
}

/// First half, before the task changes to `process.user`: cuts the bounding set (which
/// needs CAP_SETPCAP, still held) and keeps the permitted set across the uid change.
pub(super) fn before_user(
    task: &Task,
    caps: Option<&LinuxCapabilities>,
) -> Result<(), SupervisorError> {
    let Some(caps) = caps else { return Ok(()) };
    let bounding = mask(caps.bounding());
    for nr in 0..NAMES.len() as i64 {
        if bounding & (1 << nr) == 0 {
            prctl(task, PR_CAPBSET_DROP, nr, 0).map_err(setup_err(format!(
                "dropping {} from the bounding set",
                NAMES[nr as usize]
            )))?;
        }
    }
    prctl(task, PR_SET_KEEPCAPS, 1, 0).map_err(setup_err("keeping capabilities"))?;
    Ok(())
}

/// Second half, after the change to `process.user`: sets the effective, permitted and
/// inheritable sets and raises the ambient ones. As in runc, an ambient capability the
/// kernel refuses (it must be permitted and inheritable) is left out.
pub(super) fn after_user(
    task: &Task,
    caps: Option<&LinuxCapabilities>,
) -> Result<(), SupervisorError> {
    let Some(caps) = caps else { return Ok(()) };
    prctl(task, PR_SET_KEEPCAPS, 0, 0).map_err(setup_err("resetting keep-capabilities"))?;
    let (effective, permitted, inheritable) = (
        mask(caps.effective()),
        mask(caps.permitted()),
        mask(caps.inheritable()),
    );
    let header: [u32; 2] = [LINUX_CAPABILITY_VERSION_3, 0];
    // struct __user_cap_data_struct[2]: effective, permitted, inheritable; low then high.
    let data: [u32; 6] = [
        effective as u32,
        permitted as u32,
        inheritable as u32,
        (effective >> 32) as u32,
        (permitted >> 32) as u32,
        (inheritable >> 32) as u32,
    ];
    task_call(
        task,
        k::CAPSET,
        [header.as_ptr() as i64, data.as_ptr() as i64, 0, 0, 0, 0],
    )
    .map_err(setup_err("setting process.capabilities"))?;
    let ambient = mask(caps.ambient());
    for nr in 0..NAMES.len() as i64 {
        if ambient & (1 << nr) != 0 {
            if let Err(errno) = prctl(task, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, nr) {
                log::debug!("ambient {} not raised: {errno}", NAMES[nr as usize]);
            }
        }
    }
    Ok(())
}
