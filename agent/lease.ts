// Fencing on the host agent's side. The agent sets each service's lease to the time its host's
// lease runs from (agent/grants.ts decides it: a grant of the cluster, or a majority of peers), so
// its daemons stop their services once that is older than the lease; when it starts, and while it
// runs, it removes any local instance that the placement registry no longer gives to this host
// (the service was failed over while the agent was away or cut off).
import fs from 'fs';
import { paths } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { listServiceFolders, serviceFolder, type DaemonConfig } from '../common/service-folder';
import { FENCED_DECISION } from '../common/plain-schemas';
import type { DaemonStatus, Placement, ServiceState } from '../common/schemas';
import type { Logger } from '../common/log';
import { daemonAt } from './daemon-client';

const serviceDirs = (host: string, home: string) => listServiceFolders(paths.hostDir(host, home));

/**
 * Sets the lease of one service folder to `at` (ms): never back in time, since the newest proof
 * already given stays proof; a folder without a lease gets one.
 */
export function writeLease(dir: string, at: number): void {
  const file = serviceFolder(dir).lease;
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) fs.writeFileSync(file, '');
  if (st && st.mtimeMs >= at) return;
  fs.utimesSync(file, new Date(at), new Date(at));
}

/** Sets every service lease of the host to `at`. */
export function writeLeases(host: string, home: string, at: number): void {
  for (const dir of serviceDirs(host, home)) {
    try {
      writeLease(dir, at);
    } catch {
      /* removed meanwhile */
    }
  }
}

/** States in which a copy's process tree runs (or is about to) and could answer clients. */
export const SERVING_STATES: readonly ServiceState[] = ['starting', 'running', 'restoring', 'checkpointing'];

/**
 * While the agent runs, a replaced copy that does not serve is left this long after a migration
 * moved the record from it: it is that migration's source, which still copies its image to S3 and then removes it
 * (the upload may take up to its own 10 min limit). Only a copy that serves is a danger at once.
 */
export const IDLE_COPY_GRACE_MS = 15 * 60_000;

/** The record moved by a migration from this very copy (not by a failover, which leaves it nothing to store). */
const isMigrationSource = (p: Placement, host: string, generation: number) => p.migratedFrom?.host === host && p.migratedFrom.generation === generation;

/** The daemon froze (or, before, stopped) its service itself because its lease ran out, and nothing started it since. */
export function wasFenced(st: DaemonStatus): boolean {
  return st.state === 'fenced' || (st.state === 'standby' && st.decisions.at(-1)?.reason === FENCED_DECISION);
}

export interface ThawOptions {
  /** This host's lease is fresh from a grant of the cluster (a peers' majority alone never thaws). */
  granted: () => boolean;
  /** The host monitor's mark that it is failing this host over (kept until those failovers end). */
  downMark: () => Promise<unknown>;
  placementOf: (service: string) => Promise<Placement | null>;
  log: Logger;
}

/**
 * Thaws the copies its daemons froze when the lease ran out, once the cluster grants this host
 * again, no failover of it is under way, and the registry still names this very copy: a cut
 * shorter than the failover time then costs the service its frozen seconds, nothing more. A copy
 * the registry gave away is left to fenceStaleInstances. The monitor marks a host down before it
 * fails it over and clears the mark only after those failovers ended (workflows/host-monitor.ts).
 * It also opens a migration's held target that the registry names (its workflow could not).
 */
export async function resumeOwnCopies(host: string, home: string, o: ThawOptions): Promise<number> {
  let thawed = 0;
  for (const dir of serviceDirs(host, home)) {
    const conf = JSON.parse(fs.readFileSync(serviceFolder(dir).config, 'utf8')) as DaemonConfig;
    const call = daemonAt(dir);
    const st = await call<DaemonStatus>('GET', '/status').catch(() => null);
    const fenced = st?.state === 'fenced';
    if (!st?.held && !fenced) continue;
    if (fenced && (!o.granted() || (await o.downMark()))) continue;
    const p = await o.placementOf(conf.spec.name);
    if (p?.host !== host || p.generation !== conf.generation) continue; // given away: fenceStaleInstances removes it
    if (st.held) {
      await call('POST', '/open', {}); // a migration's target whose workflow could not open it after the cut-over
      continue;
    }
    o.log.warn({ service: conf.spec.name, generation: conf.generation }, 'the cluster grants this host again and the service is still this copy: thawing it');
    await call('POST', '/thaw', {});
    thawed++;
  }
  return thawed;
}

/** Local instances the registry gave to another host or to a newer generation. */
export async function staleInstances(
  host: string,
  home: string,
  placementOf: (service: string) => Promise<Placement | null>,
  atStart = true,
  statusOf?: (service: string) => Promise<DaemonStatus | null>,
) {
  const stale: { service: string; generation: number; why: string }[] = [];
  for (const dir of serviceDirs(host, home)) {
    const conf = JSON.parse(fs.readFileSync(serviceFolder(dir).config, 'utf8')) as DaemonConfig;
    const p = await placementOf(conf.spec.name);
    // While the agent runs, a service without a record may be one being deployed right now, and a
    // copy without its daemon may be a target being prepared: only replaced generations are stale.
    if (!atStart && (!p || p.generation <= conf.generation)) continue;
    if (!atStart && statusOf && isMigrationSource(p!, host, conf.generation) && Date.now() - Date.parse(p!.updatedAt) < IDLE_COPY_GRACE_MS) {
      // A daemon that does not answer may still have a serving tree: only a live daemon's word
      // counts. A copy its daemon fenced (its lease ran out) is no migration's source: removed now.
      const st = await statusOf(conf.spec.name).catch(() => null);
      if (st ? !SERVING_STATES.includes(st.state) && !wasFenced(st) : !pidAlive(serviceFolder(dir).pid)) continue;
    }
    const why = !p
      ? 'the service no longer exists'
      : p.host !== host && p.generation > conf.generation
        ? `it now runs on ${p.host} (generation ${p.generation})`
        : p.host === host && p.generation > conf.generation
          ? `generation ${p.generation} replaced this generation ${conf.generation}`
          : p.host !== host && !pidAlive(serviceFolder(dir).pid)
            ? `it runs on ${p.host}; this copy of an aborted move has no daemon left`
            : null;
    if (why) stale.push({ service: conf.spec.name, generation: conf.generation, why });
  }
  return stale;
}

export async function fenceStaleInstances(
  host: string,
  home: string,
  placementOf: (service: string) => Promise<Placement | null>,
  remove: (req: { service: string; generation: number }) => Promise<unknown>,
  log: Logger,
  atStart = true,
  statusOf?: (service: string) => Promise<DaemonStatus | null>,
): Promise<number> {
  const stale = await staleInstances(host, home, placementOf, atStart, statusOf);
  for (const s of stale) {
    log.warn({ service: s.service, generation: s.generation, why: s.why }, 'removing a stale instance before serving');
    await remove({ service: s.service, generation: s.generation });
  }
  return stale.length;
}
