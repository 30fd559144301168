#!/bin/sh
# Runs `criu restore` of a service that runs as another user (daemon/user-tree.ts) in a mount
# namespace of its own, where each mount CRIU binds back is a bare bind (no mounts below it): in
# the restored tree's user namespace CRIU may only bind a mount whose children it would not hide.
# Usage: user-restore.sh BIN BARE PATH... -- CRIU-COMMAND...   (BARE/root is /, BARE/<n> the n-th PATH;
# BIN: the folder of the tools used here, a container's bundle, or - for the PATH's)
set -e
T=$1/
[ "$1" = - ] && T=
B=$2
shift 2
${T}mount -t tmpfs -o mode=0700 fastmig-bare "$B"
${T}mkdir "$B/root"
if [ -n "$T" ]; then
  # In a container its engine covers parts of /proc: the kernel lets the restored user namespace
  # mount a proc only if a whole one is in sight (else "Mount too revealing"). This one is.
  ${T}mkdir "$B/proc"
  ${T}mount -t proc proc "$B/proc"
fi
${T}mount --bind / "$B/root"
n=0
while [ "$1" != -- ]; do
  if [ -d "$1" ]; then ${T}mkdir "$B/$n"; else : >"$B/$n"; fi
  ${T}mount --bind "$1" "$B/$n"
  n=$((n + 1))
  shift
done
shift
exec "$@"
