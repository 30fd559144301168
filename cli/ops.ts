// Service operations as functions: each starts one workflow on the orchestrator and returns its
// result. The CLI, the demo and the tests all go through here.
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { UserError, connectClient, failureMessage } from './temporal';
import fs from 'fs';
import crypto from 'crypto';
import type { DeployInput, HostImage, HostRecord, ImageTransfer, MigrateInput, MigrationProgress, MigrationReport } from '../common/schemas';
import type { ImagePutResult } from '../workflows/images';
import { loadConfig } from '../common/config';
import { s3Client } from '../common/s3';
import type { DeployResult } from '../workflows/deploy';
import type { ServiceView } from '../workflows/manage';
import { keys, migrateWorkflowId, ORCHESTRATOR_QUEUE } from '../common/names';

type Connected = Awaited<ReturnType<typeof connectClient>>;

async function withClient<T>(fn: (c: Connected) => Promise<T>): Promise<T> {
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

const unique = (prefix: string) => `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;

function run<T>(type: string, workflowId: string, args: unknown[]): Promise<T> {
  return withClient(({ client }) => client.workflow.execute(type, { ...options(workflowId), args }) as Promise<T>);
}

export const ops = {
  deploy: (input: DeployInput) => run<DeployResult>('deployService', `deploy-${input.spec.name}`, [input]),
  inspect: (service?: string) => run<ServiceView[]>('inspectServices', unique('inspect'), [{ service }]),
  logs: (service: string, lines: number) => run<string[]>('serviceLogs', unique(`logs-${service}`), [{ service, lines }]),
  hosts: () => run<HostRecord[]>('listHosts', unique('hosts'), []),
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

  /** Runs migrateService and reports each phase change while it runs. */
  migrate(input: MigrateInput, onProgress?: (p: MigrationProgress) => void): Promise<MigrationReport> {
    return withClient(async ({ client }) => {
      const handle = await client.workflow.start('migrateService', { ...options(migrateWorkflowId(input.service)), args: [input] });
      let last = '';
      let done = false;
      const poll = (async () => {
        while (!done && onProgress) {
          try {
            const p = await handle.query<MigrationProgress>('progress');
            if (p.phase !== last) onProgress(p);
            last = p.phase;
          } catch {
            /* not started yet */
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        return await handle.result();
      } finally {
        done = true;
        await poll;
      }
    });
  },
};
