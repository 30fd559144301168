// The agent-to-agent transfer over mutual TLS and over plain HTTP, in one process on loopback: the
// real endpoint (image/peer-server.ts) and client (image/peer-client.ts) moving one image, so the
// cost of TLS can be measured (`node dist/bench/peer-tls.js [MiB]`) and tested (test/security/peer-tls.test.ts).
import fs from 'fs';
import os from 'os';
import path from 'path';
import crypto from 'crypto';
import { paths } from '../common/config';
import { serviceFolder } from '../common/service-folder';
import { createLogger } from '../common/log';
import { peerTls, type PeerTls } from '../common/tls';
import { serveImages, type PeerServer } from '../image/peer-server';
import { PeerClient } from '../image/peer-client';
import { ensureCertificates } from '../stack/certs';

export const FIXTURE = { source: 'peersrc', target: 'peerdst', service: 'svc-tls', checkpointId: 'g1-abcdef12' };

export interface PeerFixture {
  dir: string;
  clusterKey: Buffer;
  imageKey: Buffer;
  /** The cluster's material for a host, as an agent loads it. */
  tls(host: string): PeerTls;
  serve(tls: PeerTls | null): Promise<PeerServer>;
  /** Pulls the fixture's image from `url` into a fresh folder; resolves with its bytes. */
  pull(url: string, tls: PeerTls | null, o?: { encrypt?: boolean; allowPlain?: boolean }): Promise<{ bytes: number; staging: string }>;
  close(): void;
}

/** A cluster CA with certificates for both hosts, and a checkpoint of `mib` MiB on the source. */
export function peerFixture(mib: number): PeerFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-peer-tls-'));
  const home = path.join(dir, 'home');
  const secrets = path.join(dir, 'secrets');
  const { source, target, service, checkpointId } = FIXTURE;
  ensureCertificates(secrets, [source, target], '127.0.0.1');
  const folder = serviceFolder(paths.serviceDir(source, service, home));
  fs.mkdirSync(folder.image(checkpointId), { recursive: true });
  fs.writeFileSync(folder.config, JSON.stringify({ host: source, spec: { name: service } }));
  const chunk = crypto.randomBytes(2 ** 20); // one random MiB repeated: incompressible per chunk, cheap to make
  const fd = fs.openSync(path.join(folder.image(checkpointId), 'pages-1.img'), 'w');
  for (let i = 0; i < mib; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(folder.image(checkpointId), 'core-1.img'), 'core');
  const clusterKey = crypto.randomBytes(32);
  const imageKey = crypto.randomBytes(32);
  const log = createLogger({ role: 'bench' });
  let pulls = 0;
  return {
    dir,
    clusterKey,
    imageKey,
    tls: (host) => peerTls({}, secrets, host)!,
    serve: (tls) => serveImages({ host: source, home, clusterKey, imageKey, log, tls }),
    async pull(url, tls, o = {}) {
      const client = new PeerClient({ host: target, clusterKey, imageKey, tls, allowPlain: !!o.allowPlain, peerUrl: async () => url });
      const staging = path.join(dir, `staging-${++pulls}`);
      fs.mkdirSync(staging);
      const incoming = await client.open({ service, checkpointId, from: source, encrypt: o.encrypt }, {});
      return { ...(await incoming.into(staging)), staging };
    },
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] || 256);
  const f = peerFixture(mib);
  const modes = [
    { name: 'mTLS', secure: true, encrypt: false },
    { name: 'plain', secure: false, encrypt: false },
    { name: 'plain + encrypt=1 (GCM)', secure: false, encrypt: true },
  ];
  try {
    for (const round of [1, 2]) {
      for (const m of modes) {
        const server = await f.serve(m.secure ? f.tls(FIXTURE.source) : null);
        const t0 = process.hrtime.bigint();
        const got = await f.pull(server.url, m.secure ? f.tls(FIXTURE.target) : null, { allowPlain: !m.secure, encrypt: m.encrypt });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        await server.close();
        fs.rmSync(got.staging, { recursive: true, force: true });
        const mib = got.bytes / 2 ** 20;
        process.stdout.write(`${m.name}, round ${round}: ${mib.toFixed(0)} MiB in ${s.toFixed(2)} s = ${(mib / s).toFixed(0)} MiB/s\n`);
      }
    }
  } finally {
    f.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`peer-tls bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
