// A restore that fails on the target rolls back: the service resumes on the source with its state.
import { ops } from '../client';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { deployKv, kvProcesses, removeQuietly, serviceDirExists } from './helpers';

const SERVICE = 'test-rollback';
let kv: { port: number; endpoint: string };

beforeAll(async () => {
  await removeQuietly(SERVICE);
  // The pre-restore hook refuses to run on hostB, so the restore there fails for real.
  kv = await deployKv(SERVICE, 'hostA', { hooks: { preRestore: 'test "$FASTMIG_HOST" != hostB' } });
  await writeKeys(kv.endpoint, 500);
});
afterAll(() => removeQuietly(SERVICE));

test('failed restore on the target → rolled back, service answers on the source with its state', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostB' });
  expect(report).toMatchObject({ ok: false, outcome: 'rolled-back', from: 'hostA', to: 'hostB' });
  expect(report.error).toMatch(/preRestore hook failed on hostB/);
  expect(report.phases.rollback).toBeGreaterThan(0);
  expect(await verifyKeys(kv.endpoint, 500)).toBe(500);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', state: 'running', generation: 1 });
  expect(serviceDirExists('hostB', SERVICE)).toBe(false);
  expect(kvProcesses(kv.port)).toHaveLength(1);
});
