// A container's own files travel with it, with no flag: what the service added, changed and deleted
// in its container's file system, and the named volumes it mounts (`--volume`). Two services that
// keep a file open move hostA → hostB warm and back cold, each checking its own files afterwards:
// a journal whose numbers run on without gap or repeat, and a SQLite database (its own
// integrity_check, rows 1..n). Each host has its own engine and volumes, as separate machines do.
import crypto from 'crypto';
import { ops } from '../client';
import { paths } from '../common/config';
import type { DaemonStatus } from '../common/schemas';
import { daemonAt } from '../agent/daemon-client';
import { BUNDLE_NODE, IMAGE_PYTHON } from '../demo/images';
import { fastmig, removeQuietly } from './helpers';
import { countAtLeast, get } from './counting-service';
import { DEBIAN_IMAGE, PYTHON_IMAGE, containersOf, dockerOn, endpointOf, ensureImages } from './docker-helpers';

const HOSTS = ['hostA', 'hostB'];

/** Runs a shell line in the service's container on `host` (as the service could have). */
async function inContainer(host: string, service: string, script: string): Promise<string> {
  const r = await dockerOn(host, ['exec', `fastmig-${host}-${service}`, 'sh', '-c', script]);
  if (r.exitCode !== 0) throw new Error(`in ${service} on ${host}: ${script}: ${r.stderr}`);
  return r.stdout;
}

/** The service migrated to `to` in `mode`, answering there, with its count running on; returns its endpoint and count on arrival. */
async function moveTo(service: string, to: string, mode: 'warm' | 'cold'): Promise<{ endpoint: string; arrived: number }> {
  const report = await ops.migrate({ service, to, mode });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', to, mode });
  expect(await containersOf(to, service)).toEqual([`fastmig-${to}-${service} running`]);
  const endpoint = await endpointOf(service);
  const arrived = Number((await get(endpoint, '/count')).text);
  // It goes on writing into the file it held open, now in another host's container.
  await countAtLeast(endpoint, arrived + 50);
  const verified = await get(endpoint, '/verify');
  expect(verified).toEqual({ status: 200, text: expect.stringMatching(/^\d+$/) });
  expect(Number(verified.text)).toBeGreaterThanOrEqual(arrived);
  return { endpoint, arrived };
}

const JOURNAL = 'test-dfiles-journal';
const VOLUME = 'test-dfiles-vol';
const SQLITE = 'test-dfiles-sqlite';
const RESTART = 'test-dfiles-restart';

beforeAll(async () => {
  await removeQuietly(JOURNAL);
  await removeQuietly(SQLITE);
  await removeQuietly(RESTART);
  for (const h of HOSTS) await dockerOn(h, ['volume', 'rm', '-f', VOLUME]);
  await ensureImages(['debian', 'python']);
}, 170_000);
afterAll(async () => {
  await removeQuietly(JOURNAL);
  await removeQuietly(SQLITE);
  await removeQuietly(RESTART);
  for (const h of HOSTS) await dockerOn(h, ['volume', 'rm', '-f', VOLUME]);
});

