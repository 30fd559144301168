// Control surfaces against the real stack: a fire-and-forget signal (autoscalers), the `temporal`
// binary starting migrateService itself, and the entity's queries.
import execa from 'execa';
import { connectClient, ops } from '../client';
import type { MigrationReport } from '../common/schemas';
import { readStackFile } from '../common/config';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { deployKv, endpointNow, fastmig, kvProcesses, removeQuietly } from './helpers';

const SERVICE = 'test-control';
let port: number;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  ({ port } = await deployKv(SERVICE, 'hostA'));
  await writeKeys(await endpointNow(SERVICE), 400);
});
afterAll(() => removeQuietly(SERVICE));

async function until(cond: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('condition not reached in time');
}

test('a migrate signal (signal-with-start) moves the service without waiting for it', async () => {
  const entityId = await ops.requestMigration({ service: SERVICE, to: 'hostB', mode: 'warm' });
  expect(entityId).toBe(`service-${SERVICE}`);
  await until(async () => (await ops.history(SERVICE)).some((r) => r.to === 'hostB' && r.outcome === 'migrated'));
  expect((await ops.inspect(SERVICE))[0]).toMatchObject({ host: 'hostB', state: 'running' });
  expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
  expect(kvProcesses(port)).toHaveLength(1);
});

test('a lazy migrate signal carries its failure choice to the migration', async () => {
  await ops.requestMigration({ service: SERVICE, to: 'hostA', mode: 'lazy', onLazyFailure: 'stop' });
  await until(async () => (await ops.history(SERVICE)).some((r) => r.to === 'hostA' && r.mode === 'lazy'));
  expect((await ops.history(SERVICE)).at(-1)).toMatchObject({ outcome: 'migrated', mode: 'lazy', lazy: { onFailure: 'stop' } });
  expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
  await ops.migrate({ service: SERVICE, to: 'hostB' }); // back where the next test expects it
});

test('the temporal binary itself can start migrateService and read its result', async () => {
  const stack = readStackFile()!;
  const input = JSON.stringify({ service: SERVICE, to: 'hostA', mode: 'cold' });
  const r = await execa(stack.temporalBinary, [
    'workflow', 'execute', '--address', stack.temporalAddress, '--namespace', stack.namespace,
    '--task-queue', 'fastmig', '--type', 'migrateService', '--workflow-id', `migrate-${SERVICE}`,
    '--input', input, '--output', 'json',
  ], { reject: false, timeout: 120_000 });
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  const result = out.result ?? out;
  expect(result).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostB', to: 'hostA', mode: 'cold' });
  expect((await ops.inspect(SERVICE))[0]).toMatchObject({ host: 'hostA', state: 'running' });
  expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
});

test('a malformed signal is dropped (counted, with its reason, nothing queued) and the entity keeps serving requests', async () => {
  const { connectClient } = await import('../client');
  const { client, connection } = await connectClient();
  const historyBefore = await ops.history(SERVICE);
  try {
    const handle = client.workflow.getHandle(`service-${SERVICE}`);
    const before = await handle.query<{ droppedSignals: number }>('pending');
    await handle.signal('migrate', { to: '../etc', mode: 'teleport' });
    await until(async () => (await handle.query<{ droppedSignals: number }>('pending')).droppedSignals === before.droppedSignals + 1);
    const after = await handle.query<{ queued: number; running: string | null; lastDroppedSignal: string }>('pending');
    expect(after).toMatchObject({ queued: 0, running: null });
    expect(after.lastDroppedSignal).toMatch(/migrate request/);
  } finally {
    await connection.close();
  }
  expect(await ops.history(SERVICE)).toEqual(historyBefore); // nothing ran for it
  expect((await ops.inspect(SERVICE))[0].host).toBe('hostA');
  const report = await ops.migrate({ service: SERVICE, to: 'hostB' });
  expect(report).toMatchObject({ outcome: 'migrated', from: 'hostA', to: 'hostB' });
  expect((await ops.inspect(SERVICE))[0]).toMatchObject({ host: 'hostB', state: 'running' });
});

describe('schedules', () => {
  const NAME = 'test-sched';
  afterAll(async () => {
    await ops.schedules.delete(NAME).catch(() => undefined);
  });
  test('create, list, pause, trigger and delete a migration schedule', async () => {
    const from = (await ops.inspect(SERVICE))[0].host;
    const to = from === 'hostA' ? 'hostB' : 'hostA';
    await ops.schedules.delete(NAME).catch(() => undefined);
    // a cron that will not fire during the test: the trigger below is what runs it
    const created = await fastmig(['schedule', 'create', NAME, '--cron', '0 0 1 1 *', 'migrate', SERVICE, '--to', to, '--mode', 'lazy']);
    expect(created.exitCode).toBe(0);
    const listed = JSON.parse((await fastmig(['schedule', 'list', '--json'])).stdout);
    expect(listed).toContainEqual(expect.objectContaining({ name: NAME, paused: false, service: SERVICE, to, mode: 'lazy' }));
    expect((await fastmig(['schedule', 'pause', NAME])).exitCode).toBe(0);
    expect(JSON.parse((await fastmig(['schedule', 'list', '--json'])).stdout)).toContainEqual(expect.objectContaining({ name: NAME, paused: true }));
    expect((await fastmig(['schedule', 'trigger', NAME])).exitCode).toBe(0);
    await until(async () => (await ops.inspect(SERVICE))[0].host === to);
    expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
    // The schedule's migration ran post-copy, as asked (the service's latest migration run says so).
    const { client, connection } = await connectClient();
    try {
      expect(await client.workflow.getHandle(`migrate-${SERVICE}`).result()).toMatchObject({ outcome: 'migrated', mode: 'lazy', to });
    } finally {
      await connection.close();
    }
    expect((await fastmig(['schedule', 'delete', NAME])).exitCode).toBe(0);
    expect(JSON.parse((await fastmig(['schedule', 'list', '--json'])).stdout).map((s: any) => s.name)).not.toContain(NAME);
  });
  test('a schedule with a bad cron expression or name is refused', async () => {
    const bad = await fastmig(['schedule', 'create', 'bad-cron', '--cron', 'every tuesday', 'migrate', SERVICE, '--to', 'hostB']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/^fastmig: /m);
    const badName = await fastmig(['schedule', 'create', 'Bad/Name', '--cron', '0 0 1 1 *', 'migrate', SERVICE, '--to', 'hostB']);
    expect(badName.exitCode).not.toBe(0);
    expect(badName.stderr).toMatch(/schedule name/);
  });
});

