// Evacuating a host moves all its services (3 here) with bounded parallelism, state intact, warm
// and then lazy.
import { ops } from '../client';
import { tcpConnects } from '../activities/probe';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { addressOf, deployKv, endpointNow, fastmig, kvProcesses, removeQuietly } from './helpers';

const SERVICES = ['test-evac-1', 'test-evac-2', 'test-evac-3'];
const ports: Record<string, number> = {};
const endpoints: Record<string, string> = {};

beforeAll(async () => {
  for (const s of SERVICES) {
    await removeQuietly(s);
    const kv = await deployKv(s, 'hostA');
    ports[s] = kv.port;
    endpoints[s] = kv.endpoint;
    await writeKeys(kv.endpoint, 200);
  }
});
afterAll(async () => {
  for (const s of SERVICES) await removeQuietly(s);
});

test('fastmig evacuate hostA moves all three services to hostB, two at a time, and reports each', async () => {
  const r = await fastmig(['evacuate', 'hostA', '--to', 'hostB', '--parallel', '2', '--json']);
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.host).toBe('hostA');
  expect(report.failed).toBe(0);
  for (const s of SERVICES) {
    expect(report.services).toContainEqual(expect.objectContaining({ service: s, to: 'hostB', outcome: 'migrated' }));
    const endpoint = await endpointNow(s);
    expect(endpoint).toEqual(endpoints[s]);
    expect(await tcpConnects(ports[s], addressOf('hostB'))).toBe(true);
    expect(await verifyKeys(endpoint, 200)).toBe(200);
    expect(kvProcesses(ports[s])).toHaveLength(1);
  }
  const views = await ops.inspect();
  expect(views.filter((v) => v.host === 'hostA')).toHaveLength(0);
});

test('fastmig evacuate hostB --mode lazy brings all three back post-copy, state intact', async () => {
  const r = await fastmig(['evacuate', 'hostB', '--to', 'hostA', '--mode', 'lazy', '--json']);
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.failed).toBe(0);
  for (const s of SERVICES) {
    expect(report.services).toContainEqual(expect.objectContaining({ service: s, to: 'hostA', mode: 'lazy', outcome: 'migrated' }));
    expect(await verifyKeys(await endpointNow(s), 200)).toBe(200);
    expect(kvProcesses(ports[s])).toHaveLength(1);
  }
});

test('evacuating to an unknown host is refused before anything moves', async () => {
  const r = await fastmig(['evacuate', 'hostA', '--to', 'hostNowhere']);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/unknown target host "hostNowhere"/);
  expect((await ops.inspect()).filter((v) => SERVICES.includes(v.service)).every((v) => v.host === 'hostA')).toBe(true);
});
