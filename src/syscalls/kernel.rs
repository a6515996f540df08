//! Syscalls the container's kernel serves: each is described by a [`KernelCall`] (the LKL
//! number and how every argument crosses from the guest's memory to the supervisor's and
//! back), and [`serve`] carries that description out.

use std::ffi::CString;

use nix::errno::Errno;

use super::{Action, Call, Context, Served};
use crate::lkl::stat::LklStat;

/// Largest buffer copied for one call. Reads and writes larger than this are served in part,
/// which POSIX allows (the guest sees a short count and loops).
pub const MAX_BUFFER: usize = 1 << 20;

/// How one LKL argument is made from the guest's arguments.
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// Guest argument `i`, as a plain value.
    Val(usize),
    /// A constant.
    Const(i64),
    /// Guest argument `i` points at a NUL-terminated string (a path, usually).
    Str(usize),
    /// As `Str`, but NULL is passed on as NULL.
    StrOpt(usize),
    /// Guest argument `ptr` points at `len`-argument bytes the kernel reads.
    InBuf { ptr: usize, len: usize },
    /// Guest argument `ptr` points at `len`-argument bytes the kernel fills; as many as the
    /// syscall returns are copied back.
    OutBuf { ptr: usize, len: usize },
    /// A struct of `size` bytes the kernel reads (NULL allowed when `opt`).
    In { ptr: usize, size: usize, opt: bool },
    /// A struct of `size` bytes the kernel writes (NULL allowed when `opt`).
    Out { ptr: usize, size: usize, opt: bool },
    /// A struct of `size` bytes the kernel reads and writes (NULL allowed when `opt`).
    InOut { ptr: usize, size: usize, opt: bool },
    /// `count`-argument elements of `elem` bytes the kernel writes; all are copied back.
    OutArray {
        ptr: usize,
        count: usize,
        elem: usize,
    },
    /// `count`-argument elements of `elem` bytes the kernel reads.
    InArray {
        ptr: usize,
        count: usize,
        elem: usize,
    },
    /// A `struct stat` the kernel writes in its (asm-generic) layout, converted for the host.
    Stat(usize),
}

/// A syscall served by the container's kernel.
#[derive(Debug)]
pub struct KernelCall {
    /// The LKL (asm-generic) syscall number.
    pub lkl: i64,
    pub args: &'static [Arg],
}

/// A buffer in the supervisor and, when it must be copied back, where to.
struct Staged {
    data: Vec<u8>,
    back: Option<WriteBack>,
}

#[derive(Clone, Copy)]
enum WriteBack {
    /// Copy all of it back to this guest address.
    All(u64),
    /// Copy as many bytes as the syscall returned.
    Returned(u64),
    /// Convert from the kernel's stat layout, then copy.
    Stat(u64),
}

