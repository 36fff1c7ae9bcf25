// markRead of every adapter that has read receipts, against the sandbox: the exact platform call
// (WhatsApp Cloud read status on the latest message, Meta mark_seen as the Page / the Instagram
// account, Gmail batchModify removing UNREAD, IMAP \Seen by Message-ID on GreenMail), what the
// platform's state shows afterwards, and failures classified (revoked token → reauth, 5xx →
// retryable, rate limits, Meta outside the window → window_closed). Twilio and TikTok have none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { EmailAdapter } from '../../activities/platforms/email';
import { GmailAdapter } from '../../activities/platforms/gmail';
import { InstagramAdapter } from '../../activities/platforms/instagram';
import { InstagramLoginAdapter } from '../../activities/platforms/instagram-login';
import { MessengerAdapter } from '../../activities/platforms/messenger';
import { TikTokAdapter } from '../../activities/platforms/tiktok';
import { PlatformError, type AccountInfo, type ChannelAdapter, type Credentials, type MarkReadRequest } from '../../activities/platforms/types';
import { WhatsAppCloudAdapter } from '../../activities/platforms/whatsapp-cloud';
import { WhatsAppTwilioAdapter } from '../../activities/platforms/whatsapp-twilio';
import { platformConfig } from '../../lib/platform-config';
import type { GooglePlatform } from '../../sandbox/platforms/google';
import { useSandbox } from '../helpers/sandbox';

type Sbx = Awaited<ReturnType<typeof useSandbox>>;
const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const PAGE = '101000000000001';
const LINKED_PAGE = '101000000000002';
const LINKED_IG = '17841400000000101';
const LOGIN_IG = '17841400000000202';

async function rejects(p: Promise<unknown>, kind: string, secrets: unknown[] = []): Promise<PlatformError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.equal(err.classification.kind, kind, err.message);
    for (const s of secrets) if (typeof s === 'string' && s.length > 8) assert.ok(!err.message.includes(s), 'no secret in the error');
    return err;
  }
  assert.fail(`expected a ${kind} PlatformError`);
}

const read = (participant: string, messageIds: string[], conversationExternalId = participant): MarkReadRequest => ({ conversationExternalId, participant: { externalId: participant }, messageIds });

/** Requests the sandbox recorded after `since`, with their JSON bodies. */
async function requestsSince(sb: Sbx, platform: string, since: number) {
  const all = (await sb.admin('GET', `/requests?platform=${platform}`)).json.data as { seq: number; method: string; path: string; body: string; status: number; headers: Record<string, string> }[];
  return all.filter((r) => r.seq > since).map((r) => ({ ...r, parsed: (() => { try { return JSON.parse(r.body); } catch { return undefined; } })() }));
}
const lastSeq = async (sb: Sbx) => Math.max(0, ...((await sb.admin('GET', '/requests')).json.data as { seq: number }[]).map((r) => r.seq));

describe('capabilities: read receipts only where the platform has them', () => {
  test('WhatsApp Cloud, Messenger, Instagram (both logins), Gmail and email mark read; Twilio and TikTok do not', () => {
    const config = platformConfig({ SANDBOX_URL: 'http://127.0.0.1:9' });
    const yes: ChannelAdapter[] = [new WhatsAppCloudAdapter(config), new MessengerAdapter(config), new InstagramAdapter(config), new InstagramLoginAdapter(config), new GmailAdapter(config), new EmailAdapter(config)];
    for (const a of yes) {
      assert.ok(a.capabilities().includes('mark_read'), a.platform);
      assert.equal(typeof a.markRead, 'function', a.platform);
    }
    for (const a of [new WhatsAppTwilioAdapter(config), new TikTokAdapter(config)] as ChannelAdapter[]) {
      assert.ok(!a.capabilities().includes('mark_read'), a.platform);
      assert.equal(a.markRead, undefined, a.platform);
    }
  });
});

