// The TikTok adapter against the in-process sandbox: Login Kit consent driven by query params,
// code exchange and account discovery, denied/partial consent, Business Messaging backfill and
// incremental sync, rotating refresh tokens, revocation and injected faults.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TikTokAdapter } from '../../activities/platforms/tiktok';
import { PlatformError, type AccountInfo, type Credentials, type SyncCursor, type SyncPage } from '../../activities/platforms/types';
import { platformConfig } from '../../lib/platform-config';
import type { TikTokPlatform } from '../../sandbox/platforms/tiktok';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const CONVERSATIONS = 23; // more than one page of 20
const PER_CONVERSATION = 3;

/** Runs `fn`, expects a PlatformError and returns the adapter's classification of it. */
async function failure(adapter: TikTokAdapter, fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /act\.|rft\./, 'no token in error text');
    return adapter.classify(err);
  }
  assert.fail('expected the call to fail');
}

describe('tiktok adapter', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let adapter: TikTokAdapter;
  let credentials: Credentials;
  let account: AccountInfo;
  let world: TikTokPlatform['world'];

  before(async () => {
    sb = await useSandbox({ platforms: ['tiktok'], world: { conversations: CONVERSATIONS, messagesPerConversation: PER_CONVERSATION } });
    adapter = new TikTokAdapter(platformConfig({ SANDBOX_URL: sb.url }));
    world = (sb.sandbox.platforms.get('tiktok') as TikTokPlatform).world;
  });
  after(async () => { await sb.close(); });

  /** Follows the consent URL with sandbox query params; returns the callback's query. */
  async function consent(extra: Record<string, string>): Promise<URLSearchParams> {
    const url = new URL(adapter.authorizationUrl({ state: 'st-1', redirectUri: REDIRECT }));
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('state'), 'st-1');
    return location.searchParams;
  }

  test('authorization URL is Login Kit v2 on www.tiktok.com with our scopes', () => {
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    assert.equal(url.pathname, '/www.tiktok.com/v2/auth/authorize/');
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.ok(url.searchParams.get('scope')!.split(',').includes('message.list.read'));
  });

  test('connect: consent, code exchange, business account discovery', async () => {
    const q = await consent({ sandbox_decision: 'approve' });
    const result = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    const seeded = world.accounts.values().next().value!;
    assert.equal(result.account.id, seeded.businessId);
    assert.equal(result.account.handle, seeded.username);
    assert.equal(result.account.name, seeded.displayName);
    assert.match(String(result.credentials.accessToken), /^act\./);
    assert.match(String(result.credentials.refreshToken), /^rft\./);
    // Lifetime from expires_in (sandbox default 2 h), not hard-coded.
    const left = result.tokenExpiresAt! - Date.now();
    assert.ok(left > 7100_000 && left <= 7200_000, `expires in ${left} ms`);
    assert.ok(!JSON.stringify(result.credentialHints).includes(String(result.credentials.accessToken)));
    credentials = result.credentials;
    account = result.account;
  });

  test('denied consent, partial scopes, a reused code and a wrong client secret', async () => {
    const denied = await consent({ sandbox_decision: 'deny' });
    assert.equal(denied.get('error'), 'access_denied');
    assert.equal((await failure(adapter, () => adapter.exchangeCode({ code: denied.get('code') ?? '', redirectUri: REDIRECT }))).kind, 'permanent');

    const partial = await consent({ sandbox_decision: 'approve', sandbox_scopes: 'user.info.basic,message.list.read' });
    const cls = await failure(adapter, () => adapter.exchangeCode({ code: partial.get('code')!, redirectUri: REDIRECT }));
    assert.equal(cls.kind, 'permanent');
    assert.match(cls.message, /message\.list\.send/);

    const q = await consent({ sandbox_decision: 'approve' });
    await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    assert.equal((await failure(adapter, () => adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT }))).kind, 'reauth');

    const wrongSecret = new TikTokAdapter(platformConfig({ SANDBOX_URL: sb.url, TIKTOK_CLIENT_SECRET: 'nope' }));
    const q2 = await consent({ sandbox_decision: 'approve' });
    assert.equal((await failure(wrongSecret, () => wrongSecret.exchangeCode({ code: q2.get('code')!, redirectUri: REDIRECT }))).kind, 'permanent');
  });

  let incrementalCursor: SyncCursor;

  test('backfill walks every seeded conversation and message, in pages', async () => {
    const pages: SyncPage[] = [];
    let cursor: SyncCursor | null = null;
    for (let i = 0; i < 20; i++) {
      const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'backfill' });
      pages.push(page);
      cursor = page.cursor;
      if (page.done) break;
    }
    assert.ok(pages.at(-1)!.done, 'backfill finished');
    assert.equal(pages.length, 2, 'two pages of ≤ 20 conversations');
    assert.ok(pages.every((p) => p.conversations.length <= 20));
    const convs = pages.flatMap((p) => p.conversations);
    const expected = [...world.conversations.values()].filter((c) => c.businessId === account.id);
    assert.equal(convs.length, expected.length);
    assert.equal(new Set(convs.map((c) => c.externalId)).size, CONVERSATIONS);
    const messages = convs.flatMap((c) => c.messages);
    assert.equal(messages.length, CONVERSATIONS * PER_CONVERSATION);
    assert.deepEqual(new Set(messages.map((m) => m.externalId)), new Set(expected.flatMap((c) => c.messages.map((m) => m.messageId))));

    // Direction, sender, participant and ms timestamps match the platform's state.
    for (const conv of convs) {
      const state = world.conversations.get(conv.externalId)!;
      assert.equal(conv.participant.externalId, state.userId);
      assert.equal(conv.participant.handle, world.users.get(state.userId)!.username);
      for (const m of conv.messages) {
        const s = state.messages.find((x) => x.messageId === m.externalId)!;
        assert.equal(m.direction, s.fromId === state.userId ? 'inbound' : 'outbound');
        assert.equal(m.sender.externalId, s.fromId);
        assert.equal(m.timestamp, s.timestamp);
        assert.equal(m.text, s.text);
      }
      assert.deepEqual(conv.messages.map((m) => m.timestamp), [...conv.messages.map((m) => m.timestamp)].sort((a, b) => a - b));
    }
    incrementalCursor = cursor!;
    assert.equal(incrementalCursor.phase, 'incremental');
  });

  test('incremental returns exactly the new message, and re-running a cursor is harmless', async () => {
    const empty = await adapter.fetchPage({ credentials, account, cursor: incrementalCursor, mode: 'incremental' });
    assert.equal(empty.conversations.length, 0);
    assert.ok(empty.done);

    const existing = [...world.conversations.values()][5]!;
    const wrote = (await sb.admin('POST', '/customers/tiktok/messages', { customerId: existing.userId, text: 'Any news on my order?' })).json;
    const fresh = (await sb.admin('POST', '/customers/tiktok/messages', { text: 'New customer here', media: true })).json;

    const page = await adapter.fetchPage({ credentials, account, cursor: empty.cursor, mode: 'incremental' });
    assert.ok(page.done);
    const got = page.conversations.flatMap((c) => c.messages);
    // The image arrives with its caption as a second DM (one item per DM).
    const freshConv = [...world.conversations.values()].find((c) => c.userId === fresh.customerId)!;
    assert.equal(freshConv.messages.length, 2);
    assert.deepEqual(new Set(got.map((m) => m.externalId)), new Set([wrote.messageId, ...freshConv.messages.map((m) => m.messageId)]));
    const image = got.find((m) => m.externalId === fresh.messageId)!;
    assert.equal(image.direction, 'inbound');
    assert.equal(image.attachments?.[0]?.type, 'image');
    assert.ok(image.attachments?.[0]?.platformMediaId);
    assert.equal(page.conversations.find((c) => c.externalId === existing.conversationId)!.messages[0]!.text, 'Any news on my order?');

    const again = await adapter.fetchPage({ credentials, account, cursor: empty.cursor, mode: 'incremental' });
    assert.deepEqual(again.conversations, page.conversations);
    const after = await adapter.fetchPage({ credentials, account, cursor: page.cursor, mode: 'incremental' });
    assert.equal(after.conversations.length, 0);
    incrementalCursor = page.cursor;
  });

  test('incremental pages through a long conversation (more than 50 new messages)', async () => {
    const customer = [...world.conversations.values()][0]!.userId;
    const ids: string[] = [];
    for (let i = 0; i < 55; i++) ids.push((await sb.admin('POST', '/customers/tiktok/messages', { customerId: customer, text: `burst ${i}` })).json.messageId);
    const page = await adapter.fetchPage({ credentials, account, cursor: incrementalCursor, mode: 'incremental' });
    assert.deepEqual(page.conversations.flatMap((c) => c.messages.map((m) => m.externalId)).sort(), [...ids].sort());
    incrementalCursor = page.cursor;
  });

  test('refresh rotates the refresh token and reads the new lifetime from the response', async () => {
    await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: 120 });
    const before = credentials;
    const refreshed = await adapter.refresh(before);
    assert.ok(refreshed);
    const left = refreshed.tokenExpiresAt! - Date.now();
    assert.ok(left > 100_000 && left <= 120_000, `expires in ${left} ms`);
    assert.notEqual(refreshed.credentials.refreshToken, before.refreshToken, 'new refresh token kept');
    assert.notEqual(refreshed.credentials.accessToken, before.accessToken);
    await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: null });
    // The old refresh token stopped working (rotation): invalid_grant → reauth.
    assert.equal((await failure(adapter, () => adapter.refresh(before))).kind, 'reauth');
    credentials = refreshed.credentials;
    assert.equal((await adapter.check(credentials, account)).id, account.id);
  });

  test('injected rate limit, server error and timeout are classified', async () => {
    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'conversations.list', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
    const limited = await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor: incrementalCursor, mode: 'incremental' }));
    assert.equal(limited.kind, 'rate_limited');
    assert.equal(limited.kind === 'rate_limited' && limited.retryAfterMs, 7000);

    // Reads are retried in place: one 503 is absorbed, three in a row reach the caller.
    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'business.get', errorRate: 1, errorStatus: 503, remaining: 1 });
    assert.equal((await adapter.check(credentials, account)).id, account.id);
    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'business.get', errorRate: 1, errorStatus: 503, remaining: 3 });
    assert.equal((await failure(adapter, () => adapter.check(credentials, account))).kind, 'retryable');

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'oauth.token', rateLimitRate: 1, retryAfterSeconds: 3, remaining: 1 });
    const tokenLimited = await failure(adapter, () => adapter.refresh(credentials));
    assert.equal(tokenLimited.kind === 'rate_limited' && tokenLimited.retryAfterMs, 3000);

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'business.get', timeoutRate: 1, remaining: 3 });
    assert.equal((await failure(adapter, () => adapter.check(credentials, account))).kind, 'retryable');

    // A business error in an HTTP 200 envelope (invalid cursor → 40002) is permanent.
    const bad = await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor: { phase: 'backfill', list: 'garbage' }, mode: 'backfill' }));
    assert.equal(bad.kind, 'permanent');
    assert.equal(bad.code, '40002');
    // Still works after the faults.
    assert.equal((await adapter.check(credentials, account)).id, account.id);
  });

  // ---- send ---------------------------------------------------------------------------------

  /** A conversation of the connected account, its window open (the seeded user wrote last). */
  const openConversation = (i: number) => [...world.conversations.values()].filter((c) => c.businessId === account.id)[i]!;
  const outbound = (conversationId: string, clientRef: string, extra: Record<string, unknown> = {}) =>
    ({ clientRef, to: { externalId: world.conversations.get(conversationId)!.userId }, conversationExternalId: conversationId, ...extra });

  test('send: a text reaches the conversation; externalId is the message_id TikTok stores and echoes', async () => {
    const conv = openConversation(1);
    const hooks = await webhookReceiver();
    await sb.admin('PUT', '/webhooks/targets/tiktok', { url: hooks.url });
    try {
      const since = Date.now();
      const result = await adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-1', { text: 'Hello from support' }) });
      const stored = conv.messages.at(-1)!;
      assert.equal(result.externalId, stored.messageId);
      assert.equal(stored.text, 'Hello from support');
      assert.equal(stored.fromId, account.id);
      assert.ok(result.timestamp >= since && result.timestamp <= Date.now());
      const reqs = (await sb.admin('GET', '/requests?platform=tiktok&endpoint=send')).json.data as { body: string; status: number }[];
      const sent = JSON.parse(reqs.at(-1)!.body) as Record<string, unknown>;
      assert.deepEqual(sent, { business_id: account.id, recipient_type: 'CONVERSATION', recipient: conv.conversationId, message_type: 'TEXT', text: { body: 'Hello from support' } });
      // The im_send_msg echo carries the same message_id.
      const [echo] = await hooks.waitFor(1);
      const event = JSON.parse(echo!.body) as { event: string; content: string };
      assert.equal(event.event, 'im_send_msg');
      assert.equal((JSON.parse(event.content) as { message_id: string }).message_id, result.externalId);
      // And the next sync reports it as an outbound message with that id.
      const page = await adapter.fetchPage({ credentials, account, cursor: incrementalCursor, mode: 'incremental' });
      const synced = page.conversations.flatMap((c) => c.messages).find((m) => m.externalId === result.externalId);
      assert.equal(synced?.direction, 'outbound');
      incrementalCursor = page.cursor;
    } finally {
      await sb.admin('PUT', '/webhooks/targets/tiktok', { url: null });
      await hooks.close();
    }
  });

  test('send: an image by URL is uploaded and sent; a caption follows as a text DM; video is unsupported', async () => {
    const conv = openConversation(2);
    const before = conv.messages.length;
    const url = `${sb.url}/business-api.tiktok.com/sandbox-media/avatar-test.png`;
    const result = await adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-2', { media: { type: 'image', url, caption: 'Your receipt' } }) });
    const added = conv.messages.slice(before);
    assert.equal(added.length, 2);
    assert.equal(added[0]!.messageId, result.externalId);
    assert.equal(added[0]!.type, 'image');
    assert.ok(world.media.get(added[0]!.mediaId!), 'uploaded media stored');
    assert.equal(added[1]!.text, 'Your receipt');

    const video = await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-3', { media: { type: 'video', url } }) }));
    assert.equal(video.kind, 'permanent');
    assert.equal(video.code, 'unsupported');
    const template = await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-4', { template: { name: 'x', language: 'en' } }) }));
    assert.equal(template.kind, 'permanent');
  });

  test('send: invalid recipient is permanent; injected 5xx retryable; rate limit carries Retry-After', async () => {
    const conv = openConversation(3);
    const bad = await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-5', { text: 'hi', conversationExternalId: 'no-such-conversation' }) }));
    assert.equal(bad.kind, 'permanent');
    assert.equal(bad.code, '40002');

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
    assert.equal((await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-6', { text: 'hi' }) }))).kind, 'retryable');

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 9, remaining: 1 });
    const limited = await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-7', { text: 'hi' }) }));
    assert.equal(limited.kind, 'rate_limited');
    assert.equal(limited.kind === 'rate_limited' && limited.retryAfterMs, 9000);
    // Works again after the faults.
    assert.ok((await adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-8', { text: 'hi again' }) })).externalId);
  });

  test('send: past the 48 h window → permanent window_closed', async () => {
    const conv = openConversation(4);
    await sb.admin('POST', '/clock', { advanceSeconds: 49 * 3600 });
    // The 2 h access token expired with the clock: refresh first (a send with it would be reauth).
    assert.equal((await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-9', { text: 'late' }) }))).kind, 'reauth');
    credentials = (await adapter.refresh(credentials))!.credentials;
    const cls = await failure(adapter, () => adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-10', { text: 'late' }) }));
    assert.equal(cls.kind, 'permanent');
    assert.equal(cls.code, 'window_closed');
    assert.match(cls.message, /48 h|template|customer must write/);
    // The customer writes again: the window reopens.
    await sb.admin('POST', '/customers/tiktok/messages', { customerId: conv.userId, text: 'still there?' });
    assert.ok((await adapter.send({ credentials, account, message: outbound(conv.conversationId, 'c-11', { text: 'yes!' }) })).externalId);
  });

  test('send: a revoked token is reauth', async () => {
    const q = await consent({ sandbox_decision: 'approve' });
    const fresh = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    await sb.admin('POST', '/tokens/revoke', { token: fresh.credentials.accessToken });
    const conv = openConversation(5);
    const cls = await failure(adapter, () => adapter.send({ credentials: fresh.credentials, account: fresh.account, message: outbound(conv.conversationId, 'c-12', { text: 'hi' }) }));
    assert.equal(cls.kind, 'reauth');
  });

  test('a revoked token is reauth; revoke() ends the grant', async () => {
    await sb.admin('POST', '/tokens/revoke', { token: credentials.accessToken });
    const cls = await failure(adapter, () => adapter.check(credentials, account));
    assert.equal(cls.kind, 'reauth');
    const listed = await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor: incrementalCursor, mode: 'incremental' }));
    assert.equal(listed.kind, 'reauth');

    const q = await consent({ sandbox_decision: 'approve' });
    const fresh = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    await adapter.revoke(fresh.credentials);
    assert.equal((await failure(adapter, () => adapter.check(fresh.credentials, fresh.account))).kind, 'reauth');
    assert.equal((await failure(adapter, () => adapter.refresh(fresh.credentials))).kind, 'reauth');
  });
});
