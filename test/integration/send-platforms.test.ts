// Replies on every platform besides Messenger (send.test.ts covers it), through the real API,
// worker, Temporal, FerretDB and the sandbox: each reply reaches the platform exactly once under
// injected 5xx and rate limits (429 / the platform's throttling error, with Retry-After), the same
// Idempotency-Key twice is one message and one platform send, echoes and history sync do not copy
// a reply in the inbox, a closed reply window fails fast with window_closed and no platform call
// while a template goes through, and a revoked token fails with reauth_required and flags the channel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Platform } from '../../lib/domain/channel';
import { ConversationModel, MessageModel, WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import type { RecordedRequest } from '../../sandbox/core/recorder';
import { ImapClient } from '../../sandbox/platforms/email/imap';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { signTikTokWebhook } from '../../sandbox/platforms/tiktok';
import { connectChannel } from '../helpers/channels';
import { messageSettled } from '../helpers/conversations';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

type World = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Replies per conversation with distinct Idempotency-Keys (TikTok allows 10 per reply window). */
const REPLIES = 8;
const SENT_OR_BEYOND = ['sent', 'delivered', 'read'];
/** Seeded history: the second customer of WhatsApp (Cloud and Twilio) last wrote 50 h ago. */
const OLD_WHATSAPP_CUSTOMER = '15551234567';

/** Where a platform's sends land in the sandbox (recorder platform + endpoint names). */
interface SendPath { platform: string; endpoint: string }

describe('sending on every platform', () => {
  const taskQueue = uniqueName('sendall');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let world: World;

  before(async () => {
    stack = await useInboxStack(taskQueue, {
      sandbox: { world: { conversations: 2, messagesPerConversation: 2 } }, listen: true,
      redirectUris: ['meta', 'instagram', 'tiktok', 'google'], webhookTargets: ['meta', 'whatsapp', 'twilio', 'tiktok', 'google'],
    });
    ({ sb, api, key } = stack);
    world = (await sb.admin('GET', '/world')).json;
  });
  after(() => stack?.close());

  // ---- the product, as a client uses it ----

  const channel = async (id: string) => (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;

  /** Connects through the API (OAuth consent approved in the sandbox, or credentials); waits for the backfill. */
  const connect = async (platform: Platform, body: { settings?: unknown; credentials?: unknown } = {}, approve?: string) => (await connectChannel(api, key, { platform, ...body, approve })).id;

  /** A customer writes through the sandbox (webhook, or a sync for mailboxes); returns our conversation ID. */
  async function customerWrites(channelId: string, sandboxPlatform: string, text: string, extra: { accountId?: string; customerId?: string } = {}): Promise<string> {
    const wrote = await sb.admin('POST', `/customers/${sandboxPlatform}/messages`, { ...extra, text });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    await api.call('POST', `/v1/channels/${channelId}/sync`, { key });
    const stored = await eventually(`"${text}" in the inbox`, async () => (await MessageModel.findOne({ channelId, text: { $regex: text } }).lean()) ?? undefined, 30_000);
    return String(stored.conversationId);
  }

  const reply = (conversationId: string, body: unknown, idempotencyKey: string) =>
    api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key, body, headers: { 'idempotency-key': idempotencyKey } });
  const settled = (id: string, timeoutMs = 60_000) => messageSettled(api, key, id, timeoutMs);

  // ---- the sandbox's view ----

  const recorded = async (path: SendPath): Promise<RecordedRequest[]> =>
    (await sb.admin('GET', `/requests?platform=${path.platform}&endpoint=${encodeURIComponent(path.endpoint)}`)).json.data;
  /** A request's text: Gmail carries the MIME message base64url-encoded in `raw`; the rest are JSON or forms. */
  function requestText(r: RecordedRequest): string {
    try {
      const raw = (JSON.parse(r.body) as { raw?: unknown }).raw;
      if (typeof raw === 'string') return Buffer.from(raw, 'base64url').toString('utf8');
    } catch { /* a form body */ }
    return r.body;
  }

  /**
   * Faults on the send path while `fn` runs: the first call rate-limited (Retry-After 1 s), the
   * next a 503, then 20 % 500s (and `rateLimitRate` rate limits) at random.
   */
  async function withFaults<T>(path: SendPath, rateLimitRate: number, fn: () => Promise<T>): Promise<T> {
    const rule = { platform: path.platform, endpoint: path.endpoint, retryAfterSeconds: 1 };
    await sb.admin('POST', '/faults', { ...rule, rateLimitRate: 1, remaining: 1 });
    await sb.admin('POST', '/faults', { ...rule, errorRate: 1, errorStatus: 503, remaining: 1 });
    await sb.admin('POST', '/faults', { ...rule, errorRate: 0.2, errorStatus: 500, rateLimitRate });
    try {
      return await fn();
    } finally {
      await sb.admin('DELETE', `/faults?platform=${path.platform}`);
    }
  }

  /**
   * REPLIES replies with distinct keys to each conversation, the first key sent twice at once;
   * waits until every one is sent (or beyond). Returns the marker of each reply by message ID.
   */
  async function sendReplies(targets: { tag: string; conversationId: string }[], timeoutMs = 60_000): Promise<Map<string, string>> {
    const markers = new Map<string, string>();
    for (const { tag, conversationId } of targets) {
      for (let i = 0; i < REPLIES; i++) {
        const marker = `mk-${tag}-${String(i).padStart(2, '0')}`;
        const body = { text: `Answer ${marker}` };
        const answers = await Promise.all(i === 0 ? [reply(conversationId, body, marker), reply(conversationId, body, marker)] : [reply(conversationId, body, marker)]);
        for (const a of answers) assert.equal(a.status, 202, a.text);
        assert.equal(new Set(answers.map((a) => a.json.message.id)).size, 1, 'the same Idempotency-Key is the same message');
        markers.set(answers[0]!.json.message.id, marker);
      }
    }
    const outcomes = await Promise.all([...markers.keys()].map((id) => settled(id, timeoutMs)));
    for (const m of outcomes) {
      assert.ok(SENT_OR_BEYOND.includes(m.status), `${markers.get(m.id)}: ${m.status} ${JSON.stringify(m.error)}`);
      assert.ok(m.externalId, 'the platform ID is recorded');
    }
    return markers;
  }

  /** Exactly one accepted platform send per reply; returns how many calls the faults answered. */
  async function assertOnePlatformSendEach(path: SendPath, markers: Iterable<string>): Promise<{ rateLimited: number; failed: number }> {
    const requests = await recorded(path);
    let rateLimited = 0;
    let failed = 0;
    for (const marker of markers) {
      const mine = requests.filter((r) => requestText(r).includes(marker));
      const accepted = mine.filter((r) => r.status < 300 && !r.fault);
      assert.equal(accepted.length, 1, `${marker}: ${accepted.length} accepted platform sends in ${mine.length} calls`);
      rateLimited += mine.filter((r) => r.fault === 'rate_limit').length;
      failed += mine.filter((r) => r.fault === 'error').length;
    }
    return { rateLimited, failed };
  }

  /**
   * After every webhook (echoes, statuses) is applied and a sync has read the history again, the
   * conversation shows each reply once: the platform's copy of it is not a second message.
   */
  async function assertInboxOnce(channelId: string, conversationId: string, markers: Iterable<string>) {
    await sb.sandbox.ctx.webhooks.idle();
    await eventually('webhook queue drained', async () => (await WebhookEventModel.countDocuments({ channelId, state: 'pending' })) === 0);
    // Two syncs in a row: the second one surely started after the sends.
    let since = Date.now();
    for (let round = 0; round < 2; round++) {
      await api.call('POST', `/v1/channels/${channelId}/sync`, { key });
      const ch = await eventually('a sync after the sends', async () => { const c = await channel(channelId); return c.lastSyncedAt && Date.parse(c.lastSyncedAt) > since && c; }, 30_000);
      since = Date.parse(ch.lastSyncedAt);
    }
    const page = await api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages?limit=200`, { key });
    assert.equal(page.status, 200, page.text);
    for (const marker of markers) {
      const copies = page.json.data.filter((m: { text?: string }) => m.text?.includes(marker));
      assert.equal(copies.length, 1, `${marker}: ${copies.length} copies in the conversation`);
    }
  }

  /** The reply fails fast with window_closed, and the platform was never called. */
  async function assertWindowClosed(path: SendPath, conversationId: string, idempotencyKey: string, hint: RegExp) {
    const before = (await recorded(path)).length;
    const res = await reply(conversationId, { text: 'Sorry for the late answer' }, idempotencyKey);
    assert.equal(res.status, 202, res.text);
    const failed = await settled(res.json.message.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'window_closed');
    assert.match(failed.error.message, hint);
    assert.equal((await recorded(path)).length, before, 'no platform call');
  }

  /** A revoked credential: the reply fails with reauth_required and the channel is flagged. */
  async function assertReauth(channelId: string, conversationId: string, idempotencyKey: string) {
    const res = await reply(conversationId, { text: 'Are you still there?' }, idempotencyKey);
    const failed = await settled(res.json.message.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'reauth_required', JSON.stringify(failed.error));
    await eventually('channel flagged', async () => (await channel(channelId)).status === 'reauth_required');
  }

  // ---- the platforms ----

  it('Instagram (through a Page and with Instagram Login): once each under 5xx and a rate limit', async () => {
    const viaPage = await connect('instagram', {}, 'sandbox_action=approve');
    const viaLogin = await connect('instagram_login', {}, 'sandbox_action=approve');
    const pageConv = await customerWrites(viaPage, 'meta', 'ig page question', { accountId: '17841400000000101' });
    const loginConv = await customerWrites(viaLogin, 'meta', 'ig login question', { accountId: world.meta.instagramLogin[0].id });
    const path = { platform: 'meta', endpoint: 'send' };
    // Meta's rate limit carries a one-minute BUC estimate, which the adapter waits out (longer
    // than Retry-After): one rate limit only, and both accounts' replies in the same wait.
    const markers = await withFaults(path, 0, () => sendReplies([{ tag: 'igp', conversationId: pageConv }, { tag: 'igl', conversationId: loginConv }], 150_000));
    const faults = await assertOnePlatformSendEach(path, markers.values());
    assert.ok(faults.rateLimited >= 1 && faults.failed >= 1, JSON.stringify(faults));
    const all = [...markers.values()];
    await assertInboxOnce(viaPage, pageConv, all.filter((m) => m.startsWith('mk-igp-')));
    await assertInboxOnce(viaLogin, loginConv, all.filter((m) => m.startsWith('mk-igl-')));
  });

  it('WhatsApp Cloud: once each under faults; window_closed without a platform call; a template goes out; a revoked token flags the channel', async () => {
    const wa = world.whatsapp;
    const phoneNumberId: string = wa.wabas[0].phoneNumbers[0].id;
    const id = await connect('whatsapp_cloud', { credentials: { accessToken: wa.systemUserToken, phoneNumberId } });
    const conv = await customerWrites(id, 'whatsapp', 'wa cloud question', { accountId: phoneNumberId, customerId: '4915123456789' });
    const path = { platform: 'whatsapp', endpoint: 'send' };
    const markers = await withFaults(path, 0.1, () => sendReplies([{ tag: 'wac', conversationId: conv }]));
    const faults = await assertOnePlatformSendEach(path, markers.values());
    assert.ok(faults.rateLimited >= 1 && faults.failed >= 1, JSON.stringify(faults));
    await assertInboxOnce(id, conv, markers.values());

    // A customer whose last message is two days old (the Cloud API has no history: a late webhook).
    const ts = Math.floor((Date.now() - 2 * 86_400_000) / 1000);
    const body = metaJson({
      object: 'whatsapp_business_account',
      entry: [{ id: wa.wabas[0].id, changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: wa.wabas[0].phoneNumbers[0].displayPhoneNumber, phone_number_id: phoneNumberId },
        contacts: [{ profile: { name: 'John Smith' }, wa_id: OLD_WHATSAPP_CUSTOMER }],
        messages: [{ from: OLD_WHATSAPP_CUSTOMER, id: 'wamid.OLDQUESTION1', timestamp: String(ts), type: 'text', text: { body: 'old question' } }],
      } }] }],
    });
    const delivered = await api.call('POST', '/webhooks/whatsapp', { rawBody: body, headers: { 'x-hub-signature-256': signMetaBody(body, DEFAULT_APPS.meta!.secret) } });
    assert.equal(delivered.status, 200, delivered.text);
    const old = await eventually('old message stored', async () => (await MessageModel.findById(`${id}:wamid.OLDQUESTION1`).lean()) ?? undefined);
    const oldConv = String(old.conversationId);
    await assertWindowClosed(path, oldConv, 'wac-late', /24 h .*template/);

    const template = await reply(oldConv, { template: { name: 'hello_world', language: 'en_US' } }, 'wac-template');
    assert.equal(template.status, 202, template.text);
    const sent = await settled(template.json.message.id);
    assert.ok(SENT_OR_BEYOND.includes(sent.status), JSON.stringify(sent));
    const templateSends = (await recorded(path)).filter((r) => r.status < 300 && (JSON.parse(r.body) as { type?: string; to?: string }).type === 'template');
    assert.equal(templateSends.length, 1, 'the template reached the platform once');
    assert.equal((JSON.parse(templateSends[0]!.body) as { to: string }).to, OLD_WHATSAPP_CUSTOMER);

    await sb.admin('POST', '/tokens/revoke', { token: wa.systemUserToken });
    await assertReauth(id, conv, 'wac-revoked');
  });

  it('WhatsApp via Twilio: once each under faults; window_closed without a platform call; a Content template goes out', async () => {
    const tw = world.twilio;
    const id = await connect('whatsapp_twilio', { credentials: { accountSid: tw.accountSid, authToken: tw.authToken, whatsappNumber: tw.senders[0].address } });
    const conv = await customerWrites(id, 'twilio', 'twilio question', { customerId: '+33612345678' });
    const path = { platform: 'twilio', endpoint: 'send' };
    const markers = await withFaults(path, 0.1, () => sendReplies([{ tag: 'wtw', conversationId: conv }]));
    const faults = await assertOnePlatformSendEach(path, markers.values());
    assert.ok(faults.rateLimited >= 1 && faults.failed >= 1, JSON.stringify(faults));
    await assertInboxOnce(id, conv, markers.values());

    // The backfilled history has a customer who last wrote 50 h ago.
    const oldConv = await ConversationModel.findOne({ channelId: id, lastInboundAt: { $lt: new Date(Date.now() - 26 * 3_600_000) } }).lean();
    assert.ok(oldConv, 'the backfill stored a conversation outside the window');
    await assertWindowClosed(path, String(oldConv._id), 'wtw-late', /24 h .*template/);

    const content = tw.contentTemplates.find((t: { friendlyName: string }) => t.friendlyName === 'appointment_reminder');
    const template = await reply(String(oldConv._id), { template: { name: content.sid, language: 'en', parameters: ['John'] } }, 'wtw-template');
    assert.equal(template.status, 202, template.text);
    const sent = await settled(template.json.message.id);
    assert.ok(SENT_OR_BEYOND.includes(sent.status), JSON.stringify(sent));
    const templateSends = (await recorded(path)).filter((r) => r.status < 300 && new URLSearchParams(r.body).get('ContentSid') === content.sid);
    assert.equal(templateSends.length, 1, 'the template reached the platform once');
    assert.equal(new URLSearchParams(templateSends[0]!.body).get('ContentVariables'), JSON.stringify({ 1: 'John' }));
  });

  it('TikTok: once each under faults; outside the 48 h window fails fast', async () => {
    const id = await connect('tiktok', {}, 'sandbox_decision=approve');
    const conv = await customerWrites(id, 'tiktok', 'tiktok question');
    const path = { platform: 'tiktok', endpoint: 'send' };
    const markers = await withFaults(path, 0.1, () => sendReplies([{ tag: 'ttk', conversationId: conv }]));
    const faults = await assertOnePlatformSendEach(path, markers.values());
    assert.ok(faults.rateLimited >= 1 && faults.failed >= 1, JSON.stringify(faults));
    await assertInboxOnce(id, conv, markers.values());

    // A DM from three days ago, delivered late.
    const businessId: string = world.tiktok.accounts[0].business_id;
    const t = Math.floor(Date.now() / 1000);
    const content = {
      conversation_id: 'sbxOldConversation01', message_id: '7300000000000000001', timestamp: Date.now() - 3 * 86_400_000, type: 'text', text: { body: 'old tiktok question' },
      from: 'old_customer', from_user: { id: '-000userold0001' }, to: world.tiktok.accounts[0].username, to_user: { id: businessId },
    };
    const body = JSON.stringify({ event: 'im_receive_msg', user_openid: businessId, create_time: t, content: JSON.stringify(content) });
    const delivered = await api.call('POST', '/webhooks/tiktok', { rawBody: body, headers: { 'tiktok-signature': signTikTokWebhook(DEFAULT_APPS.tiktok!.secret, t, body) } });
    assert.equal(delivered.status, 200, delivered.text);
    const old = await eventually('old DM stored', async () => (await MessageModel.findOne({ channelId: id, text: 'old tiktok question' }).lean()) ?? undefined);
    await assertWindowClosed(path, String(old.conversationId), 'ttk-late', /48 h .*customer must write first/);
  });

  it('Gmail: once each under faults; a revoked grant flags the channel', async () => {
    const id = await connect('gmail', {}, 'sandbox_decision=approve');
    const conv = await customerWrites(id, 'google', 'gmail question', { customerId: 'zoe@example.com' });
    const path = { platform: 'google', endpoint: 'messages.send' };
    const markers = await withFaults(path, 0.1, () => sendReplies([{ tag: 'gml', conversationId: conv }]));
    const faults = await assertOnePlatformSendEach(path, markers.values());
    assert.ok(faults.rateLimited >= 1 && faults.failed >= 1, JSON.stringify(faults));
    await assertInboxOnce(id, conv, markers.values());

    // Access and refresh token revoked: the client's own refresh gets invalid_grant.
    await sb.admin('POST', '/tokens/revoke', { platform: 'google', subject: world.google.mailboxes[0].emailAddress });
    await assertReauth(id, conv, 'gml-revoked');
  });

  it('email (SMTP/IMAP, GreenMail): one mail per reply in the customer\'s mailbox, one copy in the inbox', async () => {
    // A real mail server: the sandbox has no fault injection on SMTP, so this proves idempotency
    // and that the copy in Sent (read back by sync) is not a second message.
    const mailbox = world.email.mailboxes[0];
    const server = (s: { host: string; port: number }) => ({ host: s.host, port: s.port, secure: false, user: mailbox.login, password: mailbox.password });
    const id = await connect('email', { credentials: { address: mailbox.address, imap: server(world.email.imap), smtp: server(world.email.smtp) } });
    const conv = await customerWrites(id, 'email', 'email question', { accountId: mailbox.address, customerId: 'zoe' });
    const markers = await sendReplies([{ tag: 'eml', conversationId: conv }]);
    await assertInboxOnce(id, conv, markers.values());

    const customer = 'zoe@customers.example';
    const imap = await ImapClient.connect({ host: world.email.imap.host, port: world.email.imap.port });
    try {
      await imap.login(customer, customer);
      await imap.select('INBOX', true);
      const mails = (await imap.uidFetch('1:*', 'BODY.PEEK[]')).map((m) => m.sections.get('')?.toString('utf8') ?? '');
      for (const marker of markers.values()) assert.equal(mails.filter((m) => m.includes(marker)).length, 1, `${marker} in the customer's mailbox`);
    } finally {
      await imap.logout();
    }
  });
});
