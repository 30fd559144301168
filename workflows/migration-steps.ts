// The steps of a migration, in the order migrate.ts runs them. A step that changes something
// registers its compensation with the saga before it acts; migrate.ts has the saga undo them when
// a step fails before the cut-over.
import { upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { MigrateInput, MigrationReport, Placement } from '../common/schemas';
import type { FetchAndRestoreResult } from '../activities/transfer';
import { endpointOf, endpointPort, lazyUnfitOf, proxiedOf } from '../common/names';
import { SEARCH_ATTRIBUTES } from './search-attributes';
import { hostSteps, localRegistry, metrics } from './proxies';
import { requireHost, requirePlacement } from './preflight';
import { failureType, messageOf, refuse } from './errors';
import { failed, Saga } from './saga';
import { Progress } from './progress';
import { Target } from './target';

/** What the steps share: the service, where it comes from and goes, what happened so far. */
export interface Migration {
  input: MigrateInput;
  progress: Progress;
  placement: Placement;
  from: string;
  source: ReturnType<typeof hostSteps>;
  target: Target;
  checkpointId: string;
  /** When the source froze; from then on a failure rolls back to the source. */
  frozenAt?: number;
  /** When the source answered again after a rollback. */
  resumedAt?: number;
  /** When the target took its clients' traffic (at the cut-over, for a service with its own address). */
  openedAt?: number;
  /** When the record named the target (a lazy migration may still undo it until the last page is across). */
  cutAt?: number;
  /** A lazy migration: when the last page was on the target. */
  acrossAt?: number;
  /** The image went through S3 (the peer transfer failed): it is stored already. */
  inStore: boolean;
  imageBytes: number;
  warnings: string[];
}

/** The service is known and elsewhere, the target host is known and answers. A refusal ends the workflow. */
export async function preflight(input: MigrateInput, progress: Progress): Promise<Migration> {
  const { service, to } = input;
  const placement = await progress.phase('preflight', async () => {
    // Both checks at once; an unknown service is reported before a problem with the host.
    const [p, host] = await Promise.allSettled([requirePlacement(service), requireHost(to)]);
    if (p.status === 'rejected') throw p.reason;
    const unfit = input.mode === 'lazy' ? lazyUnfitOf(p.value.spec) : null;
    if (unfit) throw refuse(`service "${service}" ${unfit}: mode lazy needs a process-runtime service running as root (choose --mode warm)`);
    if (p.value.host === to) throw refuse(`service "${service}" already runs on ${to}: choose another host`);
    if (host.status === 'rejected') throw host.reason;
    return p.value;
  });
  const from = placement.host;
  progress.state.from = from;
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.service, value: service },
    { key: SEARCH_ATTRIBUTES.source, value: from },
    { key: SEARCH_ATTRIBUTES.target, value: to },
  ]);
  const generation = placement.generation + 1;
  const checkpointId = `g${generation}-${uuid4().slice(0, 8)}`;
  const target = new Target(to, placement.spec, generation, placement.serviceAddress, true);
  return { input, progress, placement, from, source: hostSteps(from), target, checkpointId, inStore: false, imageBytes: 0, warnings: [] };
}

/** The target's daemon in standby, waiting for the image. A half-prepared target is removed too. */
export async function prepare(m: Migration, saga: Saga): Promise<void> {
  saga.add(() => m.target.remove());
  await m.progress.phase('prepareTarget', async () => {
    await m.target.prepare(false, m.placement.hostPort);
    // Where clients will reach it: its own address (unchanged) if it has one, else the target host's.
    m.progress.state.targetEndpoint = endpointOf(m.target.placed(m.placement)) ?? undefined;
  });
}

/**
 * The downtime: checkpoint on the source, then the target gets the image from the source's agent,
 * restores it and checks it answers. If the image cannot come from the peer, it goes through S3.
 */
export async function freezeAndMove(m: Migration, saga: Saga): Promise<FetchAndRestoreResult> {
  const { target, checkpointId, from } = m;
  // warm: the prepared target asks the source's agent for the image now; the agent answers the
  // moment the dump ends, so no Temporal round trip sits between the freeze and the transfer.
  const early = m.input.mode !== 'cold' ? target.arrive(checkpointId, from, 'peer', true) : undefined;
  early?.catch(() => undefined); // awaited below; a failed checkpoint makes it fail at once
  await freeze(m, saga);
  if (m.input.mode === 'cold') await prepare(m, saga);
  try {
    const arrived = await m.progress.phase('transfer', () => early ?? target.arrive(checkpointId, from, 'peer'));
    m.progress.split('transfer', arrived);
    return arrived;
  } catch (err) {
    if (failureType(err) !== 'PeerTransfer') throw err;
    // The target could not get the image from the source: through the image store, as before.
    await upload(m);
    m.inStore = true;
    const arrived = await m.progress.phase('download', () => target.arrive(checkpointId, from, 's3'));
    m.progress.split('download', arrived);
    return arrived;
  }
}

