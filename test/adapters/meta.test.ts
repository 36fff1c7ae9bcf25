// The Meta adapters (Messenger, Instagram via Facebook Login, Instagram Login) against the
// in-process sandbox: OAuth through the consent page driven by query params, errors and their
// classes, backfill of the seeded history, incremental sync after customers write, refresh,
// revocation, and injected faults.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { InstagramAdapter, NOT_LINKED } from '../../activities/platforms/instagram';
import { InstagramLoginAdapter } from '../../activities/platforms/instagram-login';
import { classifyGraphError, INSTAGRAM_WEBHOOK_FIELDS, isInstagramHorizonError, PAGE_WEBHOOK_FIELDS, parseJsonLossless, redact } from '../../activities/platforms/meta';
import { MessengerAdapter } from '../../activities/platforms/messenger';
import { PlatformError, type AccountInfo, type ChannelAdapter, type ConnectResult, type Credentials, type NormalizedConversation, type OutboundMessage, type SyncCursor } from '../../activities/platforms/types';
import { platformConfig } from '../../lib/platform-config';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

type Sbx = Awaited<ReturnType<typeof useSandbox>>;
const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const PAGE = '101000000000001';
const LINKED_PAGE = '101000000000002';
const LINKED_IG = '17841400000000101';
const LOGIN_IG = '17841400000000202';
const LOGIN_IG_APP_SCOPED = '10200000000000202';
const WORLD = { conversations: 30, messagesPerConversation: 25 };
const IG_HORIZON = 20;

/** Runs a consent dialog headlessly (sandbox_action=approve|deny) and returns the redirect's query. */
async function consent(adapter: ChannelAdapter, extra: Record<string, string> = {}, state = `st-${Math.random()}`) {
  const url = new URL(adapter.authorizationUrl!({ state, redirectUri: REDIRECT }));
  for (const [k, v] of Object.entries({ sandbox_action: 'approve', ...extra })) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 302, await res.text());
  const location = new URL(res.headers.get('location')!);
  assert.equal(location.searchParams.get('state'), state, 'state is echoed unchanged');
  return location.searchParams;
}

async function connect(adapter: ChannelAdapter, extra: Record<string, string> = {}, settings?: Record<string, unknown>): Promise<ConnectResult> {
  const params = await consent(adapter, extra);
  return adapter.exchangeCode!({ code: params.get('code')!, redirectUri: REDIRECT, ...(settings ? { settings } : {}) });
}

