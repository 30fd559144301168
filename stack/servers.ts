// The stack's servers: the Temporal dev server (SQLite file) and the S3 server (versitygw, posix
// back end), both in the control plane's namespace, reached at its address. Each is started only
// when nothing answers on its port yet.
import fs from 'fs';
import path from 'path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Client as S3 } from 'minio';
import { StackFile, loadConfig, paths } from '../common/config';
import { tcpConnects } from '../activities/probe';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { S3_PORT, TEMPORAL_PORT, UI_PORT } from './ports';
import { Say, startDetached, waitUntil } from './processes';
import { CONTROL } from './network';
import { hostProcessArgv } from './host-process';

export async function startTemporal(stack: StackFile, home: string, say: Say): Promise<void> {
  if (await tcpConnects(TEMPORAL_PORT, stack.controlAddress)) say(`Temporal already answers on ${stack.temporalAddress}`);
  else {
    say(`starting Temporal dev server on ${stack.temporalAddress} (UI ${stack.uiUrl})…`);
    fs.mkdirSync(path.join(home, 'temporal'), { recursive: true });
    // All addresses of the control plane's namespace: the dev server dials its own services on
    // 127.0.0.1 inside, so it cannot be bound to the one address the hosts use.
    const [cmd, ...args] = hostProcessArgv(home, CONTROL, stack.temporalBinary, [
      'server', 'start-dev',
      '--db-filename', path.join(home, 'temporal', 'temporal.db'),
      '--ip', '0.0.0.0', '--port', String(TEMPORAL_PORT), '--ui-port', String(UI_PORT),
      '--namespace', stack.namespace, '--log-level', 'warn',
    ]);
    startDetached('temporal', cmd, args, {});
  }
  await waitUntil('Temporal', async () => {
    try {
      const c = await Connection.connect({ address: stack.temporalAddress, connectTimeout: 1000 });
      await c.workflowService.describeNamespace({ namespace: stack.namespace });
      await c.close();
      return true;
    } catch {
      return false;
    }
  }, 60_000, 'temporal');
  await ensureSearchAttributes(stack);
}

/** Registers fastmig's search attributes (a workflow upserting an unknown one would be stuck). */
async function ensureSearchAttributes(stack: StackFile): Promise<void> {
  const conn = await Connection.connect({ address: stack.temporalAddress });
  try {
    const have = await conn.operatorService.listSearchAttributes({ namespace: stack.namespace });
    const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !have.customAttributes?.[k.name]);
    if (missing.length) {
      await conn.operatorService.addSearchAttributes({
        namespace: stack.namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
    }
  } finally {
    await conn.close();
  }
}

export async function startS3(stack: StackFile, home: string, secrets: Record<string, string>, say: Say): Promise<void> {
  if (await tcpConnects(S3_PORT, stack.controlAddress)) say(`S3 server already answers on ${stack.s3Endpoint}`);
  else {
    say(`starting S3 server (versitygw, posix back end) on ${stack.s3Endpoint}…`);
    const data = path.join(home, 's3');
    fs.mkdirSync(data, { recursive: true });
    const [cmd, ...args] = hostProcessArgv(home, CONTROL, path.join(paths.toolsDir(), 'bin', 'versitygw'), ['--port', `${stack.controlAddress}:${S3_PORT}`, 'posix', data]);
    startDetached('s3', cmd, args, {
      ROOT_ACCESS_KEY_ID: secrets.FASTMIG_S3_ACCESS_KEY,
      ROOT_SECRET_ACCESS_KEY: secrets.FASTMIG_S3_SECRET_KEY,
    });
  }
  const cfg = loadConfig();
  const s3 = new S3({ endPoint: cfg.s3.endPoint, port: cfg.s3.port, useSSL: false, accessKey: cfg.s3.accessKey, secretKey: cfg.s3.secretKey, region: 'us-east-1' });
  await waitUntil('S3 server', async () => {
    try {
      if (!(await s3.bucketExists(stack.s3Bucket))) await s3.makeBucket(stack.s3Bucket, 'us-east-1');
      return true;
    } catch {
      return false;
    }
  }, 30_000, 's3');
}
