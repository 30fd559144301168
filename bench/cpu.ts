// CPU time spent by fastmig's own processes (host agents, the orchestrator, the service daemons
// and the CRIU runs they wait for) while something runs, read from /proc: user + system time of
// each process and of its children it has waited for. Sampled every 50 ms, so a daemon that ends
// between two samples (a migration's source) loses at most that much of its time.
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from '../common/config';

/** This checkout's daemons, orchestrator and agents (`cli/main.js agent`); not another checkout's stack. */
const FASTMIG = ['daemon/main.js', 'workers/orchestrator.js', 'cli/main.js'].map((f) => path.join(REPO_ROOT, 'dist', f));
const TICK = 100; // USER_HZ on Linux

function fastmigTimes(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      // A container's daemon runs fastmig's code from its mount: counted by its mount path.
      if (!FASTMIG.some((f) => cmd.includes(f)) && !cmd.includes('/fastmig/app/dist/daemon/main.js')) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14–17; f starts at field 3.
      out.set(Number(d), (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK);
    } catch {
      /* ended meanwhile */
    }
  }
  return out;
}

/** Starts counting; `stop()` gives the CPU seconds spent since by fastmig's processes. */
export function cpuMeter(): { stop: () => number } {
  const start = fastmigTimes();
  const last = new Map(start);
  const timer = setInterval(() => {
    for (const [pid, s] of fastmigTimes()) last.set(pid, s);
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      for (const [pid, s] of fastmigTimes()) last.set(pid, s);
      let total = 0;
      for (const [pid, s] of last) total += s - (start.get(pid) ?? 0);
      return Math.round(total * 1000) / 1000;
    },
  };
}
