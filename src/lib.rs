//! kbox: an OCI container runtime that gives every container its own Linux kernel.
//!
//! The kernel is LKL (the Linux Kernel Library) linked into the runtime process; the
//! container's ext4 root image is mounted on it and the entrypoint's syscalls are redirected
//! to it through ptrace.

pub mod engine;
pub mod lkl;
pub mod oci;
pub mod supervisor;
pub mod syscalls;
pub mod tracer;
