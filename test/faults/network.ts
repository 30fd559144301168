// The fault matrix's hands on the hosts' network: a host's link cut (its root-side veth down, the
// host itself untouched) or shaped to a crawl, and a way to ask a host for a service at the
// host's own address from inside its namespace, which works while its link is down too (a copy
// serving behind a cut link still serves whoever shares its side of the cut).
import { spawn, ChildProcess } from 'child_process';
import readline from 'readline';
import execa from 'execa';
import { fastmigHome, readStackFile } from '../../common/config';
import { HOST_IF, inHost, listHosts, namespaceOf, vethOf } from '../../stack/network';
import { setLink } from '../../stack/link';

const home = () => fastmigHome();

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
}

/** Cuts a host off: its link on the bridge goes down; its agent, daemons and services live on. */
export async function cutLink(host: string): Promise<void> {
  await run('ip', ['link', 'set', vethOf(home(), host), 'down']);
}

export async function restoreLink(host: string): Promise<void> {
  await run('ip', ['link', 'set', vethOf(home(), host), 'up']);
}

/**
 * Shapes everything a host sends (tbf on its own end) and receives (tbf on the bridge's end) to
 * `rate` (tc's units, e.g. 1mbit). No netem on this kernel: rate only, no added delay or loss.
 */
export async function slowLink(host: string, rate: string): Promise<void> {
  const tbf = ['root', 'tbf', 'rate', rate, 'burst', '16kb', 'latency', '400ms'];
  await run('tc', ['-n', namespaceOf(home(), host), 'qdisc', 'replace', 'dev', HOST_IF, ...tbf]);
  await run('tc', ['qdisc', 'replace', 'dev', vethOf(home(), host), ...tbf]);
}

/** Takes a host's shaping away again, back to what `stack up` set for every link. */
export async function unslowLink(host: string): Promise<void> {
  await execa('tc', ['-n', namespaceOf(home(), host), 'qdisc', 'del', 'dev', HOST_IF, 'root'], { reject: false });
  await execa('tc', ['qdisc', 'del', 'dev', vethOf(home(), host), 'root'], { reject: false });
  const bps = readStackFile(home())?.linkBps;
  if (bps) await setLink(home(), bps);
}

export async function addressesOf(hosts: string[]): Promise<Record<string, string>> {
  const net = await listHosts(home());
  const out: Record<string, string> = {};
  for (const h of hosts) {
    const a = net.hosts.find((x) => x.host === h)?.address;
    if (!a) throw new Error(`host ${h} has no address on the stack's network`);
    out[h] = a;
  }
  return out;
}

/** One small HTTP client per host, running in the host's namespace; requests come as JSON lines. */
const ASKER = `
const http = require('http');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const q = JSON.parse(line);
  let done = false;
  const end = (o) => { if (!done) { done = true; out({ id: q.id, ...o }); } };
  const req = http.request({ host: q.address, port: q.port, path: q.path, method: q.method, agent: false, timeout: q.timeoutMs }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => end({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', (e) => end({ error: e.code || e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => end({ error: e.code || e.message }));
  if (q.body !== undefined) req.write(q.body);
  req.end();
}).on('close', () => process.exit(0));
`;

export type Answer = { status: number; text: string } | { error: string };

export class HostAskers {
  private children = new Map<string, ChildProcess>();
  private pending = new Map<number, (a: Answer) => void>();
  private next = 0;

  constructor(private readonly addresses: Record<string, string>) {}

  get hosts(): string[] {
    return Object.keys(this.addresses);
  }

  address(host: string): string {
    return this.addresses[host];
  }

  private child(host: string): ChildProcess {
    const have = this.children.get(host);
    if (have && have.exitCode === null && !have.killed) return have;
    const [cmd, args] = inHost(home(), host, process.execPath, ['-e', ASKER]);
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const a = JSON.parse(line) as { id: number } & Answer;
      this.pending.get(a.id)?.(a);
      this.pending.delete(a.id);
    });
    child.stdin!.on('error', () => undefined);
    this.children.set(host, child);
    return child;
  }

  /** Asks `host` at its own address, from inside it. Never throws: a failure is an answer too. */
  ask(host: string, port: number, path: string, o: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<Answer> {
    const id = ++this.next;
    const timeoutMs = o.timeoutMs ?? 1000;
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ error: 'no answer from the asker' });
      }, timeoutMs + 2000);
      this.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      const q = { id, address: this.addresses[host], port, path, method: o.method ?? 'GET', body: o.body, timeoutMs };
      this.child(host).stdin!.write(`${JSON.stringify(q)}\n`);
    });
  }

  /** The hosts where something answers HTTP on `port` at the host's own address. */
  async serving(port: number, timeoutMs = 1000): Promise<string[]> {
    const answers = await Promise.all(this.hosts.map(async (h) => [h, await this.ask(h, port, '/health', { timeoutMs })] as const));
    return answers.filter(([, a]) => 'status' in a).map(([h]) => h);
  }

  close(): void {
    for (const c of this.children.values()) c.kill('SIGKILL');
    this.children.clear();
  }
}
