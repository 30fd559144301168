// Network partitions on the real stack (namespaces, links cut with `ip link set … down`), against
// the fencing rule of common/quorum.ts:
// - a host cut off from everyone stops its service before the host monitor restores it elsewhere,
//   and removes its stale copy once its link is back: exactly one instance at every moment;
// - the control plane cut off from every host for longer than the lease: the hosts vouch for each
//   other, their services keep answering, and nothing is failed over when it returns.
import fs from 'fs';
import net from 'net';
import path from 'path';
import execa from 'execa';
import { Client, Connection } from '@temporalio/client';
import { ops, queuePollers } from '../client';
import { fastmigHome, loadConfig, paths, readStackFile } from '../common/config';
import { hostQueue, keys } from '../common/names';
import { readJson, s3Client } from '../common/s3';
import type { DaemonStatus, HostRecord, Placement } from '../common/schemas';
import { CONTROL, listHosts, namespaceOf, vethOf } from '../stack/network';
import { tmpfsImagesRoot } from '../image/folder';
import { daemonAt } from '../agent/daemon-client';
import { httpText, splitEndpoint } from '../demo/probe';
import type { MonitorView } from '../workflows/host-monitor';
import { addHost, dropHost, spawnAgent } from './host-agent';
import { deployKv, frozen, kvProcesses, removeQuietly } from './helpers';

const cfg = loadConfig();
const home = fastmigHome();
const s3 = s3Client(cfg);
const HOST = 'hostP';
let connection: Connection;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, cond: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await cond();
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`${what}: not reached within ${timeoutMs / 1000} s`);
}
const link = (host: string, state: 'up' | 'down') => execa('ip', ['link', 'set', vethOf(home, host), state]);
const placementOf = (service: string) => readJson<Placement>(s3, cfg.s3.bucket, keys.placement(service));
const monitor = () => new Client({ connection, namespace: cfg.namespace }).workflow.getHandle('host-monitor').query<MonitorView>('hosts');

