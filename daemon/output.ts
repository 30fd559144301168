// The service's output, relayed: lines from its pipe go into a ring (GET /logs) and into
// service.log; the namespace init's marker line carries the exit status instead (a status file
// would need a host-specific path baked into the restored memory).
import fs from 'fs';
import { EXIT_MARKER } from './process-tree';
import type { LineLogger as Logger } from '../common/log-lite';

const LOG_RING = 2000;

export class ServiceOutput {
  /** The exit status the init printed for the current tree (null: none yet). */
  exitCode: number | null = null;
  private partial = '';
  private readonly lines: string[] = [];
  private readonly file: fs.WriteStream;

  constructor(file: string, log: Logger) {
    this.file = fs.createWriteStream(file, { flags: 'a' });
    // A full disk must not take the daemon down: the ring buffer still keeps the recent lines.
    this.file.on('error', (err) => log.warn({ err: err.message }, 'service log file not writable'));
  }

  feed(d: Buffer): void {
    const text = this.partial + d.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith(EXIT_MARKER + ' ')) {
        this.exitCode = Number(line.slice(EXIT_MARKER.length + 1));
        continue;
      }
      this.lines.push(line);
      if (this.lines.length > LOG_RING) this.lines.splice(0, this.lines.length - LOG_RING);
      this.file.write(line + '\n');
    }
  }

  tail(n: number): string[] {
    return this.lines.slice(-n);
  }

  close(): void {
    this.file.end();
  }
}
