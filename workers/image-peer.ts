// The image endpoint of a host agent: serves this host's checkpoint images to the other agents of
// the cluster as one tar stream, so a migration moves its image host to host instead of through S3
// while the service is frozen. HTTP on 127.0.0.1 (FASTMIG_PEER_ADDRESS to listen elsewhere) on a
// free port, advertised in the host's registry record; every request must be signed with the
// cluster's peer key (common/peer-auth.ts) and every answer ends with a MAC over its digest.
import http from 'http';
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { paths } from '../common/config';
import { packFiles } from '../common/tar';
import { chooseEncoding, compressor, peerCompressionSetting } from '../common/peer-compression';
import { CHECKPOINT_ID, imageFileNames } from '../common/image-dir';
import { PEER_HEADERS, peerKey, peerVerifier, responseMac } from '../common/peer-auth';
import { HostName, ServiceName } from '../common/schemas';
import { checkpointOutcome } from '../activities/checkpoint-ready';
import type { DaemonConfig } from '../common/service-folder';
import type { Logger } from '../common/log';

export interface PeerServerOptions {
  host: string;
  home: string;
  clusterKey: Buffer;
  /** Encrypts answers to requests that ask for it (`?encrypt=1`), as images at rest. */
  imageKey: Buffer | null;
  log: Logger;
  address?: string;
}

export interface PeerServer {
  url: string;
  close(): Promise<void>;
}

const ROUTE = /^\/images\/([^/?]+)\/([^/?]+)(?:\?(.*))?$/;
/** How long a request may wait for the dump it asks for (the checkpoint step's own limit). */
const MAX_WAIT_MS = 180_000;

export async function serveImages(o: PeerServerOptions): Promise<PeerServer> {
  const key = peerKey(o.clusterKey);
  const verify = peerVerifier(key);
  const compression = peerCompressionSetting();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'image request failed');
      res.destroy();
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const workflowId = typeof req.headers['x-fastmig-workflow'] === 'string' ? req.headers['x-fastmig-workflow'].slice(0, 200) : undefined;
    const refuse = (status: number, why: string) => {
      o.log.warn({ status, url: req.url, peer: req.headers[PEER_HEADERS.host], workflowId }, `image request refused: ${why}`);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${why}\n`);
    };
    const url = req.url ?? '';
    const auth = verify(req.method ?? '', url, req.headers);
    if (!auth.ok) return refuse(401, auth.why);
    if (!HostName.safeParse(auth.host).success) return refuse(400, 'the requesting host name is not valid');
    if (req.method !== 'GET') return refuse(405, 'only GET is served');
    const m = ROUTE.exec(url);
    if (!m) return refuse(404, 'no such route (GET /images/<service>/<checkpoint>)');
    const [, service, checkpointId, query] = m;
    const params = new URLSearchParams(query ?? '');
    const encrypt = params.get('encrypt') === '1';
    const wait = params.get('wait') === '1';
    if (!ServiceName.safeParse(service).success || !CHECKPOINT_ID.test(checkpointId)) return refuse(400, 'bad service or checkpoint name');
    const serviceDir = paths.serviceDir(o.host, service, o.home);
    try {
      const conf = JSON.parse(fs.readFileSync(path.join(serviceDir, 'daemon.json'), 'utf8')) as DaemonConfig;
      if (conf.host !== o.host || conf.spec?.name !== service) return refuse(404, `${service} does not belong to ${o.host}`);
    } catch {
      return refuse(404, `no service ${service} on ${o.host}`);
    }
    if (wait) {
      // The target asked while the dump may still run: answer when this agent's checkpoint ended.
      const outcome = await checkpointOutcome(service, checkpointId, MAX_WAIT_MS);
      if (outcome === 'timeout') return refuse(504, `checkpoint ${checkpointId} of ${service} did not end on ${o.host} within ${MAX_WAIT_MS / 1000} s`);
      if (!outcome.ok) return refuse(409, `checkpoint ${checkpointId} of ${service} failed on ${o.host}: ${outcome.why}`);
    }
    const dir = path.join(serviceDir, 'images', checkpointId);
    if (!fs.existsSync(dir)) return refuse(404, `no checkpoint ${checkpointId} of ${service} on ${o.host}`);
    if (encrypt && !o.imageKey) return refuse(409, 'encryption was asked for but FASTMIG_IMAGE_KEY is not configured on the source');
    const names = imageFileNames(dir);
    const encoding = chooseEncoding(dir, names, compression);
    const iv = crypto.randomBytes(12);
    const cipher = encrypt ? crypto.createCipheriv('aes-256-gcm', o.imageKey!, iv) : null;
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    const t0 = Date.now();
    // Counts and hashes what goes out; its flush runs before the answer ends, so the trailers
    // (digest, length, MAC bound to the request's nonce) close the very answer they describe.
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        const digest = hash.digest('hex');
        const trailers: Record<string, string> = {
          [PEER_HEADERS.digest]: digest,
          [PEER_HEADERS.bytes]: String(bytes),
          [PEER_HEADERS.mac]: responseMac(key, auth.nonce, digest, bytes, encoding),
        };
        if (cipher) trailers[PEER_HEADERS.tag] = cipher.getAuthTag().toString('hex');
        res.addTrailers(trailers);
        cb();
      },
    });
    res.writeHead(200, {
      'content-type': 'application/x-tar',
      trailer: [PEER_HEADERS.digest, PEER_HEADERS.bytes, PEER_HEADERS.mac, PEER_HEADERS.tag].join(', '),
      [PEER_HEADERS.encoding]: encoding,
      ...(cipher ? { [PEER_HEADERS.iv]: iv.toString('hex') } : {}),
    });
    // Compressed before it is encrypted (ciphertext does not compress).
    const stages = [packFiles(dir, names), ...(encoding === 'br' ? [compressor()] : []), ...(cipher ? [cipher] : []), meter, res];
    pipeline(stages as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]).then(
      () => o.log.info({ service, checkpointId, workflowId, peer: auth.host, bytes, encoding, ms: Date.now() - t0 }, 'image served to peer'),
      (err) => {
        o.log.warn({ service, checkpointId, workflowId, peer: auth.host, err: err instanceof Error ? err.message : String(err) }, 'image stream failed');
        res.destroy();
      },
    );
  }
  server.keepAliveTimeout = 1000;
  const address = o.address ?? process.env.FASTMIG_PEER_ADDRESS ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const shown = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${shown}:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
