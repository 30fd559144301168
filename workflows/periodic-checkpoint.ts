// One periodic checkpoint: dump while the service keeps running, store it, record it as the
// service's latest, and keep only the newest images (in S3 and on the host).
import { uuid4 } from '@temporalio/workflow';
import type { Placement } from '../common/schemas';
import { hostSteps, registry } from './proxies';

export async function periodicCheckpoint(p: Placement): Promise<string> {
  const service = p.spec.name;
  const steps = hostSteps(p.host);
  const checkpointId = `p${p.generation}-${uuid4().slice(0, 8)}`;
  await steps.checkpointService({ service, generation: p.generation, checkpointId, leaveRunning: true });
  await steps.uploadImage({ service, checkpointId, encrypt: p.spec.encryptImages });
  // Record it only if the service has not moved meanwhile (a migration owns the record then).
  const now = await registry.getPlacement(service);
  if (now && now.host === p.host && now.generation === p.generation) {
    await registry.putPlacement({ ...now, lastCheckpoint: checkpointId, updatedAt: new Date().toISOString() });
  }
  await registry.pruneImages({ service, keep: p.spec.checkpoint?.keep ?? 3 });
  await steps.pruneLocalImages({ service, generation: p.generation, keepId: checkpointId });
  return checkpointId;
}
