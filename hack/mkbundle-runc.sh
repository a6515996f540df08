#!/usr/bin/env bash
# Writes a runc (or crun) bundle whose root is the rootfs/ directory that
# hack/mkimage-*.sh built, to run the same programs as kbox does for comparison.
#
# Usage: hack/mkbundle-runc.sh IMAGE_OUT_DIR BUNDLE_DIR [ARG...]
#   IMAGE_OUT_DIR  folder holding rootfs/ (e.g. bundles/busybox)
#   BUNDLE_DIR     folder to write config.json into (created; rootfs is used in place)
#   ARG...         the container's command (default: sh)
# Then: runc run --bundle BUNDLE_DIR ID
# The process, hostname and mounts follow runc's default spec, with terminal off, a
# writable root, hostname kbox and the same PATH and TERM as bundles/busybox/config.json.
set -euo pipefail
PROG=mkbundle-runc
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 2 ] || die "usage: hack/mkbundle-runc.sh IMAGE_OUT_DIR BUNDLE_DIR [ARG...]"
rootfs=$(abspath "$1")/rootfs
bundle=$(abspath "$2")
shift 2
[ $# -gt 0 ] || set -- sh
[ -d "$rootfs" ] || die "no rootfs directory at $rootfs: build it with hack/mkimage-busybox.sh"
need_cmd runc runc
need_cmd jq jq

mkdir -p "$bundle"
spec=$(mktemp -d)
trap 'rm -rf "$spec"' EXIT
(cd "$spec" && runc spec)
jq --arg root "$rootfs" --argjson args "$(json_strings "$@")" '
    .process.terminal = false
  | .process.args = $args
  | .process.env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root"]
  | .root = {path: $root, readonly: false}
  | .hostname = "kbox"
' "$spec/config.json" >"$bundle/config.json.tmp"
mv -f "$bundle/config.json.tmp" "$bundle/config.json"
log "wrote $bundle/config.json (root $rootfs, args: $*)"
