// TCP probes for the host network tests: a server and a client, each a small Node program started
// inside a host's network namespace (a namespace belongs to a process, so they cannot run in Jest's).
// Protocol: the client sends "PUT n\n" then n bytes (the server answers the count it received), or
// "GET n\n" (the server sends n bytes and closes).
import net from 'net';
import { spawn, ChildProcess } from 'child_process';
import { execInHost, inHost } from '../stack/network';

const SERVER = `
const net = require('net');
const [addr, port] = process.argv.slice(1);
const chunk = Buffer.alloc(64 * 1024, 7);
net.createServer((s) => {
  let head = '', got = 0, mode = null, want = 0;
  s.on('error', () => {});
  s.on('data', (d) => {
    if (mode === null) {
      head += d.toString('latin1');
      const nl = head.indexOf('\\n');
      if (nl < 0) return;
      [mode, want] = head.slice(0, nl).split(' ');
      want = Number(want);
      got = Buffer.byteLength(head.slice(nl + 1), 'latin1');
      if (mode === 'GET') {
        let left = want;
        const pump = () => { while (left > 0) { const c = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= c.length; if (!s.write(c)) return s.once('drain', pump); } s.end(); };
        pump();
      }
    } else got += d.length;
    if (mode === 'PUT' && got >= want) s.end(String(got));
  });
}).listen(Number(port), addr, () => console.log('ready'));
`;

const CLIENT = `
const net = require('net');
const [addr, port, mode, n] = process.argv.slice(1);
const want = Number(n), t0 = process.hrtime.bigint();
const done = (o) => { console.log(JSON.stringify({ ...o, ms: Number(process.hrtime.bigint() - t0) / 1e6 })); process.exit(0); };
const s = net.connect({ host: addr, port: Number(port) });
s.setTimeout(30000, () => done({ error: 'ETIMEDOUT' }));
s.on('error', (e) => done({ error: e.code || e.message }));
let got = 0, text = '';
s.on('connect', () => {
  s.write(mode + ' ' + want + '\\n');
  if (mode !== 'PUT') return;
  const chunk = Buffer.alloc(64 * 1024, 7);
  let left = want;
  const pump = () => { while (left > 0) { const c = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= c.length; if (!s.write(c)) return s.once('drain', pump); } };
  pump();
});
s.on('data', (d) => { got += d.length; if (mode === 'PUT') text += d; });
s.on('end', () => done({ bytes: mode === 'PUT' ? Number(text) : got }));
`;

export interface ProbeResult {
  bytes?: number;
  error?: string;
  ms: number;
}

/** Starts the probe server inside a host's namespace (or in Jest's own when host is null). */
export async function startServer(home: string, host: string | null, addr: string, port: number): Promise<ChildProcess> {
  const args = ['-e', SERVER, addr, String(port)];
  const [cmd, argv] = host ? inHost(home, host, process.execPath, args) : [process.execPath, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`probe server on ${addr}:${port} did not start`)), 10000);
    child.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`probe server on ${addr}:${port} exited with ${code}`)));
  });
  return child;
}

/** Connects from inside a host's namespace; PUT sends n bytes, GET receives n bytes. */
export async function probe(home: string, host: string, addr: string, port: number, mode: 'PUT' | 'GET' = 'PUT', n = 4): Promise<ProbeResult> {
  const r = await execInHost(home, host, process.execPath, ['-e', CLIENT, addr, String(port), mode, String(n)], { timeout: 60000 });
  if (r.exitCode !== 0) throw new Error(`probe client in ${host} failed: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ProbeResult;
}

/** Megabits per second of a transfer. */
export function mbitPerSecond(r: ProbeResult): number {
  return ((r.bytes ?? 0) * 8) / (r.ms / 1000) / 1e6;
}

/** A free TCP port (asked of the kernel in Jest's namespace; the test namespaces are empty anyway). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Whether a TCP connect from Jest's own (the root) namespace succeeds. */
export function connectsHere(addr: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: addr, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
