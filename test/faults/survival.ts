// What "survived" means after a fault, checked on the real stack: exactly one copy serves (asked
// at every host's own address, from inside the host, so a copy behind a cut link counts too) or
// the service is in standby where its policy says so, never two at once, every acknowledged write
// is there (or, where the service had to go back to a checkpoint, every write acknowledged before
// the checkpoint it must go back to froze, and every one since it serves again), no other host
// keeps a copy of it, no half-written image is left, and all of it within the scenario's bound.
import fs from 'fs';
import path from 'path';
import { ops } from '../../client';
import { Client, Connection } from '@temporalio/client';
import { fastmigHome, loadConfig, paths } from '../../common/config';
import { tmpfsImagesDir } from '../../image/folder';
import { serviceFolder } from '../../common/service-folder';
import { entityWorkflowId } from '../../common/names';
import { httpText } from '../../demo/probe';
import { kvProcesses } from '../helpers';
import { ALL_HOSTS, until } from './cluster';
import type { HostAskers } from './network';
import type { Checkpoint, InstanceWatch, Write, Writer } from './traffic';

const cfg = loadConfig();

export interface Expectation {
  /** running: one copy answers; standby: none runs, by the restart policy's decision. */
  state: 'running' | 'standby';
  /**
   * live: every acknowledged write. checkpoint: those acknowledged before the service's newest
   * checkpoint at the fault froze (a restore on its host). stored: those acknowledged before the
   * newest checkpoint stored in S3 at the fault froze (a failover). Both: and every write
   * acknowledged since the serving copy answers.
   */
  data: 'live' | 'checkpoint' | 'stored';
  /** Seconds from the fault until all of the above holds. */
  boundS: number;
}

/** What the matrix saw of the service around the fault. */
export interface Observed {
  service: string;
  port: number;
  askers: HostAskers;
  writer: Writer;
  watch: InstanceWatch;
  /** The service's newest checkpoint and newest stored checkpoint when the fault struck. */
  atFault: { local: Checkpoint | null; stored: Checkpoint | null };
}

/** Processes of the service's daemons on any host (their command line names the service folder). */
function daemonsOf(service: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[1]?.endsWith(path.join('daemon', 'main.js')) && cmd.some((a) => a.endsWith(`/${service}`))) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

function criuOf(service: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (/\/criu\0/.test(cmd) && cmd.includes(`${serviceFolder(`/${service}`).images}/`)) out.push(cmd);
    } catch {
      /* exited */
    }
  }
  return out;
}

function leftovers(service: string, home: string): string[] {
  const found: string[] = [];
  for (const host of ALL_HOSTS) {
    if (host !== home && fs.existsSync(tmpfsImagesDir(host, service, fastmigHome()))) found.push(`images on ${host}'s tmpfs`);
    const dir = paths.serviceDir(host, service);
    if (!fs.existsSync(dir)) continue;
    if (host !== home) found.push(`a copy on ${host}`);
    const images = serviceFolder(dir).images;
    for (const n of fs.existsSync(images) ? fs.readdirSync(images) : []) {
      if (n.endsWith('.partial') || n.endsWith('.upload.json')) found.push(`${host}: temporary ${n}`);
    }
  }
  // A restored tree keeps its `criu restore` as parent on its host; any other criu is left over.
  const criu = criuOf(service);
  const stray = criu.filter((c) => !c.includes(`/hosts/${home}/${service}/`));
  if (stray.length) found.push(`${stray.length} criu processes left on other hosts`);
  return found;
}

/** The writes the data must hold (see Expectation.data), or why that cannot be told. */
function requiredWrites(o: Observed, x: Expectation, serving: string): Write[] | string {
  const acked = o.writer.acked();
  if (x.data === 'live') return acked;
  const base = x.data === 'checkpoint' ? o.atFault.local : o.atFault.stored;
  if (!base) return `no ${x.data === 'checkpoint' ? '' : 'stored '}checkpoint was known when the fault struck`;
  const since = o.watch.servingSince(serving);
  return acked.filter((w) => w.ackAt! < base.frozenAt || (since !== null && w.sentAt >= since));
}

