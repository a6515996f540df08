//! `kbox create`: set up a container from a bundle, leaving it `created`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use kbox::engine::{self, CreateOptions};
use kbox::oci::bundle::Bundle;
use kbox::oci::hooks::{self, HookKind};
use kbox::oci::state::{self, ContainerRecord, LockedContainer, Status};
use kbox::oci::validate;

use super::{container_id, GlobalOptions};

/// How long `create` waits for a container it must tear down (a failed hook) to die.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub options: CreateOptionsArgs,
}

/// The flags `create` and `run` share.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateOptionsArgs {
    /// Path to the bundle directory
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container process's pid to FILE
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to, when process.terminal is true
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (kbox never pivots on the host)
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (the container's kernel has its own keyrings)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N of this command on to the container process, as its fds 3..3+N (each
    /// becomes a pipe or Unix socket of the container's kernel, fed from the host fd)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

pub fn run(global: &GlobalOptions, args: &CreateArgs) -> anyhow::Result<()> {
    create_container(global, &args.id, &args.options).map(drop)
}

/// The create flow shared with `run`: returns the container, still locked, in `created` state.
pub fn create_container(
    global: &GlobalOptions,
    raw_id: &str,
    options: &CreateOptionsArgs,
) -> anyhow::Result<LockedContainer> {
    let id = container_id(raw_id)?;
    check_preserve_fds(options.preserve_fds)?;
    let bundle = Bundle::load(&options.bundle)?;
    validate::validate_spec(&bundle.spec)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|process| process.terminal())
        .unwrap_or(false);
    check_console_socket(terminal, options.console_socket.is_some())?;

    let record = ContainerRecord::new(
        &id,
        bundle.dir.clone(),
        bundle.root_image.clone(),
        bundle.spec.clone(),
    );
    let mut container = global.store().create(&id, record)?;
    let created = engine::create(&CreateOptions {
        id: &id,
        bundle: &bundle,
        state_dir: container.dir(),
        console_socket: options.console_socket.as_deref(),
        preserve_fds: options.preserve_fds,
        no_pivot: options.no_pivot,
        no_new_keyring: options.no_new_keyring,
    });
    let created = match created {
        Ok(created) => created,
        Err(err) => {
            discard(container);
            return Err(err.into());
        }
    };
    if let Err(err) = finish_create(&mut container, created.pid, options) {
        // The spec's create error path: stop the container, then delete it.
        if let Err(kill_err) = engine::kill_and_wait(container.record(), TEARDOWN_TIMEOUT) {
            log::warn!("tearing down container {id}: {kill_err}");
        }
        discard(container);
        return Err(err);
    }
    Ok(container)
}

/// Records the process, runs the runtime-namespace create hooks and writes the pid file.
fn finish_create(
    container: &mut LockedContainer,
    pid: i32,
    options: &CreateOptionsArgs,
) -> anyhow::Result<()> {
    container.record_mut().set_process(pid)?;
    let record = container.record();
    let state = record.oci_state(Status::Creating);
    for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
        hooks::run_spec_hooks(kind, &record.config, &state)?;
    }
    container.record_mut().status = Status::Created;
    container.save()?;
    if let Some(pid_file) = &options.pid_file {
        state::write_pid_file(pid_file, pid)
            .with_context(|| format!("cannot write pid file {}", pid_file.display()))?;
    }
    Ok(())
}

/// Removes a container whose creation failed, logging (not returning) cleanup errors so
/// the caller reports the original failure.
fn discard(container: LockedContainer) {
    let id = container.record().id.clone();
    if let Err(err) = container.destroy() {
        log::warn!("removing the state of failed container {id}: {err}");
    }
}

/// runc's rules: a terminal needs a socket to hand its master to, and a socket without a
/// terminal is a caller mistake.
pub fn check_console_socket(terminal: bool, has_console_socket: bool) -> anyhow::Result<()> {
    match (terminal, has_console_socket) {
        (true, false) => bail!("process.terminal is true but no --console-socket was given"),
        (false, true) => bail!("--console-socket was given but process.terminal is false"),
        _ => Ok(()),
    }
}

/// `--preserve-fds N`: fds 3..3+N of this command must be open, and there can be at most
/// as many as kbox passes on.
pub fn check_preserve_fds(count: u32) -> anyhow::Result<()> {
    let max = kbox::supervisor::MAX_PRESERVED_FDS;
    if count as usize > max {
        bail!("--preserve-fds {count}: at most {max} fds can be passed to a container");
    }
    for fd in 3..3 + count as i32 {
        // SAFETY: F_GETFD only reads the fd's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            bail!("--preserve-fds {count}: fd {fd} is not open");
        }
    }
    Ok(())
}
