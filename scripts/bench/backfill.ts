// Scenario `backfill`: how fast a freshly connected Messenger Page's history lands in the inbox.
// A sandbox world of N conversations × M messages per Meta account; the Page 101000000000001 is
// connected through the API exactly like test/integration/channel-lifecycle.test.ts (POST
// /v1/channels, the sandbox consent page with `sandbox_action=approve`, our OAuth callback), then
// GET /v1/channels/:id is polled until the backfill is done. Measured: wall time from consent to
// backfill done, messages stored (checked against N × M), messages/s, pages, peak RSS of this
// process (it runs the worker), the channel workflow's history length; where the time went
// (MongoDB commands, sandbox HTTP, Temporal, CPU of each process); and, on the same database, the
// raw driver bulk-inserting as many message-shaped documents (the ceiling to compare with).
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { ObjectId, type Document } from 'mongodb';
import mongoose from 'mongoose';
import { ChannelModel, ConversationModel, MessageModel } from '../../models';
import { startCpuProfile, type CpuProfileSummary } from './lib/cpu-profile';
import { fmtInt, fmtMB, fmtMs, fmtNum, intOption, pct, type Scenario, type ScenarioContext, type ScenarioResult } from './lib/scenario';
import { startStack, type BenchStack } from './lib/stack';

const MESSENGER_PAGE = '101000000000001';
const BATCH = 1000;

