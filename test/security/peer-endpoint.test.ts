// The image endpoint of a host agent (agent-to-agent transfer) answers only requests signed with
// this cluster's peer key: unsigned, wrongly signed, replayed, stale or malformed requests are
// refused before anything is read. Run against the real agent of hostA, over mutual TLS with the
// certificate `stack up` made for hostB (the embedded stack's default path), while a service runs
// there: afterwards it runs on untouched, and no answer carried its token.
import fs from 'fs';
import https from 'https';
import crypto from 'crypto';
import { loadConfig, paths } from '../../common/config';
import { peerTls } from '../../common/tls';
import { s3Client, readJson } from '../../common/s3';
import { keys } from '../../common/names';
import { peerKey, signPeerRequest, PEER_HEADERS } from '../../image/peer-auth';
import type { HostRecord } from '../../common/schemas';
import { serviceFolder } from '../../common/service-folder';
import { tryBadInput } from './attempts';
import { target, type Target } from './afterwards';
import { addressOf, deployKv, removeQuietly } from '../helpers';

const cfg = loadConfig();
const SERVICE = 'sec-peer';
let base: string;
let svc: Target;
let token: string;

beforeAll(async () => {
  const record = await readJson<HostRecord>(s3Client(cfg), cfg.s3.bucket, keys.host('hostA'));
  expect(record?.peerUrl).toMatch(new RegExp(`^https://${addressOf('hostA').replace(/\./g, '\\.')}:\\d+$`));
  base = record!.peerUrl!;
  await removeQuietly(SERVICE);
  await deployKv(SERVICE, 'hostA');
  svc = await target(SERVICE);
  token = fs.readFileSync(serviceFolder(paths.serviceDir('hostA', SERVICE)).token, 'utf8').trim();
});
afterAll(() => removeQuietly(SERVICE));

const hostB = peerTls(cfg.peerTls, paths.secretsDir(cfg.home), 'hostB')!;

function get(urlPath: string, headers: Record<string, string>, tls: https.RequestOptions = hostB, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .request(new URL(urlPath, base), { method, headers, ...tls, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .end();
  });
}

const PATH = `/images/${SERVICE}/g1-abcdef12`;
const refused = (status: number, why: RegExp) => async (r: { status: number; body: string }) =>
  r.status === status && why.test(r.body) && !r.body.includes(token) ? true : `answered ${r.status} ${r.body.slice(0, 200)}`;
const untouched = () => ({ targets: [svc] });

test('an unsigned request is refused', async () => {
  expect(await tryBadInput('peer endpoint: unsigned request', async () => refused(401, /not signed/)(await get(PATH, {})), untouched())).toBe(true);
});

test('a request signed with another key is refused', async () => {
  const headers = signPeerRequest(peerKey(crypto.randomBytes(32)), 'GET', PATH, 'hostB');
  expect(await tryBadInput('peer endpoint: foreign key', async () => refused(401, /does not match/)(await get(PATH, headers)), untouched())).toBe(true);
});

test('a signature for another path is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', '/images/other/g1-abcdef12', 'hostB');
  expect(await tryBadInput('peer endpoint: signature of another path', async () => refused(401, /does not match/)(await get(PATH, headers)), untouched())).toBe(true);
});

test('a replayed request is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB');
  const first = await get(PATH, headers);
  expect(first.status).toBe(404); // signed, but the service took no such checkpoint: nothing to serve
  expect(await tryBadInput('peer endpoint: replayed request', async () => refused(401, /replayed/)(await get(PATH, headers)), untouched())).toBe(true);
});

test('a stale request is refused', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB', Date.now() - 10 * 60_000);
  expect(await tryBadInput('peer endpoint: stale request', async () => refused(401, /too old/)(await get(PATH, headers)), untouched())).toBe(true);
});

test('a malformed signature and unsafe names are refused', async () => {
  const headers = { ...signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB'), [PEER_HEADERS.auth]: 'zz' };
  expect(await tryBadInput('peer endpoint: malformed signature', async () => refused(401, /malformed/)(await get(PATH, headers)), untouched())).toBe(true);
  const evil = '/images/..%2F..%2Fsecrets/g1';
  const signed = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', evil, 'hostB');
  expect(await tryBadInput('peer endpoint: path traversal in the service name', async () => refused(400, /bad service/)(await get(evil, signed)), untouched())).toBe(true);
});

test('the agent\'s endpoint refuses a client without a certificate of the cluster CA', async () => {
  const headers = signPeerRequest(peerKey(cfg.clusterKey!), 'GET', PATH, 'hostB');
  await expect(get(PATH, headers, { ca: hostB.ca })).rejects.toThrow(/certificate required/);
  // hostA's certificate names the address its endpoint listens on (every client above checked it)
  const hostA = peerTls(cfg.peerTls, paths.secretsDir(cfg.home), 'hostA')!;
  expect(new crypto.X509Certificate(hostA.cert).subjectAltName).toContain(`IP Address:${addressOf('hostA')}`);
});

const sign = (urlPath: string, method = 'GET', host = 'hostB', at = Date.now()) => signPeerRequest(peerKey(cfg.clusterKey!), method, urlPath, host, at);
const more: [string, () => Promise<{ status: number; body: string }>, number, RegExp][] = [
  ['a request from the future', () => get(PATH, sign(PATH, 'GET', 'hostB', Date.now() + 10 * 60_000)), 401, /too old or from the future/],
  ['a signed POST', () => get(PATH, sign(PATH, 'POST'), hostB, 'POST'), 405, /only GET/],
  ['a signed request naming a traversal host', () => get(PATH, sign(PATH, 'GET', '../hostB')), 400, /requesting host name is not valid/],
  ['a checkpoint id climbing to the service\'s token', () => get(`/images/${SERVICE}/..%2Ftoken`, sign(`/images/${SERVICE}/..%2Ftoken`)), 400, /bad service or checkpoint name/],
  ['a checkpoint the service never took', () => get(`/images/${SERVICE}/g9-00000000`, sign(`/images/${SERVICE}/g9-00000000`)), 404, /no checkpoint g9-00000000/],
  ['a signed request for a route it does not serve', () => get('/secrets', sign('/secrets')), 404, /no such route/],
];
test.each(more)('peer endpoint: %s → refused, the service untouched', async (name, send, status, why) => {
  expect(await tryBadInput(`peer endpoint: ${name}`, async () => refused(status, why)(await send()), untouched())).toBe(true);
});
