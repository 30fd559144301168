// The daemon's own fencing: it must hold when the host agent is gone. A fenced tree is frozen, not
// ended, so that nothing is lost when the cluster did not fail it over.
import fs from 'fs';
import type { LineLogger as Logger } from '../common/log-lite';
import type { Exits } from './exits';
import { signalTree } from './process-tree';
import type { ServiceAddress } from './service-address';

/**
 * Fencing: calls `fence` (once a second at most) while `running()` and the lease file is older
 * than ttlSeconds. The host agent dates the lease at its host's last proof that it may serve (a
 * grant of the cluster or a majority of peers), so a host cut off stops its services here before
 * the orchestrator restores them elsewhere.
 */
export function watchLease(file: string, ttlSeconds: number, running: () => boolean, fence: (ageS: number) => void): NodeJS.Timeout {
  return setInterval(() => {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    const ageS = st ? (Date.now() - st.mtimeMs) / 1000 : 0;
    if (running() && ageS > ttlSeconds) fence(ageS);
  }, 1000);
}

/** Freezes the tree of `pid` (SIGSTOP), records the fence and lets go of the service's address: a host that restores it elsewhere takes it. */
export async function freezeFenced(pid: number, ageS: number, exits: Exits, address: ServiceAddress | null, log: Logger): Promise<void> {
  signalTree(pid, 'SIGSTOP');
  exits.fenced(ageS);
  log.warn({ leaseAgeS: Math.round(ageS) }, 'fenced: the lease ran out, the service is frozen (it may run elsewhere now)');
  await address?.release();
}

/** The tree runs on from where it froze, at its address again. */
export async function thawFenced(pid: number, address: ServiceAddress | null, log: Logger): Promise<void> {
  await address?.claim();
  signalTree(pid, 'SIGCONT');
  address?.announce();
  log.info({ pid }, 'thawed: the cluster grants this host again, and the service is still this copy');
}
