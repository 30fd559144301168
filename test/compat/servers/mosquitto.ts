// Mosquitto with persistence (saved every second), `user root` in its configuration (as root it
// otherwise switches to the mosquitto user, which cannot be dumped here). Its own clients: retained
// messages, a durable session (clean session off) with 100 QoS 1 messages queued while it is away,
// 2,000 messages from mosquitto_pub -l; through the move a subscriber keeps its connection while
// mosquitto_pub sends a numbered QoS 1 message per operation. Afterwards the subscriber got every
// acknowledged number in order, the retained messages and the queued ones are delivered, and the
// broker saves a new retained message into its persistence file on the target.
import fs from 'fs';
import { opLoop, sh, streamUse, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx, type Usage } from '../entry';

const RETAINED = 50;
const QUEUED = 100;
const at = (c: Ctx) => ['-h', c.address, '-p', String(c.port)];
const pub = (c: Ctx, ...args: string[]) => sh('mosquitto_pub', [...at(c), ...args], { timeoutMs: 10_000 });
const sub = (c: Ctx, n: number, ...args: string[]) => sh('mosquitto_sub', [...at(c), '-C', String(n), '-W', '20', ...args], { timeoutMs: 30_000 });

export const mosquitto: CompatServer = {
  id: 'mosquitto',
  kind: 'message broker (MQTT), persistent',
  pkg: 'mosquitto',
  async prepare(c, hostDir) {
    fs.mkdirSync(`${hostDir}/data`, { recursive: true });
    writeFile(`${hostDir}/mosquitto.conf`, `user root
persistence true
persistence_location ${c.dir}/data/
autosave_interval 1
log_dest stderr
listener ${c.port} 0.0.0.0
allow_anonymous true
`);
  },
  command: (c) => ['mosquitto', '-c', `${c.dir}/mosquitto.conf`],
  ready: (c) => until('mosquitto takes a message', async () => (await pub(c, '-t', 'compat/ready', '-m', 'x'), true)),
  async load(c) {
    for (let i = 0; i < RETAINED; i++) await pub(c, '-r', '-q', '1', '-t', `compat/r/${i}`, '-m', `retained ${i}`);
    // A durable session subscribes, leaves, and gets messages queued while it is away.
    await sh('mosquitto_sub', [...at(c), '-c', '-i', 'compat-durable', '-q', '1', '-t', 'compat/q', '-E']);
    await sh('mosquitto_pub', [...at(c), '-q', '1', '-t', 'compat/q', '-l'], { input: `${Array.from({ length: QUEUED }, (_, i) => `queued ${i}`).join('\n')}\n` });
    await sh('mosquitto_pub', [...at(c), '-q', '0', '-t', 'compat/load', '-l'], { input: `${Array.from({ length: 2000 }, (_, i) => `load ${i}`).join('\n')}\n` });
  },
  use(c): Usage {
    const got: number[] = [];
    const subscriber = streamUse('mosquitto_sub', [...at(c), '-q', '1', '-t', 'compat/seq'], (line) => {
      const n = Number(line);
      if (!Number.isInteger(n)) throw new Wrong(`the subscriber got ${JSON.stringify(line)}`);
      if (got.length && n < got[got.length - 1]) throw new Wrong(`the subscriber got ${n} after ${got[got.length - 1]}`);
      got.push(n);
      return true;
    });
    let publisher: ReturnType<typeof opLoop> | null = null;
    // The subscriber is in before the first message goes out.
    const started = new Promise<void>((r) => setTimeout(r, 1000)).then(() => {
      publisher = opLoop((i) => pub(c, '-q', '1', '-t', 'compat/seq', '-m', String(i)));
    });
    const acks: number[] = [];
    const feed = setInterval(() => publisher && acks.splice(0, acks.length, ...publisher.acks), 20);
    return {
      acks,
      async stop() {
        await started;
        clearInterval(feed);
        await publisher!.stop();
        const done = publisher!.done;
        const missing = () => done.filter((i) => !got.includes(i));
        await until('the subscriber got every acknowledged message', async () => !missing().length, 20_000, 100).catch(() => undefined);
        await subscriber.stop();
        if (missing().length) throw new Error(`the subscriber, connected through the move, missed ${missing().length} of ${done.length} acknowledged messages (first ${missing()[0]})`);
      },
    };
  },
  async check(c, hostDir) {
    const retained = (await sub(c, RETAINED, '-t', 'compat/r/#', '--retained-only', '-v')).split('\n').sort();
    const want = Array.from({ length: RETAINED }, (_, i) => `compat/r/${i} retained ${i}`).sort();
    if (retained.join('\n') !== want.join('\n')) throw new Error(`${retained.length} retained messages came back, expected ${RETAINED}`);
    const queued = (await sub(c, QUEUED, '-c', '-i', 'compat-durable', '-q', '1', '-t', 'compat/q')).split('\n');
    if (queued.join('\n') !== Array.from({ length: QUEUED }, (_, i) => `queued ${i}`).join('\n')) throw new Error(`the durable session got ${queued.length} queued messages, expected ${QUEUED} in order`);
    await pub(c, '-r', '-q', '1', '-t', 'compat/after', '-m', 'written after the move');
    await until('the broker saves it into its persistence file on the target', async () => fs.readFileSync(`${hostDir}/data/mosquitto.db`).includes('written after the move'), 15_000, 250);
  },
};
