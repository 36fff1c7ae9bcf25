// What users and customers do during a chaos scenario, through the same doors they use: an admin
// connects a Messenger Page (POST /v1/channels, the sandbox's consent page, our OAuth callback),
// customers write (the sandbox's customer generator, whose webhooks reach the API over HTTP), and
// agents reply (POST /v1/conversations/:id/messages with an Idempotency-Key, retried with the same
// key until the API answers 202 — what a careful client does when the API is down or restarting).
import type { Document } from 'mongodb';
import { MessageModel } from '../../../models';
import { ChaosStack, sleep, waitFor, type ChaosStackOptions } from './stack';

export const PAGE = '101000000000001';

export interface Channel {
  channelId: string;
  workflowId: string;
  /** Consents it took: a user whose connect failed (the callback's 422) reconnects and consents again. */
  consents: number;
}

/** Connects the Page as a user does; resolves once its backfill is done unless `waitBackfill` is false. */
export async function connectPage(stack: ChaosStack, opts: { waitBackfill?: boolean; timeoutMs?: number } = {}): Promise<Channel> {
  const created = await retrying('POST /v1/channels', () => stack.call('POST', '/v1/channels', { platform: 'messenger', name: 'Chaos Page', settings: { pageId: PAGE } }), (r) => r.status === 201);
  const channel: Channel = { channelId: created.json.channel.id as string, workflowId: created.json.channel.workflowId as string, consents: 0 };
  let authorizeUrl = created.json.authorizeUrl as string;
  for (;;) {
    channel.consents++;
    const answer = await consent(stack, authorizeUrl, { allowRefusal: channel.consents < 10 });
    if (answer.ok) break;
    stack.note(`connect failed (callback ${answer.status}: ${answer.message}); the user reconnects and consents again`);
    const again = await retrying('POST /v1/channels/:id/reconnect', () => stack.call('POST', `/v1/channels/${channel.channelId}/reconnect`, {}), (r) => r.status === 200);
    authorizeUrl = again.json.authorizeUrl as string;
  }
  if (opts.waitBackfill !== false) await waitBackfillDone(stack, channel, opts.timeoutMs ?? 300_000);
  return channel;
}

/**
 * The sandbox's consent page (approve), then our OAuth callback where it redirects. A 422 from the
 * callback (the platform refused the connect) is returned when `allowRefusal`, else thrown.
 */
