// The warm migration's steps driven directly, without Temporal: the same host activities the agents
// run, called in order. Each host's activities run ON that host, in a small process of the
// benchmark's (bench/direct-host.ts) started the way the stack starts an agent (in the host's
// network namespace, with the host's own view of the per-host folders, at the host's address), and
// reached over a unix socket in the host's folder. The registry calls (S3) are made from here.
import fs from 'fs';
import http from 'http';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { fastmigHome, loadConfig, paths, readStackFile, REPO_ROOT } from '../common/config';
import { s3Client } from '../common/s3';
import { createRegistryActivities } from '../activities/registry';
import type { FetchAndRestoreResult } from '../activities/transfer';
import { hostProcessArgv } from '../stack/host-process';
import { hostViewOf } from '../stack/workers';
import type { Placement, RestoreResult } from '../common/schemas';
import type { DirectHostActivities, DirectHostError } from './direct-host';
import { sleep } from './stats';

const DIRECT_HOST = path.join(REPO_ROOT, 'dist', 'bench', 'direct-host.js');
/** Not a valid service name (it has a dot), so no service folder can be called that. */
const SOCKET_NAME = 'direct.sock';

/** A host step that failed on its host; `type` is the activity's failure type (e.g. PeerTransfer). */
export class HostStepError extends Error {
  constructor(message: string, readonly type?: string) {
    super(message);
  }
}

function callOver(socket: string, name: string, args: unknown[]): Promise<unknown> {
  const payload = JSON.stringify(args);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'POST', path: `/${name}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: unknown; error?: DirectHostError };
          if (body.error) reject(new HostStepError(`${name}: ${body.error.message}`, body.error.type));
          else resolve(body.result);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface HostProcess {
  child: ChildProcess;
  socket: string;
  exited: Promise<void>;
}

/** Starts one host's process and waits until it answers on its socket. */
async function startHost(home: string, host: string): Promise<HostProcess> {
  const address = readStackFile(home)?.hostAddresses[host];
  if (!address) throw new Error(`host ${host} has no address in the stack (is the stack up?)`);
  const socket = path.join(paths.hostDir(host, home), SOCKET_NAME);
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  fs.rmSync(socket, { force: true });
  const logFile = path.join(paths.logDir(home), `bench-direct-${host}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'a');
  const [cmd, ...args] = hostProcessArgv(home, host, process.execPath, [DIRECT_HOST, host, address, socket], hostViewOf(home));
  const child = spawn(cmd, args, { stdio: ['pipe', log, log], env: { ...process.env, FASTMIG_HOME: home } });
  fs.closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !gone) {
    if (fs.existsSync(socket) && (await callOver(socket, 'ping', []).then(() => true, () => false))) return { child, socket, exited };
    await sleep(50);
  }
  child.kill('SIGKILL');
  const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new Error(`the direct driver's process on ${host} did not come up (${gone ? 'it exited' : 'not within 30 s'}): ${tail}`);
}