async function rejects(p: Promise<unknown>, kind: string, pattern?: RegExp): Promise<PlatformError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.equal(err.classification.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a ${kind} PlatformError`);
}

/** Pages until done; checks every cursor is JSON-safe. */
async function drain(adapter: ChannelAdapter, credentials: Credentials, account: AccountInfo, mode: 'backfill' | 'incremental', cursor: SyncCursor | null = null) {
  const pages: { conversations: NormalizedConversation[]; cursor: SyncCursor; done: boolean; from: SyncCursor | null }[] = [];
  for (let i = 0; i < 500; i++) {
    const page = await adapter.fetchPage({ credentials, account, cursor, mode });
    assert.deepEqual(JSON.parse(JSON.stringify(page.cursor)), page.cursor, 'cursor is JSON-safe');
    assert.ok(page.conversations.length <= 50);
    pages.push({ ...page, from: cursor });
    cursor = page.cursor;
    if (page.done) break;
  }
  assert.ok(pages.at(-1)!.done, 'sync finished');
  const messages = pages.flatMap((p) => p.conversations.flatMap((c) => c.messages.map((m) => ({ ...m, conversation: c }))));
  return { pages, cursor: cursor!, messages };
}

async function seededCounts(sb: Sbx) {
  return (await sb.admin('GET', '/world')).json.meta.counts as { conversations: number; messages: number };
}

/** The backfill checks every Meta flavour shares: counts, uniqueness, directions, attachments, times. */
async function checkBackfill(sb: Sbx, adapter: ChannelAdapter, conn: ConnectResult, perConversation: number) {
  const counts = await seededCounts(sb);
  // Three seeded accounts (Messenger Page, Page-linked IG, Instagram Login), each conversations × messages.
  assert.equal(counts.messages, 3 * WORLD.conversations * WORLD.messagesPerConversation);
  const { pages, cursor, messages } = await drain(adapter, conn.credentials, conn.account, 'backfill');
  const ids = new Set(messages.map((m) => m.externalId));
  assert.equal(ids.size, messages.length, 'no duplicates');
  assert.equal(messages.length, WORLD.conversations * perConversation);
  assert.equal(new Set(messages.map((m) => m.conversation.externalId)).size, WORLD.conversations);
  // The thread id is the customer's PSID/IGSID (what webhooks carry), not the Graph t_… id.
  for (const m of messages) assert.equal(m.conversation.externalId, m.conversation.participant.externalId);
  assert.ok(pages.length >= 2, 'more than one page');

  const business = messages.filter((m) => m.direction === 'outbound');
  const expectOutbound = Array.from({ length: perConversation }, (_, k) => k).filter((fromEnd) => fromEnd % 2 === 1).length * WORLD.conversations;
  assert.equal(business.length, expectOutbound);
  for (const m of messages) {
    assert.ok(m.timestamp > Date.now() - 86_400_000 && m.timestamp <= Date.now() + 60_000, 'timestamp is ms since epoch');
    assert.equal(m.timestamp % 1000, 0, 'Graph times have second precision');
    if (m.direction === 'inbound') assert.equal(m.sender.externalId, m.conversation.participant.externalId);
    else assert.notEqual(m.sender.externalId, m.conversation.participant.externalId);
    assert.ok(m.text && /^(Message|Reply) \d+/.test(m.text), m.text);
  }
  const images = messages.flatMap((m) => m.attachments ?? []);
  assert.ok(images.length > 0);
  for (const a of images) {
    assert.equal(a.type, 'image');
    assert.equal(a.mimeType, 'image/png');
    assert.match(a.url!, /^http/);
    assert.equal(typeof a.platformMediaId, 'string');
    assert.match(a.name!, /^photo-\d+\.png$/);
    assert.equal(a.size, 68);
  }
  // Messages of a conversation come oldest first.
  for (const p of pages) for (const c of p.conversations) {
    for (let i = 1; i < c.messages.length; i++) assert.ok(c.messages[i - 1]!.timestamp <= c.messages[i]!.timestamp);
  }
  // Re-running a page with its cursor gives the same page (idempotent).
  const mid = pages[1]!;
  const again = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor: mid.from, mode: 'backfill' });
  assert.deepEqual(again, { conversations: mid.conversations, cursor: mid.cursor, done: mid.done });
  // A finished backfill has nothing more.
  const after = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor, mode: 'backfill' });
  assert.deepEqual(after, { conversations: [], cursor, done: true });
  return { cursor, messages };
}

/** Incremental: nothing new, then exactly the customers' new messages, idempotent re-runs, then nothing. */
async function checkIncremental(sb: Sbx, adapter: ChannelAdapter, conn: ConnectResult, accountId: string, cursor: SyncCursor, existingCustomer: string) {
  const idle = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor, mode: 'incremental' });
  assert.equal(idle.done, true);
  assert.deepEqual(idle.conversations, []);

  const fresh = await sb.admin('POST', '/customers/meta/messages', { accountId, text: 'Hola! New here' });
  assert.equal(fresh.status, 201, JSON.stringify(fresh.json));
  const known = await sb.admin('POST', '/customers/meta/messages', { accountId, customerId: existingCustomer, text: 'Me again', media: true });
  assert.equal(known.status, 201, JSON.stringify(known.json));

  const page = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor: idle.cursor, mode: 'incremental' });
  assert.equal(page.done, true);
  const got = page.conversations.flatMap((c) => c.messages.map((m) => ({ ...m, participant: c.participant.externalId })));
  assert.deepEqual(got.map((m) => m.externalId).sort(), [fresh.json.messageId, known.json.messageId].sort());
  const first = got.find((m) => m.externalId === fresh.json.messageId)!;
  assert.equal(first.text, 'Hola! New here');
  assert.equal(first.direction, 'inbound');
  assert.equal(first.sender.externalId, fresh.json.customerId);
  assert.equal(first.participant, fresh.json.customerId);
  const second = got.find((m) => m.externalId === known.json.messageId)!;
  assert.equal(second.participant, existingCustomer);
  assert.equal(second.attachments?.[0]?.type, 'image');
  assert.equal(second.attachments?.[0]?.mimeType, 'image/png');

  // Same cursor again: the same answer, nothing lost, nothing extra.
  const rerun = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor: idle.cursor, mode: 'incremental' });
  assert.deepEqual(rerun, page);
  // From the new cursor: nothing.
  const caughtUp = await adapter.fetchPage({ credentials: conn.credentials, account: conn.account, cursor: page.cursor, mode: 'incremental' });
  assert.deepEqual(caughtUp.conversations, []);
  assert.equal(caughtUp.done, true);
}

/** Injected 429 / BUC rate limit, 5xx and a hung request, each classified. */
async function checkFaults(sb: Sbx, adapter: ChannelAdapter, conn: ConnectResult, slow: ChannelAdapter, bucCode: string) {
  const call = (a = adapter) => a.fetchPage({ credentials: conn.credentials, account: conn.account, cursor: null, mode: 'backfill' });
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
  const limited = await rejects(call(), 'rate_limited');
  const c = adapter.classify(limited);
  assert.equal(c.kind, 'rate_limited');
  assert.equal(c.code, bucCode);
  // Retry-After says 7 s, the BUC header says 1 minute: the longer wait wins.
  assert.equal(c.kind === 'rate_limited' && c.retryAfterMs, 60_000);

  // A plain HTTP 429 (the sandbox sends Retry-After: 60 and a one-minute BUC hint with it).
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', errorRate: 1, errorStatus: 429, remaining: 1 });
  const http429 = await rejects(call(), 'rate_limited');
  assert.equal(http429.status, 429);
  assert.ok(http429.classification.kind === 'rate_limited' && http429.classification.retryAfterMs >= 60_000);

  // Reads are retried in place (three tries): one 503 is absorbed, three in a row reach the caller.
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'messages', errorRate: 1, errorStatus: 503, remaining: 1 });
  assert.ok((await call()).conversations.length > 0);
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'messages', errorRate: 1, errorStatus: 503, remaining: 3 });
  const down = await rejects(call(), 'retryable');
  assert.equal(adapter.classify(down).code, '2');
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', errorRate: 1, errorStatus: 500, remaining: 3 });
  assert.equal((await rejects(call(), 'retryable')).classification.code, '1');

  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', timeoutRate: 1, remaining: 3 });
  const hung = await rejects(call(slow), 'retryable', /timed out/);
  assert.equal(slow.classify(hung).kind, 'retryable');
  // Afterwards it works again.
  assert.ok((await call()).conversations.length > 0);
}

const GRAPH_VERSION = 'v25.0';

/** What Graph reports on `{node}/subscribed_apps` for our app (`host`: graph.facebook.com or graph.instagram.com). */
async function subscribedApps(sb: Sbx, host: string, node: string, token: unknown, method: 'GET' | 'DELETE' | 'POST' = 'GET', fields?: string[]) {
  const url = new URL(`${sb.url}/${host}/${GRAPH_VERSION}/${node}/subscribed_apps`);
  if (fields) url.searchParams.set('subscribed_fields', fields.join(','));
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${String(token)}` } });
  const body = await res.json() as { data?: { id: string; subscribed_fields: string[] }[]; success?: boolean };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

async function subscribedFields(sb: Sbx, host: string, node: string, token: unknown, appId: string): Promise<string[]> {
  const { data = [] } = await subscribedApps(sb, host, node, token);
  return (data.find((app) => app.id === appId)?.subscribed_fields ?? []).slice().sort();
}

/**
 * A Graph host that forwards everything to the sandbox but refuses `POST …/subscribed_apps` the
 * way Graph does when a permission is missing (the sandbox's fault API only injects 5xx and rate limits).
 */
