// A multi-process service: a master that starts N shell workers, each holding its own counter in
// its own process memory. The master hands each request to the next worker over a pipe, so a
// restore is only right if the master, every worker and the pipes between them came back whole.
//   node workers-service.js --port <p> [--workers N] [--listen <addr>]
//   GET /health · POST /tick (every worker counts one) · GET /workers → [{pid, count}, …]
import http from 'http';
import { spawn, ChildProcess } from 'child_process';

const arg = (name: string, fallback: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback);
const port = Number(arg('port', '0'));
const count = Number(arg('workers', '8'));
const listenAt = arg('listen', '0.0.0.0');
if (!port || !(count > 0)) {
  process.stderr.write('usage: workers-service --port <port> [--workers N] [--listen <addr>]\n');
  process.exit(2);
}

// Each worker: read a line, count it, answer "<pid> <count>". `$$` is the worker's own pid.
const WORKER = 'n=0; while read -r line; do n=$((n+1)); echo "$$ $n"; done';

interface Worker {
  proc: ChildProcess;
  last: string;
  waiting: Array<(line: string) => void>;
}

const workers: Worker[] = Array.from({ length: count }, () => {
  const proc = spawn('sh', ['-c', WORKER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const w: Worker = { proc, last: '', waiting: [] };
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      w.last = l;
      w.waiting.shift()?.(l);
    }
  });
  return w;
});

const ask = (w: Worker) => new Promise<string>((resolve) => {
  w.waiting.push(resolve);
  w.proc.stdin!.write('tick\n');
});

http
  .createServer(async (req, res) => {
    if (req.url === '/health') return res.end('ok');
    if (req.url === '/tick' && req.method === 'POST') {
      const answers = await Promise.all(workers.map(ask));
      return res.end(JSON.stringify(answers.length));
    }
    if (req.url === '/workers') {
      const list = workers.map((w) => {
        const [pid, n] = w.last.split(' ');
        return { pid: Number(pid) || w.proc.pid, count: Number(n) || 0 };
      });
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(list));
    }
    res.statusCode = 404;
    res.end('unknown route');
  })
  .listen(port, listenAt, () => console.log(`workers-service: ${count} workers, listening on ${listenAt}:${port}`));
