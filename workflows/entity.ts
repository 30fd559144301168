// serviceEntity: one long-lived workflow per service (id `service-<name>`). It queues migration
// requests (update: wait for the report; signal: fire and forget, works with signal-with-start),
// runs them one at a time, remembers placement and history, and continues as new before its
// history grows large.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { MigrateInput, MigrationMode, MigrationReport, Placement, ServiceName, HostName } from '../common/schemas';
import { z } from 'zod';
import { runMigration } from './run-migration';
import { messageOf, validate } from './errors';
import { periodicCheckpoint } from './periodic-checkpoint';
import { registry } from './proxies';

export const MigrateRequest = z.object({ to: HostName, mode: MigrationMode.default('warm') }).strict();
export type MigrateRequest = z.input<typeof MigrateRequest>;

export const migrateUpdate = defineUpdate<MigrationReport, [MigrateRequest]>('migrate');
export const migrateSignal = defineSignal<[MigrateRequest]>('migrate');
export const placementQuery = defineQuery<{ service: string; host: string | null; generation: number | null }>('placement');
export const historyQuery = defineQuery<MigrationReport[]>('history');
/** Sent when the service is removed: the entity finishes its queue and ends. */
export const retireSignal = defineSignal('retire');
export const pendingQuery = defineQuery<{ running: string | null; queued: number; lastPeriodicCheckpoint: string | null }>('pending');

export interface EntityState {
  service: string;
  host?: string | null;
  generation?: number | null;
  history?: MigrationReport[];
}

const HISTORY_KEPT = 50;

export async function serviceEntity(raw: EntityState): Promise<void> {
  const service = validate(ServiceName, raw.service, 'service name');
  const history: MigrationReport[] = raw.history ?? [];
  let host = raw.host ?? null;
  let generation = raw.generation ?? null;
  const queue: { id: number; input: MigrateInput }[] = [];
  const done = new Map<number, MigrationReport>();
  let running: string | null = null;
  let lastPeriodic: string | null = null;
  let next = 0;

  const enqueue = (req: MigrateRequest) => {
    const r = validate(MigrateRequest, req, 'migrate request');
    const id = next++;
    queue.push({ id, input: { service, to: r.to, mode: r.mode } });
    return id;
  };
  setHandler(migrateUpdate, async (req) => {
    const id = enqueue(req);
    await condition(() => done.has(id));
    const report = done.get(id)!;
    done.delete(id);
    return report;
  }, { validator: (req) => void validate(MigrateRequest, req, 'migrate request') });
  setHandler(migrateSignal, (req) => {
    try {
      enqueue(req);
    } catch {
      /* a malformed signal is dropped: signals cannot answer */
    }
  });
  let retired = false;
  setHandler(retireSignal, () => void (retired = true));
  setHandler(placementQuery, () => ({ service, host, generation }));
  setHandler(historyQuery, () => history);
  setHandler(pendingQuery, () => ({ running, queued: queue.length, lastPeriodicCheckpoint: lastPeriodic }));

  // Handlers are registered before the first await, so an update-with-start finds them.
  // The registry lives in S3: while S3 is away the entity keeps what it knew and tries again later.
  const reread = async (known: Placement | null) => registry.getPlacement(service).catch(() => known);
  let placement = await reread(null);
  host = placement?.host ?? null;
  generation = placement?.generation ?? null;
  for (;;) {
    const every = placement?.spec.checkpoint?.everySeconds;
    const wake = () => queue.length > 0 || retired || workflowInfo().continueAsNewSuggested;
    const woken = every ? await condition(wake, every * 1000) : (await condition(wake), true);
    if (!woken && placement && !retired) {
      // Periodic checkpoint; a failure (service down, moved meanwhile) waits for the next period.
      lastPeriodic = await periodicCheckpoint(placement).catch((err) => `failed: ${messageOf(err)}`);
      placement = await reread(placement);
      continue;
    }
    if (!queue.length) break;
    const { id, input } = queue.shift()!;
    running = `${input.to} (${input.mode})`;
    const report = await runMigration(input);
    running = null;
    // Re-read the placement: other paths (evacuation, schedules, direct starts) move services too.
    placement = await reread(placement);
    host = placement?.host ?? null;
    generation = placement?.generation ?? null;
    history.push(report);
    if (history.length > HISTORY_KEPT) history.splice(0, history.length - HISTORY_KEPT);
    done.set(id, report);
    if (workflowInfo().continueAsNewSuggested && !queue.length) break;
  }
  await condition(allHandlersFinished);
  if (retired) return;
  await continueAsNew<typeof serviceEntity>({ service, host, generation, history });
}
