//! The container state store: one directory per container under the runtime root
//! (`--root`, default `/run/kbox`), holding `state.json` and a `lock` file.
//!
//! Every command that reads or changes a container holds `flock` on its `lock` file, so
//! commands on one container are serialised. `state.json` is replaced atomically (temp file,
//! fsync, rename, fsync of the directory), so a reader never sees half a record.
//!
//! A record names the container's process by pid *and* start time (field 22 of
//! `/proc/<pid>/stat`): if the pid is gone, a zombie, or reused by another process, the
//! container is reported as stopped.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::{ContainerState, Spec};
use serde::{Deserialize, Serialize};

pub const DEFAULT_ROOT: &str = "/run/kbox";
const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";
/// Container ids become directory names; keep them well under NAME_MAX (255).
const MAX_ID_LEN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.', and not \".\" or \"..\"")]
    InvalidId(String),
    #[error("invalid container id: longer than {MAX_ID_LEN} characters")]
    IdTooLong,
    #[error("container {0:?} does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: corrupt state record: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A validated container id, safe to use as a directory name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Accepts what runc accepts (`^[\w+\-.]+$`, minus runc's accidental `,` from the
    /// `+-.` range), refusing `.` and `..`.
    pub fn new(id: &str) -> Result<ContainerId, StateError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.');
        if id.is_empty() || id == "." || id == ".." || !id.chars().all(allowed) {
            return Err(StateError::InvalidId(id.to_owned()));
        }
        if id.len() > MAX_ID_LEN {
            return Err(StateError::IdTooLong);
        }
        Ok(ContainerId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Container status: the runtime-spec's four plus runc's `paused`, which runc's clients
/// (containerd, podman) understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    pub id: String,
    pub status: Status,
    /// Host pid of the container's process (what `state` reports and `kill` signals).
    pub pid: Option<i32>,
    /// Start time of `pid` in clock ticks since boot, to recognise a reused pid.
    pub pid_start_time: Option<u64>,
    pub bundle: PathBuf,
    /// The root image (absolute `root.path`).
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The config the container was created from (hooks run at delete come from here).
    pub config: Spec,
}

impl ContainerRecord {
    /// A new record in `creating` state, stamped with the current time.
    pub fn new(id: &ContainerId, bundle: PathBuf, rootfs: PathBuf, config: Spec) -> Self {
        ContainerRecord {
            id: id.as_str().to_owned(),
            status: Status::Creating,
            pid: None,
            pid_start_time: None,
            bundle,
            rootfs,
            created: jiff::Timestamp::now().to_string(),
            annotations: config.annotations().clone().unwrap_or_default(),
            config,
        }
    }

    /// Records `pid` as the container's process, with its current start time.
    pub fn set_process(&mut self, pid: i32) -> Result<(), StateError> {
        let path = PathBuf::from(format!("/proc/{pid}/stat"));
        let identity = ProcessIdentity::read(pid)
            .map_err(io_error(&path))?
            .ok_or_else(|| StateError::Io {
                path,
                source: io::Error::new(io::ErrorKind::NotFound, "process exited"),
            })?;
        self.pid = Some(pid);
        self.pid_start_time = Some(identity.start_time);
        Ok(())
    }

    /// True while the recorded process is the one we started and has not exited.
    pub fn process_is_alive(&self) -> bool {
        let (Some(pid), Some(start_time)) = (self.pid, self.pid_start_time) else {
            return false;
        };
        matches!(
            ProcessIdentity::read(pid),
            Ok(Some(identity)) if identity.start_time == start_time && !identity.is_zombie
        )
    }

    /// The status to report now: a container whose process died is stopped, whatever the
    /// record says. A record still `creating` is read only by a command holding the lock,
    /// which the creating command holds until it finishes, so its creator died: stopped too.
    pub fn current_status(&self) -> Status {
        match self.status {
            Status::Stopped | Status::Creating => Status::Stopped,
            status if self.process_is_alive() => status,
            _ => Status::Stopped,
        }
    }

