// The Twilio WhatsApp adapter against the in-process sandbox: connect with an Auth Token or an API
// key, wrong input/credentials, backfill of the seeded history through several list pages (counted
// against the sandbox's own Messages list), incremental pages that return exactly the new messages,
// re-runs with the same cursor, media attachments, and error classes for revoked credentials,
// injected 429/5xx and timeouts; send (text, media, Content API templates, StatusCallback) with every
// failure classified, checked against the sandbox's Messages resource and its status callbacks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { platformConfig } from '../../lib/platform-config';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { twilioDeliveryFailure, WhatsAppTwilioAdapter } from '../../activities/platforms/whatsapp-twilio';
import { PlatformError, type AccountInfo, type Credentials, type NormalizedMessage, type OutboundMessage, type SyncCursor, type SyncPage } from '../../activities/platforms/types';
import { twilioWebhookSource } from '../../api/webhooks/sources/twilio';
import type { VerifyContext } from '../../api/webhooks/sources/types';
import { twilioSignature } from '../../sandbox/platforms/twilio';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SENDER = 'whatsapp:+14155238886';
const OPEN_CUSTOMER = 'whatsapp:+5215512345678'; // wrote an hour ago: window open

let sb: Awaited<ReturnType<typeof useSandbox>>;
let adapter: WhatsAppTwilioAdapter;
let world: Json;
let accountSid: string;
let authToken: string;

before(async () => {
  sb = await useSandbox({ platforms: ['twilio'] });
  world = (await sb.admin('GET', '/world')).json.twilio;
  accountSid = world.accountSid;
  authToken = world.authToken;
  // Small pages so the seeded history (2 conversations × 3 messages) takes several list calls.
  adapter = new WhatsAppTwilioAdapter(platformConfig({ SANDBOX_URL: sb.url }), { pageSize: 2, timeoutMs: 500 });
});
after(async () => {
  await sb.admin('DELETE', '/faults');
  await sb.close();
});

async function rejects(fn: () => Promise<unknown>): Promise<PlatformError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.equal(err.platform, 'whatsapp_twilio');
    assert.deepEqual(adapter.classify(err), err.classification);
    assert.ok(!err.message.includes(authToken), 'the auth token must never appear in an error');
    return err;
  }
  assert.fail('expected a rejection');
}

