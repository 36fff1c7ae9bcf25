// Scenario `webhooks`: signed Messenger deliveries, built with the sandbox's own signer exactly as
// the sandbox (and Meta) sends them, posted by autocannon from a separate process into one
// connected channel. Two runs:
//   1. a fixed rate (default 1,000/s for 60 s, 10 % of deliveries sent twice): acknowledged/s, ack
//      latency p50/p99, end-to-end latency (request sent → message stored by the drain) p50/p99,
//      stored vs sent, duplicates, unread counts;
//   2. as fast as the API takes them (default 100,000 messages, 100 per delivery — Meta batches up
//      to 1,000 updates into one POST under load): sustained acknowledged/s and stored/s.
// Baselines in the same run, same database, same load generator: the raw driver bulk-inserting
// message-shaped documents (into a bare collection, and into one with the messages indexes), and a bare Hono handler doing one insert per request (ack latency at
// the same rate, and its top rate) — every figure is also printed as a ratio against them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Document } from 'mongodb';
import mongoose from 'mongoose';
import { ConversationModel, MessageModel, pendingRange, WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { freePort } from '../stack/processes';
import { ROOT } from '../stack/tools';
import type { LoadJob, LoadResult } from './lib/load';
import { fmtInt, fmtMs, fmtNum, intOption, type Scenario, type ScenarioContext, type ScenarioResult } from './lib/scenario';
import { startStack, type BenchStack } from './lib/stack';

const PAGE = '101000000000001';
const INSERT_BATCH = 1000;

export const scenario: Scenario = {
  name: 'webhooks',
  description: 'signed webhook deliveries into one channel at a fixed rate, then flat out; baselines: raw insert and a bare Hono handler',
  options: {
    rate: 'deliveries per second in the fixed-rate run (default 1000)',
    seconds: 'length of the fixed-rate run (default 60)',
    'duplicate-percent': 'share of deliveries sent a second time, as platforms do (default 10)',
    'flat-messages': 'messages in the flat-out run (default 100000; 0 skips it)',
    'flat-batch': 'messages per delivery in the flat-out run (default 100; Meta batches up to 1000)',
    connections: 'concurrent connections of the load generator (default 64)',
    customers: 'customers writing (conversations) (default 50)',
  },
  run,
};

/** The prepared deliveries and, per delivery, the message IDs in it. */
interface Prepared { job: LoadJob; mids: string[][] }
type DbTime = ReturnType<BenchStack['db']['snapshot']>[string];

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const rate = intOption(ctx.options, 'rate', 1000, 1);
  const seconds = intOption(ctx.options, 'seconds', 60, 1);
  const dupPercent = intOption(ctx.options, 'duplicate-percent', 10, 0);
  const flatMessages = intOption(ctx.options, 'flat-messages', 100_000, 0);
  const flatBatch = Math.min(1000, intOption(ctx.options, 'flat-batch', 100, 1));
  const connections = intOption(ctx.options, 'connections', 64, 1);
  const customers = intOption(ctx.options, 'customers', 50, 1);
  const { say } = ctx;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-load-'));
  ctx.defer('load files', () => rmSync(tmp, { recursive: true, force: true }));

  const stack = await startStack({ world: { conversations: 1, messagesPerConversation: 1 }, platforms: ['meta'], syncIntervalSeconds: 3600, listen: true, say, defer: ctx.defer });
  say(`stack up: API ${stack.apiUrl}, Temporal ${stack.temporalAddress}, MongoDB ${stack.mongodbUri}`);
  const { channelId, workflowId } = await connect(stack);
  say(`Messenger channel ${channelId} connected`);
  // The raw baselines are measured into a fresh database of the same server here, and into the
  // run's own (grown) database at the end; the ratios use the faster of the two.
  const rawCount = Math.max(20_000, Math.min(flatMessages, 100_000));
  const rawBefore = { bare: await rawInsertRate(ctx, rawCount, false, 'fresh'), indexed: await rawInsertRate(ctx, rawCount, true, 'fresh') };
  await mongoose.connection.getClient().db(`${mongoose.connection.db!.databaseName}_raw`).dropDatabase();
  say(`raw insertMany into a fresh database: ${fmtInt(rawBefore.bare)} docs/s (${fmtInt(rawBefore.indexed)} with the messages indexes)`);

  // --- 1. fixed rate ---------------------------------------------------------------------------------
  const fixed = prepare(stack.apiUrl!, 'fixed', { deliveries: rate * seconds, perDelivery: 1, customers, dupPercent, connections, rate });
  say(`fixed rate: ${fmtInt(fixed.job.requests.length)} deliveries (${fmtInt(new Set(fixed.mids.flat()).size)} distinct, ${dupPercent} % sent twice) at ${fmtInt(rate)}/s`);
  const signalsBefore = stack.intake.signalsSent;
  const groupBefore = { ...stack.intake.queue.stats };
  stack.db.reset();
  const cpu0 = { self: process.cpuUsage(), children: stack.childCpuSeconds() };
  const fixedLoad = await load(tmp, 'fixed', fixed.job);
  // CPU and database time up to the moment the queue is empty (not the bench's own reads after).
  const atDrained = () => ({ cpu: { self: process.cpuUsage(cpu0.self), children: stack.childCpuSeconds() }, dbTime: Object.entries(stack.db.snapshot()).slice(0, 12) });
  const fixedStore = await waitStored(stack, channelId, fixed, fixedLoad, say, atDrained);
  const { cpu: cpu1, dbTime } = fixedStore.drained;
  const signals = stack.intake.signalsSent - signalsBefore;
  const group = { batches: stack.intake.queue.stats.batches - groupBefore.batches, docs: stack.intake.queue.stats.docs - groupBefore.docs };
  const unread = await unreadTotal(channelId, 'fixed');
  const history = (await stack.temporal.workflow.getHandle(workflowId).describe()).historyLength;

  // --- 2. flat out -------------------------------------------------------------------------------------
  let flat: { load: LoadResult; store: Awaited<ReturnType<typeof waitStored>>; dbTime: [string, DbTime][]; cpu: { benchProcess: number; temporal: number | null; ferretdb: number | null } } | undefined;
  const flatDeliveries = Math.ceil(flatMessages / flatBatch);
  if (flatMessages > 0) {
    const prepared = prepare(stack.apiUrl!, 'flat', { deliveries: flatDeliveries, perDelivery: flatBatch, customers, dupPercent: 0, connections, rate: 0 });
    say(`flat out: ${fmtInt(flatMessages)} messages in ${fmtInt(flatDeliveries)} deliveries of ${flatBatch}, ${connections} connections`);
    stack.db.reset();
    const c0 = { self: process.cpuUsage(), children: stack.childCpuSeconds() };
    const l = await load(tmp, 'flat', prepared.job);
    const store = await waitStored(stack, channelId, prepared, l, say, () => ({ cpu: { self: process.cpuUsage(c0.self), children: stack.childCpuSeconds() }, dbTime: Object.entries(stack.db.snapshot()).slice(0, 12) }));
    const c1 = store.drained.cpu;
    flat = { load: l, store, dbTime: store.drained.dbTime, cpu: { benchProcess: (c1.self.user + c1.self.system) / 1e6, temporal: diff(c1.children.temporal, c0.children.temporal), ferretdb: diff(c1.children.ferretdb, c0.children.ferretdb) } };
  }

  // --- baselines ---------------------------------------------------------------------------------------
  say('baselines: stopping the worker, then raw driver inserts and a bare Hono handler on the same database');
  await stack.stopWorker();
  const rawAfter = { bare: await rawInsertRate(ctx, rawCount, false), indexed: await rawInsertRate(ctx, rawCount, true) };
  const raw = Math.max(rawBefore.bare, rawAfter.bare);
  const rawIndexed = Math.max(rawBefore.indexed, rawAfter.indexed);
  const bare = await bareHandler(ctx, tmp, fixed, flatMessages > 0 ? 20_000 : 0, connections, rate, seconds);

  // --- figures -------------------------------------------------------------------------------------------
  const fixedAckRate = fixedLoad.ok / (fixedLoad.durationMs / 1000);
  const figures = {
    options: { rate, seconds, dupPercent, flatMessages, flatBatch, connections, customers },
    fixed: {
      sent: fixedLoad.sent, acknowledged: fixedLoad.ok, non2xx: fixedLoad.non2xx, errors: fixedLoad.errors + fixedLoad.timeouts,
      ackPerSecond: fixedAckRate, ackLatencyMs: fixedLoad.latency, distinct: fixedStore.distinct, stored: fixedStore.stored,
      duplicatesStored: fixedStore.stored - Math.min(fixedStore.stored, fixedStore.distinct), missing: fixedStore.missing,
      e2eMs: fixedStore.e2e, drainedWithinMs: fixedStore.lastStoredAfterLastSentMs, unreadTotal: unread,
      wakeSignals: signals, workflowHistoryLength: history, queueInserts: group, databaseCommands: Object.fromEntries(dbTime),
      cpuSeconds: { benchProcess: (cpu1.self.user + cpu1.self.system) / 1e6, temporal: diff(cpu1.children.temporal, cpu0.children.temporal), ferretdb: diff(cpu1.children.ferretdb, cpu0.children.ferretdb) },
    },
    flat: flat && {
      sent: flat.load.sent, acknowledged: flat.load.ok, non2xx: flat.load.non2xx, errors: flat.load.errors + flat.load.timeouts,
      ackPerSecond: flat.load.ok / (flat.load.durationMs / 1000), ackLatencyMs: flat.load.latency,
      deliveries: flatDeliveries, messagesPerDelivery: flatBatch, distinct: flat.store.distinct, missing: flat.store.missing,
      stored: flat.store.stored, storedPerSecond: flat.store.storedPerSecond, e2eMs: flat.store.e2e, cpuSeconds: flat.cpu, databaseCommands: Object.fromEntries(flat.dbTime),
    },
    baseline: { rawInsertDocsPerSecond: raw, rawIndexedInsertDocsPerSecond: rawIndexed, rawBefore, rawAfter, bare },
    ratios: {
      fixedAckP99VsBare: fixedLoad.latency.p99 / Math.max(0.001, bare.fixed.latency.p99),
      fixedAckP50VsBare: fixedLoad.latency.p50 / Math.max(0.001, bare.fixed.latency.p50),
      flatStoredVsRawInsert: flat ? flat.store.storedPerSecond / raw : null,
      flatStoredVsRawIndexedInsert: flat ? flat.store.storedPerSecond / rawIndexed : null,
    },
  };

  const rows: [string, string][] = [
    ['', `fixed rate: ${fmtInt(rate)}/s for ${seconds} s into one channel`],
    ['deliveries sent / acknowledged', `${fmtInt(fixedLoad.sent)} / ${fmtInt(fixedLoad.ok)} (non-2xx ${fixedLoad.non2xx}, errors ${fixedLoad.errors + fixedLoad.timeouts})`],
    ['acknowledged/s', fmtNum(fixedAckRate, 0)],
    ['ack latency p50 / p99', `${fmtNum(fixedLoad.latency.p50, 1)} ms / ${fmtNum(fixedLoad.latency.p99, 1)} ms`],
    ['  bare handler p50 / p99 (same rate)', `${fmtNum(bare.fixed.latency.p50, 1)} ms / ${fmtNum(bare.fixed.latency.p99, 1)} ms`],
    ['  ratio p99 (target ≤ 2×)', `${fmtNum(figures.ratios.fixedAckP99VsBare, 2)}×`],
    ['end-to-end p50 / p99 (target p99 ≤ 2 s)', `${fmtMs(fixedStore.e2e.p50)} / ${fmtMs(fixedStore.e2e.p99)}`],
    ['distinct messages / stored / missing', `${fmtInt(fixedStore.distinct)} / ${fmtInt(fixedStore.stored)} / ${fmtInt(fixedStore.missing)}`],
    ['duplicates stored', fmtInt(figures.fixed.duplicatesStored)],
    ['unread counted (= distinct)', fmtInt(unread)],
    ['wake-up signals / workflow history events', `${fmtInt(signals)} / ${fmtInt(history)}`],
    ['queue inserts (group commit): round trips / events', `${fmtInt(group.batches)} / ${fmtInt(group.docs)} (${fmtNum(group.docs / Math.max(1, group.batches), 1)} per round trip)`],
    ['CPU s: bench process (API+worker) / Temporal / FerretDB', `${fmtNum(figures.fixed.cpuSeconds.benchProcess, 1)} / ${fmtNum(figures.fixed.cpuSeconds.temporal ?? NaN, 1)} / ${fmtNum(figures.fixed.cpuSeconds.ferretdb ?? NaN, 1)}`],
  ];
  rows.push(['', 'database time by command (fixed rate; API + worker, as the driver sees it)']);
  for (const [label, v] of dbTime.slice(0, 8)) rows.push([`  ${label}`, `${fmtInt(v.count)} × ${fmtNum(v.avgMs, 1)} ms = ${fmtNum(v.ms / 1000, 1)} s (first/last quarter ${fmtNum(v.firstQuarterAvgMs, 1)}/${fmtNum(v.lastQuarterAvgMs, 1)} ms)`]);
  if (flat) {
    rows.push(
      ['', `flat out: ${fmtInt(flatMessages)} messages in ${fmtInt(flatDeliveries)} deliveries of ${flatBatch}, ${connections} connections`],
      ['deliveries acknowledged/s', `${fmtNum(figures.flat!.ackPerSecond, 0)} (non-2xx ${flat.load.non2xx}, errors ${flat.load.errors + flat.load.timeouts})`],
      ['ack latency p50 / p99', `${fmtNum(flat.load.latency.p50, 1)} ms / ${fmtNum(flat.load.latency.p99, 1)} ms`],
      ['distinct messages / stored / missing', `${fmtInt(flat.store.distinct)} / ${fmtInt(flat.store.stored)} / ${fmtInt(flat.store.missing)}`],
      ['stored/s (first sent → last stored)', fmtNum(flat.store.storedPerSecond, 0)],
      ['raw driver insertMany docs/s: bare collection / with the messages indexes', `${fmtNum(raw, 0)} / ${fmtNum(rawIndexed, 0)} (fresh database ${fmtNum(rawBefore.bare, 0)} / ${fmtNum(rawBefore.indexed, 0)}, the run's at the end ${fmtNum(rawAfter.bare, 0)} / ${fmtNum(rawAfter.indexed, 0)}; the faster counts)`],
      ['  ratio stored/s vs raw insert (target ≥ 0.5×)', `${fmtNum(figures.ratios.flatStoredVsRawInsert ?? NaN, 3)}×`],
      ['  ratio stored/s vs raw insert with the messages indexes', `${fmtNum(figures.ratios.flatStoredVsRawIndexedInsert ?? NaN, 3)}×`],
      ['CPU s: bench process (API+worker) / Temporal / FerretDB', `${fmtNum(flat.cpu.benchProcess, 1)} / ${fmtNum(flat.cpu.temporal ?? NaN, 1)} / ${fmtNum(flat.cpu.ferretdb ?? NaN, 1)}`],
      ['bare handler (one insert per request) acknowledged/s, one message each', bare.flat ? fmtNum(bare.flat.ok / (bare.flat.durationMs / 1000), 0) : '–'],
      ['end-to-end p50 / p99', `${fmtMs(flat.store.e2e.p50)} / ${fmtMs(flat.store.e2e.p99)}`],
      ['', 'database time by command (flat out; API + worker, as the driver sees it)'],
    );
    for (const [label, v] of flat.dbTime.slice(0, 10)) rows.push([`  ${label}`, `${fmtInt(v.count)} × ${fmtNum(v.avgMs, 1)} ms = ${fmtNum(v.ms / 1000, 1)} s`]);
  }
  return { rows, figures };
}

