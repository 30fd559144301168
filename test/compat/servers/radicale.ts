// Radicale (a Python CalDAV/CardDAV server) as its documentation starts it, `radicale` with its
// storage folder kept (no configuration file: --config with no file); anyone may log in (auth
// none, its default), each user owning their collections. A CalDAV client's requests with curl:
// MKCALENDAR, 100 events PUT, then an event per operation through the move; afterwards the calendar
// holds every acknowledged event (GET of the collection, and its files on the target), its sync
// token moved on, and it takes a new event.
import fs from 'fs';
import { opLoop, sh, until } from '../client';
import type { CompatServer, Ctx } from '../entry';

const cal = (c: Ctx) => `http://${c.address}:${c.port}/compat/cal/`;
const dav = (c: Ctx, method: string, url: string, body?: string, extra: string[] = []) =>
  sh('curl', ['-sS', '-f', '--max-time', '10', '-u', 'compat:x', '-X', method, ...extra, ...(body === undefined ? [] : ['--data-binary', '@-']), url], { input: body, timeoutMs: 15_000 });
const event = (uid: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//compat//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:event ${uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
const put = (c: Ctx, uid: string) => dav(c, 'PUT', `${cal(c)}${uid}.ics`, event(uid), ['-H', 'Content-Type: text/calendar']);
const syncToken = async (c: Ctx) => /<sync-token>([^<]+)<\/sync-token>/.exec(await dav(c, 'PROPFIND', cal(c),
  '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>', ['-H', 'Depth: 0', '-H', 'Content-Type: application/xml']))?.[1];

export const radicale: CompatServer = {
  id: 'radicale',
  kind: 'CalDAV server (Python)',
  pkg: 'radicale',
  command: (c) => ['radicale', '--config', '', '--server-hosts', `0.0.0.0:${c.port}`, '--storage-filesystem-folder', `${c.dir}/collections`, '--auth-type', 'none'],
  ready: (c) => until('radicale answers', async () => (await sh('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${c.address}:${c.port}/.web/`])) === '200'),
  async load(c) {
    await dav(c, 'MKCALENDAR', cal(c));
    for (let i = 0; i < 100; i++) await put(c, `load-${i}`);
    c.state.token = await syncToken(c);
  },
  use(c) {
    const u = opLoop((i) => put(c, `seq-${i}`));
    c.state.done = u.done;
    return u;
  },
  async check(c, hostDir) {
    const done = c.state.done as number[];
    const all = await dav(c, 'GET', cal(c));
    const missing = [...done.map((i) => `seq-${i}`), 'load-0', 'load-99'].filter((uid) => !all.includes(`UID:${uid}\r\n`));
    if (missing.length) throw new Error(`${missing.length} events missing from the calendar (first ${missing[0]})`);
    const files = fs.readdirSync(`${hostDir}/collections/collection-root/compat/cal`);
    const notOnDisk = done.filter((i) => !files.includes(`seq-${i}.ics`));
    if (notOnDisk.length) throw new Error(`${notOnDisk.length} acknowledged events have no file on the target (first seq-${notOnDisk[0]})`);
    await put(c, 'after');
    await until('the new event reads back', async () => (await dav(c, 'GET', `${cal(c)}after.ics`)).includes('UID:after'));
    const token = await syncToken(c);
    if (!token || token === c.state.token) throw new Error(`the sync token did not move on (${token})`);
  },
};
