// A musl image: musl libc as its only C library, a static busybox, no node. Its own CMD (a C
// service linked against musl) runs under the fastmig daemon and migrates with its state; the
// node-based key-value service runs in it too, through the mounted bundle.
import execa from 'execa';
import { ops } from '../client';
import { paths } from '../common/config';
import { httpText } from '../demo/probe';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { removeQuietly } from './helpers';
import { KV_CMD, MUSL_IMAGE, containersOf, deployContainer, endpointOf, ensureImages } from './docker-helpers';

const COUNTER = 'test-docker-musl';
const KV = 'test-docker-musl-kv';
const served = async (endpoint: string) => Number((await httpText(endpoint, 'GET', '/')).text.trim());

beforeAll(async () => {
  await Promise.all([removeQuietly(COUNTER), removeQuietly(KV)]);
  await ensureImages();
});
afterAll(() => Promise.all([removeQuietly(COUNTER), removeQuietly(KV)]));

test('the musl image has musl as its only C library, and its service is linked against it', async () => {
  const probe = [
    'test -e /lib/ld-musl-x86_64.so.1',
    '! test -e /lib/x86_64-linux-gnu/libc.so.6',
    '! test -e /usr/lib/x86_64-linux-gnu/libc.so.6',
    'grep -q ld-musl-x86_64.so.1 /app/counter',
    'echo musl-only',
  ].join(' && ');
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket('hostA')}`, 'run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', MUSL_IMAGE, '-c', probe], { reject: false });
  expect(r.stdout.trim()).toBe('musl-only');
});

test("deploy without a command runs the image's own CMD (the musl counter); a warm migration keeps its count", async () => {
  const endpoint = await deployContainer(COUNTER, 'hostA', MUSL_IMAGE);
  for (let i = 1; i <= 5; i++) expect(await served(endpoint)).toBe(i);
  const report = await ops.migrate({ service: COUNTER, to: 'hostB', mode: 'warm' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB', mode: 'warm' });
  const moved = await endpointOf(COUNTER);
  // The health check connected once without a request; the count goes on from 5.
  expect(await served(moved)).toBe(6);
  expect(await containersOf('hostA', COUNTER)).toEqual([]);
  expect(await containersOf('hostB', COUNTER)).toEqual([`fastmig-hostB-${COUNTER} running`]);
});

test('the key-value service runs in the musl image through the bundle and migrates cold', async () => {
  const endpoint = await deployContainer(KV, 'hostA', MUSL_IMAGE, [], KV_CMD);
  expect(await writeKeys(endpoint, 300)).toBe(300);
  const report = await ops.migrate({ service: KV, to: 'hostB', mode: 'cold' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', mode: 'cold' });
  expect(await verifyKeys(await endpointOf(KV), 300)).toBe(300);
  expect(await containersOf('hostA', KV)).toEqual([]);
});
