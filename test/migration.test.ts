// Live migration against the real stack: hostA → hostB (warm) and back (cold), state intact.
import { ops } from '../client';
import { startProbe } from '../demo/probe';
import { requestCount, verifyKeys, writeKeys } from '../demo/kv-client';
import { addressOf, deployKv, endpointNow, kvProcesses, removeQuietly, serviceDirExists } from './helpers';
import { tcpConnects } from '../activities/probe';

const SERVICE = 'test-migrate';
let port: number;
let endpoint: string;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  ({ port, endpoint } = await deployKv(SERVICE, 'hostA'));
  // Its own address (test/service-address.test.ts), which goes with it; hostA's address also reaches it while it runs there.
  expect(endpoint).not.toEqual(`${addressOf('hostA')}:${port}`);
  expect(await tcpConnects(port, addressOf('hostA'))).toBe(true);
  await writeKeys(endpoint, 1200);
});
afterAll(() => removeQuietly(SERVICE));

test('warm migration hostA → hostB keeps every key and the request counter, and leaves nothing on the source', async () => {
  const before = await requestCount(endpoint);
  const probe = startProbe(endpoint, 5);
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' });
  const probed = await probe.stop();

  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB', mode: 'warm' });
  expect(report.imageBytes).toBeGreaterThan(0);
  expect(report.downtimeMs).toBeGreaterThan(0);
  expect(Object.keys(report.phases)).toEqual(
    expect.arrayContaining(['preflight', 'prepareTarget', 'checkpoint', 'transfer', 'restore', 'verify', 'cutover', 'upload', 'cleanup']),
  );
  // the image went host to host; its S3 copy was stored after the service answered again
  expect(report.phases).not.toHaveProperty('download');
  expect(Object.keys(report.phases).indexOf('upload')).toBeGreaterThan(Object.keys(report.phases).indexOf('verify'));
  // warm: the target was prepared before the source froze
  expect(Object.keys(report.phases).indexOf('prepareTarget')).toBeLessThan(Object.keys(report.phases).indexOf('checkpoint'));
  expect(probed.ok).toBeGreaterThan(0);

  // It answers at its own address still, which hostB carries now; hostA no longer runs it.
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostB', state: 'running', generation: 2, endpoint });
  expect(await tcpConnects(port, addressOf('hostB'))).toBe(true);
  expect(await verifyKeys(endpoint, 1200)).toBe(1200);
  expect(await requestCount(endpoint)).toBeGreaterThan(before);
  expect(await tcpConnects(port, addressOf('hostA'))).toBe(false);
  expect(serviceDirExists('hostA', SERVICE)).toBe(false);
  expect(kvProcesses(port)).toHaveLength(1);
});

test('cold migration hostB → hostA prepares the target only after the checkpoint and keeps the state', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostA', mode: 'cold' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostB', to: 'hostA', mode: 'cold' });
  const order = Object.keys(report.phases);
  expect(order.indexOf('prepareTarget')).toBeGreaterThan(order.indexOf('checkpoint'));
  expect(await endpointNow(SERVICE)).toEqual(endpoint);
  expect(await tcpConnects(port, addressOf('hostA'))).toBe(true);
  expect(await tcpConnects(port, addressOf('hostB'))).toBe(false);
  expect(await verifyKeys(endpoint, 1200)).toBe(1200);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', state: 'running', generation: 3 });
  expect(serviceDirExists('hostB', SERVICE)).toBe(false);
  expect(kvProcesses(port)).toHaveLength(1);
});

test('two concurrent migrate requests for one service are serialized by its entity workflow', async () => {
  // Both ask for hostB while the service is on hostA. Run one after the other, the second sees the
  // first's result and is refused; interleaved, both would have started from hostA.
  const [a, b] = await Promise.all([ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' }), ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' })]);
  const outcomes = [a.outcome, b.outcome].sort();
  expect(outcomes).toEqual(['migrated', 'refused']);
  expect([a, b].find((r) => r.outcome === 'refused')!.error).toMatch(/already runs on hostB/);
  endpoint = await endpointNow(SERVICE);
  expect(await verifyKeys(endpoint, 1200)).toBe(1200);
  expect(kvProcesses(port)).toHaveLength(1);
  const history = await ops.history(SERVICE);
  expect(history.slice(-2).map((r) => r.outcome).sort()).toEqual(['migrated', 'refused']);
});
