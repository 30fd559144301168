// The in-process tar used for images: round trip, compatibility, and refusal of unsafe entries.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import execa from 'execa';
import { packFiles, unpackTo } from '../image/tar';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fmtar-'));
  fs.mkdirSync(path.join(tmp, 'src'));
  fs.mkdirSync(path.join(tmp, 'out'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('packs and unpacks files byte for byte, and GNU tar reads the archive', async () => {
  const big = Buffer.from(Array.from({ length: 700_001 }, (_, i) => (i * 7) % 256));
  fs.writeFileSync(path.join(tmp, 'src', 'pages-1.img'), big);
  fs.writeFileSync(path.join(tmp, 'src', 'empty.img'), '');
  await pipeline(packFiles(path.join(tmp, 'src'), ['pages-1.img', 'empty.img']), fs.createWriteStream(path.join(tmp, 'a.tar')));
  await pipeline(fs.createReadStream(path.join(tmp, 'a.tar'), { highWaterMark: 1000 }), unpackTo(path.join(tmp, 'out')));
  expect(fs.readFileSync(path.join(tmp, 'out', 'pages-1.img')).equals(big)).toBe(true);
  expect(fs.readFileSync(path.join(tmp, 'out', 'empty.img')).length).toBe(0);
  const listed = await execa('tar', ['-tf', path.join(tmp, 'a.tar')]);
  expect(listed.stdout.split('\n')).toEqual(['pages-1.img', 'empty.img']);
});

test('refuses an entry that would escape the folder', async () => {
  fs.writeFileSync(path.join(tmp, 'src', 'x'), 'evil');
  await execa('tar', ['-cf', path.join(tmp, 'evil.tar'), '-C', path.join(tmp, 'src'), '--transform', 's,^,../,', 'x']);
  await expect(pipeline(fs.createReadStream(path.join(tmp, 'evil.tar')), unpackTo(path.join(tmp, 'out')))).rejects.toThrow(/not a plain file name/);
  expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
});

test('refuses a truncated archive', async () => {
  fs.writeFileSync(path.join(tmp, 'src', 'f'), Buffer.alloc(5000, 1));
  const chunks: Buffer[] = [];
  for await (const c of packFiles(path.join(tmp, 'src'), ['f'])) chunks.push(c as Buffer);
  const cut = Buffer.concat(chunks).subarray(0, 3000);
  await expect(pipeline(Readable.from([cut]), unpackTo(path.join(tmp, 'out')))).rejects.toThrow(/ends early/);
});

test('a reader that goes away mid-archive stops the packing, and nothing is left open', async () => {
  fs.writeFileSync(path.join(tmp, 'src', 'a'), Buffer.alloc(8 * 2 ** 20, 1));
  fs.writeFileSync(path.join(tmp, 'src', 'b'), Buffer.alloc(8 * 2 ** 20, 2));
  let seen = 0;
  const leaving = new Writable({
    write(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      cb(seen > 2 ** 20 ? new Error('reader gone') : null);
    },
  });
  await expect(pipeline(packFiles(path.join(tmp, 'src'), ['a', 'b']), leaving)).rejects.toThrow(/reader gone/);
  await new Promise((r) => setTimeout(r, 200));
  const open = fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(path.join(tmp, 'src'));
    } catch {
      return false;
    }
  });
  expect(open).toEqual([]);
});
