// A service whose state is a file it keeps open: it appends one numbered line to its journal every
// few milliseconds, through one file descriptor held from start to end (so a restore needs the
// file exactly as it was at the freeze). It is its own reader: GET /verify reads the journal back
// and checks that the numbers run 1, 2, 3, … without gap or repeat up to the last one it wrote.
//   --port <port> --file <journal>   GET /health · GET /count (lines written) · GET /verify
import fs from 'fs';
import http from 'http';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const port = Number(arg('--port'));
const file = arg('--file');
if (!port || !file) {
  process.stderr.write('usage: journal-service --port <port> --file <journal>\n');
  process.exit(2);
}

// Continues a journal it finds (a fresh start after a crash), so its numbers never repeat.
const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
let written = existing.length ? Number(existing[existing.length - 1]) : 0;
const fd = fs.openSync(file, 'a');
setInterval(() => fs.writeSync(fd, `${++written}\n`), 5);

/** null when the journal holds exactly 1..written, each once and in order; else what is wrong. */
function verify(): string | null {
  const lines = fs.readFileSync(file!, 'utf8').split('\n');
  if (lines.pop() !== '') return 'the journal does not end with a whole line';
  for (let i = 0; i < lines.length; i++) if (lines[i] !== String(i + 1)) return `line ${i + 1} holds ${JSON.stringify(lines[i])}`;
  return lines.length === written ? null : `the journal has ${lines.length} lines, the service wrote ${written}`;
}

http
  .createServer((req, res) => {
    const reply = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    if (req.url === '/health') return reply(200, 'ok');
    if (req.url === '/count') return reply(200, String(written));
    if (req.url === '/verify') {
      const problem = verify();
      return problem ? reply(409, problem) : reply(200, String(written));
    }
    reply(404, 'not found');
  })
  .listen(port, '0.0.0.0');
