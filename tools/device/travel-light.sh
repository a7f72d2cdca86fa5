#!/usr/bin/env bash
# The device tool sends the working tree (tracked and untracked-not-ignored files) plus what `carry` names,
# 64 MiB in all. tests/golden (42 MB) plus the bundle (about 50 MB) is too much, and the bundle holds the
# golden cases the GPU run needs. So, around a device call:
#   tools/device/travel-light.sh aside    # moves tests/golden to $SDJ_ASIDE (default /tmp/sdj-golden-aside)
#   ... run(command="bash build/device-bundle/run.sh", carry=["build/device-bundle"], timeout_s=540) ...
#   tools/device/travel-light.sh back     # puts it back
# `status` prints what would travel now.
set -euo pipefail
cd "$(dirname "$0")/../.."
aside=${SDJ_ASIDE:-/tmp/sdj-golden-aside}
case "${1:-status}" in
  aside)
    [ -d tests/golden ] || { echo "tests/golden is not here (already aside in $aside?)" >&2; exit 1; }
    [ ! -e "$aside" ] || { echo "$aside exists; move it away first" >&2; exit 1; }
    mv tests/golden "$aside" && echo "tests/golden -> $aside" ;;
  back)
    [ -d "$aside" ] || { echo "nothing at $aside" >&2; exit 1; }
    [ ! -e tests/golden ] || { echo "tests/golden exists already" >&2; exit 1; }
    mv "$aside" tests/golden && echo "tests/golden is back" ;;
  status)
    tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
    bundle=$(du -sb build/device-bundle 2>/dev/null | cut -f1 || echo 0)
    echo "working tree $((tree / 1048576)) MiB + build/device-bundle $((${bundle:-0} / 1048576)) MiB (limit 64 MiB)" ;;
  *) echo "usage: $0 aside|back|status" >&2; exit 2 ;;
esac
