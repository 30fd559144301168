// serviceEntity: one long-lived workflow per service (id `service-<name>`). It queues migration
// requests (update: wait for the report; signal: fire and forget, works with signal-with-start),
// runs them one at a time, takes periodic checkpoints, remembers placement and history, and
// continues as new before its history grows large. It ends when the service is removed, or when
// the registry has no such service and nothing is queued (a request naming an unknown service
// leaves no workflow behind). Its state lives in ServiceEntity.
import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import { MigrationReport, ServiceName } from '../common/schemas';
import { messageOf, validate } from './errors';
import { MigrateRequest, ServiceEntity } from './entity-state';
import type { EntityState } from './entity-state';

export { MigrateRequest };
export type { EntityState };

export const migrateUpdate = defineUpdate<MigrationReport, [MigrateRequest]>('migrate');
export const migrateSignal = defineSignal<[MigrateRequest]>('migrate');
export const placementQuery = defineQuery<{ service: string; host: string | null; generation: number | null }>('placement');
export const historyQuery = defineQuery<MigrationReport[]>('history');
/** Sent when the service is removed: the entity finishes its queue and ends. */
export const retireSignal = defineSignal('retire');
export const pendingQuery = defineQuery<{ running: string | null; queued: number; lastPeriodicCheckpoint: string | null; droppedSignals: number; lastDroppedSignal: string | null }>('pending');

export async function serviceEntity(raw: EntityState): Promise<void> {
  const entity = new ServiceEntity(validate(ServiceName, raw.service, 'service name'), raw);
  setHandler(migrateUpdate, (req) => entity.migrate(req), { validator: (req) => void validate(MigrateRequest, req, 'migrate request') });
  setHandler(migrateSignal, (req) => {
    try {
      entity.request(req);
    } catch (err) {
      entity.dropSignal(messageOf(err)); // a signal cannot answer: the pending query shows it
    }
  });
  setHandler(retireSignal, () => entity.retire());
  setHandler(placementQuery, () => entity.placementView());
  setHandler(historyQuery, () => entity.history);
  setHandler(pendingQuery, () => entity.pending());

  // Handlers are registered before the first await, so an update-with-start finds them.
  await entity.refresh();
  for (;;) {
    const work = await entity.nextWork();
    if (work === 'end') break;
    if (work === 'checkpoint') {
      await entity.checkpoint();
      continue;
    }
    await entity.migrateNext();
    if (entity.shouldContinueAsNew() || entity.orphaned) break;
  }
  await condition(allHandlersFinished);
  if (entity.retired || entity.orphaned) return;
  await continueAsNew<typeof serviceEntity>(entity.state());
}