/** The sandbox's own Messages list (all pages at once), read without the adapter. */
async function sandboxMessages(): Promise<Json[]> {
  const res = await fetch(`${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages.json?PageSize=1000`, {
    headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as Json).messages.filter((m: Json) => m.to === SENDER || m.from === SENDER);
}

const messagesOf = (page: SyncPage): NormalizedMessage[] => page.conversations.flatMap((c) => c.messages);

async function drain(credentials: Credentials, account: AccountInfo, mode: 'backfill' | 'incremental', cursor: SyncCursor | null) {
  const pages: SyncPage[] = [];
  for (let i = 0; i < 50; i++) {
    const page = await adapter.fetchPage({ credentials, account, cursor, mode });
    pages.push(page);
    cursor = page.cursor;
    if (page.done) return { pages, cursor };
  }
  assert.fail('sync never finished');
}

describe('connect', () => {
  test('Account SID + Auth Token and a whatsapp: sender', async () => {
    const res = await adapter.connectWithCredentials({ accountSid, authToken, whatsappNumber: SENDER });
    assert.deepEqual(res.account, { id: SENDER, name: 'WhatsApp +14155238886', handle: '+14155238886' });
    assert.deepEqual(res.credentials, { accountSid, authToken });
    assert.equal(res.tokenExpiresAt, undefined);
    assert.deepEqual(res.credentialHints, { accountSid: 'AC…0001', authMethod: 'auth_token', whatsappNumber: '…8886', authToken: `…${authToken.slice(-4)}` });
    // The validation call really went to Twilio's Messages resource with Basic auth.
    const calls = (await sb.admin('GET', '/requests?platform=twilio&endpoint=list')).json.data;
    assert.equal(calls.at(-1).status, 200);
    assert.match(calls.at(-1).headers.authorization, /^Basic /);
  });

  test('an API key (SK…) with the Account SID; a bare +E.164 number gets the whatsapp: prefix', async () => {
    const res = await adapter.connectWithCredentials({ accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret, whatsappNumber: '+1 415 523 8886' });
    assert.equal(res.account.id, SENDER);
    assert.deepEqual(res.credentials, { accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret });
    assert.equal(res.credentialHints?.authMethod, 'api_key');
    assert.ok(!JSON.stringify(res.credentialHints).includes(world.apiKey.secret));
    assert.equal((await adapter.check(res.credentials, res.account)).id, SENDER);
  });

  test('an API key with webhookAuthToken: stored for webhook verification, masked in the hints, not sent to Twilio', async () => {
    const before = (await sb.admin('GET', '/requests?platform=twilio')).json.data.length;
    const res = await adapter.connectWithCredentials({ accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret, webhookAuthToken: ` ${authToken} `, whatsappNumber: SENDER });
    assert.deepEqual(res.credentials, { accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret, webhookAuthToken: authToken });
    assert.deepEqual(res.credentialHints, {
      accountSid: 'AC…0001', authMethod: 'api_key', whatsappNumber: '…8886',
      apiKeySid: `SK…${world.apiKey.sid.slice(-4)}`, apiKeySecret: `…${world.apiKey.secret.slice(-4)}`, webhookAuthToken: `…${authToken.slice(-4)}`,
    });
    assert.ok(!JSON.stringify(res.credentialHints).includes(authToken));
    // Only the validation call went out, authenticated with the API key; the Auth Token never left.
    const calls = (await sb.admin('GET', '/requests?platform=twilio')).json.data.slice(before);
    assert.equal(calls.length, 1);
    assert.match(calls[0].headers.authorization, /^Basic /); // the sandbox records it truncated
    assert.equal(calls[0].status, 200);
    assert.ok(!JSON.stringify(calls).includes(authToken));
    assert.equal((await adapter.check(res.credentials, res.account)).id, SENDER);

    // What is stored is what the webhook source verifies Twilio's signature with.
    const url = 'https://inbox.example/webhooks/twilio';
    const params = { AccountSid: accountSid, MessageSid: `SM${'a'.repeat(32)}`, From: OPEN_CUSTOMER, To: SENDER, Body: 'hi', NumMedia: '0', SmsStatus: 'received' };
    const ctx = (credentials: Credentials): VerifyContext => ({
      secrets: { metaAppSecrets: [], metaVerifyToken: '', tiktokClientSecret: '', gmailPushToken: '' },
      channelCredentials: async (platform, accountId) => (platform === 'whatsapp_twilio' && accountId === SENDER ? [credentials] : []),
    });
    const request = { body: Buffer.from(new URLSearchParams(params).toString()), headers: { 'x-twilio-signature': twilioSignature(authToken, url, params) }, url, query: {}, receivedAt: Date.now() };
    assert.deepEqual(await twilioWebhookSource.verify(request, ctx(res.credentials)), { ok: true });
    const withoutToken = await adapter.connectWithCredentials({ accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret, whatsappNumber: SENDER });
    assert.equal(withoutToken.credentials.webhookAuthToken, undefined);
    assert.equal(withoutToken.credentialHints?.webhookAuthToken, undefined);
    assert.deepEqual(await twilioWebhookSource.verify(request, ctx(withoutToken.credentials)), { ok: false, reason: `the channel for ${SENDER} has no Auth Token to verify with (connected with an API key; set webhookAuthToken)` });
  });

  test('webhookAuthToken: the API key secret, a non-string, or a second token beside authToken is refused (permanent)', async () => {
    const apiKey = { accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: world.apiKey.secret, whatsappNumber: SENDER };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...apiKey, webhookAuthToken: world.apiKey.secret }, /not the API key secret/],
      [{ ...apiKey, webhookAuthToken: 12345 }, /webhookAuthToken must be a string/],
      [{ accountSid, authToken, webhookAuthToken: 'f'.repeat(32), whatsappNumber: SENDER }, /only for API-key channels/],
    ];
    for (const [input, pattern] of cases) {
      const err = await rejects(() => adapter.connectWithCredentials(input));
      assert.equal(err.classification.kind, 'permanent');
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(world.apiKey.secret));
    }
    // The same token beside authToken is harmless and not stored twice.
    const same = await adapter.connectWithCredentials({ accountSid, authToken, webhookAuthToken: authToken, whatsappNumber: SENDER });
    assert.deepEqual(same.credentials, { accountSid, authToken });
  });

  test('a wrong Auth Token or API secret is reauth (20003, HTTP 401)', async () => {
    for (const input of [{ accountSid, authToken: 'wrong-token', whatsappNumber: SENDER }, { accountSid, apiKeySid: world.apiKey.sid, apiKeySecret: 'wrong', whatsappNumber: SENDER }]) {
      const err = await rejects(() => adapter.connectWithCredentials(input));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'reauth', code: '20003', status: 401 });
    }
  });

  test('bad input is permanent, before any call', async () => {
    const inputs: Array<Record<string, unknown>> = [
      { authToken, whatsappNumber: SENDER },
      { accountSid: 'SK00000000000000000000000000000001', authToken, whatsappNumber: SENDER },
      { accountSid, whatsappNumber: SENDER },
      { accountSid, apiKeySid: world.apiKey.sid, whatsappNumber: SENDER },
      { accountSid, authToken },
      { accountSid, authToken, whatsappNumber: 'sms:+14155238886' },
      { accountSid, authToken, whatsappNumber: 'messenger:12345' },
      { accountSid, authToken, whatsappNumber: 'whatsapp:+0123' },
    ];
    for (const input of inputs) {
      const err = await rejects(() => adapter.connectWithCredentials(input));
      assert.equal(err.classification.kind, 'permanent', JSON.stringify(input));
    }
  });
});