describe('whatsapp_cloud markRead', () => {
  let sb: Sbx;
  let adapter: WhatsAppCloudAdapter;
  let credentials: Credentials;
  let account: AccountInfo;
  before(async () => {
    sb = await useSandbox({ platforms: ['whatsapp'] });
    const world = (await sb.admin('GET', '/world')).json.whatsapp;
    adapter = new WhatsAppCloudAdapter(platformConfig({ SANDBOX_URL: sb.url }), { timeoutMs: 500 });
    const phoneNumberId = world.wabas[0].phoneNumbers[0].id;
    credentials = { accessToken: world.systemUserToken, phoneNumberId };
    account = { id: phoneNumberId };
  });
  after(async () => { await sb.admin('DELETE', '/faults'); await sb.close(); });

  test('POST /{phone-number-id}/messages {status: read, message_id: latest}; one call, {success: true}', async () => {
    const first = (await sb.admin('POST', '/customers/whatsapp/messages', { customerId: 'ana', text: 'Hola' })).json;
    const second = (await sb.admin('POST', '/customers/whatsapp/messages', { customerId: 'ana', text: '¿Tienen talla M?' })).json;
    const since = await lastSeq(sb);
    await adapter.markRead({ credentials, account, read: read(second.customerId, [second.messageId, first.messageId]) });
    const calls = await requestsSince(sb, 'whatsapp', since);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.method, 'POST');
    assert.match(calls[0]!.path, new RegExp(`/${account.id}/messages$`));
    assert.equal(calls[0]!.status, 200);
    assert.deepEqual(calls[0]!.parsed, { messaging_product: 'whatsapp', status: 'read', message_id: second.messageId });
    assert.match(calls[0]!.headers['authorization'] ?? '', /^Bearer /);
    // Nothing read → no call.
    await adapter.markRead({ credentials, account, read: read(second.customerId, []) });
    assert.equal((await requestsSince(sb, 'whatsapp', since)).length, 1);
  });

  test('an unknown message → permanent; 5xx → retryable; throughput limit → rate_limited; a bad token → reauth', async () => {
    const msg = (await sb.admin('POST', '/customers/whatsapp/messages', { customerId: 'bea', text: 'hi' })).json;
    const mark = (ids: string[], creds = credentials) => adapter.markRead({ credentials: creds, account, read: read(msg.customerId, ids) });
    await rejects(mark(['wamid.unknown']), 'permanent');
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
    await rejects(mark([msg.messageId]), 'retryable');
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 3, remaining: 1 });
    const limited = await rejects(mark([msg.messageId]), 'rate_limited');
    assert.ok(limited.classification.kind === 'rate_limited' && limited.classification.retryAfterMs >= 1000);
    await rejects(mark([msg.messageId], { ...credentials, accessToken: 'EAAG-not-a-real-token' }), 'reauth', ['EAAG-not-a-real-token']);
    await mark([msg.messageId]);
  });
});

describe('meta markRead (mark_seen)', () => {
  let sb: Sbx;
  let world: { pages: { id: string; pageAccessToken: string }[]; instagramLogin: { accessToken: string }[] };
  before(async () => {
    sb = await useSandbox({ platforms: ['meta'] });
    world = (await sb.admin('GET', '/world')).json.meta;
  });
  after(async () => { await sb.admin('DELETE', '/faults'); await sb.close(); });

  /** The conversation's unread count as Graph reports it. */
  const unread = async (node: string, token: string, customer: string, host = 'graph.facebook.com', platform = 'messenger') => {
    const res = await fetch(`${sb.url}/${host}/v25.0/${node}/conversations?${new URLSearchParams({ platform, user_id: customer, fields: 'unread_count', access_token: token })}`);
    const body = await res.json() as { data: { unread_count: number }[] };
    return body.data[0]!.unread_count;
  };

  const cases = [
    {
      name: 'messenger: POST /{page-id}/messages as the Page to the PSID', account: PAGE, path: new RegExp(`/graph\\.facebook\\.com/v\\d+\\.0/${PAGE}/messages$`),
      adapter: () => new MessengerAdapter(platformConfig({ SANDBOX_URL: sb.url })), credentials: () => ({ accessToken: world.pages[0]!.pageAccessToken, pageId: PAGE }),
      unread: (c: string) => unread(PAGE, world.pages[0]!.pageAccessToken, c),
    },
    {
      name: 'instagram: POST /{linked-page-id}/messages with the Page token to the IGSID', account: LINKED_IG, path: new RegExp(`/graph\\.facebook\\.com/v\\d+\\.0/${LINKED_PAGE}/messages$`),
      adapter: () => new InstagramAdapter(platformConfig({ SANDBOX_URL: sb.url })), credentials: () => ({ accessToken: world.pages[1]!.pageAccessToken, pageId: LINKED_PAGE, igAccountId: LINKED_IG }),
      unread: (c: string) => unread(LINKED_PAGE, world.pages[1]!.pageAccessToken, c, 'graph.facebook.com', 'instagram'),
    },
    {
      name: 'instagram_login: POST graph.instagram.com/me/messages with the Instagram token', account: LOGIN_IG, path: /\/graph\.instagram\.com\/v\d+\.0\/me\/messages$/,
      adapter: () => new InstagramLoginAdapter(platformConfig({ SANDBOX_URL: sb.url })), credentials: () => ({ accessToken: world.instagramLogin[0]!.accessToken, userId: LOGIN_IG }),
      unread: (c: string) => unread('me', world.instagramLogin[0]!.accessToken, c, 'graph.instagram.com', 'instagram'),
    },
  ];

  for (const c of cases) {
    test(`${c.name}; revoked → reauth, 5xx → retryable, outside 24 h → window_closed`, async () => {
      const adapter = c.adapter();
      const credentials: Credentials = c.credentials();
      const account = { id: c.account };
      const wrote = (await sb.admin('POST', '/customers/meta/messages', { accountId: c.account, text: 'Do you have it in red?' })).json;
      await sb.admin('POST', '/customers/meta/messages', { accountId: c.account, customerId: wrote.customerId, text: 'size 38' });
      assert.equal(await c.unread(wrote.customerId), 2);
      const since = await lastSeq(sb);
      await adapter.markRead!({ credentials, account, read: read(wrote.customerId, [wrote.messageId]) });
      const calls = await requestsSince(sb, 'meta', since);
      assert.equal(calls.length, 1);
      assert.match(calls[0]!.path, c.path);
      assert.equal(calls[0]!.status, 200);
      assert.deepEqual(calls[0]!.parsed, { recipient: { id: wrote.customerId }, sender_action: 'mark_seen' });
      assert.equal(await c.unread(wrote.customerId), 0, 'Meta shows the conversation as seen');

      const mark = (creds = credentials) => adapter.markRead!({ credentials: creds, account, read: read(wrote.customerId, [wrote.messageId]) });
      await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
      await rejects(mark(), 'retryable');
      const revoked = { ...credentials, accessToken: 'EAAG-revoked-token-for-test' };
      assert.equal((await rejects(mark(revoked), 'reauth', [revoked.accessToken])).classification.code, '190');
      await sb.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
      const closed = await rejects(mark(), 'permanent');
      assert.equal(closed.classification.code, 'window_closed');
      // The customer writes again: the window is open again.
      await sb.admin('POST', '/customers/meta/messages', { accountId: c.account, customerId: wrote.customerId, text: 'hello?' });
      await mark();
    });
  }
});

