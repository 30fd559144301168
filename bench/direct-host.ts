// The direct driver's host process: the host activities of one host, built the way the host agent
// builds them (agent/main.ts), served over a unix socket instead of a task queue, so the benchmark
// can call a migration's steps without Temporal while each step still runs ON its host: started in
// the host's network namespace with the host's own view of the per-host folders (as the agent), at
// the host's address. The daemons it starts inherit both, as the agent's do.
//   node direct-host.js <host> <address> <socket>
// POST /<activity> with the JSON array of arguments answers {result} or {error: {message, type}};
// each call runs in a mock activity context. The process ends when its stdin closes (the benchmark
// holds the other end) or on SIGTERM, and removes its socket.
import fs from 'fs';
import http from 'http';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfig, paths } from '../common/config';
import { peerTransport } from '../common/tls';
import { s3Client } from '../common/s3';
import { createServiceActivities } from '../activities/service';
import { createImageActivities } from '../activities/image';
import { createProbeActivities } from '../activities/probe';
import { createTransferActivities } from '../activities/transfer';

export interface DirectHostError {
  message: string;
  type?: string;
}

function hostActivities(host: string, address: string) {
  const cfg = loadConfig();
  if (!cfg.clusterKey) throw new Error('FASTMIG_CLUSTER_KEY is not configured');
  const transport = peerTransport(cfg, paths.secretsDir(cfg.home), host, address);
  const s3 = s3Client(cfg);
  const services = createServiceActivities({ host, home: cfg.home, criuPath: cfg.criuPath, address, leaseSeconds: cfg.leaseSeconds });
  const images = createImageActivities({
    host,
    home: cfg.home,
    s3,
    bucket: cfg.s3.bucket,
    clusterKey: cfg.clusterKey,
    imageKey: cfg.imageKey,
    encryptAll: cfg.encryptAllImages,
    ...transport,
  });
  const probe = createProbeActivities(address);
  return { ...services, ...images, ...probe, ...createTransferActivities(services, images, probe) };
}
export type DirectHostActivities = ReturnType<typeof hostActivities>;

function main(): void {
  const [host, address, socket] = process.argv.slice(2);
  if (!host || !address || !socket) {
    process.stderr.write('usage: direct-host <host> <address> <socket>\n');
    process.exit(2);
  }
  const acts = hostActivities(host, address) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const name = (req.url ?? '').slice(1);
      const fn = Object.prototype.hasOwnProperty.call(acts, name) ? acts[name] : undefined;
      if (req.method !== 'POST' || !fn) return answer(404, { error: { message: `no host activity ${name}` } });
      let args: unknown[];
      try {
        args = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as unknown[];
      } catch {
        return answer(400, { error: { message: 'the arguments are not JSON' } });
      }
      new MockActivityEnvironment({ activityType: name }).run(fn, ...args).then(
        (result) => answer(200, { result: result ?? null }),
        (err: unknown) => {
          const e = err as { message?: string; type?: string };
          answer(500, { error: { message: e?.message ?? String(err), type: e?.type ?? undefined } satisfies DirectHostError });
        },
      );
    });
  });
  server.requestTimeout = 0; // a checkpoint or a transfer may take minutes
  fs.rmSync(socket, { force: true });
  const stop = () => {
    fs.rmSync(socket, { force: true });
    process.exit(0);
  };
  server.listen(socket, () => process.stderr.write(`direct host ${host} at ${address}: serving on ${socket}\n`));
  process.stdin.on('end', stop).on('error', stop).resume();
  process.on('SIGTERM', stop);
}

if (require.main === module) main();
