// The client's connection to Temporal: a client, worker presence checks and readable failures.
import { Client, Connection, WorkflowFailedError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { loadConfig } from '../common/config';
import { ORCHESTRATOR_QUEUE } from '../common/names';
import { temporalConnectionOptions } from '../common/tls';

export class UserError extends Error {}

export async function queuePollers(conn: Connection, namespace: string, taskQueue: string): Promise<number> {
  const r = await conn.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: taskQueue === ORCHESTRATOR_QUEUE ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return r.pollers?.length ?? 0;
}

/** Connects and checks that the orchestrator worker polls, so a started workflow will run. */
export async function connectClient(): Promise<{ client: Client; connection: Connection; namespace: string }> {
  const cfg = loadConfig();
  const options = temporalConnectionOptions(cfg.temporalAddress, cfg.temporal); // a bad setting is its own error
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: 3000 });
  } catch {
    throw new UserError(`the fastmig stack is not up (no Temporal server at ${cfg.temporalAddress}): run \`fastmig stack up\``);
  }
  if ((await queuePollers(connection, cfg.namespace, ORCHESTRATOR_QUEUE)) === 0) {
    await connection.close();
    throw new UserError(`no orchestrator worker polls task queue "${ORCHESTRATOR_QUEUE}": run \`fastmig stack up\``);
  }
  return { client: new Client({ connection, namespace: cfg.namespace }), connection, namespace: cfg.namespace };
}

/** The message a user should see for a failed workflow: its innermost cause. */
export function failureMessage(err: unknown): string {
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return `an operation on this service is already running (workflow ${err.workflowId}): wait for it to finish`;
  }
  let e: any = err instanceof WorkflowFailedError ? err.cause ?? err : err;
  while (e?.cause) e = e.cause;
  return e?.message ?? String(err);
}