const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);

async function connect(stack: BenchStack) {
  const created = await stack.call('POST', '/v1/channels', { key: stack.key, body: { platform: 'messenger', name: 'Bench Page', settings: { pageId: PAGE } } });
  if (created.status !== 201) throw new Error(`POST /v1/channels answered ${created.status}: ${created.text}`);
  const consent = await fetch(`${created.json.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
  const location = new URL(consent.headers.get('location') ?? 'http://invalid/');
  const callback = await stack.call('GET', `${location.pathname}${location.search}`);
  if (callback.status !== 200) throw new Error(`OAuth callback answered ${callback.status}: ${callback.text}`);
  const id: string = created.json.channel.id;
  for (let i = 0; i < 600; i++) {
    const ch = (await stack.call('GET', `/v1/channels/${id}`, { key: stack.key })).json.channel;
    if (ch.backfill.done && ch.status === 'active') return { channelId: id, workflowId: created.json.channel.workflowId as string };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the channel did not finish its backfill in 60 s');
}

interface PrepareOptions { deliveries: number; perDelivery: number; customers: number; dupPercent: number; connections: number; rate: number }

/** Signed deliveries of `perDelivery` customer messages each, as Meta sends them; some sent twice. */
function prepare(apiUrl: string, tag: string, o: PrepareOptions): Prepared {
  const secret = DEFAULT_APPS.meta!.secret;
  const requests: LoadJob['requests'] = [];
  const mids: string[][] = [];
  const base = Date.now();
  let distinct = 0;
  for (let i = 0; i < o.deliveries; i++) {
    // Every Nth delivery repeats one sent a little earlier (a platform retry).
    const repeat = o.dupPercent > 0 && i > 20 && (i * 7919) % 100 < o.dupPercent;
    if (repeat) {
      const j = i - 1 - ((i * 31) % 20);
      requests.push(requests[j]!);
      mids.push(mids[j]!);
      continue;
    }
    const messaging: unknown[] = [];
    const inThis: string[] = [];
    for (let k = 0; k < o.perDelivery; k++) {
      const n = distinct++;
      const psid = `9${String(n % o.customers).padStart(5, '0')}`;
      const mid = `m_${tag}_${n}`;
      const ts = base + n;
      messaging.push({ sender: { id: psid }, recipient: { id: PAGE }, timestamp: ts, message: { mid, text: `${tag} message ${n} — is it in stock?` } });
      inThis.push(mid);
    }
    const body = metaJson({ object: 'page', entry: [{ id: PAGE, time: base + distinct, messaging }] });
    requests.push({ body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, secret) } });
    mids.push(inThis);
  }
  return { job: { url: apiUrl, path: '/webhooks/meta', requests, rate: o.rate, connections: o.connections }, mids };
}

async function load(dir: string, name: string, job: LoadJob): Promise<LoadResult> {
  const jobFile = path.join(dir, `${name}.job.json`);
  const resultFile = path.join(dir, `${name}.result.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench/lib/load.ts'), jobFile, resultFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(readFileSync(resultFile, 'utf8')) as LoadResult;
}

/** Waits until every distinct message is stored (or nothing moved for 60 s); end-to-end latency per message. */
async function waitStored<T>(stack: BenchStack, channelId: string, prepared: Prepared, loadResult: LoadResult, say: (l: string) => void, atDrained: () => T) {
  const firstSent = new Map<string, number>();
  prepared.mids.forEach((inDelivery, i) => {
    const at = loadResult.sentAt[i];
    for (const mid of inDelivery) if (at && !firstSent.has(mid)) firstSent.set(mid, at);
  });
  const all = [...new Set(prepared.mids.flat())];
  const distinct = all.length;
  const prefix = all[0]!.split('_').slice(0, 2).join('_');
  // Every delivery was acknowledged, so every event is in the channel's queue or already drained:
  // wait for the queue to empty (one cheap range read every 250 ms — polling the messages
  // themselves would load the very database being measured), then read what was stored, once.
  let head: unknown = null;
  let lastChange = Date.now();
  let lastSay = Date.now();
  for (;;) {
    const first = await WebhookEventModel.collection.findOne({ _id: pendingRange(channelId) } as Document, { projection: { _id: 1 } });
    if (!first) break;
    if (first._id !== head) { head = first._id; lastChange = Date.now(); }
    if (Date.now() - lastChange > 60_000) break;
    if (Date.now() - lastSay > 5000) { say(`  draining: oldest queued event ${String(first._id).split(':')[1]}`); lastSay = Date.now(); }
    await new Promise((r) => setTimeout(r, 250));
  }
  const drained = atDrained();
  const docs = await MessageModel.collection.find({ channelId: new mongoose.Types.ObjectId(channelId), externalId: { $regex: `^${prefix}_` } }, { projection: { externalId: 1, createdAt: 1 } }).toArray();
  const latencies = docs.map((d) => (d.createdAt as Date).getTime() - (firstSent.get(d.externalId as string) ?? NaN)).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const firstAt = Math.min(...loadResult.sentAt.filter((x) => x > 0));
  const lastStored = Math.max(...docs.map((d) => (d.createdAt as Date).getTime()));
  const lastSent = Math.max(...loadResult.sentAt);
  const pending = await WebhookEventModel.countDocuments({ channelId, state: 'pending' });
  if (docs.length < distinct) say(`warning: ${distinct - docs.length} messages not stored after 60 s without progress (${pending} events still queued)`);
  return {
    distinct, stored: docs.length, missing: Math.max(0, distinct - docs.length),
    e2e: { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: latencies[latencies.length - 1] ?? NaN },
    storedPerSecond: docs.length / Math.max(0.001, (lastStored - firstAt) / 1000),
    lastStoredAfterLastSentMs: lastStored - lastSent,
    drained,
  };
}

async function unreadTotal(channelId: string, tag: string): Promise<number> {
  const convs = await ConversationModel.find({ channelId, lastMessagePreview: { $regex: `^${tag} ` } }, { unreadCount: 1 }).lean();
  return convs.reduce((sum, c) => sum + (c.unreadCount ?? 0), 0);
}

/**
 * The raw driver: insertMany of message-shaped documents into a scratch collection, docs/s — a bare
 * one, or (`indexed`) one with the messages collection's indexes, what any stored message costs.
 */
async function rawInsertRate(ctx: ScenarioContext, count: number, indexed: boolean, where: 'run' | 'fresh' = 'run'): Promise<number> {
  // "fresh": a database of its own on the same server (for FerretDB its own SQLite file), so the
  // baseline's writes do not grow the run's database and its write-ahead log before the run.
  const db = where === 'fresh' ? mongoose.connection.getClient().db(`${mongoose.connection.db!.databaseName}_raw`) : mongoose.connection.db!;
  const name = `bench_scratch_webhooks_${indexed ? 'indexed_' : ''}${Date.now().toString(36)}`;
  const collection = db.collection<{ _id: string }>(name);
  ctx.defer(`scratch collection ${name}`, () => (where === 'fresh' ? db.dropDatabase() : collection.drop()).then(() => undefined, () => undefined));
  if (indexed) {
    for (const { key, name: _name, v: _v, ns: _ns, ...options } of await MessageModel.collection.indexes()) {
      if (_name !== '_id_') await collection.createIndex(key, options);
    }
  }
  const template = await MessageModel.collection.findOne({}, { sort: { _id: -1 } });
  const started = performance.now();
  for (let offset = 0; offset < count; offset += INSERT_BATCH) {
    const docs = Array.from({ length: Math.min(INSERT_BATCH, count - offset) }, (_, i) => ({ ...template, _id: `raw:${offset + i}` }));
    await collection.insertMany(docs, { ordered: false });
  }
  return count / ((performance.now() - started) / 1000);
}

/** A bare Hono handler that inserts each request body as one document, under the same loads. */
async function bareHandler(ctx: ScenarioContext, dir: string, fixed: Prepared, maxRequests: number, connections: number, rate: number, seconds: number) {
  const collection = mongoose.connection.db!.collection(`bench_scratch_bare_${Date.now().toString(36)}`);
  ctx.defer('bare handler collection', () => collection.drop().then(() => undefined, () => undefined));
  const app = new Hono();
  app.post('/webhooks/meta', async (c) => {
    const body = await c.req.text();
    await collection.insertOne({ body, receivedAt: new Date() });
    return c.text('EVENT_RECEIVED');
  });
  const port = await freePort();
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
  try {
    const url = `http://127.0.0.1:${port}`;
    const fixedResult = await load(dir, 'bare-fixed', { ...fixed.job, url, requests: fixed.job.requests.slice(0, rate * seconds) });
    const flatResult = maxRequests > 0 ? await load(dir, 'bare-flat', { ...fixed.job, url, rate: 0, connections, requests: fixed.job.requests.slice(0, maxRequests) }) : undefined;
    return { fixed: { latency: fixedResult.latency, ok: fixedResult.ok, durationMs: fixedResult.durationMs }, flat: flatResult && { latency: flatResult.latency, ok: flatResult.ok, durationMs: flatResult.durationMs } };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
