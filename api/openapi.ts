// The OpenAPI description of the HTTP API, served at GET /v1/openapi.json and kept in docs/api.md.
export const openapi = {
  openapi: '3.0.3',
  info: { title: 'fastmig HTTP API', version: '1', description: 'Start and follow live migrations. Every route but /healthz, /metrics and /v1/openapi.json needs `Authorization: Bearer <FASTMIG_API_TOKEN>`.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
      MigrateRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['to'],
        properties: {
          to: { type: 'string', pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$' },
          mode: { type: 'string', enum: ['warm', 'cold', 'lazy'], default: 'warm', description: 'lazy: post-copy, the target runs before its memory pages are across' },
          onLazyFailure: { type: 'string', enum: ['resume-source', 'stop'], default: 'resume-source', description: 'mode lazy only: after a failure once the target served, resume the source (losing what the target accepted) or stop the service' },
          wait: { type: 'boolean', default: false, description: 'true: answer with the report when the migration ends; false: 202 at once' },
        },
      },
      MigrationReport: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          outcome: { type: 'string', enum: ['migrated', 'rolled-back', 'failed', 'refused'] },
          service: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, mode: { type: 'string' },
          downtimeMs: { type: 'number' }, totalMs: { type: 'number' }, imageBytes: { type: 'number' },
          phases: { type: 'object', additionalProperties: { type: 'number' } }, workflowId: { type: 'string' }, error: { type: 'string' },
          lazy: { type: 'object', description: 'mode lazy: onFailure, pagesAcrossMs (freeze to last page on the target), targetServed, servedWindowMs' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/services': { get: { summary: 'Services, where they run and their state', responses: { 200: { description: 'list' }, 401: { description: 'no or wrong token' } } } },
    '/v1/hosts': { get: { summary: 'Registered hosts', responses: { 200: { description: 'list' } } } },
    '/v1/services/{service}/migrations': {
      parameters: [{ name: 'service', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$' } }],
      post: {
        summary: 'Migrate a service (queued behind any running migration of it)',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/MigrateRequest' } } } },
        responses: {
          200: { description: 'with wait: the report', content: { 'application/json': { schema: { $ref: '#/components/schemas/MigrationReport' } } } },
          202: { description: 'accepted: follow it at GET /v1/migrations/{workflowId}' },
          400: { description: 'invalid request', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          409: { description: 'refused (unknown service or host, already there)' },
        },
      },
      get: { summary: 'The service\'s migration history', responses: { 200: { description: 'reports, oldest first' } } },
    },
    '/v1/migrations/{workflowId}': {
      parameters: [{ name: 'workflowId', in: 'path', required: true, schema: { type: 'string' } }],
      get: { summary: 'Progress of a running migration, or its report', responses: { 200: { description: '{status, progress} or {status, report}' }, 404: { description: 'unknown' } } },
    },
    '/v1/openapi.json': { get: { security: [], summary: 'This document', responses: { 200: { description: 'OpenAPI 3' } } } },
    '/healthz': { get: { security: [], summary: 'Liveness', responses: { 200: { description: 'ok' } } } },
    '/metrics': { get: { security: [], summary: 'Prometheus metrics of the API', responses: { 200: { description: 'text exposition format' } } } },
  },
};
