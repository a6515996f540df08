//! The syscall dispatcher: one declarative table ([`table::TABLE`]) saying, per x86_64
//! syscall, who serves it, and the code that carries out each disposition. The table and
//! [`dispatch`] know nothing of ptrace: a transport (the ptrace tracer today, seccomp user
//! notification later) hands them a [`Call`] and applies the [`Action`] they return.

pub mod emulate;
pub mod kernel;
pub mod table;

use nix::errno::Errno;

use crate::lkl::Task;
use crate::tracer::memory::GuestMemory;

/// One intercepted syscall of a guest thread.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub tid: i32,
    pub nr: i64,
    pub args: [u64; 6],
    /// The guest's stack pointer, for scratch space below its red zone.
    pub sp: u64,
}

/// What the transport must do with the stopped guest thread.
#[derive(Debug)]
pub enum Action {
    /// Skip the syscall; it returns this value (a negative errno on failure).
    Return(i64),
    /// Let the host run the syscall, with the arguments replaced by these.
    Rewrite { nr: i64, args: [u64; 6] },
    /// Let the host run the syscall, then call back at its exit with its result.
    RewriteThenExit {
        nr: i64,
        args: [u64; 6],
        on_exit: ExitHook,
    },
    /// A signal cut the call short with this restart code (ERESTARTSYS, ...): the host's
    /// signal delivery decides, as for its own calls, whether it restarts or fails with
    /// EINTR (by the handler's SA_RESTART).
    Interrupted { code: i64 },
}

/// Work to finish when a rewritten syscall returns.
#[derive(Debug)]
pub enum ExitHook {
    /// Fill an anonymous mapping standing in for a file mapping with the file's bytes.
    FillMapping { data: Vec<u8> },
    /// A rewritten execve: keep the images alive until it has run; `name` is what the
    /// task is called once it has (the program's file name).
    Exec {
        keep: Vec<std::fs::File>,
        name: std::ffi::CString,
    },
    /// An interrupted call (see [`Action::Interrupted`]): at the exit of the placeholder the
    /// host ran, make it look like call `nr` returned `code`.
    Interrupted { nr: i64, code: i64 },
}

/// The result of serving a call, with the signals the container's kernel raised against the
/// guest while serving it (to be delivered to the guest on the host).
#[derive(Debug)]
pub struct Served {
    pub action: Action,
    pub signals: u64,
}

impl Served {
    /// The host runs the call as the guest made it.
    pub fn host(call: &Call) -> Self {
        Served {
            action: Action::Rewrite {
                nr: call.nr,
                args: call.args,
            },
            signals: 0,
        }
    }

    pub fn ret(result: Result<i64, Errno>) -> Self {
        Served {
            action: Action::Return(result.unwrap_or_else(|e| -(e as i64))),
            signals: 0,
        }
    }
}

/// Everything a handler may use: the guest's memory and its task in the container kernel.
pub struct Context<'a> {
    pub mem: GuestMemory,
    pub task: &'a Task,
    pub exec: &'a emulate::ExecLoader,
    /// Whether a host pid is one of the container's processes (signals may reach only those).
    pub is_guest: &'a (dyn Fn(i32) -> bool + Sync),
    /// The foreground process group of each of the container's terminals (by device
    /// number), as host pgids.
    pub foreground: &'a Foreground,
}

/// Serves one call according to the table.
pub fn dispatch(ctx: &Context<'_>, call: &Call) -> Served {
    let mut served = serve(ctx, call);
    // EINTR because a signal cut the kernel's call short: let the host decide.
    if let Action::Return(ret) = served.action {
        if let Some(code) = ctx.task.take_restart() {
            if ret == -(libc::EINTR as i64) {
                served.action = Action::Interrupted { code };
            }
        }
    }
    served
}

fn serve(ctx: &Context<'_>, call: &Call) -> Served {
    match table::lookup(call.nr) {
        Some(entry) => match &entry.disposition {
            table::Disposition::Kernel(spec) => kernel::serve(ctx, spec, call),
            table::Disposition::Emulated(emulation) => emulate::serve(ctx, *emulation, call),
            // Not stopped for by the filter; seen only if a guest's own filter traces it.
            table::Disposition::Host => Served::host(call),
            table::Disposition::Refused(errno) => Served::ret(Err(Errno::from_raw(*errno))),
        },
        None => Served::ret(Err(Errno::ENOSYS)),
    }
}

/// Foreground process groups of the container's terminals: device number to host pgid.
pub type Foreground = std::sync::Mutex<std::collections::HashMap<u64, i32>>;
