// Authentication of the agent-to-agent image transfer. Every request carries an HMAC-SHA256 of its
// method, path, requesting host, time and a fresh nonce, keyed with a key derived from the cluster
// key; the serving agent answers only signed, recent, never-seen requests, and closes its answer
// with a MAC over the archive's sha256 and length bound to the request's nonce, so the receiver
// knows every byte came from a host of this cluster for this very request. No secret travels.
import crypto from 'crypto';

/** How far a request's time may be from the server's clock. */
export const PEER_MAX_SKEW_MS = 30_000;

export const PEER_HEADERS = {
  host: 'x-fastmig-host',
  time: 'x-fastmig-time',
  nonce: 'x-fastmig-nonce',
  auth: 'x-fastmig-auth',
  /** Trailers of an image answer. */
  digest: 'x-fastmig-sha256',
  bytes: 'x-fastmig-bytes',
  mac: 'x-fastmig-mac',
  /** Encrypted answers: the AES-GCM nonce (header) and tag (trailer). */
  iv: 'x-fastmig-iv',
  tag: 'x-fastmig-tag',
  /** `br` when the archive is brotli-compressed (image/compression.ts); covered by the MAC. */
  encoding: 'x-fastmig-encoding',
} as const;

/** A key for peer requests only, so a peer MAC can never pass for a manifest signature. */
export function peerKey(clusterKey: Buffer): Buffer {
  return crypto.createHmac('sha256', clusterKey).update('fastmig peer transfer v1').digest();
}

function requestMac(key: Buffer, method: string, urlPath: string, host: string, time: string, nonce: string): Buffer {
  return crypto.createHmac('sha256', key).update(['req', method.toUpperCase(), urlPath, host, time, nonce].join('\n')).digest();
}

/** Headers that authenticate one request of `host` for `method urlPath`. */
export function signPeerRequest(key: Buffer, method: string, urlPath: string, host: string, now = Date.now()): Record<string, string> {
  const time = String(now);
  const nonce = crypto.randomBytes(16).toString('hex');
  return {
    [PEER_HEADERS.host]: host,
    [PEER_HEADERS.time]: time,
    [PEER_HEADERS.nonce]: nonce,
    [PEER_HEADERS.auth]: requestMac(key, method, urlPath, host, time, nonce).toString('hex'),
  };
}

export function responseMac(key: Buffer, nonce: string, sha256: string, bytes: number, encoding = 'identity'): string {
  return crypto.createHmac('sha256', key).update(['res', nonce, sha256, String(bytes), encoding].join('\n')).digest('hex');
}

/** The MAC that closes a peer's answer to a vote request (GET /quorum), bound to its nonce. */
export function voteMac(key: Buffer, nonce: string, body: string): string {
  return crypto.createHmac('sha256', key).update(['vote', nonce, body].join('\n')).digest('hex');
}

export function macEqual(a: string, b: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(a) || !/^[0-9a-f]{64}$/.test(b)) return false;
  return crypto.timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Checks requests; remembers nonces for twice the allowed skew so none can be replayed. */
export function peerVerifier(key: Buffer) {
  const seen = new Map<string, number>();
  return function verify(method: string, urlPath: string, headers: Record<string, string | string[] | undefined>, now = Date.now()): { ok: true; host: string; nonce: string } | { ok: false; why: string } {
    const h = (name: string) => {
      const v = headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const host = h(PEER_HEADERS.host);
    const time = h(PEER_HEADERS.time);
    const nonce = h(PEER_HEADERS.nonce);
    const auth = h(PEER_HEADERS.auth);
    if (!host || !time || !nonce || !auth) return { ok: false, why: 'the request is not signed' };
    if (!/^\d{1,16}$/.test(time) || !/^[0-9a-f]{32}$/.test(nonce) || !/^[0-9a-f]{64}$/.test(auth)) return { ok: false, why: 'the request signature is malformed' };
    if (Math.abs(now - Number(time)) > PEER_MAX_SKEW_MS) return { ok: false, why: 'the request is too old or from the future' };
    const expected = requestMac(key, method, urlPath, host, time, nonce);
    if (!crypto.timingSafeEqual(expected, Buffer.from(auth, 'hex'))) return { ok: false, why: 'the request signature does not match this cluster' };
    for (const [n, at] of seen) if (now - at > 2 * PEER_MAX_SKEW_MS) seen.delete(n);
    if (seen.has(nonce)) return { ok: false, why: 'the request was replayed' };
    seen.set(nonce, now);
    return { ok: true, host, nonce };
  };
}
