#!/bin/sh
# CRIU action script: tells the daemon that a restored process tree has been resumed.
[ "$CRTOOLS_SCRIPT_ACTION" = "post-resume" ] && : > "$FASTMIG_READY_FILE"
exit 0
