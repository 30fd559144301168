// Host failover against the real stack: a third host's agent is killed while its service keeps
// running. The daemon fences itself when its lease expires, the host monitor restores the service
// from its latest checkpoint on a healthy host, and the agent, when it comes back, removes the
// stale instance. Exactly one instance serves throughout. A second service keeps a journal file
// (`--keep`): it comes back with the file as the last stored checkpoint had it.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { Connection } from '@temporalio/client';
import { ops, queuePollers } from '../client';
import { REPO_ROOT, fastmigHome, loadConfig, paths } from '../common/config';
import { freePort } from '../demo/probe';
import { hostQueue, keys } from '../common/names';
import { s3Client } from '../common/s3';
import { httpText } from '../demo/probe';
import { deployKv, endpointNow, kvProcesses, removeQuietly } from './helpers';
import { addHost, dropHost, spawnAgent } from './host-agent';

const HOST = 'hostC';
const SERVICE = 'test-failover';
const JOURNAL = 'test-failover-journal';
const JOURNAL_SERVICE = path.join(REPO_ROOT, 'dist', 'demo', 'journal-service.js');
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
  await removeQuietly(JOURNAL);
  for (const h of ['hostA', 'hostB', HOST]) fs.rmSync(path.join(fastmigHome(), 'srv', h, JOURNAL), { recursive: true, force: true });
  agent?.kill('SIGKILL');
  await dropHost(HOST);
  await s3Client(cfg).removeObject(cfg.s3.bucket, keys.host(HOST));
  fs.rmSync(paths.hostDir(HOST), { recursive: true, force: true });
  await connection.close();
});

test('a lost host agent: fenced, restored elsewhere from the last checkpoint (kept files too), stale instance removed on return', async () => {
  await removeQuietly(SERVICE);
  await removeQuietly(JOURNAL);
  const { port, endpoint } = await deployKv(SERVICE, HOST, { checkpoint: { everySeconds: 5, keep: 2 } });
  await httpText(endpoint, 'PUT', '/kv/before', 'kept');
  fs.mkdirSync(path.join(fastmigHome(), 'srv', HOST, JOURNAL), { recursive: true });
  const journalPort = await freePort();
  const journalFile = `/srv/${JOURNAL}/journal`;
  const { endpoint: journalAt } = await ops.deploy({
    host: HOST,
    spec: { name: JOURNAL, command: [process.execPath, JOURNAL_SERVICE, '--port', String(journalPort), '--file', journalFile], cwd: '/', port: journalPort, keep: [`/srv/${JOURNAL}`], checkpoint: { everySeconds: 5, keep: 2 } },
  });
  await until(async () => !!(await ops.inspect(SERVICE))[0].storedCheckpoint && !!(await ops.inspect(JOURNAL))[0].storedCheckpoint, 30_000);
  const writtenBefore = Number((await httpText(journalAt!, 'GET', '/count')).text);
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
  // it answers at its own address still, now carried by its new host
  const moved = await endpointNow(SERVICE);
  expect(moved).toBe(endpoint);
  expect((await httpText(moved, 'GET', '/kv/before')).text).toBe('kept');
  expect(kvProcesses(port)).toHaveLength(1);
  expect(kvProcesses(port)).not.toEqual(oldPids);
  // The journal came back on a host that never had its file, as the stored checkpoint held it:
  // the service's own check finds its numbers whole, and it writes on.
  await until(async () => {
    const v = (await ops.inspect(JOURNAL))[0];
    return v.host !== HOST && v.state === 'running';
  }, 90_000);
  const journalNow = await endpointNow(JOURNAL);
  const verified = await httpText(journalNow, 'GET', '/verify');
  expect(verified.status).toBe(200);
  expect(Number(verified.text)).toBeGreaterThan(0);
  await until(async () => Number((await httpText(journalNow, 'GET', '/count')).text) > Math.max(writtenBefore, Number(verified.text)), 10_000);

  // the agent comes back: its stale instance is removed before it serves
  agent = startAgent();
  await agentReady(agent.pid!);
  expect(fs.existsSync(paths.serviceDir(HOST, SERVICE))).toBe(false);
  expect(kvProcesses(port)).toHaveLength(1);
  expect((await ops.inspect(SERVICE))[0].host).toBe(view.host);
}, 240_000);
