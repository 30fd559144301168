// The HTTP API for webhooks and autoscalers: start a migration, follow it, list services and
// hosts. Token-guarded, validated with the shared schemas (unknown body fields and query parameters
// refused), answering JSON errors with 4xx.
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { LAZY_CHOICE_ISSUE, LazyFailure, lazyChoiceFits, MigrationMode, HostName, ServiceRef, parseOrThrow } from '../common/schemas';
import type { MigrationProgress, MigrationReport } from '../common/schemas';
import { MS_BUCKETS, Registry } from '../common/metrics';
import { makeOps, failureMessage } from '../client';
import { migrateWorkflowId } from '../common/names';
import type { Logger } from '../common/log';
import { ApiError, badRequest, createApp } from './app';
import { openapi } from './openapi';

const MigrateBody = z
  .object({ to: HostName, mode: MigrationMode.default('warm'), onLazyFailure: LazyFailure.optional(), wait: z.boolean().default(false) })
  .strict()
  .refine(lazyChoiceFits, LAZY_CHOICE_ISSUE);
const WorkflowRef = z.object({ workflowId: z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'a workflow id is 1-128 of A-Z, a-z, 0-9 and "-"') });

type Params<K extends string> = { Params: Record<K, string> };

/** No route behind the token takes a query parameter: one given is refused, as an unknown field is. */
function noQuery(req: FastifyRequest): void {
  const given = Object.keys((req.query ?? {}) as object);
  if (given.length) throw new ApiError(400, `query: unknown parameter(s) ${given.map((k) => JSON.stringify(k)).join(', ')}`);
}

export function createHttpApi(client: Client, token: string, log: Logger, metrics: Registry): FastifyInstance {
  const ops = makeOps(async (fn) => {
    try {
      return await fn({ client });
    } catch (err) {
      throw new ApiError(409, failureMessage(err));
    }
  });
  const registers = [metrics];
  const requests = new Counter({ name: 'fastmig_api_requests_total', help: 'HTTP API requests by route and status', labelNames: ['route', 'status'], registers });
  const downtime = new Histogram({ name: 'fastmig_api_migration_downtime_ms', help: 'Downtime of migrations the API waited for, in ms', labelNames: ['mode'], buckets: MS_BUCKETS, registers });
  const serviceOf = (params: { service: string }) => parseOrThrow(ServiceRef, { service: params.service }, 'service', badRequest).service;

  const app = createApp({
    token,
    log,
    open: ['GET /healthz', 'GET /v1/openapi.json', 'GET /metrics'],
    onAnswer: (route, status) => requests.inc({ route, status: String(status) }),
  });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/v1/openapi.json', async () => openapi);
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  app.get('/v1/services', async (req) => (noQuery(req), ops.inspect()));
  app.get('/v1/hosts', async (req) => (noQuery(req), ops.hosts()));
  app.get<Params<'service'>>('/v1/services/:service/migrations', async (req) => (noQuery(req), ops.history(serviceOf(req.params))));
  app.post<Params<'service'>>('/v1/services/:service/migrations', async (req, reply) => {
    noQuery(req);
    const service = serviceOf(req.params);
    const body = parseOrThrow(MigrateBody, req.body ?? {}, 'body', badRequest);
    if (!body.wait) {
      const entity = await ops.requestMigration({ service, to: body.to, mode: body.mode, onLazyFailure: body.onLazyFailure });
      return reply.code(202).send({ accepted: true, service, entityWorkflowId: entity, migrationWorkflowId: migrateWorkflowId(service) });
    }
    const report = await ops.migrate({ service, to: body.to, mode: body.mode, onLazyFailure: body.onLazyFailure });
    if (report.outcome === 'refused') throw new ApiError(409, report.error ?? 'refused');
    if (report.outcome === 'migrated') downtime.observe({ mode: report.mode }, report.downtimeMs);
    return report;
  });
  app.get<Params<'workflowId'>>('/v1/migrations/:workflowId', async (req) => {
    noQuery(req);
    const { workflowId } = parseOrThrow(WorkflowRef, { workflowId: req.params.workflowId }, 'workflow id', badRequest);
    const handle = client.workflow.getHandle(workflowId);
    try {
      const d = await handle.describe();
      if (d.status.name === 'RUNNING') return { status: 'running', progress: await handle.query<MigrationProgress>('progress') };
      if (d.status.name === 'COMPLETED') return { status: 'completed', report: (await handle.result()) as MigrationReport };
      return { status: d.status.name.toLowerCase() };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, `no migration ${workflowId}`);
      throw new ApiError(409, failureMessage(err));
    }
  });
  return app;
}
