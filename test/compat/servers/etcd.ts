// etcd, a single member as its documentation starts one (its data directory kept), the client URL
// on the service's port, the peer URL on loopback. etcdctl puts 200 keys, then a key per operation
// through the move; afterwards every acknowledged key, the store's hash at the revision of before the
// move unchanged (etcdctl endpoint hashkv), the raft term unchanged (a restart elects anew), a write.
import { opLoop, sh, until, Wrong } from '../client';
import type { CompatServer, Ctx } from '../entry';

const ctl = (c: Ctx, ...args: string[]) => sh('etcdctl', [`--endpoints=http://${c.address}:${c.port}`, '--command-timeout=8s', ...args], { timeoutMs: 15_000 });
const status = async (c: Ctx) => JSON.parse(await ctl(c, 'endpoint', 'status', '-w', 'json'))[0].Status;

export const etcd: CompatServer = {
  id: 'etcd',
  kind: 'consistent key-value store (Go)',
  pkg: 'etcd-server',
  extraPorts: 1,
  command: (c) => ['etcd', '--name', 'compat', '--data-dir', `${c.dir}/data`, '--listen-client-urls', `http://0.0.0.0:${c.port}`,
    '--advertise-client-urls', `http://127.0.0.1:${c.port}`, '--listen-peer-urls', `http://127.0.0.1:${c.ports[0]}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${c.ports[0]}`, '--initial-cluster', `compat=http://127.0.0.1:${c.ports[0]}`],
  ready: (c) => until('etcd takes a write', async () => (await ctl(c, 'put', 'compat/ready', 'x')) === 'OK', 60_000, 500),
  async load(c) {
    for (let i = 0; i < 200; i++) await ctl(c, 'put', `compat/load/${i}`, `value-${i}`);
    const s = await status(c);
    c.state.before = s;
    c.state.hash = JSON.parse(await ctl(c, 'endpoint', 'hashkv', `--rev=${s.header.revision}`, '-w', 'json'))[0].HashKV.hash;
  },
  use(c) {
    let last = 0;
    const u = opLoop(async (i) => {
      const rev = Number(JSON.parse(await ctl(c, 'put', `compat/seq/${i}`, String(i), '-w', 'json')).header.revision);
      if (rev <= last) throw new Wrong(`revision ${rev} after ${last}`);
      last = rev;
    });
    c.state.done = u.done;
    return u;
  },
  async check(c) {
    const done = c.state.done as number[];
    const keys = new Set((await ctl(c, 'get', 'compat/seq/', '--prefix', '--keys-only')).split('\n').filter(Boolean));
    const missing = done.filter((i) => !keys.has(`compat/seq/${i}`));
    if (missing.length) throw new Error(`${missing.length} of ${done.length} acknowledged keys missing (first ${missing[0]})`);
    if ((await ctl(c, 'get', 'compat/load/199', '--print-value-only')) !== 'value-199') throw new Error('compat/load/199 does not read back');
    const before = c.state.before as { header: { revision: number }; raftTerm: number };
    const hash = JSON.parse(await ctl(c, 'endpoint', 'hashkv', `--rev=${before.header.revision}`, '-w', 'json'))[0].HashKV.hash;
    if (hash !== c.state.hash) throw new Error(`the store's hash at revision ${before.header.revision} is ${hash}, was ${c.state.hash}`);
    if ((await ctl(c, 'put', 'compat/after', 'written after the move')) !== 'OK') throw new Error('a put after the move failed');
    const now = await status(c);
    if (now.raftTerm !== before.raftTerm) throw new Error(`raft term ${now.raftTerm}, ${before.raftTerm} before: it restarted`);
    if (now.header.revision < before.header.revision + done.length + 1) throw new Error(`revision ${now.header.revision}, expected at least ${before.header.revision + done.length + 1}`);
  },
};
