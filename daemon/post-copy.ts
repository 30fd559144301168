// Post-copy (a migration's lazy mode). The source's CRIU writes every image but the memory pages,
// then serves those pages from its page server while the tree stays frozen; the target runs as soon
// as it is restored and fetches each page as it touches it (userfaultfd), the rest streaming behind.
// Until the last page is across the source keeps its tree: resuming it is the rollback, without a
// restore. The target cannot run without the source: should its lazy-pages daemon fail, pages not
// yet copied would read as zeros, so its tree is ended at once.
import fs from 'fs';
import net from 'net';
import type { ChildProcess } from 'child_process';
import type { LineLogger as Logger } from '../common/log-lite';
import { imageFolder } from '../common/service-folder';
import { criuErrors } from './criu';
import { signal, signalTree, waitFor } from './process-tree';
import { run } from './run';
import { deleteRule, listedRules } from './iptables';
import { BASE_PATH } from './tools';
import type { ServiceAddress } from './service-address';

export interface PageServer {
  address: string;
  port: number;
}

/** A free TCP port at `address` for a page server (the kernel picks it; CRIU binds it a moment later). */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, address, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A lazy dump keeps the memory in pipes until the target asks for it: more pipe pages than a user
 * may hold without CAP_SYS_RESOURCE ("page-pipe: tee: Operation not permitted"). The soft limit is
 * lifted and the largest pipe raised, as root on this host; false when that is not allowed.
 */
export function liftPipeLimits(): boolean {
  try {
    fs.writeFileSync('/proc/sys/fs/pipe-user-pages-soft', '0');
    const max = Number(fs.readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));
    if (max < 64 * 1024 * 1024) fs.writeFileSync('/proc/sys/fs/pipe-max-size', String(64 * 1024 * 1024));
    return true;
  } catch {
    return false;
  }
}

/** A socket listens on `port` here. Read from /proc: a test connection would be the one peer CRIU's page server takes. */
function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const rows = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  return rows.some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(hex) && f[3] === '0A';
  });
}

/** The page server's port takes packets from the target host only (its pages are the service's memory). */
export class PeerOnly {
  private constructor(private readonly rule: string[]) {}

  static async allow(s: PageServer & { peer: string }): Promise<PeerOnly> {
    const rule = ['INPUT', '-p', 'tcp', '-d', `${s.address}/32`, '--dport', String(s.port), '!', '-s', `${s.peer}/32`, '-j', 'DROP'];
    const r = await run('iptables', ['-w', '-I', ...rule], { timeoutMs: 10_000, env: { PATH: BASE_PATH } });
    if (r.exitCode !== 0) throw new Error(`cannot keep the page server to the target ${s.peer}: ${r.stderr.trim()}`);
    return new PeerOnly(rule);
  }

  async remove(): Promise<void> {
    await run('iptables', ['-w', '-D', ...this.rule], { timeoutMs: 10_000, env: { PATH: BASE_PATH } });
  }
}

/** CRIU's lock on a dumped connection: DROP rules marked so that CRIU's own repair packets pass. */
const CRIU_LOCK = /--mark 0xc114/;

const criuLockRules = () => listedRules((rule) => CRIU_LOCK.test(rule), BASE_PATH);

/** The source's side: a dump serving its pages, then holding the stopped tree until the migration decides. */
export class LazySource {
  private exited = false;
  readonly ended: Promise<number | null>;

  private constructor(
    readonly checkpointId: string,
    readonly pid: number,
    private readonly dump: ChildProcess,
    /** CRIU's lock rules that were there before this dump (others' dumps): a rollback leaves them. */
    private readonly locksBefore: Set<string>,
    private readonly log: Logger,
  ) {
    this.ended = new Promise((resolve) => dump.once('exit', (code) => ((this.exited = true), resolve(code))));
    void this.ended.then((code) => log.info({ checkpointId, exitCode: code }, code === 0 ? 'post-copy source: every page served' : 'post-copy source: page server ended'));
  }

  /**
   * What is set up before the freeze (none of it is downtime): the pipe limits, the lock rules of
   * others' dumps, and the page server's port kept for `server.peer` alone (other hosts' packets
   * to it are dropped).
   */
  static async prepare(server: PageServer & { peer: string }, log: Logger): Promise<{ before: Set<string>; onlyPeer: PeerOnly }> {
    if (!liftPipeLimits()) log.warn('the pipe limits could not be lifted: a large lazy dump may fail');
    return { before: new Set(await criuLockRules()), onlyPeer: await PeerOnly.allow(server) };
  }

