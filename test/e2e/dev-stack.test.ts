// `npm start` for real: the embedded stack comes up with its own Temporal and FerretDB, serves,
// keeps its data across a restart, stops every child on SIGTERM, and names a port that is taken.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../scripts/stack/processes';
import { ROOT } from '../helpers/env';

interface Stack { child: ChildProcess; output: () => string; exit: Promise<number | null> }

function startStack(env: NodeJS.ProcessEnv): Stack {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev-stack.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function waitForOutput(stack: Stack, pattern: RegExp, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(stack.output())) {
    if (stack.child.exitCode !== null) throw new Error(`stack exited (${stack.child.exitCode}):\n${stack.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${stack.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every descendant PID of `pid` (children, grandchildren…). */
function descendants(pid: number): number[] {
  const res = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const rows = res.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number) => rows.filter(([, ppid]) => ppid === p).forEach(([c]) => { out.push(c); walk(c); });
  walk(pid);
  return out;
}
/** Running (a zombie whose parent has gone is dead, just not yet reaped by PID 1). */
const alive = (pid: number) => {
  const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return stat !== '' && !stat.startsWith('Z');
};

describe('npm start (embedded stack)', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<'api' | 'sandbox' | 'temporal' | 'ui' | 'ferret', number>;
  const running: Stack[] = [];

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-stack-'));
    ports = { api: await freePort(), sandbox: await freePort(), temporal: await freePort(), ui: await freePort(), ferret: await freePort() };
    env = { ...process.env, LOG_LEVEL: 'warn', DATA_DIR: dataDir, API_PORT: String(ports.api), SANDBOX_PORT: String(ports.sandbox),
      TEMPORAL_PORT: String(ports.temporal), TEMPORAL_UI_PORT: String(ports.ui), FERRETDB_PORT: String(ports.ferret) };
    delete env.TEMPORAL_ADDRESS; // the stack starts its own servers
    delete env.MONGODB_URI;
    delete env.ENCRYPTION_KEYS;
  });
  after(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGTERM');
    await Promise.race([Promise.all(running.map((s) => s.exit)), new Promise((r) => setTimeout(r, 20_000))]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (p: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${ports.api}${p}`, init);
  let adminKey = '';
  let channelId = '';

  it('comes up ready, with the Temporal UI and the API docs', async () => {
    const stack = startStack(env);
    running.push(stack);
    await waitForOutput(stack, /Ctrl-C stops everything/); // the last line of the banner
    assert.match(stack.output(), new RegExp(`http://localhost:${ports.api}/docs`));
    assert.match(stack.output(), new RegExp(`Temporal UI  http://localhost:${ports.ui}`));
    assert.equal((await api('/readyz')).status, 200);
    assert.equal((await api('/docs')).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200);
    const sandbox = (await (await fetch(`http://127.0.0.1:${ports.sandbox}/`)).json()) as { platforms: string[] };
    assert.deepEqual([...sandbox.platforms].sort(), ['email', 'google', 'meta', 'tiktok', 'twilio', 'whatsapp']);

    const created = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/tenant-create.ts', '--name', 'Acme'], {
      cwd: ROOT, encoding: 'utf8', env: { ...env, MONGODB_URI: `mongodb://127.0.0.1:${ports.ferret}/switchboard` },
    });
    assert.equal(created.status, 0, created.stderr);
    adminKey = created.stdout.trim().split('\n').pop()!;
    assert.match(adminKey, /^sbk_/);

    // Connect a Messenger Page for real: consent on the sandbox's Facebook dialog, back to our callback.
    const sandboxUrl = `http://127.0.0.1:${ports.sandbox}`;
    await fetch(`${sandboxUrl}/__admin/apps/meta/redirect-uris`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: `http://localhost:${ports.api}/v1/oauth/callback` }) });
    const res = await api('/v1/channels', { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ platform: 'messenger', name: 'Support' }) });
    assert.equal(res.status, 201);
    const connect = (await res.json()) as { channel: { id: string }; authorizeUrl: string };
    channelId = connect.channel.id;
    const consent = await fetch(`${connect.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    assert.ok(callback.startsWith(`http://localhost:${ports.api}/v1/oauth/callback?`), callback);
    const connected = await fetch(callback);
    assert.equal(connected.status, 200, await connected.clone().text());
    const deadline = Date.now() + 30_000;
    let status = '';
    while (status !== 'active' && Date.now() < deadline) {
      const got = await api(`/v1/channels/${channelId}`, { headers: { authorization: `Bearer ${adminKey}` } });
      const { channel } = (await got.json()) as { channel: { status: string; backfill: { done: boolean } } };
      status = channel.backfill.done ? channel.status : 'backfilling';
      if (status !== 'active') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 'active');

    // A customer writes: the sandbox delivers the signed webhook to the stack's API, which takes it.
    const wrote = await fetch(`${sandboxUrl}/__admin/customers/meta/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hello from e2e' }) });
    assert.equal(wrote.status, 201);
    let acknowledged = false;
    for (let i = 0; i < 100 && !acknowledged; i++) {
      const log = (await (await fetch(`${sandboxUrl}/__admin/webhooks?platform=meta`)).json()) as { data: { status: number | null; url: string }[] };
      acknowledged = log.data.some((d) => d.status === 200 && d.url.endsWith('/webhooks/meta'));
      if (!acknowledged) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(acknowledged, 'the API acknowledged the sandbox webhook');
  });

  it('stops every child process on SIGTERM', async () => {
    const stack = running[0]!;
    const children = descendants(stack.child.pid!);
    assert.ok(children.length >= 5, `expected temporal, ferretdb, sandbox, worker and api; got ${children.length}`);
    stack.child.kill('SIGTERM');
    assert.equal(await stack.exit, 0);
    await new Promise((r) => setTimeout(r, 500));
    const left = children.filter(alive);
    assert.deepEqual(left, [], `processes left behind: ${spawnSync('ps', ['-o', 'pid,stat,args', '-p', left.join(',') || '0'], { encoding: 'utf8' }).stdout}`);
  });

  it('finds its data again on the next start: tenant, key, channel and its running workflow', async () => {
    const stack = startStack(env);
    running.push(stack);
    try {
      await waitForOutput(stack, /Ctrl-C stops everything/); // the last line of the banner
      await checkRestartedStack();
    } finally {
      stack.child.kill('SIGINT');
      await stack.exit;
    }
    assert.equal(stack.child.exitCode, 0);
  });

  async function checkRestartedStack() {
    const got = await api(`/v1/channels/${channelId}`, { headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(got.status, 200);
    assert.equal(((await got.json()) as { channel: { status: string } }).channel.status, 'active');
    // The workflow survived the restart: it still takes the disconnect signal and acts on it.
    const del = await api(`/v1/channels/${channelId}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(del.status, 202);
    const deadline = Date.now() + 30_000;
    let status = '';
    while (status !== 'disconnected' && Date.now() < deadline) {
      const r = await api(`/v1/channels/${channelId}`, { headers: { authorization: `Bearer ${adminKey}` } });
      status = ((await r.json()) as { channel: { status: string } }).channel.status;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 'disconnected');
  }

  it('names a port that is already taken, and starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.api, '127.0.0.1', resolve));
    try {
      const stack = startStack(env);
      running.push(stack);
      const code = await stack.exit;
      assert.notEqual(code, 0);
      assert.match(stack.output(), new RegExp(`port ${ports.api} \\(API\\) is already in use; set API_PORT`));
      assert.doesNotMatch(stack.output(), /starting Temporal/);
    } finally {
      blocker.close();
    }
  });

  it('leaves nothing behind even when it is killed outright (SIGKILL)', async () => {
    const stack = startStack(env);
    running.push(stack);
    await waitForOutput(stack, /Ctrl-C stops everything/);
    const children = descendants(stack.child.pid!);
    stack.child.kill('SIGKILL');
    await stack.exit;
    const deadline = Date.now() + 20_000;
    while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(children.filter(alive), [], 'orphans left behind');
  });
});