describe('sync', () => {
  let credentials: Credentials;
  let account: AccountInfo;
  let afterBackfill: SyncCursor;
  before(async () => {
    ({ credentials, account } = await adapter.connectWithCredentials({ accountSid, authToken, whatsappNumber: SENDER }));
  });

  test('backfill walks the seeded history to completion, matching the sandbox', async () => {
    const { pages, cursor } = await drain(credentials, account, 'backfill', null);
    afterBackfill = cursor;
    assert.ok(pages.length >= 3, `expected several pages with pageSize 2, got ${pages.length}`);
    for (const page of pages) assert.ok(messagesOf(page).length <= 2);

    const got = pages.flatMap(messagesOf);
    const expected = await sandboxMessages();
    assert.equal(got.length, 6, 'seeded: 2 conversations × 3 messages');
    assert.equal(got.length, expected.length);
    assert.deepEqual(new Set(got.map((m) => m.externalId)), new Set(expected.map((m: Json) => m.sid)));
    assert.equal(new Set(got.map((m) => m.externalId)).size, got.length, 'no message twice');

    for (const raw of expected) {
      const m = got.find((x) => x.externalId === raw.sid)!;
      assert.equal(m.direction, raw.to === SENDER ? 'inbound' : 'outbound');
      assert.equal(m.text, raw.body);
      assert.equal(m.timestamp, Date.parse(raw.date_sent), 'RFC 2822 date_sent → ms');
      assert.equal(m.sender.externalId, raw.from);
    }
    // Grouped by customer: the conversation IDs are the customers' WhatsApp addresses.
    const customers = new Set(pages.flatMap((p) => p.conversations.map((c) => c.externalId)));
    assert.deepEqual(customers, new Set(world.customers.map((c: Json) => `whatsapp:${c.phone}`)));
    for (const conv of pages.flatMap((p) => p.conversations)) {
      assert.equal(conv.participant.externalId, conv.externalId);
      assert.equal(conv.participant.handle, conv.externalId.replace('whatsapp:', ''));
      for (const m of conv.messages) assert.ok(m.sender.externalId === conv.externalId || m.sender.externalId === SENDER);
    }

    // Finished: another backfill call with the final cursor returns nothing.
    const again = await adapter.fetchPage({ credentials, account, cursor, mode: 'backfill' });
    assert.deepEqual(again, { conversations: [], cursor, done: true });
  });

  test('a failed page can be retried with the same cursor', async () => {
    const first = await adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' });
    assert.equal(first.done, false);
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'list', errorRate: 1, errorStatus: 500, remaining: 1 });
    const err = await rejects(() => adapter.fetchPage({ credentials, account, cursor: first.cursor, mode: 'backfill' }));
    assert.equal(err.classification.kind, 'retryable');
    const retried = await adapter.fetchPage({ credentials, account, cursor: first.cursor, mode: 'backfill' });
    const replay = await adapter.fetchPage({ credentials, account, cursor: first.cursor, mode: 'backfill' });
    assert.deepEqual(replay, retried, 'same cursor, same page');
    const rest = await drain(credentials, account, 'backfill', retried.cursor);
    const all = [first, retried, ...rest.pages].flatMap(messagesOf);
    assert.equal(all.length, 6);
  });

  test('incremental returns exactly the new inbound message; the same cursor again is harmless', async () => {
    const idle = await adapter.fetchPage({ credentials, account, cursor: afterBackfill, mode: 'incremental' });
    assert.deepEqual(idle.conversations, [], 'nothing new yet');
    assert.equal(idle.done, true);

    const wrote = (await sb.admin('POST', '/customers/twilio/messages', { customerId: OPEN_CUSTOMER, text: 'Is it shipped?' })).json;
    const page = await adapter.fetchPage({ credentials, account, cursor: idle.cursor, mode: 'incremental' });
    assert.equal(page.done, true);
    assert.equal(page.conversations.length, 1);
    assert.equal(page.conversations[0]!.externalId, OPEN_CUSTOMER);
    assert.deepEqual(messagesOf(page).map((m) => [m.externalId, m.direction, m.text]), [[wrote.messageId, 'inbound', 'Is it shipped?']]);

    const replay = await adapter.fetchPage({ credentials, account, cursor: idle.cursor, mode: 'incremental' });
    assert.deepEqual(replay, page, 're-running with the same cursor gives the same page');

    const next = await adapter.fetchPage({ credentials, account, cursor: page.cursor, mode: 'incremental' });
    assert.deepEqual(next.conversations, [], 'nothing twice');
    afterBackfill = next.cursor;
  });

  test('incremental picks up outbound messages too, once (even after date_sent is set)', async () => {
    const res = await fetch(`${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ From: SENDER, To: OPEN_CUSTOMER, Body: 'Yes, today' }),
    });
    assert.equal(res.status, 201);
    const sent = (await res.json()) as Json;
    const page = await adapter.fetchPage({ credentials, account, cursor: afterBackfill, mode: 'incremental' });
    assert.deepEqual(messagesOf(page).map((m) => [m.externalId, m.direction, m.sender.externalId, m.text]), [[sent.sid, 'outbound', SENDER, 'Yes, today']]);
    await new Promise((r) => setTimeout(r, 200)); // the sandbox marks it sent → delivered → read
    const later = await adapter.fetchPage({ credentials, account, cursor: page.cursor, mode: 'incremental' });
    assert.deepEqual(later.conversations, []);
    afterBackfill = later.cursor;
  });

  test('several new messages across customers and pages, with media as attachments', async () => {
    const a = (await sb.admin('POST', '/customers/twilio/messages', { customerId: OPEN_CUSTOMER, text: 'photo', media: true })).json;
    const b = (await sb.admin('POST', '/customers/twilio/messages', { customerId: '+447700900123', text: 'hello from a new customer' })).json;
    const c = (await sb.admin('POST', '/customers/twilio/messages', { customerId: OPEN_CUSTOMER, text: 'and one more' })).json;
    const { pages, cursor } = await drain(credentials, account, 'incremental', afterBackfill);
    const got = pages.flatMap(messagesOf);
    assert.deepEqual(new Set(got.map((m) => m.externalId)), new Set([a.messageId, b.messageId, c.messageId]));
    assert.equal(got.length, 3);

    const photo = got.find((m) => m.externalId === a.messageId)!;
    assert.equal(photo.attachments?.length, 1);
    const [att] = photo.attachments!;
    assert.equal(att!.type, 'image');
    assert.equal(att!.mimeType, 'image/png');
    assert.match(att!.platformMediaId!, /^ME[0-9a-f]{32}$/);
    const file = await fetch(att!.url!);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');

    const newCustomer = pages.flatMap((p) => p.conversations).find((conv) => conv.externalId === 'whatsapp:+447700900123');
    assert.ok(newCustomer, 'a first-time customer gets a conversation');
    afterBackfill = cursor;
  });

  test('incremental without a cursor starts at the current end of history', async () => {
    const start = await adapter.fetchPage({ credentials, account, cursor: null, mode: 'incremental' });
    assert.deepEqual(start.conversations, []);
    assert.equal(start.done, true);
    const wrote = (await sb.admin('POST', '/customers/twilio/messages', { customerId: OPEN_CUSTOMER, text: 'after bootstrap' })).json;
    const { pages } = await drain(credentials, account, 'incremental', start.cursor);
    assert.deepEqual(pages.flatMap(messagesOf).map((m) => m.externalId), [wrote.messageId]);
  });

  test('messages that arrive during a backfill are returned by the next incremental page', async () => {
    // Backfill lists inbound, then outbound. An inbound message written while the inbound pass is
    // under way, followed minutes later by an outbound one, must not fall below the watermark.
    const first = await adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' });
    assert.equal(first.cursor.phase, 'inbound');
    assert.equal(typeof first.cursor.next, 'string', 'the inbound pass is not finished');
    const inbound = (await sb.admin('POST', '/customers/twilio/messages', { customerId: OPEN_CUSTOMER, text: 'during backfill' })).json;
    await sb.admin('POST', '/clock', { advanceSeconds: 180 });
    const res = await fetch(`${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ From: SENDER, To: OPEN_CUSTOMER, Body: 'three minutes later' }),
    });
    const outbound = (await res.json()) as Json;
    const rest = await drain(credentials, account, 'backfill', first.cursor);
    const backfilled = [first, ...rest.pages].flatMap(messagesOf).map((m) => m.externalId);
    assert.ok(backfilled.includes(outbound.sid), 'the outbound pass started after the send');
    assert.ok(!backfilled.includes(inbound.messageId), 'the inbound pass had already passed the top');
    const { pages } = await drain(credentials, account, 'incremental', rest.cursor);
    assert.deepEqual(pages.flatMap(messagesOf).map((m) => m.externalId), [inbound.messageId]);
  });

  test('a garbled cursor is a permanent error', async () => {
    const err = await rejects(() => adapter.fetchPage({ credentials, account, cursor: { v: 99 }, mode: 'incremental' }));
    assert.equal(err.classification.kind, 'permanent');
  });
});

