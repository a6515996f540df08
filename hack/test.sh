#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine:
# installs what is missing, builds the kernel (or takes it from the cache),
# builds the test images, and runs the whole cargo test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash hack/setup.sh
bash hack/build-lkl.sh >/dev/null
bash hack/mkimage-busybox.sh
cargo test --locked --release -- --test-threads=2
