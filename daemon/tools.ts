// The small programs a daemon needs around the service (sh, unshare, setsid, cat) and its CRIU
// action script. On a host they come from PATH; in a container from the read-only bundle, so
// the image itself needs none of them (distroless, musl or glibc images alike).
import path from 'path';
import { REPO_ROOT } from '../common/config';
import type { Tools } from '../common/service-folder';

/** The PATH of the service, its hooks and CRIU (a daemon does not pass its own on). */
export const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const HOST_TOOLS: Tools = {
  sh: 'sh',
  unshare: 'unshare',
  setsid: 'setsid',
  cat: 'cat',
  notify: path.join(REPO_ROOT, 'daemon', 'criu-notify.sh'),
};

/** Where the bundle is mounted inside every service container. */
export const BUNDLE_MOUNT = '/fastmig/bundle';

export const BUNDLE_TOOLS: Tools = {
  sh: `${BUNDLE_MOUNT}/bin/sh`,
  unshare: `${BUNDLE_MOUNT}/bin/unshare`,
  setsid: `${BUNDLE_MOUNT}/bin/setsid`,
  cat: `${BUNDLE_MOUNT}/bin/cat`,
  notify: `${BUNDLE_MOUNT}/bin/criu-notify`,
};
