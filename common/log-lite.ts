// The service daemon's logger: the same JSON lines as pino's (level, time, pid, the bindings, the
// fields, msg; the same redaction), without pino. One daemon runs per service and must stay
// small: with pino loaded it held about 1.7 MiB more private memory (10.0 → 8.3 MiB, 3 s after
// a restore). Every other process logs with pino (common/log.ts).

/** Fields that may hold secrets, wherever they appear; pino reads the same list. */
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
export const REDACT_CENSOR = '[redacted]';

/** pino's level numbers. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type LogMethod = (fieldsOrMsg: object | string, msg?: string) => void;

/** What the daemon's code calls; a pino logger has the same methods. */
export interface LineLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const SPLIT_PATHS = REDACT_PATHS.map((p) => p.split('.'));

/** A copy of value with the censor at path (copied only where something is replaced). */
function redactPath(value: unknown, path: string[], i: number): unknown {
  if (!value || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const keys = path[i] === '*' ? Object.keys(src) : Object.prototype.hasOwnProperty.call(src, path[i]) ? [path[i]] : [];
  let out = src;
  for (const k of keys) {
    if (src[k] === undefined) continue;
    const next = i === path.length - 1 ? REDACT_CENSOR : redactPath(src[k], path, i + 1);
    if (next === src[k]) continue;
    if (out === src) out = (Array.isArray(src) ? [...src] : { ...src }) as Record<string, unknown>;
    out[k] = next;
  }
  return out;
}

export function createLineLogger(bindings: Record<string, unknown>, destination: { write(line: string): void }): LineLogger {
  const name = process.env.FASTMIG_LOG_LEVEL || 'info';
  const threshold = LEVELS[name];
  if (threshold === undefined) throw new Error(`unknown log level ${name}`);
  const base = JSON.stringify({ pid: process.pid, ...bindings }).slice(1, -1);
  const method = (level: number): LogMethod => (fieldsOrMsg, msg) => {
    if (level < threshold) return;
    let fields = '';
    if (typeof fieldsOrMsg === 'string') msg = fieldsOrMsg;
    else {
      let obj: unknown = fieldsOrMsg;
      for (const p of SPLIT_PATHS) obj = redactPath(obj, p, 0);
      try {
        fields = JSON.stringify(obj).slice(1, -1);
      } catch (err) {
        fields = `"logError":${JSON.stringify(err instanceof Error ? err.message : String(err))}`;
      }
    }
    const parts = [`"level":${level}`, `"time":"${new Date().toISOString()}"`, base, fields, msg === undefined ? '' : `"msg":${JSON.stringify(msg)}`];
    destination.write(`{${parts.filter(Boolean).join(',')}}\n`);
  };
  return { debug: method(LEVELS.debug), info: method(LEVELS.info), warn: method(LEVELS.warn), error: method(LEVELS.error) };
}
