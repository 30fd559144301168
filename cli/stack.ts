// `fastmig stack up|down|status`: installs (via scripts/install-tools.sh) and starts the whole
// stack on this machine: Temporal dev server (SQLite file), an S3 server, the orchestrator worker
// and one host agent per host. Every step reuses what already runs.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { spawn, execFileSync } from 'child_process';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Client as S3 } from 'minio';
import { REPO_ROOT, StackFile, fastmigHome, paths, readEnvFile, readStackFile, loadConfig } from '../common/config';
import { isAlive, pidAlive } from '../common/pid-file';
import { HostName, parseOrThrow } from '../common/schemas';
import { hostQueue, ORCHESTRATOR_QUEUE } from '../common/names';
import { tcpConnects } from '../activities/probe';
import { serviceFolder } from '../common/service-folder';
import { queuePollers } from './temporal';
import { newKeyHex } from '../common/integrity';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { engineAnswers, removeBridge, startEngine } from './engines';

const TEMPORAL_PORT = Number(process.env.FASTMIG_TEMPORAL_PORT || 7233);
const UI_PORT = Number(process.env.FASTMIG_UI_PORT || 8233);
const S3_PORT = Number(process.env.FASTMIG_S3_PORT || 7070);
const API_PORT = Number(process.env.FASTMIG_API_PORT || 7080);
/** The orchestrator serves metrics here; host agent i on the ports after it. */
const METRICS_PORT = Number(process.env.FASTMIG_METRICS_PORT || 9464);

type Say = (line: string) => void;

