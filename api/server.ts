// The HTTP API for webhooks and autoscalers: start a migration, follow it, list services and
// hosts. Token-guarded, validated with the shared schemas, answering JSON errors with 4xx.
import http from 'http';
import { z } from 'zod';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { HttpAnswer, HttpError, Routes, createJsonServer, parseBody } from '../common/http';
import { MigrationMode, HostName, ServiceName } from '../common/schemas';
import type { MigrationProgress, MigrationReport } from '../common/schemas';
import { Registry, MS_BUCKETS } from '../common/metrics';
import { makeOps } from '../cli/ops';
import { failureMessage } from '../cli/temporal';
import { migrateWorkflowId } from '../common/names';
import type { Logger } from '../common/log';
import { openapi } from './openapi';

const MigrateBody = z.object({ to: HostName, mode: MigrationMode.default('warm'), wait: z.boolean().default(false) }).strict();
const WorkflowId = z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'a workflow id is 1-128 of A-Z, a-z, 0-9 and "-"');

export function createHttpApi(client: Client, token: string, log: Logger, metrics: Registry): http.Server {
  const ops = makeOps(async (fn) => {
    try {
      return await fn({ client });
    } catch (err) {
      throw new HttpError(409, failureMessage(err));
    }
  });
  const requests = metrics.counter('fastmig_api_requests_total', 'HTTP API requests by route and status');
  const downtime = metrics.histogram('fastmig_api_migration_downtime_ms', 'Downtime of migrations the API waited for, in ms', MS_BUCKETS);
  const serviceOf = (params: Record<string, string>) => {
    const r = ServiceName.safeParse(params.service);
    if (!r.success) throw new HttpError(400, `service: ${r.error.issues[0].message}`);
    return r.data;
  };

  const routes: Routes = {
    'GET /healthz': async () => ({ ok: true }),
    'GET /v1/openapi.json': async () => openapi,
    'GET /v1/services': async () => ops.inspect(),
    'GET /v1/hosts': async () => ops.hosts(),
    'GET /v1/services/:service/migrations': async (_b, _u, params) => ops.history(serviceOf(params)),
    'POST /v1/services/:service/migrations': async (body, _u, params) => {
      const service = serviceOf(params);
      const req = parseBody(MigrateBody, body);
      if (!req.wait) {
        const entity = await ops.requestMigration({ service, to: req.to, mode: req.mode });
        return new HttpAnswer(202, { accepted: true, service, entityWorkflowId: entity, migrationWorkflowId: migrateWorkflowId(service) });
      }
      const report = await ops.migrate({ service, to: req.to, mode: req.mode });
      if (report.outcome === 'refused') throw new HttpError(409, report.error ?? 'refused');
      if (report.outcome === 'migrated') downtime.observe(report.downtimeMs, { mode: report.mode });
      return report;
    },
    'GET /v1/migrations/:workflowId': async (_b, _u, params) => {
      const r = WorkflowId.safeParse(params.workflowId);
      if (!r.success) throw new HttpError(400, `workflowId: ${r.error.issues[0].message}`);
      const handle = client.workflow.getHandle(r.data);
      try {
        const d = await handle.describe();
        if (d.status.name === 'RUNNING') return { status: 'running', progress: await handle.query<MigrationProgress>('progress') };
        if (d.status.name === 'COMPLETED') return { status: 'completed', report: await handle.result() as MigrationReport };
        return { status: d.status.name.toLowerCase() };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new HttpError(404, `no migration ${r.data}`);
        throw new HttpError(409, failureMessage(err));
      }
    },
  };
  return createJsonServer({
    token,
    routes,
    log,
    open: ['GET /healthz', 'GET /v1/openapi.json', 'GET /metrics'],
    text: { 'GET /metrics': () => metrics.render() },
    onRequest: (route, status) => requests.inc({ route, status: String(status) }),
  });
}
