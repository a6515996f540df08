//! The OCI side of kbox: bundles and their configs, validation, the container state store,
//! hooks, signals, mount options, and the documents `features` and `spec` print.

pub mod bundle;
pub mod default_config;
pub mod features;
pub mod hooks;
pub mod lifecycle;
pub mod mount_options;
pub mod process;
pub mod signal;
pub mod state;
pub mod validate;