    /// The OCI `state` object that hooks receive on stdin, with `status` as given (the
    /// spec fixes which status each hook sees).
    pub fn oci_state(&self, status: Status) -> oci_spec::runtime::State {
        let oci_status = match status {
            Status::Creating => ContainerState::Creating,
            Status::Created => ContainerState::Created,
            // The spec has no paused state; a paused container still has its process.
            Status::Running | Status::Paused => ContainerState::Running,
            Status::Stopped => ContainerState::Stopped,
        };
        let mut state = oci_spec::runtime::State::default();
        state
            .set_version(self.config.version().clone())
            .set_id(self.id.clone())
            .set_status(oci_status)
            .set_pid(self.pid.filter(|_| status != Status::Stopped))
            .set_bundle(self.bundle.clone())
            .set_annotations(Some(self.annotations.clone()).filter(|map| !map.is_empty()));
        state
    }

    /// The JSON `kbox state` prints (runc's fields: the OCI state plus rootfs, created, owner).
    pub fn report(&self, owner: String) -> StateReport {
        let status = self.current_status();
        StateReport {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            // runc reports 0 once the process is gone.
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid.unwrap_or(0)
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StateReport {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

/// The parts of `/proc/<pid>/stat` that identify a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub start_time: u64,
    pub is_zombie: bool,
}

impl ProcessIdentity {
    /// `Ok(None)` when no process has this pid.
    pub fn read(pid: i32) -> io::Result<Option<ProcessIdentity>> {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => parse_proc_stat(&stat)
                .map(Some)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc stat")),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Parses state (field 3) and starttime (field 22). The command name (field 2) may contain
/// spaces and parentheses, so fields are counted after its last `)`.
fn parse_proc_stat(stat: &str) -> Option<ProcessIdentity> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    let state = fields.next()?; // field 3
    let start_time = fields.nth(22 - 4)?.parse().ok()?; // field 22
    Some(ProcessIdentity {
        start_time,
        is_zombie: state == "Z" || state == "X",
    })
}

/// The runtime root directory and the containers in it.
#[derive(Debug, Clone)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// Creates the directory of a new container, locks it and writes `record` (normally in
    /// `creating` state). Fails with "container with id exists" if the id is taken.
    pub fn create(
        &self,
        id: &ContainerId,
        record: ContainerRecord,
    ) -> Result<LockedContainer, StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .map_err(io_error(&self.root))?;
        let dir = self.container_dir(id);
        let created_dir = match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => true,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
            Err(err) => return Err(io_error(&dir)(err)),
        };
        let lock = lock_container_dir(&dir, FlockArg::LockExclusive)?;
        // A directory without a record is left by a `create` that died before writing one
        // (we now hold its lock, so nobody is working on it): take it over.
        if !created_dir && dir.join(STATE_FILE).exists() {
            return Err(StateError::Exists(id.to_string()));
        }
        let mut container = LockedContainer {
            dir,
            _lock: lock,
            record,
        };
        container.save()?;
        Ok(container)
    }

    /// Locks an existing container exclusively and loads its record.
    pub fn open(&self, id: &ContainerId) -> Result<LockedContainer, StateError> {
        self.open_with(id, FlockArg::LockExclusive)
    }

    /// Locks an existing container for reading only (`state`, `list`, `ps`).
    pub fn open_shared(&self, id: &ContainerId) -> Result<LockedContainer, StateError> {
        self.open_with(id, FlockArg::LockShared)
    }

    fn open_with(&self, id: &ContainerId, mode: FlockArg) -> Result<LockedContainer, StateError> {
        let dir = self.container_dir(id);
        let lock = match lock_container_dir_existing(&dir, mode) {
            Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            other => other?,
        };
        // Checked after locking: a `delete` we waited for removes the record before unlocking.
        let record = match read_record(&dir.join(STATE_FILE)) {
            Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            other => other?,
        };
        Ok(LockedContainer {
            dir,
            _lock: lock,
            record,
        })
    }

    /// Every container with a record, in id order. Directories being created or deleted
    /// (no record) are skipped; unreadable records are skipped with a warning.
    pub fn list(&self) -> Result<Vec<LockedContainer>, StateError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_error(&self.root)(err)),
        };
        let mut ids: Vec<ContainerId> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .filter_map(|entry| ContainerId::new(entry.file_name().to_str()?).ok())
            .collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        let mut containers = Vec::with_capacity(ids.len());
        for id in ids {
            match self.open_shared(&id) {
                Ok(container) => containers.push(container),
                Err(StateError::NotExist(_)) => {}
                Err(err) => log::warn!("skipping container {id}: {err}"),
            }
        }
        Ok(containers)
    }
}

