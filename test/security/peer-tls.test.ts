// The agent-to-agent transfer over mutual TLS, with the real endpoint and client in this process:
// a pull works (trailers, MAC and GCM tag included), and a client that does not trust the cluster
// CA, one without a certificate, one speaking plain HTTP and a plain-http endpoint are all refused.
import fs from 'fs';
import os from 'os';
import path from 'path';
import http from 'http';
import https from 'https';
import { FIXTURE, peerFixture, type PeerFixture } from '../../bench/peer-tls';
import type { PeerServer } from '../../image/peer-server';
import { ensureCertificates } from '../../stack/certs';
import { peerTls } from '../../common/tls';
import { PEER_HEADERS, peerKey, signPeerRequest } from '../../image/peer-auth';
import { tryBadInput } from './attempts';

let f: PeerFixture;
let server: PeerServer;
const urlPath = `/images/${FIXTURE.service}/${FIXTURE.checkpointId}`;

beforeAll(async () => {
  f = peerFixture(4);
  server = await f.serve(f.tls(FIXTURE.source));
});
afterAll(async () => {
  await server?.close();
  f?.close();
});

/** true when `p` fails with an error matching `why`; else what happened. */
async function failsWith(p: Promise<unknown>, why: RegExp): Promise<true | string> {
  try {
    return `it went through: ${JSON.stringify(await p)}`;
  } catch (err) {
    return why.test(String((err as Error).message)) ? true : `failed otherwise: ${(err as Error).message}`;
  }
}

/** A signed GET with the given TLS options; resolves with the status or rejects with the transport error. */
function get(url: string, options: https.RequestOptions): Promise<number> {
  const headers = signPeerRequest(peerKey(f.clusterKey), 'GET', urlPath, FIXTURE.target);
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(new URL(urlPath, url), { ...options, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

test('the endpoint is https and a pull over mutual TLS carries the image intact, encrypted or not', async () => {
  expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  for (const encrypt of [false, true]) {
    const got = await f.pull(server.url, f.tls(FIXTURE.target), { encrypt });
    expect(fs.readFileSync(path.join(got.staging, 'core-1.img'), 'utf8')).toBe('core');
    expect(fs.statSync(path.join(got.staging, 'pages-1.img')).size).toBe(4 * 2 ** 20);
  }
});

test('a client that does not trust the cluster CA refuses the endpoint', async () => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-other-ca-'));
  try {
    ensureCertificates(other, [FIXTURE.target], '127.0.0.1');
    const { ca } = peerTls({}, other, FIXTURE.target)!;
    const own = f.tls(FIXTURE.target);
    expect(await tryBadInput('peer tls: an endpoint whose certificate is of another CA (the client refuses it)', async () => {
      const direct = await failsWith(get(server.url, { ca, cert: own.cert, key: own.key }), /self-signed certificate in certificate chain/);
      return direct === true ? failsWith(f.pull(server.url, { ...own, ca }), /peer transfer of image .* failed: .*self-signed certificate in certificate chain/) : direct;
    })).toBe(true);
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('with mutual TLS a client without a certificate, or with one of another CA, is refused', async () => {
  const { ca } = f.tls(FIXTURE.target);
  expect(await tryBadInput('peer tls: a client without a certificate', () => failsWith(get(server.url, { ca }), /certificate required/))).toBe(true);
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-other-ca-'));
  try {
    ensureCertificates(other, [FIXTURE.target], '127.0.0.1');
    const stranger = peerTls({}, other, FIXTURE.target)!;
    expect(await tryBadInput('peer tls: a client certificate of another CA', () => failsWith(get(server.url, { ca, cert: stranger.cert, key: stranger.key }), /unknown ca|socket hang up|ECONNRESET/i))).toBe(true);
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
  // The same request with the cluster's certificate goes through (to the signature check and on).
  expect(await get(server.url, f.tls(FIXTURE.target))).toBe(200);
});

test('a plain-http request to the TLS endpoint gets no answer', async () => {
  expect(await tryBadInput('peer tls: plain http to the TLS endpoint', () => failsWith(get(server.url.replace('https:', 'http:'), {}), /socket hang up|ECONNRESET/))).toBe(true);
  expect(await get(server.url, f.tls(FIXTURE.target))).toBe(200); // the endpoint serves on
});

test('a plain-http endpoint is refused unless FASTMIG_PEER_PLAIN allows it', async () => {
  const plain = await f.serve(null);
  try {
    expect(plain.url).toMatch(/^http:\/\//);
    expect(await tryBadInput('peer tls: a downgrade to a plain-http endpoint', () => failsWith(f.pull(plain.url, f.tls(FIXTURE.target)), /plain-http image endpoint \(FASTMIG_PEER_PLAIN=1 allows it\)/))).toBe(true);
    expect((await f.pull(plain.url, null, { allowPlain: true })).bytes).toBeGreaterThan(4 * 2 ** 20);
  } finally {
    await plain.close();
  }
});

test('the trailers arrive over HTTPS', async () => {
  const headers = signPeerRequest(peerKey(f.clusterKey), 'GET', urlPath, FIXTURE.target);
  const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
    https.get(new URL(urlPath, server.url), { ...f.tls(FIXTURE.target), headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.trailers));
    }).on('error', reject);
  });
  expect(trailers[PEER_HEADERS.digest]).toMatch(/^[0-9a-f]{64}$/);
  expect(trailers[PEER_HEADERS.mac]).toMatch(/^[0-9a-f]{64}$/);
});
