// Host activities that adapt to the per-service daemon: create it, drive it through its unix-socket
// API (hooks ordered around checkpoint and restore by agent/hooks.ts), stop and remove it. They
// run on the host agent of the host they act on.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { heartbeat, ApplicationFailure, activityInfo } from '@temporalio/activity';
import { paths } from '../common/config';
import { LeaseGrant, ServiceSpec, parseOrThrow, type CheckpointResult, type DaemonStatus, type PingAnswer, type PreparedService, type RestoreResult, type Runtime } from '../common/schemas';
import { daemonAt } from '../agent/daemon-client';
import { writeLease } from '../agent/lease';
import { checkpointWithHook, restoreWithHook } from '../agent/hooks';
import { serviceFolder, type DaemonConfig } from '../common/service-folder';
import { lookupAccount } from '../common/accounts';
import { translate } from './errors';
import { faultPoint } from '../common/faults';
import type { ServiceRuntime } from './runtime';
import { processRuntime } from './runtime-process';
import { dockerRuntime } from './runtime-docker';
import { CONTAINER_DEV, interfaceOf } from './container-link';
import { ensureImagesDir, removeTmpfsImages } from '../image/folder';
import { reportCheckpoint } from '../image/rendezvous';
import type { PagesState } from '../daemon/post-copy';

export interface HostContext {
  host: string;
  home: string;
  criuPath: string;
  /** The host's own address (the agent's `--address`): containers publish their port there. */
  address: string;
  /** Daemons stop their service when this agent's lease is older (fencing for failover). */
  leaseSeconds?: number;
  /** The cluster's TLS files for CRIU's page server (post-copy); absent when the cluster moves images in the clear. */
  pageServerTls?: { ca: string; cert: string; key: string };
  /** The host's lease (agent/grants.ts): the monitor's ping grants it; a new service's lease starts at base(). */
  lease?: { ping(grant: LeaseGrant | undefined, scheduledAt: number): PingAnswer; base(): number };
}

export interface PrepareRequest {
  spec: ServiceSpec;
  generation: number;
  /** true: start the command from scratch; false: standby (warm target, waiting for a restore). */
  start: boolean;
  /** docker: publish on this port of the host's address if it is free here. */
  preferredHostPort?: number;
  /** The service's own address: its daemon puts it on this host while the service runs here. */
  serviceAddress?: string;
}

/**
 * Before a service starts or is restored here: this host's lease must be fresh (well inside its
 * length), or the daemon would fence the service at once, for good. A host just back from a cut
 * waits (heartbeating) for the cluster's next grant; one that gets none is refused.
 */
