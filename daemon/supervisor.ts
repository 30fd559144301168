// The per-service supervisor, one in each daemon process: the service's state machine. It spawns
// the tree, dumps and restores it (daemon/moves.ts, daemon/criu.ts), relays its output and records
// how it ended. It decides nothing but fencing (daemon/fence.ts): restart policy and hooks belong to
// the host agent (agent/restarts.ts, agent/hooks.ts); memory limits to the kernel (daemon/cgroup.ts).
import fs from 'fs';
import path from 'path';
import type { ChildProcess } from 'child_process';
import type { CheckpointResult, DaemonStatus, RestoreResult, ServiceSpec, ServiceState } from '../common/schemas';
import type { DecisionRequest, HookRequest, HookResult } from '../common/plain-schemas';
import type { LineLogger as Logger } from '../common/log-lite';
import { isAlive } from '../common/pid-file';
import { serviceFolder, type DaemonConfig, type Tools } from '../common/service-folder';
import { readSidecar, toolsPath, type ImageSidecar } from './criu';
import { BASE_PATH, HOST_TOOLS } from './tools';
import { childrenOf, findNamespaceInit, signal, spawnServiceTree, stdioPipeOf, waitFor } from './process-tree';
import { Exits, exitRecord } from './exits';
import { ServiceOutput } from './output';
import { runHook } from './hook';
import { createMemoryCgroup, engineMemoryCgroup, type MemoryCgroup } from './cgroup';
import { dumpService, movingOf, restoreService, type Moving } from './moves';
import { freezeFenced, thawFenced, watchLease } from './fence';
import { ServiceAddress } from './service-address';
import { PostCopy, type PagesState } from './post-copy';

export interface SupervisorOptions {
  spec: ServiceSpec;
  host: string;
  dir: string;
  criuPath: string;
  log: Logger;
  /** Absent on a host (PATH); the bundle's in a container. */
  tools?: Tools;
  container?: boolean;
  serviceAddress?: DaemonConfig['serviceAddress'];
  pageServerTls?: DaemonConfig['pageServerTls'];
}

/** The daemon's part of a checkpoint's and a restore's result; the agent adds its hook's time. */
type DaemonCheckpoint = Omit<CheckpointResult, 'hookMs'>;
type DaemonRestore = Omit<RestoreResult, 'hookMs'>;

export class Supervisor {
  private state: ServiceState = 'standby';
  private initPid: number | null = null;
  private child: ChildProcess | null = null;
  private startedAt: string | null = null;
  private lastCheckpoint: DaemonStatus['lastCheckpoint'] = null;
  private lastRestore: DaemonStatus['lastRestore'] = null;
  private readonly exits = new Exits();
  /** Last results (a retried request for the same checkpoint is answered, not redone); one operation at a time. */
  private lastCheckpointResult: DaemonCheckpoint | null = null;
  private lastRestoreResult: DaemonRestore | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly output: ServiceOutput;
  private readonly cgroup: MemoryCgroup | null;
  /** The cgroup's OOM kills when the current tree began: more at its end means the limit ended it. */
  private oomsBefore = 0;
  private readonly tools: Tools;
  private readonly address: ServiceAddress | null;
  /** What a dump and a restore carry besides CRIU's images (daemon/moves.ts); `opening` lets a held restore take traffic. */
  private readonly moving: Moving;
  private opening: (() => Promise<void>) | null = null;
  private readonly postCopy = new PostCopy();

  constructor(private readonly o: SupervisorOptions) {
    this.tools = o.tools ?? HOST_TOOLS;
    this.output = new ServiceOutput(serviceFolder(o.dir).serviceLog, o.log);
    const limit = o.spec.memoryLimitMiB;
    this.cgroup = !limit ? null : o.container ? engineMemoryCgroup() : createMemoryCgroup(o.dir, o.spec.name, limit);
    const criu = { criu: o.criuPath, tools: this.tools, container: o.container, ownAddress: !!o.serviceAddress };
    this.address = o.serviceAddress ? new ServiceAddress({ ...o.serviceAddress, ownLink: !!o.container }, o.log, toolsPath(criu)) : null;
    this.moving = movingOf(o, criu, this.address);
  }

  status(): DaemonStatus {
    return {
      service: this.o.spec.name,
      host: this.o.host,
      state: this.state,
      pid: this.initPid,
      daemonPid: process.pid,
      startedAt: this.startedAt,
      lastCheckpoint: this.lastCheckpoint,
      lastRestore: this.lastRestore,
      lastExit: this.exits.last,
      restarts: this.exits.restarts,
      decisions: this.exits.decisions,
      ...(this.opening ? { held: true } : {}),
    };
  }

  logs = (n: number): string[] => this.output.tail(n);

