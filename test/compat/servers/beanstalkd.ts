// beanstalkd with its binlog (-b, as Debian's /etc/default/beanstalkd offers), listening on the
// service's port. Debian ships no command-line client, so the test speaks beanstalkd's own text
// protocol: 2,000 jobs loaded into a tube, then a producer keeps one connection putting a numbered
// job per operation through the move. Afterwards the server's stats go on, every acknowledged job
// is reserved with its body, and the binlog on the target grows with a job put after the move.
import fs from 'fs';
import net from 'net';
import { opLoop, until, Wrong } from '../client';
import type { CompatServer, Ctx, Usage } from '../entry';

const LOADED = 2000;

/** One connection; a command resolves with the server's reply (its first line, and a body when it has one). */
class Beanstalk {
  private sock: net.Socket;
  private buf = Buffer.alloc(0);
  private waiting: ((r: string) => void) | null = null;
  private failed: ((e: Error) => void) | null = null;
  constructor(c: Ctx) {
    this.sock = net.connect(c.port, c.address);
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.take();
    });
    const fail = (e: Error) => this.failed?.(e);
    this.sock.on('error', fail);
    this.sock.on('close', () => fail(new Error('connection closed')));
  }
  private take() {
    const nl = this.buf.indexOf('\r\n');
    if (nl < 0 || !this.waiting) return;
    const head = this.buf.subarray(0, nl).toString();
    const m = /^(?:OK|RESERVED \d+|FOUND \d+) ?(\d+)?$/.exec(head);
    const len = m ? Number(head.split(' ').pop()) : -1;
    if (len >= 0 && this.buf.length < nl + 2 + len + 2) return;
    const reply = len >= 0 ? `${head}\n${this.buf.subarray(nl + 2, nl + 2 + len).toString()}` : head;
    this.buf = this.buf.subarray(len >= 0 ? nl + 2 + len + 2 : nl + 2);
    const w = this.waiting;
    this.waiting = null;
    w(reply);
  }
  cmd(line: string, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to ${line.split(' ')[0]} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = (r) => (clearTimeout(t), resolve(r));
      this.failed = (e) => (clearTimeout(t), reject(e));
      this.sock.write(`${line}\r\n`);
      this.take();
    });
  }
  put(body: string) {
    return this.cmd(`put 0 0 60 ${Buffer.byteLength(body)}\r\n${body}`);
  }
  close() {
    this.sock.destroy();
  }
}

async function stats(c: Ctx): Promise<Record<string, number>> {
  const b = new Beanstalk(c);
  try {
    const out: Record<string, number> = {};
    for (const m of (await b.cmd('stats')).matchAll(/^([\w-]+): (\d+)$/gm)) out[m[1]] = Number(m[2]);
    return out;
  } finally {
    b.close();
  }
}

export const beanstalkd: CompatServer = {
  id: 'beanstalkd',
  kind: 'work queue with a binlog',
  pkg: 'beanstalkd',
  prepare: async (_c, hostDir) => void fs.mkdirSync(`${hostDir}/binlog`, { recursive: true }),
  command: (c) => ['beanstalkd', '-l', '0.0.0.0', '-p', String(c.port), '-b', `${c.dir}/binlog`],
  ready: (c) => until('beanstalkd answers stats', async () => (await stats(c)).pid > 0),
  async load(c) {
    const b = new Beanstalk(c);
    try {
      await b.cmd('use compat-load');
      for (let i = 0; i < LOADED; i++) if (!/^INSERTED/.test(await b.put(`load ${i}`))) throw new Error('put refused');
    } finally {
      b.close();
    }
    c.state.before = await stats(c);
  },
  use(c): Usage {
    let b: Beanstalk | null = null;
    const u = opLoop(async (i) => {
      if (!b) {
        b = new Beanstalk(c);
        await b.cmd('use compat-seq');
      }
      try {
        const r = await b.put(String(i));
        if (!/^INSERTED \d+$/.test(r)) throw new Wrong(`put answered ${r}`);
      } catch (err) {
        if (!(err instanceof Wrong)) (b.close(), (b = null));
        throw err;
      }
    });
    c.state.done = u.done;
    return { acks: u.acks, stop: async () => (await u.stop(), b?.close()) };
  },
  async check(c, hostDir) {
    const before = c.state.before as Record<string, number>;
    const done = c.state.done as number[];
    const now = await stats(c);
    if (now.uptime < before.uptime) throw new Error(`uptime ${now.uptime}, ${before.uptime} before: it restarted`);
    if (now['total-jobs'] < before['total-jobs'] + done.length) throw new Error(`total-jobs ${now['total-jobs']}, expected at least ${before['total-jobs'] + done.length}`);
    const b = new Beanstalk(c);
    try {
      await b.cmd('watch compat-seq');
      await b.cmd('ignore default');
      const got = new Set<number>();
      for (;;) {
        const r = await b.cmd('reserve-with-timeout 0');
        if (!r.startsWith('RESERVED')) break;
        got.add(Number(r.split('\n')[1]));
        await b.cmd(`delete ${r.split(' ')[1]}`);
      }
      const missing = done.filter((i) => !got.has(i));
      if (missing.length) throw new Error(`${missing.length} of ${done.length} acknowledged jobs missing (first ${missing[0]})`);
      const loaded = await b.cmd('stats-tube compat-load');
      if (!new RegExp(`current-jobs-ready: ${LOADED}\\b`).test(loaded)) throw new Error(`tube compat-load: ${loaded.replace(/\s+/g, ' ').slice(0, 200)}`);
      const binlog = () => fs.readdirSync(`${hostDir}/binlog`).some((f) => fs.readFileSync(`${hostDir}/binlog/${f}`).includes('written after the move'));
      await b.cmd('use compat-after');
      if (!/^INSERTED/.test(await b.put('written after the move'))) throw new Error('a put after the move was refused');
      await until('the binlog on the target holds the job put after the move', async () => binlog(), 10_000, 100);
    } finally {
      b.close();
    }
  },
};