  /**
   * Starts the dump (`spawn`) and returns once its images are written and its page server listens;
   * throws when the dump ended first (CRIU resumed the tree).
   */
  static async begin(checkpointId: string, pid: number, dir: string, port: number, ready: { before: Set<string>; onlyPeer: PeerOnly }, spawn: () => ChildProcess, log: Logger): Promise<LazySource> {
    const s = new LazySource(checkpointId, pid, spawn(), ready.before, log);
    void s.ended.then(() => ready.onlyPeer.remove());
    const f = imageFolder(dir);
    if (await waitFor(() => fs.existsSync(f.dumped) && listening(port), () => s.exited, 120_000)) {
      // Queued now, while CRIU holds the tree: however the dump ends (every page served; a failed
      // transfer, after which CRIU resumes the tree; killed), the tree stops, and runs again only
      // when resume() says so. A target that may have served never meets a source that ran on.
      signalTree(pid, 'SIGSTOP');
      return s;
    }
    if (!s.exited) signal(s.dump.pid!, 'SIGKILL');
    await s.ended;
    throw new Error(`criu dump failed: ${criuErrors(f.dumpLog)}`);
  }

  /**
   * The rollback: the page server ends (should it still serve), CRIU's locks on the tree's
   * connections go (a dump that ends the tree leaves them) and the tree runs on from where it froze.
   */
  async resume(): Promise<void> {
    if (!this.exited) signal(this.dump.pid!, 'SIGKILL');
    await this.ended;
    for (const rule of await criuLockRules()) {
      if (this.locksBefore.has(rule)) continue;
      await deleteRule(rule, BASE_PATH);
    }
    signalTree(this.pid, 'SIGCONT');
    this.log.warn({ checkpointId: this.checkpointId, pid: this.pid }, 'post-copy source resumed (rollback)');
  }

  /** The service lives on the target with every page: the stopped tree ends here. */
  async end(): Promise<void> {
    if (!this.exited) signal(this.dump.pid!, 'SIGKILL');
    signalTree(this.pid, 'SIGKILL');
    await this.ended;
  }
}

export type PagesState = { state: 'none' } | { state: 'pending' } | { state: 'across'; at: number } | { state: 'failed'; error: string };

/** The target's side: CRIU's lazy-pages daemon, from before the restore until the last page is in. */
export class LazyTarget {
  private result: PagesState = { state: 'pending' };
  readonly done: Promise<PagesState>;

  constructor(
    private readonly child: ChildProcess,
    private readonly logFile: string,
    /** Ends the restored tree: it must never run on with pages missing. */
    onFailure: () => void,
    log: Logger,
  ) {
    this.done = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.result = code === 0 ? { state: 'across', at: Date.now() } : { state: 'failed', error: `the lazy-pages daemon ended (${code ?? 'signal'}): ${criuErrors(logFile)}` };
        if (code !== 0) onFailure();
        log.info({ pages: this.result.state }, 'post-copy target: page transfer ended');
        resolve(this.result);
      }),
    );
  }

  get state(): PagesState {
    return this.result;
  }

  /** Waits (up to `ms`) for the daemon's socket, which the restore connects to. */
  async socketReady(dir: string, ms: number): Promise<void> {
    const socket = imageFolder(dir).lazyPagesSocket;
    if (await waitFor(() => fs.existsSync(socket), () => this.result.state !== 'pending', ms)) return;
    this.stop();
    throw new Error(`criu lazy-pages did not start: ${this.result.state === 'failed' ? this.result.error : criuErrors(this.logFile)}`);
  }

  stop(): void {
    signal(this.child.pid!, 'SIGKILL');
  }
}

/** A daemon's post-copy parts: the source it holds until its migration decides, the target still filling. */
export class PostCopy {
  source: LazySource | null = null;
  target: LazyTarget | null = null;

  /** The rollback: the held tree runs on here, its address back first; returns its pid. */
  async resumeSource(address: ServiceAddress | null): Promise<number> {
    const held = this.source!;
    await address?.claim();
    await held.resume();
    this.source = null;
    address?.announce();
    return held.pid;
  }

  async waitTarget(ms: number): Promise<PagesState> {
    const t = this.target;
    if (!t) return { state: 'none' };
    return Promise.race([t.done, new Promise<PagesState>((r) => setTimeout(() => r(t.state), ms).unref())]);
  }

  /** The service leaves this host: a held source tree ends, a filling target's transfer too. */
  async end(): Promise<void> {
    this.target?.stop();
    await this.source?.end();
    [this.source, this.target] = [null, null];
  }
}
