// A container's files after its host's hard death: a host beyond the stack's own, with its own
// engine, runs a journal in a container (periodic checkpoints, a named volume); its agent is killed.
// The monitor restores the service on a healthy host from the last stored checkpoint, in a new
// container on another engine: the journal checks out whole, the files the service added, changed
// and deleted are as the checkpoint had them, and the volume (made on the new host) holds its data.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { Connection } from '@temporalio/client';
import { ops, queuePollers } from '../client';
import { fastmigHome, loadConfig, paths, readStackFile } from '../common/config';
import { hostQueue, keys } from '../common/names';
import { s3Client } from '../common/s3';
import { BUNDLE_NODE } from '../demo/images';
import { startEngines } from '../stack/engines';
import { stopPids } from '../stack/processes';
import { removeQuietly } from './helpers';
import { addHost, dropHost, spawnAgent } from './host-agent';
import { DEBIAN_IMAGE, dockerOn, endpointOf, ensureImages } from './docker-helpers';

const HOST = 'hostE';
const SERVICE = 'test-dfailover';
const VOLUME = 'test-dfailover-vol';
const cfg = loadConfig();
let agent: execa.ExecaChildProcess | null = null;
let connection: Connection;

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

async function get(endpoint: string, route: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${endpoint}${route}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

async function inContainer(host: string, script: string): Promise<string> {
  const r = await dockerOn(host, ['exec', `fastmig-${host}-${SERVICE}`, 'sh', '-c', script]);
  if (r.exitCode !== 0) throw new Error(`in ${SERVICE} on ${host}: ${script}: ${r.stderr}`);
  return r.stdout;
}

const engineRun = (name: string) => path.join(paths.runDir(), `${name}.pid`);

beforeAll(async () => {
  connection = await Connection.connect({ address: cfg.temporalAddress });
  await addHost(HOST);
  // Its own engine, started as the stack starts its hosts' (after them, so their bridges keep their ranges).
  await startEngines([...(readStackFile()?.hosts ?? []), HOST], fastmigHome(), () => undefined);
  // A short lease so its daemon fences soon; the monitor fails over after the cluster's silence.
  agent = spawnAgent(HOST, { FASTMIG_LEASE_SECONDS: '6', FASTMIG_LOG_LEVEL: 'warn' });
  const pid = agent.pid!;
  await until('the agent of hostE registered and polling', async () => (await ops.hosts()).some((h) => h.host === HOST && h.pid === pid) && (await queuePollers(connection, cfg.namespace, hostQueue(HOST))) > 0, 60_000);
  await removeQuietly(SERVICE);
  await ensureImages(['debian']);
  for (const h of ['hostA', 'hostB']) await dockerOn(h, ['volume', 'rm', '-f', VOLUME]);
}, 170_000);

afterAll(async () => {
  await removeQuietly(SERVICE);
  agent?.kill('SIGKILL');
  await dockerOn(HOST, ['rm', '-f', `fastmig-${HOST}-${SERVICE}`]);
  for (const h of ['hostA', 'hostB', HOST]) await dockerOn(h, ['volume', 'rm', '-f', VOLUME]);
  const pidFile = engineRun(`dockerd-${HOST}`);
  if (fs.existsSync(pidFile)) await stopPids([Number(fs.readFileSync(pidFile, 'utf8'))]);
  fs.rmSync(pidFile, { force: true });
  await dropHost(HOST);
  // Its record, and the monitor's down mark (a host that never comes back keeps it).
  for (const key of [keys.host(HOST), keys.hostDown(HOST)]) await s3Client(cfg).removeObject(cfg.s3.bucket, key).catch(() => undefined);
  fs.rmSync(paths.hostDir(HOST), { recursive: true, force: true });
  await connection.close();
});

test('a container restored elsewhere after its host died has its files and its volume as the last stored checkpoint had them', async () => {
  expect((await dockerOn(HOST, ['volume', 'create', VOLUME])).exitCode).toBe(0);
  await ops.deploy({
    host: HOST,
    spec: {
      name: SERVICE, runtime: 'docker', image: DEBIAN_IMAGE, port: 8080, volumes: [{ name: VOLUME, path: '/data' }], checkpoint: { everySeconds: 5, keep: 2 },
      command: [BUNDLE_NODE, '/app/journal-service.js', '--port', '8080', '--file', '/root/journal'],
    },
  });
  const blob = crypto.randomBytes(60_000).toString('base64');
  await inContainer(HOST, `echo added > /root/added.txt && rm /etc/motd && printf %s '${blob}' > /data/blob`);
  // Two more stored checkpoints: the second froze after the files were written.
  const stored = async () => (await ops.inspect(SERVICE))[0].storedCheckpoint;
  const seen = new Set([await stored()]);
  await until('two more stored checkpoints', async () => (seen.add(await stored()), seen.size >= 3), 60_000);
  const gen = (await ops.inspect(SERVICE))[0].generation;

  agent!.kill('SIGKILL');
  await agent;
  await until('the service restored on a healthy host', async () => {
    const v = (await ops.inspect(SERVICE))[0];
    return v.host !== HOST && v.state === 'running';
  }, 120_000);
  const view = (await ops.inspect(SERVICE))[0];
  expect(['hostA', 'hostB']).toContain(view.host);
  expect(view.generation).toBeGreaterThan(gen);
  const endpoint = await endpointOf(SERVICE);
  const verified = await get(endpoint, '/verify');
  expect(verified).toEqual({ status: 200, text: expect.stringMatching(/^\d+$/) });
  await until('the journal writes on', async () => Number((await get(endpoint, '/count')).text) > Number(verified.text), 10_000);
  const sha = crypto.createHash('sha256').update(blob).digest('hex');
  const files = await inContainer(view.host, 'cat /root/added.txt; [ -e /etc/motd ] && echo "/etc/motd is back"; sha256sum /data/blob | cut -d" " -f1');
  expect(files).toBe(`added\n${sha}`);
}, 240_000);
