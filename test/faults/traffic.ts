// What the fault matrix sees of a service while a fault strikes: every write a client made and
// whether it was acknowledged (Writer), every checkpoint the service took and when it froze
// (CheckpointLog), and which hosts serve it, asked every 100 ms (InstanceWatch).
import { ops } from '../../client';
import { endpointOf, keys } from '../../common/names';
import { loadConfig } from '../../common/config';
import { readJson, s3Client } from '../../common/s3';
import { httpText } from '../../demo/probe';
import type { HostAskers } from './network';

const cfg = loadConfig();
const s3 = s3Client(cfg);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Write {
  key: string;
  value: string;
  sentAt: number;
  /** When the service answered 200 (stored); null when it did not (a write that may or may not be there). */
  ackAt: number | null;
  endpoint: string;
}

/** Where the registry says the service answers now, read straight from the image store. */
async function registryEndpoint(service: string): Promise<string | null> {
  const p = await readJson<{ spec: { port?: number }; hostPort?: number; address?: string }>(s3, cfg.s3.bucket, keys.placement(service));
  return p ? endpointOf(p) : null;
}

/**
 * A client writing one new key every `everyMs` to wherever the registry says the service is: on a
 * failure (and every few seconds) it reads the registry's endpoint again, as a client would.
 */
export class Writer {
  readonly writes: Write[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private endpoint: string;

  constructor(
    private readonly service: string,
    endpoint: string,
    private readonly everyMs = 300,
  ) {
    this.endpoint = endpoint;
  }

  start(): void {
    this.loop = (async () => {
      let lastLookup = Date.now();
      for (let i = 1; !this.stopped; i++) {
        const t = Date.now();
        const w: Write = { key: `k${i}`, value: `v${i}-${Math.random().toString(36).slice(2, 8)}`, sentAt: t, ackAt: null, endpoint: this.endpoint };
        this.writes.push(w);
        const r = await Promise.race([httpText(this.endpoint, 'PUT', `/kv/${w.key}`, w.value).catch(() => null), sleep(2000).then(() => null)]);
        if (r?.status === 200) w.ackAt = Date.now();
        if (!w.ackAt || Date.now() - lastLookup > 3000) {
          lastLookup = Date.now();
          const e = await Promise.race([registryEndpoint(this.service).catch(() => null), sleep(2000).then(() => null)]);
          if (e) this.endpoint = e;
        }
        const wait = this.everyMs - (Date.now() - t);
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  acked(): Write[] {
    return this.writes.filter((w) => w.ackAt !== null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export interface Checkpoint {
  id: string;
  frozenAt: number;
}

/** The service's checkpoints as its status shows them: id and freeze time; which one the registry stores. */
export class CheckpointLog {
  private frozen = new Map<string, number>();
  /** Stored checkpoints in the order the registry named them. */
  private storedIds: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly service: string) {}

  /** The service's newest checkpoint and newest stored checkpoint, as last seen. */
  last: { local: Checkpoint | null; stored: Checkpoint | null } = { local: null, stored: null };

  async poll(): Promise<{ local: Checkpoint | null; stored: Checkpoint | null }> {
    const v = (await ops.inspect(this.service))[0];
    if (v.lastCheckpoint) this.frozen.set(v.lastCheckpoint.id, Date.parse(v.lastCheckpoint.at));
    if (v.storedCheckpoint && this.storedIds.at(-1) !== v.storedCheckpoint) this.storedIds.push(v.storedCheckpoint);
    this.last = { local: v.lastCheckpoint ? this.of(v.lastCheckpoint.id) : null, stored: v.storedCheckpoint ? this.of(v.storedCheckpoint) : null };
    return this.last;
  }

  of(id: string): Checkpoint | null {
    const frozenAt = this.frozen.get(id);
    return frozenAt === undefined ? null : { id, frozenAt };
  }

  start(everyMs = 1000): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.poll()
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stored checkpoints frozen after `t` whose freeze time is known. */
  storedSince(t: number): Checkpoint[] {
    return this.storedIds.map((id) => this.of(id)).filter((c): c is Checkpoint => !!c && c.frozenAt > t);
  }
}

/**
 * Asks every host, at its own address and from inside it, whether the service's port answers:
 * the most hosts seen serving at once, and since when each host serves without a break.
 */
export class InstanceWatch {
  private most = 0;
  private mostAt: { at: number; hosts: string[] } | null = null;
  private streak = new Map<string, number>();
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly askers: HostAskers,
    private readonly port: number,
  ) {}

  start(everyMs = 100): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const t = Date.now();
        const serving = await this.askers.serving(this.port);
        for (const h of this.askers.hosts) {
          if (!serving.includes(h)) this.streak.delete(h);
          else if (!this.streak.has(h)) this.streak.set(h, t);
        }
        if (serving.length > this.most) {
          this.most = serving.length;
          this.mostAt = { at: t, hosts: serving };
        }
        const wait = everyMs - (Date.now() - t);
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  /** The most hosts seen serving in one round, and which they were the first time. */
  max(): { count: number; at?: number; hosts?: string[] } {
    return { count: this.most, ...this.mostAt };
  }

  /** Since when `host` has served without a break (the round that first saw it), or null. */
  servingSince(host: string): number | null {
    return this.streak.get(host) ?? null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
