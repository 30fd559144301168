// Entry point of the HTTP API process: `node dist/api/main.js` (started by `fastmig stack up`).
// Listens on 127.0.0.1 unless FASTMIG_API_ADDRESS names another address (autoscalers on other
// machines); the token comes from FASTMIG_API_TOKEN or the secrets file.
import { Client, Connection } from '@temporalio/client';
import { loadConfig, paths, readEnvFile } from '../common/config';
import { createLogger } from '../common/log';
import { temporalConnectionOptions } from '../common/tls';
import { Registry } from '../common/metrics';
import { createHttpApi } from './server';

async function main() {
  const cfg = loadConfig();
  const token = process.env.FASTMIG_API_TOKEN || readEnvFile(paths.secretsFile()).FASTMIG_API_TOKEN;
  if (!token || token.length < 32) throw new Error('FASTMIG_API_TOKEN must be set to at least 32 characters (run `fastmig stack up`)');
  const port = Number(process.env.FASTMIG_API_PORT || 7080);
  const log = createLogger({ role: 'api', host: 'api' });
  const connection = await Connection.connect(temporalConnectionOptions(cfg.temporalAddress, cfg.temporal));
  const client = new Client({ connection, namespace: cfg.namespace });
  const app = createHttpApi(client, token, log, new Registry());
  const host = process.env.FASTMIG_API_ADDRESS || '127.0.0.1';
  await app.listen({ port, host });
  log.info({ port, address: host }, 'HTTP API listening');
}

main().catch((err) => {
  process.stderr.write(`fastmig api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
