//! Logging set up like runc's: text or JSON lines (`{"level","msg","time"}`, the format
//! containerd's shim parses to report a runtime's last error), to `--log FILE` or stderr.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{GlobalOptions, LogFormat};

/// Environment variables through which a command hands its effective log settings to the
/// `kbox supervise` it starts (which gets no global flags): the log file (absent: none),
/// the format (`text` or `json`) and `1` for debug.
pub const LOG_ENV: &str = "KBOX_LOG";
pub const LOG_FORMAT_ENV: &str = "KBOX_LOG_FORMAT";
pub const DEBUG_ENV: &str = "KBOX_DEBUG";

/// Where log records go, which decides how `main` reports a fatal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDestination {
    Stderr,
    File,
}

/// What to log, where and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub file: Option<PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
    /// The supervisor's stderr is the container's: without a log file, only errors may go
    /// there (and neither `--debug` nor `RUST_LOG` lowers that).
    pub stderr_is_the_containers: bool,
}

impl LogSettings {
    /// The global flags of this command.
    pub fn from_flags(global: &GlobalOptions) -> LogSettings {
        LogSettings {
            // Absolute, so that a supervisor started elsewhere writes the same file.
            file: global
                .log
                .as_deref()
                .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
            format: global.log_format.unwrap_or(LogFormat::Text),
            debug: global.debug,
            stderr_is_the_containers: false,
        }
    }

    /// A supervisor's: its own flags when any was given, else what the command that
    /// started it exported.
    pub fn for_supervisor(global: &GlobalOptions) -> LogSettings {
        let explicit = global.log.is_some() || global.log_format.is_some() || global.debug;
        let mut settings = if explicit {
            LogSettings::from_flags(global)
        } else {
            LogSettings::from_env(|name| std::env::var_os(name))
        };
        settings.stderr_is_the_containers = true;
        settings
    }

    fn from_env(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> LogSettings {
        LogSettings {
            file: var(LOG_ENV)
                .filter(|file| !file.is_empty())
                .map(PathBuf::from),
            format: match var(LOG_FORMAT_ENV) {
                Some(format) if format == "json" => LogFormat::Json,
                _ => LogFormat::Text,
            },
            debug: var(DEBUG_ENV).is_some_and(|debug| debug == "1"),
            stderr_is_the_containers: false,
        }
    }

    /// Sets (or clears) the variables `from_env` reads, for the processes this one starts.
    /// Call while the process has a single thread.
    pub fn export(&self) {
        match &self.file {
            Some(file) => std::env::set_var(LOG_ENV, file),
            None => std::env::remove_var(LOG_ENV),
        }
        let format = match self.format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        std::env::set_var(LOG_FORMAT_ENV, format);
        if self.debug {
            std::env::set_var(DEBUG_ENV, "1");
        } else {
            std::env::remove_var(DEBUG_ENV);
        }
    }

    /// The level filter: `--debug` or warnings, `RUST_LOG` over either, and errors only
    /// for a supervisor without a log file.
    fn quiet(&self) -> bool {
        self.stderr_is_the_containers && self.file.is_none()
    }
}

/// Installs the global logger. `RUST_LOG`, when set, overrides the level (except where
/// stderr is the container's).
pub fn init(settings: &LogSettings) -> anyhow::Result<LogDestination> {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(if settings.quiet() {
        log::LevelFilter::Error
    } else if settings.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    });
    if let Ok(filters) = std::env::var("RUST_LOG") {
        if !settings.quiet() {
            builder.parse_filters(&filters);
        }
    }
    match settings.format {
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
    let destination = match settings.file.as_deref() {
        Some(path) => {
            builder.target(env_logger::Target::Pipe(Box::new(open_log(path)?)));
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

fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_from(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_env(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.into())
        })
    }

    #[test]
    fn the_environment_carries_the_settings() {
        let settings = settings_from(&[
            (LOG_ENV, "/var/log/kbox.log"),
            (LOG_FORMAT_ENV, "json"),
            (DEBUG_ENV, "1"),
        ]);
        assert_eq!(
            settings.file.as_deref(),
            Some(Path::new("/var/log/kbox.log"))
        );
        assert_eq!(settings.format, LogFormat::Json);
        assert!(settings.debug);
        let none = settings_from(&[]);
        assert_eq!(
            (none.file, none.format, none.debug),
            (None, LogFormat::Text, false)
        );
    }

    #[test]
    fn a_supervisor_without_a_log_file_logs_errors_only() {
        let mut settings = settings_from(&[(DEBUG_ENV, "1")]);
        assert!(!settings.quiet());
        settings.stderr_is_the_containers = true;
        assert!(settings.quiet(), "debug records would reach the container");
        settings.file = Some("/l".into());
        assert!(!settings.quiet());
    }
}
