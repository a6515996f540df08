//! `kbox ps`: the processes of a container, as `ps(1)` lines or a JSON array of pids.

use std::process::Command;

use anyhow::{bail, Context};

use kbox::engine;
use kbox::oci::lifecycle;

use super::{print_json, GlobalOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    /// Container id
    pub id: String,
    /// Options passed to ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(global: &GlobalOptions, args: &PsArgs) -> anyhow::Result<()> {
    let container = global.open_container_shared(&args.id)?;
    lifecycle::check_ps(container.record().current_status())?;
    let pids = engine::processes(container.record(), container.dir())?;
    match args.format {
        PsFormat::Json => print_json(&pids),
        PsFormat::Table => {
            let ps_args = if args.ps_args.is_empty() {
                vec!["-ef".to_owned()]
            } else {
                args.ps_args.clone()
            };
            let output = Command::new("ps")
                .args(&ps_args)
                .output()
                .context("cannot run ps")?;
            if !output.status.success() {
                bail!(
                    "ps {}: {}",
                    ps_args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            print!(
                "{}",
                filter_ps_output(&String::from_utf8_lossy(&output.stdout), &pids)?
            );
            Ok(())
        }
    }
}

/// Keeps the header and the lines whose PID column holds one of `pids`, as runc does.
fn filter_ps_output(output: &str, pids: &[i32]) -> anyhow::Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_column) = header.split_whitespace().position(|name| name == "PID") else {
        bail!("ps output has no PID column (options must keep it)");
    };
    let mut text = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_column)
            .and_then(|field| field.parse::<i32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            text.push_str(line);
            text.push('\n');
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_matching_pids() {
        let output = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 420 1 other\n";
        assert_eq!(
            filter_ps_output(output, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sh\n"
        );
        assert!(filter_ps_output("UID CMD\n", &[1]).is_err());
    }
}
