// Pid files of fastmig's detached processes (servers, workers, daemons).
import fs from 'fs';

/** The pid recorded in a pid file, if that process is alive. */
export function pidAlive(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}
