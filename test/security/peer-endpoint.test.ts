// The image endpoint of a host agent (agent-to-agent transfer) answers only requests signed with
// this cluster's peer key: unsigned, wrongly signed, replayed, stale or malformed requests are
// refused before anything is read. Run against the real agent of hostA, over mutual TLS with the
// certificate `stack up` made for hostB (the embedded stack's default path).
import https from 'https';
import crypto from 'crypto';
import { loadConfig, paths } from '../../common/config';
import { peerTls } from '../../common/tls';
import { s3Client, readJson } from '../../common/s3';
import { keys } from '../../common/names';
import { peerKey, signPeerRequest, PEER_HEADERS } from '../../image/peer-auth';
import type { HostRecord } from '../../common/schemas';
import { tryBadInput } from './attempts';
import { addressOf } from '../helpers';

const cfg = loadConfig();
let base: string;

beforeAll(async () => {
  const record = await readJson<HostRecord>(s3Client(cfg), cfg.s3.bucket, keys.host('hostA'));
  expect(record?.peerUrl).toMatch(new RegExp(`^https://${addressOf('hostA').replace(/\./g, '\\.')}:\\d+$`));
  base = record!.peerUrl!;
});

const hostB = peerTls(cfg.peerTls, paths.secretsDir(cfg.home), 'hostB')!;

function get(urlPath: string, headers: Record<string, string>, tls: https.RequestOptions = hostB): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(new URL(urlPath, base), { headers, ...tls, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const PATH = '/images/no-such-service/g1-abcdef12';
const refused = (status: number, why: RegExp) => async (r: { status: number; body: string }) => r.status === status && why.test(r.body);

test('an unsigned request is refused', async () => {
  expect(await tryBadInput('peer endpoint: unsigned request', async () => refused(401, /not signed/)(await get(PATH, {})))).toBe(true);
});

test('a request signed with another key is refused', async () => {
  const headers = signPeerRequest(peerKey(crypto.randomBytes(32)), 'GET', PATH, 'hostB');
  expect(await tryBadInput('peer endpoint: foreign key', async () => refused(401, /does not match/)(await get(PATH, headers)))).toBe(true);
});

test('a signature for another path is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', '/images/other/g1-abcdef12', 'hostB');
  expect(await tryBadInput('peer endpoint: signature of another path', async () => refused(401, /does not match/)(await get(PATH, headers)))).toBe(true);
});

test('a replayed request is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB');
  const first = await get(PATH, headers);
  expect(first.status).toBe(404); // signed, but there is no such service: nothing to serve
  expect(await tryBadInput('peer endpoint: replayed request', async () => refused(401, /replayed/)(await get(PATH, headers)))).toBe(true);
});

test('a stale request is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB', Date.now() - 10 * 60_000);
  expect(await tryBadInput('peer endpoint: stale request', async () => refused(401, /too old/)(await get(PATH, headers)))).toBe(true);
});

test('a malformed signature and unsafe names are refused', async () => {
  const headers = { ...signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB'), [PEER_HEADERS.auth]: 'zz' };
  expect(await tryBadInput('peer endpoint: malformed signature', async () => refused(401, /malformed/)(await get(PATH, headers)))).toBe(true);
  const evil = '/images/..%2F..%2Fsecrets/g1';
  const signed = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', evil, 'hostB');
  expect(await tryBadInput('peer endpoint: path traversal in the service name', async () => refused(400, /bad service/)(await get(evil, signed)))).toBe(true);
});

test('the agent\'s endpoint refuses a client without a certificate of the cluster CA', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB');
  await expect(get(PATH, headers, { ca: hostB.ca })).rejects.toThrow(/certificate required/);
  // hostA's certificate names the address its endpoint listens on (every client above checked it)
  const hostA = peerTls(cfg.peerTls, paths.secretsDir(cfg.home), 'hostA')!;
  expect(new crypto.X509Certificate(hostA.cert).subjectAltName).toContain(`IP Address:${addressOf('hostA')}`);
});
