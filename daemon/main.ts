// Entry point of one service's daemon: `node dist/daemon/main.js <service dir> <standby|scratch>`.
// It runs detached from the host agent, so restarting the agent never touches the service.
import fs from 'fs';
import { createLineLogger } from '../common/log-lite';
import type { ServiceSpec } from '../common/schemas';
import { Supervisor } from './supervisor';
import { createApi } from './api';
import { serviceFolder, type DaemonConfig } from '../common/service-folder';

async function main() {
  const [dir, mode = 'standby'] = process.argv.slice(2);
  const files = serviceFolder(dir);
  const conf = JSON.parse(fs.readFileSync(files.config, 'utf8')) as DaemonConfig;
  // Validated (defaults filled in) by the host agent that wrote daemon.json: zod is not loaded here.
  const spec: ServiceSpec = conf.spec;
  const token = fs.readFileSync(files.token, 'utf8').trim();
  // A full disk must not kill the daemon through its own log: a line that cannot be written is dropped.
  const stdout = {
    write(line: string) {
      try {
        fs.writeSync(1, line);
      } catch {
        /* no space (or no log file): the service matters more than this line */
      }
    },
  };
  const log = createLineLogger({ role: 'daemon', service: spec.name, host: conf.host }, stdout);
  const sup = new Supervisor({ spec, host: conf.host, dir, criuPath: conf.criuPath, log, tools: conf.tools, container: conf.container, serviceAddress: conf.serviceAddress, pageServerTls: conf.pageServerTls });

  fs.rmSync(files.socket, { force: true });
  const server = createApi(sup, token, log, () => {
    server.close();
    fs.rmSync(files.socket, { force: true });
    fs.rmSync(files.pid, { force: true });
    process.exit(0);
  });
  await new Promise<void>((resolve) => server.listen(files.socket, resolve));
  fs.chmodSync(files.socket, 0o600);
  fs.writeFileSync(files.pid, String(process.pid));
  log.info({ mode }, 'daemon up');

  if (conf.leaseSeconds) sup.watchLease(files.lease, conf.leaseSeconds);
  if (mode === 'scratch') await sup.start();

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, async () => {
      await sup.shutdown().catch(() => undefined);
      fs.rmSync(files.socket, { force: true });
      process.exit(0);
    });
  }
}

main().catch((err) => {
  process.stderr.write(`fastmig daemon: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