/// A container whose lock this command holds (released on drop).
#[derive(Debug)]
pub struct LockedContainer {
    dir: PathBuf,
    _lock: Flock<File>,
    record: ContainerRecord,
}

impl LockedContainer {
    pub fn record(&self) -> &ContainerRecord {
        &self.record
    }

    pub fn record_mut(&mut self) -> &mut ContainerRecord {
        &mut self.record
    }

    /// The container's state directory, where the engine may keep sockets and fifos.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The user owning the state directory, as runc reports it (empty if unknown).
    pub fn owner(&self) -> String {
        let Ok(metadata) = fs::metadata(&self.dir) else {
            return String::new();
        };
        let uid = nix::unistd::Uid::from_raw(metadata.uid());
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) => user.name,
            _ => uid.to_string(),
        }
    }

    pub fn report(&self) -> StateReport {
        self.record.report(self.owner())
    }

    /// Atomically replaces `state.json` with the current record.
    pub fn save(&mut self) -> Result<(), StateError> {
        let path = self.dir.join(STATE_FILE);
        let temp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let json = serde_json::to_vec(&self.record).map_err(|source| StateError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(io_error(&temp))?;
        file.write_all(&json).map_err(io_error(&temp))?;
        file.sync_all().map_err(io_error(&temp))?;
        fs::rename(&temp, &path).map_err(io_error(&path))?;
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(&self.dir))
    }

    /// Removes the container's record and directory. The record goes first, so commands
    /// waiting on the lock see "does not exist" once they get it.
    pub fn destroy(self) -> Result<(), StateError> {
        let record_path = self.dir.join(STATE_FILE);
        match fs::remove_file(&record_path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error(&record_path)(err)),
        }
        fs::remove_dir_all(&self.dir).map_err(io_error(&self.dir))
    }
}

/// Writes `pid` (no newline, as runc does) to `path` atomically: clients poll for the file
/// and must never read it half-written.
pub fn write_pid_file(path: &Path, pid: i32) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "pid file path has no file name",
        )
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(".tmp");
    let temp = path.with_file_name(temp_name);
    fs::write(&temp, pid.to_string())?;
    fs::rename(&temp, path)
}

fn read_record(path: &Path) -> Result<ContainerRecord, StateError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

fn lock_container_dir(dir: &Path, mode: FlockArg) -> Result<Flock<File>, StateError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_error(&path))?;
    flock(file, mode, &path)
}

/// Like [`lock_container_dir`] but never creates the lock file: a missing one means the
/// container does not exist.
fn lock_container_dir_existing(dir: &Path, mode: FlockArg) -> Result<Flock<File>, StateError> {
    let path = dir.join(LOCK_FILE);
    let file = File::open(&path).map_err(io_error(&path))?;
    flock(file, mode, &path)
}

