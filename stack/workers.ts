// The stack's own node processes, started from the build in dist/: the orchestrator worker and the
// HTTP API in the control plane's namespace, one host agent per host in its host's namespace (with
// a view of only its own host's folders); then the cluster's host monitor workflow.
import fs from 'fs';
import path from 'path';
import { Client, Connection } from '@temporalio/client';
import { REPO_ROOT, StackFile, loadConfig, paths } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { hostQueue, ORCHESTRATOR_QUEUE } from '../common/names';
import { tcpConnects } from '../activities/probe';
import { queuePollers } from '../client';
import { API_PORT, METRICS_PORT } from './ports';
import { Say, startDetached, stopPids, waitUntil } from './processes';
import { CONTROL } from './network';
import { hostProcessArgv, type HostProcessOptions } from './host-process';
import { tmpfsImagesRoot } from '../image/folder';
import { DEFAULT_PING_EVERY_SECONDS, timingProblem } from '../common/quorum';

export async function startWorkers(stack: StackFile, home: string, say: Say): Promise<void> {
  const node = process.execPath;
  const dist = path.join(REPO_ROOT, 'dist', 'workers');
  const running = (name: string) => pidAlive(path.join(paths.runDir(home), `${name}.pid`));
  const orchestratorRebuilt = await restartStaleWorkers(home, say);
  const onControl = (name: string, args: string[], env: NodeJS.ProcessEnv) => {
    const [cmd, ...argv] = hostProcessArgv(home, CONTROL, node, args);
    startDetached(name, cmd, argv, env);
  };
  if (running('orchestrator')) say('orchestrator worker already running');
  else {
    say(`starting orchestrator worker (task queue ${ORCHESTRATOR_QUEUE})…`);
    onControl('orchestrator', [path.join(dist, 'orchestrator.js')], { FASTMIG_METRICS_PORT: String(METRICS_PORT), FASTMIG_METRICS_ADDRESS: stack.controlAddress });
  }
  for (const host of stack.hosts) {
    if (running(`agent-${host}`)) say(`host agent ${host} already running`);
    else {
      const address = stack.hostAddresses[host];
      say(`starting host agent ${host} at ${address} (task queue ${hostQueue(host)})…`);
      fs.mkdirSync(paths.hostDir(host, home), { recursive: true, mode: 0o700 });
      // The command a user runs to add a machine: the embedded stack takes the same path, inside
      // the host's namespace, seeing only its own host's service folders, engine and images.
      const [cmd, ...args] = hostProcessArgv(home, host, node, [path.join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'agent', '--host', host, '--address', address], hostViewOf(home));
      startDetached(`agent-${host}`, cmd, args, { FASTMIG_METRICS_PORT: String(METRICS_PORT) });
    }
  }
  if (running('api')) say('HTTP API already running');
  else {
    say(`starting HTTP API on ${stack.apiUrl}…`);
    onControl('api', [path.join(REPO_ROOT, 'dist', 'api', 'main.js')], { FASTMIG_API_PORT: String(API_PORT), FASTMIG_API_ADDRESS: stack.controlAddress });
  }
  await waitUntil('HTTP API', () => tcpConnects(API_PORT, stack.controlAddress), 30_000, 'api');
  const conn = await Connection.connect({ address: stack.temporalAddress });
  try {
    for (const [queue, log] of [[ORCHESTRATOR_QUEUE, 'orchestrator'], ...stack.hosts.map((h) => [hostQueue(h), `agent-${h}`])]) {
      await waitUntil(`worker on task queue ${queue}`, async () => (await queuePollers(conn, stack.namespace, queue)) > 0, 60_000, log);
    }
    await ensureHostMonitor(stack, conn, orchestratorRebuilt, say);
  } finally {
    await conn.close();
  }
}

/** The folders that hold one sub-folder per host: each agent sees only its own host's. */
/** What a host of the stack sees as its own: its service and image folders, and its /srv. */
export function hostViewOf(home: string): HostProcessOptions {
  return { hostsDirs: [path.join(home, 'hosts'), path.join(home, 'docker'), tmpfsImagesRoot(home)], srvDir: path.join(home, 'srv') };
}

/**
 * Starts the cluster's host monitor (failover) unless it runs already, with the cluster's lease.
 * After a rebuild of the orchestrator's code the running monitor is ended and started afresh: its
 * history may not replay on the new code, and what it holds (when it last saw each host) only
 * delays a failover when lost, never hastens one.
 */
async function ensureHostMonitor(stack: StackFile, connection: Connection, rebuilt: boolean, say: Say): Promise<void> {
  const { leaseSeconds, failoverAfterSeconds } = loadConfig();
  const input = { pingEverySeconds: DEFAULT_PING_EVERY_SECONDS, failoverAfterSeconds, leaseSeconds };
  const why = timingProblem(input);
  if (why) throw new Error(`the host monitor cannot start: ${why} (FASTMIG_LEASE_SECONDS, FASTMIG_FAILOVER_AFTER_SECONDS)`);
  const client = new Client({ connection, namespace: stack.namespace });
  if (rebuilt) {
    const ended = await client.workflow.getHandle('host-monitor').terminate('fastmig was rebuilt: the monitor starts again on the new code').then(() => true, () => false);
    if (ended) say('host monitor restarted on the rebuilt code');
  }
  await client.workflow.start('hostMonitor', {
    taskQueue: ORCHESTRATOR_QUEUE,
    workflowId: 'host-monitor',
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [input],
  });
}

/** Workers started before the last build run old code: stop them so they start again. True when the orchestrator was. */
async function restartStaleWorkers(home: string, say: Say): Promise<boolean> {
  let orchestrator = false;
  const built = fs.statSync(path.join(REPO_ROOT, 'dist', '.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const run = paths.runDir(home);
  for (const f of fs.existsSync(run) ? fs.readdirSync(run) : []) {
    if (!(f === 'orchestrator.pid' || f === 'api.pid' || f.startsWith('agent-'))) continue;
    const file = path.join(run, f);
    const pid = pidAlive(file);
    if (pid && fs.statSync(file).mtimeMs < built) {
      say(`restarting ${f.slice(0, -4)}: the code was rebuilt since it started`);
      await stopPids([pid]);
      fs.rmSync(file, { force: true });
      orchestrator ||= f === 'orchestrator.pid';
    }
  }
  return orchestrator;
}
