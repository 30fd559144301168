// failoverService: a service whose host was lost (hostMonitor, host-monitor.ts) is restored from its
// latest stored checkpoint on a healthy host, or started from scratch when it has none, through
// the same target step a migration uses. The registry's generation is bumped before the target is
// prepared (fencing first), so the lost host's instance, should it return, is a replaced one.
import { z } from 'zod';
import { HostName, ServiceName } from '../common/schemas';
import { registry } from './proxies';
import { messageOf, validate } from './errors';
import { Target } from './target';

export interface FailoverReport {
  service: string;
  from: string;
  to: string | null;
  outcome: 'restored' | 'restarted' | 'skipped' | 'failed';
  checkpointId?: string;
  generation?: number;
  reason: string;
}

export const FailoverInput = z.object({ service: ServiceName, from: HostName, candidates: z.array(HostName) }).strict();
export type FailoverInput = z.infer<typeof FailoverInput>;

export async function failoverService(raw: FailoverInput): Promise<FailoverReport> {
  const { service, from, candidates } = validate(FailoverInput, raw, 'failoverService input');
  const p = await registry.getPlacement(service);
  if (!p || p.host !== from) return { service, from, to: p?.host ?? null, outcome: 'skipped', reason: 'it is no longer placed on the lost host' };
  const checkpointId = p.lastCheckpoint;
  const errors: string[] = [];
  for (const to of candidates) {
    const target = new Target(to, p.spec, p.generation + 1, p.serviceAddress);
    const generation = target.generation;
    // Fence first: from now on the registry gives the service to the new generation on `to`.
    await registry.putPlacement(target.placed(p));
    try {
      await target.prepare(!checkpointId, p.hostPort);
      if (checkpointId) await target.arrive(checkpointId, from, 's3');
      else await target.verify();
      await registry.putPlacement(target.placed(p));
      return checkpointId
        ? { service, from, to, outcome: 'restored', checkpointId, generation, reason: `${from} was lost; restored from checkpoint ${checkpointId}` }
        : { service, from, to, outcome: 'restarted', generation, reason: `${from} was lost and no checkpoint existed; started from scratch` };
    } catch (err) {
      errors.push(`${to}: ${messageOf(err)}`);
      await target.remove();
    }
  }
  return { service, from, to: null, outcome: 'failed', reason: `no host could take it over: ${errors.join('; ') || 'no healthy host'}` };
}
