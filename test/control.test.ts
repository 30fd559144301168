// Control surfaces against the real stack: a fire-and-forget signal (autoscalers), the `temporal`
// binary starting migrateService itself, and the entity's queries.
import execa from 'execa';
import { ops } from '../cli/ops';
import { loadConfig, readStackFile } from '../common/config';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { deployKv, kvProcesses, removeQuietly } from './helpers';

const SERVICE = 'test-control';
let port: number;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  port = await deployKv(SERVICE, 'hostA');
  await writeKeys(port, 400);
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
  expect(await verifyKeys(port, 400)).toBe(400);
  expect(kvProcesses(port)).toHaveLength(1);
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
  expect(await verifyKeys(port, 400)).toBe(400);
});

test('a malformed signal is dropped and the entity keeps serving requests', async () => {
  const { connectClient } = await import('../cli/temporal');
  const { client, connection } = await connectClient();
  try {
    await client.workflow.getHandle(`service-${SERVICE}`).signal('migrate', { to: '../etc', mode: 'teleport' });
  } finally {
    await connection.close();
  }
  const report = await ops.migrate({ service: SERVICE, to: 'hostB' });
  expect(report.outcome).toBe('migrated');
  expect(loadConfig().hosts).toContain('hostB');
});
