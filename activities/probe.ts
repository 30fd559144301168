// Host activity that adapts to the service itself: a TCP health probe at the host's own address,
// where the service's clients reach it.
import net from 'net';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { faultPoint } from '../common/faults';

export function tcpConnects(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Connects and keeps the connection for settleMs: a port published by a container engine's proxy
 * accepts at once and only then resets the connection when nothing listens behind it yet.
 */
function connectsAndStays(host: string, port: number, settleMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    let at = 0;
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok ? at : null);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => {
      at = Date.now();
      s.setTimeout(0);
      if (!settleMs) return done(true);
      const t = setTimeout(() => done(true), settleMs);
      s.once('close', () => {
        clearTimeout(t);
        done(false);
      });
    });
    s.once('error', () => done(false));
  });
}

/** `address`: the host's own address (its agent's `--address`). */
export const createProbeActivities = (address: string) => ({
  /**
   * Waits until the service accepts TCP connections where its clients reach it (its own address
   * when it has one, else the host's); returns when (epoch ms) it first did.
   */
  async healthCheck(req: { port?: number; timeoutMs?: number; proxied?: boolean; serviceAddress?: string }): Promise<{ healthyAt: number }> {
    await faultPoint('verify', String(req.port ?? ''));
    if (!req.port) return { healthyAt: Date.now() };
    const at = req.serviceAddress ?? address;
    const deadline = Date.now() + (req.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      const connectedAt = await connectsAndStays(at, req.port, req.proxied ? 150 : 0);
      if (connectedAt) return { healthyAt: connectedAt };
      heartbeat();
      await new Promise((r) => setTimeout(r, 2));
    }
    throw ApplicationFailure.nonRetryable(`nothing answers on ${at}:${req.port} after ${req.timeoutMs ?? 20_000} ms`, 'Unhealthy');
  },
});
export type ProbeActivities = ReturnType<typeof createProbeActivities>;
