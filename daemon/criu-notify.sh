#!/bin/sh
# CRIU action script. After a restore: tells the daemon that the restored tree has been resumed.
# After a dump, while the tree is still frozen (when the service keeps directories, and always in a
# container): tells the daemon, which copies what changed in them (daemon/kept-dirs.ts) and in the
# container's file system (daemon/layer.ts) and answers; anything but "ok" fails the dump, and CRIU
# then resumes the tree. A post-copy dump (daemon/post-copy.ts) is told its images are written.
# The container bundle carries this script with the bundle's sh.
case "$CRTOOLS_SCRIPT_ACTION" in
  post-resume) : > "$FASTMIG_READY_FILE" ;;
  post-dump)
    if [ -n "$FASTMIG_FROZEN_FIFO" ]; then
      echo frozen > "$FASTMIG_FROZEN_FIFO" || exit 1
      read -r answer < "$FASTMIG_ANSWER_FIFO" || exit 1
      [ "$answer" = ok ] || exit 1
    fi
    # A post-copy dump: its images are written and its page server starts once this returns.
    if [ -n "$FASTMIG_DUMPED_FILE" ]; then : > "$FASTMIG_DUMPED_FILE" || exit 1; fi
    ;;
esac
exit 0
