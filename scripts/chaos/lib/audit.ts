// After a scenario has settled: what the platform sandbox sent against what Switchboard stored and
// did, counted by natural key.
// - Messages: every message of the Page's conversations as the sandbox's own Graph API lists them
//   (seeded history, customers' messages sent as webhooks, and our replies), each looked up in
//   MongoDB under "<channelId>:<platform message ID>" (our replies: the alias written when the
//   platform took them). Lost = not there; duplicated = one platform message stored as more than one
//   inbox message (documents sharing an externalId).
// - Replies: requested (distinct Idempotency-Keys), the sends the sandbox accepted per reply (from
//   its request log: exactly one each), and each reply's final status (sent/delivered/read, or
//   failed with a reason — never pending).
// - Workflows: the channel workflow running and its webhook queue drained, every send workflow closed.
import type { Document } from 'mongodb';
import { ChannelModel, deferredRange, heldRange, MessageModel, pendingRange, WebhookEventModel } from '../../../models';
import { PAGE, type Channel, type SendLog } from './workload';
import type { ChaosStack } from './stack';

export interface Audit {
  sandbox: {
    messages: number; history: number; customersLive: number; replies: number; webhookDeliveries: ReturnType<ChaosStack['sandbox']['ctx']['webhooks']['stats']>;
    /** Delivery attempts that got no answer in the platform's time (10 s) or a non-2xx answer (each retried). */
    webhookAttempts: { timedOut: number; noConnection: number; non2xx: Record<string, number>; answerMs: { p50: number; p99: number; max: number } };
  };
  stored: { found: number; lost: number; duplicated: number; extra: number; documents: number; lostSample: string[]; duplicatedSample: string[] };
  sends: {
    requested: number; posts: number; retriedPosts: number; rejected: number; delivered: number; duplicated: number; neverSent: number;
    platformAttempts: number; statuses: Record<string, number>; failedWithoutReason: number; failedReasons: Record<string, number>; duplicatedSample: string[];
  };
  workflows: {
    channel: { status: string; channelStatus: string; backfillDone: boolean; queuedEvents: number; deferredEvents: number; heldEvents: number };
    /** Events the intake kept for "no channel speaks for this account" (never drained). */
    unmatchedEvents: number;
    sendWorkflows: { total: number; closed: number; running: number; other: Record<string, number>; stillRunning: string[] };
    resumed: boolean;
  };
}

type WorldMessage = { id: string; fromBusiness: boolean; text: string };

