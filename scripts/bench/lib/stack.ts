// The stack one benchmark scenario runs on, started for that scenario alone: a real Temporal dev
// server and FerretDB on free ports (or TEMPORAL_ADDRESS / MONGODB_URI when set), an in-process
// platform sandbox, the real worker (real activities) and the API app called in-process. Every
// piece registers its own stop with `defer` as soon as it is up, so a failure half-way (or Ctrl-C)
// still stops what was started. Instrumentation: MongoDB command timings (driver command
// monitoring), sandbox HTTP timings (a fetch wrapper) and the CPU time of each child process.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, bundleWorkflowCode } from '@temporalio/worker';
import mongoose from 'mongoose';
import pino from 'pino';
import { serve } from '@hono/node-server';
import { createApp, createWebhookIntake } from '../../../api/app';
import type { WebhookIntake } from '../../../api/webhooks/intake';
import type { ActivityDeps } from '../../../activities';
import { createTenantWithAdminKey } from '../../../api/auth/keys';
import { generateEncryptionKeys } from '../../../lib/crypto';
import { loadConfig } from '../../../lib/config';
import { ensureIndexes, pingDatabase } from '../../../lib/db';
import { platformConfig } from '../../../lib/platform-config';
import { pingTemporal } from '../../../lib/temporal';
import { startSandbox, type Sandbox } from '../../../sandbox/sandbox';
import type { SeedOptions } from '../../../sandbox/platforms/types';
import { ensureSearchAttributes } from '../../../workers/search-attributes';
import { createSwitchboardWorker, WORKFLOWS_PATH } from '../../../workers/worker';
import { freePort, type Service } from '../../stack/processes';
import { startFerretDB, startTemporal } from '../../stack/services';

export type Defer = (what: string, stop: () => Promise<void> | void) => void;
export type Say = (line: string) => void;

export interface StackOptions {
  /** Sandbox history per business account. */
  world: SeedOptions | false;
  /** Sandbox platforms to run (default: all). */
  platforms?: string[];
  /** Passed to the API (the channel workflow's incremental sync interval). */
  syncIntervalSeconds?: number;
  /** The worker's workflow cache (WORKER_MAX_CACHED_WORKFLOWS); the SDK's default when absent. */
  maxCachedWorkflows?: number;
  /** Also serve the API over HTTP on a free port (webhook load comes from another process). */
  listen?: boolean;
  say: Say;
  defer: Defer;
}

/** Time and count per label (e.g. "update messages upsert", "GET graph /{conversation}/messages"). */
export class Spans {
  private readonly stats = new Map<string, { count: number; ms: number; ops: number; maxMs: number; series: number[] }>();
  add(label: string, ms: number, ops = 1): void {
    const s = this.stats.get(label) ?? { count: 0, ms: 0, ops: 0, maxMs: 0, series: [] };
    s.count += 1;
    s.ms += ms;
    s.ops += ops;
    s.maxMs = Math.max(s.maxMs, ms);
    s.series.push(ms);
    this.stats.set(label, s);
  }
  reset(): void { this.stats.clear(); }
  /** Per label: totals, and the average of the first and last quarter of calls (does a call get slower as data grows?). */
  snapshot(): Record<string, { count: number; ms: number; ops: number; maxMs: number; avgMs: number; firstQuarterAvgMs: number; lastQuarterAvgMs: number }> {
    const avg = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : 0);
    return Object.fromEntries([...this.stats.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([k, { series, ...v }]) => {
      const q = Math.max(1, Math.floor(series.length / 4));
      return [k, {
        ...v, ms: Math.round(v.ms), maxMs: Math.round(v.maxMs * 10) / 10, avgMs: avg(series),
        firstQuarterAvgMs: avg(series.slice(0, q)), lastQuarterAvgMs: avg(series.slice(-q)),
      }];
    }));
  }
  totalMs(filter: (label: string) => boolean = () => true): number {
    let t = 0;
    for (const [k, v] of this.stats) if (filter(k)) t += v.ms;
    return t;
  }
}

export interface BenchStack {
  temporalAddress: string;
  /** The URI with credentials hidden. */
  mongodbUri: string;
  dbName: string;
  /** Which servers this stack started itself (false: TEMPORAL_ADDRESS / MONGODB_URI). */
  started: { temporal: boolean; ferretdb: boolean };
  sandbox: Sandbox;
  temporal: Client;
  taskQueue: string;
  /** An admin API key of a fresh tenant. */
  key: string;
  call: ApiCall;
  /** With `listen`: the API's base URL (also its PUBLIC_URL). */
  apiUrl?: string;
  /** The API's webhook intake (its wake-up signal count). */
  intake: WebhookIntake;
  /** MongoDB commands seen by this process's driver (API, worker, activities, this script). */
  db: Spans;
  /** HTTP requests from this process to the sandbox, by endpoint. */
  http: Spans;
  /** What the worker's activities were built with (to call an activity directly, as a baseline). */
  activityDeps: ActivityDeps;
  /** Stops the worker (e.g. so that measurements after an unfinished run are not disturbed); idempotent. */
  stopWorker(): Promise<void>;
  /** User+system CPU seconds of the servers this stack started (null: not started here). */
  childCpuSeconds(): { temporal: number | null; ferretdb: number | null };
}

