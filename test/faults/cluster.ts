// The fault matrix's handles on the real stack: two extra hosts, each a namespace and address of its
// own on the stack's network, whose agents run with fault points armed through a file, each on its
// own small file system (so "disk full" is a real ENOSPC), and ways to kill, stop and restart every
// part (agents, host, orchestrator worker, Temporal, S3) and to cut or slow a host's link.
import fs from 'fs';
import os from 'os';
import path from 'path';
import execa from 'execa';
import { Client, Connection } from '@temporalio/client';
import { ops, queuePollers } from '../../client';
import { pidAlive } from '../../common/pid-file';
import { loadConfig, paths, REPO_ROOT } from '../../common/config';
import { hostQueue, keys, migrateWorkflowId } from '../../common/names';
import { s3Client } from '../../common/s3';
import { FaultPoint, reachedMarker } from '../../common/faults';
import { descendantsOf } from '../../daemon/process-tree';
import { serviceFolder } from '../../common/service-folder';
import type { MigrationReport } from '../../common/schemas';
import { addHost, dropHost, spawnAgent } from '../host-agent';
import { addressesOf, cutLink, HostAskers, restoreLink, slowLink, unslowLink } from './network';

export const SOURCE = 'faultA';
export const TARGET = 'faultB';
export const FAULT_HOSTS = [SOURCE, TARGET];
export const ALL_HOSTS = ['hostA', 'hostB', SOURCE, TARGET];
/**
 * Daemons on the fault hosts fence their service after this long without a grant. The cluster's own
 * lease: the fencing rule needs every voter's fresh window (lease − 6 s) longer than the gap
 * between two of the monitor's pings, or an outage of the control plane longer than a short lease
 * fences hosts that their peers (on the longer lease) do not yet vouch for. Shorter than a cut.
 */
export const FAULT_LEASE_SECONDS = 20;
/** Each fault host's folder is a file system of this size; "disk full" fills it. */
const HOST_FS_MIB = 256;

const cfg = loadConfig();
const node = process.execPath;
const cli = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-faults-'));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, probe: () => Promise<T | false | null | undefined> | T | false | null | undefined, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function stackUp(): Promise<void> {
  const r = await execa(node, [cli, 'stack', 'up'], { reject: false, timeout: 180_000 });
  if (r.exitCode !== 0) throw new Error(`stack up failed: ${r.stderr || r.stdout}`);
}

export class FaultCluster {
  private agents = new Map<string, execa.ExecaChildProcess>();
  private connection: Connection | null = null;
  private cutOff = new Set<string>();
  private slowed = new Set<string>();
  /** Asks each host (the stack's and the fault hosts) at its own address, from inside it. */
  askers!: HostAskers;

  faultsFile(host: string): string {
    return path.join(workDir, `${host}.json`);
  }

  async start(): Promise<void> {
    this.connection = await Connection.connect({ address: cfg.temporalAddress });
    for (const host of FAULT_HOSTS) await addHost(host);
    this.askers = new HostAskers(await addressesOf(ALL_HOSTS));
    for (const host of FAULT_HOSTS) {
      const dir = paths.hostDir(host);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const mounted = (await execa('mountpoint', ['-q', dir], { reject: false })).exitCode === 0;
      if (!mounted) await execa('mount', ['-t', 'tmpfs', '-o', `size=${HOST_FS_MIB}m,mode=0700`, 'fastmig-fault-host', dir]);
      await this.startAgent(host);
    }
  }

  async stop(): Promise<void> {
    await this.healNetwork();
    for (const host of FAULT_HOSTS) await this.killHost(host);
    this.askers?.close();
    for (const host of FAULT_HOSTS) {
      await dropHost(host);
      await s3Client(cfg).removeObject(cfg.s3.bucket, keys.host(host)).catch(() => undefined);
      await execa('umount', ['-l', paths.hostDir(host)], { reject: false });
      fs.rmSync(paths.hostDir(host), { recursive: true, force: true });
    }
    await this.connection?.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }

  async startAgent(host: string): Promise<void> {
    // In the host's namespace, seeing only its own folders, as the stack starts an agent. Images in
    // the service folder: that folder is itself a small tmpfs here, so images stay on tmpfs and a
    // full "disk" reaches them. Their transfers are compressed, so that path meets the faults too
    // (the main stack's agents use the default, uncompressed).
    const agent = spawnAgent(host, {
      FASTMIG_LEASE_SECONDS: String(FAULT_LEASE_SECONDS),
      FASTMIG_FAULTS_FILE: this.faultsFile(host),
      FASTMIG_IMAGES_TMPFS: '0',
      FASTMIG_PEER_COMPRESSION: 'brotli',
      FASTMIG_LOG_LEVEL: 'warn',
    });
    this.agents.set(host, agent);
    const conn = this.connection!;
    await until(`agent of ${host} ready`, async () => (await ops.hosts()).some((h) => h.host === host && h.pid === agent.pid) && (await queuePollers(conn, cfg.namespace, hostQueue(host))) > 0, 60_000, 250);
  }

  async killAgent(host: string): Promise<void> {
    const agent = this.agents.get(host);
    this.agents.delete(host);
    if (!agent) return;
    agent.kill('SIGKILL');
    await agent;
  }