/** Every message of the Page's conversations, through the sandbox's Graph API (page token, paged). */
async function worldMessages(stack: ChaosStack): Promise<WorldMessage[]> {
  const meta = stack.sandbox.platforms.get('meta')!.describe() as { pages: { id: string; pageAccessToken?: string }[] };
  const token = meta.pages.find((p) => p.id === PAGE)!.pageAccessToken!;
  const graph = `${stack.sandbox.url}/graph.facebook.com/v25.0`;
  const get = async (url: string): Promise<{ data: Record<string, any>[]; paging?: { next?: string } }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(url);
    if (!res.ok) throw new Error(`sandbox Graph ${url.split('?')[0]} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return res.json() as Promise<{ data: Record<string, any>[]; paging?: { next?: string } }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const out: WorldMessage[] = [];
  let next: string | undefined = `${graph}/${PAGE}/conversations?platform=messenger&fields=id&limit=100&access_token=${encodeURIComponent(token)}`;
  const conversations: string[] = [];
  while (next) {
    const page = await get(next);
    conversations.push(...page.data.map((c) => String(c.id)));
    next = page.paging?.next;
  }
  for (const conv of conversations) {
    let url: string | undefined = `${graph}/${conv}/messages?fields=id,from,message&limit=100&access_token=${encodeURIComponent(token)}`;
    while (url) {
      const page = await get(url);
      for (const m of page.data) out.push({ id: String(m.id), fromBusiness: m.from?.id === PAGE, text: String(m.message ?? '') });
      url = page.paging?.next;
    }
  }
  return out;
}

export async function audit(stack: ChaosStack, channel: Channel, sends: SendLog[]): Promise<Audit> {
  // Fault rules off, so the sandbox answers the audit's own reads.
  stack.sandbox.ctx.faults.clear();
  const world = await worldMessages(stack);
  // Which is which, by text: our replies carry their marker, live customers write "Message N from
  // scenario K" (the customer generator) or "customer i has a question"; the rest is seeded history.
  const replies = world.filter((m) => m.fromBusiness && /^[A-Za-z0-9_-]+ reply #\d+$/.test(m.text)).length;
  const customersLive = world.filter((m) => !m.fromBusiness && (/^Message \d+ from scenario \d+$/.test(m.text) || /^customer \d+ has a question$/.test(m.text))).length;

  // --- stored, by natural key ---------------------------------------------------------------------
  const range = { $gte: `${channel.channelId}:`, $lt: `${channel.channelId};` };
  const docs = await MessageModel.collection.find({ _id: range } as Document, { projection: { _id: 1, externalId: 1, aliasOf: 1 } }).toArray() as unknown as { _id: string; externalId?: string; aliasOf?: string }[];
  const byId = new Set(docs.map((d) => d._id));
  const perExternal = new Map<string, number>();
  let documents = 0;
  for (const d of docs) {
    if (d.aliasOf) continue;
    documents++;
    if (d.externalId) perExternal.set(d.externalId, (perExternal.get(d.externalId) ?? 0) + 1);
  }
  const worldIds = new Set(world.map((m) => m.id));
  const lost = world.filter((m) => !byId.has(`${channel.channelId}:${m.id}`));
  const duplicated = [...perExternal].filter(([, n]) => n > 1);
  const extra = [...perExternal.keys()].filter((id) => !worldIds.has(id));

  // --- replies -------------------------------------------------------------------------------------------
  const tags = sends.map((s) => s.tag);
  const accepted = stack.sandbox.ctx.recorder.list({ platform: 'meta', endpoint: 'send' });
  const marker = /([A-Za-z0-9_-]+) reply #(\d+)/;
  const perReply = new Map<string, number>();
  let platformAttempts = 0;
  for (const r of accepted) {
    const m = marker.exec(r.body);
    if (!m || !tags.includes(m[1]!)) continue;
    platformAttempts++;
    if (r.status !== 200) continue;
    perReply.set(`${m[1]}#${m[2]}`, (perReply.get(`${m[1]}#${m[2]}`) ?? 0) + 1);
  }
  const replyIds = sends.flatMap((s) => s.ids.filter((id): id is string => !!id));
  const replyDocs = await MessageModel.collection.find({ _id: { $in: replyIds } } as Document, { projection: { status: 1, error: 1, tenantId: 1 } }).toArray() as unknown as { _id: string; status: string; error?: { code?: string; message?: string } }[];
  const statuses: Record<string, number> = {};
  const failedReasons: Record<string, number> = {};
  let failedWithoutReason = 0;
  for (const d of replyDocs) {
    statuses[d.status] = (statuses[d.status] ?? 0) + 1;
    if (d.status === 'failed') {
      if (!d.error?.message) failedWithoutReason++;
      else failedReasons[d.error.code ?? 'unknown'] = (failedReasons[d.error.code ?? 'unknown'] ?? 0) + 1;
    }
  }
  const missingDocs = replyIds.length - replyDocs.length;
  if (missingDocs > 0) statuses.missing = missingDocs;
  const requested = sends.reduce((n, s) => n + s.requested, 0);
  const delivered = perReply.size;
  const sendDuplicates = [...perReply].filter(([, n]) => n > 1);
  const failed = statuses.failed ?? 0;

  // --- workflows ---------------------------------------------------------------------------------------
  const description = await stack.temporal.workflow.getHandle(channel.workflowId).describe();
  const ch = await ChannelModel.findById(channel.channelId, { status: 1, backfill: 1 }).lean();
  const queuedEvents = await WebhookEventModel.collection.countDocuments({ _id: pendingRange(channel.channelId) } as Document);
  const deferredEvents = await WebhookEventModel.collection.countDocuments({ _id: deferredRange(channel.channelId) } as Document);
  const heldEvents = await WebhookEventModel.collection.countDocuments({ _id: heldRange(channel.channelId) } as Document);
  const unmatchedEvents = await WebhookEventModel.collection.countDocuments({ _id: { $gte: 'unmatched:', $lt: 'unmatched;' } } as Document);
  const sendStatus: Record<string, number> = {};
  const stillRunning: string[] = [];
  for (const id of replyIds) {
    const workflowId = `send:${stack.tenantId}:${id.split(':out:')[1]}`;
    const d = await stack.temporal.workflow.getHandle(workflowId).describe().catch(() => undefined);
    const status = d?.status.name ?? 'NOT_FOUND';
    sendStatus[status] = (sendStatus[status] ?? 0) + 1;
    // Why a send workflow has not finished: what it waits on.
    if (d && status === 'RUNNING' && stillRunning.length < 5) {
      const pending = (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.state}${a.lastFailure?.message ? ` (${a.lastFailure.message.slice(0, 80)})` : ''}`);
      stillRunning.push(`${workflowId}: ${pending.join('; ') || 'no pending activity (timer or workflow task)'}`);
    }
  }
  const closed = sendStatus.COMPLETED ?? 0;
  const running = sendStatus.RUNNING ?? 0;
  const channelOk = description.status.name === 'RUNNING' && ch?.status === 'active' && !!ch?.backfill?.done && queuedEvents === 0;

  return {
    sandbox: {
      messages: world.length, history: world.length - replies - customersLive, customersLive, replies, webhookDeliveries: stack.sandbox.ctx.webhooks.stats(),
      webhookAttempts: attemptOutcomes(stack),
    },
    stored: {
      found: world.length - lost.length, lost: lost.length, duplicated: duplicated.reduce((n, [, c]) => n + c - 1, 0), extra: extra.length, documents,
      lostSample: lost.slice(0, 5).map((m) => `${m.id} "${m.text.slice(0, 40)}"`), duplicatedSample: duplicated.slice(0, 5).map(([id, n]) => `${id} ×${n}`),
    },
    sends: {
      requested, posts: sends.reduce((n, s) => n + s.posts, 0), retriedPosts: sends.reduce((n, s) => n + s.retriedPosts, 0), rejected: sends.reduce((n, s) => n + s.rejected, 0),
      delivered, duplicated: sendDuplicates.reduce((n, [, c]) => n + c - 1, 0), neverSent: Math.max(0, requested - delivered - failed),
      platformAttempts, statuses, failedWithoutReason, failedReasons, duplicatedSample: sendDuplicates.slice(0, 5).map(([k, n]) => `${k} ×${n}`),
    },
    workflows: {
      channel: { status: description.status.name, channelStatus: ch?.status ?? 'missing', backfillDone: !!ch?.backfill?.done, queuedEvents, deferredEvents, heldEvents },
      unmatchedEvents,
      sendWorkflows: { total: replyIds.length, closed, running, stillRunning, other: Object.fromEntries(Object.entries(sendStatus).filter(([k]) => k !== 'COMPLETED' && k !== 'RUNNING')) },
      resumed: channelOk && closed === replyIds.length,
    },
  };
}

/** What must hold: nothing lost or doubled, every reply settled (sent/delivered/read or failed with a reason), every workflow back. */
export function verdict(a: Audit): string[] {
  const problems: string[] = [];
  if (a.stored.lost) problems.push(`${a.stored.lost} platform messages not stored (e.g. ${a.stored.lostSample.join('; ')})`);
  if (a.stored.duplicated) problems.push(`${a.stored.duplicated} platform messages stored more than once (${a.stored.duplicatedSample.join('; ')})`);
  if (a.stored.extra) problems.push(`${a.stored.extra} stored messages the platform never had`);
  if (a.sends.duplicated) problems.push(`${a.sends.duplicated} replies sent to the platform more than once (${a.sends.duplicatedSample.join('; ')})`);
  if (a.sends.rejected) problems.push(`${a.sends.rejected} replies never accepted by the API`);
  const unsettled = Object.entries(a.sends.statuses).filter(([s]) => !['sent', 'delivered', 'read', 'failed'].includes(s));
  if (unsettled.length) problems.push(`replies not settled: ${unsettled.map(([s, n]) => `${n} ${s}`).join(', ')}`);
  if (a.sends.failedWithoutReason) problems.push(`${a.sends.failedWithoutReason} replies failed without a reason`);
  if (a.sends.neverSent) problems.push(`${a.sends.neverSent} replies neither sent nor failed`);
  const w = a.workflows;
  if (w.channel.status !== 'RUNNING') problems.push(`channel workflow ${w.channel.status}`);
  if (w.channel.channelStatus !== 'active') problems.push(`channel ${w.channel.channelStatus}`);
  if (!w.channel.backfillDone) problems.push('backfill not done');
  if (w.channel.queuedEvents) problems.push(`${w.channel.queuedEvents} webhook events still queued`);
  if (w.channel.heldEvents) problems.push(`${w.channel.heldEvents} webhook events held (as for a disconnected channel)`);
  if (w.unmatchedEvents) problems.push(`${w.unmatchedEvents} webhook events kept as "unmatched" (no channel found for the Page) and never drained`);
  if (w.sendWorkflows.closed !== w.sendWorkflows.total) problems.push(`send workflows not closed: ${w.sendWorkflows.total - w.sendWorkflows.closed} (${JSON.stringify({ running: w.sendWorkflows.running, ...w.sendWorkflows.other })}; e.g. ${w.sendWorkflows.stillRunning.join(' | ')})`);
  return problems;
}

/** The per-scenario table rows (the figures every scenario prints). */
export function auditRows(a: Audit): [string, string][] {
  const d = a.sandbox.webhookDeliveries;
  const statuses = Object.entries(a.sends.statuses).sort().map(([s, n]) => `${s} ${n}`).join(', ') || '–';
  const reasons = Object.entries(a.sends.failedReasons).map(([s, n]) => `${s} ${n}`).join(', ');
  return [
    ['', 'messages (sandbox Graph vs MongoDB by natural key)'],
    ['sent by the sandbox (history + webhooks + our replies)', `${a.sandbox.messages} (${a.sandbox.history} history, ${a.sandbox.customersLive} customers live, ${a.sandbox.replies} replies)`],
    ['webhook deliveries: attempts / acknowledged / dropped', `${d.attempts} / ${d.delivered} of ${d.queued} / ${d.dropped}`],
    ['  our answer time p50 / p99 / max', `${a.sandbox.webhookAttempts.answerMs.p50} / ${a.sandbox.webhookAttempts.answerMs.p99} / ${a.sandbox.webhookAttempts.answerMs.max} ms`],
    ['  attempts unanswered in 10 s / refused / non-2xx', `${a.sandbox.webhookAttempts.timedOut} / ${a.sandbox.webhookAttempts.noConnection} / ${Object.entries(a.sandbox.webhookAttempts.non2xx).map(([k, v]) => `${v}×${k}`).join(', ') || '0'}`],
    ['stored', String(a.stored.found)],
    ['lost', String(a.stored.lost)],
    ['duplicated', String(a.stored.duplicated)],
    ['', 'replies (POST /v1/conversations/:id/messages)'],
    ['requested (distinct Idempotency-Keys)', String(a.sends.requested)],
    ['posts (a tenth repeated; retried while the API was down)', `${a.sends.posts} (${a.sends.retriedPosts} retries, ${a.sends.rejected} never accepted)`],
    ['delivered (accepted by the sandbox)', `${a.sends.delivered} (${a.sends.platformAttempts} platform calls)`],
    ['duplicated (accepted twice)', String(a.sends.duplicated)],
    ['final statuses', statuses],
    ...(reasons ? [['failed, by reason', reasons] as [string, string]] : []),
    ['', 'workflows'],
    ['channel workflow / channel / queue left', `${a.workflows.channel.status} / ${a.workflows.channel.channelStatus} / ${a.workflows.channel.queuedEvents} pending, ${a.workflows.channel.deferredEvents} deferred`],
    ['events parked: held / unmatched', `${a.workflows.channel.heldEvents} / ${a.workflows.unmatchedEvents}`],
    ['send workflows closed', `${a.workflows.sendWorkflows.closed} of ${a.workflows.sendWorkflows.total}`],
    ['every workflow resumed', a.workflows.resumed ? 'yes' : 'NO'],
  ];
}

/** Faults the sandbox injected so far, from its counters ("12 5xx, 1 timeouts, 0 rate limits"). */
export function injectedFaults(stack: ChaosStack): string {
  const kinds = { error: 0, timeout: 0, rate_limit: 0 };
  for (const [k, v] of Object.entries(stack.sandbox.ctx.recorder.snapshot())) {
    const m = /^meta\.faults\.(error|timeout|rate_limit)$/.exec(k);
    if (m) kinds[m[1] as keyof typeof kinds] += v;
  }
  return `${kinds.error} 5xx, ${kinds.timeout} timeouts, ${kinds.rate_limit} rate limits`;
}

/** How the sandbox's delivery attempts went: timed out (our answer came too late), no connection (API down), non-2xx by status. */
function attemptOutcomes(stack: ChaosStack): Audit['sandbox']['webhookAttempts'] {
  const out: Audit['sandbox']['webhookAttempts'] = { timedOut: 0, noConnection: 0, non2xx: {}, answerMs: { p50: 0, p99: 0, max: 0 } };
  const answered: number[] = [];
  for (const a of stack.sandbox.ctx.webhooks.attempts()) {
    if (a.status !== null) answered.push(a.durationMs);
    if (a.status === null) {
      if (a.error?.startsWith('timed out')) out.timedOut++;
      else out.noConnection++;
    } else if (a.status < 200 || a.status >= 300) out.non2xx[String(a.status)] = (out.non2xx[String(a.status)] ?? 0) + 1;
  }
  answered.sort((x, y) => x - y);
  const at = (q: number) => answered[Math.min(answered.length - 1, Math.floor(q * answered.length))] ?? 0;
  out.answerMs = { p50: at(0.5), p99: at(0.99), max: answered.at(-1) ?? 0 };
  return out;
}