/**
 * The checkpoint on the source. Undone from the start: a dump that ended the service but whose
 * answer never came back (its host cut off meanwhile) must be resumed too; a failed dump leaves
 * the service running there, and resume finds nothing to do.
 */
async function freeze(m: Migration, saga: Saga): Promise<void> {
  // Lazy: the source's CRIU serves the pages to the prepared target's host, and to no one else.
  const lazy = m.input.mode === 'lazy' ? { lazyFor: m.target.address } : {};
  const checkpoint = () => m.source.checkpointService({ service: m.input.service, generation: m.placement.generation, checkpointId: m.checkpointId, ...lazy });
  saga.add(() => (stopsOnFailure(m) ? m.target.gone() : resume(m)));
  m.frozenAt = (await m.progress.phase('checkpoint', checkpoint).catch(failed(`checkpoint on ${m.from} failed`))).frozenAt;
}

/**
 * Undoes the freeze. The target goes first, so two live instances never coexist (one whose agent
 * does not answer is waited out until its lease fences it); then the source restores its local
 * image and answers again.
 */
async function resume(m: Migration): Promise<void> {
  await m.target.gone();
  const st = await m.source.statusForRollback({ service: m.input.service });
  if (st?.state === 'running') return; // the dump failed: it never stopped
  await m.source.restoreForRollback({ service: m.input.service, generation: m.placement.generation, checkpointId: m.checkpointId });
  const p = m.placement;
  m.resumedAt = (await m.source.healthCheck({ port: endpointPort(p), proxied: proxiedOf(p), serviceAddress: p.serviceAddress })).healthyAt;
}

/** A lazy migration whose target served already, and whose user would rather stop than lose what it accepted. */
const stopsOnFailure = (m: Migration) => m.input.mode === 'lazy' && m.input.onLazyFailure === 'stop' && servedAt(m) !== undefined;

/** When the target began to serve: opened at its own address, or (without one) named by the record. */
const servedAt = (m: Migration) => m.openedAt ?? (m.placement.serviceAddress ? undefined : m.cutAt);

/** The image into S3 (tar, signed manifest), from the source, which holds it until clean-up. */
async function upload(m: Migration): Promise<void> {
  const req = { service: m.input.service, checkpointId: m.checkpointId, encrypt: m.placement.spec.encryptImages };
  m.imageBytes = (await m.progress.phase('upload', () => m.source.uploadImage(req))).bytes;
}

/**
 * Starts the durable copy in S3 unless the image went that way already; it runs while the record
 * moves. A failure leaves the service on the target (no reason to freeze it again): a warning.
 * Resolves to true once an image is stored that the record does not name yet.
 */
export function store(m: Migration): Promise<boolean> {
  if (m.inStore) return Promise.resolve(false);
  if (m.input.mode === 'lazy') {
    // The source's folder holds no memory pages: they went to the target, never to a file.
    m.warnings.push('a lazy migration stores no image: the registry keeps the previous checkpoint until the next one is taken');
    return Promise.resolve(false);
  }
  return upload(m).then(
    () => true,
    (err) => (m.warnings.push(`the image was not stored in S3 (${messageOf(err)}); the registry keeps the previous checkpoint`), false),
  );
}

const sourceCopy = (m: Migration) => ({ host: m.from, generation: m.placement.generation });

/** The record names the target with generation + 1. lastCheckpoint only ever names an image whose manifest is in S3 (failover restores from it). */
export async function cutOver(m: Migration, saga: Saga): Promise<void> {
  const lastCheckpoint = m.inStore ? m.checkpointId : m.placement.lastCheckpoint;
  // Lazy: until the last page is across the source holds the only whole copy, and a failure gives it the record back.
  if (m.input.mode === 'lazy') saga.add(() => localRegistry.putPlacement(m.placement));
  await m.progress.phase('cutover', async () => {
    await localRegistry.putPlacement({ ...m.target.placed(m.placement, sourceCopy(m)), lastCheckpoint });
    m.cutAt = Date.now();
    // Only now may the target take its clients' traffic: before, a rollback would lose what it answered.
    // (Should this fail, the target's agent opens it once it sees the record name it.)
    await m.target.open().then(
      (opened) => void (opened && (m.openedAt = Date.now())),
      (err) => void m.warnings.push(`the target was not opened at once (${messageOf(err)}); its agent opens it`),
    );
  });
}

