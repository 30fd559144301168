// Structured logs (pino). Every line carries the process role and, where known, host, service and
// workflow id; secret-looking fields are redacted wherever they appear.
import pino from 'pino';
import { REDACT_CENSOR, REDACT_PATHS } from './log-lite';

// The redaction list is shared with the daemon's pino-free logger, which is defined there.
export { REDACT_PATHS } from './log-lite';

export function createLogger(bindings: Record<string, unknown>, destination?: pino.DestinationStream) {
  return pino(
    {
      level: process.env.FASTMIG_LOG_LEVEL || 'info',
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: REDACT_CENSOR },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
export type Logger = ReturnType<typeof createLogger>;
