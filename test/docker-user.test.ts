// A container whose image has a non-root USER migrates (daemon/user-tree.ts inside the container):
// its daemon stays root (PID 1, `--user 0:0`), the service's tree runs as the image's USER (a uid
// the image's passwd file does not name) and, given `--user`, as that account of the image. Each
// moves hostA → hostB with every key, and every process of its tree runs as that uid on both hosts.
import fs from 'fs';
import path from 'path';
import { ops } from '../client';
import { paths } from '../common/config';
import { DEMO_IMAGES } from '../demo/images';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { fastmig, removeQuietly } from './helpers';
import { DEBIAN_IMAGE, KV_CMD, deployContainer, dockerOn, endpointOf, ensureImages } from './docker-helpers';

const USER_IMAGE = 'fastmig/kv-debian-uid1000:1';

const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(status(pid))![1]);
const kids = (p: number) => fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

/**
 * The container's PID 1 (the daemon) and the service's tree: every process below PID 1 that is in
 * a PID namespace other than the container's (the daemon's own helpers, sh, unshare and cat, are not).
 */
async function containerTree(host: string, service: string): Promise<{ daemon: number; tree: number[] }> {
  const r = await dockerOn(host, ['inspect', '--format', '{{.State.Pid}}', `fastmig-${host}-${service}`]);
  const daemon = Number(r.stdout.trim());
  const pidNs = (p: number) => fs.readlinkSync(`/proc/${p}/ns/pid`);
  const all = [daemon];
  for (let i = 0; i < all.length; i++) all.push(...kids(all[i]));
  return { daemon, tree: all.filter((p) => pidNs(p) !== pidNs(daemon)) };
}

async function runsAs(service: string, host: string, uid: number): Promise<void> {
  expect((await ops.inspect(service))[0]).toMatchObject({ host, state: 'running' });
  const { daemon, tree } = await containerTree(host, service);
  expect(uidOf(daemon)).toBe(0);
  // The init (sh) and the key-value service below it, at least.
  expect(tree.length).toBeGreaterThan(1);
  expect(tree.some((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('kv-service.js'))).toBe(true);
  expect(tree.map(uidOf)).toEqual(tree.map(() => uid));
}

beforeAll(async () => {
  await ensureImages(['debian']);
  // The demo image again, with a USER of its own, through the real CLI.
  const file = path.join(paths.imageCacheDir(), DEMO_IMAGES.debian.tar);
  const r = await fastmig(['image', 'import', USER_IMAGE, file, '--change', 'USER 1000:1000']);
  if (r.exitCode !== 0) throw new Error(`image import failed: ${r.stderr}`);
}, 300_000);

describe.each([
  { service: 'test-docker-user-image', image: USER_IMAGE, extra: [] as string[], uid: 1000 },
  { service: 'test-docker-user-spec', image: DEBIAN_IMAGE, extra: ['--user', 'nobody'], uid: 65534 },
])('$service', ({ service, image, extra, uid }) => {
  beforeAll(() => removeQuietly(service));
  afterAll(() => removeQuietly(service));

  test(`runs as uid ${uid} under a root daemon and migrates hostA → hostB with every key`, async () => {
    const endpoint = await deployContainer(service, 'hostA', image, extra, KV_CMD);
    await writeKeys(endpoint, 300);
    await runsAs(service, 'hostA', uid);
    expect(await ops.migrate({ service, to: 'hostB', mode: 'warm' })).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB' });
    const moved = await endpointOf(service);
    expect(await verifyKeys(moved, 300)).toBe(300);
    await runsAs(service, 'hostB', uid);
    // `fastmig status` shows it as any other container.
    const st = await fastmig(['status', service, '--json']);
    expect(st.exitCode).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ host: 'hostB', state: 'running', runtime: 'docker' });
  }, 180_000);
});
