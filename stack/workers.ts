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
import { hostProcessArgv } from './host-process';
import { tmpfsImagesRoot } from '../image/folder';
import { DEFAULT_PING_EVERY_SECONDS, timingProblem } from '../common/quorum';

export async function startWorkers(stack: StackFile, home: string, say: Say): Promise<void> {
  const node = process.execPath;
  const dist = path.join(REPO_ROOT, 'dist', 'workers');
  const running = (name: string) => pidAlive(path.join(paths.runDir(home), `${name}.pid`));
  await restartStaleWorkers(home, say);
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
      const [cmd, ...args] = hostProcessArgv(home, host, node, [path.join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'agent', '--host', host, '--address', address], {
        hostsDirs: hostsDirsOf(home),
      });
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
    await ensureHostMonitor(stack, conn);
  } finally {
    await conn.close();
  }
}

/** The folders that hold one sub-folder per host: each agent sees only its own host's. */
export function hostsDirsOf(home: string): string[] {
  return [path.join(home, 'hosts'), path.join(home, 'docker'), tmpfsImagesRoot(home)];
}

/** Starts the cluster's host monitor (failover) unless it runs already, with the cluster's lease. */
async function ensureHostMonitor(stack: StackFile, connection: Connection): Promise<void> {
  const { leaseSeconds, failoverAfterSeconds } = loadConfig();
  const input = { pingEverySeconds: DEFAULT_PING_EVERY_SECONDS, failoverAfterSeconds, leaseSeconds };
  const why = timingProblem(input);
  if (why) throw new Error(`the host monitor cannot start: ${why} (FASTMIG_LEASE_SECONDS, FASTMIG_FAILOVER_AFTER_SECONDS)`);
  const client = new Client({ connection, namespace: stack.namespace });
  await client.workflow.start('hostMonitor', {
    taskQueue: ORCHESTRATOR_QUEUE,
    workflowId: 'host-monitor',
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [input],
  });
}

/** Workers started before the last build run old code: stop them so they start again. */
async function restartStaleWorkers(home: string, say: Say): Promise<void> {
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
    }
  }
}
