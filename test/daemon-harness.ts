// Starts real daemons in temporary service folders, for tests that drive one directly; with
// `restarts`, the host agent's restart policy watches it too (as the agent of its host would).
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { REPO_ROOT, loadConfig } from '../common/config';
import { daemonAt } from '../agent/daemon-client';
import { watchDaemon } from '../agent/restarts';
import { serviceFolder, type DaemonConfig } from '../common/service-folder';
import { ServiceSpec, type ServiceSpecInput, type DaemonStatus } from '../common/schemas';

const DAEMON = path.join(REPO_ROOT, 'dist', 'daemon', 'main.js');
export const TOKEN = 'a'.repeat(64);
export const HOST = 'hostT';
const daemons: ChildProcess[] = [];
const dirs: string[] = [];
const watchers: ReturnType<typeof watchDaemon>[] = [];
const quiet = { info: () => undefined, warn: () => undefined };

export async function startDaemon(spec: Partial<ServiceSpecInput> & { command: string[] }, mode: 'standby' | 'scratch' = 'scratch', o: { restarts?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fmd-'));
  dirs.push(dir);
  const f = serviceFolder(dir);
  fs.mkdirSync(f.images);
  const conf: DaemonConfig = {
    spec: ServiceSpec.parse({ name: 'dtest', cwd: '/', ...spec }),
    host: HOST,
    criuPath: loadConfig().criuPath,
    generation: 1,
  };
  fs.writeFileSync(f.config, JSON.stringify(conf));
  fs.writeFileSync(f.token, TOKEN);
  const child = spawn(process.execPath, [DAEMON, dir, mode], { stdio: 'ignore' });
  daemons.push(child);
  const call = daemonAt(dir);
  await until(async () => fs.existsSync(f.socket) && (await call<DaemonStatus>('GET', '/status')).state !== 'starting');
  if (o.restarts) watchers.push(watchDaemon(dir, HOST, quiet));
  return { dir, f, spec: conf.spec, call, child, status: () => call<DaemonStatus>('GET', '/status') };
}

export async function until(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached in time');
}

export async function stopDaemons(): Promise<void> {
  for (const w of watchers) w.stop();
  for (const d of daemons) d.kill('SIGTERM');
  await Promise.all(watchers.map((w) => w.ended));
  await new Promise((r) => setTimeout(r, 300));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}
