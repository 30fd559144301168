// Service operations as functions: each starts one workflow on the orchestrator and returns its
// result. The CLI, the HTTP API, the demo, the bench and the tests all go through here.
import { Client, WorkflowIdReusePolicy, WithStartWorkflowOperation } from '@temporalio/client';
import type { serviceEntity, MigrateRequest } from '../workflows/entity';
import type { EvacuateRequest, EvacuationReport } from '../workflows/evacuate';
import type { ResumeReport } from '../workflows/resume';
import { entityWorkflowId } from '../common/names';
import { UserError, connectClient, failureMessage } from './connection';
import fs from 'fs';
import crypto from 'crypto';
import type { DeployRequest, HostImage, HostRecord, ImageTransfer, MigrateInput, MigrateInputRaw, MigrationProgress, MigrationReport } from '../common/schemas';
import type { ImagePutResult } from '../workflows/images';
import { loadConfig } from '../common/config';
import { s3Client } from '../common/s3';
import type { DeployResult } from '../workflows/deploy';
import type { ServiceView } from '../workflows/manage';
import { keys, migrateWorkflowId, ORCHESTRATOR_QUEUE } from '../common/names';

async function withClient<T>(fn: (c: { client: Client }) => Promise<T>): Promise<T> {
  const c = await connectClient();
  try {
    return await fn(c);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(failureMessage(err));
  } finally {
    await c.connection.close();
  }
}

const options = (workflowId: string) => ({
  taskQueue: ORCHESTRATOR_QUEUE,
  workflowId,
  workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
});

/** The lazy failure choice, passed only when made (older entities' requests stay as they were). */
const lazyChoice = (i: MigrateInputRaw) => (i.onLazyFailure ? { onLazyFailure: i.onLazyFailure } : {});

