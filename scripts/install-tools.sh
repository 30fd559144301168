#!/usr/bin/env bash
# Installs the stack's external tools under .tools/ (git-ignored), reusing what is current:
#   - the Temporal CLI (dev server + web UI), built from its Go module
#   - versitygw, an Apache-2.0 S3 server with a posix back end, built from its Go module
#   - a self-contained CRIU >= 4.2 bundle (scripts/install-criu.sh)
#   - arping (iputils-arping), to announce a service address where it moved
#   - dockerd, a static busybox and the runtime bundle for containers (install-docker.sh, build-bundle.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${FASTMIG_TOOLS:-$HERE/.tools}
TEMPORAL_VERSION=v1.5.1   # later tags carry a replace directive that `go install` refuses
VERSITYGW_VERSION=v1.8.0
mkdir -p "$TOOLS/bin"
log() { printf '[tools] %s\n' "$*" >&2; }
# One install at a time: two `stack up`s at once would build into the same folders.
exec 9>"$TOOLS/.install.lock"
flock 9

need() { command -v "$1" >/dev/null 2>&1 || { log "missing $1: $2"; exit 1; }; }
need go "install Go 1.25 or newer"
need unshare "install util-linux"
need tar "install tar"

go_tool() { # name module version
  local name=$1 module=$2 version=$3 stamp="$TOOLS/bin/$1.version"
  if [ -x "$TOOLS/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    log "$name $version present"; return
  fi
  log "building $name $version from its Go module (a few minutes the first time)…"
  GOBIN="$TOOLS/bin" GOFLAGS=-buildvcs=false go install "$module@$version"
  echo "$version" > "$stamp"
}
# arping: a host announces a service address that just moved to it (gratuitous ARP), so peers
# with no connection open reach it at once (daemon/service-address.ts).
if ! command -v arping >/dev/null 2>&1; then
  log "installing arping (iputils-arping)…"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iputils-arping >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iputils-arping >/dev/null; }
fi
go_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_VERSION"
go_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION"

if [ -n "${FASTMIG_CRIU:-}" ]; then
  log "using CRIU from FASTMIG_CRIU=$FASTMIG_CRIU"
else
  bash "$HERE/scripts/install-criu.sh"
fi
# Containers: dockerd and busybox from apt, then the node + busybox bundle mounted into them.
bash "$HERE/scripts/install-docker.sh"
bash "$HERE/scripts/build-bundle.sh" "${FASTMIG_BUNDLE:-$HERE/.tools/bundle}"
# Lazy dumps of large processes need bigger pipe buffers than an unprivileged default allows.
if [ -w /proc/sys/fs/pipe-user-pages-soft ]; then echo 0 > /proc/sys/fs/pipe-user-pages-soft || true; fi