test('a journal in the container\'s own file system and a named volume travel warm and back cold; added, changed and deleted files with them', async () => {
  expect((await dockerOn('hostA', ['volume', 'create', VOLUME])).exitCode).toBe(0);
  const r = await fastmig(['deploy', JOURNAL, '--host', 'hostA', '--runtime', 'docker', '--image', DEBIAN_IMAGE, '--port', '8080', '--volume', `${VOLUME}:/data`,
    '--', BUNDLE_NODE, '/app/journal-service.js', '--port', '8080', '--file', '/root/journal']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  await countAtLeast(await endpointOf(JOURNAL), 100);
  // What the service does to its file system: adds, changes, deletes (an image's file, and one it made).
  const blob = crypto.randomBytes(60_000).toString('base64');
  await inContainer('hostA', JOURNAL, `echo added > /root/added.txt && echo changed >> /etc/issue && rm /etc/motd && mkdir /root/gone && echo x > /root/gone/x && rm -r /root/gone && printf %s '${blob}' > /data/blob`);
  const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
  const seen = (host: string) => inContainer(host, JOURNAL, 'cat /root/added.txt; tail -n 1 /etc/issue; for f in /etc/motd /root/gone; do [ -e $f ] && echo "$f is back"; done; sha256sum /data/blob | cut -d" " -f1');
  const expected = (blobSha: string) => `added\nchanged\n${blobSha}`;
  expect(await seen('hostA')).toBe(expected(sha(blob)));
  expect((await dockerOn('hostB', ['volume', 'inspect', VOLUME])).exitCode).not.toBe(0);

  await moveTo(JOURNAL, 'hostB', 'warm');
  // The target's engine got the volume (made there, filled from the image before the restore).
  expect(await seen('hostB')).toBe(expected(sha(blob)));

  // hostA keeps its old copy of the volume: the image's must replace it on the way back.
  await inContainer('hostB', JOURNAL, `printf more >> /data/blob && echo again >> /root/added.txt`);
  const { arrived } = await moveTo(JOURNAL, 'hostA', 'cold');
  expect(await seen('hostA')).toBe(`added\nagain\nchanged\n${sha(`${blob}more`)}`);
  expect(arrived).toBeGreaterThan(100);
}, 170_000);

test('a SQLite database in the container\'s own file system migrates warm and back cold, checked by SQLite itself', async () => {
  await ops.deploy({ host: 'hostA', spec: { name: SQLITE, runtime: 'docker', image: PYTHON_IMAGE, port: 8080, command: [IMAGE_PYTHON, '/app/sqlite-service.py', '8080', '/root/rows.db'] } });
  await countAtLeast(await endpointOf(SQLITE), 100);
  const there = await moveTo(SQLITE, 'hostB', 'warm');
  const back = await moveTo(SQLITE, 'hostA', 'cold');
  expect(back.arrived).toBeGreaterThan(there.arrived);
  expect((await ops.inspect(SQLITE))[0]).toMatchObject({ host: 'hostA', state: 'running', generation: 3 });
}, 170_000);

test('a restart policy\'s restore in the same container brings its files back to the checkpoint: the journal as it was, a file added since gone', async () => {
  const journal = [BUNDLE_NODE, '/app/journal-service.js', '--port', '8080', '--file', '/root/journal'];
  await ops.deploy({ host: 'hostA', spec: { name: RESTART, runtime: 'docker', image: DEBIAN_IMAGE, port: 8080, command: journal, restart: { rules: [{ signals: ['SIGKILL'], action: 'restore' }], backoffMs: 0 } } });
  const endpoint = await endpointOf(RESTART);
  await countAtLeast(endpoint, 100);
  const daemon = daemonAt(paths.serviceDir('hostA', RESTART));
  await daemon('POST', '/checkpoint', { checkpointId: 'files-1', leaveRunning: true });
  const after = Number((await get(endpoint, '/count')).text);
  // After the checkpoint: the journal grows on, a directory and a file appear.
  await inContainer('hostA', RESTART, 'mkdir /root/late && echo late > /root/late/file');
  await countAtLeast(endpoint, after + 200);
  const { pid } = await daemon<DaemonStatus>('GET', '/status');
  await inContainer('hostA', RESTART, `kill -9 $(cat /proc/${pid}/task/${pid}/children)`);
  const until = Date.now() + 30_000;
  for (let st = await daemon<DaemonStatus>('GET', '/status'); !(st.restarts === 1 && st.state === 'running'); st = await daemon<DaemonStatus>('GET', '/status')) {
    if (Date.now() > until) throw new Error(`not restored within 30 s: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const st = await daemon<DaemonStatus>('GET', '/status');
  expect(st.decisions.at(-1)).toMatchObject({ action: 'restore', exit: { signal: 'SIGKILL' } });
  expect(st.lastRestore?.id).toBe('files-1');
  // The journal holds exactly what the restored service remembers writing (its memory went back to
  // the checkpoint): had the lines written after it stayed, the counts would disagree.
  const verified = await get(endpoint, '/verify');
  expect(verified).toEqual({ status: 200, text: expect.stringMatching(/^\d+$/) });
  expect(await inContainer('hostA', RESTART, '[ -e /root/late ] && echo "/root/late is back"; true')).toBe('');
}, 120_000);