describe('credentials and errors', () => {
  let credentials: Credentials;
  let account: AccountInfo;
  before(async () => {
    ({ credentials, account } = await adapter.connectWithCredentials({ accountSid, authToken, whatsappNumber: SENDER }));
  });

  test('refresh() returns null: auth tokens and API keys do not expire', async () => {
    assert.equal(await adapter.refresh(), null);
  });

  test('check() makes an authenticated call', async () => {
    const before = (await sb.admin('GET', '/requests?platform=twilio&endpoint=list')).json.data.length;
    assert.deepEqual(await adapter.check(credentials, account), account);
    assert.equal((await sb.admin('GET', '/requests?platform=twilio&endpoint=list')).json.data.length, before + 1);
  });

  test('a revoked auth token: check() and fetchPage() fail as reauth', async () => {
    await sb.admin('POST', '/tokens/revoke', { token: authToken });
    try {
      for (const call of [() => adapter.check(credentials, account), () => adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' })]) {
        const err = await rejects(call);
        assert.equal(adapter.classify(err).kind, 'reauth');
      }
    } finally {
      await sb.admin('POST', '/tokens/restore', { token: authToken });
    }
    assert.ok(await adapter.check(credentials, account));
  });

  test('an injected 429 is rate_limited with the Retry-After', async () => {
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'list', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
    const err = await rejects(() => adapter.check(credentials, account));
    assert.equal(err.status, 429);
    assert.deepEqual(err.classification, { kind: 'rate_limited', retryAfterMs: 7000, message: 'Twilio 429 error 20429: Too Many Requests', code: '20429' });
  });

  test('injected 5xx are retryable; a 404 is permanent', async () => {
    for (const [status, kind, code] of [[500, 'retryable', '20500'], [503, 'retryable', '20503'], [404, 'permanent', '20404']] as const) {
      await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'list', errorRate: 1, errorStatus: status, remaining: 1 });
      const err = await rejects(() => adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind, code, status });
    }
  });

  test('a hanging request times out as retryable', async () => {
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'list', timeoutRate: 1, remaining: 1 });
    const err = await rejects(() => adapter.check(credentials, account));
    assert.equal(err.classification.kind, 'retryable');
    assert.match(err.message, /timed out/);
  });

  test('missing stored credentials are reauth', async () => {
    const err = await rejects(() => adapter.check({ accountSid }, account));
    assert.equal(err.classification.kind, 'reauth');
  });
});

