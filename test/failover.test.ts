// Host failover against the real stack: a third host's agent is killed while its service keeps
// running. The daemon fences itself when its lease expires, the host monitor restores the service
// from its latest checkpoint on a healthy host, and the agent, when it comes back, removes the
// stale instance. Exactly one instance serves throughout.
import fs from 'fs';
import execa from 'execa';
import { Connection } from '@temporalio/client';
import { ops, queuePollers } from '../client';
import { loadConfig, paths } from '../common/config';
import { hostQueue, keys } from '../common/names';
import { s3Client } from '../common/s3';
import { httpText } from '../demo/probe';
import { deployKv, endpointNow, kvProcesses, removeQuietly } from './helpers';
import { addHost, dropHost, spawnAgent } from './host-agent';

const HOST = 'hostC';
const SERVICE = 'test-failover';
const cfg = loadConfig();
let agent: execa.ExecaChildProcess | null = null;
let connection: Connection;

function startAgent() {
  // A short lease so the test need not wait long; the monitor fails over after a longer silence.
  return spawnAgent(HOST, { FASTMIG_LEASE_SECONDS: '6', FASTMIG_LOG_LEVEL: 'warn' });
}
async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('condition not reached in time');
}
async function agentReady(pid: number) {
  await until(async () => (await ops.hosts()).some((h) => h.host === HOST && h.pid === pid) && (await queuePollers(connection, cfg.namespace, hostQueue(HOST))) > 0, 60_000);
}

beforeAll(async () => {
  connection = await Connection.connect({ address: cfg.temporalAddress });
  // A host outside `stack up`'s list: its own namespace and address, and a certificate of the cluster CA.
  await addHost(HOST);
  agent = startAgent();
  await agentReady(agent.pid!);
});
afterAll(async () => {
  await removeQuietly(SERVICE);
  agent?.kill('SIGKILL');
  await dropHost(HOST);
  await s3Client(cfg).removeObject(cfg.s3.bucket, keys.host(HOST));
  fs.rmSync(paths.hostDir(HOST), { recursive: true, force: true });
  await connection.close();
});

test('a lost host agent: fenced, restored elsewhere from the last checkpoint, stale instance removed on return', async () => {
  await removeQuietly(SERVICE);
  const { port, endpoint } = await deployKv(SERVICE, HOST, { checkpoint: { everySeconds: 5, keep: 2 } });
  await httpText(endpoint, 'PUT', '/kv/before', 'kept');
  await until(async () => !!(await ops.inspect(SERVICE))[0].storedCheckpoint, 30_000);
  const gen = (await ops.inspect(SERVICE))[0].generation;
  const oldPids = kvProcesses(port);
  expect(oldPids).toHaveLength(1);

  agent!.kill('SIGKILL');
  await agent;
  // the daemon stops its service once the lease is older than 6 s
  await until(() => kvProcesses(port).length === 0, 20_000);
  // the monitor declares hostC down and restores the service elsewhere
  await until(async () => {
    const v = (await ops.inspect(SERVICE))[0];
    return v.host !== HOST && v.state === 'running';
  }, 90_000);
  const view = (await ops.inspect(SERVICE))[0];
  expect(['hostA', 'hostB']).toContain(view.host);
  expect(view.generation).toBeGreaterThan(gen);
  // it answers at its new host's address now
  const moved = await endpointNow(SERVICE);
  expect(moved).not.toBe(endpoint);
  expect((await httpText(moved, 'GET', '/kv/before')).text).toBe('kept');
  expect(kvProcesses(port)).toHaveLength(1);
  expect(kvProcesses(port)).not.toEqual(oldPids);

  // the agent comes back: its stale instance is removed before it serves
  agent = startAgent();
  await agentReady(agent.pid!);
  expect(fs.existsSync(paths.serviceDir(HOST, SERVICE))).toBe(false);
  expect(kvProcesses(port)).toHaveLength(1);
  expect((await ops.inspect(SERVICE))[0].host).toBe(view.host);
}, 240_000);