fn flock(file: File, mode: FlockArg, path: &Path) -> Result<Flock<File>, StateError> {
    Flock::lock(file, mode).map_err(|(_, errno)| StateError::Io {
        path: path.to_path_buf(),
        source: errno.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &ContainerId) -> ContainerRecord {
        let spec: Spec = serde_json::from_str(r#"{"ociVersion": "1.0.2"}"#).unwrap();
        ContainerRecord::new(id, "/b".into(), "/b/rootfs.img".into(), spec)
    }

    #[test]
    fn ids_follow_runc_rules() {
        for good in ["a", "abc-1.2_x+y", "A", "0"] {
            assert!(ContainerId::new(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "a,b", "ü", "../x"] {
            assert!(
                matches!(ContainerId::new(bad), Err(StateError::InvalidId(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            ContainerId::new(&"x".repeat(201)),
            Err(StateError::IdTooLong)
        ));
    }

    #[test]
    fn proc_stat_parsing_survives_odd_command_names() {
        let mut fields: Vec<String> = (4..=52).map(|n| n.to_string()).collect();
        fields[22 - 4] = "987654".into();
        let stat = format!("42 (a) b (c) S {}", fields.join(" "));
        let identity = parse_proc_stat(&stat).unwrap();
        assert_eq!(identity.start_time, 987654);
        assert!(!identity.is_zombie);
        let zombie = format!("42 (x) Z {}", fields.join(" "));
        assert!(parse_proc_stat(&zombie).unwrap().is_zombie);
        assert_eq!(parse_proc_stat("42 (truncated"), None);
    }

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let id = ContainerId::new("self").unwrap();
        let mut rec = record(&id);
        rec.status = Status::Running;
        rec.set_process(std::process::id() as i32).unwrap();
        assert!(rec.process_is_alive());
        assert_eq!(rec.current_status(), Status::Running);
        rec.pid_start_time = rec.pid_start_time.map(|t| t + 1);
        assert_eq!(
            rec.current_status(),
            Status::Stopped,
            "reused pid must read as stopped"
        );
        assert_eq!(rec.report(String::new()).pid, 0);
    }

    #[test]
    fn create_open_save_destroy_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let store = StateStore::new(root.path().join("nested/root"));
        let id = ContainerId::new("c1").unwrap();
        let mut created = store.create(&id, record(&id)).unwrap();
        created.record_mut().status = Status::Created;
        created.save().unwrap();
        drop(created);

        assert!(matches!(
            store.create(&id, record(&id)),
            Err(StateError::Exists(_))
        ));
        let opened = store.open(&id).unwrap();
        assert_eq!(opened.record().status, Status::Created);
        // Created but without a live process: reported stopped.
        assert_eq!(opened.report().status, Status::Stopped);
        // flock conflicts between open file descriptions even within one process, so the
        // exclusive lock must go before listing.
        drop(opened);
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].record().id, "c1");
    }

    #[test]
    fn hook_state_is_the_oci_state() {
        let id = ContainerId::new("h").unwrap();
        let mut rec = record(&id);
        rec.pid = Some(42);
        let json = serde_json::to_value(rec.oci_state(Status::Created)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ociVersion": "1.0.2", "id": "h", "status": "created", "pid": 42, "bundle": "/b"})
        );
        let stopped = serde_json::to_value(rec.oci_state(Status::Stopped)).unwrap();
        assert_eq!(stopped.get("pid"), None);
    }

    #[test]
    fn pid_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        write_pid_file(&path, 1234).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "1234");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn destroy_then_open_reports_missing() {
        let root = tempfile::tempdir().unwrap();
        let store = StateStore::new(root.path());
        let id = ContainerId::new("gone").unwrap();
        store.create(&id, record(&id)).unwrap().destroy().unwrap();
        let err = store.open(&id).unwrap_err();
        assert_eq!(err.to_string(), r#"container "gone" does not exist"#);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn stale_directory_without_record_is_taken_over() {
        let root = tempfile::tempdir().unwrap();
        let store = StateStore::new(root.path());
        let id = ContainerId::new("stale").unwrap();
        fs::create_dir(root.path().join("stale")).unwrap();
        assert!(store.create(&id, record(&id)).is_ok());
    }
}
