// migrateService: move a running service to another host, keeping its state.
// preflight → (warm) prepare target → checkpoint → (cold) prepare target → transfer (image host to
// host, restore, verify: one target step; warm asks for it while the dump runs) → cut over →
// upload (the durable copy in S3) → clean up.
// If the hosts cannot reach each other the image goes through S3 instead (upload → download).
// Any failure after the freeze rolls back to the source.
import { defineQuery, setHandler, sleep, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from './search-attributes';
import { MigrateInput, MigrationProgress, MigrationReport, PhaseName } from '../common/schemas';
import { hostSteps, localRegistry, metrics, registry } from './proxies';
import { endpointPort } from '../common/names';
import { requireHost, requirePlacement } from './preflight';
import { failureType, messageOf, refuse, validate } from './errors';
import type { FetchAndRestoreResult } from '../activities/transfer';

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

  /** Splits the target's one step into the phases it went through (fetch, restore, verify). */
  function reportSteps(fetchPhase: 'transfer' | 'download', r: FetchAndRestoreResult): void {
    const inner = r.restoreMs + r.verifyMs;
    progress.phases[fetchPhase] = Math.max(0, (progress.phases[fetchPhase] ?? 0) - inner);
    progress.phases.restore = (progress.phases.restore ?? 0) + r.restoreMs;
    progress.phases.verify = (progress.phases.verify ?? 0) + r.verifyMs;
  }

  const placement = await phase('preflight', async () => {
    // Both checks at once; an unknown service is reported before a problem with the host.
    const [p, host] = await Promise.allSettled([requirePlacement(service), requireHost(to)]);
    if (p.status === 'rejected') throw p.reason;
    if (p.value.host === to) throw refuse(`service "${service}" already runs on ${to}: choose another host`);
    if (host.status === 'rejected') throw host.reason;
    return p.value;
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

  const arrival = {
    service,
    generation,
    checkpointId,
    from,
    encrypt: placement.spec.encryptImages,
    proxied: placement.spec.runtime === 'docker',
  };
  // warm: the prepared target asks the source's agent for the image now; the agent answers the
  // moment the dump ends, so no Temporal round trip sits between the freeze and the transfer.
  const early = mode === 'warm' ? target.fetchAndRestore({ ...arrival, port: targetPort, via: 'peer', waitForCheckpoint: true }) : undefined;
  early?.catch(() => undefined); // awaited below; a failed checkpoint makes it fail at once

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
    if (mode === 'cold') await prepareTarget();
    let arrived: FetchAndRestoreResult;
    let inStore = false;
    try {
      // While frozen: the image goes straight to the target, which restores it and checks it answers.
      arrived = await phase('transfer', () => early ?? target.fetchAndRestore({ ...arrival, port: targetPort, via: 'peer' }));
      reportSteps('transfer', arrived);
    } catch (err) {
      if (failureType(err) !== 'PeerTransfer') throw err;
      // The target could not get the image from the source: through the image store, as before.
      imageBytes = (await phase('upload', () => source.uploadImage({ service, checkpointId, encrypt: placement.spec.encryptImages }))).bytes;
      inStore = true;
      arrived = await phase('download', () => target.fetchAndRestore({ ...arrival, port: targetPort, via: 's3' }));
      reportSteps('download', arrived);
    }
    const hostPort = placement.spec.runtime === 'docker' ? targetPort : undefined;
    const moved = { ...placement, host: to, generation, hostPort };
    const warnings: string[] = [];
    // The durable copy starts now, from the source that still holds the image, while the record
    // moves. A failure here leaves the service running on the target (no reason to freeze it again).
    const stored = inStore
      ? Promise.resolve(true)
      : phase('upload', () => source.uploadImage({ service, checkpointId, encrypt: placement.spec.encryptImages })).then(
          (r) => ((imageBytes = r.bytes), true),
          (err) => (warnings.push(`the image was not stored in S3 (${messageOf(err)}); the registry keeps the previous checkpoint`), false),
        );
    // lastCheckpoint names only an image whose manifest is in S3 (failover restores from it).
    await phase('cutover', () =>
      localRegistry.putPlacement({ ...moved, lastCheckpoint: inStore ? checkpointId : placement.lastCheckpoint, updatedAt: new Date().toISOString() }),
    );
    const recorded = stored.then(async (ok) => {
      if (!ok || inStore) return;
      await phase('cutover', () => localRegistry.putPlacement({ ...moved, lastCheckpoint: checkpointId, updatedAt: new Date().toISOString() })).catch((err) =>
        warnings.push(`the stored image could not be recorded as the latest checkpoint: ${messageOf(err)}`),
      );
    });
    // The service lives on the target now: nothing below may roll it back. A source that cannot be
    // cleaned up (its agent is gone) is removed by that agent when it returns (a replaced generation).
    const cleaned = stored
      .then(() => phase('cleanup', () => source.removeService({ service, generation: placement.generation })))
      .catch((err) => void warnings.push(`${from} was not cleaned up (${messageOf(err)}); its agent removes the replaced instance when it returns`));
    await Promise.all([recorded, cleaned]);
    return report(true, 'migrated', { downtimeMs: arrived.healthyAt - frozenAt, imageBytes: imageBytes || arrived.bytes, ...(warnings.length ? { warnings } : {}) });
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