async function refusingGraph(sb: Sbx, refusal: { status: number; error: Record<string, unknown> }) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && /\/subscribed_apps(?:\?|$)/.test(req.url ?? '')) {
          res.writeHead(refusal.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: refusal.error }));
          return;
        }
        const headers: Record<string, string> = {};
        for (const name of ['authorization', 'content-type', 'accept']) if (req.headers[name]) headers[name] = String(req.headers[name]);
        const upstream = await fetch(`${sb.url}${req.url ?? ''}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A 5xx and a rate limit on subscribed_apps fail the connect, classified, and say what failed. */
async function checkSubscribeFaults(sb: Sbx, adapter: ChannelAdapter) {
  // Three in a row: the read of the current subscription is retried in place (retryRead) before it gives up.
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'subscribed_apps', errorRate: 1, errorStatus: 500, remaining: 3 });
  const down = await rejects(connect(adapter), 'retryable', /could not subscribe the app to the webhooks of/);
  assert.equal(down.status, 500);
  await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'subscribed_apps', rateLimitRate: 1, retryAfterSeconds: 30, remaining: 1 });
  const limited = await rejects(connect(adapter), 'rate_limited', /could not subscribe/);
  assert.ok(limited.classification.kind === 'rate_limited' && limited.classification.retryAfterMs >= 30_000);
  // And with the fault gone, connecting works again.
  await connect(adapter);
}

function assertNoSecrets(err: PlatformError, secrets: (string | number | boolean | undefined)[]) {
  for (const s of secrets) if (typeof s === 'string' && s.length > 8) assert.ok(!err.message.includes(s), 'no secret in the error message');
}

interface SentRequest { recipient: { id: string }; messaging_type: string; tag?: string; message: { text?: string; metadata?: string; attachment?: { type: string; payload: { url: string } } } }

/** The Send API calls the sandbox received since `since` (sequence number), bodies parsed. */
async function sendRequests(sb: Sbx, since: number) {
  const { json } = await sb.admin('GET', `/requests?platform=meta&endpoint=send&since=${since}`);
  return (json.data as { seq: number; path: string; status: number; headers: Record<string, string>; body: string }[])
    .filter((r) => r.seq > since).map((r) => ({ ...r, parsed: JSON.parse(r.body) as SentRequest }));
}

async function lastSeq(sb: Sbx): Promise<number> {
  const { json } = await sb.admin('GET', '/requests?platform=meta');
  return Math.max(0, ...(json.data as { seq: number }[]).map((r) => r.seq));
}

/**
 * Send against the sandbox: text (request shape, echo webhook with our metadata and the same mid),
 * media by URL, media with a caption (two calls), HUMAN_AGENT, an invalid recipient, injected 5xx
 * and rate limits, a revoked token, and the reply windows (24 h, then 7 days with HUMAN_AGENT).
 * Runs last in its suite: it moves the sandbox clock.
 */
async function checkSend(sb: Sbx, adapter: ChannelAdapter, accountId: string, expect: { path: RegExp; bucCode: string; windowSubcode: number }) {
  // A fresh connection: earlier tests may have removed the app (revoke()) for the suite's one.
  const conn = await connect(adapter);
  const send = (message: Partial<OutboundMessage> & { to: { externalId: string } }, credentials = conn.credentials) =>
    adapter.send!({ credentials, account: conn.account, message: { clientRef: `msg_${Math.random().toString(36).slice(2)}`, conversationExternalId: message.to.externalId, ...message } });
  const wrote = await sb.admin('POST', '/customers/meta/messages', { accountId, text: 'Do you ship to Lisbon?' });
  assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
  const customer = String(wrote.json.customerId);
  await new Promise((r) => setTimeout(r, 100)); // let the customer's own webhook go out before listening
  const receiver = await webhookReceiver();
  await sb.admin('PUT', '/webhooks/targets/meta', { url: receiver.url });
  try {
    // Text: the request, the returned id, and the echo that comes back with our clientRef.
    let since = await lastSeq(sb);
    const before = Date.now();
    const text = await send({ clientRef: 'msg_text_1', to: { externalId: customer }, text: 'Yes, we ship to Lisbon.' });
    assert.match(text.externalId, /\S/);
    assert.ok(text.timestamp >= before && text.timestamp <= Date.now());
    const [req] = await sendRequests(sb, since);
    assert.match(req!.path, expect.path);
    assert.equal(req!.status, 200);
    assert.match(req!.headers['authorization'] ?? '', /^Bearer /);
    assert.deepEqual(req!.parsed, { recipient: { id: customer }, messaging_type: 'RESPONSE', message: { text: 'Yes, we ship to Lisbon.', metadata: 'msg_text_1' } });
    const deadline = Date.now() + 5000;
    type Echo = { message: { mid: string; is_echo?: boolean; metadata?: string; text?: string } };
    let echo: Echo | undefined;
    while (!echo && Date.now() < deadline) {
      echo = receiver.received.flatMap((w) => (JSON.parse(w.body) as { entry: { messaging: Echo[] }[] }).entry.flatMap((e) => e.messaging))
        .find((m) => m.message?.is_echo && m.message.metadata === 'msg_text_1');
      if (!echo) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(echo, 'the echo webhook carries our clientRef as metadata');
    assert.equal(echo.message.mid, text.externalId, 'the returned id is the mid of the echo');
    assert.equal(echo.message.text, 'Yes, we ship to Lisbon.');

    // Media by URL.
    since = await lastSeq(sb);
    const image = await send({ clientRef: 'msg_img_1', to: { externalId: customer }, media: { type: 'image', url: 'https://cdn.example.com/p/shoe.png' } });
    const [imgReq] = await sendRequests(sb, since);
    assert.deepEqual(imgReq!.parsed.message, { attachment: { type: 'image', payload: { url: 'https://cdn.example.com/p/shoe.png' } }, metadata: 'msg_img_1' });
    assert.notEqual(image.externalId, text.externalId);
    // A file with a caption: two calls (one attachment, then the text), the media's id returned.
    since = await lastSeq(sb);
    const doc = await send({ clientRef: 'msg_doc_1', to: { externalId: customer }, media: { type: 'file', url: 'https://cdn.example.com/invoice.pdf', caption: 'Your invoice' } });
    const docReqs = await sendRequests(sb, since);
    assert.deepEqual(docReqs.map((r) => r.parsed.message), [
      { attachment: { type: 'file', payload: { url: 'https://cdn.example.com/invoice.pdf' } }, metadata: 'msg_doc_1' },
      { text: 'Your invoice', metadata: 'msg_doc_1:text' },
    ]);
    assert.match(doc.externalId, /\S/);
    await rejects(send({ to: { externalId: customer } }), 'permanent', /nothing to send/);
    await rejects(send({ to: { externalId: customer }, template: { name: 'x', language: 'en' } }), 'permanent', /templates are not supported/);

    // HUMAN_AGENT tag.
    since = await lastSeq(sb);
    await send({ to: { externalId: customer }, text: 'Agent here.', humanAgent: true });
    const [tagged] = await sendRequests(sb, since);
    assert.equal(tagged!.parsed.messaging_type, 'MESSAGE_TAG');
    assert.equal(tagged!.parsed.tag, 'HUMAN_AGENT');

    // An unknown recipient → permanent (Graph 100).
    const nobody = await rejects(send({ to: { externalId: '9999999999999999' }, text: 'hi' }), 'permanent', /No matching user/);
    assert.equal(nobody.classification.code, '100');

    // Injected 5xx / 1200 → retryable; rate limit → rate_limited with the BUC wait (1 min beats Retry-After 7 s).
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
    assert.equal((await rejects(send({ to: { externalId: customer }, text: 'x' }), 'retryable')).classification.code, '2');
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 1, errorStatus: 400, remaining: 1 });
    assert.equal((await rejects(send({ to: { externalId: customer }, text: 'x' }), 'retryable')).classification.code, '1200');
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
    const limited = await rejects(send({ to: { externalId: customer }, text: 'x' }), 'rate_limited');
    assert.equal(limited.classification.code, expect.bucCode);
    assert.equal(limited.classification.kind === 'rate_limited' && limited.classification.retryAfterMs, 60_000);
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 1, errorStatus: 429, remaining: 1 });
    const http429 = await rejects(send({ to: { externalId: customer }, text: 'x' }), 'rate_limited');
    assert.ok(http429.classification.kind === 'rate_limited' && http429.classification.retryAfterMs >= 60_000);

    // A revoked token → reauth, and the token is nowhere in the error.
    const victim = await connect(adapter);
    await sb.admin('POST', '/tokens/revoke', { token: victim.credentials.accessToken });
    const dead = await rejects(send({ to: { externalId: customer }, text: 'x' }, victim.credentials), 'reauth');
    assert.equal(dead.classification.code, '190');
    assertNoSecrets(dead, Object.values(victim.credentials));

    // 25 h later: the standard window is closed → window_closed naming the HUMAN_AGENT tag; the tag still works.
    await sb.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
    const closed = await rejects(send({ to: { externalId: customer }, text: 'Still there?' }), 'permanent', /24-hour reply window.*HUMAN_AGENT.*7 days/);
    assert.equal(closed.classification.code, 'window_closed');
    assert.match(closed.message, new RegExp(`Graph error 10/${expect.windowSubcode}`));
    assertNoSecrets(closed, Object.values(conn.credentials));
    assert.match((await send({ to: { externalId: customer }, text: 'A human here.', humanAgent: true })).externalId, /\S/);
    // Past 7 days even the tag is refused.
    await sb.admin('POST', '/clock', { advanceSeconds: 7 * 86_400 });
    const late = await rejects(send({ to: { externalId: customer }, text: 'Hello?', humanAgent: true }), 'permanent', /7 days/);
    assert.equal(late.classification.code, 'window_closed');
    // The customer writes again: the window reopens.
    await sb.admin('POST', '/customers/meta/messages', { accountId, customerId: customer, text: 'back' });
    await send({ to: { externalId: customer }, text: 'Welcome back.' });
  } finally {
    await sb.admin('PUT', '/webhooks/targets/meta', { url: null });
    await receiver.close();
  }
}

describe('meta adapters: shared Graph error handling', () => {
  test('classification table', () => {
    const headers = new Headers({ 'retry-after': '5', 'x-business-use-case-usage': JSON.stringify({ 123: [{ type: 'messenger', call_count: 100, estimated_time_to_regain_access: 3 }] }) });
    const kind = (code: number, status = 400, h?: Headers, subcode?: number) => classifyGraphError({ status, code, subcode, message: 'x' }, h);
    for (const code of [1, 2, 1200]) assert.equal(kind(code, 500).kind, 'retryable', String(code));
    for (const code of [4, 17, 32, 613, 80001, 80002, 80006, 80007]) {
      const c = kind(code, 400, headers);
      assert.equal(c.kind, 'rate_limited', String(code));
      assert.equal(c.kind === 'rate_limited' && c.retryAfterMs, 180_000, 'estimated_time_to_regain_access minutes beat a shorter Retry-After');
    }
    const plain = kind(613, 400, new Headers({ 'retry-after': '9' }));
    assert.equal(plain.kind === 'rate_limited' && plain.retryAfterMs, 9000);
    for (const code of [190, 200, 210, 299]) assert.equal(kind(code).kind, 'reauth', String(code));
    assert.match(kind(190, 400, undefined, 463).message, /expired/);
    for (const code of [10, 100, 551, 230, 2500]) assert.equal(kind(code).kind, 'permanent', String(code));
    assert.equal(classifyGraphError({ status: 400, code: 1, message: 'Error validating client secret.' }).kind, 'permanent');
    assert.equal(classifyGraphError({ status: 502, message: 'bad gateway' }).kind, 'retryable');
  });

  test('tokens never reach error text; big integers survive JSON parsing; the IG horizon is recognised', () => {
    assert.equal(redact('bad token EAABwzLixnjYBO1234567890abcdef and IGAAabcdefghijklmnop123 and 100000000000001|sandbox-secret'), 'bad token [redacted] and [redacted] and [redacted]');
    const parsed = parseJsonLossless('{"user_id":17841400000000202,"n":-9007199254740993,"small":42,"f":1.5e3,"s":"17841400000000202 \\" 9"}') as Record<string, unknown>;
    assert.deepEqual(parsed, { user_id: '17841400000000202', n: '-9007199254740993', small: 42, f: 1500, s: '17841400000000202 " 9' });
    const deleted = new PlatformError('instagram', classifyGraphError({ status: 400, code: 100, subcode: 2534001, message: '(#100) This message has been deleted and is no longer available.' }));
    assert.ok(isInstagramHorizonError(deleted));
    assert.ok(!isInstagramHorizonError(new PlatformError('instagram', classifyGraphError({ status: 400, code: 100, message: '(#100) Invalid parameter' }))));
  });
});

describe('messenger adapter', () => {
  let sb: Sbx;
  let adapter: MessengerAdapter;
  let slow: MessengerAdapter;
  let conn: ConnectResult;
  before(async () => {
    sb = await useSandbox({ platforms: ['meta'], world: WORLD });
    const config = platformConfig({ SANDBOX_URL: sb.url });
    adapter = new MessengerAdapter(config);
    slow = new MessengerAdapter(config, { timeoutMs: 300 });
  });
  after(() => sb.close());

  test('connect: consent → long-lived user token → Page token of the first Page (and says so)', async () => {
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    assert.match(url.pathname, /\/www\.facebook\.com\/v\d+\.0\/dialog\/oauth$/);
    assert.equal(url.searchParams.get('scope'), 'pages_show_list,pages_manage_metadata,pages_messaging,pages_read_engagement');
    assert.equal(url.searchParams.get('response_type'), 'code');
    conn = await connect(adapter);
    assert.equal(conn.account.id, PAGE);
    assert.equal(conn.account.name, 'Sandbox Shop');
    assert.match(String(conn.credentials.accessToken), /^EAAG/);
    assert.match(String(conn.credentials.userAccessToken), /^EAAB/);
    assert.equal(conn.tokenExpiresAt, undefined, 'Page tokens from a long-lived user token do not expire');
    assert.ok(Number(conn.credentials.userTokenExpiresAt) > Date.now() + 59 * 86_400_000, 'user token expiry from expires_in');
    assert.match(conn.credentialHints!.pageSelection!, /2 Pages.*first.*settings\.pageId/);
    assert.equal(conn.credentialHints!.pageAccessToken, `…${String(conn.credentials.accessToken).slice(-4)}`);
    assert.ok(!JSON.stringify(conn.credentialHints).includes(String(conn.credentials.accessToken)));
    assert.equal(await adapter.refresh(conn.credentials, conn.account), null);
    assert.deepEqual(await adapter.check(conn.credentials, conn.account), { id: PAGE, name: 'Sandbox Shop' });
  });

  test('connect: settings.pageId picks the Page; an unknown one is a permanent error', async () => {
    const other = await connect(adapter, {}, { pageId: LINKED_PAGE });
    assert.equal(other.account.id, LINKED_PAGE);
    assert.equal(other.credentialHints!.pageSelection, undefined);
    await rejects(connect(adapter, {}, { pageId: '999' }), 'permanent', /Page 999 is not among/);
  });

  test('connect: denied consent, declined scopes, bad or reused codes → permanent', async () => {
    const denied = await consent(adapter, { sandbox_action: 'deny' });
    assert.equal(denied.get('error'), 'access_denied');
    assert.equal(denied.get('code'), null);
    const declined = await rejects(connect(adapter, { sandbox_decline: 'pages_messaging' }), 'permanent', /pages_messaging/);
    assert.equal(declined.classification.code, 'missing_scopes');
    await rejects(adapter.exchangeCode({ code: 'AQnot-a-real-code', redirectUri: REDIRECT }), 'permanent');
    const params = await consent(adapter);
    await rejects(adapter.exchangeCode({ code: params.get('code')!, redirectUri: 'http://localhost:3000/other' }), 'permanent', /redirect_uri/);
    const ok = await consent(adapter);
    await adapter.exchangeCode({ code: `${ok.get('code')!}#_=_`, redirectUri: REDIRECT });
    const reused = await rejects(adapter.exchangeCode({ code: ok.get('code')!, redirectUri: REDIRECT }), 'permanent', /used/);
    assertNoSecrets(reused, [ok.get('code')!]);
    // Restore the grant for the tests below (the decline above removed pages_messaging).
    await connect(adapter);
  });

  let backfillCursor: SyncCursor;
  let someCustomer: string;
  test('backfill walks the whole seeded history', async () => {
    conn = await connect(adapter);
    const { cursor, messages } = await checkBackfill(sb, adapter, conn, WORLD.messagesPerConversation);
    backfillCursor = cursor;
    someCustomer = messages.find((m) => m.direction === 'inbound')!.sender.externalId;
    assert.ok(messages.some((m) => m.sender.name && m.direction === 'inbound'), 'Messenger participants have names');
    backfillIds = messages.map((m) => m.externalId).sort();
  });

  let backfillIds: string[];
  test('small pages: a thread longer than a page continues on the next one, nothing lost or repeated', async () => {
    const small = new MessengerAdapter(platformConfig({ SANDBOX_URL: sb.url }), { pageMessageBudget: 7 });
    const { pages, messages, cursor } = await drain(small, conn.credentials, conn.account, 'backfill');
    assert.ok(pages.every((p) => p.conversations.reduce((n, c) => n + c.messages.length, 0) <= 7));
    assert.ok(pages.length >= Math.ceil(backfillIds.length / 7));
    assert.deepEqual(messages.map((m) => m.externalId).sort(), backfillIds);
    // The same thread shows up on consecutive pages, in pieces.
    assert.ok(pages.some((p, i) => i > 0 && p.conversations[0]?.externalId === pages[i - 1]!.conversations.at(-1)?.externalId));
    assert.equal(cursor.walking, false);
  });

  test('incremental returns exactly the new messages', async () => {
    await checkIncremental(sb, adapter, conn, PAGE, backfillCursor, someCustomer);
  });

  test('faults: rate limits, 5xx, timeouts', async () => {
    await checkFaults(sb, adapter, conn, slow, '80001');
  });

  test('refresh: an expiring Page token is renewed with the expiry Meta reports', async () => {
    await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'page', seconds: 7200 });
    try {
      const expiring = await connect(adapter);
      assert.ok(expiring.tokenExpiresAt, 'expiry read from debug_token');
      assert.ok(Math.abs(expiring.tokenExpiresAt! - (Date.now() + 7200_000)) < 5000);
      await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'page', seconds: 10_800 });
      const refreshed = await adapter.refresh(expiring.credentials, expiring.account);
      assert.ok(refreshed);
      assert.notEqual(refreshed.credentials.accessToken, expiring.credentials.accessToken);
      assert.ok(Math.abs(refreshed.tokenExpiresAt! - (Date.now() + 10_800_000)) < 5000, 'the new expiry comes from the platform');
      assert.equal(refreshed.credentials.tokenExpiresAt, refreshed.tokenExpiresAt);
      assert.equal((await adapter.check(refreshed.credentials, expiring.account)).id, PAGE);
    } finally {
      await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'page', seconds: null });
    }
  });

  test('revoked token → reauth; revoke() removes the app', async () => {
    const victim = await connect(adapter);
    await sb.admin('POST', '/tokens/revoke', { token: victim.credentials.accessToken });
    const err = await rejects(adapter.check(victim.credentials, victim.account), 'reauth');
    assert.equal(adapter.classify(err).code, '190');
    assertNoSecrets(err, Object.values(victim.credentials));
    await rejects(adapter.fetchPage({ credentials: victim.credentials, account: victim.account, cursor: null, mode: 'backfill' }), 'reauth');

    const live = await connect(adapter);
    await adapter.revoke(live.credentials);
    const gone = await rejects(adapter.check(live.credentials, live.account), 'reauth', /removed/);
    assert.equal(gone.classification.code, '190');
    await adapter.revoke(live.credentials); // already revoked: harmless
  });
  test('connect subscribes the app to the Page\'s webhooks (Page token), keeping fields it already had', async () => {
    const appId = platformConfig({ SANDBOX_URL: sb.url }).meta.appId;
    const first = await connect(adapter);
    const pageToken = first.credentials.accessToken;
    await subscribedApps(sb, 'graph.facebook.com', PAGE, pageToken, 'DELETE');
    assert.deepEqual(await subscribedFields(sb, 'graph.facebook.com', PAGE, pageToken, appId), [], 'unsubscribed before connecting');

    const fresh = await connect(adapter);
    assert.deepEqual(await subscribedFields(sb, 'graph.facebook.com', PAGE, fresh.credentials.accessToken, appId), ['message_deliveries', 'message_echoes', 'message_reactions', 'message_reads', 'messages']);
    assert.equal(fresh.credentialHints!.webhookFields, PAGE_WEBHOOK_FIELDS.join(','));
    // The other Page is subscribed when it is the one connected.
    await subscribedApps(sb, 'graph.facebook.com', LINKED_PAGE, (await connect(adapter, {}, { pageId: LINKED_PAGE })).credentials.accessToken, 'DELETE');
    const other = await connect(adapter, {}, { pageId: LINKED_PAGE });
    assert.deepEqual(await subscribedFields(sb, 'graph.facebook.com', LINKED_PAGE, other.credentials.accessToken, appId), [...PAGE_WEBHOOK_FIELDS].sort());

    // POST replaces the list: what the app had on the Page before (say, for an Instagram channel on it) is kept.
    await subscribedApps(sb, 'graph.facebook.com', PAGE, pageToken, 'POST', ['messages', 'messaging_postbacks', 'feed']);
    const again = await connect(adapter);
    assert.deepEqual(await subscribedFields(sb, 'graph.facebook.com', PAGE, pageToken, appId), [...PAGE_WEBHOOK_FIELDS, 'messaging_postbacks', 'feed'].sort());
    assert.equal(again.credentialHints!.webhookFields, [...PAGE_WEBHOOK_FIELDS, 'messaging_postbacks', 'feed'].join(','));
  });

  test('connect: a refused subscription (missing permission) → permanent, naming the Page and the fix', async () => {
    const proxy = await refusingGraph(sb, { status: 403, error: { message: '(#200) Requires pages_manage_metadata permission to manage the object', type: 'OAuthException', code: 200, fbtrace_id: 'AxYz' } });
    try {
      const refused = new MessengerAdapter(platformConfig({ SANDBOX_URL: sb.url, META_GRAPH_URL: `${proxy.url}/graph.facebook.com` }));
      const err = await rejects(connect(refused), 'permanent', /could not subscribe the app to the webhooks of the Page "Sandbox Shop" \(101000000000001\): Graph error 200: .*pages_manage_metadata.*; connect again as an admin/);
      assert.equal(err.classification.code, 'webhook_subscription');
      assert.equal(err.status, 403);
      assert.deepEqual(refused.classify(err), err.classification);
    } finally {
      await proxy.close();
    }
  });

  test('connect: subscription outages and rate limits fail the connect, classified', async () => {
    await checkSubscribeFaults(sb, adapter);
  });

  test('send: text/media/HUMAN_AGENT to POST /{page-id}/messages; window, faults, token, recipient errors classified', async () => {
    await checkSend(sb, adapter, PAGE, { path: new RegExp(`/graph\\.facebook\\.com/v\\d+\\.0/${PAGE}/messages$`), bucCode: '80006', windowSubcode: 2018278 });
  });
});

