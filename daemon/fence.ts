// The daemon's own fencing watch: it must hold when the host agent is gone.
import fs from 'fs';

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