function startDetached(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const home = fastmigHome();
  fs.mkdirSync(paths.logDir(home), { recursive: true });
  fs.mkdirSync(paths.runDir(home), { recursive: true });
  const out = fs.openSync(path.join(paths.logDir(home), `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, FASTMIG_HOME: home, ...env } });
  child.unref();
  fs.closeSync(out);
  fs.writeFileSync(path.join(paths.runDir(home), `${name}.pid`), String(child.pid));
  return child.pid!;
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number, logName?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const hint = logName ? ` (see ${path.join(paths.logDir(), `${logName}.log`)})` : '';
  throw new Error(`${what} did not come up within ${Math.round(timeoutMs / 1000)} s${hint}`);
}

/** Generates what is missing of the cluster's secrets (S3 credentials, signing and image keys). */
function ensureSecrets(): Record<string, string> {
  const file = paths.secretsFile();
  const have = readEnvFile(file);
  const wanted: Record<string, () => string> = {
    FASTMIG_S3_ACCESS_KEY: () => `fm${crypto.randomBytes(8).toString('hex')}`,
    FASTMIG_S3_SECRET_KEY: () => crypto.randomBytes(24).toString('base64url'),
    FASTMIG_CLUSTER_KEY: newKeyHex,
    FASTMIG_IMAGE_KEY: newKeyHex,
    FASTMIG_API_TOKEN: newKeyHex,
  };
  const missing = Object.keys(wanted).filter((k) => !have[k]);
  if (!missing.length) return have;
  for (const k of missing) have[k] = wanted[k]();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, Object.entries(have).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return have;
}

export async function stackUp(hostsArg: string[] | undefined, say: Say): Promise<StackFile> {
  const home = fastmigHome();
  const previous = readStackFile(home);
  const hosts = (hostsArg ?? previous?.hosts ?? ['hostA', 'hostB']).map((h) => parseOrThrow(HostName, h, 'host name'));
  const tools = paths.toolsDir();
  say('checking tools (Temporal CLI, S3 server, CRIU)…');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const secrets = ensureSecrets();

  const stack: StackFile = {
    temporalAddress: `127.0.0.1:${TEMPORAL_PORT}`,
    namespace: 'default',
    temporalBinary: path.join(tools, 'bin', 'temporal'),
    uiUrl: `http://127.0.0.1:${UI_PORT}`,
    s3Endpoint: `http://127.0.0.1:${S3_PORT}`,
    s3Bucket: 'fastmig',
    hosts,
    criuPath: process.env.FASTMIG_CRIU || path.join(tools, 'criu', 'criu'),
    apiUrl: `http://127.0.0.1:${API_PORT}`,
    metrics: {
      orchestrator: `http://127.0.0.1:${METRICS_PORT}/metrics`,
      ...Object.fromEntries(hosts.map((h, i) => [h, `http://127.0.0.1:${METRICS_PORT + 1 + i}/metrics`])),
      api: `http://127.0.0.1:${API_PORT}/metrics`,
    },
  };
  fs.writeFileSync(paths.stackFile(home), JSON.stringify(stack, null, 2));

  if (await tcpConnects(TEMPORAL_PORT)) say(`Temporal already answers on ${stack.temporalAddress}`);
  else {
    say(`starting Temporal dev server on ${stack.temporalAddress} (UI ${stack.uiUrl})…`);
    fs.mkdirSync(path.join(home, 'temporal'), { recursive: true });
    startDetached('temporal', stack.temporalBinary, [
      'server', 'start-dev',
      '--db-filename', path.join(home, 'temporal', 'temporal.db'),
      '--ip', '127.0.0.1', '--port', String(TEMPORAL_PORT), '--ui-port', String(UI_PORT),
      '--namespace', stack.namespace, '--log-level', 'warn',
    ], {});
  }
  await waitUntil('Temporal', async () => {
    try {
      const c = await Connection.connect({ address: stack.temporalAddress, connectTimeout: 1000 });
      await c.workflowService.describeNamespace({ namespace: stack.namespace });
      await c.close();
      return true;
    } catch {
      return false;
    }
  }, 60_000, 'temporal');
  await ensureSearchAttributes(stack);

  if (await tcpConnects(S3_PORT)) say(`S3 server already answers on ${stack.s3Endpoint}`);
  else {
    say(`starting S3 server (versitygw, posix back end) on ${stack.s3Endpoint}…`);
    const data = path.join(home, 's3');
    fs.mkdirSync(data, { recursive: true });
    startDetached('s3', path.join(tools, 'bin', 'versitygw'), ['--port', `127.0.0.1:${S3_PORT}`, 'posix', data], {
      ROOT_ACCESS_KEY_ID: secrets.FASTMIG_S3_ACCESS_KEY,
      ROOT_SECRET_ACCESS_KEY: secrets.FASTMIG_S3_SECRET_KEY,
    });
  }
  const cfg = loadConfig();
  const s3 = new S3({ endPoint: cfg.s3.endPoint, port: cfg.s3.port, useSSL: false, accessKey: cfg.s3.accessKey, secretKey: cfg.s3.secretKey, region: 'us-east-1' });
  await waitUntil('S3 server', async () => {
    try {
      if (!(await s3.bucketExists(stack.s3Bucket))) await s3.makeBucket(stack.s3Bucket, 'us-east-1');
      return true;
    } catch {
      return false;
    }
  }, 30_000, 's3');

  for (const [i, host] of hosts.entries()) {
    if (await engineAnswers(host, home)) say(`container engine of ${host} already answers`);
    else {
      say(`starting the container engine (dockerd) of ${host}…`);
      await startEngine(host, i, home, (name, cmd, args) => startDetached(name, cmd, args, {}));
    }
  }
  for (const host of hosts) await waitUntil(`container engine of ${host}`, () => engineAnswers(host, home), 60_000, `dockerd-${host}`);

  const node = process.execPath;
  const dist = path.join(REPO_ROOT, 'dist', 'workers');
  await restartStaleWorkers(home, say);
  if (pidAlive(path.join(paths.runDir(home), 'orchestrator.pid'))) say('orchestrator worker already running');
  else {
    say(`starting orchestrator worker (task queue ${ORCHESTRATOR_QUEUE})…`);
    startDetached('orchestrator', node, [path.join(dist, 'orchestrator.js')], { FASTMIG_METRICS_PORT: String(METRICS_PORT) });
  }
  for (const [i, host] of hosts.entries()) {
    if (pidAlive(path.join(paths.runDir(home), `agent-${host}.pid`))) say(`host agent ${host} already running`);
    else {
      say(`starting host agent ${host} (task queue ${hostQueue(host)})…`);
      fs.mkdirSync(paths.hostDir(host, home), { recursive: true, mode: 0o700 });
      startDetached(`agent-${host}`, node, [path.join(REPO_ROOT, 'dist', 'agent', 'main.js'), host], { FASTMIG_METRICS_PORT: String(METRICS_PORT + 1 + i) });
    }
  }
  if (pidAlive(path.join(paths.runDir(home), 'api.pid'))) say('HTTP API already running');
  else {
    say(`starting HTTP API on ${stack.apiUrl}…`);
    startDetached('api', node, [path.join(REPO_ROOT, 'dist', 'api', 'main.js')], { FASTMIG_API_PORT: String(API_PORT) });
  }
  await waitUntil('HTTP API', () => tcpConnects(API_PORT), 30_000, 'api');
  const conn = await Connection.connect({ address: stack.temporalAddress });
  try {
    for (const [queue, log] of [[ORCHESTRATOR_QUEUE, 'orchestrator'], ...hosts.map((h) => [hostQueue(h), `agent-${h}`])]) {
      await waitUntil(`worker on task queue ${queue}`, async () => (await queuePollers(conn, stack.namespace, queue)) > 0, 60_000, log);
    }
  } finally {
    await conn.close();
  }
  await ensureHostMonitor(stack);
  say(`stack up: hosts ${hosts.join(', ')}; Temporal UI at ${stack.uiUrl}`);
  return stack;
}

/** Starts the cluster's host monitor (failover) unless it runs already. */
async function ensureHostMonitor(stack: StackFile): Promise<void> {
  const conn = await Connection.connect({ address: stack.temporalAddress });
  try {
    const client = new Client({ connection: conn, namespace: stack.namespace });
    const cfg = loadConfig();
    await client.workflow.start('hostMonitor', {
      taskQueue: ORCHESTRATOR_QUEUE,
      workflowId: 'host-monitor',
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [{ pingEverySeconds: 5, failoverAfterSeconds: cfg.failoverAfterSeconds }],
    });
  } finally {
    await conn.close();
  }
}

/** Registers fastmig's search attributes (a workflow upserting an unknown one would be stuck). */
async function ensureSearchAttributes(stack: StackFile): Promise<void> {
  const conn = await Connection.connect({ address: stack.temporalAddress });
  try {
    const have = await conn.operatorService.listSearchAttributes({ namespace: stack.namespace });
    const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !have.customAttributes?.[k.name]);
    if (missing.length) {
      await conn.operatorService.addSearchAttributes({
        namespace: stack.namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
    }
  } finally {
    await conn.close();
  }
}

/** Workers started before the last build run old code: stop them so they start again. */
async function restartStaleWorkers(home: string, say: Say): Promise<void> {
  const built = fs.statSync(path.join(REPO_ROOT, 'dist', '.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const run = paths.runDir(home);
  for (const f of fs.existsSync(run) ? fs.readdirSync(run) : []) {
    if (!(f === 'orchestrator.pid' || f === 'api.pid' || f.startsWith('agent-'))) continue;
    const file = path.join(run, f);
    const pid = pidAlive(file);
    if (pid && fs.statSync(file).mtimeMs < built) {
      say(`restarting ${f.slice(0, -4)}: the code was rebuilt since it started`);
      await stopPids([pid]);
      fs.rmSync(file, { force: true });
    }
  }
}

/** Stops every service daemon, agent, the orchestrator and the servers; keeps all data on disk. */
export async function stackDown(say: Say): Promise<void> {
  const home = fastmigHome();
  const run = paths.runDir(home);
  const hostsDir = path.join(home, 'hosts');
  const daemons: number[] = [];
  for (const host of fs.existsSync(hostsDir) ? fs.readdirSync(hostsDir) : []) {
    for (const svc of fs.readdirSync(path.join(hostsDir, host))) {
      const pid = pidAlive(serviceFolder(path.join(hostsDir, host, svc)).pid);
      if (pid) daemons.push(pid);
    }
  }
  if (daemons.length) say(`stopping ${daemons.length} service daemon(s)…`);
  await stopPids(daemons);
  const names = fs.existsSync(run) ? fs.readdirSync(run).filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4)) : [];
  // Engines go after the agents (their containers stop with them), servers last.
  const order = [
    ...names.filter((n) => n.startsWith('agent-') || n === 'orchestrator' || n === 'api'),
    ...names.filter((n) => n.startsWith('dockerd-')),
    ...names.filter((n) => n === 's3' || n === 'temporal'),
  ];
  for (const name of order) {
    const file = path.join(run, `${name}.pid`);
    const pid = pidAlive(file);
    if (pid) {
      say(`stopping ${name} (pid ${pid})…`);
      await stopPids([pid]);
    }
    fs.rmSync(file, { force: true });
    if (name.startsWith('dockerd-')) await removeBridge(home, name.slice('dockerd-'.length));
  }
  say('stack down');
}

async function stopPids(pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 10_000;
  const alive = () => pids.filter(isAlive);
  while (alive().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of alive()) process.kill(p, 'SIGKILL');
}

export interface StackStatus extends StackFile {
  up: boolean;
  temporal: boolean;
  s3: boolean;
  orchestrator: number | null;
  api: number | null;
  agents: Record<string, number | null>;
  engines: Record<string, boolean>;
}

export async function stackStatus(): Promise<StackStatus | null> {
  const home = fastmigHome();
  const stack = readStackFile(home);
  if (!stack) return null;
  const run = paths.runDir(home);
  const agents = Object.fromEntries(stack.hosts.map((h) => [h, pidAlive(path.join(run, `agent-${h}.pid`))]));
  const temporal = await tcpConnects(Number(new URL(`http://${stack.temporalAddress}`).port));
  const s3 = await tcpConnects(Number(new URL(stack.s3Endpoint).port));
  const orchestrator = pidAlive(path.join(run, 'orchestrator.pid'));
  const api = pidAlive(path.join(run, 'api.pid'));
  const engines: Record<string, boolean> = {};
  for (const h of stack.hosts) engines[h] = await engineAnswers(h, home);
  const up = temporal && s3 && !!orchestrator && !!api && Object.values(agents).every(Boolean) && Object.values(engines).every(Boolean);
  return { ...stack, up, temporal, s3, orchestrator, api, agents, engines };
}
