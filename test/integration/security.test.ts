// The security sweep (issue #7): with tenant A's whole inbox exercised on every platform (OAuth and
// credential connects, sync, webhooks, sends with an uploaded file, mark-read, outgoing webhooks with
// a rotated secret, API keys, analytics, a revoked token and a reconnect) and a tenant B of its own:
//  1. every /v1 operation in the app's own OpenAPI document refuses a missing, malformed, unknown or
//     revoked key (401), answers tenant B 404 for tenant A's objects (showing nothing of them, also
//     when named inside B's own requests), and refuses agent keys where admin is needed (403) — the
//     operations agents may use are an explicit list, so a change in access is a conscious one; the
//     OAuth callback and media links, authenticated by signatures instead, refuse forged ones;
//  2. no secret the test knows of appears in plaintext in MongoDB, the captured logs (API and
//     worker), any workflow history on the file's task queue (payloads decoded), or any API response
//     (a key or webhook secret only in the one response that issued it);
//  3. webhook signature bypass attempts on every endpoint are refused and store nothing.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import mongoose, { Types } from 'mongoose';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { randomToken, sha256Hex } from '../../lib/crypto';
import { latestSeq } from '../../lib/event-log';
import { mediaLinkKeys, mediaLinkSignature, signedMediaUrl } from '../../lib/media-link';
import { signState, stateSigningKey } from '../../lib/oauth-state';
import { verifyPayload } from '../../lib/outgoing-signature';
import type { Platform } from '../../lib/domain/channel';
import { ChannelModel, MessageModel, WebhookDeliveryModel, WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { signTikTokWebhook } from '../../sandbox/platforms/tiktok/signature';
import { formOf, twilioSignature } from '../../sandbox/platforms/twilio/signature';
import type { dailyAnalyticsWorkflow } from '../../workflows/analytics';
import { channelStatusQuery } from '../../workflows/channel';
import { capturedLogs, eventually, TEST_KEYS, uniqueName } from '../helpers/env';
import { stringsOf } from '../helpers/strings';
import { webhookReceiver } from '../helpers/sandbox';
import { type InboxStack, useInboxStack } from '../helpers/stack';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const PAGE = '101000000000001';
/** The Instagram account (linked to another Page) tenant B connects. */
const IG_OF_B = '17841400000000101';

/**
 * What an agent key may do; every other /v1 operation needs an admin key (requireRole('admin') in
 * the route modules). Changing who can do what means changing this list.
 */
const AGENT_OPERATIONS = [
  'GET /v1/analytics/daily',
  'GET /v1/capabilities',
  'GET /v1/channels',
  'GET /v1/channels/{id}',
  'GET /v1/contacts',
  'GET /v1/contacts/{id}',
  'POST /v1/contacts/{id}/merge',
  'GET /v1/conversations',
  'GET /v1/conversations/{id}',
  'POST /v1/conversations/{id}/assign',
  'POST /v1/conversations/{id}/labels',
  'GET /v1/conversations/{id}/messages',
  'POST /v1/conversations/{id}/messages',
  'POST /v1/conversations/{id}/read',
  'POST /v1/conversations/{id}/status',
  'POST /v1/conversations/{id}/unread',
  'GET /v1/events',
  'GET /v1/events/{id}',
  'GET /v1/me',
  'POST /v1/media',
  'GET /v1/media/{id}',
  'GET /v1/messages/{id}',
  'POST /v1/messages/{id}/retry',
].sort();

/** The objects a probe names: tenant A's real ones, or IDs that name nothing. */
interface Objects {
  channelId: string; conversationId: string; messageId: string; contactId: string; otherContactId: string;
  endpointId: string; deliveryEventId: string; eventSeq: string; apiKeyId: string; mediaId: string;
}

/**
 * Path parameters, by the path up to and including the parameter. An operation whose parameter is
 * not here fails the sweep: a new route must say which object it names.
 */
const PARAMS: Record<string, (o: Objects) => string> = {
  '/v1/api-keys/{id}': (o) => o.apiKeyId,
  '/v1/channels/{id}': (o) => o.channelId,
  '/v1/contacts/{id}': (o) => o.contactId,
  '/v1/conversations/{id}': (o) => o.conversationId,
  '/v1/events/{id}': (o) => o.eventSeq,
  '/v1/media/{id}': (o) => o.mediaId,
  '/v1/messages/{id}': (o) => o.messageId,
  '/v1/webhook-endpoints/{id}': (o) => o.endpointId,
  '/v1/webhook-endpoints/{id}/deliveries/{eventId}': (o) => o.deliveryEventId,
};

/** A body sent as it is, with its own Content-Type (not JSON). */
class RawBody { constructor(readonly text: string, readonly type: string) {} }

/** Valid request bodies (so what answers is the key and tenant check, not validation). Required ones must be here. */
const BODIES: Record<string, (o: Objects) => unknown> = {
  'POST /v1/media': () => new RawBody('a file from the security sweep', 'text/plain'),
  'POST /v1/api-keys': () => ({ name: 'probe', role: 'agent' }),
  'POST /v1/channels': () => ({ platform: 'messenger', name: 'probe' }),
  'PATCH /v1/channels/{id}': () => ({ name: 'renamed by a stranger', sendRatePerSecond: 0.5 }),
  'POST /v1/channels/{id}/reconnect': () => ({}),
  'POST /v1/contacts/{id}/merge': (o) => ({ contactId: o.otherContactId }),
  'POST /v1/conversations/{id}/messages': () => ({ text: 'a reply from a stranger' }),
  'POST /v1/conversations/{id}/assign': () => ({ assigneeId: 'stranger' }),
  'POST /v1/conversations/{id}/labels': () => ({ add: ['stranger'] }),
  'POST /v1/conversations/{id}/status': () => ({ status: 'closed' }),
  'POST /v1/webhook-endpoints': () => ({ url: 'http://127.0.0.1:9/probe' }),
  'PATCH /v1/webhook-endpoints/{id}': () => ({ active: false, url: 'http://127.0.0.1:9/stolen' }),
};

/** Query strings: required ones must be here; others aim filters at tenant A's objects. */
const QUERIES: Record<string, (o: Objects) => string> = {
  'GET /v1/analytics/daily': () => `from=${day(-7)}&to=${day(0)}`,
  'GET /v1/conversations': (o) => `channelId=${o.channelId}&q=sec-`,
  'GET /v1/contacts': () => 'q=sec',
  'GET /v1/events': () => 'after=0',
  'GET /v1/webhook-events': () => 'state=pending',
};

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

interface Operation { method: string; path: string; id: string; spec: Json }
interface Reply { status: number; json: Json; text: string }

/** POSTs over real HTTP with headers exactly as given (name case kept, a repeated name sent as two header lines). */
function rawPost(url: string, body: string, headers: [string, string][]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest({ hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'POST' });
    const grouped = new Map<string, string[]>();
    for (const [name, value] of headers) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    for (const [name, values] of grouped) req.setHeader(name, values.length === 1 ? values[0]! : values);
    req.setHeader('content-length', Buffer.byteLength(body));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('security sweep', () => {
  const taskQueue = uniqueName('security');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let world: Json;
  let key = '';

  /** Every API response body the test received, and which response issued which secret. */
  const responses: { label: string; text: string }[] = [];
  const issuedBy = new Map<string, number>();
  function recordResponse(label: string, text: string) {
    responses.push({ label, text });
    try {
      const secret = (JSON.parse(text) as { secret?: unknown }).secret;
      if (typeof secret === 'string') issuedBy.set(secret, responses.length - 1);
    } catch { /* not JSON */ }
  }
  /** Secrets the test knows besides the sandbox's tokens and apps (added as they appear). */
  const secrets = new Map<string, string>();
  const secret = (what: string, value: string | undefined | null) => { if (value && !secrets.has(value)) secrets.set(value, what); };

  // Tenant A's objects, and what another tenant must never see of them.
  const a = { channels: new Map<Platform, string>(), conversations: new Map<string, string>(), messages: [] as string[], keyIds: [] as string[] };
  let objects: Objects;
  let endpoint = { id: '', url: '' };
  let mediaId = '';
  let agentKey = '';
  let revokedKey = '';
  let victimKeyId = '';
  let keyB = '';
  /** Tenant B's own objects, for requests that mix them with tenant A's. */
  const b = { channelId: '', conversationId: '', contactId: '' };
  let agentKeyB = '';
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;

  before(async () => {
    receiver = await webhookReceiver();
    stack = await useInboxStack(taskQueue, {
      sandbox: { world: { conversations: 1, messagesPerConversation: 2 } }, listen: true,
      workerDeps: { webhookRetryDelaysMs: [300, 600, 900], webhookPollMs: 100 },
      redirectUris: ['meta', 'instagram', 'tiktok', 'google'], webhookTargets: ['meta', 'whatsapp', 'twilio', 'tiktok', 'google'],
      tenant: 'Acme A',
    });
    ({ sb, api, key } = stack);
    // Every response through api.call (and so through the helpers) is kept for the secret scan.
    const call = api.call;
    api.call = async (method, path, init) => {
      const res = await call(method, path, init);
      recordResponse(`${method} ${path}`, res.text);
      return res;
    };
    world = (await sb.admin('GET', '/world')).json;
    secret('tenant A admin key', key);
  });
  after(async () => {
    await stack?.close();
    await receiver?.close();
  });

  // ---- tenant A, as a user drives it ----

  const get = (path: string, k = key) => api.call('GET', path, { key: k });
  const channelView = async (id: string) => (await get(`/v1/channels/${id}`)).json.channel;

  /** Connects through the API; for OAuth, approves the sandbox consent and lands on the callback (the code is a secret too). */
  async function connect(platform: Platform, body: { settings?: unknown; credentials?: unknown } = {}, approve?: string): Promise<string> {
    const created = await api.call('POST', '/v1/channels', { key, body: { platform, name: `A ${platform}`, ...body } });
    assert.equal(created.status, 201, created.text);
    const id: string = created.json.channel.id;
    if (approve) await consent(created.json.authorizeUrl, approve);
    await eventually(`${platform} connected and backfilled`, async () => { const ch = await channelView(id); return ch.status === 'active' && ch.backfill.done; }, 60_000);
    a.channels.set(platform, id);
    return id;
  }
  async function consent(authorizeUrl: string, approve: string) {
    const res = await fetch(`${authorizeUrl}&${approve}`, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    secret('OAuth authorization code', location.searchParams.get('code'));
    const callback = await api.call('GET', `${location.pathname}${location.search}`);
    assert.equal(callback.status, 200, callback.text);
  }

  /** A customer writes through the sandbox (a webhook, or a sync for mailboxes); returns the stored message. */
  async function customerWrites(platform: Platform, sandbox: string, text: string, extra: Record<string, string> = {}) {
    const channelId = a.channels.get(platform)!;
    const wrote = await sb.admin('POST', `/customers/${sandbox}/messages`, { ...extra, text });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    // Mailboxes are read by sync (the Gmail channel registers no push watch: its pushes are tested below).
    if (platform === 'email' || platform === 'gmail') await api.call('POST', `/v1/channels/${channelId}/sync`, { key });
    // Mail bodies may end with a line break or a signature.
    const stored = await eventually(`"${text}" stored`, async () => (await MessageModel.findOne({ channelId, text: { $regex: `^${text}` } }).lean()) ?? undefined, 30_000);
    if (!a.conversations.has(platform)) a.conversations.set(platform, String(stored.conversationId));
    a.messages.push(String(stored._id));
    return stored;
  }

  const quiet = async () => {
    await sb.sandbox.ctx.webhooks.idle();
    await eventually('webhook queue drained', async () => (await WebhookEventModel.countDocuments({ state: 'pending' })) === 0);
  };

  it('connects every platform for tenant A, syncs, and stores a customer message on each (by webhook; mailboxes by sync)', async () => {
    const phone = world.whatsapp.wabas[0].phoneNumbers[0];
    const tw = world.twilio;
    const mailbox = world.email.mailboxes[0];
    const server = (s: { host: string; port: number }) => ({ host: s.host, port: s.port, secure: false, user: mailbox.login, password: mailbox.password });
    secret('email password', mailbox.password);
    secret('Twilio API key secret', tw.apiKey.secret);

    await connect('messenger', { settings: { pageId: PAGE } }, 'sandbox_action=approve');
    await connect('instagram_login', {}, 'sandbox_action=approve');
    await connect('tiktok', {}, 'sandbox_decision=approve');
    await connect('gmail', {}, 'sandbox_decision=approve');
    await connect('whatsapp_cloud', { credentials: { accessToken: world.whatsapp.systemUserToken, phoneNumberId: phone.id } });
    // An API key for calls, the account's Auth Token only to check webhook signatures.
    await connect('whatsapp_twilio', { credentials: { accountSid: tw.accountSid, apiKeySid: tw.apiKey.sid, apiKeySecret: tw.apiKey.secret, webhookAuthToken: tw.authToken, whatsappNumber: tw.senders[0].address } });
    await connect('email', { credentials: { address: mailbox.address, imap: server(world.email.imap), smtp: server(world.email.smtp) } });

    for (const id of a.channels.values()) assert.equal((await api.call('POST', `/v1/channels/${id}/sync`, { key })).status, 202);
    await customerWrites('messenger', 'meta', 'sec-messenger question', { accountId: PAGE });
    await customerWrites('messenger', 'meta', 'sec-messenger other customer', { accountId: PAGE });
    await customerWrites('instagram_login', 'meta', 'sec-instagram question', { accountId: world.meta.instagramLogin[0].id });
    await customerWrites('whatsapp_cloud', 'whatsapp', 'sec-whatsapp question', { accountId: phone.id, customerId: '4915123456789' });
    await customerWrites('whatsapp_twilio', 'twilio', 'sec-twilio question', { customerId: '+33612345678' });
    await customerWrites('tiktok', 'tiktok', 'sec-tiktok question');
    await customerWrites('gmail', 'google', 'sec-gmail question', { customerId: 'zoe@example.com' });
    await customerWrites('email', 'email', 'sec-email question', { accountId: mailbox.address, customerId: 'zoe' });
    await quiet();
  });

  // ---- 3. webhook signature bypass attempts (before any send, so no status callback is on its way) ----

  it('refuses every signature bypass attempt on every webhook endpoint with 401/403, storing nothing', async () => {
    const META = DEFAULT_APPS.meta!.secret;
    const TIKTOK = DEFAULT_APPS.tiktok!.secret;
    const PUSH_TOKEN = DEFAULT_APPS.google!.extra.pushToken!;
    const OTHER_APP_SECRETS = [DEFAULT_APPS.google!.secret, DEFAULT_APPS.tiktok!.secret, DEFAULT_APPS.meta!.extra.verifyToken!, 'another-apps-secret'];
    const tw = world.twilio;
    const sender: string = tw.senders[0].address;
    const phone = world.whatsapp.wabas[0].phoneNumbers[0];
    const tiktok = world.tiktok.accounts[0];
    const gmail: string = world.google.mailboxes[0].emailAddress;
    const marker = () => `forged${randomBytes(6).toString('hex')}`;
    const now = () => Math.floor(Date.now() / 1000);
    const json = ['content-type', 'application/json'] as [string, string];
    const form = ['content-type', 'application/x-www-form-urlencoded'] as [string, string];
    const hmacHex = (algo: string, secretKey: string, data: string) => createHmac(algo, secretKey).update(data).digest('hex');

    interface Attempt { endpoint: string; what: string; body: string; headers: [string, string][]; query?: string }
    const attempts: Attempt[] = [];
    const add = (endpoint: string, what: string, body: string, headers: [string, string][], query?: string) => attempts.push({ endpoint, what, body, headers, ...(query !== undefined ? { query } : {}) });

    // Meta (Messenger page) and WhatsApp Cloud: X-Hub-Signature-256 over the raw bytes.
    const messengerPayload = (m: string) => ({ object: 'page', entry: [{ id: PAGE, time: Date.now(), messaging: [{ sender: { id: '990001' }, recipient: { id: PAGE }, timestamp: Date.now(), message: { mid: `m_${m}`, text: `forged/über ${m}` } }] }] });
    const whatsappPayload = (m: string) => ({
      object: 'whatsapp_business_account',
      entry: [{ id: world.whatsapp.wabas[0].id, changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.id },
        contacts: [{ profile: { name: 'Forger' }, wa_id: '4915100000001' }],
        messages: [{ from: '4915100000001', id: `wamid.${m}`, timestamp: String(now()), type: 'text', text: { body: `forged/über ${m}` } }],
      } }] }],
    });
    const reordered = (v: unknown): unknown => (Array.isArray(v) ? v.map(reordered) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reordered(x)])) : v);
    for (const [endpoint, payload] of [['meta', messengerPayload], ['whatsapp', whatsappPayload]] as const) {
      const sig = (name: string, value: string) => [json, [name, value]] as [string, string][];
      const body = (m = marker()) => metaJson(payload(m));
      const p = payload(marker());
      add(endpoint, 'no signature', body(), [json]);
      const b1 = body();
      add(endpoint, 'signature over a different body', b1, sig('X-Hub-Signature-256', signMetaBody(body(), META)));
      add(endpoint, 'valid signature, body re-serialized with whitespace', JSON.stringify(p, null, 2), sig('X-Hub-Signature-256', signMetaBody(metaJson(p), META)));
      add(endpoint, 'valid signature, body re-serialized with the keys in another order', metaJson(reordered(p)), sig('X-Hub-Signature-256', signMetaBody(metaJson(p), META)));
      add(endpoint, 'valid signature, body re-serialized without Meta\'s escapes', JSON.stringify(p), sig('X-Hub-Signature-256', signMetaBody(metaJson(p), META)));
      const b2 = body();
      add(endpoint, 'sha1= (HMAC-SHA1) instead of sha256=', b2, sig('X-Hub-Signature-256', `sha1=${hmacHex('sha1', META, b2)}`));
      add(endpoint, 'only the legacy X-Hub-Signature (sha1)', b2, sig('X-Hub-Signature', `sha1=${hmacHex('sha1', META, b2)}`));
      add(endpoint, 'a valid sha256= value under the legacy header name', b2, sig('X-Hub-Signature', signMetaBody(b2, META)));
      add(endpoint, 'a valid sha256 value without the sha256= prefix', b2, sig('X-Hub-Signature-256', hmacHex('sha256', META, b2)));
      add(endpoint, 'uppercase hex of a signature over another body', b2, sig('X-Hub-Signature-256', `sha256=${hmacHex('sha256', META, body()).toUpperCase()}`));
      add(endpoint, 'empty header', b2, sig('X-Hub-Signature-256', ''));
      add(endpoint, 'sha256= and nothing else', b2, sig('X-Hub-Signature-256', 'sha256='));
      add(endpoint, 'truncated signature', b2, sig('X-Hub-Signature-256', signMetaBody(b2, META).slice(0, -2)));
      add(endpoint, 'signature with two hex digits appended', b2, sig('X-Hub-Signature-256', `${signMetaBody(b2, META)}00`));
      add(endpoint, 'doubled header (forged, then valid)', b2, [json, ['X-Hub-Signature-256', signMetaBody(body(), META)], ['X-Hub-Signature-256', signMetaBody(b2, META)]]);
      add(endpoint, 'doubled header (valid twice)', b2, [json, ['X-Hub-Signature-256', signMetaBody(b2, META)], ['X-Hub-Signature-256', signMetaBody(b2, META)]]);
      add(endpoint, 'header name case variant carrying a forged signature', b2, sig('X-HUB-SIGNATURE-256', signMetaBody(body(), META)));
      add(endpoint, 'valid signature under X_Hub_Signature_256 (underscores)', b2, sig('X_Hub_Signature_256', signMetaBody(b2, META)));
      for (const other of OTHER_APP_SECRETS) add(endpoint, `signed with another app's secret (${other.slice(0, 12)}…)`, b2, sig('X-Hub-Signature-256', signMetaBody(b2, other)));
    }

    // TikTok: TikTok-Signature t=<s>,s=hex(HMAC-SHA256(client secret, "<t>.<body>")), 5-minute window.
    const tiktokBody = (m = marker(), t = now()) => JSON.stringify({
      event: 'im_receive_msg', user_openid: tiktok.business_id, create_time: t,
      content: JSON.stringify({ conversation_id: `conv${m}`, message_id: m, timestamp: Date.now(), type: 'text', text: { body: `forged ${m}` }, from: 'forger', from_user: { id: `-000${m}` }, to: tiktok.username, to_user: { id: tiktok.business_id } }),
    });
    {
      const sig = (value: string, name = 'TikTok-Signature') => [json, [name, value]] as [string, string][];
      const t = now();
      const b = tiktokBody();
      add('tiktok', 'no signature', b, [json]);
      add('tiktok', 'signature over a different body', b, sig(signTikTokWebhook(TIKTOK, t, tiktokBody())));
      const parsed = JSON.parse(b) as Record<string, unknown>;
      add('tiktok', 'valid signature, body re-serialized with whitespace', JSON.stringify(parsed, null, 1), sig(signTikTokWebhook(TIKTOK, t, b)));
      add('tiktok', 'valid signature, body re-serialized with the keys in another order', JSON.stringify(reordered(parsed)), sig(signTikTokWebhook(TIKTOK, t, b)));
      add('tiktok', 'HMAC over the body without "<t>."', b, sig(`t=${t},s=${hmacHex('sha256', TIKTOK, b)}`));
      add('tiktok', 'HMAC-SHA1 instead of SHA-256', b, sig(`t=${t},s=${hmacHex('sha1', TIKTOK, `${t}.${b}`)}`));
      add('tiktok', 'Meta-style sha256= value', b, sig(`sha256=${hmacHex('sha256', TIKTOK, `${t}.${b}`)}`));
      add('tiktok', 'uppercase hex of a signature over another body', b, sig(`t=${t},s=${hmacHex('sha256', TIKTOK, `${t}.${tiktokBody()}`).toUpperCase()}`));
      add('tiktok', 'empty header', b, sig(''));
      add('tiktok', 'timestamp only', b, sig(`t=${t}`));
      add('tiktok', 'truncated signature', b, sig(signTikTokWebhook(TIKTOK, t, b).slice(0, -2)));
      add('tiktok', 'doubled header (forged, then valid for another body)', b, [json, ['TikTok-Signature', signTikTokWebhook(TIKTOK, t, tiktokBody())], ['TikTok-Signature', `t=${t},s=${'0'.repeat(64)}`]]);
      add('tiktok', 'header name case variant carrying a forged signature', b, sig(signTikTokWebhook(TIKTOK, t, tiktokBody()), 'TIKTOK-SIGNATURE'));
      add('tiktok', 'valid signature under TikTok_Signature (underscore)', b, sig(signTikTokWebhook(TIKTOK, t, b), 'TikTok_Signature'));
      add('tiktok', 'valid signature under X-TikTok-Signature', b, sig(signTikTokWebhook(TIKTOK, t, b), 'X-TikTok-Signature'));
      for (const other of [META, ...OTHER_APP_SECRETS.filter((s) => s !== TIKTOK)]) add('tiktok', `signed with another app's secret (${other.slice(0, 12)}…)`, b, sig(signTikTokWebhook(other, t, b)));
      const past = t - 6 * 60;
      const future = t + 6 * 60;
      add('tiktok', 'valid HMAC, timestamp 6 minutes in the past', tiktokBody(marker(), past), []);
      add('tiktok', 'valid HMAC, timestamp 6 minutes in the future', tiktokBody(marker(), future), []);
      // A delivery captured ten minutes ago and sent again: genuine bytes and header, old timestamp.
      const old = t - 10 * 60;
      const captured = tiktokBody(marker(), old);
      add('tiktok', 'replay of a valid delivery from ten minutes ago', captured, sig(signTikTokWebhook(TIKTOK, old, captured)));
      add('tiktok', 'old valid signature with the timestamp moved to now', captured, sig(`t=${t},s=${signTikTokWebhook(TIKTOK, old, captured).split('s=')[1]}`));
      add('tiktok', 'doubled header (old valid, then a fresh timestamp with a forged signature)', captured, [json, ['TikTok-Signature', signTikTokWebhook(TIKTOK, old, captured)], ['TikTok-Signature', `t=${t},s=${'1'.repeat(64)}`]]);
      for (const x of attempts.filter((x) => x.endpoint === 'tiktok' && x.headers.length === 0)) {
        const ts = Number((JSON.parse(x.body) as { create_time: number }).create_time);
        x.headers = sig(signTikTokWebhook(TIKTOK, ts, x.body));
      }
    }

    // Twilio: X-Twilio-Signature = base64(HMAC-SHA1(Auth Token, URL + sorted params)), per account.
    const inboundUrl = `${api.url}/webhooks/twilio`;
    const statusUrl = `${api.url}/webhooks/twilio/status`;
    const inboundPairs = (sid = `SM${randomBytes(16).toString('hex')}`): [string, string][] => [
      ['SmsMessageSid', sid], ['NumMedia', '0'], ['ProfileName', 'Forger'], ['SmsSid', sid], ['WaId', '33699999999'], ['SmsStatus', 'received'],
      ['Body', `forged ${sid}`], ['To', sender], ['NumSegments', '1'], ['MessageSid', sid], ['AccountSid', tw.accountSid], ['From', 'whatsapp:+33699999999'], ['ApiVersion', '2010-04-01'],
    ];
    const statusPairs = (status = 'delivered', sid = `SM${randomBytes(16).toString('hex')}`): [string, string][] => [
      ['MessageSid', sid], ['SmsSid', sid], ['MessageStatus', status], ['SmsStatus', status], ['From', sender], ['To', 'whatsapp:+33612345678'], ['AccountSid', tw.accountSid], ['ApiVersion', '2010-04-01'],
    ];
    for (const [endpoint, url, otherUrl, pairsOf] of [['twilio', inboundUrl, statusUrl, () => inboundPairs()], ['twilio/status', statusUrl, inboundUrl, () => statusPairs()]] as const) {
      const sig = (value: string, name = 'X-Twilio-Signature') => [form, [name, value]] as [string, string][];
      const pairs = pairsOf();
      const { body, params } = formOf(pairs);
      const valid = twilioSignature(tw.authToken, url, params);
      add(endpoint, 'no signature', body, [form]);
      const changed = formOf(pairs.map(([k, v]) => [k, k === 'Body' || k === 'MessageStatus' ? `${v}x` : v]));
      add(endpoint, 'signature over different parameter values', changed.body, sig(valid));
      add(endpoint, 'signature computed for the other Twilio URL', body, sig(twilioSignature(tw.authToken, otherUrl, params)));
      add(endpoint, 'signature computed for another host', body, sig(twilioSignature(tw.authToken, url.replace('127.0.0.1', 'evil.example'), params)));
      add(endpoint, 'signature computed for the URL with a query added', body, sig(twilioSignature(tw.authToken, `${url}?x=1`, params)));
      add(endpoint, 'a parameter added after signing', `${body}&Extra=1`, sig(valid));
      const fewer = pairs.filter(([k]) => k !== 'ApiVersion');
      add(endpoint, 'a parameter removed after signing', formOf(fewer).body, sig(valid));
      add(endpoint, 'signed without a parameter that is sent', body, sig(twilioSignature(tw.authToken, url, formOf(fewer).params)));
      add(endpoint, 'hex instead of base64', body, sig(Buffer.from(valid, 'base64').toString('hex')));
      add(endpoint, 'sha1= prefix', body, sig(`sha1=${valid}`));
      add(endpoint, 'HMAC-SHA256 instead of SHA1', body, sig(createHmac('sha256', tw.authToken).update(url + Object.keys(params).sort().map((k) => k + String(params[k])).join('')).digest('base64')));
      add(endpoint, 'uppercased signature', body, sig(valid.toUpperCase()));
      add(endpoint, 'empty header', body, sig(''));
      add(endpoint, 'truncated signature', body, sig(valid.slice(0, -4)));
      add(endpoint, 'doubled header (valid twice)', body, [form, ['X-Twilio-Signature', valid], ['X-Twilio-Signature', valid]]);
      add(endpoint, 'header name case variant carrying a forged signature', body, sig(twilioSignature(tw.authToken, otherUrl, params), 'X-TWILIO-SIGNATURE'));
      add(endpoint, 'valid signature under X_Twilio_Signature (underscores)', body, sig(valid, 'X_Twilio_Signature'));
      for (const other of [META, tw.apiKey.secret, ...OTHER_APP_SECRETS]) add(endpoint, `signed with another secret (${other.slice(0, 12)}…)`, body, sig(twilioSignature(other, url, params)));
      const otherAccount = formOf(pairs.map(([k, v]) => [k, k === 'AccountSid' ? `AC${'9'.repeat(32)}` : v]));
      add(endpoint, 'another account\'s AccountSid, signed with its own token', otherAccount.body, sig(twilioSignature('that-accounts-token', url, otherAccount.params)));
    }

    // Gmail push: the subscription's token in the query.
    const push = (m = marker()) => JSON.stringify({
      message: { data: Buffer.from(JSON.stringify({ emailAddress: gmail, historyId: '987654321' })).toString('base64'), messageId: m, publishTime: new Date().toISOString() },
      subscription: 'projects/switchboard/subscriptions/gmail-push',
    });
    for (const [what, query, headers] of [
      ['no token', '', []],
      ['wrong token', '?token=guess', []],
      ['empty token', '?token=', []],
      ['token with a character appended', `?token=${PUSH_TOKEN}x`, []],
      ['truncated token', `?token=${PUSH_TOKEN.slice(0, -1)}`, []],
      ['uppercased token', `?token=${PUSH_TOKEN.toUpperCase()}`, []],
      ['token in access_token', `?access_token=${PUSH_TOKEN}`, []],
      ['token in Token', `?Token=${PUSH_TOKEN}`, []],
      ['token in token_', `?token_=${PUSH_TOKEN}`, []],
      ['token in an Authorization header', '', [['Authorization', `Bearer ${PUSH_TOKEN}`]]],
      ['token in an X-Goog-Token header', '', [['X-Goog-Token', PUSH_TOKEN]]],
      ...OTHER_APP_SECRETS.map((s) => [`another app's secret as the token (${s.slice(0, 12)}…)`, `?token=${encodeURIComponent(s)}`, []]),
    ] as [string, string, [string, string][]][]) add('google', what, push(), [json, ...headers], query);
    add('google', 'token in the body', JSON.stringify({ ...JSON.parse(push()), token: PUSH_TOKEN }), [json]);

    // Nothing arrives or drains meanwhile (quiet since the last test): the counts may not move.
    await quiet();
    const counts = async () => ({
      webhook_events: await WebhookEventModel.countDocuments(), messages: await MessageModel.countDocuments(), webhook_deliveries: await WebhookDeliveryModel.countDocuments(),
    });
    const beforeCounts = await counts();
    const accepted: string[] = [];
    for (const x of attempts) {
      const res = await rawPost(`${api.url}/webhooks/${x.endpoint}${x.query ?? ''}`, x.body, x.headers);
      recordResponse(`POST /webhooks/${x.endpoint}`, res.text);
      if (res.status !== 401 && res.status !== 403) accepted.push(`${x.endpoint}: ${x.what} → ${res.status} ${res.text}`);
    }
    assert.deepEqual(accepted, [], 'bypass attempts not refused');
    assert.ok(attempts.length > 100, `${attempts.length} attempts`);
    for (const endpoint of ['meta', 'whatsapp', 'twilio', 'twilio/status', 'tiktok', 'google']) assert.ok(attempts.some((x) => x.endpoint === endpoint), endpoint);
    await quiet();
    assert.deepEqual(await counts(), beforeCounts, 'nothing stored');
    const deliveryIds = attempts.map((x) => `${x.endpoint.split('/')[0]}:${sha256Hex(x.body)}`);
    assert.equal(await WebhookDeliveryModel.countDocuments({ _id: { $in: deliveryIds } }), 0, 'no attempt in the webhook log');
    assert.equal(await WebhookEventModel.countDocuments({ deliveryId: { $in: deliveryIds } }), 0, 'no attempt queued');
    assert.equal(await MessageModel.countDocuments({ text: { $regex: 'forged' } }), 0, 'no forged message');

    // Control, so the refusals above are about the signatures: the same kind of delivery signed
    // properly is taken — and encodings of the very same signature are the same signature (header
    // names are case-insensitive in HTTP; hex digits may be either case; TikTok lists several s=).
    const control: Attempt[] = [];
    const m1 = metaJson(messengerPayload(marker()));
    control.push({ endpoint: 'meta', what: 'genuine', body: m1, headers: [json, ['X-Hub-Signature-256', signMetaBody(m1, META)]] });
    const m2 = metaJson(messengerPayload(marker()));
    control.push({ endpoint: 'meta', what: 'uppercase hex, header name in capitals', body: m2, headers: [json, ['X-HUB-SIGNATURE-256', `sha256=${hmacHex('sha256', META, m2).toUpperCase()}`]] });
    const w1 = metaJson(whatsappPayload(marker()));
    control.push({ endpoint: 'whatsapp', what: 'genuine', body: w1, headers: [json, ['X-Hub-Signature-256', signMetaBody(w1, META)]] });
    const t1 = tiktokBody();
    const s1 = signTikTokWebhook(TIKTOK, now(), t1);
    control.push({ endpoint: 'tiktok', what: 'genuine, sent twice in one header', body: t1, headers: [json, ['tiktok-signature', `${s1}, ${s1}`]] });
    const ti = formOf(inboundPairs());
    control.push({ endpoint: 'twilio', what: 'genuine', body: ti.body, headers: [form, ['X-Twilio-Signature', twilioSignature(tw.authToken, inboundUrl, ti.params)]] });
    const g1 = push();
    control.push({ endpoint: 'google', what: 'genuine', body: g1, headers: [json], query: `?token=${PUSH_TOKEN}` });
    for (const x of control) {
      const res = await rawPost(`${api.url}/webhooks/${x.endpoint}${x.query ?? ''}`, x.body, x.headers);
      recordResponse(`POST /webhooks/${x.endpoint}`, res.text);
      assert.equal(res.status, 200, `${x.endpoint} ${x.what}: ${res.text}`);
    }
    // The five messages (the Gmail push only asks for a sync).
    await eventually('the genuine deliveries stored', async () => (await MessageModel.countDocuments({ text: { $regex: 'forged' } })) === 5);
  });

  // ---- the rest of tenant A's life ----

  it('sends on every platform, marks read, delivers outgoing webhooks across a secret rotation, issues and revokes keys', async () => {
    // Replies on every channel.
    const sends = [];
    for (const [platform, conversationId] of a.conversations) {
      const res = await api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key, body: { text: `sec-reply on ${platform}` }, headers: { 'idempotency-key': `sec-${platform}` } });
      assert.equal(res.status, 202, res.text);
      sends.push({ platform, id: res.json.message.id as string });
    }
    // An uploaded file, sent as a reply: the platform fetches it through a signed link.
    const upload = await api.call('POST', '/v1/media?name=sec-receipt.pdf', { key, rawBody: '%PDF-1.4 sec receipt', headers: { 'content-type': 'application/pdf' } });
    assert.equal(upload.status, 201, upload.text);
    mediaId = upload.json.media.id;
    const withMedia = await api.call('POST', `/v1/conversations/${encodeURIComponent(a.conversations.get('messenger')!)}/messages`, { key, body: { media: { type: 'file', mediaId } }, headers: { 'idempotency-key': 'sec-media' } });
    assert.equal(withMedia.status, 202, withMedia.text);
    sends.push({ platform: 'messenger' as Platform, id: withMedia.json.message.id as string });
    for (const s of sends) {
      const m = await eventually(`${s.platform} reply settled`, async () => { const v = (await get(`/v1/messages/${encodeURIComponent(s.id)}`)).json.message; return v.status !== 'pending' && v; }, 60_000);
      assert.ok(['sent', 'delivered', 'read'].includes(m.status), `${s.platform}: ${m.status} ${JSON.stringify(m.error)}`);
      a.messages.push(s.id);
    }
    for (const platform of ['messenger', 'gmail', 'whatsapp_cloud'] as const) {
      const read = await api.call('POST', `/v1/conversations/${encodeURIComponent(a.conversations.get(platform)!)}/read`, { key });
      assert.equal(read.status, 200, read.text);
      assert.equal(read.json.platformRead.status, 'requested');
    }

    // Keys: an agent's, one to be revoked, and one another tenant will try to revoke.
    const issue = async (name: string, role: string) => {
      const res = await api.call('POST', '/v1/api-keys', { key, body: { name, role } });
      assert.equal(res.status, 201, res.text);
      secret(`API key "${name}"`, res.json.secret);
      a.keyIds.push(res.json.apiKey.id);
      return { id: res.json.apiKey.id as string, secret: res.json.secret as string };
    };
    agentKey = (await issue('agent', 'agent')).secret;
    victimKeyId = (await issue('victim', 'agent')).id;
    const toRevoke = await issue('to revoke', 'admin');
    revokedKey = toRevoke.secret;
    assert.equal((await api.call('DELETE', `/v1/api-keys/${toRevoke.id}`, { key })).status, 200);
    a.keyIds.push((await get('/v1/me')).json.key.id);

    // Outgoing webhooks: an event signed with the first secret, then one with the rotated one.
    const created = await api.call('POST', '/v1/webhook-endpoints', { key, body: { url: `${receiver.url}/sec-hooks`, description: 'sec CRM' } });
    assert.equal(created.status, 201, created.text);
    endpoint = { id: created.json.endpoint.id, url: `${receiver.url}/sec-hooks` };
    const first: string = created.json.secret;
    secret('outgoing webhook secret', first);
    const hookFor = (text: string) => eventually(`event for "${text}" delivered`, async () => receiver.received.find((r) => r.body.includes(text)));
    await customerWrites('messenger', 'meta', 'sec-messenger after registering', { accountId: PAGE });
    const signedFirst = await hookFor('sec-messenger after registering');
    assert.ok(verifyPayload(first, signedFirst.body, String(signedFirst.headers['switchboard-signature'])));
    const rotated = await api.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { key });
    assert.equal(rotated.status, 200, rotated.text);
    secret('rotated outgoing webhook secret', rotated.json.secret);
    await customerWrites('messenger', 'meta', 'sec-messenger after rotating', { accountId: PAGE });
    const signedSecond = await hookFor('sec-messenger after rotating');
    assert.ok(verifyPayload(rotated.json.secret, signedSecond.body, String(signedSecond.headers['switchboard-signature'])));
    assert.ok(!verifyPayload(first, signedSecond.body, String(signedSecond.headers['switchboard-signature'])), 'the old secret no longer signs');
    const deliveries = await api.call('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, { key });
    assert.ok(deliveries.json.data.length >= 2, deliveries.text);

    // Tokens refreshed on demand (TikTok rotates its refresh token), a revoked grant, and a reconnect.
    for (const platform of ['tiktok', 'gmail'] as const) {
      const refreshed = await api.call('POST', `/v1/channels/${a.channels.get(platform)}/refresh`, { key });
      assert.equal(refreshed.json.ok, true, refreshed.text);
    }
    const messenger = a.channels.get('messenger')!;
    await sb.admin('POST', '/tokens/revoke', { platform: 'meta', code: 190, subcode: 460 });
    await api.call('POST', `/v1/channels/${messenger}/sync`, { key });
    // The workflow itself too: it records the status before it takes it on, and refuses a connect until then.
    const messengerWorkflow = api.temporal.workflow.getHandle((await channelView(messenger)).workflowId);
    await eventually('reauth_required', async () => (await channelView(messenger)).status === 'reauth_required' && (await messengerWorkflow.query(channelStatusQuery)).status === 'reauth_required');
    await sb.admin('POST', '/tokens/restore', { platform: 'meta' });
    const reconnect = await api.call('POST', `/v1/channels/${messenger}/reconnect`, { key });
    await consent(reconnect.json.authorizeUrl, 'sandbox_action=approve');
    await eventually('active again', async () => (await channelView(messenger)).status === 'active');

    // The day's analytics for the tenant.
    await api.temporal.workflow.execute<typeof dailyAnalyticsWorkflow>('dailyAnalyticsWorkflow', { taskQueue, workflowId: uniqueName('sec-analytics'), args: [{ day: day(0) }] });
    const stats = await api.call('GET', `/v1/analytics/daily?from=${day(0)}&to=${day(0)}`, { key });
    assert.ok(stats.json.days[0].totals.messagesIn > 0, stats.text);

    // Tenant A's objects every probe below names, and another tenant with an admin and an agent key.
    const conversationId = a.conversations.get('messenger')!;
    const conversation = (await get(`/v1/conversations/${encodeURIComponent(conversationId)}`)).json.conversation;
    const others = (await get(`/v1/conversations?channelId=${messenger}`)).json.data.filter((c: { id: string }) => c.id !== conversationId);
    const otherContactId = others.map((c: { contactId: string | null }) => c.contactId).find((id: string | null) => id && id !== conversation.contactId);
    assert.ok(conversation.contactId && otherContactId, 'two contacts');
    objects = {
      channelId: messenger, conversationId, messageId: sends.find((s) => s.platform === 'messenger')!.id, contactId: conversation.contactId, otherContactId,
      endpointId: endpoint.id, deliveryEventId: deliveries.json.data[0].id, eventSeq: String(await latestSeq(stack.tenantId.toString())), apiKeyId: victimKeyId, mediaId,
    };
    assert.ok(Number(objects.eventSeq) > 10, 'tenant A has events');
    keyB = (await createTenantWithAdminKey('Other tenant B')).secret;
    secret('tenant B admin key', keyB);
    const agentB = await api.call('POST', '/v1/api-keys', { key: keyB, body: { name: 'B agent', role: 'agent' } });
    agentKeyB = agentB.json.secret;
    secret('tenant B agent key', agentKeyB);

    // Tenant B has an inbox of its own: an Instagram account (through its Page), a customer, an endpoint.
    const createdB = await api.call('POST', '/v1/channels', { key: keyB, body: { platform: 'instagram', name: 'B instagram' } });
    assert.equal(createdB.status, 201, createdB.text);
    await consent(createdB.json.authorizeUrl, 'sandbox_action=approve');
    b.channelId = createdB.json.channel.id;
    await eventually('B connected', async () => { const ch = (await api.call('GET', `/v1/channels/${b.channelId}`, { key: keyB })).json.channel; return ch.status === 'active' && ch.backfill.done; }, 60_000);
    const hookB = await api.call('POST', '/v1/webhook-endpoints', { key: keyB, body: { url: `${receiver.url}/b-hooks` } });
    assert.equal(hookB.status, 201, hookB.text);
    secret('tenant B outgoing webhook secret', hookB.json.secret);
    await sb.admin('POST', '/customers/meta/messages', { accountId: IG_OF_B, text: 'b-customer question' });
    const storedB = await eventually('B\'s customer message stored', async () => (await MessageModel.findOne({ channelId: b.channelId, text: 'b-customer question' }).lean()) ?? undefined);
    b.conversationId = String(storedB.conversationId);
    b.contactId = String((await api.call('GET', `/v1/conversations/${encodeURIComponent(b.conversationId)}`, { key: keyB })).json.conversation.contactId);
    // Each endpoint hears its own tenant's events only.
    await customerWrites('messenger', 'meta', 'sec-messenger while B listens', { accountId: PAGE });
    await hookFor('sec-messenger while B listens');
    await sb.admin('POST', '/customers/meta/messages', { accountId: IG_OF_B, text: 'b-customer second' });
    await hookFor('b-customer second');
    const at = (path: string) => receiver.received.filter((r) => r.url === path).map((r) => r.body);
    assert.ok(at('/b-hooks').length > 0 && at('/b-hooks').every((body) => !body.includes('sec-') && !body.includes(stack.tenantId.toString())), 'B\'s endpoint: none of A\'s events');
    assert.ok(at('/sec-hooks').every((body) => !body.includes('b-customer')), 'A\'s endpoint: none of B\'s events');
    for (const id of a.channels.values()) a.messages.push(...(await MessageModel.find({ channelId: id }, { _id: 1 }).lean()).map((m) => String(m._id)));
  });

  // ---- 1. every API route probed ----

  let operations: Operation[] = [];
  const ghost = (): Objects => {
    const channel = new Types.ObjectId().toHexString();
    return {
      channelId: channel, conversationId: `${channel}:nobody`, messageId: `${channel}:m_nothing`, contactId: new Types.ObjectId().toHexString(), otherContactId: new Types.ObjectId().toHexString(),
      endpointId: new Types.ObjectId().toHexString(), deliveryEventId: '999999999', eventSeq: '999999999', apiKeyId: new Types.ObjectId().toHexString(), mediaId: `med_${randomBytes(12).toString('hex')}`,
    };
  };
  const opName = (op: Operation) => `${op.method} ${op.path}`;
  const paramKey = (path: string, name: string) => path.slice(0, path.indexOf(`{${name}}`) + name.length + 2);
  const pathFor = (op: Operation, o: Objects) => {
    const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(PARAMS[paramKey(op.path, name)]!(o)));
    const query = QUERIES[opName(op)]?.(o);
    return query ? `${path}?${query}` : path;
  };

  /** One request; the event stream is read over HTTP until it has said `ready` (and a moment more), then closed. */
  async function probe(op: Operation, o: Objects, headers: Record<string, string>): Promise<Reply & { request: string }> {
    const path = pathFor(op, o);
    const body = BODIES[opName(op)]?.(o);
    const request = `${path} ${body === undefined ? '' : JSON.stringify(body)}`;
    if (body instanceof RawBody) return { ...(await api.call(op.method, path, { headers: { ...headers, 'content-type': body.type }, rawBody: body.text })), request };
    if (opName(op) !== 'GET /v1/events') return { ...(await api.call(op.method, path, { headers, ...(body === undefined ? {} : { body }) })), request };
    const abort = new AbortController();
    const res = await fetch(`${api.url}${path}`, { headers, signal: abort.signal });
    let text = '';
    if (res.headers.get('content-type')?.includes('text/event-stream')) {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let deadline = Date.now() + 30_000;
      let ready = false;
      while (Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())))]);
        if (!chunk || chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
        // After `ready`, whatever the stream has (events after 0) comes at once: give it a second.
        if (!ready && text.includes('event: ready')) { ready = true; deadline = Date.now() + 1000; }
      }
      abort.abort();
      await reader.cancel().catch(() => undefined);
    } else {
      text = await res.text();
    }
    recordResponse(`GET ${path}`, text);
    let json: Json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text, request };
  }
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

  it('finds every /v1 operation in the OpenAPI document, each documented as needing a key and known to the sweep', async () => {
    const doc = await api.call('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    for (const [path, item] of Object.entries(doc.json.paths as Record<string, Record<string, Json>>)) {
      for (const [method, spec] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method) || !path.startsWith('/v1/')) continue;
        operations.push({ method: method.toUpperCase(), path, id: `${method.toUpperCase()} ${path}`, spec });
      }
    }
    assert.ok(operations.some((op) => op.id === 'GET /v1/oauth/callback'), 'the OAuth callback is documented');
    // The callback is authenticated by its signed state (tested below), every other /v1 operation by a key.
    operations = operations.filter((op) => op.id !== 'GET /v1/oauth/callback');
    assert.ok(operations.length >= 40, `${operations.length} operations`);
    assert.deepEqual(operations.filter((op) => !JSON.stringify(op.spec.security ?? []).includes('apiKey')).map(opName), [], 'operations documented without the API key');

    const unknown: string[] = [];
    for (const op of operations) {
      for (const [, name] of op.path.matchAll(/\{(\w+)\}/g)) {
        if (!PARAMS[paramKey(op.path, name!)]) unknown.push(`${op.id}: path parameter {${name}} — add "${paramKey(op.path, name!)}" to PARAMS in test/integration/security.test.ts`);
      }
      if (op.spec.requestBody?.required && !BODIES[op.id]) unknown.push(`${op.id}: a required body — add it to BODIES`);
      for (const p of (op.spec.parameters ?? []) as { in: string; name: string; required?: boolean }[]) {
        if (p.in === 'query' && p.required && !QUERIES[op.id]?.(objects).includes(`${p.name}=`)) unknown.push(`${op.id}: required query parameter ${p.name} — add it to QUERIES`);
      }
    }
    assert.deepEqual(unknown, [], 'operations the security sweep does not know how to call');
  });

  it('refuses every operation without a valid key: 401 with the JSON error shape', async () => {
    const badAuth: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['an empty Authorization header', { authorization: '' }],
      ['the Basic scheme', { authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` }],
      ['Bearer with no key', { authorization: 'Bearer' }],
      ['the key without a scheme', { authorization: key }],
      ['a malformed key', { authorization: 'Bearer not-a-key' }],
      ['a key with a space in it', { authorization: `Bearer ${key.slice(0, 10)} ${key.slice(10)}` }],
      ['an unknown key of the right shape', bearer(`sbk_${randomToken(32)}`)],
      ['a tampered key', bearer(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)],
      ['a revoked key', bearer(revokedKey)],
      ['the key in another header', { 'x-api-key': key }],
    ];
    const wrong: string[] = [];
    for (const op of operations) {
      for (const [what, headers] of badAuth) {
        const res = await probe(op, objects, headers);
        const shaped = res.json?.error?.code === 'unauthorized' && typeof res.json.error.message === 'string' && res.json.error.message.length > 0;
        if (res.status !== 401 || !shaped) wrong.push(`${op.id} with ${what}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(wrong, []);
    const inQuery = await api.call('GET', `/v1/me?api_key=${key}&access_token=${key}`);
    assert.equal(inQuery.status, 401, 'a key in the query string is not a key');

    // Other spellings of a path never skip the key check (the OAuth callback's exemption is exact).
    const channels = `/v1/channels/${objects.channelId}`;
    const spellings: [string, string][] = [
      ['GET', `${channels}/`], ['GET', `/v1//channels/${objects.channelId}`], ['GET', `/v1/./channels/${objects.channelId}`], ['GET', `/%76%31/channels/${objects.channelId}`],
      ['GET', `/V1/channels/${objects.channelId}`], ['HEAD', channels], ['OPTIONS', channels], ['GET', `/v1/oauth/callback/../../v1/channels/${objects.channelId}`],
      ['GET', `/v1/oauth/callback/x/../../../v1/channels/${objects.channelId}`], ['GET', `/v1/oauth/callback?state=x/../../channels/${objects.channelId}`],
      ['DELETE', `/v1/oauth/callback`], ['POST', `/v1/oauth/callback/../channels/${objects.channelId}/sync`],
    ];
    const opened: string[] = [];
    for (const [method, path] of spellings) {
      const res = await api.call(method, path);
      if (![400, 401, 404, 405].includes(res.status) || res.text.includes('A messenger')) opened.push(`${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    assert.deepEqual(opened, [], 'a path spelling that answered without a key');
    assert.equal((await channelView(objects.channelId)).status, 'active');
  });

  /** What another tenant must not change: tenant A's objects as A sees them. */
  async function snapshotA() {
    const channel = await channelView(objects.channelId);
    const conversation = (await get(`/v1/conversations/${encodeURIComponent(objects.conversationId)}`)).json.conversation;
    const contacts = await Promise.all([objects.contactId, objects.otherContactId].map(async (id) => (await get(`/v1/contacts/${id}`)).json.contact?.id));
    const hook = (await get(`/v1/webhook-endpoints/${objects.endpointId}`)).json.endpoint;
    const keys = (await get('/v1/api-keys')).json.data.map((k: Json) => ({ id: k.id, revokedAt: k.revokedAt }));
    const message = (await get(`/v1/messages/${encodeURIComponent(objects.messageId)}`)).json.message;
    const delivery = (await get(`/v1/webhook-endpoints/${objects.endpointId}/deliveries/${objects.deliveryEventId}`)).json.delivery;
    const messages = (await get(`/v1/conversations/${encodeURIComponent(objects.conversationId)}/messages?limit=200`)).json.data.map((m: Json) => m.id);
    return {
      channel: { name: channel.name, status: channel.status, sendRate: channel.sendRate.configured },
      conversation: { status: conversation.status, labels: conversation.labels, assigneeId: conversation.assigneeId, contactId: conversation.contactId },
      contacts, hook: { url: hook.url, active: hook.active, secretHint: hook.secretHint }, keys, message: { text: message.text, direction: message.direction },
      delivery: { state: delivery.state, attempts: delivery.attempts }, messages, channels: (await get('/v1/channels')).json.data.length,
    };
  }

  it('answers another tenant 404 for tenant A\'s objects on every operation (agents: 403 where admin is needed), showing nothing of A', async () => {
    const before = await snapshotA();
    // Event IDs are per tenant: B's own log must not reach the number probed as A's.
    const tenantB = String((await api.call('GET', '/v1/me', { key: keyB })).json.tenant.id);
    assert.ok(Number(objects.eventSeq) > (await latestSeq(tenantB)) + 10, 'tenant A\'s event number is beyond tenant B\'s log');
    // Anything that names tenant A's data; a response may only contain one the request itself named.
    const markers = new Set<string>([
      stack.tenantId.toString(), ...a.channels.values(), ...a.conversations.values(), ...a.messages, ...a.keyIds,
      objects.contactId, objects.otherContactId, endpoint.id, endpoint.url, mediaId, 'sec-receipt', 'sec-messenger question', 'sec-reply on', 'Acme A', 'A messenger', PAGE,
      world.whatsapp.wabas[0].phoneNumbers[0].id, world.tiktok.accounts[0].business_id, world.google.mailboxes[0].emailAddress, world.twilio.senders[0].address,
    ]);
    const wrong: string[] = [];
    const leaks: string[] = [];
    for (const op of operations) {
      const hasParams = op.path.includes('{');
      const admin = !AGENT_OPERATIONS.includes(op.id);
      for (const [who, k] of [['tenant B admin', keyB], ['tenant B agent', agentKeyB]] as const) {
        const res = await probe(op, objects, bearer(k));
        const expected = who === 'tenant B agent' && admin ? [403] : hasParams ? [404] : [200, 201, 202];
        if (!expected.includes(res.status)) wrong.push(`${op.id} as ${who}: ${res.status} (expected ${expected.join('/')}) ${res.text.slice(0, 200)}`);
        const seen = [...markers].filter((m) => res.text.includes(m) && !res.request.includes(m));
        if (seen.length) leaks.push(`${op.id} as ${who} showed ${seen.join(', ')}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(leaks, [], 'tenant A\'s data in another tenant\'s responses');
    assert.deepEqual(await snapshotA(), before, 'tenant A\'s objects unchanged');
  });

  it('refuses tenant A\'s objects named inside tenant B\'s own requests', async () => {
    const before = await snapshotA();
    const conv = encodeURIComponent(b.conversationId);
    const mixed: [string, string, unknown, number][] = [
      ['merge A\'s contact into B\'s', `/v1/contacts/${b.contactId}/merge`, { contactId: objects.contactId }, 404],
      ['merge B\'s contact into A\'s', `/v1/contacts/${objects.contactId}/merge`, { contactId: b.contactId }, 404],
      ['reply in B\'s conversation with A\'s uploaded file', `/v1/conversations/${conv}/messages`, { media: { type: 'file', mediaId } }, 404],
    ];
    for (const [what, path, body, status] of mixed) {
      const res = await api.call('POST', path, { key: keyB, body, headers: { 'idempotency-key': `mixed-${what}` } });
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.ok(!res.text.includes('sec-receipt') && !res.text.includes(objects.otherContactId), what);
    }
    assert.equal(await MessageModel.countDocuments({ channelId: b.channelId, direction: 'outbound', 'attachments.0': { $exists: true } }), 0, 'no reply with A\'s file');
    // The same Idempotency-Key as one of A's replies is a message of B's own, and A's stays as it was.
    const same = await api.call('POST', `/v1/conversations/${conv}/messages`, { key: keyB, body: { text: 'b reply' }, headers: { 'idempotency-key': 'sec-messenger' } });
    assert.equal(same.status, 202, same.text);
    assert.notEqual(same.json.message.id, objects.messageId);
    assert.equal(same.json.message.conversationId, b.conversationId);
    const filtered = await api.call('GET', `/v1/conversations?channelId=${objects.channelId}`, { key: keyB });
    assert.deepEqual(filtered.json.data, []);
    const contacts = await api.call('GET', '/v1/contacts', { key: keyB });
    assert.deepEqual(contacts.json.data.map((c: { id: string }) => c.id).filter((id: string) => [objects.contactId, objects.otherContactId].includes(id)), []);
    assert.deepEqual(await snapshotA(), before, 'tenant A\'s objects unchanged');
  });

  it('refuses agent keys on every admin operation with 403; agents may use exactly the expected operations', async () => {
    const before = await snapshotA();
    const agentMay: string[] = [];
    const wrong: string[] = [];
    for (const op of operations) {
      // Admin operations are tried on tenant A's real objects; the rest on IDs that name nothing (no side effects).
      const res = await probe(op, AGENT_OPERATIONS.includes(op.id) ? ghost() : objects, bearer(agentKey));
      if (res.status === 403) {
        if (res.json?.error?.code !== 'forbidden' && !/admin/i.test(res.json?.error?.message ?? '')) wrong.push(`${op.id}: 403 without the error shape: ${res.text}`);
        continue;
      }
      if (res.status === 401 || res.status >= 500) wrong.push(`${op.id}: ${res.status} ${res.text.slice(0, 200)}`);
      agentMay.push(op.id);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(agentMay.sort(), AGENT_OPERATIONS, 'the operations agent keys may use');
    assert.deepEqual(await snapshotA(), before, 'tenant A\'s objects unchanged');
  });

  it('refuses an OAuth callback whose state is missing, forged, re-signed, expired, for another tenant or used', async () => {
    const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'messenger', name: 'A pending' } });
    assert.equal(created.status, 201, created.text);
    const pendingId: string = created.json.channel.id;
    const state = new URL(created.json.authorizeUrl).searchParams.get('state')!;
    const [payload, signature] = state.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { tenantId: string; channelId: string; nonce: string };
    const realKey = stateSigningKey(TEST_KEYS);
    const forge = (p: object) => `${Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) + 600, ...p })).toString('base64url')}.${signature}`;
    const tenantB = String((await api.call('GET', '/v1/me', { key: keyB })).json.tenant.id);
    const cases: [string, string, string][] = [
      ['no state', '/v1/oauth/callback?code=sandbox-code', 'validation_failed'],
      ['an empty state', '/v1/oauth/callback?code=x&state=', 'validation_failed'],
      ['a random state', `/v1/oauth/callback?code=x&state=${randomToken(40)}`, 'invalid_state'],
      ['a state with its signature cut', `/v1/oauth/callback?code=x&state=${payload}`, 'invalid_state'],
      ['a state re-pointed at another channel', `/v1/oauth/callback?code=x&state=${forge({ channelId: objects.channelId })}`, 'invalid_state'],
      ['a state signed with another key', `/v1/oauth/callback?code=x&state=${signState(claims, randomBytes(32))}`, 'invalid_state'],
      ['an expired state', `/v1/oauth/callback?code=x&state=${signState(claims, realKey, 600, Date.now() - 3_600_000)}`, 'invalid_state'],
      ['a genuine state naming another tenant', `/v1/oauth/callback?code=x&state=${signState({ ...claims, tenantId: tenantB }, realKey)}`, 'state_used'],
      ['a genuine state with another nonce', `/v1/oauth/callback?code=x&state=${signState({ ...claims, nonce: randomToken(16) }, realKey)}`, 'state_used'],
    ];
    for (const [what, path, code] of cases) {
      const res = await api.call('GET', path);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(res.json.error.code, code, what);
    }
    // The real state works once (here: consent denied), then never again.
    assert.equal((await api.call('GET', `/v1/oauth/callback?error=access_denied&state=${encodeURIComponent(state)}`)).status, 422);
    const replay = await api.call('GET', `/v1/oauth/callback?code=x&state=${encodeURIComponent(state)}`);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error.code, 'state_used');
    const pending = await ChannelModel.findById(pendingId).select('+pendingAuth').lean();
    assert.equal(pending?.status, 'pending_auth');
    assert.equal((pending as { pendingAuth?: unknown } | null)?.pendingAuth ?? null, null, 'no code was taken for the channel');
    assert.equal((await channelView(objects.channelId)).status, 'active');
  });

  it('serves an uploaded file only on a link signed for it and not expired (403/410), never by its ID alone', async () => {
    const keys = mediaLinkKeys(TEST_KEYS);
    const valid = new URL(signedMediaUrl(api.url, mediaId, keys));
    const exp = Number(valid.searchParams.get('exp'));
    const sig = valid.searchParams.get('sig')!;
    const link = (query: string, id = mediaId) => api.call('GET', `/media/${encodeURIComponent(id)}${query}`);
    const other = `med_${randomBytes(12).toString('hex')}`;
    const cases: [string, string, number, string?][] = [
      ['no signature', '', 403],
      ['the expiry alone', `?exp=${exp}`, 403],
      ['a random signature', `?exp=${exp}&sig=${randomBytes(32).toString('hex')}`, 403],
      ['the signature with a later expiry', `?exp=${exp + 86_400}&sig=${sig}`, 403],
      ['a signature for another file', `?exp=${exp}&sig=${mediaLinkSignature(other, exp, keys[0]!)}`, 403],
      ['a signature made with another key', `?exp=${exp}&sig=${mediaLinkSignature(mediaId, exp, randomBytes(32))}`, 403],
      ['a truncated signature', `?exp=${exp}&sig=${sig.slice(0, -2)}`, 403],
      ['an API key instead', `?exp=${exp}&sig=${key}`, 403],
      ['a genuine signature that has expired', `?exp=${exp - 8 * 86_400}&sig=${mediaLinkSignature(mediaId, exp - 8 * 86_400, keys[0]!)}`, 410],
    ];
    for (const [what, query, status] of cases) {
      const res = await link(query);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.ok(!res.text.includes('sec receipt'), what);
    }
    const withKey = await api.call('GET', `/media/${mediaId}`, { key });
    assert.equal(withKey.status, 403, 'an API key does not open a media link');
    const ok = await link(`?exp=${exp}&sig=${sig}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.text, '%PDF-1.4 sec receipt');
  });

  // ---- 2. no plaintext secret anywhere ----

  it('keeps every secret out of MongoDB, the logs, every workflow history and every API response', async () => {
    // Let what is still running finish writing (status callbacks, mark-read, outgoing deliveries).
    await quiet();
    for (const t of sb.sandbox.ctx.tokens.list()) secret(`sandbox ${t.platform} ${t.kind} token`, t.token);
    for (const [name, app] of Object.entries(DEFAULT_APPS)) {
      secret(`${name} app secret`, app.secret);
      for (const [k, v] of Object.entries(app.extra)) secret(`${name} ${k}`, v);
    }
    for (const k of TEST_KEYS) {
      secret(`encryption key ${k.id} (base64)`, k.key.toString('base64'));
      secret(`encryption key ${k.id} (hex)`, k.key.toString('hex'));
      secret(`encryption key ${k.id} (base64url)`, k.key.toString('base64url'));
    }
    secret('the OAuth state signing key', stateSigningKey(TEST_KEYS).toString('base64url'));
    for (const k of mediaLinkKeys(TEST_KEYS)) secret('a media link signing key', k.toString('hex'));
    for (const s of issuedBy.keys()) if (!secrets.has(s)) secret('a secret issued in a response', s);
    const kinds = new Set([...secrets.values()].map((w) => w.replace(/ ".*"| \(.*\)/g, '')));
    for (const expected of ['sandbox meta page token', 'sandbox google refresh token', 'sandbox tiktok refresh token', 'email password', 'Twilio API key secret', 'outgoing webhook secret', 'rotated outgoing webhook secret', 'OAuth authorization code', 'tenant A admin key']) {
      assert.ok([...kinds].some((k) => k.startsWith(expected.replace(/ token$/, ''))), `the sweep knows a ${expected} (${[...kinds].join(', ')})`);
    }
    // Each secret as written, URL-encoded and base64-encoded.
    const needles = [...secrets].flatMap(([value, what]) => [...new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])].map((n) => ({ n, what })));
    const found = (where: string, texts: string[]) => {
      const joined = texts.join('\n');
      return needles.filter(({ n }) => joined.includes(n)).map(({ what }) => `${what} in ${where}`);
    };

    const inDb: string[] = [];
    for (const { name } of await mongoose.connection.db!.listCollections().toArray()) {
      const docs = await mongoose.connection.db!.collection(name).find({}).toArray();
      inDb.push(...found(`MongoDB ${name}`, stringsOf(docs)));
    }

    assert.ok(capturedLogs.some((l) => l.includes('"msg":"request"')), 'the API\'s logs are captured');
    assert.ok(capturedLogs.some((l) => /activityType|workflowType/.test(l)), 'the worker\'s logs are captured');
    assert.ok(capturedLogs.length > 200, `${capturedLogs.length} log lines`);
    const inLogs = found('the logs', capturedLogs);

    const inHistories: string[] = [];
    const workflows: string[] = [];
    for await (const wf of api.temporal.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
      const history = await api.temporal.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      workflows.push(wf.type);
      inHistories.push(...found(`the history of ${wf.workflowId}`, stringsOf(history)));
    }
    for (const type of ['channelWorkflow', 'sendMessageWorkflow', 'markReadWorkflow', 'outgoingWebhookWorkflow', 'dailyAnalyticsWorkflow']) assert.ok(workflows.includes(type), `${type} among the ${workflows.length} histories`);

    assert.ok(responses.length > 500, `${responses.length} responses`);
    const inResponses: string[] = [];
    for (const [i, r] of responses.entries()) {
      for (const { n, what } of needles) {
        if (r.text.includes(n) && issuedBy.get(n) !== i) inResponses.push(`${what} in the response to ${r.label}`);
      }
    }
    // A key's or a webhook endpoint's secret is allowed in the one response that issued it, nowhere else.
    assert.deepEqual({ mongodb: inDb, logs: inLogs, histories: inHistories, responses: inResponses }, { mongodb: [], logs: [], histories: [], responses: [] }, 'plaintext secrets');
  });
});
