// Small workflows behind `fastmig status`, `fastmig logs` and `fastmig remove`.
import { ServiceRef, DaemonStatus, HostRecord, Runtime } from '../common/schemas';
import { endpointOf } from '../common/names';
import { hostSteps, registry } from './proxies';
import { requirePlacement } from './preflight';
import { validate } from './errors';
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { entityWorkflowId } from '../common/names';
import { retireSignal } from './entity';

export interface ServiceView {
  service: string;
  host: string;
  state: DaemonStatus['state'] | 'absent' | 'unreachable';
  pid: number | null;
  runtime: Runtime;
  image: string | null;
  endpoint: string | null;
  /** `address:port` of the service's own address, the same before and after a move (null: it answers at its host's). */
  address: string | null;
  generation: number;
  command: string[];
  lastCheckpoint: DaemonStatus['lastCheckpoint'];
  /** The newest checkpoint in the image store (what a failover restores). */
  storedCheckpoint: string | null;
  lastExit: DaemonStatus['lastExit'];
  restarts: number;
  lastDecision: DaemonStatus['decisions'][number] | null;
}

export async function inspectServices(raw: { service?: string }): Promise<ServiceView[]> {
  const placements = raw.service ? [await requirePlacement(validate(ServiceRef, raw, 'service').service)] : await registry.listPlacements();
  return Promise.all(
    placements.map(async (p): Promise<ServiceView> => {
      let st: DaemonStatus | null = null;
      let reachable = true;
      try {
        st = await hostSteps(p.host).serviceStatus({ service: p.spec.name });
      } catch {
        reachable = false;
      }
      return {
        service: p.spec.name,
        host: p.host,
        state: !reachable ? 'unreachable' : st ? st.state : 'absent',
        pid: st?.pid ?? null,
        runtime: p.spec.runtime,
        image: p.spec.image ?? null,
        endpoint: endpointOf(p),
        address: p.serviceAddress && p.spec.port ? `${p.serviceAddress}:${p.spec.port}` : null,
        generation: p.generation,
        command: p.spec.command,
        lastCheckpoint: st?.lastCheckpoint ?? null,
        storedCheckpoint: p.lastCheckpoint ?? null,
        lastExit: st?.lastExit ?? null,
        restarts: st?.restarts ?? 0,
        lastDecision: st?.decisions?.at(-1) ?? null,
      };
    }),
  );
}

export async function serviceLogs(raw: { service: string; lines?: number }): Promise<string[]> {
  const p = await requirePlacement(validate(ServiceRef, { service: raw.service }, 'service').service);
  return hostSteps(p.host).serviceLogs({ service: p.spec.name, lines: Math.min(Math.max(raw.lines ?? 100, 1), 2000) });
}

export async function removeService(raw: ServiceRef): Promise<{ service: string; host: string; imagesDeleted: number }> {
  const { service } = validate(ServiceRef, raw, 'removeService input');
  const p = await requirePlacement(service);
  await hostSteps(p.host).removeService({ service, generation: p.generation });
  const { deleted } = await registry.deleteImages(service);
  await registry.deletePlacement(service);
  await registry.releaseServiceAddress({ service });
  // The service's entity workflow, if one runs, ends too.
  await getExternalWorkflowHandle(entityWorkflowId(service)).signal(retireSignal).catch(() => undefined);
  return { service, host: p.host, imagesDeleted: deleted };
}

export async function listHosts(): Promise<HostRecord[]> {
  return registry.listHosts();
}
