// Whether a process is alive, and the pid files of fastmig's detached processes (servers, workers,
// daemons). The one liveness check of the code base; loads no package (the daemon uses it).
import fs from 'fs';

/** true while a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid recorded in a pid file, if that process is alive. */
export function pidAlive(file: string): number | null {
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
  return isAlive(pid) ? pid : null;
}
