// A small Prometheus registry (counters and histograms in the text exposition format), enough for
// fastmig's metrics without another dependency.
type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');

export class Registry {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly histograms = new Map<string, { help: string; buckets: number[]; series: Map<string, { counts: number[]; sum: number; n: number }> }>();

  counter(name: string, help: string) {
    const c = this.counters.get(name) ?? { help, values: new Map() };
    this.counters.set(name, c);
    return { inc: (labels: Labels = {}, by = 1) => c.values.set(key(labels), (c.values.get(key(labels)) ?? 0) + by) };
  }

  histogram(name: string, help: string, buckets: number[]) {
    const h = this.histograms.get(name) ?? { help, buckets, series: new Map() };
    this.histograms.set(name, h);
    return {
      observe: (value: number, labels: Labels = {}) => {
        const k = key(labels);
        const s = h.series.get(k) ?? { counts: h.buckets.map(() => 0), sum: 0, n: 0 };
        h.buckets.forEach((b, i) => {
          if (value <= b) s.counts[i]++;
        });
        s.sum += value;
        s.n++;
        h.series.set(k, s);
      },
    };
  }

  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k ? `{${k}}` : ''} ${v}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [k, s] of h.series) {
        const sep = k ? ',' : '';
        h.buckets.forEach((b, i) => out.push(`${name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
        out.push(`${name}_bucket{${k}${sep}le="+Inf"} ${s.n}`, `${name}_sum${k ? `{${k}}` : ''} ${s.sum}`, `${name}_count${k ? `{${k}}` : ''} ${s.n}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

export const MS_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Serves GET /metrics of a registry on a loopback port (for processes that have no other HTTP API). */
export function serveMetrics(registry: Registry, port: number): import('http').Server {
  const http = require('http') as typeof import('http');
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(registry.render());
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'only GET /metrics here' }));
    }
  });
  // A taken port costs the metrics endpoint, not the process: an agent started by hand (or a second
  // one on this machine) inherits FASTMIG_METRICS_PORT and would otherwise die after registering.
  server.on('error', (err) => process.stderr.write(`fastmig: metrics endpoint on 127.0.0.1:${port} unavailable: ${err.message}\n`));
  server.listen(port, '127.0.0.1');
  return server;
}