const unique = (prefix: string) => `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;

/** How an operation gets a Temporal client: the CLI connects per call, the HTTP API keeps one. */
export type UseClient = <T>(fn: (c: { client: Client }) => Promise<T>) => Promise<T>;

export function makeOps(withClient: UseClient) {
  const run = <T>(type: string, workflowId: string, args: unknown[]): Promise<T> =>
    withClient(({ client }) => client.workflow.execute(type, { ...options(workflowId), args }) as Promise<T>);
  return {
    deploy: (input: DeployRequest) => run<DeployResult>('deployService', `deploy-${input.spec.name}`, [input]),
    inspect: (service?: string) => run<ServiceView[]>('inspectServices', unique('inspect'), [{ service }]),
    logs: (service: string, lines: number) => run<string[]>('serviceLogs', unique(`logs-${service}`), [{ service, lines }]),
    hosts: () => run<HostRecord[]>('listHosts', unique('hosts'), []),
    resume: (service: string) => run<ResumeReport>('resumeService', `resume-${service}`, [{ service }]),
    remove: (service: string) => run<{ service: string; host: string; imagesDeleted: number }>('removeService', `remove-${service}`, [{ service }]),

    /** Uploads an image file once to the image store; every host's agent then pulls it into its engine. */
    async putImage(file: string, req: Omit<ImageTransfer, 'key'>): Promise<ImagePutResult[]> {
      const size = fs.statSync(file, { throwIfNoEntry: false });
      if (!size?.isFile()) throw new UserError(`no such file: ${file} (expected a tar archive)`);
      const cfg = loadConfig();
      const key = keys.upload(`${Date.now()}-${crypto.randomBytes(4).toString('hex')}.tar`);
      await withClient(async () => {
        await s3Client(cfg).putObject(cfg.s3.bucket, key, fs.createReadStream(file), size.size);
      });
      return run<ImagePutResult[]>('distributeImage', unique('image'), [{ ...req, key }]);
    },
    listImages: () => run<Array<{ host: string; images: HostImage[]; error?: string }>>('listImages', unique('images'), []),

    /**
     * Asks the service's entity workflow to migrate it (update-with-start: the entity is created on
     * first use) and waits for the report, showing the running migration's phases meanwhile.
     */
    migrate(input: MigrateInputRaw, onProgress?: (p: MigrationProgress) => void): Promise<MigrationReport> {
      return withClient(async ({ client }) => {
        const start = new WithStartWorkflowOperation<typeof serviceEntity>('serviceEntity', {
          ...options(entityWorkflowId(input.service)),
          args: [{ service: input.service }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        const latest = client.workflow.getHandle(migrateWorkflowId(input.service));
        // The migration workflow's id is the service's: an earlier migration's run answers until this one starts.
        const earlier = onProgress ? await latest.describe().then((d) => d.runId, () => null) : null;
        let child: typeof latest | null = null;
        let last = '';
        let done = false;
        const poll = (async () => {
          while (!done && onProgress) {
            try {
              if (!child) {
                const runId = (await latest.describe()).runId;
                if (runId !== earlier) child = client.workflow.getHandle(migrateWorkflowId(input.service), runId);
              }
              if (!child) throw new Error('not started yet');
              const p = await child.query<MigrationProgress>('progress');
              if (p.phase !== last && p.to === input.to) onProgress(p);
              last = p.phase;
            } catch {
              /* not started yet */
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        try {
          return await client.workflow.executeUpdateWithStart<typeof serviceEntity, MigrationReport, [MigrateRequest]>('migrate', {
            args: [{ to: input.to, mode: input.mode ?? 'warm', ...lazyChoice(input) }],
            startWorkflowOperation: start,
          });
        } finally {
          done = true;
          await poll;
        }
      });
    },

    /** Fire and forget (for autoscalers): signal-with-start the entity; returns its workflow id. */
    requestMigration(input: MigrateInput): Promise<string> {
      return withClient(async ({ client }) => {
        const h = await client.workflow.signalWithStart('serviceEntity', {
          ...options(entityWorkflowId(input.service)),
          args: [{ service: input.service }],
          signal: 'migrate',
          signalArgs: [{ to: input.to, mode: input.mode, ...lazyChoice(input) }],
        });
        return h.workflowId;
      });
    },

    evacuate: (req: EvacuateRequest) => run<EvacuationReport>('evacuateHost', `evacuate-${req.host}`, [req]),

    schedules: {
      create: (name: string, cron: string, input: MigrateInput) =>
        withClient(async ({ client }) => {
          await client.schedule.create({
            scheduleId: name,
            spec: { cronExpressions: [cron] },
            action: { type: 'startWorkflow', workflowType: 'scheduledMigration', taskQueue: ORCHESTRATOR_QUEUE, workflowId: `scheduled-${name}`, args: [input] },
            memo: { service: input.service, to: input.to, mode: input.mode },
          });
          return { name, cron, ...input };
        }),
      list: () =>
        withClient(async ({ client }) => {
          const out: { name: string; paused: boolean; cron: string[]; next: string | null; service?: unknown; to?: unknown; mode?: unknown }[] = [];
          for await (const s of client.schedule.list()) {
            if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== 'scheduledMigration') continue;
            out.push({ name: s.scheduleId, paused: s.state.paused, cron: (s.spec as any)?.cronExpressions ?? [], next: s.info.nextActionTimes[0]?.toISOString() ?? null, service: s.memo?.service, to: s.memo?.to, mode: s.memo?.mode });
          }
          return out;
        }),
      pause: (name: string) => withClient(({ client }) => client.schedule.getHandle(name).pause('paused with fastmig')),
      unpause: (name: string) => withClient(({ client }) => client.schedule.getHandle(name).unpause('unpaused with fastmig')),
      trigger: (name: string) => withClient(({ client }) => client.schedule.getHandle(name).trigger()),
      delete: (name: string) => withClient(({ client }) => client.schedule.getHandle(name).delete()),
    },

    history: (service: string) =>
      withClient(({ client }) => client.workflow.getHandle(entityWorkflowId(service)).query<MigrationReport[]>('history')),
  };
}

/** Operations for one-shot callers (CLI, demo, tests): each call connects and checks the stack. */
export const ops = makeOps(withClient);
