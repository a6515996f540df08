//! The `kbox` command: runc-compatible CLI over the kbox library.

mod cli;

use clap::Parser;

use cli::logging::{self, LogDestination, LogSettings};

fn main() {
    let cli = cli::Cli::parse_from(cli::normalize_args(std::env::args_os()));
    let settings = match cli.command {
        cli::Command::Supervise(_) => LogSettings::for_supervisor(&cli.global),
        _ => LogSettings::from_flags(&cli.global),
    };
    // For the supervisor `create` and `run` start (still one thread here).
    settings.export();
    let destination = match logging::init(&settings) {
        Ok(destination) => destination,
        Err(err) => {
            eprintln!("kbox: {}", cli::error_line(&err));
            std::process::exit(1);
        }
    };
    if cli.global.systemd_cgroup {
        log::debug!("--systemd-cgroup accepted; kbox does not manage host cgroups");
    }
    match cli::dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            // runc's way: the error goes to the log (where containerd's shim reads the last
            // "error" record) and, as one line, to stderr (where podman reads it).
            if destination == LogDestination::File {
                log::error!("{}", cli::error_line(&err));
            }
            eprintln!("kbox: {}", cli::error_line(&err));
            std::process::exit(1);
        }
    }
}
