//! Which operation is allowed in which container status, with runc's error wording (its
//! clients match on some of these strings, e.g. "does not exist", "not running").

use super::state::Status;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot start a container in the {0} state")]
    StartInState(Status),
    #[error("container not running")]
    NotRunning,
    #[error("container not paused")]
    NotPaused,
    #[error("cannot delete container {id} that is not stopped: {status}")]
    DeleteNotStopped { id: String, status: Status },
    #[error("cannot exec in a {0} container")]
    ExecInState(Status),
}

pub fn check_start(status: Status) -> Result<(), LifecycleError> {
    match status {
        Status::Created => Ok(()),
        Status::Stopped => Err(LifecycleError::StartStopped),
        Status::Running => Err(LifecycleError::StartRunning),
        other => Err(LifecycleError::StartInState(other)),
    }
}

/// A signal can reach any container whose process exists (runc allows killing a created one).
pub fn check_kill(status: Status) -> Result<(), LifecycleError> {
    match status {
        Status::Created | Status::Running | Status::Paused => Ok(()),
        Status::Creating | Status::Stopped => Err(LifecycleError::NotRunning),
    }
}

/// What `delete` has to do before removing the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePlan {
    /// The process is gone: clean up and remove.
    Remove,
    /// The process must be killed first (a created container, or `--force`).
    KillThenRemove,
}

pub fn plan_delete(id: &str, status: Status, force: bool) -> Result<DeletePlan, LifecycleError> {
    match status {
        Status::Stopped | Status::Creating => Ok(DeletePlan::Remove),
        // Like runc, a container that was created but never started is deleted by killing it.
        Status::Created => Ok(DeletePlan::KillThenRemove),
        Status::Running | Status::Paused if force => Ok(DeletePlan::KillThenRemove),
        status => Err(LifecycleError::DeleteNotStopped {
            id: id.to_owned(),
            status,
        }),
    }
}

pub fn check_pause(status: Status) -> Result<(), LifecycleError> {
    match status {
        Status::Running => Ok(()),
        _ => Err(LifecycleError::NotRunning),
    }
}

pub fn check_resume(status: Status) -> Result<(), LifecycleError> {
    match status {
        Status::Paused => Ok(()),
        _ => Err(LifecycleError::NotPaused),
    }
}

pub fn check_exec(status: Status) -> Result<(), LifecycleError> {
    match status {
        Status::Created | Status::Running => Ok(()),
        other => Err(LifecycleError::ExecInState(other)),
    }
}

/// `ps` lists the processes of a container that has some.
pub fn check_ps(status: Status) -> Result<(), LifecycleError> {
    check_kill(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_rules_use_runc_wording() {
        assert_eq!(check_start(Status::Created), Ok(()));
        assert_eq!(
            check_start(Status::Stopped).unwrap_err().to_string(),
            "cannot start a container that has stopped"
        );
        assert_eq!(
            check_start(Status::Running).unwrap_err().to_string(),
            "cannot start an already running container"
        );
        assert_eq!(
            check_start(Status::Paused).unwrap_err().to_string(),
            "cannot start a container in the paused state"
        );
    }

    #[test]
    fn delete_needs_force_for_live_containers() {
        assert_eq!(
            plan_delete("x", Status::Stopped, false),
            Ok(DeletePlan::Remove)
        );
        assert_eq!(
            plan_delete("x", Status::Created, false),
            Ok(DeletePlan::KillThenRemove)
        );
        assert_eq!(
            plan_delete("x", Status::Running, true),
            Ok(DeletePlan::KillThenRemove)
        );
        assert_eq!(
            plan_delete("x", Status::Running, false)
                .unwrap_err()
                .to_string(),
            "cannot delete container x that is not stopped: running"
        );
    }

    #[test]
    fn kill_pause_resume_exec() {
        assert_eq!(check_kill(Status::Stopped), Err(LifecycleError::NotRunning));
        assert_eq!(check_kill(Status::Created), Ok(()));
        assert_eq!(
            check_pause(Status::Created),
            Err(LifecycleError::NotRunning)
        );
        assert_eq!(
            check_resume(Status::Running),
            Err(LifecycleError::NotPaused)
        );
        assert_eq!(
            check_exec(Status::Stopped).unwrap_err().to_string(),
            "cannot exec in a stopped container"
        );
    }
}
