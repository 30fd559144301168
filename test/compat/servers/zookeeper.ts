// ZooKeeper (a JVM service): QuorumPeerMain in the foreground, as zkServer.sh start-foreground runs
// it, standalone with a zoo.cfg of Debian's values and its data directory kept; the AdminServer
// (an HTTP port of its own) off, and -XX:-UsePerfData (the JVM's hsperfdata file is in /tmp, shared
// by every service of the machine). Its own client, zkCli.sh: 500 znodes loaded, then one zkCli
// session creating a sequential znode per operation through the move. Afterwards every acknowledged
// znode, the loaded data, a write, and the server's own counters (4-letter word mntr) going on.
import net from 'net';
import execa from 'execa';
import { opLoop, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx, type Usage } from '../entry';

const CLI = '/usr/share/zookeeper/bin/zkCli.sh';
const LOADED = 500;

/** One zkCli.sh session: a command is sent once the previous one answered (zkCli drops what it reads before it is connected). */
class ZkCli {
  private p;
  private lines: string[] = [];
  private seen = 0;
  constructor(c: Ctx) {
    this.p = execa(CLI, ['-server', `${c.address}:${c.port}`], { reject: false, buffer: false, timeout: 240_000 });
    // zkCli prints a command's outcome ("Created …") on stderr, data on stdout.
    for (const stream of [this.p.stdout!, this.p.stderr!]) {
      let rest = '';
      stream.on('data', (d: Buffer) => {
        rest += d.toString();
        const parts = rest.split('\n');
        rest = parts.pop()!;
        this.lines.push(...parts.map((l) => l.trim()));
      });
    }
  }
  /** The next line matching `re` (lines before it are passed over). */
  async expect(re: RegExp, timeoutMs = 30_000): Promise<string> {
    return until(`zkCli printing ${re}`, async () => {
      while (this.seen < this.lines.length) if (re.test(this.lines[this.seen++])) return this.lines[this.seen - 1];
      return null;
    }, timeoutMs, 10);
  }
  async run(cmd: string, re: RegExp, timeoutMs?: number): Promise<string> {
    this.p.stdin!.write(`${cmd}\n`);
    return this.expect(re, timeoutMs);
  }
  async close() {
    this.p.stdin!.end('quit\n');
    await this.p;
  }
}

async function session<T>(c: Ctx, fn: (z: ZkCli) => Promise<T>): Promise<T> {
  const z = new ZkCli(c);
  try {
    await z.expect(/state:SyncConnected/);
    return await fn(z);
  } finally {
    await z.close();
  }
}

/** A 4-letter word, ZooKeeper's own monitoring protocol. */
function fourLetters(c: Ctx, word: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = net.connect(c.port, c.address, () => s.end(word));
    s.setTimeout(5000, () => s.destroy(new Error(`${word}: no answer`)));
    s.on('data', (d) => (out += d));
    s.on('error', reject);
    s.on('close', () => resolve(Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]))));
  });
}

export const zookeeper: CompatServer = {
  id: 'zookeeper',
  kind: 'coordination service (JVM)',
  pkg: 'zookeeper',
  async prepare(c, hostDir) {
    writeFile(`${hostDir}/zoo.cfg`, `tickTime=2000
initLimit=10
syncLimit=5
dataDir=${c.dir}/data
clientPort=${c.port}
admin.enableServer=false
4lw.commands.whitelist=srvr,mntr
`);
  },
  command: (c) => ['java', '-XX:-UsePerfData', '-Xmx256m', '-XX:+HeapDumpOnOutOfMemoryError', '-cp', '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar',
    'org.apache.zookeeper.server.quorum.QuorumPeerMain', `${c.dir}/zoo.cfg`],
  ready: (c) => until('zookeeper serves', async () => (await fourLetters(c, 'mntr')).zk_server_state === 'standalone', 90_000, 500),
  async load(c) {
    await session(c, async (z) => {
      for (const cmd of ['create /compat x', 'create /compat/seq x', ...Array.from({ length: LOADED }, (_, i) => `create /compat/n-${i} data-${i}`)]) {
        await z.run(cmd, /^Created |Node already exists/);
      }
    });
    c.state.before = await fourLetters(c, 'mntr');
  },
  use(c): Usage {
    // One session through the move: zkCli keeps it (reconnecting within its timeout if it must).
    const z = new ZkCli(c);
    const connected = z.expect(/state:SyncConnected/);
    const done: string[] = [];
    const u = opLoop(async (i) => {
      await connected;
      const created = (await z.run(`create -s /compat/seq/s- ${i}`, /^Created \/compat\/seq\//, 15_000)).slice('Created '.length);
      if (done.includes(created)) throw new Wrong(`${created} created twice`);
      done.push(created);
    });
    c.state.done = done;
    return { acks: u.acks, stop: async () => (await u.stop(), await z.close()) };
  },
  async check(c) {
    const done = c.state.done as string[];
    const out: string[] = [];
    const list = await session(c, async (z) => {
      const l = (await z.run('ls /compat/seq', /^\[/)).slice(1, -1).split(', ');
      out.push(await z.run('get /compat/n-0', /^data-|Node does not exist/));
      out.push(await z.run(`get /compat/n-${LOADED - 1}`, /^data-|Node does not exist/));
      out.push(await z.run('create /compat/after written-after-the-move', /^Created |Node already exists/));
      out.push(await z.run('get /compat/after', /^written|Node does not exist/));
      return l;
    });
    const missing = done.filter((p) => !list.includes(p.slice('/compat/seq/'.length)));
    if (missing.length) throw new Error(`${missing.length} of ${done.length} acknowledged znodes missing (first ${missing[0]})`);
    for (const want of ['data-0', `data-${LOADED - 1}`, 'Created /compat/after', 'written-after-the-move']) {
      if (!out.includes(want)) throw new Error(`zkCli did not read back ${want}`);
    }
    const before = c.state.before as Record<string, string>;
    const now = await fourLetters(c, 'mntr');
    if (Number(now.zk_znode_count) < Number(before.zk_znode_count) + done.length + 1) throw new Error(`zk_znode_count ${now.zk_znode_count}, expected at least ${Number(before.zk_znode_count) + done.length + 1}`);
    if (Number(now.zk_packets_received) < Number(before.zk_packets_received)) throw new Error(`zk_packets_received went from ${before.zk_packets_received} to ${now.zk_packets_received}: it restarted`);
  },
};
