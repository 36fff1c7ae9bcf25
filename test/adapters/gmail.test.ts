// The Gmail adapter against the in-process sandbox: Google consent driven by query params, code
// exchange, mailbox discovery, thread backfill carrying the starting historyId, history.list
// incremental sync (and the 404 resync), refresh, revocation and injected faults.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { GmailAdapter } from '../../activities/platforms/gmail';
import { PlatformError, type AccountInfo, type Credentials, type NormalizedConversation, type SyncCursor } from '../../activities/platforms/types';
import { platformConfig } from '../../lib/platform-config';
import type { GooglePlatform } from '../../sandbox/platforms/google';
import { useSandbox } from '../helpers/sandbox';

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const MAILBOX = 'support@switchboard.example';
const CONVERSATIONS = 30; // more than one page of 25 threads
const PER_CONVERSATION = 3;

async function failure(adapter: GmailAdapter, fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /ya29\.|1\/\/0/, 'no token in error text');
    return adapter.classify(err);
  }
  assert.fail('expected the call to fail');
}

describe('gmail adapter', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let adapter: GmailAdapter;
  let google: GooglePlatform;
  let credentials: Credentials;
  let account: AccountInfo;
  let cursor: SyncCursor;

  before(async () => {
    sb = await useSandbox({ platforms: ['google'], world: { conversations: CONVERSATIONS, messagesPerConversation: PER_CONVERSATION } });
    adapter = new GmailAdapter(platformConfig({ SANDBOX_URL: sb.url }));
    google = sb.sandbox.platforms.get('google') as GooglePlatform;
  });
  after(async () => { await sb.close(); });

  const mailbox = () => google.world.mailbox(MAILBOX)!;

  async function consent(extra: Record<string, string>, redirectUri = REDIRECT): Promise<URLSearchParams> {
    const url = new URL(adapter.authorizationUrl({ state: 'st-9', redirectUri }));
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.searchParams.get('state'), 'st-9');
    return location.searchParams;
  }

  async function walk(start: SyncCursor | null, mode: 'backfill' | 'incremental') {
    const convs: NormalizedConversation[] = [];
    let c = start;
    let pages = 0;
    for (; pages < 20; pages++) {
      const page = await adapter.fetchPage({ credentials, account, cursor: c, mode });
      convs.push(...page.conversations);
      c = page.cursor;
      if (page.done) break;
    }
    return { convs, cursor: c!, pages: pages + 1 };
  }

  test('authorization URL: accounts.google.com, offline access, forced consent', () => {
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    assert.equal(url.pathname, '/accounts.google.com/o/oauth2/v2/auth');
    assert.equal(url.searchParams.get('access_type'), 'offline');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    assert.match(url.searchParams.get('scope')!, /gmail\.modify/);
  });

  test('connect: consent, code exchange, mailbox from users.getProfile', async () => {
    const q = await consent({ sandbox_decision: 'approve' });
    const result = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    assert.equal(result.account.id, MAILBOX);
    assert.match(String(result.credentials.accessToken), /^ya29\./);
    assert.match(String(result.credentials.refreshToken), /^1\/\/0/);
    const left = result.tokenExpiresAt! - Date.now();
    assert.ok(left > 3500_000 && left <= 3599_000, `expires in ${left} ms`);
    assert.ok(!JSON.stringify(result.credentialHints).includes(String(result.credentials.refreshToken)));
    credentials = result.credentials;
    account = result.account;
  });

  test('denied consent, reused code, wrong redirect URI and wrong client secret', async () => {
    const denied = await consent({ sandbox_decision: 'deny' });
    assert.equal(denied.get('error'), 'access_denied');
    assert.equal((await failure(adapter, () => adapter.exchangeCode({ code: denied.get('code') ?? '', redirectUri: REDIRECT }))).kind, 'permanent');

    const q = await consent({ sandbox_decision: 'approve' });
    const other = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    assert.equal((await failure(adapter, () => adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT }))).kind, 'reauth');
    assert.equal(other.account.id, MAILBOX);

    const q2 = await consent({ sandbox_decision: 'approve' });
    const mismatch = await failure(adapter, () => adapter.exchangeCode({ code: q2.get('code')!, redirectUri: 'http://127.0.0.1:3000/v1/oauth/callback' }));
    assert.equal(mismatch.kind, 'permanent');
    assert.equal(mismatch.code, 'redirect_uri_mismatch');

    const wrong = new GmailAdapter(platformConfig({ SANDBOX_URL: sb.url, GOOGLE_CLIENT_SECRET: 'nope' }));
    const q3 = await consent({ sandbox_decision: 'approve' });
    const cls = await failure(wrong, () => wrong.exchangeCode({ code: q3.get('code')!, redirectUri: REDIRECT }));
    assert.equal(cls.kind, 'permanent');
    assert.equal(cls.code, 'invalid_client');
  });

  test('backfill walks every thread; the cursor keeps the historyId from its start', async () => {
    const startHistoryId = String(mailbox().historyId);
    const first = await adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' });
    assert.equal(first.done, false);
    assert.equal(first.conversations.length, 25);
    assert.equal(first.cursor.historyId, startHistoryId);
    // A customer writes while the backfill is under way: incremental must pick it up later.
    const during = (await sb.admin('POST', '/customers/google/messages', { customerId: 'latecomer@example.com', text: 'Written mid-backfill' })).json;

    const rest = await walk(first.cursor, 'backfill');
    assert.equal(rest.cursor.phase, 'incremental');
    assert.equal(rest.cursor.historyId, startHistoryId);
    const convs = new Map([...first.conversations, ...rest.convs].map((c) => [c.externalId, c]));
    const seeded = [...convs.values()].filter((c) => c.participant.externalId !== 'latecomer@example.com');
    assert.equal(seeded.length, CONVERSATIONS);
    const messages = seeded.flatMap((c) => c.messages);
    assert.equal(messages.length, CONVERSATIONS * PER_CONVERSATION);

    for (const conv of seeded) {
      assert.match(conv.participant.externalId, /^customer\d+@example\.com$/);
      assert.ok(conv.subject);
      for (const m of conv.messages) {
        const stored = mailbox().messages.get(m.externalId)!;
        assert.equal(stored.threadId, conv.externalId);
        assert.equal(m.timestamp, stored.internalDate);
        assert.equal(m.direction, stored.labelIds.includes('SENT') ? 'outbound' : 'inbound');
        assert.equal(m.sender.externalId, m.direction === 'outbound' ? MAILBOX : conv.participant.externalId);
        assert.ok(m.text && m.text.length > 0);
      }
    }

    const inc = await adapter.fetchPage({ credentials, account, cursor: rest.cursor, mode: 'incremental' });
    assert.ok(inc.done);
    assert.deepEqual(inc.conversations.flatMap((c) => c.messages.map((m) => m.externalId)), [during.messageId]);
    cursor = inc.cursor;
  });

  test('incremental returns exactly the new messages (inbound, outbound, attachment); same cursor is harmless', async () => {
    const reply = (await sb.admin('POST', '/customers/google/messages', { customerId: 'customer3@example.com', text: 'Any update?' })).json;
    const photo = (await sb.admin('POST', '/customers/google/messages', { customerId: 'newbie@example.com', text: 'See attached', media: true })).json;
    // We answer from Gmail itself (an outbound message that sync must show as ours).
    const raw = Buffer.from(`To: newbie@example.com\r\nSubject: Re: Question from a customer\r\n\r\nGot it, thanks!`).toString('base64url');
    const sentRes = await fetch(`${sb.url}/gmail.googleapis.com/gmail/v1/users/me/messages/send`, {
      method: 'POST', headers: { authorization: `Bearer ${credentials.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ raw }),
    });
    const sent = await sentRes.json() as { id: string };

    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.ok(page.done);
    const got = page.conversations.flatMap((c) => c.messages);
    assert.deepEqual(new Set(got.map((m) => m.externalId)), new Set([reply.messageId, photo.messageId, sent.id]));
    const existing = page.conversations.find((c) => c.messages.some((m) => m.externalId === reply.messageId))!;
    assert.equal(existing.externalId, mailbox().messages.get(reply.messageId)!.threadId);
    assert.equal(existing.participant.externalId, 'customer3@example.com');
    const withPhoto = got.find((m) => m.externalId === photo.messageId)!;
    assert.equal(withPhoto.direction, 'inbound');
    assert.equal(withPhoto.text?.trim(), 'See attached');
    assert.deepEqual(withPhoto.attachments?.map((a) => [a.type, a.mimeType, a.name]), [['image', 'image/png', 'photo.png']]);
    assert.ok(withPhoto.attachments?.[0]?.platformMediaId);
    assert.ok((withPhoto.attachments?.[0]?.size ?? 0) > 0);
    const out = got.find((m) => m.externalId === sent.id)!;
    assert.equal(out.direction, 'outbound');
    assert.equal(out.sender.externalId, MAILBOX);

    const again = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.deepEqual(again, page);
    const next = await adapter.fetchPage({ credentials, account, cursor: page.cursor, mode: 'incremental' });
    assert.equal(next.conversations.length, 0);
    assert.ok(BigInt(String(page.cursor.historyId)) > BigInt(String(cursor.historyId)));
    cursor = next.cursor;
  });

  test('a historyId older than Gmail keeps (404) turns into a resync that ends incremental', async () => {
    const stale = cursor;
    await sb.admin('POST', '/customers/google/messages', { customerId: 'customer1@example.com', text: 'Lost in the gap?' });
    google.expireHistory(MAILBOX);
    const page = await adapter.fetchPage({ credentials, account, cursor: stale, mode: 'incremental' });
    assert.equal(page.conversations.length, 0);
    assert.equal(page.done, false);
    assert.equal(page.cursor.resyncRequired, true);
    assert.equal(page.cursor.phase, 'backfill');

    const resync = await walk(page.cursor, 'incremental');
    assert.equal(resync.cursor.phase, 'incremental');
    assert.equal(resync.cursor.resyncRequired, false);
    assert.equal(resync.convs.flatMap((c) => c.messages).length, mailbox().messages.size);
    assert.equal((await adapter.fetchPage({ credentials, account, cursor: resync.cursor, mode: 'incremental' })).conversations.length, 0);
    cursor = resync.cursor;
  });

  test('refresh reads the new lifetime from the response and keeps the (non-rotating) refresh token', async () => {
    await sb.admin('PUT', '/tokens/ttl', { platform: 'google', kind: 'access', seconds: 120 });
    const refreshed = await adapter.refresh(credentials);
    await sb.admin('PUT', '/tokens/ttl', { platform: 'google', kind: 'access', seconds: null });
    assert.ok(refreshed);
    const left = refreshed.tokenExpiresAt! - Date.now();
    assert.ok(left > 100_000 && left <= 120_000, `expires in ${left} ms`);
    assert.equal(refreshed.credentials.refreshToken, credentials.refreshToken);
    assert.notEqual(refreshed.credentials.accessToken, credentials.accessToken);
    credentials = refreshed.credentials;
    assert.equal((await adapter.check(credentials, account)).id, MAILBOX);
  });

  test('injected 429, 403 userRateLimitExceeded, 5xx and timeouts are classified', async () => {
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'history.list', rateLimitRate: 1, retryAfterSeconds: 9, remaining: 1 });
    const limited = await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' }));
    assert.equal(limited.kind === 'rate_limited' && limited.retryAfterMs, 9000);

    // 403 makes the Google client refresh and retry once, so both attempts fail here.
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'profile', errorRate: 1, errorStatus: 403, remaining: 2 });
    const quota = await failure(adapter, () => adapter.check(credentials, account));
    assert.equal(quota.kind, 'rate_limited');
    assert.equal(quota.code, 'userRateLimitExceeded');

    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'threads.list', errorRate: 1, errorStatus: 503, remaining: 1 });
    const backend = await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' }));
    assert.equal(backend.kind, 'retryable');
    assert.equal(backend.code, 'backendError');

    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'profile', timeoutRate: 1, remaining: 1 });
    assert.equal((await failure(adapter, () => adapter.check(credentials, account))).kind, 'retryable');

    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'oauth.token', rateLimitRate: 1, retryAfterSeconds: 4, remaining: 1 });
    const tokenLimited = await failure(adapter, () => adapter.refresh(credentials));
    assert.equal(tokenLimited.kind === 'rate_limited' && tokenLimited.retryAfterMs, 4000);

    assert.equal((await adapter.check(credentials, account)).id, MAILBOX);
  });

  // ---- send ---------------------------------------------------------------------------------

  /** A seeded customer thread: its id, customer address and last message. */
  const customerThread = (customer: string) => {
    const msgs = [...mailbox().messages.values()].filter((m) => (headerOf(m.raw, 'From') ?? '').includes(customer));
    const threadId = msgs.at(-1)!.threadId;
    return { threadId, last: mailbox().threadMessages(threadId).at(-1)! };
  };

  test('send: a reply lands in the thread with From, To, Re: subject, In-Reply-To/References; externalId is the Gmail id', async () => {
    const { threadId, last } = customerThread('customer5@example.com');
    const parentId = headerOf(last.raw, 'Message-ID')!;
    const parentSubject = headerOf(mailbox().threadMessages(threadId)[0]!.raw, 'Subject')!.replace(/^(re:\s*)+/i, '');
    const since = Date.now();
    const result = await adapter.send({ credentials, account, message: {
      clientRef: 'g-1', to: { externalId: 'customer5@example.com' }, conversationExternalId: threadId, text: 'Thanks — your order ships today. Ünïcode ok.', inReplyTo: parentId,
    } });
    const stored = mailbox().messages.get(result.externalId)!;
    assert.ok(stored, 'the returned id is the stored Gmail message id');
    assert.equal(stored.threadId, threadId, 'landed in the conversation thread');
    assert.ok(stored.labelIds.includes('SENT'));
    assert.ok(result.timestamp >= since);
    assert.match(headerOf(stored.raw, 'From')!, new RegExp(MAILBOX));
    assert.match(headerOf(stored.raw, 'To')!, /customer5@example\.com/);
    assert.equal(headerOf(stored.raw, 'Subject'), `Re: ${parentSubject}`);
    assert.equal(headerOf(stored.raw, 'In-Reply-To'), parentId);
    assert.ok(headerOf(stored.raw, 'References')!.split(/\s+/).includes(parentId));
    // The next incremental sync reports it as outbound with the same id and text.
    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    const synced = page.conversations.find((c) => c.externalId === threadId)?.messages.find((m) => m.externalId === result.externalId);
    assert.equal(synced?.direction, 'outbound');
    assert.equal(synced?.text?.trim(), 'Thanks — your order ships today. Ünïcode ok.');
    cursor = page.cursor;
  });

  test('send: media by URL is fetched and attached; a missing file is permanent', async () => {
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
    const server = createServer((req, res) => {
      if (req.url === '/files/receipt.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { threadId } = customerThread('customer6@example.com');
      const result = await adapter.send({ credentials, account, message: {
        clientRef: 'g-2', to: { externalId: 'customer6@example.com' }, conversationExternalId: threadId, media: { type: 'image', url: `${base}/files/receipt.png`, caption: 'Your receipt' },
      } });
      const stored = mailbox().messages.get(result.externalId)!;
      assert.equal(stored.threadId, threadId);
      const rendered = mailbox().render(stored, 'full') as { payload: { parts?: { filename?: string; mimeType?: string }[] } };
      const att = rendered.payload.parts?.find((p) => p.filename);
      assert.equal(att?.filename, 'receipt.png');
      assert.equal(att?.mimeType, 'image/png');

      const missing = await failure(adapter, () => adapter.send({ credentials, account, message: {
        clientRef: 'g-3', to: { externalId: 'customer6@example.com' }, conversationExternalId: threadId, media: { type: 'file', url: `${base}/files/nope.pdf` },
      } }));
      assert.equal(missing.kind, 'permanent');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('send: a new message without a thread; invalid recipient and unknown thread are permanent', async () => {
    const result = await adapter.send({ credentials, account, message: { clientRef: 'g-4', to: { externalId: 'fresh@example.com' }, conversationExternalId: '', subject: 'Welcome', text: 'Hello!' } });
    const stored = mailbox().messages.get(result.externalId)!;
    assert.equal(headerOf(stored.raw, 'Subject'), 'Welcome');

    const bad = await failure(adapter, () => adapter.send({ credentials, account, message: { clientRef: 'g-5', to: { externalId: 'not-an-address' }, conversationExternalId: '', text: 'x' } }));
    assert.equal(bad.kind, 'permanent');
    assert.equal(bad.code, 'invalid_recipient');
    const gone = await failure(adapter, () => adapter.send({ credentials, account, message: { clientRef: 'g-6', to: { externalId: 'fresh@example.com' }, conversationExternalId: 'ffffffffffff', text: 'x' } }));
    assert.equal(gone.kind, 'permanent');
  });

  test('send: injected 5xx is retryable, 429 rate_limited with Retry-After', async () => {
    const msg = { clientRef: 'g-7', to: { externalId: 'fresh@example.com' }, conversationExternalId: '', subject: 'Hi', text: 'x' };
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.send', errorRate: 1, errorStatus: 503, remaining: 1 });
    assert.equal((await failure(adapter, () => adapter.send({ credentials, account, message: msg }))).kind, 'retryable');
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.send', rateLimitRate: 1, retryAfterSeconds: 11, remaining: 1 });
    const limited = await failure(adapter, () => adapter.send({ credentials, account, message: msg }));
    assert.equal(limited.kind, 'rate_limited');
    assert.equal(limited.kind === 'rate_limited' && limited.retryAfterMs, 11_000);
  });

  test('send: a revoked grant is reauth', async () => {
    const q = await consent({ sandbox_decision: 'approve' });
    const fresh = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    await sb.admin('POST', '/tokens/revoke', { token: fresh.credentials.accessToken });
    await sb.admin('POST', '/tokens/revoke', { token: fresh.credentials.refreshToken });
    const cls = await failure(adapter, () => adapter.send({ credentials: fresh.credentials, account: fresh.account, message: { clientRef: 'g-8', to: { externalId: 'fresh@example.com' }, conversationExternalId: '', subject: 'Hi', text: 'x' } }));
    assert.equal(cls.kind, 'reauth');
  });

  test('a revoked access token is refreshed by the client; a revoked grant is reauth', async () => {
    await sb.admin('POST', '/tokens/revoke', { token: credentials.accessToken });
    assert.equal((await adapter.check(credentials, account)).id, MAILBOX, 'the client refreshed on 401');

    await sb.admin('POST', '/tokens/revoke', { platform: 'google', subject: MAILBOX });
    assert.equal((await failure(adapter, () => adapter.check(credentials, account))).kind, 'reauth');
    assert.equal((await failure(adapter, () => adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' }))).kind, 'reauth');
    assert.equal((await failure(adapter, () => adapter.refresh(credentials))).kind, 'reauth');
    // Without a refresh token, a 401 is reauth straight away.
    const accessOnly = { ...credentials, refreshToken: undefined };
    assert.equal((await failure(adapter, () => adapter.check(accessOnly, account))).kind, 'reauth');
  });

  test('revoke() ends the grant', async () => {
    const q = await consent({ sandbox_decision: 'approve' });
    const fresh = await adapter.exchangeCode({ code: q.get('code')!, redirectUri: REDIRECT });
    await adapter.revoke(fresh.credentials);
    await adapter.revoke(fresh.credentials); // already revoked: fine
    assert.equal((await failure(adapter, () => adapter.check(fresh.credentials, fresh.account))).kind, 'reauth');
  });
});

/** A header of a raw RFC 2822 message (unfolded). */
function headerOf(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
