// `fastmig stack down`: stops what the stack started, found by its pid files; data stays on disk.
import fs from 'fs';
import path from 'path';
import { fastmigHome, paths } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { daemonFiles } from '../daemon/files';
import { removeBridge } from './engines';
import { Say, stopPids } from './processes';

/** Stops every service daemon, agent, the orchestrator and the servers; keeps all data on disk. */
export async function stackDown(say: Say): Promise<void> {
  const home = fastmigHome();
  const run = paths.runDir(home);
  const hostsDir = path.join(home, 'hosts');
  const daemons: number[] = [];
  for (const host of fs.existsSync(hostsDir) ? fs.readdirSync(hostsDir) : []) {
    for (const svc of fs.readdirSync(path.join(hostsDir, host))) {
      const pid = pidAlive(daemonFiles(path.join(hostsDir, host, svc)).pid);
      if (pid) daemons.push(pid);
    }
  }
  if (daemons.length) say(`stopping ${daemons.length} service daemon(s)…`);
  await stopPids(daemons);
  const names = fs.existsSync(run) ? fs.readdirSync(run).filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4)) : [];
  // Engines go after the agents (their containers stop with them), servers last.
  const order = [
    ...names.filter((n) => n.startsWith('agent-') || n === 'orchestrator' || n === 'api'),
    ...names.filter((n) => n.startsWith('dockerd-')),
    ...names.filter((n) => n === 's3' || n === 'temporal'),
  ];
  for (const name of order) {
    const file = path.join(run, `${name}.pid`);
    const pid = pidAlive(file);
    if (pid) {
      say(`stopping ${name} (pid ${pid})…`);
      await stopPids([pid]);
    }
    fs.rmSync(file, { force: true });
    if (name.startsWith('dockerd-')) await removeBridge(home, name.slice('dockerd-'.length));
  }
  say('stack down');
}
