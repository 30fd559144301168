// Attacks through the control plane, aimed at a running service: bad workflow inputs, a host that
// does not share the cluster key, stale or foreign requests to a host agent, and secrets in
// Temporal history. After each, the service still runs where it ran, untouched and answering, and
// no workflow was started but the attacked one.
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
import { deployKv, endpointNow, kvProcesses, removeQuietly } from '../helpers';
import { addHost, dropHost, spawnAgent } from '../host-agent';
import { target, type Target } from './afterwards';
import { tryBadInput } from './attempts';

const cfg = loadConfig();
const SERVICE = 'sec-plane';
let port: number;
let endpoint: string;
let svc: Target;
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: cfg.temporalAddress });
  client = new Client({ connection, namespace: cfg.namespace });
  await removeQuietly(SERVICE);
  ({ port, endpoint } = await deployKv(SERVICE, 'hostA'));
  await writeKeys(endpoint, 300);
  svc = await target(SERVICE);
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

const running = { service: SERVICE, from: 'hostA', candidates: ['hostB'] };
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
  ['deploy: traversal in the service name', 'deployService', { host: 'hostA', spec: { name: '../../sec-escape-deploy', command: ['sleep', '1'] } }, /name/],
  ['remove: uppercase and slash in the name', 'removeService', { service: 'Evil/x' }, /service:/],
  ['remove: the running service with an unknown field', 'removeService', { service: SERVICE, force: true }, /Unrecognized key/],
  ['evacuate: traversal in the host name', 'evacuateHost', { host: '../hostA' }, /host:/],
  ['evacuate: the service\'s host, parallel out of range', 'evacuateHost', { host: 'hostA', parallel: 1000 }, /parallel/],
  ['failover: the running service with an unknown field', 'failoverService', { ...running, force: true }, /Unrecognized key/],
  ['failover: traversal in the lost host', 'failoverService', { ...running, from: '../hostA' }, /from:/],
  ['scheduled migration: an unknown field', 'scheduledMigration', { service: SERVICE, to: 'hostB', mode: 'warm', force: true }, /Unrecognized key/],
  ['image distribution: a key outside the uploads', 'distributeImage', { kind: 'load', key: '../secrets/secrets.env' }, /key/],
  ['image distribution: an unknown kind', 'distributeImage', { kind: 'pull', key: 'uploads/x.tar' }, /kind/],
  ['logs: traversal in the service name', 'serviceLogs', { service: '../../secrets' }, /service:/],
  ['inspect: traversal in the service name', 'inspectServices', { service: '../registry/hosts/hostA' }, /service:/],
];
test.each(badWorkflowInputs)('workflow input, %s → refused, nothing changed', async (name, type, input, pattern) => {
  const check = async () => ((await ops.inspect()).some((v) => v.service === 'sx') ? 'a service sx exists' : null);
  const aimedAt = ['hostA', 'hostB'].map((h) => path.resolve(paths.hostDir(h), '../../sec-escape-deploy'));
  expect(await tryBadInput(`workflow: ${name}`, () => workflowRefused(type, input, pattern), { targets: [svc], workflows: /^sec-[A-Za-z]+-\d+$/, check, aimedAt })).toBe(true);
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
  }, { targets: [svc] })).toBe(true);
  fs.rmSync(foreign, { recursive: true, force: true });
});

test('a host agent refuses a service name that climbs out of its host folder: the secrets stay', async () => {
  const { MockActivityEnvironment } = await import('@temporalio/testing');
  const acts = await hostAActivities();
  const secrets = paths.secretsFile();
  const before = fs.readFileSync(secrets, 'utf8');
  for (const [what, run] of [
    ['remove', () => acts.removeService({ service: '../../secrets', generation: 1 })],
    ['stop', () => acts.stopService({ service: '../../secrets', generation: 1 })],
  ] as const) {
    expect(await tryBadInput(`agent: ${what} of the secrets folder by a traversal name`, async () => {
      try {
        await new MockActivityEnvironment().run(run as () => Promise<unknown>);
        return false;
      } catch (err) {
        return fs.existsSync(secrets) && fs.readFileSync(secrets, 'utf8') === before ? true : `secrets changed after: ${(err as Error).message}`;
      }
    }, { targets: [svc] })).toBe(true);
  }
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
    }, { targets: [svc], aimedAt: [serviceFolder(paths.serviceDir('hostA', SERVICE)).image('stale1')] })).toBe(true);
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
    // The migration runs (that is the attack's path) and rolls back: the service runs again on its
    // source, so its process may be another; everything else is as it was.
    const rolledBack = async () => {
      const v = (await ops.inspect(SERVICE))[0];
      if (v?.host !== 'hostA' || v.state !== 'running' || (await endpointNow(SERVICE)) !== endpoint) return `the service is ${JSON.stringify(v)}`;
      if ((await verifyKeys(endpoint, 300)) !== 300) return 'keys were lost';
      return fs.existsSync(paths.serviceDir(host, SERVICE)) ? `a copy was left on ${host}` : null;
    };
    expect(await tryBadInput('image signed by another cluster, end to end', async () => {
      const report = await ops.migrate({ service: SERVICE, to: host });
      return report.outcome === 'rolled-back' && /signature/.test(report.error ?? '') ? true : `the migration ended ${report.outcome}: ${report.error}`;
    }, { workflows: new RegExp(`^migrate-${SERVICE}$`), check: rolledBack })).toBe(true);
    svc = await target(SERVICE);
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
  svc = await target(SERVICE);
});

test('secret fields are redacted in structured logs', () => {
  const lines: string[] = [];
  const log = createLogger({ role: 'test' }, { write: (s: string) => lines.push(s) } as any);
  log.error({ token: 'tok-123', s3: { secretKey: 'sk-456', accessKey: 'ak-789' }, headers: { authorization: 'Bearer x' } }, 'hello');
  const out = lines.join('');
  expect(out).toContain('hello');
  for (const s of ['tok-123', 'sk-456', 'ak-789', 'Bearer x']) expect(out).not.toContain(s);
});