async function untilLeased(ctx: HostContext, what: string): Promise<void> {
  if (!ctx.lease || !ctx.leaseSeconds) return;
  const ageS = () => (Date.now() - ctx.lease!.base()) / 1000;
  const deadline = Date.now() + 2 * ctx.leaseSeconds * 1000;
  while (ageS() > ctx.leaseSeconds / 2) {
    if (Date.now() > deadline) {
      const last = ctx.lease.base() ? `its last grant is ${Math.round(ageS())} s old` : 'it has had no grant';
      throw ApplicationFailure.nonRetryable(`${ctx.host} may not ${what}: ${last} (cut off from the cluster?)`, 'NotLeased');
    }
    heartbeat();
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function createServiceActivities(ctx: HostContext) {
  /** A fresh start needs the kept directories there already; a restore lays them down itself. */
  const checkKeptDirs = (spec: ServiceSpec, fresh: boolean) => {
    for (const d of spec.keep) {
      const refuse = (why: string) => {
        throw ApplicationFailure.nonRetryable(`invalid service spec of ${spec.name}: kept directory ${d} ${why}`, 'BadSpec');
      };
      const home = path.resolve(ctx.home);
      if (d === home || d.startsWith(`${home}/`) || home.startsWith(`${d}/`)) refuse(`overlaps fastmig's own folder on ${ctx.host}`);
      if (fresh && !fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) refuse(`is not a directory on ${ctx.host} (create it first)`);
    }
  };
  /** The interface that carries this host's address, looked up once (a failed lookup is tried again). */
  let iface: string | null = null;
  const hostInterface = async () => (iface ??= await interfaceOf(ctx.address));
  const runtimes: Record<Runtime, ServiceRuntime> = { process: processRuntime(ctx.criuPath), docker: dockerRuntime({ ...ctx, uplink: hostInterface }) };
  const dirOf = (service: string) => paths.serviceDir(ctx.host, service, ctx.home);
  const filesOf = (service: string) => serviceFolder(dirOf(service));
  /** The runtime a service on this host was launched with (recorded in its daemon config). */
  const runtimeOf = (service: string): ServiceRuntime => {
    try {
      const conf = JSON.parse(fs.readFileSync(filesOf(service).config, 'utf8')) as DaemonConfig;
      return runtimes[conf.spec.runtime ?? 'process'];
    } catch {
      return runtimes.process;
    }
  };

  /** The daemon of a service, its failures translated for Temporal. */
  function daemonOf(service: string) {
    if (!fs.existsSync(filesOf(service).token)) {
      throw ApplicationFailure.nonRetryable(`service ${service} has no daemon on ${ctx.host}`, 'NoDaemon');
    }
    const raw = daemonAt(dirOf(service));
    return <T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => translate(() => raw<T>(method, route, body));
  }
  const call = <T>(service: string, method: 'GET' | 'POST', route: string, body?: unknown) => daemonOf(service)<T>(method, route, body);

  /**
   * Ownership: this agent acts only on service folders it created (a daemon.json it wrote) and only
   * for the generation the caller names, so a stale or foreign request changes nothing.
   */
  function requireOwned(service: string, generation: number): DaemonConfig {
    const f = filesOf(service);
    let conf: DaemonConfig;
    try {
      conf = JSON.parse(fs.readFileSync(f.config, 'utf8')) as DaemonConfig;
    } catch {
      throw ApplicationFailure.nonRetryable(`refusing to touch ${service} on ${ctx.host}: it was not created by fastmig`, 'NotOwned');
    }
    if (conf.host !== ctx.host || conf.spec?.name !== service) {
      throw ApplicationFailure.nonRetryable(`refusing to touch ${service} on ${ctx.host}: its folder belongs to another host or service`, 'NotOwned');
    }
    if (conf.generation !== generation) {
      throw ApplicationFailure.nonRetryable(
        `refusing a request for generation ${generation} of ${service} on ${ctx.host}: the instance here is generation ${conf.generation}`,
        'StaleGeneration',
      );
    }
    return conf;
  }

  async function daemonStatus(service: string): Promise<DaemonStatus | null> {
    const f = filesOf(service);
    if (!fs.existsSync(f.socket) || !fs.existsSync(f.token)) return null;
    try {
      return await daemonAt(dirOf(service))<DaemonStatus>('GET', '/status', undefined, 5000);
    } catch {
      return null;
    }
  }

  return {
    async prepareService(req: PrepareRequest): Promise<PreparedService> {
      await faultPoint('prepare', req.spec.name);
      const service = req.spec.name;
      const runtime = runtimes[req.spec.runtime];
      const prepared = async (st: DaemonStatus): Promise<PreparedService> => {
        // A started copy takes traffic at once: clients that knew its address elsewhere must learn it is here.
        if (req.start) await runtime.announce?.(service);
        return { ...st, hostPort: await runtime.hostPort(service, req.spec), address: ctx.address };
      };
      const existing = await daemonStatus(service);
      if (existing) requireOwned(service, req.generation);
      if (existing) {
        if (req.start && existing.state !== 'running') return prepared(await call<DaemonStatus>(service, 'POST', '/start'));
        return prepared(existing);
      }
      const dir = dirOf(service);
      const f = serviceFolder(dir);
      // The daemon takes daemon.json as it is (it loads no zod), so the spec is checked, and its
      // defaults filled in, here: before anything is written, so a refused spec or a missing image
      // leaves no folder behind.
      const spec = parseOrThrow(ServiceSpec, req.spec, `service spec of ${service}`, (what, problem) => ApplicationFailure.nonRetryable(`invalid ${what}: ${problem}`, 'BadSpec'));
      checkKeptDirs(spec, !!req.start);
      if (spec.runtime === 'process' && spec.user && !lookupAccount(spec.user)) {
        throw ApplicationFailure.nonRetryable(`invalid service spec of ${service}: no user "${spec.user}" on ${ctx.host} (--user names an account of every host it runs on)`, 'BadSpec');
      }
      if (req.start) await untilLeased(ctx, `start ${service}`);
      const conf = await runtime.configure(spec, { spec, host: ctx.host, criuPath: ctx.criuPath, generation: req.generation, leaseSeconds: ctx.leaseSeconds });
      // A container's address lives on its own link; the host's probes (from its own address) pass the hold there.
      if (ctx.pageServerTls && spec.runtime !== 'docker') conf.pageServerTls = ctx.pageServerTls;
      if (req.serviceAddress) conf.serviceAddress = spec.runtime === 'docker' ? { address: req.serviceAddress, dev: CONTAINER_DEV, exempt: ctx.address } : { address: req.serviceAddress, dev: await hostInterface() };
      // Process services keep their images on tmpfs; a container's stay in its bind-mounted folder.
      ensureImagesDir(ctx.host, service, ctx.home, req.spec.runtime !== 'docker');
      fs.writeFileSync(f.config, JSON.stringify(conf, null, 2), { mode: 0o600 });
      // The lease exists before the daemon does, dated as the host's: no service runs unleased.
      if (ctx.lease) writeLease(dir, ctx.lease.base());
      if (!fs.existsSync(f.token)) fs.writeFileSync(f.token, crypto.randomBytes(32).toString('hex'), { mode: 0o600 });
      fs.rmSync(f.socket, { force: true });
      await runtime.launch(service, dir, req.start ? 'scratch' : 'standby', req.spec, req.preferredHostPort);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const st = await daemonStatus(service);
        if (st && (!req.start || st.state === 'running')) return prepared(st);
        // Ended already (its exit may have been decided by the agent's restart policy meanwhile).
        if (st && req.start && st.lastExit && st.state !== 'running' && st.state !== 'starting') {
          throw ApplicationFailure.nonRetryable(`service ${service} exited at start: ${st.lastExit?.reason}`, 'StartFailed');
        }
        heartbeat();
        await new Promise((r) => setTimeout(r, 20));
      }
      const tail = await runtime.daemonLogTail(service, dir);
      throw ApplicationFailure.nonRetryable(`the daemon of ${service} did not come up on ${ctx.host} within 15 s: ${tail}`, 'DaemonStart');
    },

    /** lazyFor: post-copy, the pages served from this host's address to the target's (lazyFor) until it has them all (daemon/post-copy.ts). */
    async checkpointService(req: { service: string; generation: number; checkpointId: string; leaveRunning?: boolean; lazyFor?: string }): Promise<CheckpointResult> {
      // Whatever the outcome, a target waiting for this image on the endpoint hears it at once
      // (a failure sends it through the image store, or the workflow ends). Anything that can fail
      // here (checks, injected faults) belongs inside the callback, so the waiting target hears it.
      return reportCheckpoint(req.service, req.checkpointId, async () => {
        await faultPoint('checkpoint', req.checkpointId);
        const { spec } = requireOwned(req.service, req.generation);
        const d = daemonOf(req.service);
        const lazy = req.lazyFor ? { lazyAt: ctx.address, lazyFor: req.lazyFor } : {};
        return whileHeartbeating(translate(() => checkpointWithHook(d, spec, ctx.host, { checkpointId: req.checkpointId, leaveRunning: !!req.leaveRunning, ...lazy })));
      });
    },

    /** held: a migration's target, unreachable at the service's own address until openService (its cut-over). */
    async restoreService(req: { service: string; generation: number; checkpointId: string; held?: boolean }): Promise<RestoreResult> {
      await faultPoint('restore', req.checkpointId);
      const { spec } = requireOwned(req.service, req.generation);
      await untilLeased(ctx, `restore ${req.service}`);
      const d = daemonOf(req.service);
      const restored = await whileHeartbeating(translate(() => restoreWithHook(d, spec, ctx.host, req.checkpointId, false, !!req.held)));
      if (!req.held) await runtimeOf(req.service).announce?.(req.service);
      return restored;
    },

    /** A migration cut over to this host: its restored copy takes traffic at the service's address now. */
    async openService(req: { service: string; generation: number }): Promise<DaemonStatus> {
      requireOwned(req.service, req.generation);
      const opened = await call<DaemonStatus>(req.service, 'POST', '/open', {});
      await runtimeOf(req.service).announce?.(req.service);
      return opened;
    },

    /** A post-copy target: where its pages are (the daemon answers within 25 s). */
    async servicePages(req: { service: string; generation: number }): Promise<PagesState> {
      requireOwned(req.service, req.generation);
      return call(req.service, 'GET', '/pages');
    },

    async stopService(req: { service: string; generation: number }): Promise<DaemonStatus> {
      requireOwned(req.service, req.generation);
      return call(req.service, 'POST', '/stop', {});
    },

    async serviceStatus(req: { service: string }): Promise<DaemonStatus | null> {
      return daemonStatus(req.service);
    },

    async serviceLogs(req: { service: string; lines: number }): Promise<string[]> {
      const r = await call<{ lines: string[] }>(req.service, 'GET', `/logs?lines=${req.lines}`);
      return r.lines;
    },

    /** Stops the service and its daemon and deletes everything the service left on this host. */
    async removeService(req: { service: string; generation: number }): Promise<{ removed: boolean }> {
      const dir = dirOf(req.service);
      if (!fs.existsSync(dir)) {
        removeTmpfsImages(ctx.host, req.service, ctx.home);
        return { removed: false };
      }
      requireOwned(req.service, req.generation);
      const runtime = runtimeOf(req.service);
      if (await daemonStatus(req.service)) {
        await call(req.service, 'POST', '/shutdown', {}).catch(() => undefined);
      }
      await runtime.remove(req.service, dir);
      fs.rmSync(dir, { recursive: true, force: true });
      removeTmpfsImages(ctx.host, req.service, ctx.home);
      return { removed: true };
    },

    /** Deletes this host's local checkpoint folders of a service except the one named. */
    async pruneLocalImages(req: { service: string; generation: number; keepId: string }): Promise<{ deleted: number }> {
      requireOwned(req.service, req.generation);
      const dir = filesOf(req.service).images;
      const doomed = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n !== req.keepId) : [];
      for (const n of doomed) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      return { deleted: doomed.length };
    },

    /** The host monitor's ping carries a lease grant (common/quorum.ts); a migration's preflight only asks. */
    async ping(grant?: LeaseGrant): Promise<PingAnswer> {
      const g = grant === undefined ? undefined : parseOrThrow(LeaseGrant, grant, 'lease grant', (what, problem) => ApplicationFailure.nonRetryable(`invalid ${what}: ${problem}`, 'BadGrant'));
      // Dated when Temporal scheduled it, never later: a ping delivered late grants nothing new.
      return ctx.lease ? ctx.lease.ping(g, activityInfo().currentAttemptScheduledTimestampMs) : { host: ctx.host, pid: process.pid };
    },
  };
}

/** Heartbeats while a daemon works, so a host agent that dies meanwhile is noticed in seconds. */
async function whileHeartbeating<T>(work: Promise<T>): Promise<T> {
  const beat = setInterval(() => heartbeat(), 1000);
  try {
    return await work;
  } finally {
    clearInterval(beat);
  }
}

export type ServiceActivities = ReturnType<typeof createServiceActivities>;