export const scenario: Scenario = {
  name: 'backfill',
  description: 'connect a Messenger Page through the API and backfill its whole history',
  options: {
    conversations: 'conversations per Meta account in the sandbox (default 100)',
    messages: 'messages per conversation (default 1000)',
    'cpu-profile': 'record a CPU profile of this process during the backfill (bench-results/backfill-<time>.cpuprofile)',
    'stall-minutes': 'stop waiting when no message is stored for this long (default 10); figures so far are still written',
    'max-minutes': 'stop waiting after this long even if the backfill is not done (default: no limit); figures so far are still written',
  },
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const conversations = intOption(ctx.options, 'conversations', 100, 1);
  const messagesPer = intOption(ctx.options, 'messages', 1000, 1);
  const stallMs = intOption(ctx.options, 'stall-minutes', 10, 1) * 60_000;
  const maxMs = ctx.options['max-minutes'] === undefined ? Infinity : intOption(ctx.options, 'max-minutes', 0, 1) * 60_000;
  const expected = conversations * messagesPer;
  const { say } = ctx;

  const stack = await startStack({ world: { conversations, messagesPerConversation: messagesPer }, platforms: ['meta'], syncIntervalSeconds: 3600, say, defer: ctx.defer });
  say(`stack up: Temporal ${stack.temporalAddress}${stack.started.temporal ? ' (started here)' : ''}, MongoDB ${stack.mongodbUri}${stack.started.ferretdb ? ' (FerretDB started here)' : ''}, sandbox ${stack.sandbox.url}`);

  // --- create the channel (pending_auth) ---------------------------------------------------------
  const created = await stack.call('POST', '/v1/channels', { key: stack.key, body: { platform: 'messenger', name: 'Bench Page', settings: { pageId: MESSENGER_PAGE } } });
  if (created.status !== 201) throw new Error(`POST /v1/channels answered ${created.status}: ${created.text}`);
  const channelId: string = created.json.channel.id;
  const workflowId: string = created.json.channel.workflowId;

  // --- measure from the consent on ---------------------------------------------------------------
  stack.db.reset();
  stack.http.reset();
  stack.sandbox.ctx.recorder.reset();
  const memStart = process.memoryUsage();
  const rssStart = memStart.rss;
  let rssPeak = rssStart;
  let heapPeak = memStart.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  const sampler = setInterval(sample, 500);
  ctx.defer('RSS sampler', () => clearInterval(sampler));
  const profiler = ctx.options['cpu-profile'] ? await startCpuProfile() : undefined;
  const cpuStart = process.cpuUsage();
  const childCpuStart = stack.childCpuSeconds();
  const eluStart = performance.eventLoopUtilization();
  const consentAt = Date.now();
  const t0 = performance.now();

  const consent = await fetch(`${created.json.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
  const location = new URL(consent.headers.get('location') ?? 'http://invalid/');
  if (`${location.origin}${location.pathname}` !== 'http://localhost:3000/v1/oauth/callback') throw new Error(`the consent page redirected to ${location.href}`);
  const callback = await stack.call('GET', `${location.pathname}${location.search}`);
  if (callback.status !== 200 || callback.json?.ok !== true) throw new Error(`OAuth callback answered ${callback.status}: ${callback.text}`);
  const connectedMs = performance.now() - t0;
  say(`connected in ${fmtMs(connectedMs)}; backfilling ${fmtInt(expected)} messages (${conversations} × ${messagesPer})`);

  // --- wait for the backfill, showing progress -------------------------------------------------------
  let channel = created.json.channel;
  let lastShown = performance.now();
  let lastShownMessages = 0;
  let lastProgressAt = performance.now();
  let lastMessages = -1;
  let stoppedBecause: string | undefined;
  const progress: { s: number; pages: number; messages: number; status: string; rssMB: number }[] = [];
  const statuses: { s: number; status: string; reason?: string; lastError?: string }[] = [];
  for (;;) {
    const res = await stack.call('GET', `/v1/channels/${channelId}`, { key: stack.key });
    if (res.status !== 200) throw new Error(`GET /v1/channels/${channelId} answered ${res.status}: ${res.text}`);
    channel = res.json.channel;
    const now = performance.now();
    const last = statuses.at(-1);
    if (!last || last.status !== channel.status || last.reason !== channel.statusReason || last.lastError !== (channel.lastError ?? undefined)) {
      statuses.push({ s: Math.round((now - t0) / 100) / 10, status: channel.status, reason: channel.statusReason, lastError: channel.lastError ?? undefined });
      if (last) say(`status ${channel.status}${channel.statusReason ? ` (${channel.statusReason})` : ''}${channel.lastError ? `; last error: ${channel.lastError}` : ''}`);
    }
    if (channel.backfill.done) break;
    if (channel.backfill.messages !== lastMessages) { lastMessages = channel.backfill.messages; lastProgressAt = now; }
    if (now - lastProgressAt > stallMs) { stoppedBecause = `no message stored for ${fmtMs(now - lastProgressAt)}`; break; }
    if (now - t0 > maxMs) { stoppedBecause = `--max-minutes ${maxMs / 60_000} reached`; break; }
    if (now - lastShown >= 5000) {
      const done = channel.backfill.messages;
      progress.push({ s: Math.round((now - t0) / 1000), pages: channel.backfill.pages, messages: done, status: channel.status, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) });
      say(`${fmtNum((now - t0) / 1000, 0).padStart(5)} s  ${String(channel.backfill.pages).padStart(4)} pages  ${fmtInt(done).padStart(9)} / ${fmtInt(expected)} messages (${pct(done, expected)})  `
        + `${fmtInt(((done - lastShownMessages) * 1000) / (now - lastShown))} msg/s now, ${fmtInt((done * 1000) / (now - t0))} avg  RSS ${fmtMB(process.memoryUsage().rss)}  status ${channel.status}${channel.lastError ? `  last error: ${channel.lastError}` : ''}`);
      lastShown = now;
      lastShownMessages = done;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const polledMs = performance.now() - t0;
  const completed = !stoppedBecause;
  if (stoppedBecause) say(`STOPPED WAITING: ${stoppedBecause}; the backfill is NOT done (${fmtInt(channel.backfill.messages)} messages, ${channel.backfill.pages} pages, status ${channel.status}). Figures below are partial.`);
  const stored = await ChannelModel.findById(channelId).lean();
  const finishedAt = completed && stored?.backfill?.finishedAt ? new Date(stored.backfill.finishedAt).getTime() : undefined;
  // The worker writes finishedAt with the last page; the poll sees it up to one interval later.
  const wallMs = finishedAt ? finishedAt - consentAt : polledMs;
  const elu = performance.eventLoopUtilization(eluStart);
  const cpu = process.cpuUsage(cpuStart);
  const childCpuEnd = stack.childCpuSeconds();
  clearInterval(sampler);
  sample();
  let profile: CpuProfileSummary | undefined;
  if (profiler) profile = await profiler.stop(path.join(ctx.outDir, `backfill-${ctx.timestamp}.cpuprofile`));
  const dbSpans = stack.db.snapshot();
  const httpSpans = stack.http.snapshot();
  const recorder = stack.sandbox.ctx.recorder.snapshot();
  if (completed) say(`backfill done: ${fmtInt(channel.backfill.messages)} messages in ${channel.backfill.pages} pages, ${fmtMs(wallMs)} after the consent`);

  // --- what is stored -----------------------------------------------------------------------------------
  const channelOid = new mongoose.Types.ObjectId(channelId);
  if (!completed) {
    say('stopping the worker so that the checks and the baseline run alone');
    await stack.stopWorker();
  }
  say('checking what is stored');
  let checkStarted = performance.now();
  const messageCount = await MessageModel.countDocuments({ channelId: channelOid });
  const countMs = performance.now() - checkStarted;
  // One pass over the channel's messages (FerretDB's aggregation is far slower than a projected find).
  checkStarted = performance.now();
  const externalIds = new Set<string>();
  let scanned = 0;
  const perConversation = new Map<string, number>();
  for await (const m of mongoose.connection.db!.collection('messages').find({ channelId: channelOid }, { projection: { externalId: 1, conversationId: 1 } })) {
    scanned++;
    externalIds.add(String(m.externalId));
    perConversation.set(String(m.conversationId), (perConversation.get(String(m.conversationId)) ?? 0) + 1);
  }
  const distinctIds = externalIds.size;
  const scanMs = performance.now() - checkStarted;
  const conversationCount = await ConversationModel.countDocuments({ channelId: channelOid });
  const uneven = [...perConversation.values()].filter((n) => n !== messagesPer).length;
  say(`  countDocuments ${fmtMs(countMs)}, one projected scan of the channel's messages ${fmtMs(scanMs)}`);
  const check = {
    expected, stored: messageCount, distinctExternalIds: distinctIds,
    lost: Math.max(0, expected - distinctIds), duplicated: scanned - distinctIds, scanned, extra: Math.max(0, distinctIds - expected),
    conversationsExpected: conversations, conversationsStored: conversationCount, conversationsWithWrongCount: uneven,
    ok: completed && messageCount === expected && distinctIds === expected && conversationCount === conversations && uneven === 0,
    countDocumentsMs: Math.round(countMs), scanMs: Math.round(scanMs),
  };
  if (completed && !check.ok) say(`WARNING: stored ${fmtInt(messageCount)} messages (${fmtInt(distinctIds)} distinct) in ${conversationCount} conversations; expected ${fmtInt(expected)} in ${conversations}: lost ${check.lost}, duplicated ${check.duplicated}, extra ${check.extra}`);

  // --- the channel workflow --------------------------------------------------------------------------------
  const history = await workflowFigures(stack, workflowId);

  // --- baseline: the raw driver on the same database ------------------------------------------------------------
  say(`baseline: raw driver insertMany of ${fmtInt(expected)} message-shaped documents in batches of ${BATCH}`);
  const templates = await mongoose.connection.db!.collection('messages').find({ channelId: channelOid }).limit(BATCH).toArray();
  await rawInsert(ctx, templates, BATCH, false); // warm-up (first table, first pages), not reported
  const plain = await rawInsert(ctx, templates, expected, false);
  say(`  no secondary index: ${fmtInt(plain.docsPerSecond)} docs/s`);
  const indexed = await rawInsert(ctx, templates, expected, true);
  say(`  with the messages collection's indexes: ${fmtInt(indexed.docsPerSecond)} docs/s`);

  // --- figures -----------------------------------------------------------------------------------------------
  const wallS = wallMs / 1000;
  // Unfinished: what was stored by the cut-off (an in-flight page may land while the worker stops).
  const msgsPerSecond = (completed ? messageCount : channel.backfill.messages) / wallS;
  // Commands grouped by what they serve (labels are "<command> <collection>[ upsert]").
  const groupOf = (label: string): string => {
    const [command = '', collection = ''] = label.split(' ');
    if (collection === 'messages') return ['insert', 'update', 'delete'].includes(command) ? 'MongoDB: message writes' : 'MongoDB: message reads';
    if (collection === 'conversations') return 'MongoDB: conversations (create, summary)';
    if (collection === 'contacts' || collection === 'contact_identities') return 'MongoDB: contacts and identities';
    if (collection === 'channels') return 'MongoDB: channel load, cursor saves, API polls';
    return 'MongoDB: other (API keys, status, …)';
  };
  const dbGroups = new Map<string, number>();
  for (const [label, stat] of Object.entries(dbSpans)) dbGroups.set(groupOf(label), (dbGroups.get(groupOf(label)) ?? 0) + stat.ms);
  const httpTotal = Object.values(httpSpans).reduce((t, s) => t + s.ms, 0);
  const graphList = Object.entries(httpSpans).filter(([k]) => k.endsWith('/conversations')).reduce((t, [, s]) => t + s.ms, 0);
  const graphMessages = Object.entries(httpSpans).filter(([k]) => k.endsWith('/{id}/messages')).reduce((t, [, s]) => t + s.ms, 0);
  const breakdown: Record<string, number> = {
    'sandbox Graph: list conversations': graphList,
    'sandbox Graph: read messages': graphMessages,
    'sandbox: other (consent, tokens)': httpTotal - graphList - graphMessages,
    ...Object.fromEntries([...dbGroups].sort((a, b) => b[1] - a[1])),
  };
  const childCpu = {
    temporal: childCpuEnd.temporal !== null && childCpuStart.temporal !== null ? childCpuEnd.temporal - childCpuStart.temporal : null,
    ferretdb: childCpuEnd.ferretdb !== null && childCpuStart.ferretdb !== null ? childCpuEnd.ferretdb - childCpuStart.ferretdb : null,
  };
  const cpuSeconds = { benchProcess: (cpu.user + cpu.system) / 1e6, ...childCpu };

  const rows: [string, string][] = [
    ['', `sandbox world: ${conversations} conversations × ${messagesPer} messages (Page ${MESSENGER_PAGE})`],
    ...(completed ? [] : [['', `INCOMPLETE: ${stoppedBecause}; backfill not done, figures are up to that point`] as [string, string]]),
    [completed ? 'wall time, consent → backfill done' : 'wall time, consent → stopped waiting', fmtMs(wallMs)],
    ['  of which connect (consent → callback done)', fmtMs(connectedMs)],
    ['messages stored (MongoDB count)', `${fmtInt(messageCount)} / ${fmtInt(expected)}`],
    [completed ? 'lost / duplicated' : 'not (yet) stored / duplicated', `${fmtInt(check.lost)} / ${fmtInt(check.duplicated)}${check.ok || !completed ? '' : '  MISMATCH'}`],
    ['conversations stored', `${fmtInt(conversationCount)} / ${fmtInt(conversations)}`],
    ['messages/s (stored ÷ wall time)', fmtNum(msgsPerSecond, 0)],
    ['pages (fetchPage calls)', fmtInt(channel.backfill.pages)],
    ['syncChannel activities / timed out / failed', `${history.syncActivities} / ${history.activityTimeouts} / ${history.activityFailures}`],
    ['channel status at the last poll', `${channel.status}${channel.lastError ? ` (last error: ${String(channel.lastError).slice(0, 60)})` : ''}`],
    ['workflow history length (events)', fmtInt(history.historyLength)],
    ['RSS at consent / peak (this process)', `${fmtMB(rssStart)} / ${fmtMB(rssPeak)}`],
    ['  V8 heap used at consent / peak', `${fmtMB(memStart.heapUsed)} / ${fmtMB(heapPeak)}`],
    ['', 'baseline on the same database: raw driver insertMany, batches of 1,000'],
    ['raw bulk insert, no secondary index', `${fmtNum(plain.docsPerSecond, 0)} docs/s`],
    ['raw bulk insert, messages indexes', `${fmtNum(indexed.docsPerSecond, 0)} docs/s`],
    ['ratio Switchboard ÷ raw insert', `${fmtNum(msgsPerSecond / plain.docsPerSecond, 3)} (${fmtNum(plain.docsPerSecond / msgsPerSecond, 1)}× slower)`],
    ['ratio Switchboard ÷ raw insert (indexed)', `${fmtNum(msgsPerSecond / indexed.docsPerSecond, 3)} (${fmtNum(indexed.docsPerSecond / msgsPerSecond, 1)}× slower)`],
    ['', 'where the time went: summed durations, share of the wall time (pages run one at a time)'],
    ...Object.entries(breakdown).map(([k, v]): [string, string] => [k, `${fmtMs(v)}  ${pct(v, wallMs)}`]),
    ['syncChannel activities running', `${fmtMs(history.activityRunMs)}  ${pct(history.activityRunMs, wallMs)}`],
    ['Temporal between activities', `${fmtMs(history.betweenActivitiesMs)}  ${pct(history.betweenActivitiesMs, wallMs)}`],
    ['event loop utilisation (this process)', pct(elu.utilization, 1)],
    ['CPU s: this process / FerretDB / Temporal', [cpuSeconds.benchProcess, cpuSeconds.ferretdb, cpuSeconds.temporal].map((v) => (v === null ? '–' : fmtNum(v, 1))).join(' / ')],
  ];
  if (profile) {
    rows.push(['', `CPU profile (self time, ${path.relative(process.cwd(), profile.file)})`]);
    for (const m of profile.byModule.slice(0, 12)) rows.push([m.module, `${fmtMs(m.ms)}  ${fmtNum(m.share, 1)} %`]);
  }

  return {
    rows,
    figures: {
      parameters: { conversations, messagesPerConversation: messagesPer, expectedMessages: expected, pageId: MESSENGER_PAGE, batch: BATCH },
      stack: { temporal: stack.started.temporal ? 'dev server started by the bench' : stack.temporalAddress, mongodb: stack.started.ferretdb ? 'FerretDB (SQLite) started by the bench' : stack.mongodbUri, database: stack.dbName },
      backfill: {
        completed, ...(stoppedBecause ? { stoppedBecause } : {}), finalStatus: channel.status, lastError: channel.lastError ?? null,
        wallMs: Math.round(wallMs), connectMs: Math.round(connectedMs), polledWallMs: Math.round(polledMs),
        messagesStored: messageCount, messagesPerSecond: Math.round(msgsPerSecond * 10) / 10,
        pages: channel.backfill.pages, conversations: channel.backfill.conversations, messagesReported: channel.backfill.messages,
        rssBytes: { atConsent: rssStart, peak: rssPeak }, heapUsedBytes: { atConsent: memStart.heapUsed, peak: heapPeak }, eventLoopUtilization: Math.round(elu.utilization * 1000) / 1000,
        cpuSeconds,
        progress, statuses,
      },
      check,
      workflow: { workflowId, ...history },
      baseline: {
        rawInsert: plain, rawInsertIndexed: indexed,
        ratio: Math.round((msgsPerSecond / plain.docsPerSecond) * 10_000) / 10_000,
        ratioIndexed: Math.round((msgsPerSecond / indexed.docsPerSecond) * 10_000) / 10_000,
      },
      breakdownMs: Object.fromEntries(Object.entries(breakdown).map(([k, v]) => [k, Math.round(v)])),
      mongodbCommands: dbSpans,
      sandboxHttp: httpSpans,
      sandboxRecorder: recorder,
      ...(profile ? { cpuProfile: profile } : {}),
    },
  };
}

/** History length, and how long the syncChannel activities ran versus the gaps between them. */
async function workflowFigures(stack: BenchStack, workflowId: string) {
  const handle = stack.temporal.workflow.getHandle(workflowId);
  const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
  const events = history.events ?? [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => {
    if (!t) return 0;
    const s = t.seconds as { toNumber?: () => number } | number | string | undefined;
    return (typeof s === 'object' && s?.toNumber ? s.toNumber() : Number(s ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6;
  };
  const id = (v: unknown) => String(v ?? '');
  const syncScheduled = new Set<string>();
  const started = new Map<string, number>();
  let syncActivities = 0;
  let activityFailures = 0;
  let activityTimeouts = 0;
  let maxAttempt = 0;
  let activityRunMs = 0;
  let firstScheduled: number | undefined;
  let lastCompleted: number | undefined;
  const runs: number[] = [];
  for (const e of events) {
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched?.activityType?.name === 'syncChannel') {
      syncScheduled.add(id(e.eventId));
      syncActivities++;
      firstScheduled ??= ms(e.eventTime);
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st && syncScheduled.has(id(st.scheduledEventId))) {
      started.set(id(st.scheduledEventId), ms(e.eventTime));
      maxAttempt = Math.max(maxAttempt, st.attempt ?? 0);
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done && syncScheduled.has(id(done.scheduledEventId))) {
      const run = ms(e.eventTime) - (started.get(id(done.scheduledEventId)) ?? ms(e.eventTime));
      activityRunMs += run;
      runs.push(Math.round(run));
      lastCompleted = ms(e.eventTime);
    }
    if (e.activityTaskFailedEventAttributes) activityFailures++;
    if (e.activityTaskTimedOutEventAttributes) activityTimeouts++;
  }
  // A retried attempt shows as one started event (the last attempt); failures count the ones that gave up.
  const span = firstScheduled !== undefined && lastCompleted !== undefined ? lastCompleted - firstScheduled : 0;
  return {
    historyLength: events.length,
    historyLengthDescribed: Number(description.historyLength),
    historySizeBytes: Number(description.historySize ?? 0),
    status: description.status.name,
    syncActivities,
    activityFailures,
    activityTimeouts,
    maxAttempt,
    pendingActivities: (description.raw.pendingActivities ?? []).map((a) => ({
      type: a.activityType?.name, attempt: a.attempt, state: a.state, lastFailure: a.lastFailure?.message ?? null,
      lastHeartbeat: a.lastHeartbeatTime ? new Date(ms(a.lastHeartbeatTime)).toISOString() : null,
    })),
    activityRunMs: Math.round(activityRunMs),
    activityRunsMs: runs,
    betweenActivitiesMs: Math.round(Math.max(0, span - activityRunMs)),
  };
}

/** insertMany of `count` copies of stored message documents (new _id and keys), `BATCH` at a time, into a scratch collection dropped afterwards. */
async function rawInsert(ctx: ScenarioContext, templates: Document[], count: number, withIndexes: boolean) {
  if (!templates.length) throw new Error('no stored message to take the document shape from');
  const db = mongoose.connection.db!;
  const name = `bench_scratch_messages${withIndexes ? '_indexed' : ''}_${Date.now().toString(36)}`;
  const collection = db.collection(name);
  ctx.defer(`scratch collection ${name}`, () => collection.drop().then(() => undefined, () => undefined));
  await db.createCollection(name);
  const indexes: string[] = [];
  if (withIndexes) {
    // The messages collection's own secondary indexes, whatever models/message.ts declares today.
    for (const index of await db.collection('messages').listIndexes().toArray()) {
      if (index.name === '_id_') continue;
      await collection.createIndex(index.key, { ...(index.unique ? { unique: true } : {}), ...(index.sparse ? { sparse: true } : {}) });
      indexes.push(`${JSON.stringify(index.key)}${index.unique ? ' unique' : ''}${index.sparse ? ' sparse' : ''}`);
    }
  }
  let insertMs = 0;
  let inserted = 0;
  const batches: number[] = [];
  for (let offset = 0; offset < count; offset += BATCH) {
    const n = Math.min(BATCH, count - offset);
    const docs = Array.from({ length: n }, (_, i) => {
      // Same fields and types as the stored message; new keys (a string `_id` stays a natural key).
      const t = templates[(offset + i) % templates.length]!;
      const externalId = `m_bench_${offset + i}`;
      const key = `${String(t.channelId)}:${externalId}`;
      return { ...t, _id: typeof t._id === 'string' ? key : new ObjectId(), externalId, ...('externalKey' in t ? { externalKey: key } : {}) };
    });
    const started = performance.now();
    const res = await collection.insertMany(docs as Document[], { ordered: false });
    const took = performance.now() - started;
    insertMs += took;
    inserted += res.insertedCount;
    batches.push(Math.round(took));
  }
  const stored = await collection.countDocuments();
  await collection.drop();
  const sorted = [...batches].sort((a, b) => a - b);
  return {
    docs: inserted, storedCount: stored, batchSize: BATCH, withIndexes, ...(withIndexes ? { indexes } : {}), insertMs: Math.round(insertMs),
    docsPerSecond: Math.round((inserted * 1000 * 10) / insertMs) / 10,
    batchMs: { min: sorted[0] ?? 0, median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 },
  };
}
