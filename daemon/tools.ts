// The small programs a daemon needs around the service (sh, unshare, setsid, cat) and its CRIU
// action script. On a host they come from PATH; in a container from the read-only bundle, so
// the image itself needs none of them (distroless, musl or glibc images alike).
import path from 'path';
import { REPO_ROOT } from '../common/config';

export interface Tools {
  sh: string;
  unshare: string;
  setsid: string;
  cat: string;
  /** CRIU action script that marks a restored tree as resumed. */
  notify: string;
}

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
