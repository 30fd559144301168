// The demo key-value service in a Debian (glibc) container: hostA → hostB warm and back cold,
// every key and the counter intact, the source container gone, reached at its host's address.
import { ops } from '../client';
import { startProbe } from '../demo/probe';
import { requestCount, verifyKeys, writeKeys } from '../demo/kv-client';
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

test('deploy runs the daemon as PID 1 of a container of the unmodified image, published at its host\'s address', async () => {
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', runtime: 'docker', image: DEBIAN_IMAGE, state: 'running', endpoint });
  expect(endpoint.startsWith(`${addressOf('hostA')}:`)).toBe(true);
  expect(await containersOf('hostA', SERVICE)).toEqual([`fastmig-hostA-${SERVICE} running`]);
  expect(await containersOf('hostB', SERVICE)).toEqual([]);
  // PID 1 of the container: the bundle's loader running node with the fastmig daemon.
  const init = await containerInit('hostA', SERVICE);
  expect(init[0]).toBe('/fastmig/bundle/node/lib/ld-linux-x86-64.so.2');
  expect(init).toContain('/fastmig/app/dist/daemon/main.js');
});

test('warm migration hostA → hostB keeps every key and the counter; the source container is gone', async () => {
  const before = await requestCount(endpoint);
  let target = '';
  const probe = startProbe(() => (target ? [endpoint, target] : [endpoint]), 5);
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' }, (p) => (target = p.targetEndpoint ?? target));
  const probed = await probe.stop();
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB', mode: 'warm' });
  const order = Object.keys(report.phases);
  expect(order.indexOf('prepareTarget')).toBeLessThan(order.indexOf('checkpoint'));
  expect(probed.ok).toBeGreaterThan(0);

  const moved = await endpointOf(SERVICE);
  expect(moved.startsWith(`${addressOf('hostB')}:`)).toBe(true);
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

test('cold migration hostB → hostA creates the target only after the checkpoint and keeps the state', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostA', mode: 'cold' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostB', to: 'hostA', mode: 'cold' });
  const order = Object.keys(report.phases);
  expect(order.indexOf('prepareTarget')).toBeGreaterThan(order.indexOf('checkpoint'));
  const back = await endpointOf(SERVICE);
  expect(back.startsWith(`${addressOf('hostA')}:`)).toBe(true);
  expect(await verifyKeys(back, 1000)).toBe(1000);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', state: 'running', generation: 3 });
  expect(await containersOf('hostB', SERVICE)).toEqual([]);
  expect(await containersOf('hostA', SERVICE)).toEqual([`fastmig-hostA-${SERVICE} running`]);
});
