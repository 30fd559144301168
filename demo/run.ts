// `npm run demo [-- --json] [--mode warm|cold] [--keys N] [--runtime process|docker]`: a live
// migration on the embedded stack. With --runtime docker the service is a container of the local
// Debian demo image, reached through the port its host's engine publishes at the host's address.
// Deploys the key-value service on hostA, fills it, migrates it to hostB while a probe polls it
// every 5 ms, checks every key and the request counter, and stops what it started.
import path from 'path';
import { REPO_ROOT } from '../common/config';
import { ops, UserError } from '../client';
import { stackDown, stackStatus, stackUp } from '../stack';
import { MigrationMode, Runtime } from '../common/schemas';
import { DEMO_IMAGES, KV_CONTAINER_CMD, KV_CONTAINER_PORT, ensureDemoImages } from './images';
import { freePort, startHeldConnection, startProbe } from './probe';
import { requestCount, verifyKeys, writeKeys } from './kv-client';

const SERVICE = 'kv-demo';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const modeParse = MigrationMode.safeParse(option('mode', 'warm'));
  if (!modeParse.success) throw new UserError('--mode takes warm or cold');
  const runtimeParse = Runtime.safeParse(option('runtime', 'process'));
  if (!runtimeParse.success) throw new UserError('--runtime takes process or docker');
  const runtime = runtimeParse.data;
  const keys = Number(option('keys', '1000'));
  if (!Number.isInteger(keys) || keys < 1) throw new UserError('--keys takes a positive whole number');

  const wasUp = (await stackStatus())?.up ?? false;
  if (!wasUp) await stackUp({}, say);
  try {
    if ((await ops.inspect()).some((v) => v.service === SERVICE)) {
      say(`removing ${SERVICE} left over from an earlier run…`);
      await ops.remove(SERVICE);
    }
    let endpoint: string;
    if (runtime === 'docker') {
      say('making sure the demo images are on every host…');
      await ensureDemoImages();
      say(`deploying ${SERVICE} as a container of ${DEMO_IMAGES.debian.name} on hostA…`);
      const d = await ops.deploy({
        host: 'hostA',
        spec: { name: SERVICE, runtime: 'docker', image: DEMO_IMAGES.debian.name, command: KV_CONTAINER_CMD, port: KV_CONTAINER_PORT },
      });
      endpoint = d.endpoint!;
    } else {
      const port = await freePort();
      const script = path.join(REPO_ROOT, 'dist', 'demo', 'kv-service.js');
      say(`deploying ${SERVICE} on hostA (port ${port})…`);
      const d = await ops.deploy({
        host: 'hostA',
        spec: { name: SERVICE, command: [process.execPath, script, '--port', String(port)], cwd: '/', port },
      });
      endpoint = d.endpoint!;
    }
    say(`writing ${keys} keys to ${endpoint}…`);
    const keysWritten = await writeKeys(endpoint, keys);
    const countBefore = await requestCount(endpoint);
    const source = endpoint;

    say('migrating hostA → hostB while a probe polls every 5 ms…');
    // The service answers at hostB's address after the move: the probe tries both once it is known.
    let target = '';
    const probe = startProbe(() => (target && target !== source ? [source, target] : [source]), 5);
    // One more client, holding one connection open across the move (it survives when the service's own address moves with it).
    const held = startHeldConnection(source, 20);
    const t0 = Date.now();
    const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: modeParse.data }, (p) => {
      target = p.targetEndpoint ?? target;
      say(`  [${((Date.now() - t0) / 1000).toFixed(2)}s] ${p.phase}`);
    });
    held.markMoved();
    await new Promise((r) => setTimeout(r, 200));
    const probed = await probe.stop();
    const heldResult = await held.stop();
    const establishedSurvived = heldResult.connections === 1 && heldResult.errors === 0 && heldResult.okAfterMove > 0;

    say('verifying every key on the new host…');
    const where = (await ops.inspect(SERVICE))[0];
    if (where.endpoint) endpoint = where.endpoint;
    const keysVerified = await verifyKeys(endpoint, keys);
    const countAfter = await requestCount(endpoint);
    const counterContinued = countAfter > countBefore;
    const ok = report.ok && keysVerified === keysWritten && counterContinued && where.host === 'hostB' && where.state === 'running';

    say('removing the demo service…');
    await ops.remove(SERVICE);

    const result = {
      ok,
      service: SERVICE,
      runtime,
      sourceEndpoint: source,
      endpoint: where.endpoint,
      address: where.address,
      connectionErrors: probed.errors + heldResult.errors,
      establishedSurvived,
      from: report.from,
      to: report.to,
      mode: report.mode,
      outcome: report.outcome,
      keysWritten,
      keysVerified,
      counterBefore: countBefore,
      counterAfter: countAfter,
      downtimeMs: probed.maxGapMs,
      workflowDowntimeMs: report.downtimeMs,
      probeRequests: probed.requests,
      totalMs: report.totalMs,
      imageBytes: report.imageBytes,
      phases: report.phases,
      workflowId: report.workflowId,
      ...(report.error ? { error: report.error } : {}),
    };
    if (!json) {
      say('');
      say(`${ok ? 'OK' : 'FAILED'}: ${SERVICE} ${result.from} → ${result.to} (${result.mode})`);
      say(`  keys verified ${keysVerified}/${keysWritten}, request counter ${countBefore} → ${countAfter}`);
      say(`  clients: ${result.connectionErrors} failed requests; the held connection ${establishedSurvived ? 'carried requests across the move' : `did not survive (${heldResult.connections} connections, ${heldResult.errors} errors)`}`);
      say(`  downtime seen by the probe ${result.downtimeMs} ms (workflow: ${result.workflowDowntimeMs} ms), total ${result.totalMs} ms, image ${(result.imageBytes / 1e6).toFixed(1)} MB`);
      say(`  phases: ${Object.entries(result.phases).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
    }
    else process.stdout.write(`${JSON.stringify(result)}\n`);
    return ok ? 0 : 1;
  } finally {
    if (!wasUp) await stackDown(say);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof UserError ? 2 : 1);
  },
);
