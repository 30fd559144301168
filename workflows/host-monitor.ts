// hostMonitor (one per cluster, id `host-monitor`) pings every host; each ping grants the host its
// lease (common/quorum.ts). A host the monitor may have reached last more than failoverAfterSeconds
// ago is declared down, and each of its services goes through failoverService (failover.ts) on a
// host that answers, but only while the monitor reaches a strict majority of the voters: by then the
// silent host's lease has surely run out and no majority of its peers renews it, so its daemons
// have stopped their services and two copies never serve together. Failovers run beside the pings,
// which keep granting the healthy hosts their leases meanwhile.
import { ActivityFailure, TimeoutFailure, continueAsNew, sleep, workflowInfo, defineQuery, setHandler } from '@temporalio/workflow';
import { z } from 'zod';
import { HostName, type LeaseGrant } from '../common/schemas';
import { DEFAULT_PING_EVERY_SECONDS, leaseTiming, monitorQuorum, timingProblem, type MonitorQuorum, type PingOutcome } from '../common/quorum';
import { underMigrationId } from './run-migration';
import { monitorPing, registry } from './proxies';
import { messageOf, validate } from './errors';
import type { FailoverInput, FailoverReport } from './failover';

export const MonitorInput = z
  .object({
    pingEverySeconds: z.number().int().min(1).max(300).default(DEFAULT_PING_EVERY_SECONDS),
    failoverAfterSeconds: z.number().int().min(5).max(3600).default(30),
    /** The cluster's lease: the longest any host's daemons keep serving after their last grant. */
    leaseSeconds: z.number().int().min(1).max(3600).default(20),
    /** Per host: the last time a ping may have reached it (epoch ms). */
    lastSeen: z.record(z.number()).default({}),
    down: z.array(HostName).default([]),
  })
  .strict()
  .superRefine((o, ctx) => {
    const why = timingProblem(o);
    if (why) ctx.addIssue({ code: 'custom', path: ['failoverAfterSeconds'], message: why });
  });

export interface MonitorView {
  lastSeen: Record<string, number>;
  down: string[];
  failovers: FailoverReport[];
  /** The last round's count of voters. */
  quorum: MonitorQuorum | null;
  /** Silent hosts not failed over, and why. */
  held: Record<string, string>;
}

export const monitorQuery = defineQuery<MonitorView>('hosts');

/** A ping failed because no agent took it in time: it reached no one. */
function reachedNoOne(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && String(err.cause.timeoutType).endsWith('SCHEDULE_TO_START');
}

async function pingHost(host: string, grant: LeaseGrant): Promise<PingOutcome> {
  try {
    const a = await monitorPing(host)(grant);
    return { host, answered: true, maybeReached: true, lackAgeSeconds: a.lackAgeSeconds ?? 0 };
  } catch (err) {
    return { host, answered: false, maybeReached: !reachedNoOne(err) };
  }
}