describe('send', () => {
  const CLOSED_CUSTOMER = 'whatsapp:+15551234567'; // last wrote more than a day ago
  let credentials: Credentials;
  let account: AccountInfo;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let callbackUrl: string;
  let ref = 0;
  const message = (to: string, extra: Partial<OutboundMessage>): OutboundMessage => ({ clientRef: `msg_${++ref}`, to: { externalId: to }, conversationExternalId: to, ...extra });
  /** `statusCallbackUrl: null` sends without one. */
  const send = (to: string, extra: Partial<OutboundMessage>, statusCallbackUrl: string | null = callbackUrl) =>
    adapter.send({ credentials, account, message: message(to, extra), statusCallbackUrl: statusCallbackUrl ?? undefined });
  const sendRequests = async () => (await sb.admin('GET', '/requests?platform=twilio&endpoint=send')).json.data as Json[];
  const lastSendForm = async () => Object.fromEntries(new URLSearchParams((await sendRequests()).at(-1).body));
  const contentSid = (name: string): string => world.contentTemplates.find((t: Json) => t.friendlyName === name).sid;
  async function fetchMessage(sid: string): Promise<Json> {
    const res = await fetch(`${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`, {
      headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    return res.json();
  }
  /** The status callbacks posted for one MessageSid (waits for `count`). */
  async function callbacksOf(sid: string, count: number): Promise<Array<Record<string, string>>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = hooks.received.map((w) => Object.fromEntries(new URLSearchParams(w.body))).filter((p) => p.MessageSid === sid);
      if (found.length >= count) return found;
      if (Date.now() > deadline) assert.fail(`expected ${count} callbacks for ${sid}, got ${found.map((f) => f.MessageStatus).join(',')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    ({ credentials, account } = await adapter.connectWithCredentials({ accountSid, authToken, whatsappNumber: SENDER }));
    hooks = await webhookReceiver();
    callbackUrl = `${hooks.url}/webhooks/twilio/status?channel=ch_1`;
  });
  after(async () => {
    await sb.admin('DELETE', '/faults');
    await hooks.close();
  });

  test('a text: From = the sender, To = the customer, StatusCallback; the MessageSid is the externalId the callbacks carry', async () => {
    const res = await send(OPEN_CUSTOMER, { text: 'Hola Ana' });
    assert.match(res.externalId, /^SM[0-9a-f]{32}$/);
    const request = (await sendRequests()).at(-1);
    assert.equal(request.status, 201);
    assert.deepEqual(await lastSendForm(), { From: SENDER, To: OPEN_CUSTOMER, Body: 'Hola Ana', StatusCallback: callbackUrl });
    const stored = await fetchMessage(res.externalId);
    assert.deepEqual({ from: stored.from, to: stored.to, body: stored.body, direction: stored.direction }, { from: SENDER, to: OPEN_CUSTOMER, body: 'Hola Ana', direction: 'outbound-api' });
    assert.equal(res.timestamp, Date.parse(stored.date_created));
    const callbacks = await callbacksOf(res.externalId, 3);
    assert.deepEqual(callbacks.map((p) => p.MessageStatus), ['sent', 'delivered', 'read']);
    assert.ok(hooks.received.filter((w) => new URLSearchParams(w.body).get('MessageSid') === res.externalId).every((w) => w.url === '/webhooks/twilio/status?channel=ch_1'));
  });

  test('a bare +E.164 or digits-only recipient gets the whatsapp: prefix; no StatusCallback when none is given', async () => {
    await send('+5215512345678', { text: 'uno' }, null);
    assert.deepEqual(await lastSendForm(), { From: SENDER, To: OPEN_CUSTOMER, Body: 'uno' });
    await send('5215512345678', { text: 'dos' }, null);
    assert.equal((await lastSendForm()).To, OPEN_CUSTOMER);
  });

  test('media by URL: MediaUrl with the caption (or text) as Body', async () => {
    const res = await send(OPEN_CUSTOMER, { media: { type: 'image', url: 'https://cdn.example/p.jpg', caption: 'la foto' } });
    assert.deepEqual(await lastSendForm(), { From: SENDER, To: OPEN_CUSTOMER, Body: 'la foto', MediaUrl: 'https://cdn.example/p.jpg', StatusCallback: callbackUrl });
    assert.equal((await fetchMessage(res.externalId)).num_media, '1');
    await send(OPEN_CUSTOMER, { media: { type: 'file', url: 'https://cdn.example/f.pdf', name: 'f.pdf' } });
    const form = await lastSendForm();
    assert.equal(form.MediaUrl, 'https://cdn.example/f.pdf');
    assert.equal(form.Body, undefined);
  });

  test('a template is a Content SID with ContentVariables from the parameters; it goes through outside the window', async () => {
    const sid = contentSid('order_update');
    const res = await send(CLOSED_CUSTOMER, { template: { name: sid, language: 'es_MX', parameters: ['Ana', '#1042'] } });
    assert.deepEqual(await lastSendForm(), { From: SENDER, To: CLOSED_CUSTOMER, ContentSid: sid, ContentVariables: '{"1":"Ana","2":"#1042"}', StatusCallback: callbackUrl });
    assert.equal((await fetchMessage(res.externalId)).body, 'Hola Ana, tu pedido #1042 va en camino.');
    assert.deepEqual((await callbacksOf(res.externalId, 3)).map((p) => p.MessageStatus), ['sent', 'delivered', 'read']);

    // Too few variables: queued, then failed 63028 (permanent).
    const short = await send(CLOSED_CUSTOMER, { template: { name: sid, language: 'es_MX', parameters: ['Ana'] } });
    const [failed] = await callbacksOf(short.externalId, 1);
    assert.equal(failed!.MessageStatus, 'failed');
    assert.deepEqual({ kind: twilioDeliveryFailure(failed!.ErrorCode!).kind, code: twilioDeliveryFailure(failed!.ErrorCode!).code }, { kind: 'permanent', code: '63028' });

    // An unknown Content SID is refused by Twilio (21655).
    const unknown = await rejects(() => send(OPEN_CUSTOMER, { template: { name: `HX${'0'.repeat(32)}`, language: 'en' } }));
    assert.deepEqual({ kind: unknown.classification.kind, code: unknown.classification.code }, { kind: 'permanent', code: '21655' });
  });

  test('content Twilio cannot carry is permanent, before any call', async () => {
    const count = (await sendRequests()).length;
    for (const extra of [{}, { text: ' ' }, { text: 'x'.repeat(1601) }, { template: { name: 'order_update', language: 'es_MX' } }, { media: { type: 'image' as const, url: 'ftp://x/p.jpg' } }]) {
      const err = await rejects(() => send(OPEN_CUSTOMER, extra));
      assert.equal(err.classification.kind, 'permanent');
    }
    assert.equal((await sendRequests()).length, count);
  });

  test('free-form outside the window: queued, then failed 63016 → window_closed (a template is needed)', async () => {
    const res = await send(CLOSED_CUSTOMER, { text: 'Still there?' });
    const [failed] = await callbacksOf(res.externalId, 1);
    assert.deepEqual({ status: failed!.MessageStatus, code: failed!.ErrorCode }, { status: 'failed', code: '63016' });
    const cls = twilioDeliveryFailure(failed!.ErrorCode!, failed!.ErrorMessage);
    assert.deepEqual({ kind: cls.kind, code: cls.code }, { kind: 'permanent', code: 'window_closed' });
    assert.match(cls.message, /63016.*template/);
  });

  test('a synchronous 63016 is a permanent window_closed error too', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 63016, message: 'Failed to send freeform message because you are outside the allowed window.', status: 400 })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const fake = new WhatsAppTwilioAdapter(platformConfig({ SANDBOX_URL: sb.url, TWILIO_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
      const err = await rejects(() => fake.send({ credentials, account, message: message(OPEN_CUSTOMER, { text: 'hi' }) }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'permanent', code: 'window_closed', status: 400 });
      assert.match(err.message, /63016.*template/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('an invalid recipient is permanent: refused (21211), or undelivered after queueing (63003)', async () => {
    const err = await rejects(() => send('whatsapp:+12', { text: 'hi' }));
    assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'permanent', code: '21211', status: 400 });
    const local = await rejects(() => send('messenger:12345', { text: 'hi' }));
    assert.equal(local.classification.kind, 'permanent');

    const res = await send('whatsapp:+15550000000', { template: { name: contentSid('appointment_reminder'), language: 'en', parameters: ['Ana'] } });
    const callbacks = await callbacksOf(res.externalId, 2);
    const undelivered = callbacks.find((p) => p.MessageStatus === 'undelivered');
    assert.ok(undelivered);
    assert.deepEqual({ kind: twilioDeliveryFailure(undelivered.ErrorCode!).kind, code: twilioDeliveryFailure(undelivered.ErrorCode!).code }, { kind: 'permanent', code: '63003' });
  });

  test('injected 5xx on send are retryable; a hang times out as retryable', async () => {
    for (const [status, code] of [[500, '20500'], [503, '20503']] as const) {
      await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'send', errorRate: 1, errorStatus: status, remaining: 1 });
      const err = await rejects(() => send(OPEN_CUSTOMER, { text: 'hi' }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'retryable', code, status });
    }
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'send', timeoutRate: 1, remaining: 1 });
    assert.equal((await rejects(() => send(OPEN_CUSTOMER, { text: 'hi' }))).classification.kind, 'retryable');
  });

  test('an injected 429 (20429) is rate_limited with the Retry-After', async () => {
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 5, remaining: 1 });
    const err = await rejects(() => send(OPEN_CUSTOMER, { text: 'hi' }));
    assert.equal(err.status, 429);
    assert.deepEqual(err.classification, { kind: 'rate_limited', retryAfterMs: 5000, message: 'Twilio 429 error 20429: Too Many Requests', code: '20429' });
  });

  test('a revoked auth token is reauth (20003) and never appears in the error', async () => {
    await sb.admin('POST', '/tokens/revoke', { token: authToken });
    try {
      const err = await rejects(() => send(OPEN_CUSTOMER, { text: 'hi' }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'reauth', code: '20003', status: 401 });
    } finally {
      await sb.admin('POST', '/tokens/restore', { token: authToken });
    }
    const missing = await rejects(() => adapter.send({ credentials: { accountSid }, account, message: message(OPEN_CUSTOMER, { text: 'hi' }) }));
    assert.equal(missing.classification.kind, 'reauth');
  });

  // Last: it moves the sandbox clock forward for good.
  test('window closed (clock +24 h): the customer who wrote an hour ago now needs a template', async () => {
    assert.equal((await sb.admin('POST', '/clock', { advanceSeconds: 24 * 3600 })).status, 200);
    const res = await send(OPEN_CUSTOMER, { text: 'Still there?' });
    const [failed] = await callbacksOf(res.externalId, 1);
    assert.equal(failed!.ErrorCode, '63016');
    assert.equal(twilioDeliveryFailure(failed!.ErrorCode!).code, 'window_closed');
    const template = await send(OPEN_CUSTOMER, { template: { name: contentSid('appointment_reminder'), language: 'en', parameters: ['Ana'] } });
    assert.deepEqual((await callbacksOf(template.externalId, 3)).map((p) => p.MessageStatus), ['sent', 'delivered', 'read']);
  });
});
