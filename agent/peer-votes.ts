// Asking the other agents for their votes (common/quorum.ts): a signed GET /quorum to each peer's
// image endpoint (mutual TLS as for images, image/peer-server.ts), whose answer must carry a MAC
// bound to this request's nonce and name the peer that was asked. Anything else (no answer in
// time, a refusal, a bad MAC) is no vote.
import http from 'http';
import https from 'https';
import type { PeerTls } from '../common/tls';
import { QuorumVote, type Voter } from '../common/schemas';
import { VOTE_TIMEOUT_SECONDS } from '../common/quorum';
import { macEqual, PEER_HEADERS, peerKey, signPeerRequest, voteMac } from '../image/peer-auth';
import { VOTE_ROUTE } from '../image/peer-server';

export interface VoteClientOptions {
  /** This host, named in the signed request. */
  host: string;
  clusterKey: Buffer;
  tls: PeerTls | null;
  allowPlain: boolean;
}

/** Returns a function that asks one peer; it resolves true only for a verified "I vouch". */
export function voteClient(o: VoteClientOptions): (peer: Voter) => Promise<boolean> {
  const key = peerKey(o.clusterKey);
  return async (peer) => {
    if (!peer.peerUrl) return false;
    const url = new URL(VOTE_ROUTE, peer.peerUrl);
    if (url.protocol === 'https:' ? !o.tls : !o.allowPlain) return false;
    const headers = signPeerRequest(key, 'GET', VOTE_ROUTE, o.host);
    const got = await new Promise<{ body: string; mac: string } | null>((resolve) => {
      const timeout = VOTE_TIMEOUT_SECONDS * 1000;
      const onAnswer = (res: http.IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > 4096) req.destroy();
        });
        res.on('end', () => resolve(res.statusCode === 200 ? { body, mac: String(res.headers[PEER_HEADERS.mac] ?? '') } : null));
        res.on('error', () => resolve(null));
        res.on('close', () => resolve(null)); // after 'end' this changes nothing
      };
      const req = url.protocol === 'https:' ? https.get(url, { headers, timeout, ...o.tls, agent: false }, onAnswer) : http.get(url, { headers, timeout, agent: false }, onAnswer);
      const timer = setTimeout(() => req.destroy(), timeout);
      req.once('close', () => clearTimeout(timer));
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(null));
      req.once('close', () => setImmediate(() => resolve(null)));
    });
    if (!got || !macEqual(got.mac, voteMac(key, headers[PEER_HEADERS.nonce], got.body))) return false;
    try {
      const vote = QuorumVote.safeParse(JSON.parse(got.body));
      return vote.success && vote.data.host === peer.host && vote.data.vouches;
    } catch {
      return false;
    }
  };
}
