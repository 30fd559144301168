// The stack's processes run detached from the command that started them, each with a log file and
// a pid file under the stack home; later commands find them by those pid files.
import fs from 'fs';
import path from 'path';
import { spawn } from 'child_process';
import { fastmigHome, paths } from '../common/config';

export type Say = (line: string) => void;

export function startDetached(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const home = fastmigHome();
  fs.mkdirSync(paths.logDir(home), { recursive: true });
  fs.mkdirSync(paths.runDir(home), { recursive: true });
  const out = fs.openSync(path.join(paths.logDir(home), `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, FASTMIG_HOME: home, ...env } });
  child.unref();
  fs.closeSync(out);
  fs.writeFileSync(path.join(paths.runDir(home), `${name}.pid`), String(child.pid));
  return child.pid!;
}

/** Polls `cond` until it holds; the error names the log to read when it never does. */
export async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number, logName?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const hint = logName ? ` (see ${path.join(paths.logDir(), `${logName}.log`)})` : '';
  throw new Error(`${what} did not come up within ${Math.round(timeoutMs / 1000)} s${hint}`);
}

/** SIGTERM, then SIGKILL for whatever still runs after 10 s. */
export async function stopPids(pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 10_000;
  const alive = () => pids.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });
  while (alive().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of alive()) process.kill(p, 'SIGKILL');
}