fn stage(
    ctx: &Context<'_>,
    arg: Arg,
    a: &[u64; 6],
    staged: &mut Vec<Staged>,
) -> Result<i64, Errno> {
    let mem = &ctx.mem;
    let mut push = |data: Vec<u8>, back: Option<WriteBack>| {
        staged.push(Staged { data, back });
        let last = staged.last_mut().expect("just pushed");
        Ok(last.data.as_mut_ptr() as i64)
    };
    match arg {
        Arg::Val(i) => Ok(a[i] as i64),
        Arg::Const(v) => Ok(v),
        Arg::StrOpt(i) if a[i] == 0 => Ok(0),
        Arg::Str(i) | Arg::StrOpt(i) => {
            let s = CString::new(mem.read_cstring(a[i])?).map_err(|_| Errno::EINVAL)?;
            push(s.into_bytes_with_nul(), None)
        }
        Arg::InBuf { ptr, len } => {
            let len = (a[len] as usize).min(MAX_BUFFER);
            let mut data = vec![0u8; len];
            mem.read(a[ptr], &mut data)?;
            push(data, None)
        }
        Arg::OutBuf { ptr, len } => {
            let len = (a[len] as usize).min(MAX_BUFFER);
            push(vec![0u8; len], Some(WriteBack::Returned(a[ptr])))
        }
        Arg::In { ptr, opt: true, .. }
        | Arg::Out { ptr, opt: true, .. }
        | Arg::InOut { ptr, opt: true, .. }
            if a[ptr] == 0 =>
        {
            Ok(0)
        }
        Arg::In { ptr, size, .. } => {
            let mut data = vec![0u8; size];
            mem.read(a[ptr], &mut data)?;
            push(data, None)
        }
        Arg::Out { ptr, size, .. } => push(vec![0u8; size], Some(WriteBack::All(a[ptr]))),
        Arg::InOut { ptr, size, .. } => {
            let mut data = vec![0u8; size];
            mem.read(a[ptr], &mut data)?;
            push(data, Some(WriteBack::All(a[ptr])))
        }
        Arg::OutArray { ptr, count, elem } => {
            let size = (a[count] as usize)
                .checked_mul(elem)
                .filter(|&s| s <= MAX_BUFFER)
                .ok_or(Errno::EINVAL)?;
            push(vec![0u8; size], Some(WriteBack::All(a[ptr])))
        }
        Arg::InArray { ptr, count, elem } => {
            let size = (a[count] as usize)
                .checked_mul(elem)
                .filter(|&s| s <= MAX_BUFFER)
                .ok_or(Errno::EINVAL)?;
            let mut data = vec![0u8; size];
            if size > 0 {
                mem.read(a[ptr], &mut data)?;
            }
            push(data, None)
        }
        Arg::Stat(i) => push(
            vec![0u8; std::mem::size_of::<LklStat>()],
            Some(WriteBack::Stat(a[i])),
        ),
    }
}

/// Copies a stat buffer in the kernel's layout to the guest in the host's layout.
fn write_stat(ctx: &Context<'_>, addr: u64, raw: &[u8]) -> Result<(), Errno> {
    // SAFETY: raw holds size_of::<LklStat>() bytes the kernel wrote; LklStat is plain
    // integers, valid for any bit pattern; read_unaligned copes with the Vec's alignment.
    let kernel: LklStat = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
    let host = kernel.to_host();
    // SAFETY: libc::stat is plain data; viewing it as bytes for the copy is sound.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&host as *const libc::stat).cast::<u8>(),
            std::mem::size_of::<libc::stat>(),
        )
    };
    ctx.mem.write(addr, bytes)
}

/// Runs an LKL syscall with arguments staged from the guest and copies results back.
pub fn call(ctx: &Context<'_>, lkl: i64, args: &[Arg], a: &[u64; 6]) -> (Result<i64, Errno>, u64) {
    // Stable addresses: reserve so that pushing never moves earlier buffers' Vec headers
    // (their heap data never moves anyway).
    let mut staged = Vec::with_capacity(args.len());
    let mut lkl_args = [0i64; 6];
    for (slot, arg) in lkl_args.iter_mut().zip(args) {
        match stage(ctx, *arg, a, &mut staged) {
            Ok(v) => *slot = v,
            Err(e) => return (Err(e), 0),
        }
    }
    // SAFETY: every pointer in lkl_args points into a buffer in `staged`, sized as the
    // syscall's description says, alive until after the call.
    let result = unsafe { ctx.task.syscall(lkl, lkl_args) };
    if let Ok(ret) = result.ret {
        for s in &staged {
            let copied = match s.back {
                None => Ok(()),
                Some(WriteBack::All(addr)) => ctx.mem.write(addr, &s.data),
                Some(WriteBack::Returned(addr)) => {
                    let n = (ret.max(0) as usize).min(s.data.len());
                    ctx.mem.write(addr, &s.data[..n])
                }
                Some(WriteBack::Stat(addr)) => write_stat(ctx, addr, &s.data),
            };
            if let Err(e) = copied {
                return (Err(e), result.signals);
            }
        }
    }
    (result.ret, result.signals)
}

/// Serves a table entry of kind [`super::table::Disposition::Kernel`].
pub fn serve(ctx: &Context<'_>, spec: &KernelCall, c: &Call) -> Served {
    let (ret, signals) = call(ctx, spec.lkl, spec.args, &c.args);
    Served {
        action: Action::Return(ret.unwrap_or_else(|e| -(e as i64))),
        signals,
    }
}
