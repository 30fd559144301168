#!/bin/sh
# The start of a service that runs as another user (daemon/user-tree.ts), in three stages, all as
# PID 1 of the service's PID namespace:
#  1. (root, in a mount namespace of its own) a clean mount tree: the root file system, the host's
#     data mounts given (each bound alone, so CRIU can bind it back on any host), /dev, a fresh
#     /dev/shm and a /proc of this PID namespace; then pivot into it;
#  2. in new user, mount and IPC namespaces: wait until the daemon has written the identity map;
#  3. run anew (an exec as the mapped root regains its capabilities), drop to the user, run the init.
# Usage: user-root.sh ROOT CWD UID GID MOUNT... -- INIT...
set -e
case "$FASTMIG_USER_STAGE" in
'')
  R=$1 C=$2 U=$3 G=$4
  shift 4
  mount --bind / "$R"
  while [ "$1" != -- ]; do
    mount --bind "$1" "$R$1"
    shift
  done
  mount --bind /dev "$R/dev"
  mount -t tmpfs -o mode=1777,nosuid,nodev fastmig-shm "$R/dev/shm"
  mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
  cd "$R"
  pivot_root . .
  umount -l .
  cd "$C" 2>/dev/null || cd /
  FASTMIG_USER_STAGE=2 FASTMIG_USER_IDS="$U $G" exec unshare -U -m -i --propagation private sh "$0" "$@"
  ;;
2)
  until read -r _ </proc/self/uid_map; do sleep 0.01; done
  FASTMIG_USER_STAGE=3 exec sh "$0" "$@"
  ;;
3)
  shift
  read -r U G <<IDS
$FASTMIG_USER_IDS
IDS
  unset FASTMIG_USER_STAGE FASTMIG_USER_IDS
  # Opened in this mount namespace: CRIU finds the mount of every file the tree holds.
  exec </dev/null
  exec setpriv --reuid="$U" --regid="$G" --init-groups "$@"
  ;;
esac