export type ApiCall = (method: string, path: string, init?: { key?: string; body?: unknown; headers?: Record<string, string> }) => Promise<{ status: number; json: any; text: string }>; // eslint-disable-line @typescript-eslint/no-explicit-any

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** utime + stime of a process from /proc (Linux); null elsewhere or once it has exited. */
export function procCpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after "(comm)": state is index 0, utime index 11, stime index 12 (clock ticks, 100/s on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export async function startStack(opts: StackOptions): Promise<BenchStack> {
  const { say, defer } = opts;
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const services: { temporal?: Service; ferretdb?: Service } = {};

  // --- servers -------------------------------------------------------------------------------
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const port = await freePort();
    say(`starting Temporal dev server on port ${port}`);
    services.temporal = await startTemporal({ port, uiPort: null });
    defer('Temporal dev server', () => services.temporal!.stop());
    temporalAddress = `127.0.0.1:${port}`;
  }
  let mongodbUri = process.env.MONGODB_URI;
  let dbName: string;
  if (!mongodbUri) {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
    defer('FerretDB data', () => rmSync(tmp, { recursive: true, force: true }));
    const port = await freePort();
    say(`starting FerretDB on port ${port} (SQLite in ${tmp})`);
    services.ferretdb = await startFerretDB({ port, dataDir: path.join(tmp, 'ferretdb') });
    defer('FerretDB', () => services.ferretdb!.stop());
    dbName = 'switchboard_bench';
    mongodbUri = `mongodb://127.0.0.1:${port}/${dbName}`;
  } else {
    // A server of the user's: a database of our own, dropped at the end.
    const url = new URL(mongodbUri);
    dbName = `switchboard_bench_${stamp}`;
    url.pathname = `/${dbName}`;
    mongodbUri = url.toString();
  }

  // --- database, with every command timed -------------------------------------------------------
  mongoose.set('strictQuery', true);
  await mongoose.connect(mongodbUri, { serverSelectionTimeoutMS: 10_000, autoIndex: false, monitorCommands: true });
  defer('MongoDB connection', async () => {
    if (!services.ferretdb) await mongoose.connection.dropDatabase().catch(() => undefined);
    await mongoose.disconnect();
  });
  await ensureIndexes();
  const db = new Spans();
  const pending = new Map<number, { label: string; ops: number }>();
  const client = mongoose.connection.getClient();
  client.on('commandStarted', (e) => {
    const cmd = e.command as Record<string, unknown>;
    const collection = typeof cmd[e.commandName] === 'string' ? String(cmd[e.commandName]) : typeof cmd.collection === 'string' ? String(cmd.collection) : '';
    let label = `${e.commandName} ${collection}`.trim();
    let ops = 1;
    if (Array.isArray(cmd.updates)) {
      ops = cmd.updates.length;
      if ((cmd.updates[0] as { upsert?: boolean } | undefined)?.upsert) label += ' upsert';
    } else if (Array.isArray(cmd.documents)) ops = cmd.documents.length;
    else if (Array.isArray(cmd.deletes)) ops = cmd.deletes.length;
    pending.set(e.requestId, { label, ops });
  });
  const finish = (e: { requestId: number; duration: number }, failed: boolean) => {
    const p = pending.get(e.requestId);
    if (!p) return;
    pending.delete(e.requestId);
    db.add(failed ? `${p.label} (failed)` : p.label, e.duration, p.ops);
  };
  client.on('commandSucceeded', (e) => finish(e, false));
  client.on('commandFailed', (e) => finish(e, true));

  // --- sandbox, and every request to it timed ---------------------------------------------------
  say(`seeding the sandbox${opts.world ? ` (${opts.world.conversations} conversations × ${opts.world.messagesPerConversation} messages per account)` : ''}`);
  const sandbox = await startSandbox({ world: opts.world, platforms: opts.platforms });
  defer('sandbox', () => sandbox.close());
  const http = new Spans();
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(sandbox.url)) return realFetch(input, init);
    const started = performance.now();
    try {
      return await realFetch(input, init);
    } finally {
      http.add(`${init?.method ?? 'GET'} ${sandboxEndpoint(url.slice(sandbox.url.length))}`, performance.now() - started);
    }
  };
  defer('fetch wrapper', () => { globalThis.fetch = realFetch; });

  // --- worker and API ------------------------------------------------------------------------------
  const keys = loadConfig({ MONGODB_URI: 'mongodb://unused/x', ENCRYPTION_KEYS: generateEncryptionKeys('bench1') }).ENCRYPTION_KEYS;
  const platforms = platformConfig({ SANDBOX_URL: sandbox.url });
  const taskQueue = `bench_${stamp}`;
  say('bundling workflows and starting the worker');
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  defer('worker connection', () => nativeConnection.close());
  if (!services.temporal) await ensureSearchAttributes(nativeConnection, 'default', { info: noop, warn: (obj: unknown, msg?: string) => say(`warning: ${msg ?? String(obj)}`) });
  const worker = await createSwitchboardWorker({
    connection: nativeConnection, namespace: 'default', taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger }),
    activityDeps: { keys, platforms },
    maxCachedWorkflows: opts.maxCachedWorkflows,
  });
  const running = worker.run();
  const stopWorker = async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    // An activity stuck in a long database call does not see its cancellation: do not wait forever
    // (stopping FerretDB next ends that call).
    const gaveUp = await Promise.race([running.then(() => false, () => false), new Promise<boolean>((r) => setTimeout(() => r(true), 30_000).unref())]);
    if (gaveUp) say('worker still busy 30 s after shutdown; going on anyway');
  };
  defer('worker', stopWorker);

  const connection = await Connection.connect({ address: temporalAddress });
  defer('API Temporal connection', () => connection.close());
  const temporal = new Client({ connection });
  const apiPort = opts.listen ? await freePort() : 0;
  const publicUrl = opts.listen ? `http://127.0.0.1:${apiPort}` : 'http://localhost:3000';
  if (opts.listen) sandbox.ctx.apps.addRedirectUri('meta', `${publicUrl}/v1/oauth/callback`);
  const log = pino({ level: 'silent' });
  const intake = createWebhookIntake({ log, temporal, keys, platforms });
  defer('webhook intake', () => intake.close());
  const app = createApp({
    log,
    intake,
    temporal,
    taskQueue,
    readiness: { mongodb: () => pingDatabase(), temporal: () => pingTemporal(connection, 1000) },
    keys,
    platforms,
    publicUrl,
    syncIntervalSeconds: opts.syncIntervalSeconds,
  });
  if (opts.listen) {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: apiPort });
    defer('API server', () => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  const call: ApiCall = async (method, p, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    let body: string | undefined;
    if (init.body !== undefined) { body = JSON.stringify(init.body); headers['content-type'] = 'application/json'; }
    const res = await app.request(p, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, json, text };
  };
  const ready = await call('GET', '/readyz');
  if (ready.status !== 200) throw new Error(`API not ready: ${ready.text}`);
  const key = (await createTenantWithAdminKey('Bench')).secret;

  return {
    temporalAddress,
    mongodbUri: mongodbUri.replace(/\/\/[^@/]*@/, '//…@'),
    dbName,
    started: { temporal: !!services.temporal, ferretdb: !!services.ferretdb },
    sandbox,
    temporal,
    taskQueue,
    key,
    call,
    ...(opts.listen ? { apiUrl: publicUrl } : {}),
    intake,
    db,
    http,
    stopWorker,
    activityDeps: { keys, platforms },
    childCpuSeconds: () => ({ temporal: procCpuSeconds(services.temporal?.child.pid), ferretdb: procCpuSeconds(services.ferretdb?.child.pid) }),
  };
}

