// deployService: run a new service under a daemon on one host and record where it runs.
import { startChild, ParentClosePolicy } from '@temporalio/workflow';
import { DeployInput, Placement } from '../common/schemas';
import { hostSteps, registry } from './proxies';
import { endpointOf, entityWorkflowId, proxiedOf } from '../common/names';
import { requireHost } from './preflight';
import { messageOf, refuse, validate } from './errors';

export interface DeployResult {
  service: string;
  host: string;
  pid: number | null;
  endpoint: string | null;
}

export async function deployService(raw: DeployInput): Promise<DeployResult> {
  const { spec, host } = validate(DeployInput, raw, 'deployService input');
  const existing = await registry.getPlacement(spec.name);
  if (existing) throw refuse(`service "${spec.name}" already exists on ${existing.host}: remove it first or migrate it`);
  await requireHost(host);
  const steps = hostSteps(host);
  // A process service gets an address of its own, which moves with it (the cluster's block, if any).
  const serviceAddress = (await registry.claimServiceAddress({ service: spec.name })) ?? undefined;
  let pid: number | null;
  let hostPort: number | null = null;
  let address: string | undefined;
  try {
    const prepared = await steps.prepareService({ spec, generation: 1, start: true, serviceAddress });
    pid = prepared.pid;
    hostPort = prepared.hostPort;
    address = prepared.address;
    await steps.healthCheck({ port: hostPort ?? spec.port, proxied: proxiedOf({ spec, serviceAddress }), serviceAddress });
  } catch (err) {
    await steps.removeService({ service: spec.name, generation: 1 }).catch(() => undefined);
    if (serviceAddress) await registry.releaseServiceAddress({ service: spec.name }).catch(() => undefined);
    throw refuse(`service "${spec.name}" did not become healthy on ${host}: ${messageOf(err)}`);
  }
  const placement: Placement = { spec, host, generation: 1, updatedAt: new Date().toISOString(), ...(hostPort ? { hostPort } : {}), address, ...(serviceAddress ? { serviceAddress } : {}) };
  await registry.putPlacement(placement);
  // The service's entity serializes its migrations and takes its periodic checkpoints.
  await startChild('serviceEntity', {
    workflowId: entityWorkflowId(spec.name),
    args: [{ service: spec.name }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  }).catch(() => undefined); // already running

  return { service: spec.name, host, pid, endpoint: endpointOf(placement) };
}