export async function hostMonitor(raw: z.input<typeof MonitorInput>): Promise<void> {
  const o = validate(MonitorInput, raw, 'hostMonitor input');
  const timing = leaseTiming(o.leaseSeconds, o.pingEverySeconds);
  const lastSeen = o.lastSeen;
  const down = new Set(o.down);
  const failovers: FailoverReport[] = [];
  const held: Record<string, string> = {};
  /** The failovers under way, by lost host: its down mark stays until they end (its agent thaws nothing meanwhile). */
  const inflight = new Map<string, Promise<void>>();
  let quorum: MonitorQuorum | null = null;
  setHandler(monitorQuery, () => ({ lastSeen, down: [...down], failovers, quorum, held }));
  let lastRound = Date.now();
  // Continue as new only between failovers: waiting for one would stop the pings, hence the grants.
  while (!(workflowInfo().continueAsNewSuggested && inflight.size === 0)) {
    // Without the registry (S3 away) nothing can be judged this round: a silent S3 is not a silent host.
    const listed = await registry.listHosts().catch(() => null);
    if (!listed) {
      await sleep(o.pingEverySeconds * 1000);
      lastRound = Date.now();
      for (const h of Object.keys(lastSeen)) lastSeen[h] = lastRound;
      continue;
    }
    const hosts = listed.map((h) => h.host);
    // A host whose record was deleted is no voter any more, nor down.
    for (const h of Object.keys(lastSeen).filter((x) => !hosts.includes(x))) {
      delete lastSeen[h];
      delete held[h];
      down.delete(h);
    }
    const voters = listed.map((h) => ({ host: h.host, ...(h.peerUrl ? { peerUrl: h.peerUrl } : {}) }));
    const grant: LeaseGrant = { leaseSeconds: o.leaseSeconds, freshSeconds: timing.freshSeconds, graceSeconds: timing.graceSeconds, hosts: voters };
    const roundStart = Date.now();
    const outcomes = await Promise.all(hosts.map((h) => pingHost(h, grant)));
    const now = Date.now();
    // If the monitor itself was stopped (the whole stack was down), silence is not the hosts' fault.
    if (now - lastRound > 3 * o.pingEverySeconds * 1000 + 15_000) for (const h of Object.keys(lastSeen)) lastSeen[h] = now;
    lastRound = now;
    quorum = monitorQuorum(outcomes, timing, now - roundStart);
    for (const p of outcomes) {
      // A ping that may have reached the host may have granted it a lease dated before now.
      if (p.maybeReached || lastSeen[p.host] === undefined) lastSeen[p.host] = now;
      if (p.answered) delete held[p.host];
      if (p.answered && down.has(p.host) && !inflight.has(p.host)) {
        down.delete(p.host);
        await registry.clearHostDown(p.host).catch(() => undefined);
      }
    }
    for (const p of outcomes) {
      if (p.answered || down.has(p.host) || now - lastSeen[p.host] <= o.failoverAfterSeconds * 1000) continue;
      if (!quorum.majority) {
        held[p.host] = quorum.why ?? 'no majority';
        continue;
      }
      if (!(await confirmDown(p.host, lastSeen, o.failoverAfterSeconds))) {
        held[p.host] = 'it registered again meanwhile';
        continue;
      }
      delete held[p.host];
      down.add(p.host);
      const healthy = outcomes.filter((q) => q.answered).map((q) => q.host);
      const run = failOver(p.host, healthy, failovers);
      inflight.set(p.host, run);
      void run.finally(() => inflight.delete(p.host));
    }
    await sleep(o.pingEverySeconds * 1000);
  }
  await continueAsNew<typeof hostMonitor>({ ...o, lastSeen, down: [...down] });
}

/**
 * Marks the host down, then reads its record: its agent writes the record, then reads the mark, so
 * a registration (a grant of its own) is either seen here or not counted there. A host registered
 * within the failover time is not failed over (and the mark goes again).
 */
async function confirmDown(host: string, lastSeen: Record<string, number>, failoverAfterSeconds: number): Promise<boolean> {
  try {
    await registry.markHostDown({ host, at: new Date().toISOString() });
    const rec = await registry.getHost(host);
    const registeredAt = rec ? Date.parse(rec.startedAt) : NaN;
    if (!(registeredAt > lastSeen[host])) return true;
    lastSeen[host] = registeredAt;
    if (Date.now() - registeredAt > failoverAfterSeconds * 1000) return true;
    await registry.clearHostDown(host);
    return false;
  } catch {
    return false;
  }
}

/** Fails over every service placed on the lost host, one at a time, onto the hosts that answered. */
async function failOver(host: string, healthy: string[], reports: FailoverReport[]): Promise<void> {
  const placed = (await registry.listPlacements().catch(() => [])).filter((p) => p.host === host);
  for (const [k, p] of placed.entries()) {
    reports.push(await runFailover({ service: p.spec.name, from: host, candidates: rotate(healthy, k) }));
    if (reports.length > 100) reports.shift();
  }
}

function rotate<T>(xs: T[], k: number): T[] {
  return xs.length ? [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)] : xs;
}

/** Runs failoverService under the service's one migration id, so it never overlaps a migration. */
async function runFailover(input: FailoverInput): Promise<FailoverReport> {
  try {
    return await underMigrationId<FailoverReport>(input.service, 'failoverService', [input]);
  } catch (err) {
    return { service: input.service, from: input.from, to: null, outcome: 'failed', reason: messageOf(err) };
  }
}
