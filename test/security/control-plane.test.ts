// Attacks through the control plane: bad workflow inputs and CLI input, a host that does not share
// the cluster key, stale or foreign requests to a host agent, and secrets in Temporal history.
import fs from 'fs';
import path from 'path';
import { Connection, Client, WorkflowFailedError } from '@temporalio/client';
import { loadConfig, paths, readStackFile } from '../../common/config';
import { serviceFolder } from '../../common/service-folder';
import { s3Client } from '../../common/s3';
import { keys, ORCHESTRATOR_QUEUE, hostQueue } from '../../common/names';
import { newKeyHex } from '../../common/keys';
import { ops, queuePollers } from '../../client';
import { createLogger } from '../../common/log';
import { verifyKeys, writeKeys } from '../../demo/kv-client';
import { deployKv, endpointNow, fastmig, kvProcesses, removeQuietly } from '../helpers';
import { addHost, dropHost, spawnAgent } from '../host-agent';
import { tryBadInput } from './attempts';

const cfg = loadConfig();
const SERVICE = 'sec-plane';
let port: number;
let endpoint: string;
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: cfg.temporalAddress });
  client = new Client({ connection, namespace: cfg.namespace });
  await removeQuietly(SERVICE);
  ({ port, endpoint } = await deployKv(SERVICE, 'hostA'));
  await writeKeys(endpoint, 300);
});
afterAll(async () => {
  await removeQuietly(SERVICE);
  await connection.close();
});

/** Activities of hostA's agent built in this process: they act on hostA's folders, at hostA's address. */
async function hostAActivities() {
  const { createServiceActivities } = await import('../../activities/service');
  const address = readStackFile()?.hostAddresses?.hostA;
  if (!address) throw new Error('the stack file names no address for hostA');
  return createServiceActivities({ host: 'hostA', home: cfg.home, criuPath: cfg.criuPath, address });
}

async function workflowRefused(type: string, input: unknown, pattern: RegExp): Promise<boolean> {
  try {
    await client.workflow.execute(type, { taskQueue: ORCHESTRATOR_QUEUE, workflowId: `sec-${type}-${Date.now()}`, args: [input] });
    return false;
  } catch (err) {
    let e: any = err instanceof WorkflowFailedError ? err.cause : err;
    return pattern.test(String(e?.message)) && e?.type === 'BadRequest';
  }
}

const badWorkflowInputs: [string, string, unknown, RegExp][] = [
  ['migrate: unknown field', 'migrateService', { service: SERVICE, to: 'hostB', mode: 'warm', force: true }, /Unrecognized key/],
  ['migrate: host of the wrong type', 'migrateService', { service: SERVICE, to: 42 }, /to:/],
  ['migrate: traversal in the service name', 'migrateService', { service: '../registry/hosts/hostA', to: 'hostB' }, /service:/],
  ['migrate: traversal in the host name', 'migrateService', { service: SERVICE, to: '../hostA' }, /to:/],
  ['migrate: no input at all', 'migrateService', null, /invalid/],
  ['deploy: relative cwd', 'deployService', { host: 'hostA', spec: { name: 'sx', command: ['sleep', '1'], cwd: 'tmp' } }, /cwd/],
  ['deploy: empty command', 'deployService', { host: 'hostA', spec: { name: 'sx', command: [] } }, /command/],
  ['deploy: a name of 41 characters', 'deployService', { host: 'hostA', spec: { name: 'a'.repeat(41), command: ['sleep', '1'] } }, /name/],
  ['deploy: an unknown spec field', 'deployService', { host: 'hostA', spec: { name: 'sx', command: ['sleep', '1'], privileged: true } }, /Unrecognized key/],
  ['deploy: a port out of range', 'deployService', { host: 'hostA', spec: { name: 'sx', command: ['sleep', '1'], port: 0 } }, /port/],
  ['remove: uppercase and slash in the name', 'removeService', { service: 'Evil/x' }, /service:/],
];
test.each(badWorkflowInputs)('workflow input, %s → refused, nothing changed', async (name, type, input, pattern) => {
  expect(await tryBadInput(`workflow: ${name}`, () => workflowRefused(type, input, pattern))).toBe(true);
  expect((await ops.inspect()).map((v) => v.service)).not.toContain('sx');
});

const badCli: [string, string[], RegExp][] = [
  ['--env without =', ['deploy', 'sx', '--host', 'hostA', '--env', 'NOEQUALS', '--', 'sleep', '1'], /KEY=VALUE/],
  ['--port 0', ['deploy', 'sx', '--host', 'hostA', '--port', '0', '--', 'sleep', '1'], /port/],
  ['a service name with a space', ['deploy', 'a b', '--host', 'hostA', '--', 'sleep', '1'], /service name/],
  ['--lines out of range', ['logs', SERVICE, '--lines', '999999'], /lines/],
];
test.each(badCli)('CLI, %s → one-line error, non-zero exit', async (name, args, pattern) => {
  expect(await tryBadInput(`cli: ${name}`, async () => {
    const r = await fastmig(args);
    return r.exitCode !== 0 && pattern.test(r.stderr) && !/\n\s+at /.test(r.stderr);
  })).toBe(true);
});

