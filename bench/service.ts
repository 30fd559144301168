// The benchmark's service: an HTTP server that holds N MiB of incompressible data in memory and
// optionally forks idle worker processes, so a migration has real state and a real tree to carry.
//   node service.js --port P [--fill-mib N] [--procs K] [--listen ADDR]
// --listen defaults to 0.0.0.0: every address of its host, so clients on other hosts reach it.
//   GET /health · GET /digest (sha256 of the data, recomputed now) · GET /info (fill-time digest, sizes)
import http from 'http';
import crypto from 'crypto';
import { spawn } from 'child_process';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const port = arg('port', 0);
const fillMiB = arg('fill-mib', 0);
const procs = arg('procs', 1);
const listenAt = process.argv.includes('--listen') ? process.argv[process.argv.indexOf('--listen') + 1] : '0.0.0.0';
if (!port || !Number.isInteger(fillMiB) || fillMiB < 0 || !Number.isInteger(procs) || procs < 1) {
  process.stderr.write('usage: service --port <port> [--fill-mib N] [--procs K] [--listen ADDR]\n');
  process.exit(2);
}

const MIB = 1024 * 1024;
const chunks: Buffer[] = [];
for (let i = 0; i < fillMiB; i++) chunks.push(crypto.randomFillSync(Buffer.allocUnsafeSlow(MIB)));
const digest = () => chunks.reduce((h, c) => h.update(c), crypto.createHash('sha256')).digest('hex');
const filledDigest = digest();

// Idle workers: plain processes in the same tree (stdio on /dev/null), counted in --procs with the server.
for (let i = 1; i < procs; i++) spawn('sleep', ['100000000'], { stdio: 'ignore' });

http
  .createServer((req, res) => {
    const reply = (text: string) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(text);
    };
    if (req.url === '/health') return reply('ok');
    if (req.url === '/digest') return reply(digest());
    if (req.url === '/info') return reply(JSON.stringify({ fillMiB, procs, digest: filledDigest, pid: process.pid }));
    res.writeHead(404);
    res.end();
  })
  .listen(port, listenAt, () => console.log(`bench service on ${listenAt}:${port}: ${fillMiB} MiB, ${procs} process(es)`));
