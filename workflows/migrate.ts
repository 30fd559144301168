// migrateService: move a running service to another host, keeping its state. The procedure:
//   preflight       the service is known and elsewhere; the target host is registered and answers
//   prepare         the target's daemon in standby (warm, lazy: before the freeze; cold: after it)
//   freeze and move checkpoint on the source; the target fetches the image from the source's agent
//                   (warm: asked before the dump ends), restores it and checks that it answers;
//                   when the hosts cannot reach each other the image goes through S3
//   cut over        the registry names the target, generation + 1
//   pages           lazy: the target runs before its memory pages are across; they stream from
//                   the source's CRIU, which holds the frozen tree until the last one is in
//   store           the durable copy in S3, from the source; once stored, it is the lastCheckpoint
//   clean up        the source instance is removed (a failure is a warning, never a rollback)
// Each step registers its compensation. A failure before the cut-over undoes them: the target is
// removed and, once the source was frozen, the source resumes from its local image (rolled back).
import { setHandler } from '@temporalio/workflow';
import { MigrateInput, MigrationReport } from '../common/schemas';
import type { FetchAndRestoreResult } from '../activities/transfer';
import { validate } from './errors';
import { failed, Saga } from './saga';
import { Progress, progressQuery } from './progress';
import { cleanUp, cutOver, freezeAndMove, migrated, pagesAcross, preflight, prepare, recordStored, store, undo } from './migration-steps';

export { progressQuery };

export async function migrateService(raw: MigrateInput): Promise<MigrationReport> {
  const input = validate(MigrateInput, raw, 'migrateService input');
  const progress = new Progress(input.service, input.to);
  setHandler(progressQuery, () => progress.state);
  const m = await preflight(input, progress); // a refusal ends the workflow here: nothing was done
  const saga = new Saga();
  let arrived: FetchAndRestoreResult;
  let stored: Promise<boolean>;
  try {
    if (input.mode !== 'cold') await prepare(m, saga).catch(failed(`target ${input.to} could not be prepared`));
    arrived = await freezeAndMove(m, saga);
    stored = store(m); // the durable copy starts now, while the record moves
    await cutOver(m, saga);
    await pagesAcross(m); // lazy: the target runs already, the source holds the whole copy until then
  } catch (err) {
    return undo(m, saga, err);
  }
  // The service lives on the target now: nothing below may roll it back.
  await Promise.all([recordStored(m, stored), cleanUp(m, stored)]);
  return migrated(m, arrived);
}