export function directDriver() {
  const cfg = loadConfig();
  const home = fastmigHome();
  const registry = createRegistryActivities(s3Client(cfg), cfg.s3.bucket);
  const started = new Map<string, Promise<HostProcess>>();
  const processOf = (h: string) => {
    if (!started.has(h)) started.set(h, startHost(home, h));
    return started.get(h)!;
  };
  const host = (h: string): DirectHostActivities =>
    new Proxy({} as DirectHostActivities, {
      // Not a thenable: `then` stays undefined, so the proxy can pass through promises.
      get: (_t, name) => (typeof name !== 'string' || name === 'then' ? undefined : async (...a: unknown[]) => callOver((await processOf(h)).socket, name, a)),
    });

  return {
    host,
    registry,
    /** Migrations whose image did not reach S3 (the figures stand: the service had moved by then). */
    uploadsFailed: 0,
    /**
     * Warm migration, step for step like workflows/migrate.ts and its steps, except the rollback (a
     * failure throws) and one order: the transfer is asked for once the checkpoint returned. The
     * workflow asks for it first, and the source agent's image endpoint holds that request until it
     * hears, in its own memory, that the dump ended; here the dump is taken by the host process
     * above, not by the agent, so the agent's endpoint would never hear of it.
     * `onTarget`: the target's endpoint, once prepared (as the workflow's progress tells it).
     */
    async migrate(service: string, to: string, onTarget?: (endpoint: string) => void): Promise<{ freezeToResumeMs: number; restore: RestoreResult }> {
      const target = host(to);
      // preflight
      const [p, hosts] = await Promise.all([registry.getPlacement(service), registry.listHosts()]);
      if (!p) throw new Error(`unknown service ${service}`);
      if (p.host === to) throw new Error(`${service} already runs on ${to}`);
      if (!hosts.some((h) => h.host === to)) throw new Error(`unknown host ${to}`);
      await target.ping();
      const source = host(p.host);
      const generation = p.generation + 1;
      const checkpointId = `g${generation}-direct${Date.now().toString(36)}`;
      const proxied = p.spec.runtime === 'docker';
      const encrypt = p.spec.encryptImages;
      // prepare: the target's daemon in standby
      const serviceAddress = p.serviceAddress;
      const prepared = await target.prepareService({ spec: p.spec, generation, start: false, preferredHostPort: p.hostPort, serviceAddress });
      const port = prepared.hostPort ?? p.spec.port;
      const placed = (lastCheckpoint: string | undefined): Placement => ({
        ...p,
        host: to,
        generation,
        hostPort: proxied ? port : undefined,
        address: prepared.address,
        lastCheckpoint,
        updatedAt: new Date().toISOString(),
      });
      if (port) onTarget?.(`${serviceAddress ?? prepared.address}:${port}`);
      // freeze and move: checkpoint on the source, the target pulls the image from the source's
      // agent, restores it and checks it answers; through S3 when the peer transfer fails.
      const { frozenAt } = await source.checkpointService({ service, generation: p.generation, checkpointId });
      const req = { service, generation, checkpointId, from: p.host, encrypt, proxied, port, serviceAddress };
      let arrived: FetchAndRestoreResult;
      let inStore = false;
      try {
        arrived = await target.fetchAndRestore({ ...req, via: 'peer' });
      } catch (err) {
        if ((err as HostStepError).type !== 'PeerTransfer') throw err;
        await source.uploadImage({ service, checkpointId, encrypt });
        inStore = true;
        arrived = await target.fetchAndRestore({ ...req, via: 's3' });
      }
      // store (started now, while the record moves), cut over, then record the stored image and
      // clean the source up once the copy no longer needs it.
      const stored = inStore ? Promise.resolve(false) : source.uploadImage({ service, checkpointId, encrypt }).then(() => true, () => false);
      await registry.putPlacement(placed(inStore ? checkpointId : p.lastCheckpoint));
      await Promise.all([
        stored.then((ok) => (ok ? registry.putPlacement(placed(checkpointId)) : undefined)),
        stored.then(() => source.removeService({ service, generation: p.generation })),
      ]);
      if (!inStore && !(await stored)) this.uploadsFailed++;
      return { freezeToResumeMs: arrived.healthyAt - frozenAt, restore: arrived.restore };
    },
    /** Starts the hosts' processes now, so that no measured step waits for one to start. */
    async ready(hosts: readonly string[]): Promise<void> {
      await Promise.all(hosts.map(processOf));
    },
    /** Stops the hosts' processes (they remove their sockets); the services they started keep running. */
    async close(): Promise<void> {
      const procs = await Promise.all([...started.values()].map((p) => p.catch(() => null)));
      started.clear();
      for (const p of procs) p?.child.stdin?.end();
      await Promise.all(
        procs.map(async (p) => {
          if (!p) return;
          if (await Promise.race([p.exited.then(() => true), sleep(5000).then(() => false)])) return;
          p.child.kill('SIGKILL');
          await p.exited;
          fs.rmSync(p.socket, { force: true });
        }),
      );
    },
  };
}
export type DirectDriver = ReturnType<typeof directDriver>;
