// migrateService: move a running service to another host, keeping its state.
// preflight → (warm) prepare target → checkpoint → upload → (cold) prepare target → download →
// restore → verify → cut over → clean up. Any failure after the freeze rolls back to the source.
import { defineQuery, setHandler, sleep, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from './search-attributes';
import { MigrateInput, MigrationProgress, MigrationReport, PhaseName } from '../common/schemas';
import { hostSteps, metrics, registry } from './proxies';
import { endpointPort } from '../common/names';
import { requireHost, requirePlacement } from './preflight';
import { messageOf, refuse, validate } from './errors';

export const progressQuery = defineQuery<MigrationProgress>('progress');

export async function migrateService(raw: MigrateInput): Promise<MigrationReport> {
  const input = validate(MigrateInput, raw, 'migrateService input');
  const { service, to, mode } = input;
  const progress: MigrationProgress = { phase: 'preflight', phases: {}, service, to };
  setHandler(progressQuery, () => progress);
  const started = Date.now();

  async function phase<T>(name: PhaseName, step: () => Promise<T>): Promise<T> {
    progress.phase = name;
    const t0 = Date.now();
    try {
      return await step();
    } finally {
      progress.phases[name] = (progress.phases[name] ?? 0) + (Date.now() - t0);
    }
  }

  const placement = await phase('preflight', async () => {
    const p = await requirePlacement(service);
    if (p.host === to) throw refuse(`service "${service}" already runs on ${to}: choose another host`);
    await requireHost(to);
    return p;
  });
  const from = placement.host;
  progress.from = from;
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.service, value: service },
    { key: SEARCH_ATTRIBUTES.source, value: from },
    { key: SEARCH_ATTRIBUTES.target, value: to },
  ]);
  const source = hostSteps(from);
  const target = hostSteps(to);
  const generation = placement.generation + 1;
  const checkpointId = `g${generation}-${uuid4().slice(0, 8)}`;
  /** Builds the report, records it in the metrics and ends the progress. */
  const report = async (ok: boolean, outcome: MigrationReport['outcome'], extra: Partial<MigrationReport>): Promise<MigrationReport> => {
    const r: MigrationReport = {
      ok,
      outcome,
      service,
      from,
      to,
      mode,
      workflowId: workflowInfo().workflowId,
      checkpointId,
      downtimeMs: 0,
      totalMs: Date.now() - started,
      imageBytes: 0,
      phases: progress.phases,
      ...extra,
    };
    progress.phase = 'done';
    await metrics.recordMigration(r).catch(() => undefined);
    return r;
  };
  /** Where the target answers on its host's loopback (a container publishes its own port). */
  let targetPort = placement.spec.port;
  const prepareTarget = () =>
    phase('prepareTarget', async () => {
      const prepared = await target.prepareService({ spec: placement.spec, generation, start: false, preferredHostPort: placement.hostPort });
      targetPort = prepared.hostPort ?? placement.spec.port;
      progress.targetPort = targetPort;
    });
  const sourcePort = endpointPort(placement);

  if (mode === 'warm') {
    try {
      await prepareTarget();
    } catch (err) {
      await target.removeService({ service, generation }).catch(() => undefined);
      return report(false, 'failed', { error: `target ${to} could not be prepared: ${messageOf(err)}` });
    }
  }

  let frozenAt: number;
  try {
    frozenAt = (await phase('checkpoint', () => source.checkpointService({ service, generation: placement.generation, checkpointId }))).frozenAt;
  } catch (err) {
    // A failed dump leaves the service running on the source: nothing to roll back.
    await target.removeService({ service, generation }).catch(() => undefined);
    return report(false, 'failed', { error: `checkpoint on ${from} failed: ${messageOf(err)}` });
  }

  let imageBytes = 0;
  try {
    imageBytes = (await phase('upload', () => source.uploadImage({ service, checkpointId, encrypt: placement.spec.encryptImages }))).bytes;
    if (mode === 'cold') await prepareTarget();
    await phase('download', () => target.downloadImage({ service, checkpointId }));
    await phase('restore', () => target.restoreService({ service, generation, checkpointId }));
    const { healthyAt } = await phase('verify', () => target.healthCheck({ port: targetPort, proxied: placement.spec.runtime === 'docker' }));
    const hostPort = placement.spec.runtime === 'docker' ? targetPort : undefined;
    await phase('cutover', () =>
      registry.putPlacement({ ...placement, host: to, generation, lastCheckpoint: checkpointId, hostPort, updatedAt: new Date().toISOString() }),
    );
    await phase('cleanup', () => source.removeService({ service, generation: placement.generation }));
    return report(true, 'migrated', { downtimeMs: healthyAt - frozenAt, imageBytes });
  } catch (err) {
    const why = messageOf(err);
    try {
      const resumedAt = await phase('rollback', async () => {
        // The target goes first, so two live instances never coexist. A target whose agent does not
        // answer fences itself once its lease lapses: wait that long instead of giving up.
        await target.removeService({ service, generation }).catch(async () => sleep((await registry.fencingSeconds()) * 1000));
        await source.restoreService({ service, generation: placement.generation, checkpointId });
        return (await source.healthCheck({ port: sourcePort, proxied: placement.spec.runtime === 'docker' })).healthyAt;
      });
      return report(false, 'rolled-back', { downtimeMs: resumedAt - frozenAt, imageBytes, error: why });
    } catch (rollbackErr) {
      return report(false, 'failed', { imageBytes, error: `${why}; rollback on ${from} failed too: ${messageOf(rollbackErr)}` });
    }
  }
}
