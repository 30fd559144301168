// The cluster's TLS material for the agents' image endpoints: one CA and one certificate per host
// (IP SAN = the address the endpoint listens on), made with the openssl command once and kept in
// the stack's secrets folder (0600). A certificate is made again only when it is missing, was not
// signed by the CA, lacks the address or is near its end.
import fs from 'fs';
import os from 'os';
import path from 'path';
import crypto from 'crypto';
import { execFileSync } from 'child_process';
import { paths } from '../common/config';
import { tlsFiles } from '../common/tls';

const DAYS = 825;
/** A certificate with less than this left is renewed by the next `stack up`. */
const RENEW_MS = 30 * 86_400_000;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function usable(certFile: string, keyFile: string, ca: crypto.X509Certificate | null, address?: string): boolean {
  try {
    const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
    if (!fs.existsSync(keyFile) || Date.parse(cert.validTo) - Date.now() < RENEW_MS) return false;
    if (ca && !cert.verify(ca.publicKey)) return false;
    return !address || (cert.subjectAltName ?? '').split(', ').includes(`IP Address:${address}`);
  } catch {
    return false;
  }
}

/**
 * Makes what is missing; returns the CA file. `address`: the one every agent listens on, or each
 * host's own.
 */
export function ensureCertificates(secretsDir: string, hosts: string[], address: string | Record<string, string>): string {
  const dir = tlsFiles.dir(secretsDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = tlsFiles.ca(secretsDir);
  const caKey = tlsFiles.caKey(secretsDir);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-tls-'));
  const old = process.umask(0o077); // keys are 0600 from their first byte
  try {
    if (!usable(caFile, caKey, null)) {
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile, '-days', String(DAYS + 365), '-subj', '/CN=fastmig cluster CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], tmp);
    }
    const ca = new crypto.X509Certificate(fs.readFileSync(caFile));
    for (const host of hosts) {
      const cert = tlsFiles.cert(secretsDir, host);
      const key = tlsFiles.key(secretsDir, host);
      const ip = typeof address === 'string' ? address : address[host];
      if (!ip) throw new Error(`no address for host ${host}'s certificate`);
      if (usable(cert, key, ca, ip)) continue;
      const ext = path.join(tmp, `${host}.ext`);
      fs.writeFileSync(ext, `subjectAltName=IP:${ip},DNS:${host}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', path.join(tmp, `${host}.csr`), '-subj', `/CN=${host}`], tmp);
      openssl(['x509', '-req', '-in', `${host}.csr`, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', String(DAYS), '-extfile', ext], tmp);
    }
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o600);
  } finally {
    process.umask(old);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return caFile;
}

/** The stack's own CA and a certificate for each host at its address (host → address). */
export function certifyHosts(addresses: Record<string, string>): string {
  return ensureCertificates(paths.secretsDir(), Object.keys(addresses), addresses);
}
