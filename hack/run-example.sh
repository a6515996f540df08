#!/usr/bin/env bash
# The one command that sets everything up on a fresh Debian 12 machine and
# runs an example container: packages, kernel, kbox itself, the busybox
# bundle, then a container that prints from inside its own kernel.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash hack/setup.sh
bash hack/build-lkl.sh >/dev/null
cargo build --locked --release
bash hack/mkimage-busybox.sh
bundle=$(mktemp -d)
trap 'rm -rf "$bundle"' EXIT
jq '.process.args = ["sh", "-c", "echo hello from a container on its own kernel: $(uname -sr); ps -o pid,comm"]' \
  bundles/busybox/config.json >"$bundle/config.json"
cp bundles/busybox/rootfs.img "$bundle/"
./target/release/kbox run --bundle "$bundle" "example-$$"
