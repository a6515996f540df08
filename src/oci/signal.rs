//! Signal arguments as runc accepts them: `KILL`, `SIGKILL`, `kill`, `9`, and the real-time
//! forms `RTMIN`, `RTMIN+3`, `SIGRTMAX-1`.

use std::fmt;
use std::str::FromStr;

use nix::sys::signal::Signal as StandardSignal;

/// Highest signal number on Linux (`SIGRTMAX` of the kernel, not glibc's `SIGRTMAX()`).
const KERNEL_SIGRTMAX: i32 = 64;
/// Lowest real-time signal of the kernel; glibc reserves 32 and 33 for itself, so the
/// `RTMIN` users mean is glibc's `SIGRTMIN()`, 34.
const USER_SIGRTMIN: i32 = 34;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {0:?}")]
pub struct UnknownSignal(pub String);

/// A valid signal number, standard or real-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const KILL: Signal = Signal(libc::SIGKILL);

    pub fn number(self) -> i32 {
        self.0
    }

    /// The signal as nix knows it; `None` for real-time signals, which nix cannot name.
    pub fn standard(self) -> Option<StandardSignal> {
        StandardSignal::try_from(self.0).ok()
    }

    /// Parses a signal name or number the way `runc kill` does.
    pub fn parse(raw: &str) -> Result<Signal, UnknownSignal> {
        let unknown = || UnknownSignal(raw.to_owned());
        if let Ok(number) = raw.parse::<i32>() {
            return if (1..=KERNEL_SIGRTMAX).contains(&number) {
                Ok(Signal(number))
            } else {
                Err(unknown())
            };
        }
        let upper = raw.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(number) = parse_realtime(name) {
            return Ok(Signal(number));
        }
        StandardSignal::iterator()
            .find(|signal| &signal.as_str()[3..] == name)
            .map(|signal| Signal(signal as i32))
            .ok_or_else(unknown)
    }
}

/// `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n` (already upper-cased, without `SIG`).
fn parse_realtime(name: &str) -> Option<i32> {
    let (base, rest, sign) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (USER_SIGRTMIN, rest, 1)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        (KERNEL_SIGRTMAX, rest, -1)
    } else {
        return None;
    };
    let offset = match rest {
        "" => 0,
        _ => {
            let digits = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
            digits.parse::<i32>().ok()?
        }
    };
    let number = base + sign * offset;
    (USER_SIGRTMIN..=KERNEL_SIGRTMAX)
        .contains(&number)
        .then_some(number)
}

impl FromStr for Signal {
    type Err = UnknownSignal;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Signal::parse(raw)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard() {
            Some(signal) => f.write_str(signal.as_str()),
            None if self.0 >= USER_SIGRTMIN => write!(f, "SIGRTMIN+{}", self.0 - USER_SIGRTMIN),
            None => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_prefix_and_any_case() {
        for raw in ["KILL", "SIGKILL", "kill", "SigKill", "9"] {
            assert_eq!(Signal::parse(raw), Ok(Signal::KILL), "{raw}");
        }
        assert_eq!(Signal::parse("TERM"), Ok(Signal::TERM));
        assert_eq!(Signal::parse("SIGWINCH").unwrap().number(), libc::SIGWINCH);
        assert_eq!(Signal::parse("hup").unwrap().number(), libc::SIGHUP);
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(Signal::parse("RTMIN").unwrap().number(), 34);
        assert_eq!(Signal::parse("SIGRTMIN+3").unwrap().number(), 37);
        assert_eq!(Signal::parse("RTMAX-1").unwrap().number(), 63);
        assert_eq!(Signal::parse("64").unwrap().number(), 64);
        assert_eq!(
            Signal::parse("SIGRTMIN+3").unwrap().to_string(),
            "SIGRTMIN+3"
        );
        assert!(Signal::parse("RTMIN+31").is_err());
        assert!(Signal::parse("RTMIN-1").is_err());
    }

    #[test]
    fn rejects_unknown_names_and_numbers() {
        for raw in ["FOO", "SIG", "", "0", "65", "-9", "KILL9", "SIGSIGKILL"] {
            assert_eq!(
                Signal::parse(raw),
                Err(UnknownSignal(raw.to_owned())),
                "{raw}"
            );
        }
        assert_eq!(
            Signal::parse("NOPE").unwrap_err().to_string(),
            r#"unknown signal "NOPE""#
        );
    }
}
