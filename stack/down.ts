// `fastmig stack down`: stops what the stack started, found by its pid files, and removes the hosts'
// network; data stays on disk.
import fs from 'fs';
import path from 'path';
import { fastmigHome, paths } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { serviceFolder } from '../common/service-folder';
import { removeHostNetwork } from './network';
import { Say, stopPids } from './processes';

/** Stops every service daemon, agent, the orchestrator and the servers; keeps all data on disk. */
export async function stackDown(say: Say): Promise<void> {
  const home = fastmigHome();
  const run = paths.runDir(home);
  const hostsDir = path.join(home, 'hosts');
  const daemons: number[] = [];
  for (const host of fs.existsSync(hostsDir) ? fs.readdirSync(hostsDir) : []) {
    for (const svc of fs.readdirSync(path.join(hostsDir, host))) {
      const pid = pidAlive(serviceFolder(path.join(hostsDir, host, svc)).pid);
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
  }
  // The hosts' network goes too (namespaces, veth pairs, bridge): `stack up` makes it again, with
  // the same addresses, and nothing of a stopped stack keeps routes on this machine.
  await removeHostNetwork(home);
  say('stack down');
}
