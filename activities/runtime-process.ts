// The process runtime: the daemon is a detached Node process on the host itself.
import fs from 'fs';
import path from 'path';
import { spawn } from 'child_process';
import { REPO_ROOT } from '../common/config';
import { serviceFolder } from '../common/service-folder';
import { isAlive } from '../common/pid-file';
import type { ServiceRuntime } from './runtime';

const DAEMON_MAIN = path.join(REPO_ROOT, 'dist', 'daemon', 'main.js');

export function processRuntime(criuPath: string): ServiceRuntime {
  return {
    async configure(_spec, base) {
      return { ...base, criuPath };
    },

    async launch(_service, dir, mode) {
      const f = serviceFolder(dir);
      const out = fs.openSync(f.daemonLog, 'a');
      const child = spawn(process.execPath, [DAEMON_MAIN, dir, mode], {
        detached: true,
        stdio: ['ignore', out, out],
        env: { PATH: process.env.PATH, FASTMIG_LOG_LEVEL: process.env.FASTMIG_LOG_LEVEL },
      });
      child.unref();
      fs.closeSync(out);
    },

    async hostPort() {
      return null;
    },

    async remove(_service, dir) {
      const f = serviceFolder(dir);
      // The daemon deletes its pid file as it exits, possibly between a check and a read.
      let pid = 0;
      try {
        pid = Number(fs.readFileSync(f.pid, 'utf8')) || 0;
      } catch {
        // already gone
      }
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    },

    async daemonLogTail(_service, dir) {
      const f = serviceFolder(dir);
      return fs.existsSync(f.daemonLog) ? fs.readFileSync(f.daemonLog, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    },
  };
}
