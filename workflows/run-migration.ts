// Runs migrateService as a child with the service's one migration id, so migrations of a service
// never overlap whoever asked for them (entity, evacuation, schedule, a direct start): if one is
// already running, wait for it and start after it.
import { executeChild, sleep, ParentClosePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MigrateInput, MigrationReport } from '../common/schemas';
import { migrateWorkflowId } from '../common/names';
import { messageOf } from './errors';

/**
 * Runs a child workflow under the service's one migration id; while another one holds the id, waits
 * and tries again. Other failures are thrown.
 */
export async function underMigrationId<R>(service: string, workflowType: string, args: unknown[]): Promise<R> {
  for (;;) {
    try {
      return (await executeChild(workflowType, { workflowId: migrateWorkflowId(service), args, parentClosePolicy: ParentClosePolicy.ABANDON })) as R;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await sleep('1s');
    }
  }
}

export async function runMigration(input: MigrateInput): Promise<MigrationReport> {
  try {
    return await underMigrationId<MigrationReport>(input.service, 'migrateService', [input]);
  } catch (err) {
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
