#!/bin/sh
# The start of a service that runs as another user (daemon/user-tree.ts), in three stages, all as
# PID 1 of the service's PID namespace:
#  1. (root, in a mount namespace of its own) a clean mount tree: the root file system, the host's
#     data mounts given (each bound alone, so CRIU can bind it back on any host), /dev, a fresh
#     /dev/shm and a /proc of this PID namespace; then pivot into it;
#  2. in new user, mount and IPC namespaces: wait until the daemon has written the identity map;
#  3. run anew (an exec as the mapped root regains its capabilities), drop to the user, run the init.
# Usage: user-root.sh BIN ROOT CWD UID GID GROUPS MOUNT... -- INIT...
#   BIN: the folder of the tools used here (a container's bundle), or - for the PATH's;
#   GROUPS: init (the account's groups) or clear (a uid the passwd file does not name: none).
set -e
# T: the prefix of every tool's name (stages 2 and 3 learn BIN from the environment).
if [ -z "$FASTMIG_USER_STAGE" ]; then B=$1; else read -r U G S B <<IDS
$FASTMIG_USER_IDS
IDS
fi
T=$B/
[ "$B" = - ] && T=
case "$FASTMIG_USER_STAGE" in
'')
  R=$2 C=$3 U=$4 G=$5 S=$6
  shift 6
  ${T}mount --bind / "$R"
  while [ "$1" != -- ]; do
    ${T}mount --bind "$1" "$R$1"
    shift
  done
  ${T}mount --bind /dev "$R/dev"
  ${T}mount -t tmpfs -o mode=1777,nosuid,nodev fastmig-shm "$R/dev/shm"
  ${T}mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
  cd "$R"
  ${T}pivot_root . .
  ${T}umount -l .
  cd "$C" 2>/dev/null || cd /
  FASTMIG_USER_STAGE=2 FASTMIG_USER_IDS="$U $G $S $B" exec ${T}unshare -U -m -i --propagation private ${T}sh "$0" "$@"
  ;;
2)
  until read -r _ </proc/self/uid_map; do ${T}sleep 0.01; done
  FASTMIG_USER_STAGE=3 exec ${T}sh "$0" "$@"
  ;;
3)
  shift
  unset FASTMIG_USER_STAGE FASTMIG_USER_IDS
  # Opened in this mount namespace: CRIU finds the mount of every file the tree holds.
  exec </dev/null
  exec ${T}setpriv --reuid="$U" --regid="$G" --$S-groups "$@"
  ;;
esac
