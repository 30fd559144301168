// Runs migrateService as a child with the service's one migration id, so migrations of a service
// never overlap whoever asked for them (entity, evacuation, schedule, a direct start): if one is
// already running, wait for it and start after it.
import { executeChild, sleep, ParentClosePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MigrateInput, MigrationReport } from '../common/schemas';
import { migrateWorkflowId } from '../common/names';
import { messageOf } from './errors';
import type { migrateService } from './migrate';

export async function runMigration(input: MigrateInput): Promise<MigrationReport> {
  for (;;) {
    try {
      return await executeChild<typeof migrateService>('migrateService', {
        workflowId: migrateWorkflowId(input.service),
        args: [input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        await sleep('1s');
        continue;
      }
      return {
        ok: false,
        outcome: 'refused',
        service: input.service,
        from: '',
        to: input.to,
        mode: input.mode,
        workflowId: migrateWorkflowId(input.service),
        downtimeMs: 0,
        totalMs: 0,
        imageBytes: 0,
        phases: {},
        error: messageOf(err),
      };
    }
  }
}
