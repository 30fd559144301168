// The Temporal connection over TLS, mutual TLS or with an API key (a hosted Temporal service). The
// dev server (`temporal server start-dev`) cannot serve TLS, so a TLS proxy in this process (mutual
// TLS, ALPN h2, a throwaway CA) forwards to the stack's dev server; the client library's and the
// workers' connections go through it with the options built from the settings. S3 over https with
// a private CA (FASTMIG_S3_CA) goes through the same kind of proxy in front of the stack's S3 server.
import fs from 'fs';
import os from 'os';
import net from 'net';
import path from 'path';
import tls from 'tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, type Config } from '../common/config';
import { s3Client } from '../common/s3';
import { peerTls, temporalConnectionOptions, tlsFiles } from '../common/tls';
import { ensureCertificates } from '../stack/certs';

const cfg = loadConfig();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-temporal-tls-'));
ensureCertificates(dir, ['temporal', 'worker'], '127.0.0.1');
const files = { ca: tlsFiles.ca(dir), cert: tlsFiles.cert(dir, 'worker'), key: tlsFiles.key(dir, 'worker') };
const proxies: tls.Server[] = [];
let address: string;

/** A TLS proxy (the certificate of "temporal" of the throwaway CA) to a plain upstream; resolves with its port. */
async function tlsProxy(upstream: string, o: tls.TlsOptions): Promise<number> {
  const [host, port] = upstream.split(':');
  const proxy = tls.createServer({ ...peerTls({}, dir, 'temporal')!, ...o }, (socket) => {
    const up = net.connect(Number(port), host);
    socket.pipe(up).pipe(socket);
    const end = () => (socket.destroy(), up.destroy());
    socket.on('error', end);
    up.on('error', end);
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return (proxy.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  address = `127.0.0.1:${await tlsProxy(cfg.temporalAddress, { requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] })}`;
});
afterAll(async () => {
  for (const p of proxies) await new Promise((r) => p.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('without TLS settings the connection is plain; an API key alone turns TLS on', () => {
  expect(temporalConnectionOptions('t:7233', { tls: {} })).toEqual({ address: 't:7233' });
  expect(temporalConnectionOptions('t:7233', { tls: {}, apiKey: 'k' })).toEqual({ address: 't:7233', tls: {}, apiKey: 'k' });
  const o = temporalConnectionOptions('t:7233', { tls: files, serverName: 'temporal' });
  expect(o.tls).toMatchObject({ serverNameOverride: 'temporal', serverRootCACertificate: expect.any(Buffer), clientCertPair: { crt: expect.any(Buffer), key: expect.any(Buffer) } });
});

test('a bad combination is a one-line error naming the setting', () => {
  expect(() => temporalConnectionOptions('t', { tls: { cert: files.cert } })).toThrow(/^FASTMIG_TEMPORAL_TLS_CERT is set but FASTMIG_TEMPORAL_TLS_KEY is not/);
  expect(() => temporalConnectionOptions('t', { tls: { key: files.key } })).toThrow(/^FASTMIG_TEMPORAL_TLS_KEY is set but FASTMIG_TEMPORAL_TLS_CERT is not/);
  expect(() => temporalConnectionOptions('t', { tls: { ca: path.join(dir, 'nothing.pem') } })).toThrow(/^FASTMIG_TEMPORAL_TLS_CA: cannot read .*nothing\.pem \(ENOENT\)$/);
});

test('the client connects over mutual TLS, with the server name checked against the certificate', async () => {
  const connection = await Connection.connect({ ...temporalConnectionOptions(address, { tls: files, serverName: 'temporal' }), connectTimeout: 5000 });
  try {
    const info = await connection.workflowService.describeNamespace({ namespace: cfg.namespace });
    expect(info.namespaceInfo?.name).toBe(cfg.namespace);
  } finally {
    await connection.close();
  }
});

test('a worker connection (NativeConnection) connects over mutual TLS, and with an API key', async () => {
  for (const settings of [{ tls: files, serverName: 'temporal' }, { tls: files, apiKey: 'not-checked-by-the-dev-server' }]) {
    const connection = await NativeConnection.connect(temporalConnectionOptions(address, settings));
    await connection.close();
  }
});

test('a client without a certificate, or not trusting the CA, does not get through', async () => {
  await expect(Connection.connect({ ...temporalConnectionOptions(address, { tls: { ca: files.ca } }), connectTimeout: 3000 })).rejects.toThrow();
  await expect(Connection.connect({ ...temporalConnectionOptions(address, { tls: { cert: files.cert, key: files.key } }), connectTimeout: 3000 })).rejects.toThrow();
});

test('S3 over https checks the endpoint against FASTMIG_S3_CA; an unreadable CA names the setting', async () => {
  const port = await tlsProxy(`${cfg.s3.endPoint}:${cfg.s3.port}`, {});
  const over = (s3: Partial<Config['s3']>) => s3Client({ ...cfg, s3: { ...cfg.s3, endPoint: '127.0.0.1', port, useSSL: true, ...s3 } });
  expect(await over({ ca: files.ca }).bucketExists(cfg.s3.bucket)).toBe(true);
  await expect(over({}).bucketExists(cfg.s3.bucket)).rejects.toThrow(/self-signed certificate in certificate chain/);
  expect(() => over({ ca: path.join(dir, 'nothing.pem') })).toThrow(/^FASTMIG_S3_CA: cannot read .*nothing\.pem \(ENOENT\)$/);
});
