// Runs a short command to its end (CRIU dump, hooks) and gives back its exit code and output.
// The rest of fastmig uses execa; in the daemon, one per service, it cost about 0.4 MiB of private
// memory (10.4 → 10.0 MiB, 3 s after a restore) for the little that is needed here.
import { spawn, type ChildProcess } from 'child_process';

export interface RunResult {
  /** null when the command did not start or was ended by a signal (e.g. its timeout). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  cwd?: string;
  /** The whole environment of the command (absent: the daemon's). */
  env?: Record<string, string>;
}

/** Output kept per stream: the end, which is what error messages quote. */
const KEEP_BYTES = 64 * 1024;
/** After the timeout's SIGTERM, a command that is still there gets SIGKILL this much later. */
const KILL_AFTER_MS = 5000;

// A command still running when the daemon exits is ended with it, as execa's cleanup did.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGTERM');
});

export function run(file: string, args: string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const out = { stdout: '', stderr: '' };
    let settled = false;
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    for (const k of ['stdout', 'stderr'] as const) {
      child[k]!.setEncoding('utf8');
      child[k]!.on('data', (s: string) => {
        out[k] += s;
        if (out[k].length > KEEP_BYTES) out[k] = out[k].slice(-KEEP_BYTES);
      });
    }
    const finish = (exitCode: number | null, err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(child);
      resolve({ exitCode, stdout: out.stdout, stderr: err ? err.message : out.stderr });
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS).unref();
      // Processes the command started may hold its pipes open: the answer does not wait for them.
      child.stdout!.destroy();
      child.stderr!.destroy();
      finish(null);
    }, o.timeoutMs);
    child.on('error', (err) => finish(null, err));
    child.on('close', (code) => finish(code));
  });
}