describe('instagram adapter (Facebook Login, Page-linked)', () => {
  let sb: Sbx;
  let adapter: InstagramAdapter;
  let slow: InstagramAdapter;
  let conn: ConnectResult;
  before(async () => {
    sb = await useSandbox({ platforms: ['meta'], world: WORLD });
    const config = platformConfig({ SANDBOX_URL: sb.url });
    adapter = new InstagramAdapter(config);
    slow = new InstagramAdapter(config, { timeoutMs: 300 });
  });
  after(() => sb.close());

  test('connect: the Page-linked Instagram business account', async () => {
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    assert.equal(url.searchParams.get('scope'), 'instagram_basic,instagram_manage_messages,pages_manage_metadata,pages_show_list,pages_read_engagement');
    conn = await connect(adapter);
    assert.equal(conn.account.id, LINKED_IG);
    assert.equal(conn.account.handle, 'sandbox.boutique');
    assert.equal(conn.credentials.pageId, LINKED_PAGE);
    assert.equal(conn.credentialHints!.pageSelection, undefined, 'only one Page has Instagram linked');
    assert.equal(conn.tokenExpiresAt, undefined);
    assert.equal(await adapter.refresh(conn.credentials, conn.account), null);
    assert.deepEqual(await adapter.check(conn.credentials, conn.account), { id: LINKED_IG, name: 'Sandbox Boutique', handle: 'sandbox.boutique' });
  });

  test('connect: a Page without an Instagram business account, or missing IG scopes → permanent', async () => {
    await rejects(connect(adapter, {}, { pageId: PAGE }), 'permanent', new RegExp(NOT_LINKED));
    await rejects(connect(adapter, { sandbox_decline: 'instagram_manage_messages' }), 'permanent', /instagram_manage_messages/);
    conn = await connect(adapter);
  });

  let backfillCursor: SyncCursor;
  let someCustomer: string;
  test('backfill is shallow: the 20 newest messages of each thread', async () => {
    const { cursor, messages } = await checkBackfill(sb, adapter, conn, Math.min(IG_HORIZON, WORLD.messagesPerConversation));
    backfillCursor = cursor;
    const inbound = messages.find((m) => m.direction === 'inbound')!;
    someCustomer = inbound.sender.externalId;
    assert.match(inbound.conversation.participant.handle!, /^[a-z]+\.\d+$/, 'IG participants have usernames');
  });

  test('incremental returns exactly the new messages', async () => {
    await checkIncremental(sb, adapter, conn, LINKED_IG, backfillCursor, someCustomer);
  });

  test('faults: rate limits (Instagram BUC), 5xx, timeouts', async () => {
    await checkFaults(sb, adapter, conn, slow, '80002');
  });

  test('revoked token → reauth; revoke() removes the app', async () => {
    await sb.admin('POST', '/tokens/revoke', { token: conn.credentials.accessToken, subcode: 460 });
    const err = await rejects(adapter.check(conn.credentials, conn.account), 'reauth', /password/);
    assertNoSecrets(err, Object.values(conn.credentials));
    const live = await connect(adapter);
    await adapter.revoke(live.credentials);
    await rejects(adapter.fetchPage({ credentials: live.credentials, account: live.account, cursor: null, mode: 'incremental' }), 'reauth');
  });
  test('connect subscribes the linked Page; its Instagram webhooks flow only then', async () => {
    const appId = platformConfig({ SANDBOX_URL: sb.url }).meta.appId;
    const first = await connect(adapter);
    const pageToken = first.credentials.accessToken;
    await subscribedApps(sb, 'graph.facebook.com', LINKED_PAGE, pageToken, 'DELETE');
    const receiver = await webhookReceiver();
    await sb.admin('PUT', '/webhooks/targets/meta', { url: receiver.url });
    try {
      const unheard = await sb.admin('POST', '/customers/meta/messages', { accountId: LINKED_IG, text: 'anyone there?' });
      assert.equal(unheard.status, 201, JSON.stringify(unheard.json));

      const conn2 = await connect(adapter);
      assert.deepEqual(await subscribedFields(sb, 'graph.facebook.com', LINKED_PAGE, conn2.credentials.accessToken, appId), [...PAGE_WEBHOOK_FIELDS].sort());
      assert.equal(conn2.credentialHints!.webhookFields, PAGE_WEBHOOK_FIELDS.join(','));
      const heard = await sb.admin('POST', '/customers/meta/messages', { accountId: LINKED_IG, text: 'hello again' });
      assert.equal(heard.status, 201, JSON.stringify(heard.json));
      const [delivery] = await receiver.waitFor(1);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(receiver.received.length, 1, 'nothing was sent for the message written while unsubscribed');
      const payload = JSON.parse(delivery!.body) as { object: string; entry: { id: string; messaging: { message: { mid: string } }[] }[] };
      assert.equal(payload.object, 'instagram');
      assert.equal(payload.entry[0]!.id, LINKED_IG);
      assert.equal(payload.entry[0]!.messaging[0]!.message.mid, heard.json.messageId);
    } finally {
      await sb.admin('PUT', '/webhooks/targets/meta', { url: null });
      await receiver.close();
    }
  });

  test('connect: a refused subscription on the Page → permanent; outages and rate limits classified', async () => {
    const proxy = await refusingGraph(sb, { status: 403, error: { message: '(#210) User not visible', type: 'OAuthException', code: 210 } });
    try {
      const refused = new InstagramAdapter(platformConfig({ SANDBOX_URL: sb.url, META_GRAPH_URL: `${proxy.url}/graph.facebook.com` }));
      const err = await rejects(connect(refused), 'permanent', /webhooks of the Page "Sandbox Boutique" \(101000000000002\).*connect again/);
      assert.equal(err.classification.code, 'webhook_subscription');
    } finally {
      await proxy.close();
    }
    await checkSubscribeFaults(sb, adapter);
  });

  test('send: through the linked Page (POST /{page-id}/messages, IGSID); window, faults, token, recipient errors classified', async () => {
    await checkSend(sb, adapter, LINKED_IG, { path: new RegExp(`/graph\\.facebook\\.com/v\\d+\\.0/${LINKED_PAGE}/messages$`), bucCode: '80006', windowSubcode: 2534022 });
  });
});

