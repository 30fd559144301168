// The demo key-value service in a Debian (glibc) container: hostA → hostB warm and back cold,
// every key and the counter intact, the source container gone, reached at one address of its own
// (from the cluster's block, not its host's) before and after each move.
import { ops } from '../client';
import { startHeldConnection, startProbe } from '../demo/probe';
import { requestCount, verifyKeys, writeKeys } from '../demo/kv-client';
import { loadConfig } from '../common/config';
import { poolAddresses } from '../common/address-pool';
import { addressOf, removeQuietly, serviceDirExists } from './helpers';
import { DEBIAN_IMAGE, KV_CMD, containerInit, containersOf, deployContainer, endpointOf, ensureImages } from './docker-helpers';

const SERVICE = 'test-docker-kv';
let endpoint: string;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await ensureImages();
  endpoint = await deployContainer(SERVICE, 'hostA', DEBIAN_IMAGE, [], KV_CMD);
  await writeKeys(endpoint, 1000);
});
afterAll(() => removeQuietly(SERVICE));

const own = () => endpoint.slice(0, endpoint.lastIndexOf(':'));

test("deploy runs the daemon as PID 1 of a container of the unmodified image, reached at the service's own address", async () => {
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', runtime: 'docker', image: DEBIAN_IMAGE, state: 'running', endpoint, address: endpoint });
  expect(poolAddresses(loadConfig().serviceAddresses!)).toContain(own());
  expect(own()).not.toBe(addressOf('hostA'));
  expect(endpoint.endsWith(':8080')).toBe(true);
  expect(await containersOf('hostA', SERVICE)).toEqual([`fastmig-hostA-${SERVICE} running`]);
  expect(await containersOf('hostB', SERVICE)).toEqual([]);
  // PID 1 of the container: the bundle's loader running node with the fastmig daemon.
  const init = await containerInit('hostA', SERVICE);
  expect(init[0]).toBe('/fastmig/bundle/node/lib/ld-linux-x86-64.so.2');
  expect(init).toContain('/fastmig/app/dist/daemon/main.js');
});

test('warm migration hostA → hostB keeps every key, the counter and an open connection; the source container is gone', async () => {
  const before = await requestCount(endpoint);
  let target = '';
  const probe = startProbe(endpoint, 5);
  const held = startHeldConnection(endpoint, 20);
  await new Promise((r) => setTimeout(r, 300));
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' }, (p) => (target = p.targetEndpoint ?? target));
  held.markMoved();
  await new Promise((r) => setTimeout(r, 500));
  const [probed, kept] = await Promise.all([probe.stop(), held.stop()]);
  // One connection opened before the freeze carried requests after the move (TCP repair in the container).
  expect(kept).toMatchObject({ connections: 1, errors: 0 });
  expect(kept.okAfterMove).toBeGreaterThan(0);
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB', mode: 'warm' });
  const order = Object.keys(report.phases);
  expect(order.indexOf('prepareTarget')).toBeLessThan(order.indexOf('checkpoint'));
  expect(probed.ok).toBeGreaterThan(0);
  // Its clients kept the one address: new connections during the freeze were held, not refused.
  expect(probed.errors).toBe(0);

  const moved = await endpointOf(SERVICE);
  expect(moved).toBe(endpoint);
  expect(target).toEqual(moved);
  expect(await verifyKeys(moved, 1000)).toBe(1000);
  expect(await requestCount(moved)).toBeGreaterThan(before);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostB', state: 'running', generation: 2 });
  expect(await containersOf('hostA', SERVICE)).toEqual([]);
  expect(await containersOf('hostB', SERVICE)).toEqual([`fastmig-hostB-${SERVICE} running`]);
  expect(serviceDirExists('hostA', SERVICE)).toBe(false);
  endpoint = moved;
});

test('a lazy migration of a container is refused before anything happens', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostA', mode: 'lazy' });
  expect(report).toMatchObject({ ok: false, outcome: 'refused' });
  expect(report.error).toMatch(/runs in a container: mode lazy needs a process-runtime service running as root \(choose --mode warm\)/);
  expect((await ops.inspect(SERVICE))[0]).toMatchObject({ host: 'hostB', state: 'running' });
});

test('cold migration hostB → hostA creates the target only after the checkpoint and keeps the state', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostA', mode: 'cold' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostB', to: 'hostA', mode: 'cold' });
  const order = Object.keys(report.phases);
  expect(order.indexOf('prepareTarget')).toBeGreaterThan(order.indexOf('checkpoint'));
  const back = await endpointOf(SERVICE);
  expect(back).toBe(endpoint);
  expect(await verifyKeys(back, 1000)).toBe(1000);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', state: 'running', generation: 3 });
  expect(await containersOf('hostB', SERVICE)).toEqual([]);
  expect(await containersOf('hostA', SERVICE)).toEqual([`fastmig-hostA-${SERVICE} running`]);
});
