//! The container's pid namespace in its kernel.
//!
//! The kernel's own threads (kthreadd, kworkers, the supervisor's tasks) live in the kernel's
//! first pid namespace; the container's processes get a namespace of their own, so that its
//! `/proc` (mounted from inside it) and `ps` show only them. Its pid 1 is a task of the
//! supervisor's that stays idle for the container's lifetime (the namespace ends with it);
//! every other task in it has its process's host pid (see `Task::spawn`).

use std::ffi::CStr;

use nix::errno::Errno;

use super::{setup_err, task_call, SupervisorError};
use crate::lkl::{sysnr as k, Kernel, Task};

pub struct PidNamespace {
    /// Pid 1 of the namespace.
    init: Task,
    /// A pidfd of `init`, in the supervisor's kernel fd table, to move tasks in with setns.
    pidfd: i64,
}

impl PidNamespace {
    pub fn new(kernel: &Kernel) -> Result<Self, SupervisorError> {
        // CLONE_FILES: the pidfd it opens lands in the supervisor's table, which the tasks
        // made for the container's processes are forked with.
        let init = kernel
            .spawn_task((libc::CLONE_NEWPID | libc::CLONE_FILES) as u64)
            .map_err(setup_err("creating the container's pid namespace"))?;
        // What `ps` shows for pid 1.
        let name = c"kbox-init";
        task_call(
            &init,
            k::PRCTL,
            [
                i64::from(libc::PR_SET_NAME),
                name.as_ptr() as i64,
                0,
                0,
                0,
                0,
            ],
        )
        .map_err(setup_err("naming the container's pid 1"))?;
        // Pid 1 is init itself, in its own namespace.
        let pidfd = task_call(&init, k::PIDFD_OPEN, [1, 0, 0, 0, 0, 0])
            .map_err(setup_err("opening the container's pid namespace"))?;
        Ok(PidNamespace { init, pidfd })
    }

    /// A task for one of the container's processes (the first, an exec'd one, a hook):
    /// forked from the calling thread's (so it has the fds the supervisor opened for it),
    /// its future children in the namespace (the task forked for the process once its host
    /// pid is known), in the image's root `root`.
    pub fn process_task(&self, root: &str) -> Result<Task, SupervisorError> {
        let task =
            Task::spawn_from_thread(0).map_err(setup_err("creating a container process's task"))?;
        task_call(
            &task,
            k::SETNS,
            [self.pidfd, i64::from(libc::CLONE_NEWPID), 0, 0, 0, 0],
        )
        .map_err(setup_err("entering the container's pid namespace"))?;
        super::rootfs::enter(&task, root)?;
        Ok(task)
    }

    /// Mounts a proc filesystem at `target` (a path in the kernel's root) that shows the
    /// namespace: procfs shows the pid namespace of the task that mounts it.
    pub fn mount_proc(
        &self,
        source: &CStr,
        target: &CStr,
        flags: u64,
        data: &CStr,
    ) -> Result<(), Errno> {
        task_call(
            &self.init,
            k::MOUNT,
            [
                source.as_ptr() as i64,
                target.as_ptr() as i64,
                c"proc".as_ptr() as i64,
                flags as i64,
                data.as_ptr() as i64,
                0,
            ],
        )
        .map(drop)
    }
}
