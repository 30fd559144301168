// What every attack checks once it was refused: no workflow started that the attack did not mean
// to start, the services it aimed at still on their host, unchanged and answering, and nothing
// written where it pointed. Each check names the problem it found, or null.
import fs from 'fs';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../common/config';
import { temporalConnectionOptions } from '../../common/tls';
import { entityWorkflowId } from '../../common/names';
import { ops } from '../../client';
import { httpText } from '../../demo/probe';

/** Workflow types that only read: the checks below start them themselves. */
const READ_ONLY = new Set(['inspectServices', 'listHosts', 'serviceLogs', 'listImages', 'hostMonitor']);

let connecting: Promise<{ connection: Connection; client: Client }> | undefined;
export function temporalClient(): Promise<Client> {
  connecting ??= (async () => {
    const cfg = loadConfig();
    const connection = await Connection.connect(temporalConnectionOptions(cfg.temporalAddress, cfg.temporal));
    return { connection, client: new Client({ connection, namespace: cfg.namespace }) };
  })();
  return connecting.then((c) => c.client);
}
afterAll(async () => {
  if (connecting) await (await connecting).connection.close();
  connecting = undefined;
});

/** Workflows started since `since` that change something (type and id), except ids `allowed` matches. */
export async function workflowsStartedSince(since: Date, allowed?: RegExp): Promise<string[]> {
  const client = await temporalClient();
  const out: string[] = [];
  for await (const w of client.workflow.list({ query: `StartTime >= '${since.toISOString()}'` })) {
    if (READ_ONLY.has(w.type) || allowed?.test(w.workflowId)) continue;
    out.push(`${w.type} ${w.workflowId}`);
  }
  return out;
}

/** A deployed service as it was before the attacks: where it ran, its process, its past migrations. */
export interface Target {
  service: string;
  host: string;
  endpoint: string;
  pid: number | null;
  migrations: number;
  droppedSignals: number;
}

async function entity(service: string) {
  const handle = (await temporalClient()).workflow.getHandle(entityWorkflowId(service));
  const pending = await handle.query<{ running: string | null; queued: number; droppedSignals: number }>('pending');
  return { pending, migrations: (await handle.query<unknown[]>('history')).length };
}

/** Takes a service's picture (it must be running and answering). */
export async function target(service: string): Promise<Target> {
  const v = (await ops.inspect(service))[0];
  if (v?.state !== 'running' || !v.endpoint) throw new Error(`${service} is not running: ${JSON.stringify(v)}`);
  const e = await entity(service);
  const t = { service, host: v.host, endpoint: v.endpoint, pid: v.pid, migrations: e.migrations, droppedSignals: e.pending.droppedSignals };
  const problem = await targetProblem(t);
  if (problem) throw new Error(problem);
  return t;
}

/** Why the service is no longer as it was (moved, restarted, stopped, silent, a migration queued), or null. */
export async function targetProblem(t: Target): Promise<string | null> {
  const v = (await ops.inspect(t.service))[0];
  if (!v) return `${t.service} is gone`;
  if (v.host !== t.host || v.state !== 'running' || v.pid !== t.pid || v.endpoint !== t.endpoint) {
    return `${t.service} changed: ${v.state} on ${v.host} pid ${v.pid} at ${v.endpoint} (was running on ${t.host} pid ${t.pid} at ${t.endpoint})`;
  }
  const answer = await httpText(t.endpoint, 'GET', '/health').catch((err) => ({ status: 0, text: String(err) }));
  if (answer.status !== 200) return `${t.service} does not answer at ${t.endpoint}: ${answer.status} ${answer.text.slice(0, 100)}`;
  const e = await entity(t.service);
  if (e.migrations !== t.migrations || e.pending.running || e.pending.queued || e.pending.droppedSignals !== t.droppedSignals) {
    return `${t.service}'s entity changed: ${e.migrations} migrations (was ${t.migrations}), ${JSON.stringify(e.pending)}`;
  }
  return null;
}

/** The files an attack aimed at that exist. */
export function existing(files: string[]): string[] {
  return files.filter((f) => fs.existsSync(f));
}
