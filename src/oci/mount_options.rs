//! OCI mount `options` (fstab style) split into `MS_*` flags and filesystem data.
//!
//! The table below is the single source of the options kbox recognises: `kbox features`
//! reports exactly these names. Anything else is filesystem data (`mode=755`, `size=64m`,
//! `newinstance`, ...), passed to the filesystem as the mount data string.

use nix::mount::MsFlags;

/// What a recognised option does to the flags.
#[derive(Debug, Clone, Copy)]
enum FlagChange {
    Set(MsFlags),
    Clear(MsFlags),
    Nothing,
}

const RECOGNIZED: &[(&str, FlagChange)] = &[
    ("defaults", FlagChange::Nothing),
    ("ro", FlagChange::Set(MsFlags::MS_RDONLY)),
    ("rw", FlagChange::Clear(MsFlags::MS_RDONLY)),
    ("nosuid", FlagChange::Set(MsFlags::MS_NOSUID)),
    ("suid", FlagChange::Clear(MsFlags::MS_NOSUID)),
    ("nodev", FlagChange::Set(MsFlags::MS_NODEV)),
    ("dev", FlagChange::Clear(MsFlags::MS_NODEV)),
    ("noexec", FlagChange::Set(MsFlags::MS_NOEXEC)),
    ("exec", FlagChange::Clear(MsFlags::MS_NOEXEC)),
    ("sync", FlagChange::Set(MsFlags::MS_SYNCHRONOUS)),
    ("async", FlagChange::Clear(MsFlags::MS_SYNCHRONOUS)),
    ("dirsync", FlagChange::Set(MsFlags::MS_DIRSYNC)),
    ("remount", FlagChange::Set(MsFlags::MS_REMOUNT)),
    ("mand", FlagChange::Set(MsFlags::MS_MANDLOCK)),
    ("nomand", FlagChange::Clear(MsFlags::MS_MANDLOCK)),
    ("atime", FlagChange::Clear(MsFlags::MS_NOATIME)),
    ("noatime", FlagChange::Set(MsFlags::MS_NOATIME)),
    ("diratime", FlagChange::Clear(MsFlags::MS_NODIRATIME)),
    ("nodiratime", FlagChange::Set(MsFlags::MS_NODIRATIME)),
    ("relatime", FlagChange::Set(MsFlags::MS_RELATIME)),
    ("norelatime", FlagChange::Clear(MsFlags::MS_RELATIME)),
    ("strictatime", FlagChange::Set(MsFlags::MS_STRICTATIME)),
    ("nostrictatime", FlagChange::Clear(MsFlags::MS_STRICTATIME)),
    ("lazytime", FlagChange::Set(MsFlags::MS_LAZYTIME)),
    ("nolazytime", FlagChange::Clear(MsFlags::MS_LAZYTIME)),
    ("silent", FlagChange::Set(MsFlags::MS_SILENT)),
    ("loud", FlagChange::Clear(MsFlags::MS_SILENT)),
];

/// Mount options ready for mount(2): flags plus the comma-joined filesystem data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Options that are not flags, joined with commas; empty when there are none.
    pub data: String,
}

/// Applies the options in order, so a later `rw` undoes an earlier `ro`, as mount(8) does.
pub fn parse(options: &[String]) -> MountOptions {
    let mut parsed = MountOptions {
        flags: MsFlags::empty(),
        data: String::new(),
    };
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        match RECOGNIZED.iter().find(|(name, _)| name == option) {
            Some((_, FlagChange::Set(flag))) => parsed.flags.insert(*flag),
            Some((_, FlagChange::Clear(flag))) => parsed.flags.remove(*flag),
            Some((_, FlagChange::Nothing)) => {}
            None => data.push(option),
        }
    }
    parsed.data = data.join(",");
    parsed
}

/// Names of the options kbox turns into flags, for the features document.
pub fn recognized_names() -> Vec<String> {
    RECOGNIZED
        .iter()
        .map(|(name, _)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(options: &[&str]) -> Vec<String> {
        options.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_and_data_are_separated() {
        let parsed = parse(&strings(&["nosuid", "noexec", "mode=755", "size=65536k"]));
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(parsed.data, "mode=755,size=65536k");
    }

    #[test]
    fn later_options_win() {
        assert_eq!(parse(&strings(&["ro", "rw"])).flags, MsFlags::empty());
        assert_eq!(parse(&strings(&["rw", "ro"])).flags, MsFlags::MS_RDONLY);
        assert_eq!(parse(&strings(&["defaults"])).flags, MsFlags::empty());
    }
}
