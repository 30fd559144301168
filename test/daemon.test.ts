// The per-service daemon on its own, with real processes and real CRIU: start, exit records,
// checkpoint/restore with hooks, and its token-guarded unix-socket API.
import fs from 'fs';
import os from 'os';
import path from 'path';
import http from 'http';
import { spawnSync } from 'child_process';
import { REPO_ROOT } from '../common/config';
import type { DaemonStatus } from '../common/schemas';
import { checkpointWithHook } from '../agent/hooks';
import { HOST, TOKEN, startDaemon, stopDaemons, until } from './daemon-harness';

function rawRequest(socket: string, method: string, route: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: route, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode || 0, body: text }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

afterAll(stopDaemons);

test('a service that exits is recorded with its exit code, and its output is kept', async () => {
  const d = await startDaemon({ command: ['sh', '-c', 'echo hello from the service; exit 3'] });
  // the daemon decides nothing: the exit waits for the host agent's restart policy
  await until(async () => (await d.call<DaemonStatus>('GET', '/status')).state === 'exited');
  const st = await d.call<DaemonStatus>('GET', '/status');
  expect(st.lastExit).toMatchObject({ code: 3, signal: null });
  expect(st.decisions).toEqual([]);
  // the agent's long-poll answers at once while the exit waits for a decision
  expect(await d.call<DaemonStatus>('GET', '/wait-exit')).toMatchObject({ state: 'exited', lastExit: { code: 3 } });
  const { lines } = await d.call<{ lines: string[] }>('GET', '/logs?lines=10');
  expect(lines).toContain('hello from the service');
  expect(fs.readFileSync(d.f.serviceLog, 'utf8')).toMatch(/hello from the service/);
});

test('a service killed by a signal is recorded with that signal', async () => {
  const d = await startDaemon({ command: ['sleep', '300'] });
  const st = await d.call<DaemonStatus>('GET', '/status');
  expect(st.state).toBe('running');
  // the service runs as PID 1's child in its own PID namespace; st.pid is that namespace's init,
  // which may not have forked the service yet when the daemon reports running
  let child = 0;
  await until(() => (child = Number(fs.readFileSync(`/proc/${st.pid}/task/${st.pid}/children`, 'utf8').trim().split(/\s+/)[0] || 0)) > 0);
  expect(fs.readlinkSync(`/proc/${child}/ns/pid`)).not.toBe(fs.readlinkSync('/proc/self/ns/pid'));
  process.kill(child, 'SIGTERM');
  await until(async () => (await d.call<DaemonStatus>('GET', '/status')).lastExit !== null);
  expect((await d.call<DaemonStatus>('GET', '/status')).lastExit).toMatchObject({ code: null, signal: 'SIGTERM' });
});

test('standby mode keeps the daemon up without the service', async () => {
  const d = await startDaemon({ command: ['sleep', '300'] }, 'standby');
  const st = await d.call<DaemonStatus>('GET', '/status');
  expect(st).toMatchObject({ state: 'standby', pid: null });
  const started = await d.call<DaemonStatus>('POST', '/start');
  expect(started.state).toBe('running');
  expect(started.pid).toBeGreaterThan(0);
});

test('checkpoint (leaving it running), then the post-checkpoint hook in the service environment; a restore continues from the checkpointed memory', async () => {
  const marker = path.join(os.tmpdir(), `fm-hook-${process.pid}`);
  fs.rmSync(marker, { force: true });
  const d = await startDaemon({
    command: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "n=$i"; sleep 0.02; done'],
    hooks: { postCheckpoint: `echo "$FASTMIG_SERVICE $FASTMIG_HOST" > ${marker}` },
  });
  await until(async () => (await d.call<{ lines: string[] }>('GET', '/logs?lines=1')).lines.some((l) => l === 'n=20'), 10_000);
  // as the agent does it: the daemon dumps, then runs the hook the agent names
  const ck = await checkpointWithHook(d.call, d.spec, HOST, { checkpointId: 'c1', leaveRunning: true });
  expect(ck).toMatchObject({ checkpointId: 'c1', leftRunning: true });
  expect(ck.hookMs).toBeGreaterThan(0);
  expect(ck.bytes).toBeGreaterThan(0);
  expect(fs.readFileSync(marker, 'utf8').trim()).toBe('dtest hostT');
  const atCheckpoint = Math.max(...(await d.call<{ lines: string[] }>('GET', '/logs?lines=2000')).lines.map((l) => Number(l.slice(2))));
  expect((await d.call<DaemonStatus>('GET', '/status')).state).toBe('running');

  await d.call('POST', '/stop', { graceMs: 1000 });
  const logLinesBefore = (await d.call<{ lines: string[] }>('GET', '/logs?lines=2000')).lines.length;
  const r = await d.call<any>('POST', '/restore', { checkpointId: 'c1' });
  expect(r.pid).toBeGreaterThan(0);
  await new Promise((res) => setTimeout(res, 300));
  const after = (await d.call<{ lines: string[] }>('GET', '/logs?lines=2000')).lines.slice(logLinesBefore).map((l) => Number(l.slice(2)));
  expect(after.length).toBeGreaterThan(0);
  // the counter continues from the value it had at the checkpoint, not from 1
  expect(after[0]).toBeGreaterThan(1);
  expect(after[0]).toBeLessThanOrEqual(atCheckpoint + 2);
  fs.rmSync(marker, { force: true });
});

