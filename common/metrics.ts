// Prometheus metrics with prom-client: each process keeps its own registry (without prom-client's
// default process metrics) and serves it on GET /metrics. Labels are passed in alphabetical order:
// prom-client writes them as given, and scrapers and tests read the series in that order.
import http from 'http';
import { Registry } from 'prom-client';

/** prom-client's registry: a worker makes one, hands it to what records metrics and serves it. */
export { Registry };

export const MS_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Serves GET /metrics of a registry on a loopback port (for processes that have no other HTTP API). */
/** Serves GET /metrics on `address` (a host agent's own address; loopback by default). */
export function serveMetrics(registry: Registry, port: number, address = process.env.FASTMIG_METRICS_ADDRESS || '127.0.0.1'): http.Server {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
      });
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'only GET /metrics here' }));
    }
  });
  // A taken port costs the metrics endpoint, not the process: an agent started by hand (or a second
  // one on this machine) inherits FASTMIG_METRICS_PORT and would otherwise die after registering.
  server.on('error', (err) => process.stderr.write(`fastmig: metrics endpoint on ${address}:${port} unavailable: ${err.message}\n`));
  server.listen(port, address);
  return server;
}
