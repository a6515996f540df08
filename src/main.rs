//! The `kbox` command line (wired up in a following change).

fn main() {}