test('memory limit by the kernel: the tree, and a tree restored from it, run in the service\'s cgroup; going over ends it, recorded as the limit', async () => {
  // Grows by 150 MiB on SIGUSR1: over the 80 MiB limit.
  const grow = "const a=[];process.on('SIGUSR1',()=>{for(let i=0;i<150;i++)a.push(Buffer.alloc(1<<20,1))});setInterval(()=>{},1000);console.log('up')";
  const d = await startDaemon({ command: [process.execPath, '-e', grow], memoryLimitMiB: 80 });
  const service = async () => {
    const st = await d.status();
    let pid = 0;
    await until(() => (pid = Number(fs.readFileSync(`/proc/${st.pid}/task/${st.pid}/children`, 'utf8').trim().split(/\s+/)[0] || 0)) > 0);
    return pid;
  };
  const memoryCgroup = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:memory:|^0::/.test(l)) ?? '';
  const group = memoryCgroup(await service());
  expect(group).toMatch(/fastmig-dtest-[0-9a-f]{12}$/);
  await until(async () => (await d.call<{ lines: string[] }>('GET', '/logs?lines=5')).lines.includes('up'));
  await d.call('POST', '/checkpoint', { checkpointId: 'm1', leaveRunning: false });
  await d.call('POST', '/restore', { checkpointId: 'm1' });
  const restored = await service();
  // criu was started inside the group (--manage-cgroups=ignore): the restored tree is born there
  expect(memoryCgroup(restored)).toBe(group);
  process.kill(restored, 'SIGUSR1');
  await until(async () => (await d.status()).state === 'exited', 15_000);
  expect((await d.status()).lastExit).toMatchObject({ signal: 'SIGKILL', reason: expect.stringMatching(/^memory limit of 80 MiB exceeded/) });
});

describe('API guard', () => {
  let socket: string;
  beforeAll(async () => {
    socket = (await startDaemon({ command: ['sleep', '300'] }, 'standby')).f.socket;
  });
  test.each([
    ['no token', {}],
    ['wrong token', { authorization: `Bearer ${'b'.repeat(64)}` }],
    ['token without Bearer', { authorization: TOKEN }],
  ])('%s → 401 and nothing happens', async (_n, headers) => {
    const r = await rawRequest(socket, 'POST', '/start', headers as Record<string, string>);
    expect(r.status).toBe(401);
    const st = await rawRequest(socket, 'GET', '/status', { authorization: `Bearer ${TOKEN}` });
    expect(JSON.parse(st.body).state).toBe('standby');
  });
  test('malformed JSON → 400', async () => {
    const r = await rawRequest(socket, 'POST', '/checkpoint', { authorization: `Bearer ${TOKEN}` }, '{not json');
    expect(r.status).toBe(400);
  });
  test('a checkpoint id that would escape the image folder → 400', async () => {
    const r = await rawRequest(socket, 'POST', '/restore', { authorization: `Bearer ${TOKEN}` }, JSON.stringify({ checkpointId: '../../etc' }));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toMatch(/checkpointId/);
  });
  test('unknown fields → 400', async () => {
    const r = await rawRequest(socket, 'POST', '/stop', { authorization: `Bearer ${TOKEN}` }, JSON.stringify({ graceMs: 1, force: true }));
    expect(r.status).toBe(400);
  });
  test('an oversized body → 413', async () => {
    const r = await rawRequest(socket, 'POST', '/stop', { authorization: `Bearer ${TOKEN}` }, JSON.stringify({ pad: 'x'.repeat(100_000) }));
    expect(r.status).toBe(413);
  });
  test('the socket is only for its owner', () => {
    expect(fs.statSync(socket).mode & 0o077).toBe(0);
  });
});

test('the daemon loads no package at run time: zod, pino and execa each cost every service memory', () => {
  // Without arguments the daemon stops at once, after loading everything it imports.
  const main = path.join(REPO_ROOT, 'dist', 'daemon', 'main.js');
  const r = spawnSync(process.execPath, ['-e', `process.on('exit', () => process.stdout.write(JSON.stringify(Object.keys(require.cache)))); require(${JSON.stringify(main)})`]);
  const loaded = JSON.parse(r.stdout.toString()) as string[];
  expect(loaded).toContain(path.join(REPO_ROOT, 'dist', 'daemon', 'supervisor.js'));
  expect(loaded.filter((f) => f.includes(`${path.sep}node_modules${path.sep}`))).toEqual([]);
});