describe('HTTP API, metrics and search attributes', () => {
  const stack = () => readStackFile()!;
  const token = () => require('../common/config').readEnvFile(require('../common/config').paths.secretsFile()).FASTMIG_API_TOKEN as string;
  const api = (method: string, route: string, body?: unknown) =>
    fetch(`${stack().apiUrl}${route}`, { method, headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  test('the OpenAPI description is served without a token; everything else needs one', async () => {
    const doc = (await (await fetch(`${stack().apiUrl}/v1/openapi.json`)).json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/v1/services/{service}/migrations');
    expect((await fetch(`${stack().apiUrl}/v1/services`)).status).toBe(401);
    const services = (await (await api('GET', '/v1/services')).json()) as any[];
    expect(services.map((s: any) => s.service)).toContain(SERVICE);
  });

  test('a migration through the HTTP API (wait) returns its report; the metrics endpoint counts it', async () => {
    const from = (await ops.inspect(SERVICE))[0].host;
    const to = from === 'hostA' ? 'hostB' : 'hostA';
    const before = migratedCount(await (await fetch(stack().metrics.orchestrator)).text());
    const apiBefore = apiMigrations(await (await fetch(stack().metrics.api)).text());
    const res = await api('POST', `/v1/services/${SERVICE}/migrations`, { to, mode: 'warm', wait: true });
    expect(res.status).toBe(200);
    const report = await res.json();
    expect(report).toMatchObject({ ok: true, outcome: 'migrated', from, to });
    expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
    const text = await (await fetch(stack().metrics.orchestrator)).text();
    expect(migratedCount(text)).toBe(before + 1);
    expect(text).toMatch(/fastmig_migration_downtime_ms_count\{mode="warm"\} \d+/);
    // the target restores inside fetchAndRestore (image, restore and health check in one activity)
    expect(await (await fetch(stack().metrics[to])).text()).toMatch(/fastmig_activity_ms_count\{activity="fetchAndRestore",outcome="ok"\} \d+/);
    expect(apiMigrations(await (await fetch(stack().metrics.api)).text())).toBe(apiBefore + 1);
  });

  test('a lazy migration through the HTTP API (wait, with its failure choice) reports how its pages went', async () => {
    const from = (await ops.inspect(SERVICE))[0].host;
    const to = from === 'hostA' ? 'hostB' : 'hostA';
    const res = await api('POST', `/v1/services/${SERVICE}/migrations`, { to, mode: 'lazy', onLazyFailure: 'stop', wait: true });
    expect(res.status).toBe(200);
    const report = (await res.json()) as MigrationReport;
    expect(report).toMatchObject({ ok: true, outcome: 'migrated', mode: 'lazy', from, to, lazy: { onFailure: 'stop', targetServed: true } });
    expect(report.lazy!.pagesAcrossMs).toBeGreaterThan(0);
    expect(await verifyKeys(await endpointNow(SERVICE), 400)).toBe(400);
    const refused = await api('POST', `/v1/services/${SERVICE}/migrations`, { to: from, mode: 'warm', onLazyFailure: 'stop' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/onLazyFailure applies to mode lazy only/);
  });

  test('a migration through the HTTP API without wait is accepted (202) and can be followed to its report', async () => {
    const from = (await ops.inspect(SERVICE))[0].host;
    const to = from === 'hostA' ? 'hostB' : 'hostA';
    const res = await api('POST', `/v1/services/${SERVICE}/migrations`, { to });
    expect(res.status).toBe(202);
    const { migrationWorkflowId } = (await res.json()) as any;
    let last: any;
    await until(async () => {
      last = await (await api('GET', `/v1/migrations/${migrationWorkflowId}`)).json();
      return last.status === 'completed' && last.report.to === to;
    });
    expect(last.report).toMatchObject({ ok: true, from, to });
  });

  test('the Temporal UI can filter migrations by service and target host (search attributes)', async () => {
    const { connectClient } = await import('../client');
    const { client, connection } = await connectClient();
    try {
      const found: string[] = [];
      for await (const w of client.workflow.list({ query: `FastmigService = '${SERVICE}' AND FastmigTarget = 'hostB' AND WorkflowType = 'migrateService'` })) found.push(w.workflowId);
      expect(found.length).toBeGreaterThan(0);
      expect(new Set(found)).toEqual(new Set([`migrate-${SERVICE}`]));
    } finally {
      await connection.close();
    }
  });
});

function migratedCount(metrics: string): number {
  return [...metrics.matchAll(/fastmig_migrations_total\{mode="\w+",outcome="migrated"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

function apiMigrations(metrics: string): number {
  const m = /fastmig_api_requests_total\{route="POST \/v1\/services\/:service\/migrations",status="200"\} (\d+)/.exec(metrics);
  return m ? Number(m[1]) : 0;
}
