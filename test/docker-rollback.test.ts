// A container restore that fails on the target rolls back: the source container restores the
// service from its own image and keeps serving on its endpoint; no container is left on the target.
import execa from 'execa';
import { ops } from '../client';
import { paths } from '../common/config';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { removeQuietly, serviceDirExists } from './helpers';
import { KV_CMD, MUSL_IMAGE, containersOf, deployContainer, endpointOf, ensureImages } from './docker-helpers';

const SERVICE = 'test-docker-rollback';
let endpoint: string;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await ensureImages();
  // The pre-restore hook (run by the daemon inside the container) refuses on hostB.
  endpoint = await deployContainer(SERVICE, 'hostA', MUSL_IMAGE, ['--pre-restore', 'test "$FASTMIG_HOST" != hostB'], KV_CMD);
  await writeKeys(endpoint, 400);
});
afterAll(() => removeQuietly(SERVICE));

test('failed restore on hostB → rolled back, the source container answers on its endpoint with its state', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' });
  expect(report).toMatchObject({ ok: false, outcome: 'rolled-back', from: 'hostA', to: 'hostB' });
  expect(report.error).toMatch(/preRestore hook failed on hostB/);
  expect(await endpointOf(SERVICE)).toBe(endpoint);
  expect(await verifyKeys(endpoint, 400)).toBe(400);
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', state: 'running', generation: 1 });
  expect(await containersOf('hostA', SERVICE)).toEqual([`fastmig-hostA-${SERVICE} running`]);
  expect(await containersOf('hostB', SERVICE)).toEqual([]);
  expect(serviceDirExists('hostB', SERVICE)).toBe(false);
});

test('a target whose engine lacks the image is refused before the freeze; the source keeps serving', async () => {
  const name = 'test-docker-noimage';
  const onlyA = 'fastmig/only-on-hosta:1';
  const engineA = ['-H', `unix://${paths.dockerSocket('hostA')}`];
  await removeQuietly(name);
  await execa('docker', [...engineA, 'tag', MUSL_IMAGE, onlyA]);
  try {
    const p = await deployContainer(name, 'hostA', onlyA, [], KV_CMD);
    await writeKeys(p, 50);
    const report = await ops.migrate({ service: name, to: 'hostB', mode: 'warm' });
    expect(report).toMatchObject({ ok: false, outcome: 'failed', from: 'hostA', to: 'hostB' });
    expect(report.error).toMatch(/image fastmig\/only-on-hosta:1 is not on hostB/);
    expect(report.phases.checkpoint).toBeUndefined();
    expect(await verifyKeys(p, 50)).toBe(50);
    expect(await containersOf('hostB', name)).toEqual([]);
  } finally {
    await removeQuietly(name);
    await execa('docker', [...engineA, 'rmi', onlyA], { reject: false });
  }
});