/** "/graph.facebook.com/v25.0/t_123/messages?…" → "graph.facebook.com /{id}/messages". */
function sandboxEndpoint(rest: string): string {
  const [pathPart = ''] = rest.split('?');
  const segs = pathPart.split('/').filter(Boolean);
  const host = segs.shift() ?? '';
  if (segs[0] && /^v\d+\.\d+$/.test(segs[0])) segs.shift();
  const shape = segs.map((s) => (/\d{5,}|^t_|^m_|^[A-Za-z0-9_-]{24,}$/.test(s) ? '{id}' : s)).join('/');
  return `${host} /${shape}`;
}

/**
 * Connects a Messenger Page the way a user does — create the channel, approve the sandbox's consent,
 * our OAuth callback — and waits for its backfill. Returns the channel ID.
 */
export async function connectMessengerPage(stack: BenchStack, pageId: string, name: string): Promise<string> {
  const created = await stack.call('POST', '/v1/channels', { key: stack.key, body: { platform: 'messenger', name, settings: { pageId } } });
  if (created.status !== 201) throw new Error(`POST /v1/channels answered ${created.status}: ${created.text}`);
  const consent = await fetch(`${created.json.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
  const callback = new URL(consent.headers.get('location')!);
  const connected = await stack.call('GET', `${callback.pathname}${callback.search}`);
  if (connected.status !== 200) throw new Error(`OAuth callback answered ${connected.status}: ${connected.text}`);
  const channelId: string = created.json.channel.id;
  for (const until = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const ch = (await stack.call('GET', `/v1/channels/${channelId}`, { key: stack.key })).json.channel;
    if (ch.backfill.done && ch.status === 'active') return channelId;
    if (Date.now() > until) throw new Error(`channel ${channelId} did not finish its backfill in 2 minutes`);
  }
}