/** Reads back every write made so far; problems: required ones missing, any with a value never written. */
async function checkData(o: Observed, x: Expectation, endpoint: string, serving: string): Promise<string[]> {
  const required = requiredWrites(o, x, serving);
  if (typeof required === 'string') return [required];
  // Only writes settled before the reading starts: one acknowledged meanwhile may be read before it landed.
  const cut = Date.now();
  const must = new Set(required.filter((w) => w.ackAt! < cut).map((w) => w.key));
  const writes = o.writer.writes.filter((w) => (w.ackAt !== null && w.ackAt < cut) || (w.ackAt === null && cut - w.sentAt > 3000));
  const missing: string[] = [];
  const wrong: string[] = [];
  for (let i = 0; i < writes.length; i += 25) {
    const batch = writes.slice(i, i + 25);
    const got = await Promise.all(batch.map((w) => httpText(endpoint, 'GET', `/kv/${w.key}`)));
    for (const [j, r] of got.entries()) {
      const w = batch[j];
      if (r.status === 200 && r.text !== w.value) wrong.push(`${w.key}=${JSON.stringify(r.text)}`);
      else if (r.status === 404 && must.has(w.key)) missing.push(w.key);
      else if (r.status !== 200 && r.status !== 404) throw new Error(`reading ${w.key}: HTTP ${r.status}`);
    }
  }
  const problems: string[] = [];
  const base = x.data === 'live' ? '' : ` (${x.data} data: before ${x.data === 'checkpoint' ? o.atFault.local?.id : o.atFault.stored?.id} froze, or since the copy on ${serving} serves)`;
  if (missing.length) problems.push(`${missing.length} of ${must.size} required writes lost${base}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  if (wrong.length) problems.push(`${wrong.length} keys hold a value never written: ${wrong.slice(0, 4).join(', ')}`);
  return problems;
}

/** Waits (within the bound) until the service is settled as expected; throws what is wrong. */
export async function expectSurvived(o: Observed, x: Expectation, since: number): Promise<void> {
  const { service, port } = o;
  const deadline = since + x.boundS * 1000;
  let problems: string[] = [];
  for (;;) {
    problems = [];
    let view;
    try {
      view = (await ops.inspect(service))[0];
    } catch (err) {
      problems.push(`status unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (view) {
      const serving = await o.askers.serving(port);
      const procs = kvProcesses(port).length;
      if (x.state === 'running') {
        if (view.state !== 'running') problems.push(`state ${view.state} on ${view.host}, expected running`);
        if (serving.length !== 1 || serving[0] !== view.host) problems.push(`serving on [${serving.join(', ')}], expected on ${view.host} alone`);
        if (procs !== 1) problems.push(`${procs} processes, expected 1`);
        if (!problems.length) problems.push(...(await checkData(o, x, view.endpoint!, view.host).catch((err: Error) => [`data unreadable: ${err.message}`])));
      } else {
        if (view.state !== 'standby') problems.push(`state ${view.state}, expected standby`);
        if (serving.length || procs) problems.push(`serving on [${serving.join(', ')}] with ${procs} processes, expected none`);
      }
      const daemons = daemonsOf(service).length;
      if (daemons !== 1) problems.push(`${daemons} daemons, expected 1`);
      problems.push(...leftovers(service, view.host));
    }
    if (!problems.length) {
      const took = (Date.now() - since) / 1000;
      if (took > x.boundS) throw new Error(`survived, but after ${Math.round(took)} s: over the ${x.boundS} s bound`);
      return;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`not survived within ${x.boundS} s: ${problems.join('; ')}`);
}

/** The durable workflows a fault must not end: the service's entity and the host monitor. */
export async function expectWorkflowsAlive(service: string): Promise<void> {
  const conn = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const client = new Client({ connection: conn, namespace: cfg.namespace });
    // Running, and answering a query: a workflow whose task keeps failing (e.g. code that no longer
    // replays its history) is still RUNNING, but does nothing.
    for (const [id, query] of [[entityWorkflowId(service), 'pending'], ['host-monitor', 'hosts']]) {
      const handle = client.workflow.getHandle(id);
      const status = (await handle.describe()).status.name;
      if (status !== 'RUNNING') throw new Error(`workflow ${id} is ${status}, expected RUNNING`);
      await handle.query(query).catch((err: Error) => {
        throw new Error(`workflow ${id} does not answer its "${query}" query: ${err.message}`);
      });
    }
  } finally {
    await conn.close();
  }
}

export { until };
