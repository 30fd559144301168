// The files of one service directory, shared by the daemon and the host agent that starts it.
import path from 'path';
import type { ServiceSpec } from '../common/schemas';
import type { Tools } from './tools';

export interface DaemonConfig {
  spec: ServiceSpec;
  host: string;
  criuPath: string;
  generation: number;
  /** Set for a container: the bundle's tools instead of the host's PATH. */
  tools?: Tools;
  /** true inside a container: restores may land in another network namespace (another IP). */
  container?: boolean;
  /** Fencing: stop the service when the agent's lease is older than this (absent: never). */
  leaseSeconds?: number;
}

/** How often a host agent renews the lease of each of its services. */
export const LEASE_RENEW_MS = 2000;

export function daemonFiles(dir: string) {
  return {
    config: path.join(dir, 'daemon.json'),
    token: path.join(dir, 'token'),
    socket: path.join(dir, 'd.sock'),
    pid: path.join(dir, 'daemon.pid'),
    daemonLog: path.join(dir, 'daemon.log'),
    serviceLog: path.join(dir, 'service.log'),
    images: path.join(dir, 'images'),
    /** Touched by the host agent; a stale lease means the host may have been failed over. */
    lease: path.join(dir, 'lease'),
  };
}