  imageDir(checkpointId: string): string {
    return serviceFolder(this.o.dir).image(checkpointId);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** A restart (the agent's policy) acts only on a service that ended on its own, and counts. */
  private require(allowed: ServiceState[], op: string, restart = false): void {
    if (restart) allowed = ['exited'];
    if (!allowed.includes(this.state)) throw new Error(`cannot ${op} ${this.o.spec.name}: it is ${this.state} (needs ${allowed.join(' or ')})`);
    if (restart) this.exits.restarts++;
  }

  start(restart = false): Promise<DaemonStatus> {
    return this.exclusive(async () => {
      this.require(['standby', 'exited', 'checkpointed'], 'start', restart);
      this.state = 'starting';
      await this.address?.claim().catch((err) => {
        this.state = 'exited';
        throw err;
      });
      const { command, cwd, env } = this.o.spec;
      const child = spawnServiceTree({ command, cwd: cwd ?? '/', env: { PATH: BASE_PATH, ...env }, tools: this.tools, cgroupProcs: this.cgroup?.procsFile, user: this.moving.user });
      this.attach(child);
      try {
        this.initPid = await findNamespaceInit(child.pid!, this.moving.user);
      } catch (err) {
        this.state = 'exited';
        throw err;
      }
      this.state = 'running';
      this.startedAt = new Date().toISOString();
      this.o.log.info({ pid: this.initPid, command: this.o.spec.command }, 'service started');
      this.address?.announce();
      return this.status();
    });
  }

  /** lazy: post-copy (daemon/post-copy.ts), its pages served from this host's address to the target's. */
  checkpoint(checkpointId: string, leaveRunning: boolean, lazy?: { at: string; for: string }): Promise<DaemonCheckpoint> {
    return this.exclusive(async () => {
      if (this.lastCheckpointResult?.checkpointId === checkpointId && this.state !== 'checkpointing') return this.lastCheckpointResult;
      this.require(['running'], 'checkpoint');
      const pid = this.initPid!;
      const dir = this.imageDir(checkpointId);
      const sidecar: ImageSidecar = { stdioPipe: stdioPipeOf(pid), service: this.o.spec.name, sourceHost: this.o.host };
      this.state = 'checkpointing';
      let frozenAt: number;
      try {
        const serve = lazy && !leaveRunning ? { address: lazy.at, peer: lazy.for, checkpointId } : undefined;
        ({ frozenAt, lazy: this.postCopy.source } = await dumpService(this.moving, pid, dir, leaveRunning, sidecar, serve));
      } catch (err) {
        this.state = isAlive(pid) ? 'running' : 'exited';
        throw err;
      }
      const dumpMs = Date.now() - frozenAt;
      [this.state, this.initPid] = leaveRunning ? ['running', pid] : ['checkpointed', null];
      const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
      this.lastCheckpoint = { id: checkpointId, at: new Date(frozenAt).toISOString(), bytes, dumpMs };
      this.o.log.info({ checkpointId, dumpMs, bytes, leaveRunning }, 'checkpoint written');
      return (this.lastCheckpointResult = { checkpointId, frozenAt, dumpMs, bytes, leftRunning: leaveRunning });
    });
  }

  /** held: a migration's target, whose address takes no traffic until open() (its cut-over), also if restored again before it. */
  restore(checkpointId: string, restart = false, held = false): Promise<DaemonRestore> {
    return this.exclusive(async () => {
      held ||= this.opening !== null;
      if (!restart && this.lastRestoreResult?.checkpointId === checkpointId && this.state === 'running') return this.lastRestoreResult;
      this.require(['standby', 'exited', 'checkpointed'], 'restore', restart);
      // The rollback of a post-copy migration: the tree this host still holds runs on.
      if (this.postCopy.source?.checkpointId === checkpointId) {
        const t0 = Date.now();
        [this.initPid, this.state] = [await this.postCopy.resumeSource(this.address), 'running'];
        return (this.lastRestoreResult = { checkpointId, restoreMs: Date.now() - t0, pid: this.initPid });
      }
      const dir = this.imageDir(checkpointId);
      const sidecar = readSidecar(dir, `checkpoint image ${checkpointId} on ${this.o.host}`);
      this.state = 'restoring';
      const t0 = Date.now();
      try {
        const r = await restoreService(this.moving, dir, sidecar, this.cgroup?.procsFile ?? null, (child) => this.attach(child), (child) => this.child === child, held);
        [this.initPid, this.opening, this.postCopy.target] = [r.pid, r.open, r.lazy];
      } catch (err) {
        this.state = 'standby';
        throw err;
      }
      const restoreMs = Date.now() - t0;
      this.state = 'running';
      this.startedAt = new Date().toISOString();
      this.lastRestore = { id: checkpointId, at: this.startedAt, restoreMs };
      this.o.log.info({ checkpointId, restoreMs, pid: this.initPid }, 'service restored');
      this.address?.announce();
      return (this.lastRestoreResult = { checkpointId, restoreMs, pid: this.initPid });
    });
  }

  /** A post-copy target: waits (up to `ms`) until the last page is across or the transfer failed. */
  pages = (ms: number): Promise<PagesState> => this.postCopy.waitTarget(ms);

  /** Runs one of the spec's hooks in the service's environment, when the agent asks (daemon/hook.ts). */
  hook(req: HookRequest): Promise<HookResult> {
    const { spec, host, dir } = this.o;
    return runHook({ spec, host, dir, sh: this.tools.sh, imageDir: (id) => this.imageDir(id), lastExit: this.exits.last, restarts: this.exits.restarts }, req);
  }

  /** true while the service has ended on its own and no decision answers that exit yet. */
  private exitPending(): boolean {
    return this.state === 'exited' && this.exits.undecided();
  }

  /** The agent's long-poll: answers once an exit waits for a decision, or after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<DaemonStatus> {
    if (!this.exitPending()) await this.exits.next(timeoutMs);
    return this.status();
  }

  /** Records the agent's restart decision about the last exit; standby settles the state at once. */
  decide(d: DecisionRequest): DaemonStatus {
    if (!this.exitPending()) throw new Error(`no exit of ${this.o.spec.name} waits for a decision (it is ${this.state})`);
    this.exits.decide(d);
    if (d.action === 'standby') this.state = 'standby';
    return this.status();
  }

  /** Fencing (daemon/fence.ts): frozen, not ended; its agent thaws it (agent/lease.ts) or removes it. */
  watchLease(file: string, ttlSeconds: number): NodeJS.Timeout {
    const fence = (ageS: number) => async () => {
      if (this.state !== 'running' || !this.initPid) return;
      this.state = 'fenced';
      await freezeFenced(this.initPid, ageS, this.exits, this.address, this.o.log);
    };
    return watchLease(file, ttlSeconds, () => this.state === 'running', (ageS) => void this.exclusive(fence(ageS)));
  }

  /** A held restore takes traffic at its address now (its migration cut over); idempotent. */
  open = (): Promise<DaemonStatus> => this.exclusive(async () => ((await this.opening?.()), (this.opening = null), this.status()));

  /** A fenced copy that is still the service's (its agent checked): it runs on from where it froze. */
  thaw(): Promise<DaemonStatus> {
    return this.exclusive(async () => {
      this.require(['fenced'], 'thaw');
      await thawFenced(this.initPid!, this.address, this.o.log);
      this.state = 'running';
      return this.status();
    });
  }

  /** Stops the service (SIGTERM, then SIGKILL after the grace period); the daemon stays in standby. */
  stop(graceMs: number): Promise<DaemonStatus> {
    return this.exclusive(async () => {
      if (this.state === 'fenced') [graceMs, this.state] = [0, 'running']; // stale: SIGTERM would wait for a SIGCONT
      if (this.state !== 'running' || !this.initPid) {
        if (this.state !== 'exited') this.state = 'standby';
        return this.status();
      }
      const child = this.child;
      this.state = 'stopping';
      for (const p of childrenOf(this.initPid)) signal(p, 'SIGTERM');
      const gone = () => this.child !== child;
      if (!(await waitFor(gone, () => false, graceMs))) signal(this.initPid, 'SIGKILL');
      await waitFor(gone, () => false, 5000);
      [this.initPid, this.state] = [null, 'standby'];
      this.o.log.info('service stopped');
      return this.status();
    });
  }

  /** Wires a wrapper's output into the log and watches for the end of the service. */
  private attach(child: ChildProcess): void {
    this.child = child;
    this.output.exitCode = null;
    this.oomsBefore = this.cgroup?.oomKills() ?? 0;
    child.stdout!.on('data', (d: Buffer) => this.output.feed(d));
    child.stderr!.on('data', (d: Buffer) => this.output.feed(d));
    child.on('close', () => {
      if (this.child !== child) return;
      this.child = null;
      if (this.state !== 'running' && this.state !== 'starting') return;
      // A post-copy target ended for want of its pages: no exit for a restart policy, its migration removes it.
      if (this.postCopy.target?.state.state === 'failed') return void ([this.state, this.initPid] = ['standby', null]);
      const oom = !!this.cgroup && this.cgroup.oomKills() > this.oomsBefore;
      const exit = exitRecord(this.output.exitCode, oom ? this.o.spec.memoryLimitMiB! : null);
      this.state = 'exited';
      this.initPid = null;
      this.o.log.warn({ lastExit: exit }, 'service ended');
      this.exits.ended(exit);
    });
  }

  async shutdown(): Promise<void> {
    await this.postCopy.end();
    this.state = this.state === 'exited' ? 'standby' : this.state;
    await this.stop(3000);
    await this.address?.release().catch(() => undefined);
    this.exits.wakeAll();
    this.output.close();
    this.cgroup?.remove();
  }
}
