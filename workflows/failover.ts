// Host failover. hostMonitor (one per cluster, id `host-monitor`) pings every host; a host silent
// for longer than failoverAfterSeconds is declared down and each of its services is restored from
// its latest checkpoint on a healthy host by failoverService. The registry's generation is bumped
// before the restore, and daemons on the lost host stop themselves once their lease expires
// (failoverAfterSeconds > leaseSeconds), so two instances never serve together.
import { continueAsNew, sleep, workflowInfo, defineQuery, setHandler } from '@temporalio/workflow';
import { underMigrationId } from './run-migration';
import { z } from 'zod';
import { HostName, ServiceName } from '../common/schemas';
import { hostSteps, registry } from './proxies';
import { messageOf, validate } from './errors';

export const MonitorInput = z
  .object({
    pingEverySeconds: z.number().int().min(1).max(300).default(5),
    failoverAfterSeconds: z.number().int().min(5).max(3600).default(30),
    lastSeen: z.record(z.number()).default({}),
    down: z.array(HostName).default([]),
  })
  .strict();

export interface FailoverReport {
  service: string;
  from: string;
  to: string | null;
  outcome: 'restored' | 'restarted' | 'skipped' | 'failed';
  checkpointId?: string;
  generation?: number;
  reason: string;
}

export const monitorQuery = defineQuery<{ lastSeen: Record<string, number>; down: string[]; failovers: FailoverReport[] }>('hosts');

async function answers(host: string): Promise<boolean> {
  try {
    await hostSteps(host).ping();
    return true;
  } catch {
    return false;
  }
}

export async function hostMonitor(raw: z.input<typeof MonitorInput>): Promise<void> {
  const o = validate(MonitorInput, raw, 'hostMonitor input');
  const lastSeen = o.lastSeen;
  const down = new Set(o.down);
  const failovers: FailoverReport[] = [];
  setHandler(monitorQuery, () => ({ lastSeen, down: [...down], failovers }));
  let lastRound = Date.now();
  while (!workflowInfo().continueAsNewSuggested) {
    // Without the registry (S3 away) nothing can be judged this round: a silent S3 is not a silent host.
    const listed = await registry.listHosts().catch(() => null);
    if (!listed) {
      await sleep(o.pingEverySeconds * 1000);
      lastRound = Date.now();
      for (const h of Object.keys(lastSeen)) lastSeen[h] = lastRound;
      continue;
    }
    const hosts = listed.map((h) => h.host);
    const alive = await Promise.all(hosts.map(answers));
    const now = Date.now();
    // If the monitor itself was stopped (the whole stack was down), silence is not the hosts' fault.
    if (now - lastRound > 3 * o.pingEverySeconds * 1000 + 15_000) for (const h of Object.keys(lastSeen)) lastSeen[h] = now;
    lastRound = now;
    for (const [i, host] of hosts.entries()) {
      lastSeen[host] ??= now;
      if (alive[i]) {
        lastSeen[host] = now;
        down.delete(host);
      } else if (!down.has(host) && now - lastSeen[host] > o.failoverAfterSeconds * 1000) {
        down.add(host);
        const healthy = hosts.filter((h, j) => alive[j] && h !== host);
        const placed = (await registry.listPlacements().catch(() => [])).filter((p) => p.host === host);
        for (const [k, p] of placed.entries()) {
          failovers.push(await runFailover({ service: p.spec.name, from: host, candidates: rotate(healthy, k) }));
          if (failovers.length > 100) failovers.shift();
        }
      }
    }
    await sleep(o.pingEverySeconds * 1000);
  }
  await continueAsNew<typeof hostMonitor>({ ...o, lastSeen, down: [...down] });
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

export const FailoverInput = z.object({ service: ServiceName, from: HostName, candidates: z.array(HostName) }).strict();
export type FailoverInput = z.infer<typeof FailoverInput>;

export async function failoverService(raw: FailoverInput): Promise<FailoverReport> {
  const { service, from, candidates } = validate(FailoverInput, raw, 'failoverService input');
  const p = await registry.getPlacement(service);
  if (!p || p.host !== from) return { service, from, to: p?.host ?? null, outcome: 'skipped', reason: 'it is no longer placed on the lost host' };
  const errors: string[] = [];
  for (const to of candidates) {
    const generation = p.generation + 1;
    const target = hostSteps(to);
    // Fence first: from now on the registry gives the service to the new generation on `to`.
    await registry.putPlacement({ ...p, host: to, generation, hostPort: undefined, updatedAt: new Date().toISOString() });
    try {
      const prepared = await target.prepareService({ spec: p.spec, generation, start: !p.lastCheckpoint, preferredHostPort: p.hostPort });
      if (p.lastCheckpoint) {
        await target.downloadImage({ service, checkpointId: p.lastCheckpoint });
        await target.restoreService({ service, generation, checkpointId: p.lastCheckpoint });
      }
      await target.healthCheck({ port: prepared.hostPort ?? p.spec.port, proxied: p.spec.runtime === 'docker' });
      const hostPort = p.spec.runtime === 'docker' ? (prepared.hostPort ?? undefined) : undefined;
      await registry.putPlacement({ ...p, host: to, generation, hostPort, updatedAt: new Date().toISOString() });
      return p.lastCheckpoint
        ? { service, from, to, outcome: 'restored', checkpointId: p.lastCheckpoint, generation, reason: `${from} was lost; restored from checkpoint ${p.lastCheckpoint}` }
        : { service, from, to, outcome: 'restarted', generation, reason: `${from} was lost and no checkpoint existed; started from scratch` };
    } catch (err) {
      errors.push(`${to}: ${messageOf(err)}`);
      await target.removeService({ service, generation }).catch(() => undefined);
    }
  }
  return { service, from, to: null, outcome: 'failed', reason: `no host could take it over: ${errors.join('; ') || 'no healthy host'}` };
}
