// The serving side of the agent-to-agent transfer: a host agent's image endpoint serves this
// host's checkpoint images to the other agents of the cluster as one archive, so a migration moves
// its image host to host instead of through S3 while the service is frozen. HTTPS with mutual TLS
// (the cluster CA signs every agent's certificate; a peer without one is refused during the
// handshake) on the agent's address (`--address`, FASTMIG_PEER_ADDRESS; 127.0.0.1 by default) on a free port, advertised in
// the host's registry record; plain HTTP only without TLS material and with FASTMIG_PEER_PLAIN=1.
// On top of TLS, which only says "a host of this cluster", every request must be signed with the cluster's peer key (image/peer-auth.ts) and every
// answer ends with trailers: the archive's digest and length, a MAC over them bound to the request's
// nonce and the encoding, and the GCM tag when the request asked for `?encrypt=1`.
// The same endpoint answers a peer's vote request (GET /quorum: does this host lack grants too?,
// common/quorum.ts) with a small JSON body whose MAC is bound to the request's nonce.
import http from 'http';
import https from 'https';
import fs from 'fs';
import { paths } from '../common/config';
import { CHECKPOINT_ID } from '../common/names';
import { HostName, ServiceName } from '../common/schemas';
import { serviceFolder, type DaemonConfig } from '../common/service-folder';
import type { Logger } from '../common/log';
import type { PeerTls } from '../common/tls';
import type { QuorumVote } from '../common/schemas';
import { chooseEncoding, codecOfEncoding, peerCompressionSetting } from './compression';
import { newIv } from './encryption';
import { imageFileNames, ImageFolders } from './folder';
import { PEER_HEADERS, peerKey, peerVerifier, responseMac, voteMac } from './peer-auth';
import { sendImage, type Sealed } from './pipeline';
import { checkpointOutcome } from './rendezvous';

export interface PeerServerOptions {
  host: string;
  home: string;
  clusterKey: Buffer;
  /** Encrypts answers to requests that ask for it (`?encrypt=1`), as images at rest. */
  imageKey: Buffer | null;
  log: Logger;
  /** Where to listen (the agent passes its configured address); absent: loopback, for tests on one machine. */
  address?: string;
  /** HTTPS with client certificates of the same CA; null serves plain HTTP (the caller allowed it). */
  tls: PeerTls | null;
  /** This host's vote for the asking peer (the agent's lease keeper); absent: no vote route. */
  vote?: (peer: string) => QuorumVote;
}

export interface PeerServer {
  url: string;
  close(): Promise<void>;
}

const ROUTE = /^\/images\/([^/?]+)\/([^/?]+)(?:\?(.*))?$/;
export const VOTE_ROUTE = '/quorum';
/** How long a request may wait for the dump it asks for (the checkpoint step's own limit). */
const MAX_WAIT_MS = 180_000;

export async function serveImages(o: PeerServerOptions): Promise<PeerServer> {
  const key = peerKey(o.clusterKey);
  const verify = peerVerifier(key);
  const compression = peerCompressionSetting();
  const folders = new ImageFolders(o.host, o.home);
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err) => {
      o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'image request failed');
      res.destroy();
    });
  };
  const server = o.tls ? https.createServer({ ...o.tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, onRequest) : http.createServer(onRequest);
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
    if (url === VOTE_ROUTE && o.vote) {
      const body = JSON.stringify(o.vote(auth.host));
      res.writeHead(200, { 'content-type': 'application/json', [PEER_HEADERS.mac]: voteMac(key, auth.nonce, body) }).end(body);
      return;
    }
    const m = ROUTE.exec(url);
    if (!m) return refuse(404, 'no such route (GET /images/<service>/<checkpoint>)');
    const [, service, checkpointId, query] = m;
    const params = new URLSearchParams(query ?? '');
    const encrypt = params.get('encrypt') === '1';
    const wait = params.get('wait') === '1';
    if (!ServiceName.safeParse(service).success || !CHECKPOINT_ID.test(checkpointId)) return refuse(400, 'bad service or checkpoint name');
    try {
      const conf = JSON.parse(fs.readFileSync(serviceFolder(paths.serviceDir(o.host, service, o.home)).config, 'utf8')) as DaemonConfig;
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
    const dir = folders.dir({ service, checkpointId });
    if (!fs.existsSync(dir)) return refuse(404, `no checkpoint ${checkpointId} of ${service} on ${o.host}`);
    if (encrypt && !o.imageKey) return refuse(409, 'encryption was asked for but FASTMIG_IMAGE_KEY is not configured on the source');
    const names = imageFileNames(dir);
    const encoding = chooseEncoding(dir, names, compression);
    const iv = newIv();
    const t0 = Date.now();
    res.writeHead(200, {
      'content-type': 'application/x-tar',
      trailer: [PEER_HEADERS.digest, PEER_HEADERS.bytes, PEER_HEADERS.mac, PEER_HEADERS.tag].join(', '),
      [PEER_HEADERS.encoding]: encoding,
      ...(encrypt ? { [PEER_HEADERS.iv]: iv.toString('hex') } : {}),
    });
    // The trailers are added as the archive ends, before the answer does: they close the very
    // answer they describe.
    const sealed = (s: Sealed) =>
      res.addTrailers({
        [PEER_HEADERS.digest]: s.sha256,
        [PEER_HEADERS.bytes]: String(s.bytes),
        [PEER_HEADERS.mac]: responseMac(key, auth.nonce, s.sha256, s.bytes, encoding),
        ...(s.tag ? { [PEER_HEADERS.tag]: s.tag } : {}),
      });
    const sealing = encrypt ? { key: o.imageKey!, iv } : null;
    sendImage(dir, names, { codec: codecOfEncoding(encoding), sealing, sealed }, res).then(
      (s) => o.log.info({ service, checkpointId, workflowId, peer: auth.host, bytes: s.bytes, encoding, ms: Date.now() - t0 }, 'image served to peer'),
      (err) => {
        o.log.warn({ service, checkpointId, workflowId, peer: auth.host, err: err instanceof Error ? err.message : String(err) }, 'image stream failed');
        res.destroy();
      },
    );
  }
  // A peer without a certificate of the cluster CA, or speaking plain HTTP, ends in the handshake.
  server.on('tlsClientError', (err) => o.log.warn({ err: err.message }, 'image request refused: TLS handshake failed'));
  server.keepAliveTimeout = 1000;
  const address = o.address ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const shown = address.includes(':') ? `[${address}]` : address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${shown}:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
