// resumeService (`fastmig resume`): runs a service's copy that a lazy migration left stopped
// (`--on-lazy-failure stop`: its transfer failed after the target had served, and the user chose
// to stop rather than lose what the target accepted). The copy runs on from the freeze: what the
// target accepted since is lost, which is why this is a step the user takes, never an automatic one.
import { ServiceRef } from '../common/schemas';
import { endpointPort, proxiedOf } from '../common/names';
import { hostSteps } from './proxies';
import { requirePlacement } from './preflight';
import { refuse, validate } from './errors';

export interface ResumeReport {
  service: string;
  host: string;
  /** The checkpoint it was held at. */
  checkpointId: string;
  resumedAt: number;
}

export async function resumeService(raw: ServiceRef): Promise<ResumeReport> {
  const { service } = validate(ServiceRef, raw, 'resumeService input');
  const p = await requirePlacement(service);
  const steps = hostSteps(p.host);
  const st = await steps.serviceStatus({ service });
  if (st?.state !== 'checkpointed' || !st.lastCheckpoint) {
    throw refuse(`service "${service}" on ${p.host} is ${st?.state ?? 'without a daemon'}: only a copy a lazy migration left stopped can be resumed`);
  }
  const checkpointId = st.lastCheckpoint.id;
  await steps.restoreForRollback({ service, generation: p.generation, checkpointId });
  const { healthyAt } = await steps.healthCheck({ port: endpointPort(p), proxied: proxiedOf(p), serviceAddress: p.serviceAddress });
  return { service, host: p.host, checkpointId, resumedAt: healthyAt };
}
