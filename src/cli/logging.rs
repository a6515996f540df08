//! Logging set up like runc's: text or JSON lines (`{"level","msg","time"}`, the format
//! containerd's shim parses to report a runtime's last error), to `--log FILE` or stderr.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::LogFormat;

/// Where log records go, which decides how `main` reports a fatal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDestination {
    Stderr,
    File,
}

/// Installs the global logger. `RUST_LOG`, when set, overrides the level.
pub fn init(
    log_file: Option<&Path>,
    format: LogFormat,
    debug: bool,
) -> anyhow::Result<LogDestination> {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(if debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    });
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    match format {
        LogFormat::Json => builder.format(|buf, record| {
            let line = serde_json::json!({
                "level": logrus_level(record.level()),
                "msg": record.args().to_string(),
                "time": buf.timestamp().to_string(),
            });
            writeln!(buf, "{line}")
        }),
        LogFormat::Text => builder.format(|buf, record| {
            let message = record.args().to_string();
            writeln!(
                buf,
                "time=\"{}\" level={} msg={:?}",
                buf.timestamp(),
                logrus_level(record.level()),
                message
            )
        }),
    };
    let destination = match log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            builder.target(env_logger::Target::Pipe(Box::new(file)));
            LogDestination::File
        }
        None => {
            builder.target(env_logger::Target::Stderr);
            LogDestination::Stderr
        }
    };
    builder.write_style(env_logger::WriteStyle::Never);
    builder.try_init().context("cannot install the logger")?;
    Ok(destination)
}

/// logrus level names, which runc's log readers expect ("warning", not "warn").
fn logrus_level(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}