test('a host agent refuses to remove a folder it did not create', async () => {
  const foreign = paths.serviceDir('hostA', 'foreign-thing');
  fs.mkdirSync(foreign, { recursive: true });
  fs.writeFileSync(path.join(foreign, 'precious'), 'keep me');
  const { MockActivityEnvironment } = await import('@temporalio/testing');
  const acts = await hostAActivities();
  expect(await tryBadInput('agent: remove a foreign folder', async () => {
    try {
      await new MockActivityEnvironment().run(acts.removeService, { service: 'foreign-thing', generation: 1 });
      return false;
    } catch (err) {
      return /not created by fastmig/.test((err as Error).message) && fs.readFileSync(path.join(foreign, 'precious'), 'utf8') === 'keep me';
    }
  })).toBe(true);
  fs.rmSync(foreign, { recursive: true, force: true });
});

test('a host agent refuses a stale generation: the running service is not touched', async () => {
  const { MockActivityEnvironment } = await import('@temporalio/testing');
  const acts = await hostAActivities();
  for (const [what, run] of [
    ['remove', () => acts.removeService({ service: SERVICE, generation: 7 })],
    ['checkpoint', () => acts.checkpointService({ service: SERVICE, generation: 7, checkpointId: 'stale1' })],
    ['stop', () => acts.stopService({ service: SERVICE, generation: 7 })],
  ] as const) {
    expect(await tryBadInput(`agent: ${what} with a stale generation`, async () => {
      try {
        await new MockActivityEnvironment().run(run as () => Promise<unknown>);
        return false;
      } catch (err) {
        return /generation 7/.test((err as Error).message) && kvProcesses(port).length === 1;
      }
    })).toBe(true);
  }
  expect(await verifyKeys(endpoint, 300)).toBe(300);
});

test('a target host that does not share the cluster key refuses the image; the migration rolls back', async () => {
  const host = 'hostRogue';
  // A host of its own on the stack's network; TLS admits it (a certificate of the cluster CA): only the cluster key differs.
  await addHost(host);
  const agent = spawnAgent(host, { FASTMIG_CLUSTER_KEY: newKeyHex(), FASTMIG_LOG_LEVEL: 'warn' });
  try {
    // Ready when it has registered itself and polls (poller info of an earlier agent may linger).
    const deadline = Date.now() + 60_000;
    const registered = async () => (await ops.hosts()).some((h) => h.host === host && h.pid === agent.pid);
    while (!((await registered()) && (await queuePollers(connection, cfg.namespace, hostQueue(host))) > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    let report: Awaited<ReturnType<typeof ops.migrate>> | undefined;
    expect(await tryBadInput('image signed by another cluster, end to end', async () => {
      report = await ops.migrate({ service: SERVICE, to: host });
      return report.outcome === 'rolled-back' && /signature/.test(report.error ?? '');
    })).toBe(true);
    expect((await ops.inspect(SERVICE))[0]).toMatchObject({ host: 'hostA', state: 'running' });
    expect(await endpointNow(SERVICE)).toBe(endpoint);
    expect(await verifyKeys(endpoint, 300)).toBe(300);
    expect(fs.existsSync(paths.serviceDir(host, SERVICE))).toBe(false);
  } finally {
    agent.kill('SIGTERM');
    await agent;
    await dropHost(host);
    await s3Client(cfg).removeObject(cfg.s3.bucket, keys.host(host));
    fs.rmSync(paths.hostDir(host), { recursive: true, force: true });
  }
});

test('secrets never appear in a migration\'s Temporal history', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostB' });
  expect(report.ok).toBe(true);
  const history = await client.workflow.getHandle(report.workflowId).fetchHistory();
  const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
  const token = fs.readFileSync(serviceFolder(paths.serviceDir('hostB', SERVICE)).token, 'utf8').trim();
  expect(text).toContain(SERVICE); // the history was really read
  for (const secret of [cfg.s3.secretKey, cfg.s3.accessKey, token, cfg.clusterKey!.toString('hex'), cfg.imageKey!.toString('hex')]) {
    expect(text).not.toContain(secret);
  }
  await ops.migrate({ service: SERVICE, to: 'hostA' });
});

test('secret fields are redacted in structured logs', () => {
  const lines: string[] = [];
  const log = createLogger({ role: 'test' }, { write: (s: string) => lines.push(s) } as any);
  log.error({ token: 'tok-123', s3: { secretKey: 'sk-456', accessKey: 'ak-789' }, headers: { authorization: 'Bearer x' } }, 'hello');
  const out = lines.join('');
  expect(out).toContain('hello');
  for (const s of ['tok-123', 'sk-456', 'ak-789', 'Bearer x']) expect(out).not.toContain(s);
});