describe('instagram_login adapter (Instagram Login)', () => {
  let sb: Sbx;
  let adapter: InstagramLoginAdapter;
  let slow: InstagramLoginAdapter;
  let conn: ConnectResult;
  before(async () => {
    sb = await useSandbox({ platforms: ['meta'], world: WORLD });
    const config = platformConfig({ SANDBOX_URL: sb.url });
    adapter = new InstagramLoginAdapter(config);
    slow = new InstagramLoginAdapter(config, { timeoutMs: 300 });
  });
  after(() => sb.close());

  test('connect (flat response, user_id a bare number beyond 2^53) → long-lived token, professional id', async () => {
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    assert.match(url.pathname, /\/www\.instagram\.com\/oauth\/authorize$/);
    assert.equal(url.searchParams.get('scope'), 'instagram_business_basic,instagram_business_manage_messages');
    conn = await connect(adapter);
    assert.equal(conn.account.id, LOGIN_IG);
    assert.equal(conn.credentials.loginUserId, LOGIN_IG, 'the bare-number user_id parsed exactly');
    assert.equal(conn.credentials.appScopedId, LOGIN_IG_APP_SCOPED);
    assert.equal(conn.account.handle, 'sandbox.studio');
    assert.match(String(conn.credentials.accessToken), /^IGAA/);
    assert.ok(Math.abs(conn.tokenExpiresAt! - (Date.now() + 60 * 86_400_000)) < 5000, 'expiry from expires_in');
    assert.equal(conn.credentialHints!.scopes, 'instagram_business_basic,instagram_business_manage_messages');
    assert.deepEqual(await adapter.check(conn.credentials, conn.account), { id: LOGIN_IG, name: 'Sandbox Studio', handle: 'sandbox.studio' });
  });

  test('connect (documented {"data":[…]} response with CSV permissions)', async () => {
    const other = await connect(adapter, { sandbox_response_shape: 'data' });
    assert.equal(other.account.id, LOGIN_IG);
    assert.equal(other.credentials.loginUserId, LOGIN_IG_APP_SCOPED);
    assert.equal(other.credentialHints!.scopes, 'instagram_business_basic,instagram_business_manage_messages');
  });

  test('connect: denied consent, declined scope, bad code → permanent', async () => {
    const denied = await consent(adapter, { sandbox_action: 'deny' });
    assert.equal(denied.get('error'), 'access_denied');
    await rejects(connect(adapter, { sandbox_decline: 'instagram_business_manage_messages' }), 'permanent', /instagram_business_manage_messages/);
    const bad = await rejects(adapter.exchangeCode({ code: 'AQbogus#_', redirectUri: REDIRECT }), 'permanent', /code/);
    assert.equal(bad.status, 400);
  });

  let backfillCursor: SyncCursor;
  let someCustomer: string;
  test('backfill is shallow: the 20 newest messages of each thread', async () => {
    const { cursor, messages } = await checkBackfill(sb, adapter, conn, Math.min(IG_HORIZON, WORLD.messagesPerConversation));
    backfillCursor = cursor;
    someCustomer = messages.find((m) => m.direction === 'inbound')!.sender.externalId;
    assert.ok(messages.filter((m) => m.direction === 'outbound').every((m) => m.sender.externalId === LOGIN_IG));
  });

  test('incremental returns exactly the new messages', async () => {
    await checkIncremental(sb, adapter, conn, LOGIN_IG, backfillCursor, someCustomer);
  });

  test('faults: rate limits (Instagram BUC), 5xx, timeouts', async () => {
    await checkFaults(sb, adapter, conn, slow, '80002');
  });

  test('refresh: too young is kept; a day later a new token with the expiry from the response', async () => {
    await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'ig_long', seconds: 2 * 86_400 });
    try {
      const young = await connect(adapter);
      assert.ok(Math.abs(young.tokenExpiresAt! - (Date.now() + 2 * 86_400_000)) < 5000);
      // By our own record it is too young: nothing is called, nothing changes.
      assert.deepEqual(await adapter.refresh(young.credentials), { credentials: young.credentials, tokenExpiresAt: young.tokenExpiresAt });
      // Without our record Instagram says so itself (must be 24 h old): still kept, not an error.
      const unknownAge = { ...young.credentials, tokenIssuedAt: undefined };
      assert.deepEqual(await adapter.refresh(unknownAge), { credentials: unknownAge, tokenExpiresAt: young.tokenExpiresAt });

      await sb.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
      const aged = { ...young.credentials, tokenIssuedAt: Date.now() - 25 * 3_600_000 };
      await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'ig_long', seconds: 3 * 86_400 });
      const refreshed = await adapter.refresh(aged);
      assert.ok(refreshed);
      assert.notEqual(refreshed.credentials.accessToken, young.credentials.accessToken);
      assert.ok(Math.abs(refreshed.tokenExpiresAt! - (Date.now() + 3 * 86_400_000)) < 5000, 'expires_in of the refresh response');
      assert.ok(Number(refreshed.credentials.tokenIssuedAt) >= Date.now() - 5000);
      assert.equal((await adapter.check(refreshed.credentials, young.account)).id, LOGIN_IG);
    } finally {
      await sb.admin('PUT', '/tokens/ttl', { platform: 'meta', kind: 'ig_long', seconds: null });
    }
  });

  test('expired or revoked token → reauth', async () => {
    const a = await connect(adapter);
    await sb.admin('POST', '/tokens/expire', { token: a.credentials.accessToken });
    const expired = await rejects(adapter.check(a.credentials, a.account), 'reauth', /expired/);
    assertNoSecrets(expired, Object.values(a.credentials));
    const old = { ...a.credentials, tokenIssuedAt: Date.now() - 30 * 86_400_000 };
    await rejects(adapter.refresh(old), 'reauth');

    const b = await connect(adapter);
    await sb.admin('POST', '/tokens/revoke', { token: b.credentials.accessToken });
    const revoked = await rejects(adapter.fetchPage({ credentials: b.credentials, account: b.account, cursor: null, mode: 'backfill' }), 'reauth');
    assert.equal(adapter.classify(revoked).code, '190');
    assert.equal((adapter as ChannelAdapter).revoke, undefined, 'Instagram Login has no revoke endpoint');
  });
  test('connect subscribes the Instagram account (graph.instagram.com/me/subscribed_apps), keeping fields it already had', async () => {
    const appId = platformConfig({ SANDBOX_URL: sb.url }).instagram.appId;
    const first = await connect(adapter);
    const igToken = first.credentials.accessToken;
    await subscribedApps(sb, 'graph.instagram.com', 'me', igToken, 'DELETE');
    assert.deepEqual(await subscribedFields(sb, 'graph.instagram.com', 'me', igToken, appId), [], 'unsubscribed before connecting');

    const fresh = await connect(adapter);
    assert.deepEqual(await subscribedFields(sb, 'graph.instagram.com', 'me', fresh.credentials.accessToken, appId), ['message_reactions', 'messages', 'messaging_seen']);
    assert.equal(fresh.credentialHints!.webhookFields, INSTAGRAM_WEBHOOK_FIELDS.join(','));

    await subscribedApps(sb, 'graph.instagram.com', 'me', igToken, 'POST', ['messages', 'messaging_postbacks', 'comments']);
    await connect(adapter);
    assert.deepEqual(await subscribedFields(sb, 'graph.instagram.com', 'me', igToken, appId), [...INSTAGRAM_WEBHOOK_FIELDS, 'messaging_postbacks', 'comments'].sort());
  });

  test('connect: a refused subscription → permanent; outages and rate limits classified', async () => {
    const proxy = await refusingGraph(sb, { status: 403, error: { message: '(#10) Application does not have permission for this action', type: 'IGApiException', code: 10 } });
    try {
      const refused = new InstagramLoginAdapter(platformConfig({ SANDBOX_URL: sb.url, INSTAGRAM_GRAPH_URL: `${proxy.url}/graph.instagram.com` }));
      const err = await rejects(connect(refused), 'permanent', /webhooks of the Instagram account @sandbox\.studio: Graph error 10: .*; connect again and keep instagram_business_manage_messages granted/);
      assert.equal(err.classification.code, 'webhook_subscription');
    } finally {
      await proxy.close();
    }
    await checkSubscribeFaults(sb, adapter);
  });

  test('send: graph.instagram.com/me/messages; window, faults, token, recipient errors classified', async () => {
    await checkSend(sb, adapter, LOGIN_IG, { path: /\/graph\.instagram\.com\/v\d+\.0\/me\/messages$/, bucCode: '80002', windowSubcode: 2534022 });
  });
});
