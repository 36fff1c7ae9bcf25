// Scenario `send`: N replies to one channel at a configured send rate. A Messenger Page is
// connected through the API, C customers write to it (their webhooks reach the API over HTTP), the
// channel's rate is set with PATCH /v1/channels/:id, then N replies are posted at once through
// POST /v1/conversations/:id/messages (each with its own Idempotency-Key; a tenth of them posted
// twice). Measured: time until every message left `pending`; the sends the sandbox accepted, per
// message (exactly one each: missing and duplicated are counted); the achieved rate and the most
// sends that fell in any one second, against the configured cap; and the baseline — the cap's own
// pace, N / cap seconds, the fastest any correct run can finish.
import { performance } from 'node:perf_hooks';
import type { Document } from 'mongodb';
import { MessageModel } from '../../models';
import { fmtInt, fmtMs, fmtNum, intOption, type Scenario, type ScenarioContext, type ScenarioResult } from './lib/scenario';
import { connectMessengerPage, startStack } from './lib/stack';

const PAGE = '101000000000001';

export const scenario: Scenario = {
  name: 'send',
  description: 'N replies to one Messenger channel at a configured send rate: completion, achieved rate vs cap, exactly one platform send each',
  options: {
    sends: 'replies to send (default 1000)',
    rate: 'the channel\'s send rate, messages/s (default 10, Twilio\'s cap: below what one FerretDB sustains, so the cap binds)',
    conversations: 'customers the replies are spread over (default 50)',
    concurrency: 'API requests in flight while posting (default 32)',
  },
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const sends = intOption(ctx.options, 'sends', 1000, 1);
  const rate = intOption(ctx.options, 'rate', 10, 1);
  const customers = intOption(ctx.options, 'conversations', 50, 1);
  const concurrency = intOption(ctx.options, 'concurrency', 32, 1);
  const { say } = ctx;

  const stack = await startStack({ world: { conversations: 1, messagesPerConversation: 1 }, platforms: ['meta'], syncIntervalSeconds: 3600, listen: true, say, defer: ctx.defer });
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.sandbox.url}/__admin${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return (await res.json().catch(() => undefined)) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  await admin('PUT', '/webhooks/targets/meta', { url: `${stack.apiUrl}/webhooks/meta` });
  const channelId = await connectMessengerPage(stack, PAGE, 'Bench Page');
  const patched = await stack.call('PATCH', `/v1/channels/${channelId}`, { key: stack.key, body: { sendRatePerSecond: rate } });
  if (patched.status !== 200) throw new Error(`PATCH /v1/channels answered ${patched.status}: ${patched.text}`);
  say(`channel ${channelId} connected, send rate ${patched.json.channel.sendRate.perSecond}/s`);

  // --- customers write first (the 24 h window opens) ------------------------------------------------
  const conversations: string[] = [];
  for (let i = 0; i < customers; i++) {
    const w = await admin('POST', '/customers/meta/messages', { accountId: PAGE, text: `customer ${i} asks` });
    conversations.push(`${channelId}:${w.customerId}`);
  }
  await waitFor('customers\' messages stored', async () => (await MessageModel.countDocuments({ channelId, direction: 'inbound', text: /^customer \d+ asks$/ })) >= customers, 120_000);
  say(`${customers} conversations ready; posting ${sends} replies`);

  // --- post every reply at once -----------------------------------------------------------------------
  stack.sandbox.ctx.recorder.reset();
  stack.db.reset();
  const cpu0 = { self: process.cpuUsage(), ...stack.childCpuSeconds() };
  const startedAt = Date.now();
  const t0 = performance.now();
  const ids: string[] = [];
  let rejected = 0;
  const post = async (i: number) => {
    const res = await stack.call('POST', `/v1/conversations/${encodeURIComponent(conversations[i % customers]!)}/messages`, {
      key: stack.key, body: { text: `bench reply #${i}` }, headers: { 'idempotency-key': `bench-${i}` },
    });
    if (res.status !== 202) { rejected++; return; }
    ids[i] = res.json.message.id;
  };
  await pool(sends, concurrency, post);
  // A tenth again with the same keys: one platform send each all the same.
  await pool(Math.floor(sends / 10), concurrency, (i) => post(i * 10));
  const postedMs = performance.now() - t0;
  say(`posted in ${fmtMs(postedMs)}; waiting for every send to settle`);

  const outPrefix = { $gte: `${channelId}:out:`, $lt: `${channelId}:out;` };
  const settled = await waitFor('every send settled', async () => {
    const pending = await MessageModel.collection.countDocuments({ _id: outPrefix, status: 'pending' } as Document);
    return pending === 0;
  }, Math.max(600_000, (sends / rate) * 4000));
  const completionMs = performance.now() - t0;
  // Where the time went: CPU of each process, and the database commands that took longest.
  const selfCpu = process.cpuUsage(cpu0.self);
  const children = stack.childCpuSeconds();
  const cpuSeconds = {
    apiAndWorker: Math.round((selfCpu.user + selfCpu.system) / 1e4) / 100,
    temporal: children.temporal !== null && cpu0.temporal !== null ? Math.round((children.temporal - cpu0.temporal) * 100) / 100 : null,
    ferretdb: children.ferretdb !== null && cpu0.ferretdb !== null ? Math.round((children.ferretdb - cpu0.ferretdb) * 100) / 100 : null,
  };
  const dbTop = Object.entries(stack.db.snapshot()).slice(0, 8).map(([label, v]) => ({ label, count: v.count, ms: v.ms, avgMs: v.avgMs, maxMs: v.maxMs }));

  // --- what the platform saw ------------------------------------------------------------------------
  const accepted = stack.sandbox.ctx.recorder.list({ platform: 'meta' })
    .filter((r) => r.method === 'POST' && /\/messages$/.test(r.path) && r.status === 200 && r.body.includes('bench reply #'));
  const perMessage = new Map<string, number>();
  for (const r of accepted) {
    const marker = /bench reply #(\d+)/.exec(r.body)![1]!;
    perMessage.set(marker, (perMessage.get(marker) ?? 0) + 1);
  }
  const missing = sends - perMessage.size;
  const duplicated = [...perMessage.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const times = accepted.map((r) => r.at).sort((a, b) => a - b);
  const spanMs = times.length > 1 ? times.at(-1)! - times[0]! : 0;
  const achieved = spanMs > 0 ? ((times.length - 1) * 1000) / spanMs : 0;
  const maxInSecond = mostInOneSecond(times);
  // When each platform call started, by our clock (the send activity stamps it just before the
  // call): what the limiter controls. The sandbox's receipt times above also carry the delay of
  // this one busy process, which runs the sandbox, the worker and the API together.
  const started = (await MessageModel.collection.find({ _id: outPrefix, sentAt: { $exists: true } } as Document, { projection: { sentAt: 1 } }).toArray())
    .map((m) => new Date(m.sentAt as Date).getTime()).sort((a, b) => a - b);
  const maxStartedInSecond = mostInOneSecond(started);
  const byStatus = Object.fromEntries((await MessageModel.collection.aggregate([{ $match: { _id: outPrefix } }, { $group: { _id: '$status', n: { $sum: 1 } } }]).toArray()).map((g) => [g._id, g.n]));
  const failedReasons = (await MessageModel.collection.find({ _id: outPrefix, status: 'failed' } as Document, { projection: { error: 1 } }).limit(5).toArray()).map((m) => m.error);
  const idealMs = (sends / rate) * 1000;
  // Why a message went out twice: the failures its send workflow recorded.
  const duplicateCauses: string[] = [];
  for (const [marker, count] of perMessage) {
    if (count < 2 || duplicateCauses.length >= 5) continue;
    const id = ids[Number(marker)];
    if (!id) continue;
    const hash = id.split(':out:')[1];
    const history = await stack.temporal.workflow.getHandle(`send:${(await MessageModel.findById(id, { tenantId: 1 }).lean())!.tenantId}:${hash}`).fetchHistory();
    for (const e of history.events ?? []) {
      const failure = e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
      if (failure) duplicateCauses.push(`#${marker}: ${failure.message}${failure.cause?.message ? ` (${failure.cause.message})` : ''}`);
    }
  }

  const figures = {
    sends, rate, customers, concurrency, startedAt: new Date(startedAt).toISOString(), settled: !!settled,
    requestsPosted: sends + Math.floor(sends / 10), rejectedRequests: rejected, distinctMessages: new Set(ids.filter(Boolean)).size,
    postedMs: Math.round(postedMs), completionMs: Math.round(completionMs),
    platformSendsAccepted: accepted.length, messagesDelivered: perMessage.size, missing, duplicated,
    achievedPerSecond: Math.round(achieved * 100) / 100, maxSendsInAnySecond: maxStartedInSecond, maxReceivedInAnySecond: maxInSecond, capPerSecond: rate,
    achievedVsCap: Math.round((achieved / rate) * 1000) / 1000, maxSecondVsCap: Math.round((maxStartedInSecond / rate) * 1000) / 1000,
    baseline: { idealMs: Math.round(idealMs), what: 'N / cap: the earliest a run that never exceeds the cap can finish' },
    completionVsIdeal: Math.round((completionMs / idealMs) * 100) / 100,
    statuses: byStatus, failedReasons, duplicateCauses, cpuSeconds, dbTop,
  };
  return {
    figures,
    rows: [
      ['', `send: ${sends} replies to one Messenger channel capped at ${rate}/s (${customers} conversations)`],
      ['requests posted (10 % repeated keys)', fmtInt(figures.requestsPosted)],
      ['distinct messages', fmtInt(figures.distinctMessages)],
      ['posting took', fmtMs(postedMs)],
      ['all settled after', fmtMs(completionMs)],
      ['baseline: N / cap', fmtMs(idealMs)],
      ['completion vs baseline', `${fmtNum(figures.completionVsIdeal)}×`],
      ['', 'the platform side (sandbox request log)'],
      ['sends accepted', fmtInt(accepted.length)],
      ['messages delivered', `${fmtInt(perMessage.size)} of ${fmtInt(sends)}`],
      ['missing / duplicated', `${missing} / ${duplicated}`],
      ['achieved rate', `${fmtNum(achieved)}/s (${fmtNum(figures.achievedVsCap)}× cap)`],
      ['most sends started in any 1 s (our clock)', `${maxStartedInSecond} (cap ${rate})`],
      ['most received in any 1 s (sandbox clock)', `${maxInSecond}`],
      ...duplicateCauses.map((c): [string, string] => ['duplicate cause', c.slice(0, 120)]),
      ['CPU s: API+worker / Temporal / FerretDB', `${cpuSeconds.apiAndWorker} / ${cpuSeconds.temporal ?? 'n/a'} / ${cpuSeconds.ferretdb ?? 'n/a'}`],
      ...dbTop.slice(0, 4).map((d): [string, string] => [`db: ${d.label}`.slice(0, 60), `${fmtInt(d.count)} × ${fmtNum(d.avgMs)} ms (max ${fmtNum(d.maxMs)})`]),
      ['message statuses', Object.entries(byStatus).map(([s, n]) => `${s} ${n}`).join(', ')],
    ],
  };
}

function mostInOneSecond(sorted: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await task(next++);
  }));
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.warn(`gave up waiting: ${what}`);
  return false;
}
