// Structured logs (pino). Every line carries the process role and, where known, host, service and
// workflow id; secret-looking fields are redacted wherever they appear.
import pino from 'pino';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'secretKey',
  '*.secretKey',
  'accessKey',
  '*.accessKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export function createLogger(bindings: Record<string, unknown>, destination?: pino.DestinationStream) {
  return pino(
    {
      level: process.env.FASTMIG_LOG_LEVEL || 'info',
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
export type Logger = ReturnType<typeof createLogger>;