export async function consent(stack: ChaosStack, authorizeUrl: string, opts: { allowRefusal?: boolean } = {}): Promise<{ ok: boolean; status: number; message: string }> {
  const res = await retrying('consent', () => fetch(`${authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' }), (r) => r.status === 302);
  const callback = await fetch(res.headers.get('location')!, { signal: AbortSignal.timeout(60_000) });
  const text = await callback.text();
  if (callback.status === 200) return { ok: true, status: 200, message: '' };
  let message = text.slice(0, 200);
  try { message = String(JSON.parse(text).message ?? JSON.parse(text).error?.message ?? message); } catch { /* not JSON */ }
  if (opts.allowRefusal && callback.status === 422) return { ok: false, status: callback.status, message };
  throw new Error(`OAuth callback answered ${callback.status}: ${text.slice(0, 300)}`);
}

export async function channelView(stack: ChaosStack, channel: Channel): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await stack.call('GET', `/v1/channels/${channel.channelId}`);
  if (res.status !== 200) throw new Error(`GET /v1/channels/:id answered ${res.status}`);
  return res.json.channel;
}

export async function waitBackfillDone(stack: ChaosStack, channel: Channel, timeoutMs: number): Promise<void> {
  await waitFor('the backfill to finish', async () => {
    const ch = await channelView(stack, channel);
    return ch.backfill.done && ch.status === 'active';
  }, timeoutMs, 500);
}

/** Messages stored for the channel (natural keys "<channelId>:…", one primary-key range; aliases not counted). */
export async function storedCount(channel: Channel): Promise<number> {
  return MessageModel.collection.countDocuments({ _id: { $gte: `${channel.channelId}:`, $lt: `${channel.channelId};` }, aliasOf: { $exists: false } } as Document);
}

/** Customers' messages stored for the channel (what the kill and restart points are measured in). */
export async function inboundCount(channel: Channel): Promise<number> {
  return MessageModel.collection.countDocuments({ _id: { $gte: `${channel.channelId}:`, $lt: `${channel.channelId};` }, direction: 'inbound' } as Document);
}

// --- customers ------------------------------------------------------------------------------------

export interface CustomerRun { id: number; count: number }

/** `count` customer messages at `ratePerSecond` from `customers` new customers (sandbox scenario runner). */
export async function customersWrite(stack: ChaosStack, count: number, ratePerSecond: number, customers = 20): Promise<CustomerRun> {
  const state = await stack.admin('POST', '/scenarios', { platform: 'meta', accountId: PAGE, ratePerSecond, count, customers });
  return { id: state.id as number, count };
}

/** How many of the run's messages the sandbox has created (each one sent as a webhook). */
export async function customersWritten(stack: ChaosStack, run: CustomerRun): Promise<number> {
  const s = await stack.admin('GET', `/scenarios/${run.id}`);
  return (s.sent as number) + (s.failed as number);
}

export async function customersDone(stack: ChaosStack, run: CustomerRun, timeoutMs = 600_000): Promise<void> {
  await waitFor(`customer run ${run.id} to finish`, async () => (await customersWritten(stack, run)) >= run.count, timeoutMs, 250);
}

/** `n` customers write one message each, so replies have open conversations (24 h window). */
export async function openConversations(stack: ChaosStack, channel: Channel, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = await stack.admin('POST', '/customers/meta/messages', { accountId: PAGE, customerId: `chaos-agent-${i}`, text: `customer ${i} has a question` });
    ids.push(`${channel.channelId}:${w.customerId}`);
  }
  await waitFor('the customers\' conversations', async () => {
    const res = await stack.call('GET', `/v1/conversations/${encodeURIComponent(ids.at(-1)!)}`);
    return res.status === 200;
  }, 120_000);
  return ids;
}

// --- replies ----------------------------------------------------------------------------------------

export interface SendLog {
  /** Marker in each reply's text: "<tag> reply #<i>", so the sandbox's request log maps sends to replies. */
  tag: string;
  requested: number;
  /** Requests posted, repeats and retries included. */
  posts: number;
  /** Requests that got no 202 at first (API down, 5xx) and were posted again with the same key. */
  retriedPosts: number;
  /** Message ID per reply index, from the 202. */
  ids: (string | undefined)[];
  /** Replies never accepted (still no 202 when the client gave up). */
  rejected: number;
}

export function newSendLog(tag: string): SendLog {
  return { tag, requested: 0, posts: 0, retriedPosts: 0, ids: [], rejected: 0 };
}

/**
 * Posts one reply; on no answer or a 5xx, posts it again with the same Idempotency-Key (for up to
 * `giveUpMs`). `afterAccepted` runs the moment the 202 arrives (the API-kill scenario kills there).
 */
export async function postReply(stack: ChaosStack, log: SendLog, conversationId: string, i: number, opts: { giveUpMs?: number; afterAccepted?: () => void } = {}): Promise<void> {
  const deadline = Date.now() + (opts.giveUpMs ?? 300_000);
  let first = true;
  for (;;) {
    log.posts++;
    if (!first) log.retriedPosts++;
    first = false;
    const res = await stack.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { text: `${log.tag} reply #${i}` }, { 'idempotency-key': `${log.tag}-${i}` })
      .catch((err: Error) => ({ status: 0, json: undefined, text: err.message }));
    if (res.status === 202) {
      opts.afterAccepted?.();
      log.ids[i] = res.json.message.id;
      return;
    }
    if ((res.status !== 0 && res.status < 500) || Date.now() > deadline) {
      log.rejected++;
      return;
    }
    await sleep(1000);
  }
}

/**
 * `count` replies spread over the conversations, `perSecond` of them posted each second (so they
 * span the fault), every tenth posted a second time with its key (one platform send all the same).
 */
export async function sendReplies(stack: ChaosStack, log: SendLog, conversations: string[], count: number, perSecond: number, hooks: { afterAccepted?: (i: number) => void } = {}): Promise<void> {
  const start = log.requested;
  log.requested += count;
  const inFlight: Promise<void>[] = [];
  const t0 = Date.now();
  for (let k = 0; k < count; k++) {
    const i = start + k;
    const due = t0 + (k * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const conv = conversations[i % conversations.length]!;
    inFlight.push(postReply(stack, log, conv, i, { afterAccepted: hooks.afterAccepted && (() => hooks.afterAccepted!(i)) }).then(async () => {
      if (i % 10 === 0) await postReply(stack, log, conv, i); // the same key again: the same message
    }));
  }
  await Promise.all(inFlight);
}

/** Waits until none of the log's replies is pending (each was sent or failed), e.g. before lifting a fault. */
export async function repliesSettled(log: SendLog, timeoutMs: number): Promise<boolean> {
  const ids = log.ids.filter((id): id is string => !!id);
  return waitFor('the replies to leave pending', async () => (await MessageModel.collection.countDocuments({ _id: { $in: ids }, status: 'pending' } as Document)) === 0, timeoutMs, 500)
    .then(() => true, () => false);
}

// --- the set-up the restart and kill scenarios share -----------------------------------------------

/**
 * A stack with a small history (5 conversations × 20 messages a Page), the Page connected (its
 * backfill done) and 10 customers' conversations open, so replies have somewhere to go.
 */
export async function startPageStack(ctx: Pick<ChaosStackOptions, 'logFile' | 'say' | 'defer'>): Promise<{ stack: ChaosStack; channel: Channel; conversations: string[] }> {
  const stack = await ChaosStack.start({ world: { conversations: 5, messagesPerConversation: 20 }, logFile: ctx.logFile, say: ctx.say, defer: ctx.defer });
  const channel = await connectPage(stack);
  const conversations = await openConversations(stack, channel, 10);
  return { stack, channel, conversations };
}

export interface Traffic {
  /** The replies' log (tagged with the scenario's tag), for the audit. */
  log: SendLog;
  /** Waits until `share` of the customer messages are stored; resolves with how many are. */
  stored(share: number): Promise<number>;
  /** Waits until the customers have written everything and every reply was posted. */
  done(): Promise<void>;
}

/**
 * Customers write `messages` at `rate` a second while agents post `sends` replies, `sendRate` a
 * second, to the open conversations. With `channelSendRate`, the channel's send rate is set to
 * `sendRate` first, so the replies span the fault.
 */
export async function startTraffic(stack: ChaosStack, channel: Channel, conversations: string[], opts: {
  tag: string; messages: number; rate: number; sends: number; sendRate: number; channelSendRate?: boolean; afterAccepted?: (i: number) => void;
}): Promise<Traffic> {
  if (opts.channelSendRate) await stack.call('PATCH', `/v1/channels/${channel.channelId}`, { sendRatePerSecond: opts.sendRate });
  const log = newSendLog(opts.tag);
  const base = await inboundCount(channel);
  const customers = await customersWrite(stack, opts.messages, opts.rate);
  const replies = sendReplies(stack, log, conversations, opts.sends, opts.sendRate, { afterAccepted: opts.afterAccepted });
  return {
    log,
    stored: (share) => waitFor(`${Math.round(share * 100)} % of the messages stored`, async () => { const n = (await inboundCount(channel)) - base; return n >= opts.messages * share && n; }, 300_000, 50),
    done: async () => { await Promise.all([customersDone(stack, customers), replies]); },
  };
}

/** Retries `fn` (thrown errors and rejected answers) for up to 2 minutes. */
export async function retrying<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (ok(v)) return v;
      last = JSON.stringify((v as { status?: number }).status ?? v).slice(0, 200);
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(1000);
  }
  throw new Error(`${what} did not succeed in ${timeoutMs / 1000} s (last: ${last})`);
}