  /** The whole host goes: its agent, every daemon and every service process on it. */
  async killHost(host: string): Promise<void> {
    await this.killAgent(host);
    const root = paths.hostDir(host);
    const doomed: number[] = [];
    for (const svc of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      const pid = pidAlive(serviceFolder(path.join(root, svc)).pid);
      if (pid) doomed.push(pid, ...descendantsOf(pid));
    }
    killAll(doomed);
  }

  /** The host's link on the bridge goes down; everything on the host runs on, cut off. */
  async cut(host: string): Promise<void> {
    this.cutOff.add(host);
    await cutLink(host);
  }

  async reconnect(host: string): Promise<void> {
    await restoreLink(host);
    this.cutOff.delete(host);
  }

  /** Everything the host sends and receives crawls at `rate` (tc units) until unslowed. */
  async slow(host: string, rate: string): Promise<void> {
    this.slowed.add(host);
    await slowLink(host, rate);
  }

  async unslow(host: string): Promise<void> {
    await unslowLink(host);
    this.slowed.delete(host);
  }

  /** Every link this cluster cut or slowed is whole again. */
  async healNetwork(): Promise<void> {
    for (const h of [...this.cutOff]) await this.reconnect(h);
    for (const h of [...this.slowed]) await this.unslow(h);
  }

  /** Where a service on `port` answers on `host` (its host's address). */
  endpointOn(host: string, port: number): string {
    return `${this.askers.address(host)}:${port}`;
  }

  /** Arms a fault point on a host's agent (see common/faults.ts). */
  arm(host: string, point: FaultPoint, entry: { action: 'pause' | 'fail'; times?: number; match?: string }): void {
    const file = this.faultsFile(host);
    let entries: Record<string, unknown> = {};
    try {
      entries = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      /* none yet */
    }
    entries[point] = entry;
    fs.writeFileSync(file, JSON.stringify(entries));
  }

  disarmAll(): void {
    for (const host of FAULT_HOSTS) {
      fs.rmSync(this.faultsFile(host), { force: true });
      for (const f of fs.readdirSync(workDir)) if (f.startsWith(`${host}.json.`)) fs.rmSync(path.join(workDir, f), { force: true });
    }
  }

  async reached(host: string, point: FaultPoint, timeoutMs = 60_000): Promise<void> {
    await until(`${host} reaching ${point}`, () => fs.existsSync(reachedMarker(this.faultsFile(host), point)), timeoutMs, 20);
  }

  release(host: string, point: FaultPoint): void {
    fs.rmSync(reachedMarker(this.faultsFile(host), point), { force: true });
  }

  /** Fills a fault host's file system to the last byte (a real ENOSPC for whoever writes next). */
  fillDisk(host: string): void {
    const fd = fs.openSync(path.join(paths.hostDir(host), '.ballast'), 'w');
    const chunk = Buffer.alloc(1 << 20);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch {
      /* full */
    }
    try {
      for (;;) fs.writeSync(fd, chunk.subarray(0, 512));
    } catch {
      /* full to the last block */
    } finally {
      fs.closeSync(fd);
    }
  }

  freeDisk(host: string): void {
    fs.rmSync(path.join(paths.hostDir(host), '.ballast'), { force: true });
  }

  private runPid(name: string): number | null {
    return pidAlive(path.join(paths.runDir(), `${name}.pid`));
  }

  async killOrchestrator(): Promise<void> {
    const pid = this.runPid('orchestrator');
    if (pid) killAll([pid]);
  }

  async killTemporal(): Promise<void> {
    const pid = this.runPid('temporal');
    if (pid) killAll([pid, ...descendantsOf(pid)]);
    await until('Temporal gone', () => !this.runPid('temporal'), 10_000, 50);
  }

  async stopS3(): Promise<void> {
    const pid = this.runPid('s3');
    if (pid) killAll([pid]);
    await until('S3 gone', () => !this.runPid('s3'), 10_000, 50);
  }

  /** Starts whatever of the embedded stack is missing (what a service manager would do). */
  async restoreStack(): Promise<void> {
    await stackUp();
    if (this.connection) await this.connection.close().catch(() => undefined);
    this.connection = await Connection.connect({ address: cfg.temporalAddress });
  }

  /** After a scenario, whatever it left dead is started again, so the next one begins whole. */
  async heal(): Promise<void> {
    await this.healNetwork();
    if (!this.runPid('temporal') || !this.runPid('s3') || !this.runPid('orchestrator')) await this.restoreStack();
    for (const host of FAULT_HOSTS) {
      const agent = this.agents.get(host);
      if (!agent || agent.exitCode !== null || agent.killed) await this.startAgent(host);
    }
  }

  /** Where the agents' fault files live: corrupting an image in S3 needs the client too. */
  s3() {
    return s3Client(cfg);
  }

  /** The migration's report, even when the caller's own connection broke meanwhile. */
  async migrationReport(service: string, running: Promise<MigrationReport>, timeoutMs: number): Promise<MigrationReport> {
    try {
      return await running;
    } catch {
      return until(`migration of ${service} to end`, async () => {
        const conn = await Connection.connect({ address: cfg.temporalAddress, connectTimeout: 2000 });
        try {
          const handle = new Client({ connection: conn, namespace: cfg.namespace }).workflow.getHandle(migrateWorkflowId(service));
          const d = await handle.describe();
          return d.status.name === 'RUNNING' ? null : ((await handle.result()) as MigrationReport);
        } finally {
          await conn.close();
        }
      }, timeoutMs, 1000);
    }
  }
}
