// Host activity that adapts to the service itself: a TCP health probe on the loopback address.
import net from 'net';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';

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

export const probeActivities = {
  /** Waits until the service accepts TCP connections; returns when (epoch ms) it first did. */
  async healthCheck(req: { port?: number; timeoutMs?: number }): Promise<{ healthyAt: number }> {
    if (!req.port) return { healthyAt: Date.now() };
    const deadline = Date.now() + (req.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (await tcpConnects(req.port)) return { healthyAt: Date.now() };
      heartbeat();
      await new Promise((r) => setTimeout(r, 2));
    }
    throw ApplicationFailure.nonRetryable(`nothing answers on 127.0.0.1:${req.port} after ${req.timeoutMs ?? 20_000} ms`, 'Unhealthy');
  },
};
export type ProbeActivities = typeof probeActivities;