/** Whether something accepts TCP connections at address:port (500 ms). */
function answersAt(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The hosts at whose address the service's port answers, asking every host of the network. */
async function answeringHosts(port: number): Promise<string[]> {
  const hosts = (await listHosts(home)).hosts;
  const ok = await Promise.all(hosts.map((h) => answersAt(h.address, port)));
  return hosts.filter((_, i) => ok[i]).map((h) => h.host);
}

/** Alive and not frozen: it could answer. */
const alive = (pid: number) => {
  try {
    return !frozen(pid);
  } catch {
    return false;
  }
};

beforeAll(async () => {
  connection = await Connection.connect({ address: cfg.temporalAddress });
});
afterAll(async () => {
  await link(CONTROL, 'up').catch(() => undefined);
  await connection.close();
});

test('a host cut off from the cluster stops its service before it is restored elsewhere, and drops its stale copy on return', async () => {
  const SERVICE = 'test-partition';
  const dir = paths.serviceDir(HOST, SERVICE);
  await addHost(HOST);
  const spawnedAt = Date.now();
  // A short lease for this host's daemons; the cluster's (the monitor's) stays the default.
  const agent = spawnAgent(HOST, { FASTMIG_LEASE_SECONDS: '12', FASTMIG_LOG_LEVEL: 'warn' });
  try {
    await until('the new agent registered and polling', async () => (await ops.hosts()).some((h) => h.host === HOST && Date.parse(h.startedAt) >= spawnedAt - 1000) && (await queuePollers(connection, cfg.namespace, hostQueue(HOST))) > 0, 60_000);
    await removeQuietly(SERVICE);
    const kv = await deployKv(SERVICE, HOST, { checkpoint: { everySeconds: 5, keep: 2 } });
    const { port } = splitEndpoint(kv.endpoint);
    await httpText(kv.endpoint, 'PUT', '/kv/before', 'kept');
    const stored = await until('a stored checkpoint', async () => (await ops.inspect(SERVICE))[0].storedCheckpoint, 40_000, 500);
    const before = (await placementOf(SERVICE))!;
    expect(before).toMatchObject({ host: HOST, lastCheckpoint: stored });
    const oldPids = kvProcesses(port);
    expect(oldPids).toHaveLength(1);
    expect(await answeringHosts(port)).toEqual([HOST]);

    await link(HOST, 'down');
    const cutAt = Date.now();
    let moved: Placement | null = null;
    let goneAt = 0;
    try {
      // Watch the old process and the registry together: the first record of a newer generation is
      // the failover's "fence first" write, made before the new instance is prepared.
      moved = await until(
        'a failover elsewhere',
        async () => {
          if (!goneAt && !oldPids.some(alive)) goneAt = Date.now();
          const p = await placementOf(SERVICE);
          return p && p.generation > before.generation ? p : null;
        },
        120_000,
        100,
      );
      const seenAt = Date.now();
      expect(goneAt).toBeGreaterThan(0); // already gone when the failover was first seen
      expect(goneAt).toBeLessThanOrEqual(seenAt);
      // The daemon's own record of the fence, compared with the failover's first placement write.
      const st = await daemonAt(dir)<DaemonStatus>('GET', '/status');
      const fence = st.decisions.at(-1)!;
      expect(st.state).toBe('fenced');
      expect(fence.reason).toMatch(/lease expired/);
      const fencedAt = Date.parse(fence.at);
      expect(fencedAt).toBeLessThan(Date.parse(moved.updatedAt));
      process.stderr.write(`cut ${new Date(cutAt).toISOString()}: fenced after ${(fencedAt - cutAt) / 1000} s, failover's first write after ${(Date.parse(moved.updatedAt) - cutAt) / 1000} s\n`);

      // The fenced host let go of the service's own address with the service: one host carries it.
      const own = splitEndpoint(kv.endpoint).host;
      const carried = await execa('ip', ['-n', namespaceOf(home, HOST), '-4', '-o', 'addr', 'show']);
      expect(carried.stdout).not.toContain(` ${own}/32 `);
      // Restored from the last checkpoint on a host of the cluster, at the same address; one instance, asked everywhere.
      const view = await until('running elsewhere, its record complete', async () => {
        const v = (await ops.inspect(SERVICE))[0];
        return v.host !== HOST && v.state === 'running' && v.endpoint === kv.endpoint ? v : null;
      }, 120_000, 500);
      expect(['hostA', 'hostB']).toContain(view.host);
      expect((await httpText(view.endpoint!, 'GET', '/kv/before')).text).toBe('kept');
      expect(await answeringHosts(port)).toEqual([view.host]);
      expect(kvProcesses(port)).toHaveLength(1);
      expect(kvProcesses(port)).not.toEqual(oldPids);
    } finally {
      await link(HOST, 'up');
    }
    // Back on the network: its agent hears the cluster again and removes the fenced copy.
    await until('the stale copy removed', () => !fs.existsSync(dir), 60_000, 500);
    const after = (await ops.inspect(SERVICE))[0];
    expect(after.host).toBe(moved!.host);
    expect(await answeringHosts(port)).toEqual([after.host]);
    expect(kvProcesses(port)).toHaveLength(1);
    await removeQuietly(SERVICE);
  } finally {
    await link(HOST, 'up').catch(() => undefined);
    await removeQuietly(SERVICE);
    agent.kill('SIGKILL');
    await dropHost(HOST);
    await s3.removeObject(cfg.s3.bucket, keys.host(HOST));
    await s3.removeObject(cfg.s3.bucket, keys.hostDown(HOST));
    for (const d of [paths.hostDir(HOST), paths.dockerDir(HOST), path.join(tmpfsImagesRoot(home), HOST)]) fs.rmSync(d, { recursive: true, force: true });
  }
}, 360_000);

test('the control plane cut off for longer than the lease: services keep answering, nothing is failed over after', async () => {
  const stackHosts = readStackFile(home)!.hosts;
  // The hosts must vote among themselves only: no host left over in the registry, and every agent
  // told so by a ping since.
  await until('the registry lists the stack hosts only', async () => {
    const names = (await ops.hosts()).map((h: HostRecord) => h.host).sort();
    return JSON.stringify(names) === JSON.stringify([...stackHosts].sort());
  }, 30_000);
  await sleep(12_000);
  const services = stackHosts.map((h) => ({ host: h, name: `test-cp-${h.toLowerCase()}` }));
  for (const s of services) await removeQuietly(s.name);
  const deployed = [];
  for (const s of services) deployed.push({ ...s, endpoint: (await deployKv(s.name, s.host)).endpoint, generation: (await placementOf(s.name))!.generation });
  for (const d of deployed) await httpText(d.endpoint, 'PUT', '/kv/k', d.host);
  const failoversBefore = (await monitor()).failovers.length;
  const lease = cfg.leaseSeconds;

  await link(CONTROL, 'down');
  const cutAt = Date.now();
  const misses: string[] = [];
  try {
    while (Date.now() - cutAt < (lease + 15) * 1000) {
      for (const d of deployed) {
        const r = await httpText(d.endpoint, 'GET', '/kv/k').catch((e: Error) => ({ status: 0, text: e.message }));
        if (r.status !== 200 || r.text !== d.host) misses.push(`${((Date.now() - cutAt) / 1000).toFixed(1)} s ${d.name}: ${r.status} ${r.text}`);
      }
      await sleep(1000);
    }
  } finally {
    await link(CONTROL, 'up');
  }
  expect(misses).toEqual([]);
  // Back: for longer than the failover time, nothing moves and everything answers.
  const backAt = Date.now();
  while (Date.now() - backAt < (cfg.failoverAfterSeconds + 10) * 1000) {
    for (const d of deployed) {
      expect((await httpText(d.endpoint, 'GET', '/kv/k')).text).toBe(d.host);
      expect(await placementOf(d.name)).toMatchObject({ host: d.host, generation: d.generation });
    }
    await sleep(2000);
  }
  const m = await monitor();
  expect(m.down).toEqual([]);
  expect(m.failovers.slice(failoversBefore)).toEqual([]);
  for (const d of deployed) {
    const v = (await ops.inspect(d.name))[0];
    expect(v).toMatchObject({ host: d.host, state: 'running', generation: d.generation });
    expect(v.lastDecision?.reason ?? '').not.toMatch(/lease expired/);
    await removeQuietly(d.name);
  }
}, 240_000);