/** A lazy migration's target runs already; once its last page is across the source may go. */
export async function pagesAcross(m: Migration): Promise<void> {
  if (m.input.mode !== 'lazy') return;
  m.acrossAt = (await m.progress.phase('pages', () => m.target.pagesAcross()).catch(failed(`the memory pages did not all reach ${m.input.to}`))).acrossAt;
}

/** Once the copy is stored, a second write names it as the service's lastCheckpoint. */
export async function recordStored(m: Migration, stored: Promise<boolean>): Promise<void> {
  if (!(await stored)) return;
  const write = () => localRegistry.putPlacement({ ...m.target.placed(m.placement, sourceCopy(m)), lastCheckpoint: m.checkpointId });
  await m.progress.phase('cutover', write).catch((err) => void m.warnings.push(`the stored image could not be recorded as the latest checkpoint: ${messageOf(err)}`));
}

/**
 * The source instance goes once the durable copy no longer needs it. A source that cannot be
 * cleaned up (its agent is gone) is removed by that agent when it returns (a replaced generation).
 */
export async function cleanUp(m: Migration, stored: Promise<boolean>): Promise<void> {
  await stored;
  await m.progress
    .phase('cleanup', () => m.source.removeService({ service: m.input.service, generation: m.placement.generation }))
    .catch((err) => void m.warnings.push(`${m.from} was not cleaned up (${messageOf(err)}); its agent removes the replaced instance when it returns`));
}

/** After a failure before the cut-over. Before the freeze the source still serves: the migration failed. */
export async function undo(m: Migration, saga: Saga, err: unknown): Promise<MigrationReport> {
  const why = messageOf(err);
  if (m.frozenAt === undefined) {
    // The service still serves on the source, or (a dump whose answer was lost) is resumed there.
    const undone = await saga.compensate().then(() => '', (e) => `; undoing it on ${m.from} failed too: ${messageOf(e)}`);
    return report(m, false, 'failed', { error: why + undone });
  }
  try {
    await m.progress.phase('rollback', () => saga.compensate());
    if (stopsOnFailure(m)) {
      const held = `; the service is stopped: its copy on ${m.from} is held as it was at the freeze (fastmig resume ${m.input.service} runs it, losing what ${m.input.to} accepted)`;
      return report(m, false, 'failed', { imageBytes: m.imageBytes, error: why + held });
    }
    return report(m, false, 'rolled-back', { downtimeMs: m.resumedAt! - m.frozenAt, imageBytes: m.imageBytes, error: why });
  } catch (rollbackErr) {
    return report(m, false, 'failed', { imageBytes: m.imageBytes, error: `${why}; rollback on ${m.from} failed too: ${messageOf(rollbackErr)}` });
  }
}

/** The service answers on the target, the record names it. Downtime: freeze until it answered. */
export function migrated(m: Migration, arrived: FetchAndRestoreResult): Promise<MigrationReport> {
  const warnings = m.warnings.length ? { warnings: m.warnings } : {};
  return report(m, true, 'migrated', { downtimeMs: (m.openedAt ?? arrived.healthyAt) - m.frozenAt!, imageBytes: m.imageBytes || arrived.bytes, ...warnings });
}

/** The report, also recorded in the metrics; it ends the progress. */
async function report(m: Migration, ok: boolean, outcome: MigrationReport['outcome'], extra: Partial<MigrationReport>): Promise<MigrationReport> {
  const { service, to, mode } = m.input;
  const lazy = mode === 'lazy' ? { lazy: lazyReport(m) } : {};
  const r: MigrationReport = {
    ok,
    outcome,
    service,
    from: m.from,
    to,
    mode,
    workflowId: workflowInfo().workflowId,
    checkpointId: m.checkpointId,
    downtimeMs: 0,
    totalMs: Date.now() - m.progress.started,
    imageBytes: 0,
    phases: m.progress.phases,
    ...lazy,
    ...extra,
  };
  m.progress.done();
  await metrics.recordMigration(r).catch(() => undefined);
  return r;
}

/** How a lazy migration's pages went: when all were across, and whether (and how long) the target served before. */
function lazyReport(m: Migration): NonNullable<MigrationReport['lazy']> {
  const served = servedAt(m);
  const until = m.acrossAt ?? m.resumedAt ?? Date.now();
  return {
    onFailure: m.input.onLazyFailure ?? 'resume-source',
    ...(m.acrossAt !== undefined && m.frozenAt !== undefined ? { pagesAcrossMs: m.acrossAt - m.frozenAt } : {}),
    targetServed: served !== undefined,
    ...(served !== undefined ? { servedWindowMs: Math.max(0, until - served) } : {}),
  };
}