describe('gmail markRead', () => {
  let sb: Sbx;
  let adapter: GmailAdapter;
  let google: GooglePlatform;
  let credentials: Credentials;
  let account: AccountInfo;
  before(async () => {
    sb = await useSandbox({ platforms: ['google'] });
    adapter = new GmailAdapter(platformConfig({ SANDBOX_URL: sb.url }));
    google = sb.sandbox.platforms.get('google') as GooglePlatform;
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    url.searchParams.set('sandbox_decision', 'approve');
    const res = await fetch(url, { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    ({ credentials, account } = await adapter.exchangeCode({ code, redirectUri: REDIRECT }));
  });
  after(async () => { await sb.admin('DELETE', '/faults'); await sb.close(); });

  const labelsOf = (id: string) => google.world.mailbox(account.id)!.messages.get(id)!.labelIds;

  test('messages.batchModify removes UNREAD from the messages read, not from one that came after', async () => {
    const a = (await sb.admin('POST', '/customers/google/messages', { customerId: 'ines@example.com', text: 'first' })).json;
    const b = (await sb.admin('POST', '/customers/google/messages', { customerId: 'ines@example.com', text: 'second' })).json;
    const later = (await sb.admin('POST', '/customers/google/messages', { customerId: 'ines@example.com', text: 'third, unseen by the agent' })).json;
    const threadId = google.world.mailbox(account.id)!.messages.get(b.messageId)!.threadId;
    assert.equal(google.world.mailbox(account.id)!.messages.get(later.messageId)!.threadId, threadId, 'one thread');
    const since = await lastSeq(sb);
    await adapter.markRead({ credentials, account, read: read('ines@example.com', [b.messageId, a.messageId], threadId) });
    const calls = await requestsSince(sb, 'google', since);
    assert.equal(calls.length, 1);
    assert.match(calls[0]!.path, /\/gmail\/v1\/users\/me\/messages\/batchModify$/);
    assert.equal(calls[0]!.status, 204);
    assert.deepEqual(calls[0]!.parsed, { ids: [b.messageId, a.messageId], removeLabelIds: ['UNREAD'] });
    assert.ok(!labelsOf(a.messageId).includes('UNREAD'));
    assert.ok(!labelsOf(b.messageId).includes('UNREAD'));
    assert.ok(labelsOf(later.messageId).includes('UNREAD'), 'a message the agent has not seen stays unread');
  });

  test('5xx → retryable, 429 → rate_limited, a revoked grant → reauth', async () => {
    const m = (await sb.admin('POST', '/customers/google/messages', { customerId: 'joao@example.com', text: 'olá' })).json;
    const mark = () => adapter.markRead({ credentials, account, read: read('joao@example.com', [m.messageId]) });
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.batchModify', errorRate: 1, errorStatus: 503, remaining: 1 });
    await rejects(mark(), 'retryable');
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.batchModify', rateLimitRate: 1, retryAfterSeconds: 9, remaining: 1 });
    const limited = await rejects(mark(), 'rate_limited');
    assert.ok(limited.classification.kind === 'rate_limited' && limited.classification.retryAfterMs === 9000, JSON.stringify(limited.classification));
    await mark();
    assert.ok(!labelsOf(m.messageId).includes('UNREAD'));
    await sb.admin('POST', '/tokens/revoke', { platform: 'google' });
    await rejects(mark(), 'reauth', Object.values(credentials));
  });
});

describe('email markRead (IMAP \\Seen)', () => {
  let sb: Sbx;
  let adapter: EmailAdapter;
  let credentials: Credentials;
  let account: AccountInfo;
  let world: { host: string; imap: { port: number }; smtp: { port: number }; mailboxes: { address: string; login: string; password: string }[] };
  before(async () => {
    sb = await useSandbox({ platforms: ['email'], world: { conversations: 1, messagesPerConversation: 1 } });
    world = (await sb.admin('GET', '/world')).json.email;
    adapter = new EmailAdapter(platformConfig({ SANDBOX_URL: sb.url }));
    const box = world.mailboxes[0]!;
    const server = (port: number) => ({ host: world.host, port, secure: false, user: box.login, password: box.password });
    ({ credentials, account } = await adapter.connectWithCredentials({ address: box.address, imap: server(world.imap.port), smtp: server(world.smtp.port) }));
  });
  after(async () => { await sb?.close(); });

  /** INBOX flags by Message-ID, read with a separate IMAP session. */
  const flagsByMessageId = async () => {
    const box = world.mailboxes[0]!;
    const c = new ImapFlow({ host: world.host, port: world.imap.port, secure: false, auth: { user: box.login, pass: box.password }, logger: false, disableAutoIdle: true });
    await c.connect();
    try {
      await c.mailboxOpen('INBOX', { readOnly: true });
      const out = new Map<string, Set<string>>();
      for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out.set(m.envelope!.messageId!, m.flags ?? new Set());
      return out;
    } finally {
      await c.logout();
    }
  };

  test('sets \\Seen on the inbound mails read (found by Message-ID), not on others; a repeat is harmless', async () => {
    const a = (await sb.admin('POST', '/customers/email/messages', { customerId: 'rita@customers.example', text: 'Is my order shipped?' })).json;
    const b = (await sb.admin('POST', '/customers/email/messages', { customerId: 'rita@customers.example', text: 'Order 1042' })).json;
    const other = (await sb.admin('POST', '/customers/email/messages', { customerId: 'tom@customers.example', text: 'Another question' })).json;
    let flags = new Map<string, Set<string>>();
    for (let i = 0; i < 50 && ![a, b, other].every((m) => flags.has(m.messageId)); i++) {
      flags = await flagsByMessageId();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(!flags.get(a.messageId)!.has('\\Seen'));
    await adapter.markRead({ credentials, account, read: read('rita@customers.example', [b.messageId, a.messageId], a.messageId) });
    flags = await flagsByMessageId();
    assert.ok(flags.get(a.messageId)!.has('\\Seen'));
    assert.ok(flags.get(b.messageId)!.has('\\Seen'));
    assert.ok(!flags.get(other.messageId)!.has('\\Seen'), 'another customer\'s mail stays unread');
    await adapter.markRead({ credentials, account, read: read('rita@customers.example', [b.messageId, '<gone@nowhere.example>'], a.messageId) });
    assert.ok((await flagsByMessageId()).get(b.messageId)!.has('\\Seen'));
  });

  test('a wrong password → reauth; an unreachable server → retryable', async () => {
    const read1 = read('x@customers.example', ['<a@b.example>']);
    await rejects(adapter.markRead({ credentials: { ...credentials, imapPassword: 'wrong-password-123' }, account, read: read1 }), 'reauth', ['wrong-password-123']);
    await rejects(adapter.markRead({ credentials: { ...credentials, imapPort: 1 }, account, read: read1 }), 'retryable');
  });
});
