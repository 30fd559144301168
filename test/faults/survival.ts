// What "survived" means after a fault, checked on the real stack: exactly one instance serves (or
// the service is in standby where its policy says so), never two at once, its state is the live
// state or its last consistent checkpoint, no other host keeps a copy of it, no half-written image
// is left, and all of it within the scenario's documented bound.
import fs from 'fs';
import path from 'path';
import { ops } from '../../client';
import { Client, Connection } from '@temporalio/client';
import { fastmigHome, loadConfig, paths } from '../../common/config';
import { tmpfsImagesDir } from '../../common/image-dir';
import { entityWorkflowId } from '../../common/names';
import { httpText } from '../../demo/probe';
import { kvProcesses } from '../helpers';
import { ALL_HOSTS, until } from './cluster';

const cfg = loadConfig();

export interface Expectation {
  /** running: one instance answers; standby: none runs, by the restart policy's decision. */
  state: 'running' | 'standby';
  /** live: every key written before the fault; checkpoint: the keys of the last checkpoint. */
  data: 'live' | 'checkpoint';
  /** Seconds from the fault until all of the above holds. */
  boundS: number;
}

/** Counts the service's processes every 50 ms; `max` is the most ever seen at once. */
export function watchInstances(port: number) {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, kvProcesses(port).length)), 50);
  return { max: () => max, stop: () => clearInterval(timer) };
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
      if (/\/criu\0/.test(cmd) && cmd.includes(`/${service}/images/`)) out.push(cmd);
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
    const images = path.join(dir, 'images');
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

/** Waits (within the bound) until the service is settled as expected; throws what is wrong. */
export async function expectSurvived(service: string, port: number, keys: { checkpoint: string; live: string }, x: Expectation, since: number): Promise<void> {
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
      const procs = kvProcesses(port).length;
      if (x.state === 'running') {
        if (view.state !== 'running') problems.push(`state ${view.state}, expected running`);
        if (procs !== 1) problems.push(`${procs} instances, expected 1`);
        if (!problems.length) {
          const ck = await httpText(port, 'GET', '/kv/checkpointed').catch(() => null);
          if (ck?.text !== keys.checkpoint) problems.push(`checkpointed key reads ${JSON.stringify(ck?.text)}`);
          if (x.data === 'live') {
            const live = await httpText(port, 'GET', '/kv/live').catch(() => null);
            if (live?.text !== keys.live) problems.push(`live key reads ${JSON.stringify(live?.text)}`);
          }
        }
      } else {
        if (view.state !== 'standby') problems.push(`state ${view.state}, expected standby`);
        if (procs !== 0) problems.push(`${procs} instances, expected none`);
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
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not survived within ${x.boundS} s: ${problems.join('; ')}`);
}

/** The durable workflows a fault must not end: the service's entity and the host monitor. */
export async function expectWorkflowsAlive(service: string): Promise<void> {
  const conn = await Connection.connect({ address: cfg.temporalAddress });
  try {
    const client = new Client({ connection: conn, namespace: cfg.namespace });
    for (const id of [entityWorkflowId(service), 'host-monitor']) {
      const status = (await client.workflow.getHandle(id).describe()).status.name;
      if (status !== 'RUNNING') throw new Error(`workflow ${id} is ${status}, expected RUNNING`);
    }
  } finally {
    await conn.close();
  }
}

export { until };
