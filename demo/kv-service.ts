// The demo's stateful service: an in-memory HTTP key-value store with a request counter.
// All state lives in process memory, so only a real checkpoint/restore can carry it to another host.
// `--listen <addr>` (default 0.0.0.0: every address of its host, so clients on other hosts reach it).
//   GET /health · GET /count · GET /kv/<key> · PUT /kv/<key> (body = value) · POST /bulk ({key: value, …}) · GET /size
// For demonstrating faults: POST /grow (body = MiB to allocate and keep) · POST /exit (body = exit code).
import http from 'http';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
if (!port) {
  process.stderr.write('usage: kv-service --port <port>\n');
  process.exit(2);
}
const listenAt = process.argv.includes('--listen') ? process.argv[process.argv.indexOf('--listen') + 1] : '0.0.0.0';
const store = new Map<string, string>();
const ballast: Buffer[] = [];
let requests = 0;

function body(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  requests++;
  const url = req.url || '/';
  const reply = (status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(text);
  };
  try {
    if (url === '/health') return reply(200, 'ok');
    if (url === '/count') return reply(200, String(requests));
    if (url === '/size') return reply(200, String(store.size));
    if (url === '/bulk' && req.method === 'POST') {
      const entries = Object.entries(JSON.parse(await body(req)) as Record<string, string>);
      for (const [k, v] of entries) store.set(k, String(v));
      return reply(200, String(entries.length));
    }
    if (url === '/grow' && req.method === 'POST') {
      const mib = Number(await body(req));
      if (!Number.isInteger(mib) || mib < 1 || mib > 4096) return reply(400, 'the body must be a whole number of MiB, 1-4096');
      for (let i = 0; i < mib; i++) ballast.push(Buffer.alloc(2 ** 20, 1));
      return reply(200, String(ballast.length));
    }
    if (url === '/exit' && req.method === 'POST') {
      const code = Number(await body(req));
      if (!Number.isInteger(code) || code < 0 || code > 255) return reply(400, 'the body must be an exit code, 0-255');
      reply(200, 'exiting');
      setTimeout(() => process.exit(code), 10);
      return;
    }
    if (url.startsWith('/kv/')) {
      const key = decodeURIComponent(url.slice(4));
      if (req.method === 'PUT') {
        store.set(key, await body(req));
        return reply(200, 'stored');
      }
      const v = store.get(key);
      return v === undefined ? reply(404, 'no such key') : reply(200, v);
    }
    reply(404, 'unknown route');
  } catch (err) {
    reply(400, err instanceof Error ? err.message : 'bad request');
  }
});
server.listen(port, listenAt, () => console.log(`kv-service listening on ${listenAt}:${port}`));
setInterval(() => console.log(`kv-service: ${store.size} keys, ${requests} requests`), 10_000);
