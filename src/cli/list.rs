//! `kbox list`: the containers under `--root`, as a table (runc's columns) or JSON.

use std::io::Write;

use kbox::oci::state::StateReport;

use super::{print_json, GlobalOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only container ids
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(global: &GlobalOptions, args: &ListArgs) -> anyhow::Result<()> {
    let reports: Vec<StateReport> = global
        .store()
        .list()?
        .iter()
        .map(|container| container.report())
        .collect();
    let mut stdout = std::io::stdout().lock();
    if args.quiet {
        for report in &reports {
            writeln!(stdout, "{}", report.id)?;
        }
        return Ok(());
    }
    match args.format {
        ListFormat::Json => print_json(&reports),
        ListFormat::Table => {
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let rows: Vec<[String; 6]> = reports
                .iter()
                .map(|report| {
                    [
                        report.id.clone(),
                        report.pid.to_string(),
                        report.status.to_string(),
                        report.bundle.display().to_string(),
                        report.created.clone(),
                        report.owner.clone(),
                    ]
                })
                .collect();
            stdout.write_all(format_table(&header, &rows).as_bytes())?;
            Ok(())
        }
    }
}

/// Left-aligned columns at least 12 wide with 3 spaces between them, like runc's tabwriter.
pub fn format_table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [12usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count() + 3);
        }
    }
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
