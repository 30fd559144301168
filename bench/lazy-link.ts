// Post-copy at the CRIU level between two hosts of the stack, so that the pages cross the hosts'
// link (shaped or not): the bare tree and `criu dump --lazy-pages` (its page server at the source's
// address) run in the source host's network namespace; the lazy-pages daemon and `criu restore
// --lazy-pages` run in the target's, where the service then answers at the target's address. The
// non-memory images go over the link too, as one TCP stream from this machine to a receiver on
// the target (this machine's traffic to a host is shaped at the same rate as a host's own).
// No daemon, orchestration or image pipeline: CRIU alone, like the lazy row on loopback.
import fs from 'fs';
import net from 'net';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { signal } from '../daemon/process-tree';
import { IMAGE_FILES, imageFolder } from '../common/service-folder';
import { freePort, startProbe } from '../demo/probe';
import { cleanup, criu, CriuRun, errorLines, freePortOf, freshDir, imageBytes, Place, startBareTree, startReady, TCP } from './criu-level';
import { answers, checkState, sleep, until } from './stats';

/** Receives one stream (a JSON header line naming the files and their sizes, then their bytes) into a folder. */
const RECEIVER = `
const net = require('net'), fs = require('fs'), path = require('path');
const [dir, address] = process.argv.slice(1);
const server = net.createServer((s) => {
  const chunks = [];
  s.on('data', (c) => chunks.push(c));
  s.on('end', () => {
    const all = Buffer.concat(chunks);
    const nl = all.indexOf(10);
    let at = nl + 1;
    for (const f of JSON.parse(all.subarray(0, nl).toString())) {
      fs.writeFileSync(path.join(dir, f.name), all.subarray(at, at + f.size));
      at += f.size;
    }
    s.end(() => process.exit(0));
  });
});
server.listen(0, address, () => process.stdout.write(server.address().port + '\\n'));
`;

/** Starts the receiver on the target; resolves with a function that sends a folder's files to it. */
async function receiverOn(at: Place, dst: string): Promise<{ child: ChildProcess; send: (src: string, names: string[]) => Promise<void> }> {
  const [cmd, ...args] = at.wrap(process.execPath, ['-e', RECEIVER, dst, at.address]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    exited.then((code) => reject(new Error(`lazy over the link: the receiver exited (${code})`)));
  });
  const send = async (src: string, names: string[]) => {
    const files = names.map((name) => ({ name, data: fs.readFileSync(path.join(src, name)) }));
    const header = JSON.stringify(files.map((f) => ({ name: f.name, size: f.data.length })));
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: at.address, port }, () => {
        s.write(`${header}\n`);
        for (const f of files) s.write(f.data);
        s.end();
      });
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    if ((await exited) !== 0) throw new Error('lazy over the link: the receiver failed');
  };
  return { child, send };
}

/**
 * One post-copy move of a bare tree holding `fillMiB` from `source` to `target`. `pagesWithinMs`:
 * how long the last page may take to arrive (the whole state crosses the link once).
 */
export async function lazyAcross(bin: string, fillMiB: number, source: Place, target: Place, pagesWithinMs: number): Promise<CriuRun> {
  const port = await freePort();
  const pagePort = await freePort();
  const tree = await startBareTree(port, fillMiB, 1, source);
  const src = freshDir(`lazy-link-src-${port}`);
  const dst = freshDir(`lazy-link-dst-${port}`);
  const pidfile = imageFolder(dst).restorePid;
  const [from, to] = [`${source.address}:${port}`, `${target.address}:${port}`];
  const probe = startProbe(() => [to, from], 5);
  const started: ChildProcess[] = [];
  try {
    const receiver = await receiverOn(target, dst);
    started.push(receiver.child);
    await sleep(30);
    const t0 = Date.now();
    const pageServer = ['--address', source.address, '--port', String(pagePort)];
    const dump = await startReady(bin, ['dump', '-t', String(tree.init), ...TCP, '--skip-in-flight', '--lazy-pages', ...pageServer], src, IMAGE_FILES.dumpLog, source.wrap);
    started.push(dump.child);
    const t1 = Date.now();
    // The dumped tree stays frozen until its last page was served, its port still accepting
    // connections it never answers: the probe would wait out its timeout there. Its sockets are
    // destroyed meanwhile (not needed for the restore: the target has a network of its own).
    const freed = freePortOf(port, source.wrap);
    freed.catch(() => undefined); // awaited below
    await receiver.send(src, fs.readdirSync(src).filter((f) => !f.endsWith('.log')));
    const lazy = await startReady(bin, ['lazy-pages', '--page-server', ...pageServer], dst, 'lazy.log', target.wrap);
    started.push(lazy.child);
    const t2 = Date.now();
    // Established connections cannot be rebuilt at another host's address: closed, as fastmig does.
    await criu(bin, ['restore', '-d', '--tcp-close', '--lazy-pages', '--pidfile', pidfile], dst, IMAGE_FILES.restoreLog, target.wrap);
    const t3 = Date.now();
    await until('lazy over the link: restored service answering', () => answers(to), 20_000, 1);
    const t4 = Date.now();
    const code = await Promise.race([dump.exited, sleep(pagesWithinMs).then(() => -2)]);
    const t5 = Date.now();
    await Promise.race([lazy.exited, sleep(10_000)]);
    await freed;
    await sleep(30);
    const p = await probe.stop();
    if (code !== 0) throw new Error(`lazy dump over the link ended with ${code}: ${errorLines(imageFolder(src).dumpLog)}`);
    await checkState(to, 'lazy over the link');
    return { downtimeMs: p.maxGapMs, freezeToResumeMs: t4 - t0, dumpMs: t1 - t0, restoreMs: t3 - t2, pagesDoneMs: t5 - t0, imageBytes: imageBytes(dst) };
  } finally {
    await probe.stop();
    for (const c of started) if (c.exitCode === null) signal(c.pid!, 'SIGKILL');
    cleanup(tree, pidfile, [src, dst]);
  }
}
