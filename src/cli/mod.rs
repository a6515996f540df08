//! The `kbox` command line: runc's commands, flags and error wording, one file per command.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub mod create;
pub mod delete;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod logging;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
mod supervise;

use kbox::oci::state::{ContainerId, LockedContainer, StateStore, DEFAULT_ROOT};

#[derive(Debug, Parser)]
#[command(
    name = "kbox",
    version,
    about = "OCI container runtime that gives every container its own Linux kernel",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before (or after) any command, as runc's global flags.
#[derive(Debug, clap::Args)]
pub struct GlobalOptions {
    /// Directory for container state
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// Write logs to FILE instead of stderr
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Log format [default: text]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,

    /// Accepted for runc compatibility; kbox does not manage cgroups through systemd
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// Accepted for runc compatibility: true, false or auto (bare flag means true)
    #[arg(
        long,
        global = true,
        value_name = "true|false|auto",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = ["true", "false", "auto"]
    )]
    pub rootless: Option<String>,
}

/// Joins `--rootless VALUE` into `--rootless=VALUE`: runc takes the value as a separate
/// word, while clap can only make the value optional (bare `--rootless`) with `=`.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut normalized: Vec<std::ffi::OsString> = Vec::new();
    for arg in args {
        let is_rootless_value = matches!(arg.to_str(), Some("true" | "false" | "auto"));
        match normalized.last_mut() {
            Some(last) if is_rootless_value && last == "--rootless" => {
                last.push("=");
                last.push(&arg);
            }
            _ => normalized.push(arg),
        }
    }
    normalized
}

impl GlobalOptions {
    pub fn store(&self) -> StateStore {
        StateStore::new(&self.root)
    }

    /// Validates `raw_id` and locks that container exclusively (commands that change it).
    pub fn open_container(&self, raw_id: &str) -> anyhow::Result<LockedContainer> {
        Ok(self.store().open(&container_id(raw_id)?)?)
    }

    /// Validates `raw_id` and locks that container for reading (commands that only look).
    pub fn open_container_shared(&self, raw_id: &str) -> anyhow::Result<LockedContainer> {
        Ok(self.store().open_shared(&container_id(raw_id)?)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle
    Create(create::CreateArgs),
    /// Run the user-defined process of a created container
    Start(start::StartArgs),
    /// Print the state of a container as JSON
    State(state::StateArgs),
    /// Send a signal to a container's process
    Kill(kill::KillArgs),
    /// Delete a container and its state
    Delete(delete::DeleteArgs),
    /// Create and start a container
    Run(run::RunArgs),
    /// Run a new process in a container
    Exec(exec::ExecArgs),
    /// List containers
    List(list::ListArgs),
    /// Show the processes of a container
    Ps(ps::PsArgs),
    /// Suspend every process of a container
    Pause(pause::PauseArgs),
    /// Resume a paused container
    Resume(resume::ResumeArgs),
    /// Print the features this runtime supports as JSON
    Features(features::FeaturesArgs),
    /// Write a starter config.json into a bundle
    Spec(spec::SpecArgs),
    /// Internal: the process that becomes a container (started by create)
    #[command(hide = true)]
    Supervise(supervise::SuperviseArgs),
}

/// Runs the command and returns the process exit code.
pub fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let global = &cli.global;
    let no_exit_code = |result: anyhow::Result<()>| result.map(|()| 0);
    match &cli.command {
        Command::Create(args) => no_exit_code(create::run(global, args)),
        Command::Start(args) => no_exit_code(start::run(global, args)),
        Command::State(args) => no_exit_code(state::run(global, args)),
        Command::Kill(args) => no_exit_code(kill::run(global, args)),
        Command::Delete(args) => no_exit_code(delete::run(global, args)),
        Command::Run(args) => run::run(global, args),
        Command::Supervise(args) => supervise::run(args),
        Command::Exec(args) => exec::run(global, args),
        Command::List(args) => no_exit_code(list::run(global, args)),
        Command::Ps(args) => no_exit_code(ps::run(global, args)),
        Command::Pause(args) => no_exit_code(pause::run(global, args)),
        Command::Resume(args) => no_exit_code(resume::run(global, args)),
        Command::Features(args) => no_exit_code(features::run(args)),
        Command::Spec(args) => no_exit_code(spec::run(args)),
    }
}

/// Parses the positional container id every command but `list`/`features`/`spec` takes.
pub fn container_id(raw: &str) -> anyhow::Result<ContainerId> {
    Ok(ContainerId::new(raw)?)
}

/// The error and its causes as one line, `outer: cause: cause`, like anyhow's `{:#}` but
/// without a cause that a message already quotes: our errors name their source in their own
/// message (so `{}` alone says everything), and anyhow would append it a second time.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(normalize_args(args.iter().map(Into::into)))
    }

    #[test]
    fn error_line_names_each_cause_once() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let quoting = kbox::oci::bundle::BundleError::RootImage {
            path: "/b/rootfs.img".into(),
            source: io(),
        };
        assert_eq!(
            error_line(&quoting.into()),
            format!("root.path /b/rootfs.img: {}", io())
        );
        let context = anyhow::Error::from(io()).context("cannot write pid file /p");
        assert_eq!(
            error_line(&context),
            format!("cannot write pid file /p: {}", io())
        );
    }

    #[test]
    fn rootless_value_is_optional_and_may_be_separate() {
        let bare = parse(&["kbox", "--rootless", "list"]).unwrap();
        assert_eq!(bare.global.rootless.as_deref(), Some("true"));
        let separate = parse(&["kbox", "--rootless", "false", "list"]).unwrap();
        assert_eq!(separate.global.rootless.as_deref(), Some("false"));
        let joined = parse(&["kbox", "--rootless=auto", "list"]).unwrap();
        assert_eq!(joined.global.rootless.as_deref(), Some("auto"));
        assert!(parse(&["kbox", "--rootless=maybe", "list"]).is_err());
    }

    #[test]
    fn kill_signal_defaults_to_sigterm_and_exec_takes_trailing_args() {
        let Command::Kill(kill) = parse(&["kbox", "kill", "c1"]).unwrap().command else {
            panic!("not kill");
        };
        assert_eq!((kill.signal.as_str(), kill.all), ("SIGTERM", false));
        // A negative number reaches signal parsing (which refuses it), as in runc.
        let Command::Kill(kill) = parse(&["kbox", "kill", "c1", "-9", "--all"])
            .unwrap()
            .command
        else {
            panic!("not kill");
        };
        assert_eq!((kill.signal.as_str(), kill.all), ("-9", true));
        let Command::Exec(exec) =
            parse(&["kbox", "exec", "-e", "A=1", "-e", "B=2", "c1", "ls", "-la"])
                .unwrap()
                .command
        else {
            panic!("not exec");
        };
        assert_eq!(exec.env, ["A=1", "B=2"]);
        assert_eq!(exec.command, ["ls", "-la"]);
    }

    #[test]
    fn create_flags_match_runc() {
        let cli = parse(&[
            "kbox",
            "--root",
            "/tmp/r",
            "--log",
            "/tmp/l",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "c1",
        ])
        .unwrap();
        assert_eq!(cli.global.log_format, Some(LogFormat::Json));
        let Command::Create(create) = cli.command else {
            panic!("not create");
        };
        assert_eq!(create.id, "c1");
        assert_eq!(create.options.preserve_fds, 2);
        assert!(create.options.no_pivot && create.options.no_new_keyring);
    }
}
