// hostMonitor (one per cluster, id `host-monitor`) pings every host; a host silent for longer than
// failoverAfterSeconds is declared down and each of its services goes through failoverService
// (failover.ts) on a healthy host. Daemons on the lost host stop themselves once their lease
// expires (failoverAfterSeconds > leaseSeconds), so two instances never serve together.
import { continueAsNew, sleep, workflowInfo, defineQuery, setHandler } from '@temporalio/workflow';
import { z } from 'zod';
import { HostName } from '../common/schemas';
import { underMigrationId } from './run-migration';
import { hostSteps, registry } from './proxies';
import { messageOf, validate } from './errors';
import type { FailoverInput, FailoverReport } from './failover';

export const MonitorInput = z
  .object({
    pingEverySeconds: z.number().int().min(1).max(300).default(5),
    failoverAfterSeconds: z.number().int().min(5).max(3600).default(30),
    lastSeen: z.record(z.number()).default({}),
    down: z.array(HostName).default([]),
  })
  .strict();

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
