// The pulling side of the agent-to-agent transfer: GET /images/<service>/<checkpoint> from the
// image endpoint of the host that took the checkpoint (image/peer-server.ts), a signed request,
// one archive through the image pipeline into the staging folder, kept only when the trailers
// (sha256, length, MAC bound to this request's nonce and to the encoding) check out. Over HTTPS the
// source must show a certificate of the cluster CA for the address it advertised, and this host shows
// its own (mutual TLS); a plain-http endpoint is refused unless FASTMIG_PEER_PLAIN=1. Any failure to
// reach or read the peer is a `PeerTransfer` failure, after which a caller falls back to the store.
import fs from 'fs';
import http from 'http';
import https from 'https';
import type { PeerTls } from '../common/tls';
import { ImageError, firstLine } from './errors';
import { codecOfEncoding } from './compression';
import { macEqual, PEER_HEADERS, peerKey, responseMac, signPeerRequest } from './peer-auth';
import { receiveImage } from './pipeline';
import type { FetchRequest, ImageTransport, IncomingImage, TransferHooks } from './transport';

export interface PeerClientOptions {
  /** This host: named in the signed request. */
  host: string;
  clusterKey: Buffer;
  /** Decrypts answers asked for encrypted. */
  imageKey: Buffer | null;
  /** This host's certificate and key, and the cluster CA that must have signed the source's. */
  tls: PeerTls | null;
  /** Whether a plain-http endpoint may be used (FASTMIG_PEER_PLAIN=1). */
  allowPlain: boolean;
  /** The image endpoint a host advertises (its registry record), if any. */
  peerUrl(host: string): Promise<string | undefined>;
}

export class PeerClient implements ImageTransport {
  private readonly key: Buffer;
  constructor(private readonly o: PeerClientOptions) {
    this.key = peerKey(o.clusterKey);
  }

  async open(req: FetchRequest, hooks: TransferHooks): Promise<IncomingImage> {
    const from = req.from ?? '';
    const failed = (why: string) => new ImageError('PeerTransfer', `peer transfer of image ${req.checkpointId} of ${req.service} from ${from} failed: ${why}`);
    const base = await this.o.peerUrl(from).catch(() => undefined);
    if (!base) throw failed(`${from} advertises no image endpoint`);
    const secure = base.startsWith('https:');
    if (!secure && !this.o.allowPlain) throw failed(`${from} advertises a plain-http image endpoint (FASTMIG_PEER_PLAIN=1 allows it)`);
    if (secure && !this.o.tls) throw failed('no TLS material here to reach an https image endpoint (FASTMIG_TLS_CERT, FASTMIG_TLS_KEY, FASTMIG_TLS_CA)');
    if (req.encrypt && !this.o.imageKey) throw failed('image encryption is on but FASTMIG_IMAGE_KEY is not configured here');
    return {
      into: (staging) =>
        this.pull(base, req, hooks, staging).catch((err) => {
          throw failed(firstLine(err));
        }),
    };
  }

  private async pull(base: string, req: FetchRequest, hooks: TransferHooks, staging: string): Promise<{ bytes: number }> {
    // wait=1: the source may still be dumping; its endpoint answers when the checkpoint ended.
    const query = [...(req.wait ? ['wait=1'] : []), ...(req.encrypt ? ['encrypt=1'] : [])].join('&');
    const urlPath = `/images/${req.service}/${req.checkpointId}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = signPeerRequest(this.key, 'GET', urlPath, this.o.host);
    if (req.workflowId !== undefined) headers['x-fastmig-workflow'] = req.workflowId; // for the source's log only
    const idleMs = req.wait ? 200_000 : 10_000;
    const beat = setInterval(() => hooks.alive?.(), 5000);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const url = new URL(urlPath, base);
      const r = url.protocol === 'https:' ? https.get(url, { headers, timeout: idleMs, ...this.o.tls, agent: false }, resolve) : http.get(url, { headers, timeout: idleMs }, resolve);
      r.once('timeout', () => r.destroy(new Error(`no answer from ${base} within ${idleMs / 1000} s`)));
      r.once('error', reject);
    }).finally(() => clearInterval(beat));
    if (res.statusCode !== 200) {
      let text = '';
      for await (const c of res) text += String(c);
      throw new Error(`${base} answered ${res.statusCode}: ${text.trim().slice(0, 200)}`);
    }
    await hooks.flowing?.(); // the checkpoint is taken, its bytes about to flow
    const iv = res.headers[PEER_HEADERS.iv];
    if (req.encrypt && typeof iv !== 'string') throw new Error('the answer is not encrypted');
    const encoding = String(res.headers[PEER_HEADERS.encoding] ?? 'identity');
    if (encoding !== 'identity' && encoding !== 'br') throw new Error(`the answer's encoding ${JSON.stringify(encoding.slice(0, 40))} is not known here`);
    // GCM's tag comes as a trailer, known once the answer is complete: the decryption checks it
    // as the stream ends. Everything lands in the staging folder, renamed only once all passed.
    const tag = () => String(res.trailers[PEER_HEADERS.tag] ?? '');
    const sealing = req.encrypt ? { key: this.o.imageKey!, iv: Buffer.from(iv as string, 'hex'), tag } : null;
    const got = await receiveImage(res, staging, { codec: codecOfEncoding(encoding), sealing, alive: hooks.alive });
    const t = res.trailers;
    if (t[PEER_HEADERS.digest] !== got.sha256 || Number(t[PEER_HEADERS.bytes]) !== got.bytes) throw new Error('the answer was cut short or altered (digest or length mismatch)');
    if (!macEqual(String(t[PEER_HEADERS.mac] ?? ''), responseMac(this.key, headers[PEER_HEADERS.nonce], got.sha256, got.bytes, encoding))) {
      throw new Error("the answer's MAC does not match this cluster's key");
    }
    if (!fs.readdirSync(staging).length) throw new Error('the image is empty');
    return { bytes: got.bytes };
  }
}
