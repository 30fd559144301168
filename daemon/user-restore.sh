#!/bin/sh
# Runs `criu restore` of a service that runs as another user (daemon/user-tree.ts) in a mount
# namespace of its own, where each mount CRIU binds back is a bare bind (no mounts below it): in
# the restored tree's user namespace CRIU may only bind a mount whose children it would not hide.
# Usage: user-restore.sh BARE PATH... -- CRIU-COMMAND...   (BARE/root is /, BARE/<n> the n-th PATH)
set -e
B=$1
shift
mount -t tmpfs -o mode=0700 fastmig-bare "$B"
mkdir "$B/root"
mount --bind / "$B/root"
n=0
while [ "$1" != -- ]; do
  if [ -d "$1" ]; then mkdir "$B/$n"; else : >"$B/$n"; fi
  mount --bind "$1" "$B/$n"
  n=$((n + 1))
  shift
done
shift
exec "$@"
