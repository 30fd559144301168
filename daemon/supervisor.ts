// The per-service supervisor: owns one service's process tree, its output, and its checkpoint and
// restore operations. One instance lives in each daemon process.
import fs from 'fs';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import type { CheckpointResult, DaemonStatus, ExitRecord, RestartDecision, RestoreResult, ServiceSpec, ServiceState } from '../common/schemas';
import type { LineLogger as Logger } from '../common/log-lite';
import { decide } from './restart-policy';
import { run } from './run';
import { criuDump, criuErrors, criuRestoreArgs, imageDamage, imageFileSizes, ImageSidecar, SIDECAR } from './criu';
import { HOST_TOOLS, Tools } from './tools';
import { EXIT_MARKER, childrenOf, descendantsOf, findNamespaceInit, isAlive, signal, spawnServiceTree, stdioPipeOf, treeRssBytes } from './process-tree';

export interface SupervisorOptions {
  spec: ServiceSpec;
  host: string;
  dir: string;
  criuPath: string;
  log: Logger;
  /** Absent on a host (PATH); the bundle's in a container. */
  tools?: Tools;
  container?: boolean;
}

const LOG_RING = 2000;
const DUMP_ATTEMPTS = 3;
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class Supervisor {
  private state: ServiceState = 'standby';
  private initPid: number | null = null;
  private child: ChildProcess | null = null;
  private startedAt: string | null = null;
  private lastExit: ExitRecord | null = null;
  private lastCheckpoint: DaemonStatus['lastCheckpoint'] = null;
  private lastRestore: DaemonStatus['lastRestore'] = null;
  private restarts = 0;
  private decisions: RestartDecision[] = [];
  private restartTimer: NodeJS.Timeout | null = null;
  private exitCode: number | null = null;
  /** Why the daemon itself killed the service (e.g. its memory limit), for the exit record. */
  private killReason: string | null = null;
  private memoryWatch: NodeJS.Timeout | null = null;
  /** Last results, so a retried request for the same checkpoint is answered, not redone. */
  private lastCheckpointResult: CheckpointResult | null = null;
  private lastRestoreResult: RestoreResult | null = null;
  private partial = '';
  private readonly lines: string[] = [];
  private readonly logFile: fs.WriteStream;
  /** Serializes operations: one start/checkpoint/restore/stop at a time. */
  private busy: Promise<unknown> = Promise.resolve();

  private readonly tools: Tools;

  constructor(private readonly o: SupervisorOptions) {
    this.tools = o.tools ?? HOST_TOOLS;
    this.logFile = fs.createWriteStream(path.join(o.dir, 'service.log'), { flags: 'a' });
    // A full disk must not take the daemon down: the ring buffer still keeps the recent lines.
    this.logFile.on('error', (err) => this.o.log.warn({ err: err.message }, 'service log file not writable'));
    if (o.spec.memoryLimitMiB) this.memoryWatch = setInterval(() => this.enforceMemoryLimit(o.spec.memoryLimitMiB!), 200);
  }

  /** Kills a running service whose processes hold more resident memory than its limit. */
  private enforceMemoryLimit(limitMiB: number): void {
    if (this.state !== 'running' || !this.initPid || this.killReason) return;
    const rssMiB = treeRssBytes(this.initPid) / 2 ** 20;
    if (rssMiB <= limitMiB) return;
    this.killReason = `memory limit of ${limitMiB} MiB exceeded (${Math.round(rssMiB)} MiB resident)`;
    this.o.log.warn({ rssMiB: Math.round(rssMiB), limitMiB }, 'memory limit exceeded: killing the service');
    signal(this.initPid, 'SIGKILL');
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
      lastExit: this.lastExit,
      restarts: this.restarts,
      decisions: this.decisions,
    };
  }

  logs(n: number): string[] {
    return this.lines.slice(-n);
  }

  imageDir(checkpointId: string): string {
    return path.join(this.o.dir, 'images', checkpointId);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private require(allowed: ServiceState[], op: string): void {
    if (!allowed.includes(this.state)) {
      throw new Error(`cannot ${op} ${this.o.spec.name}: it is ${this.state} (needs ${allowed.join(' or ')})`);
    }
  }

  start(): Promise<DaemonStatus> {
    return this.exclusive(async () => {
      this.require(['standby', 'exited', 'checkpointed'], 'start');
      this.state = 'starting';
      const child = spawnServiceTree({
        command: this.o.spec.command,
        cwd: this.o.spec.cwd ?? '/',
        env: { PATH: BASE_PATH, ...this.o.spec.env },
        tools: this.tools,
      });
      this.attach(child);
      try {
        this.initPid = await findNamespaceInit(child.pid!);
      } catch (err) {
        this.state = 'exited';
        throw err;
      }
      this.state = 'running';
      this.startedAt = new Date().toISOString();
      this.o.log.info({ pid: this.initPid, command: this.o.spec.command }, 'service started');
      return this.status();
    });
  }

  checkpoint(checkpointId: string, leaveRunning: boolean): Promise<CheckpointResult> {
    return this.exclusive(async () => {
      if (this.lastCheckpointResult?.checkpointId === checkpointId && this.state !== 'checkpointing') return this.lastCheckpointResult;
      this.require(['running'], 'checkpoint');
      const pid = this.initPid!;
      const dir = this.imageDir(checkpointId);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const sidecar: ImageSidecar = { stdioPipe: stdioPipeOf(pid), service: this.o.spec.name, sourceHost: this.o.host };
      fs.writeFileSync(path.join(dir, SIDECAR), JSON.stringify(sidecar));
      this.state = 'checkpointing';
      const frozenAt = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await criuDump(this.o.criuPath, pid, dir, leaveRunning, this.o.container);
          break;
        } catch (err) {
          // CRIU resumes the tree when a dump fails, so the service is still running. Several
          // dumps at once on one host fail now and then (the parasite's reply comes back empty),
          // so a failed dump of a live tree is tried again, from a clean folder, twice at most.
          if (attempt < DUMP_ATTEMPTS && isAlive(pid)) {
            this.o.log.warn({ checkpointId, attempt, err: err instanceof Error ? err.message : String(err) }, 'dump failed, trying again');
            for (const f of fs.readdirSync(dir)) if (f !== SIDECAR) fs.rmSync(path.join(dir, f), { force: true });
            await new Promise((r) => setTimeout(r, 100 * attempt));
            continue;
          }
          this.state = isAlive(pid) ? 'running' : 'exited';
          throw err;
        }
      }
      const dumpMs = Date.now() - frozenAt;
      fs.writeFileSync(path.join(dir, SIDECAR), JSON.stringify({ ...sidecar, files: imageFileSizes(dir) }));
      if (leaveRunning) this.state = 'running';
      else {
        this.state = 'checkpointed';
        this.initPid = null;
      }
      const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
      this.lastCheckpoint = { id: checkpointId, at: new Date(frozenAt).toISOString(), bytes, dumpMs };
      this.o.log.info({ checkpointId, dumpMs, bytes, leaveRunning }, 'checkpoint written');
      const hookMs = await this.runHook('postCheckpoint', dir);
      this.lastCheckpointResult = { checkpointId, frozenAt, dumpMs, hookMs, bytes, leftRunning: leaveRunning };
      return this.lastCheckpointResult;
    });
  }

  restore(checkpointId: string): Promise<RestoreResult> {
    return this.exclusive(async () => {
      if (this.lastRestoreResult?.checkpointId === checkpointId && this.state === 'running') return this.lastRestoreResult;
      this.require(['standby', 'exited', 'checkpointed'], 'restore');
      const dir = this.imageDir(checkpointId);
      const sidecarFile = path.join(dir, SIDECAR);
      if (!fs.existsSync(sidecarFile)) throw new Error(`no checkpoint image ${checkpointId} on ${this.o.host}`);
      const sidecar = JSON.parse(fs.readFileSync(sidecarFile, 'utf8')) as ImageSidecar;
      // CRIU may hang on a truncated image instead of failing: refuse one that is not as dumped.
      const damage = sidecar.files ? imageDamage(dir, sidecar.files) : null;
      if (damage) throw new Error(`checkpoint image ${checkpointId} on ${this.o.host} is damaged: ${damage}`);
      this.state = 'restoring';
      let hookMs = 0;
      try {
        hookMs = await this.runHook('preRestore', dir);
      } catch (err) {
        this.state = 'standby';
        throw err;
      }
      const t0 = Date.now();
      const pidfile = path.join(dir, 'restore.pid');
      const ready = path.join(dir, 'restore.ready');
      fs.rmSync(pidfile, { force: true });
      fs.rmSync(ready, { force: true });
      const child = spawn(this.tools.sh, criuRestoreArgs(this.o.criuPath, dir, sidecar, pidfile, this.tools, this.o.container), {
        cwd: dir,
        env: { PATH: this.o.tools ? `${path.dirname(this.tools.sh)}:${BASE_PATH}` : BASE_PATH, FASTMIG_READY_FILE: ready, FASTMIG_CRIU_OUT: path.join(dir, 'criu.out') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.attach(child);
      // Generous for the image's size, but bounded: a restore that hangs is ended.
      const bytes = Object.values(sidecar.files ?? {}).reduce((n, b) => n + b, 0);
      const ok = await waitFor(() => fs.existsSync(ready), () => this.child !== child, 30_000 + bytes / 20_000);
      if (!ok) {
        this.state = 'standby';
        // criu and whatever it restored so far go too, not just the shell that started it.
        for (const p of [child.pid!, ...descendantsOf(child.pid!)]) signal(p, 'SIGKILL');
        throw new Error(`criu restore failed: ${criuErrors(path.join(dir, 'restore.log'))}`);
      }
      this.initPid = Number(fs.readFileSync(pidfile, 'utf8').trim());
      const restoreMs = Date.now() - t0;
      this.state = 'running';
      this.startedAt = new Date().toISOString();
      this.lastRestore = { id: checkpointId, at: this.startedAt, restoreMs };
      this.o.log.info({ checkpointId, restoreMs, pid: this.initPid }, 'service restored');
      this.lastRestoreResult = { checkpointId, restoreMs, hookMs, pid: this.initPid };
      return this.lastRestoreResult;
    });
  }

  /**
   * Fencing: the service is stopped when its host agent has not renewed the lease for too long,
   * because by then the orchestrator may have restored it on another host.
   */
  watchLease(file: string, ttlSeconds: number): NodeJS.Timeout {
    return setInterval(() => {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (!st || this.state !== 'running') return;
      const ageS = (Date.now() - st.mtimeMs) / 1000;
      if (ageS <= ttlSeconds) return;
      this.o.log.warn({ leaseAgeS: Math.round(ageS) }, 'fenced: the host agent is silent, the service may run elsewhere now');
      this.decisions.push({
        at: new Date().toISOString(),
        exit: { at: new Date().toISOString(), code: null, signal: 'SIGKILL', reason: `fenced after ${Math.round(ageS)} s without the host agent` },
        action: 'standby',
        reason: 'lease expired: stopped so that only one instance can serve',
        delayMs: 0,
      });
      void this.stop(0);
    }, 1000);
  }

  /** Stops the service (SIGTERM, then SIGKILL after the grace period); the daemon stays in standby. */
  stop(graceMs: number): Promise<DaemonStatus> {
    return this.exclusive(async () => {
      if (this.state !== 'running' || !this.initPid) {
        if (this.state !== 'exited') this.state = 'standby';
        return this.status();
      }
      const child = this.child;
      this.state = 'stopping';
      for (const p of childrenOf(this.initPid)) signal(p, 'SIGTERM');
      const gone = await waitFor(() => this.child !== child, () => false, graceMs);
      if (!gone) {
        signal(this.initPid, 'SIGKILL');
        await waitFor(() => this.child !== child, () => false, 5000);
      }
      this.initPid = null;
      this.state = 'standby';
      this.o.log.info('service stopped');
      return this.status();
    });
  }

  /** Wires a wrapper's output into the log and watches for the end of the service. */
  private attach(child: ChildProcess): void {
    this.child = child;
    this.exitCode = null;
    child.stdout!.on('data', (d: Buffer) => this.onOutput(d));
    child.stderr!.on('data', (d: Buffer) => this.onOutput(d));
    child.on('close', () => {
      if (this.child !== child) return;
      this.child = null;
      if (this.state === 'running' || this.state === 'starting') {
        const code = this.exitCode;
        const sig = code !== null && code > 128 ? signalName(code - 128) : null;
        this.lastExit = {
          at: new Date().toISOString(),
          code: sig ? null : code,
          signal: sig ?? (code === null ? 'SIGKILL' : null),
          reason: this.killReason ?? (code === null ? 'the process tree was killed' : sig ? `killed by ${sig}` : `exited with code ${code}`),
        };
        this.killReason = null;
        this.state = 'exited';
        this.initPid = null;
        this.o.log.warn({ lastExit: this.lastExit }, 'service ended');
        void this.applyRestartPolicy(this.lastExit);
      }
    });
  }

  /** Runs the restart policy after the service ended on its own; the daemon itself stays. */
  private async applyRestartPolicy(exit: ExitRecord): Promise<void> {
    // The newest consistent state on this host: its last checkpoint, or the image it was restored
    // from (a migrated service has no checkpoint of its own here yet).
    const ck = newest(this.lastCheckpoint, this.lastRestore);
    const hasCheckpoint = !!ck && fs.existsSync(path.join(this.imageDir(ck.id), SIDECAR));
    const d = await decide(this.o.spec.restart, exit, this.restarts, hasCheckpoint, {
      PATH: BASE_PATH,
      ...this.o.spec.env,
      FASTMIG_SERVICE: this.o.spec.name,
      FASTMIG_HOST: this.o.host,
    });
    this.decisions.push({ at: new Date().toISOString(), exit, ...d });
    if (this.decisions.length > 20) this.decisions.shift();
    this.o.log.info({ decision: d.action, reason: d.reason, delayMs: d.delayMs, restarts: this.restarts }, 'restart policy decided');
    if (this.state !== 'exited') return;
    if (d.action === 'standby') {
      this.state = 'standby';
      return;
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state !== 'exited') return; // stopped, removed or restored meanwhile
      this.restarts++;
      const run = d.action === 'restore' ? this.restore(ck!.id) : this.start();
      run.catch((err) => this.o.log.error({ err: err instanceof Error ? err.message : String(err), action: d.action }, 'restart failed'));
    }, d.delayMs);
  }

  private onOutput(d: Buffer): void {
    const text = this.partial + d.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith(EXIT_MARKER + ' ')) {
        this.exitCode = Number(line.slice(EXIT_MARKER.length + 1));
        continue;
      }
      this.lines.push(line);
      if (this.lines.length > LOG_RING) this.lines.splice(0, this.lines.length - LOG_RING);
      this.logFile.write(line + '\n');
    }
  }

  private async runHook(which: 'postCheckpoint' | 'preRestore', imageDir: string): Promise<number> {
    const cmd = this.o.spec.hooks[which];
    if (!cmd) return 0;
    const t0 = Date.now();
    const r = await run(this.tools.sh, ['-c', cmd], {
      cwd: this.o.dir,
      timeoutMs: 60_000,
      env: {
        PATH: BASE_PATH,
        ...this.o.spec.env,
        FASTMIG_SERVICE: this.o.spec.name,
        FASTMIG_HOST: this.o.host,
        FASTMIG_HOOK: which,
        FASTMIG_IMAGE_DIR: imageDir,
      },
    });
    const ms = Date.now() - t0;
    this.o.log.info({ hook: which, exitCode: r.exitCode, ms }, 'hook ran');
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ');
      throw new Error(`${which} hook failed on ${this.o.host} with exit code ${r.exitCode}${why ? `: ${why}` : ''}`);
    }
    return ms;
  }

  async shutdown(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.memoryWatch) clearInterval(this.memoryWatch);
    this.state = this.state === 'exited' ? 'standby' : this.state;
    await this.stop(3000);
    this.logFile.end();
  }
}

function newest(a: { id: string; at: string } | null, b: { id: string; at: string } | null): { id: string; at: string } | null {
  if (!a || !b) return a ?? b;
  return Date.parse(b.at) > Date.parse(a.at) ? b : a;
}

function signalName(n: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
  return names[n] ?? `SIG${n}`;
}

/** Polls cond every 2 ms until it holds (true), abort holds or the time runs out (false). */
async function waitFor(cond: () => boolean, abort: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    if (abort()) return cond();
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}
