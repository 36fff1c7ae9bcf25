// The `meta` webhook source (Messenger and Instagram) against real sandbox deliveries: the exact
// signed bytes and headers the sandbox posts after a customer writes or the business sends, run
// through verify + parse. Events the sandbox does not emit (reactions, unsend, standby, postbacks…)
// are built with the sandbox's own serializer and signer. Also: signature failures, malformed
// bodies, redelivery keys, batching, the GET handshake, and that sync and webhooks share ids.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { InstagramLoginAdapter } from '../../activities/platforms/instagram-login';
import { MessengerAdapter } from '../../activities/platforms/messenger';
import type { NormalizedConversation, SyncCursor, SyncPage } from '../../activities/platforms/types';
import { metaWebhookSource } from '../../api/webhooks/sources/meta';
import { MalformedWebhookError, type InboxEvent, type MessageEvent, type ParseResult, type ReactionEvent, type VerifyContext, type WebhookRequest, type WebhookSecrets } from '../../api/webhooks/sources/types';
import { platformConfig } from '../../lib/platform-config';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

const PAGE = '101000000000001';
const LINKED_PAGE = '101000000000002';
const LINKED_IG = '17841400000000101';
const LOGIN_IG = '17841400000000202';
const META_SECRET = DEFAULT_APPS.meta!.secret;
const IG_SECRET = DEFAULT_APPS.instagram!.secret;
const VERIFY_TOKEN = DEFAULT_APPS.meta!.extra.verifyToken!;

const SECRETS: WebhookSecrets = { metaAppSecrets: [META_SECRET, IG_SECRET], metaVerifyToken: VERIFY_TOKEN, tiktokClientSecret: 'unused', gmailPushToken: 'unused' };
const ctxWith = (secrets: Partial<WebhookSecrets> = {}): VerifyContext => ({ secrets: { ...SECRETS, ...secrets }, channelCredentials: async () => [] });
const CTX = ctxWith();

/** A captured delivery as the API endpoint would hand it to the source. */
function requestOf(d: ReceivedWebhook, base = 'https://switchboard.example'): WebhookRequest {
  const url = new URL(d.url, base);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { body: Buffer.from(d.body, 'utf8'), headers, url: url.toString(), query: Object.fromEntries(url.searchParams), receivedAt: d.at };
}

/** A delivery built and signed the way the sandbox (and Meta) do it. */
function signed(payload: unknown, secret = META_SECRET): WebhookRequest {
  const body = metaJson(payload);
  return {
    body: Buffer.from(body, 'utf8'),
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, secret) },
    url: 'https://switchboard.example/webhooks/meta', query: {}, receivedAt: Date.now(),
  };
}

async function verifiedParse(req: WebhookRequest, ctx = CTX): Promise<ParseResult> {
  const verdict = await metaWebhookSource.verify(req, ctx);
  assert.deepEqual(verdict, { ok: true });
  return metaWebhookSource.parse(req);
}

const ofKind = <K extends InboxEvent['kind']>(events: InboxEvent[], kind: K) => events.filter((e): e is Extract<InboxEvent, { kind: K }> => e.kind === kind);
const only = <T>(list: T[]): T => { assert.equal(list.length, 1, JSON.stringify(list)); return list[0]!; };

describe('meta webhook source', () => {
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let world: { pages: { id: string; pageAccessToken: string }[]; instagramLogin: { id: string; accessToken: string }[] };

  before(async () => {
    receiver = await webhookReceiver();
    sb = await useSandbox({ webhookBaseUrl: receiver.url, platforms: ['meta'] });
    world = (await sb.admin('GET', '/world')).json.meta;
  });
  after(async () => {
    await sb.close();
    await receiver.close();
  });

  const pageToken = (id: string) => world.pages.find((p) => p.id === id)!.pageAccessToken;

  /** Runs `action`, then waits for `count` new deliveries to /meta and returns them. */
  async function deliveries<T>(count: number, action: () => Promise<T>): Promise<{ result: T; got: ReceivedWebhook[] }> {
    const from = receiver.received.length;
    const result = await action();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = receiver.received.slice(from).filter((d) => d.url.startsWith('/meta'));
      if (got.length >= count) {
        // Let any unexpected extra delivery arrive, so the count below is exact.
        await new Promise((r) => setTimeout(r, 100));
        return { result, got: receiver.received.slice(from).filter((d) => d.url.startsWith('/meta')) };
      }
      if (Date.now() > deadline) throw new Error(`expected ${count} deliveries to /meta, got ${got.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function customerWrites(input: { accountId: string; customerId?: string; text?: string; media?: boolean }) {
    const { result, got } = await deliveries(1, async () => {
      const res = await sb.admin('POST', '/customers/meta/messages', input);
      assert.equal(res.status, 201, JSON.stringify(res.json));
      return res.json as { messageId: string; accountId: string; customerId: string };
    });
    assert.equal(got.length, 1);
    return { ...result, delivery: got[0]! };
  }

  async function send(host: 'graph.facebook.com' | 'graph.instagram.com', node: string, token: string, body: Record<string, unknown>, expected: number) {
    return deliveries(expected, async () => {
      const res = await fetch(`${sb.url}/${host}/v25.0/${node}/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
      });
      const json = await res.json() as { message_id: string; recipient_id: string };
      assert.equal(res.status, 200, JSON.stringify(json));
      return json;
    });
  }

  describe('Messenger deliveries from the sandbox', () => {
    test('a customer text: ASCII-escaped body, verified over the raw bytes, normalized with the PSID as thread', async () => {
      const text = 'Grüße aus Köln — ¿talla M? 👋 https://shop.example/a/b';
      const w = await customerWrites({ accountId: PAGE, text });
      const raw = w.delivery.body;
      // The sandbox serializes like Meta: pure ASCII with \u escapes and \/; JSON.parse restores the text.
      assert.match(raw, /^[\x20-\x7e]*$/);
      assert.ok(raw.includes('Gr\\u00fc\\u00dfe') && raw.includes('\\ud83d\\udc4b') && raw.includes('https:\\/\\/shop.example'), raw);
      assert.equal(w.delivery.headers['content-type'], 'application/json');

      const result = await verifiedParse(requestOf(w.delivery));
      assert.deepEqual(result.ignored, []);
      const e = only(result.events) as MessageEvent;
      assert.equal(e.kind, 'message');
      assert.equal(e.key, `messenger:message:${w.messageId}`);
      assert.deepEqual(e.account, { platforms: ['messenger'], accountId: PAGE });
      assert.deepEqual(e.conversation, { externalId: w.customerId, participant: { externalId: w.customerId } });
      assert.equal(e.message.externalId, w.messageId);
      assert.equal(e.message.direction, 'inbound');
      assert.deepEqual(e.message.sender, { externalId: w.customerId });
      assert.equal(e.message.text, text);
      assert.equal(e.message.attachments, undefined);
      assert.ok(Math.abs(e.timestamp - Date.now()) < 60_000, 'ms since epoch');
      assert.equal(e.message.timestamp, e.timestamp);
    });

    test('a customer photo: an image attachment with its URL', async () => {
      const w = await customerWrites({ accountId: PAGE, media: true });
      const e = only((await verifiedParse(requestOf(w.delivery))).events) as MessageEvent;
      assert.equal(e.message.text, undefined);
      const a = only(e.message.attachments ?? []);
      assert.equal(a.type, 'image');
      assert.match(a.url!, /^http:\/\/127\.0\.0\.1:\d+\/graph\.facebook\.com\/__sandbox\/media\/\d+\.png$/);
    });

    test('a business send: echo (outbound, same key scheme), delivery (status + watermark), read (watermark)', async () => {
      const w = await customerWrites({ accountId: PAGE, text: 'Do you ship to Graz?' });
      const { result: sent, got } = await send('graph.facebook.com', PAGE, pageToken(PAGE), { recipient: { id: w.customerId }, message: { text: 'Ja, natürlich!', metadata: 'ref-1' }, messaging_type: 'RESPONSE' }, 3);
      assert.equal(got.length, 3);
      const all: InboxEvent[] = [];
      for (const d of got) {
        const r = await verifiedParse(requestOf(d));
        assert.deepEqual(r.ignored, []);
        all.push(...r.events);
      }
      const echo = only(ofKind(all, 'message'));
      assert.equal(echo.key, `messenger:message:${sent.message_id}`);
      assert.equal(echo.message.externalId, sent.message_id);
      assert.equal(echo.message.direction, 'outbound');
      assert.equal(echo.message.text, 'Ja, natürlich!');
      assert.deepEqual(echo.message.sender, { externalId: PAGE });
      assert.equal(echo.conversation.externalId, w.customerId, 'an echo lands in the customer thread');
      assert.equal(echo.conversation.participant.externalId, w.customerId);

      const status = only(ofKind(all, 'status'));
      assert.deepEqual({ key: status.key, messageExternalId: status.messageExternalId, status: status.status }, { key: `messenger:status:${sent.message_id}:delivered`, messageExternalId: sent.message_id, status: 'delivered' });
      const marks = ofKind(all, 'watermark').sort((a, b) => a.status.localeCompare(b.status));
      assert.deepEqual(marks.map((m) => [m.status, m.conversationExternalId, m.watermark === echo.timestamp]), [['delivered', w.customerId, true], ['read', w.customerId, true]]);
      for (const m of marks) assert.equal(m.key, `messenger:watermark:${PAGE}:${w.customerId}:${m.status}:${m.watermark}`);
      for (const e of all) assert.deepEqual(e.account, { platforms: ['messenger'], accountId: PAGE });
    });

    test('a reply typed in the Page inbox echoes with the inbox app id and is an outbound message', async () => {
      const w = await customerWrites({ accountId: PAGE, text: 'Hello?' });
      const { result, got } = await deliveries(1, async () => {
        const res = await fetch(`${sb.url}/graph.facebook.com/__sandbox/native-send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accountId: PAGE, customerId: w.customerId, text: 'Typed on the phone' }) });
        return await res.json() as { messageId: string };
      });
      assert.match(got[0]!.body, /"app_id":263902037430900/);
      const e = only((await verifiedParse(requestOf(got[0]!))).events) as MessageEvent;
      assert.equal(e.key, `messenger:message:${result.messageId}`);
      assert.equal(e.message.direction, 'outbound');
      assert.equal(e.conversation.externalId, w.customerId);
      assert.equal(e.message.text, 'Typed on the phone');
    });

    test('a redelivered event verifies again and gets the same keys', async () => {
      await sb.admin('PUT', '/webhooks/options/meta', { duplicate: 1 });
      try {
        const { got } = await deliveries(2, () => sb.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'twice' }));
        assert.equal(got.length, 2);
        assert.equal(got[0]!.body, got[1]!.body);
        const [a, b] = await Promise.all(got.map((d) => verifiedParse(requestOf(d))));
        assert.deepEqual(a!.events.map((e) => e.key), b!.events.map((e) => e.key));
        assert.deepEqual(a!.events, b!.events.map((e) => ({ ...e })));
      } finally {
        await sb.admin('PUT', '/webhooks/options/meta', { duplicate: 0 });
      }
    });
  });

  describe('Instagram deliveries from the sandbox', () => {
    test('Page-linked account: customer message, echo, and messaging_seen (read.mid → read status)', async () => {
      const w = await customerWrites({ accountId: LINKED_IG, text: 'Tienes talla S? ñ' });
      const inbound = only((await verifiedParse(requestOf(w.delivery))).events) as MessageEvent;
      assert.equal(inbound.key, `instagram:message:${w.messageId}`);
      assert.deepEqual(inbound.account, { platforms: ['instagram', 'instagram_login'], accountId: LINKED_IG });
      assert.equal(inbound.conversation.externalId, w.customerId);
      assert.equal(inbound.message.text, 'Tienes talla S? ñ');

      const { result: sent, got } = await send('graph.facebook.com', LINKED_PAGE, pageToken(LINKED_PAGE), { recipient: { id: w.customerId }, message: { text: 'Sí ✓' } }, 2);
      const all = (await Promise.all(got.map((d) => verifiedParse(requestOf(d))))).flatMap((r) => r.events);
      const echo = only(ofKind(all, 'message'));
      assert.equal(echo.key, `instagram:message:${sent.message_id}`);
      assert.equal(echo.message.direction, 'outbound');
      assert.equal(echo.message.text, 'Sí ✓');
      assert.equal(echo.conversation.externalId, w.customerId);
      const read = only(ofKind(all, 'status'));
      assert.equal(read.key, `instagram:status:${sent.message_id}:read`);
      assert.equal(read.status, 'read');
      assert.equal(read.messageExternalId, sent.message_id);
      assert.deepEqual(ofKind(all, 'watermark'), []);
    });

    test('Instagram Login account: signed with the Instagram app secret, accepted with it, refused without it', async () => {
      const w = await customerWrites({ accountId: LOGIN_IG, media: true });
      const req = requestOf(w.delivery);
      assert.equal(req.headers['x-hub-signature-256'], signMetaBody(w.delivery.body, IG_SECRET));
      const e = only((await verifiedParse(req)).events) as MessageEvent;
      assert.deepEqual(e.account, { platforms: ['instagram', 'instagram_login'], accountId: LOGIN_IG });
      assert.equal(only(e.message.attachments ?? []).type, 'image');
      const verdict = await metaWebhookSource.verify(req, ctxWith({ metaAppSecrets: [META_SECRET] }));
      assert.equal(verdict.ok, false);

      const token = world.instagramLogin[0]!.accessToken;
      const { result: sent, got } = await send('graph.instagram.com', 'me', token, { recipient: { id: w.customerId }, message: { text: 'Thanks!' } }, 2);
      const all = (await Promise.all(got.map((d) => verifiedParse(requestOf(d))))).flatMap((r) => r.events);
      const echo = only(ofKind(all, 'message'));
      assert.equal(echo.key, `instagram:message:${sent.message_id}`);
      assert.deepEqual(echo.message.sender, { externalId: LOGIN_IG });
      assert.equal(only(ofKind(all, 'status')).status, 'read');
    });
  });

  describe('sync and webhooks land in the same conversation', () => {
    async function backfill(adapter: MessengerAdapter | InstagramLoginAdapter, credentials: Record<string, string>, accountId: string) {
      const conversations: NormalizedConversation[] = [];
      let cursor: SyncCursor | null = null;
      for (let i = 0; i < 50; i++) {
        const page: SyncPage = await adapter.fetchPage({ credentials, account: { id: accountId }, cursor, mode: 'backfill' });
        conversations.push(...page.conversations);
        cursor = page.cursor;
        if (page.done) break;
      }
      return conversations;
    }

    test('Messenger: the webhook thread and message ids equal the synced ones', async () => {
      const adapter = new MessengerAdapter(platformConfig({ SANDBOX_URL: sb.url }));
      const before = await backfill(adapter, { accessToken: pageToken(PAGE), pageId: PAGE }, PAGE);
      const synced = before[0]!;
      assert.equal(synced.externalId, synced.participant.externalId);
      const w = await customerWrites({ accountId: PAGE, customerId: synced.participant.externalId, text: 'following up' });
      const e = only((await verifiedParse(requestOf(w.delivery))).events) as MessageEvent;
      assert.equal(e.conversation.externalId, synced.externalId);
      assert.equal(e.conversation.participant.externalId, synced.participant.externalId);
      // And the message the webhook announced is the one a later sync reads, under the same id.
      const afterSync = await backfill(adapter, { accessToken: pageToken(PAGE), pageId: PAGE }, PAGE);
      const thread = afterSync.filter((c) => c.externalId === synced.externalId).flatMap((c) => c.messages);
      const same = thread.find((m) => m.externalId === e.message.externalId);
      assert.ok(same, 'synced copy has the webhook message id');
      assert.equal(same.direction, e.message.direction);
      assert.equal(same.sender.externalId, e.message.sender.externalId);
      assert.equal(same.text, e.message.text);
      // An echo's sender is the Page, as the synced outbound messages' is.
      const outbound = thread.find((m) => m.direction === 'outbound');
      if (outbound) assert.equal(outbound.sender.externalId, PAGE);
    });

    test('Instagram Login: the webhook thread id equals the synced one', async () => {
      const adapter = new InstagramLoginAdapter(platformConfig({ SANDBOX_URL: sb.url }));
      const ig = world.instagramLogin[0]!;
      const synced = (await backfill(adapter, { accessToken: ig.accessToken, userId: LOGIN_IG }, LOGIN_IG))[0]!;
      const w = await customerWrites({ accountId: LOGIN_IG, customerId: synced.participant.externalId, text: 'hey' });
      const e = only((await verifiedParse(requestOf(w.delivery))).events) as MessageEvent;
      assert.equal(e.conversation.externalId, synced.externalId);
      assert.equal(e.account.accountId, LOGIN_IG);
    });
  });

  describe('authenticity', () => {
    let genuine: WebhookRequest;
    before(async () => { genuine = requestOf((await customerWrites({ accountId: PAGE, text: 'sign me — bitte ü/ä' })).delivery); });

    test('a tampered body is rejected', async () => {
      const body = Buffer.from(genuine.body);
      body[body.indexOf('sign me')] = 'S'.charCodeAt(0);
      const verdict = await metaWebhookSource.verify({ ...genuine, body }, CTX);
      assert.equal(verdict.ok, false);
      // Re-serializing the parsed object (unescaping) also changes the bytes: it must not verify.
      const reserialized = Buffer.from(JSON.stringify(JSON.parse(genuine.body.toString('utf8'))));
      assert.equal((await metaWebhookSource.verify({ ...genuine, body: reserialized }, CTX)).ok, false);
    });

    test('a wrong secret, a missing or malformed header, and no configured secret are rejected without echoing secrets', async () => {
      const cases: [WebhookRequest, VerifyContext][] = [
        [genuine, ctxWith({ metaAppSecrets: ['some-other-secret'] })],
        [genuine, ctxWith({ metaAppSecrets: [] })],
        [{ ...genuine, headers: { 'content-type': 'application/json' } }, CTX],
        [{ ...genuine, headers: { ...genuine.headers, 'x-hub-signature-256': '' } }, CTX],
        [{ ...genuine, headers: { ...genuine.headers, 'x-hub-signature-256': genuine.headers['x-hub-signature-256']!.replace('sha256=', '') } }, CTX],
        [{ ...genuine, headers: { ...genuine.headers, 'x-hub-signature-256': `${genuine.headers['x-hub-signature-256']!}00` } }, CTX],
        // The legacy sha1 header alone is not enough.
        [{ ...genuine, headers: { 'x-hub-signature': genuine.headers['x-hub-signature']! } }, CTX],
      ];
      for (const [req, ctx] of cases) {
        const verdict = await metaWebhookSource.verify(req, ctx);
        assert.equal(verdict.ok, false, JSON.stringify(req.headers));
        const reason = (verdict as { reason: string }).reason;
        assert.ok(reason.length > 0);
        for (const s of [META_SECRET, IG_SECRET, 'some-other-secret']) assert.ok(!reason.includes(s));
      }
      // Uppercase hex is the same signature.
      const upper = { ...genuine, headers: { ...genuine.headers, 'x-hub-signature-256': genuine.headers['x-hub-signature-256']!.toUpperCase().replace('SHA256=', 'sha256=') } };
      assert.deepEqual(await metaWebhookSource.verify(upper, CTX), { ok: true });
    });
  });

  describe('parsing', () => {
    const page = (entries: unknown[]) => ({ object: 'page', entry: entries });
    const ig = (entries: unknown[]) => ({ object: 'instagram', entry: entries });
    const T = 1_785_312_004_523;

    test('malformed bodies throw MalformedWebhookError', () => {
      const bodies = ['', 'not json', '{', 'null', '[]', '42', '"page"', '{}', '{"object":"page"}', '{"object":"user","entry":[]}', '{"object":"page","entry":{}}', '{"object":1,"entry":[]}', '\u00ff\u00fe{'];
      for (const b of bodies) {
        assert.throws(() => metaWebhookSource.parse({ ...signed({}), body: Buffer.from(b, 'latin1') }), MalformedWebhookError, b);
      }
    });

    test('several entries, each with several messaging items, yield every event', async () => {
      const entries = [PAGE, '101000000000009', '101000000000010'].map((id, i) => ({
        id, time: T + i,
        messaging: [0, 1, 2].map((j) => ({ sender: { id: `71${i}${j}` }, recipient: { id }, timestamp: T + i * 10 + j, message: { mid: `m_${i}_${j}`, text: `msg ${i}.${j}` } })),
      }));
      entries[0]!.messaging.push({ sender: { id: '7100' }, recipient: { id: PAGE }, timestamp: T + 99, delivery: { mids: ['m_a', 'm_b'], watermark: T } } as never);
      const r = await verifiedParse(signed(page(entries)));
      const messages = ofKind(r.events, 'message');
      assert.equal(messages.length, 9);
      assert.deepEqual(messages.map((m) => m.message.text), ['msg 0.0', 'msg 0.1', 'msg 0.2', 'msg 1.0', 'msg 1.1', 'msg 1.2', 'msg 2.0', 'msg 2.1', 'msg 2.2']);
      assert.deepEqual(messages.map((m) => m.account.accountId), [PAGE, PAGE, PAGE, '101000000000009', '101000000000009', '101000000000009', '101000000000010', '101000000000010', '101000000000010']);
      assert.deepEqual(messages.map((m) => m.timestamp).slice(0, 3), [T, T + 1, T + 2]);
      assert.deepEqual(ofKind(r.events, 'status').map((s) => s.key), ['messenger:status:m_a:delivered', 'messenger:status:m_b:delivered']);
      assert.equal(only(ofKind(r.events, 'watermark')).watermark, T);
      assert.equal(new Set(r.events.map((e) => e.key)).size, r.events.length, 'keys are unique');
    });

    test('reactions: react with an emoji, unreact, and reaction names without an emoji', async () => {
      const item = (reaction: unknown, ts: number) => ({ sender: { id: 'IGSID1' }, recipient: { id: LINKED_IG }, timestamp: ts, reaction });
      const r = await verifiedParse(signed(ig([{ id: LINKED_IG, time: T, messaging: [
        item({ mid: 'aWdf1', action: 'react', reaction: 'love', emoji: '\u2764\ufe0f' }, T),
        item({ mid: 'aWdf1', action: 'unreact' }, T + 5),
        item({ mid: 'aWdf1', action: 'react', reaction: 'wow' }, T + 9),
      ] }])));
      const reactions = ofKind(r.events, 'reaction');
      assert.deepEqual(reactions.map((x: ReactionEvent) => [x.messageExternalId, x.conversationExternalId, x.senderExternalId, x.emoji]), [
        ['aWdf1', 'IGSID1', 'IGSID1', '❤️'], ['aWdf1', 'IGSID1', 'IGSID1', null], ['aWdf1', 'IGSID1', 'IGSID1', '😮'],
      ]);
      assert.equal(new Set(reactions.map((x) => x.key)).size, 3);
      assert.ok(reactions.every((x) => x.key.startsWith('instagram:reaction:aWdf1:IGSID1:')));
    });

    test('Instagram unsend is a deletion; standby items are treated like messaging items', async () => {
      const r = await verifiedParse(signed(ig([{ id: LINKED_IG, time: T, messaging: [
        { sender: { id: 'IGSID2' }, recipient: { id: LINKED_IG }, timestamp: T, message: { mid: 'aWdfDEL', is_deleted: true } },
      ], standby: [
        { sender: { id: 'IGSID2' }, recipient: { id: LINKED_IG }, timestamp: T + 1, message: { mid: 'aWdfSB', text: 'while another app owns the thread' } },
      ] }])));
      const del = only(ofKind(r.events, 'deletion'));
      assert.deepEqual({ key: del.key, mid: del.messageExternalId }, { key: 'instagram:deletion:aWdfDEL', mid: 'aWdfDEL' });
      const msg = only(ofKind(r.events, 'message'));
      assert.equal(msg.key, 'instagram:message:aWdfSB');
      assert.equal(msg.conversation.externalId, 'IGSID2');
    });

    test('attachments: sticker, file, audio, video, location, shares and unsupported content', async () => {
      const r = await verifiedParse(signed(page([{ id: PAGE, time: T, messaging: [{ sender: { id: 'PSID9' }, recipient: { id: PAGE }, timestamp: T, message: {
        mid: 'm_att', sticker_id: 369239263222822,
        attachments: [
          { type: 'image', payload: { url: 'https://scontent.example/s.png', sticker_id: 369239263222822 } },
          { type: 'file', payload: { url: 'https://cdn.example/files/invoice.pdf' } },
          { type: 'audio', payload: { url: 'https://cdn.example/a.mp4' } },
          { type: 'video', payload: { url: 'https://cdn.example/v.mp4' } },
          { type: 'location', payload: { coordinates: { lat: 48.2, long: 16.37 }, title: 'Pinned Location' } },
          { type: 'fallback', payload: { url: 'https://example.com/article', title: 'An article' } },
          { type: 'ig_reel', payload: { url: 'https://lookaside.example/reel', reel_video_id: '1790000000001', title: 'Reel' } },
          { type: 'image', payload: { url: 'javascript:alert(1)' } },
        ],
        is_unsupported: true,
      } }] }])));
      const m = only(ofKind(r.events, 'message'));
      assert.deepEqual(m.message.attachments, [
        { type: 'sticker', url: 'https://scontent.example/s.png', platformMediaId: '369239263222822' },
        { type: 'file', url: 'https://cdn.example/files/invoice.pdf' },
        { type: 'audio', url: 'https://cdn.example/a.mp4' },
        { type: 'video', url: 'https://cdn.example/v.mp4' },
        { type: 'location', url: 'geo:48.2,16.37', name: 'Pinned Location' },
        { type: 'other', url: 'https://example.com/article', name: 'An article' },
        { type: 'other', url: 'https://lookaside.example/reel', platformMediaId: '1790000000001', name: 'Reel' },
        { type: 'image' },
        { type: 'other', name: 'unsupported' },
      ]);
    });

    test('postbacks, referrals, optins, edits, handovers and feed changes are ignored with a label', async () => {
      const base = { sender: { id: 'PSID1' }, recipient: { id: PAGE }, timestamp: T };
      const r = await verifiedParse(signed(page([{ id: PAGE, time: T, messaging: [
        { ...base, postback: { title: 'Start', payload: 'GET_STARTED' } },
        { ...base, referral: { ref: 'ad', source: 'ADS' } },
        { ...base, optin: { type: 'notification_messages' } },
        { ...base, message_edit: { mid: 'm_1', text: 'edited', num_edit: 1 } },
        { ...base, pass_thread_control: { new_owner_app_id: '1' } },
        { ...base },
        'not an object',
      ], changes: [{ field: 'feed', value: {} }] }, 'garbage', { time: T }])));
      assert.deepEqual(r.events, []);
      assert.deepEqual(r.ignored, ['changes:feed', 'postback', 'referral', 'optin', 'message_edit', 'pass_thread_control', 'messaging:empty', 'messaging:invalid', 'entry:invalid', 'entry:no-id']);
    });

    test('items without the ids they need are ignored, not stored half-empty', async () => {
      const r = await verifiedParse(signed(page([{ id: PAGE, time: T, messaging: [
        { recipient: { id: PAGE }, timestamp: T, message: { mid: 'm_nosender', text: 'x' } },
        { sender: { id: PAGE }, timestamp: T, message: { mid: 'm_echo', is_echo: true, text: 'x' } },
        { sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: T, message: { text: 'no mid' } },
        { sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: T, reaction: { action: 'react', emoji: 'x' } },
        { sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: T, delivery: {} },
        // A Graph id as a JSON number beyond 2^53 has lost digits: treated as missing.
        { sender: { id: 17841400000000101 }, recipient: { id: PAGE }, timestamp: T, message: { mid: 'm_bignum', text: 'x' } },
      ] }])));
      assert.deepEqual(r.events, []);
      assert.deepEqual(r.ignored, ['message:no-sender', 'echo:no-recipient', 'message:no-mid', 'reaction:no-mid', 'delivered:empty', 'message:no-sender']);
    });

    test('timestamps: ms kept, seconds scaled, missing → entry time, then receipt time', async () => {
      const req = signed(page([{ id: PAGE, time: T, messaging: [
        { sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: T, message: { mid: 'm_ms' } },
        { sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: Math.floor(T / 1000), message: { mid: 'm_s' } },
        { sender: { id: 'P' }, recipient: { id: PAGE }, message: { mid: 'm_entry' } },
      ] }, { id: PAGE, messaging: [{ sender: { id: 'P' }, recipient: { id: PAGE }, message: { mid: 'm_none' } }] }]));
      const r = await verifiedParse(req);
      assert.deepEqual(r.events.map((e) => e.timestamp), [T, Math.floor(T / 1000) * 1000, T, req.receivedAt]);
    });

    test('a WhatsApp body posted to the shared Meta endpoint is normalized too', async () => {
      const r = await verifiedParse(signed({ object: 'whatsapp_business_account', entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
        contacts: [{ profile: { name: 'Ana' }, wa_id: '5215512345678' }],
        messages: [{ from: '5215512345678', id: 'wamid.X', timestamp: '1785312805', type: 'text', text: { body: 'Hola' } }],
      } }] }] }));
      const m = only(ofKind(r.events, 'message'));
      assert.equal(m.key, 'whatsapp_cloud:message:wamid.X');
      assert.deepEqual(m.account, { platforms: ['whatsapp_cloud'], accountId: '106540352242922' });
    });

    test('mutated bodies never throw anything but MalformedWebhookError', async () => {
      const samples = [
        page([{ id: PAGE, time: T, messaging: [{ sender: { id: 'P' }, recipient: { id: PAGE }, timestamp: T, message: { mid: 'm', text: 't', attachments: [{ type: 'image', payload: { url: 'https://x' } }] } }, { sender: { id: 'P' }, recipient: { id: PAGE }, delivery: { mids: ['m'], watermark: T } }, { sender: { id: 'P' }, recipient: { id: PAGE }, read: { watermark: T } }] }]),
        ig([{ id: LINKED_IG, time: T, messaging: [{ sender: { id: 'I' }, recipient: { id: LINKED_IG }, timestamp: T, reaction: { mid: 'a', action: 'react', emoji: 'x' } }, { sender: { id: 'I' }, recipient: { id: LINKED_IG }, read: { mid: 'a' } }], standby: [{ message: { mid: 'z', is_deleted: true } }] }]),
      ];
      let seed = 7;
      const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const junk = [null, true, 0, -1, 1e308, '', 'x', [], {}, [1, 'a'], { a: 1 }, 'https://x', '\u0000', 2 ** 60];
      const mutate = (v: unknown): unknown => {
        if (rand() < 0.08) return junk[Math.floor(rand() * junk.length)];
        if (Array.isArray(v)) return v.map(mutate);
        if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [rand() < 0.03 ? `${k}_` : k, mutate(x)]));
        return v;
      };
      let parsed = 0;
      for (let i = 0; i < 1500; i++) {
        const body = Buffer.from(metaJson(mutate(samples[i % samples.length])));
        if (i % 5 === 0) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
        try {
          const r = metaWebhookSource.parse({ ...signed({}), body });
          parsed += 1;
          for (const e of r.events) assert.equal(typeof e.key, 'string');
          // The parser's last-resort catch must never be what saved it.
          assert.ok(!r.ignored.some((l) => l.endsWith(':unreadable')), JSON.stringify(r.ignored));
        } catch (err) {
          assert.ok(err instanceof MalformedWebhookError, String(err));
        }
      }
      assert.ok(parsed > 500, `only ${parsed} mutated bodies parsed`);
    });
  });

  describe('GET handshake', () => {
    test('the sandbox verifies our endpoint; a wrong token is refused', async () => {
      const server: Server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const out = metaWebhookSource.handshake!(Object.fromEntries(url.searchParams), SECRETS);
        res.writeHead(out.status, { 'content-type': 'text/plain' }).end(out.body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`;
        const call = async (body: Record<string, string>) => (await fetch(`${sb.url}/graph.facebook.com/__sandbox/verify-webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, ...body }) })).json() as Promise<{ status: number; body: string; verified: boolean }>;
        const ok = await call({});
        assert.equal(ok.verified, true);
        assert.equal(ok.status, 200);
        const bad = await call({ verifyToken: 'not-the-token' });
        assert.deepEqual({ status: bad.status, verified: bad.verified }, { status: 403, verified: false });
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    test('mode, token and challenge are all required', () => {
      const h = metaWebhookSource.handshake!;
      assert.deepEqual(h({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }, SECRETS), { status: 200, body: '1158201444' });
      assert.equal(h({ 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }, SECRETS).status, 403);
      assert.equal(h({ 'hub.mode': 'subscribe', 'hub.verify_token': `${VERIFY_TOKEN}x`, 'hub.challenge': '1' }, SECRETS).status, 403);
      assert.equal(h({ 'hub.mode': 'subscribe', 'hub.challenge': '1' }, SECRETS).status, 403);
      assert.equal(h({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN }, SECRETS).status, 403);
      // No token configured: nothing can match (not even an empty one).
      assert.equal(h({ 'hub.mode': 'subscribe', 'hub.verify_token': '', 'hub.challenge': '1' }, { ...SECRETS, metaVerifyToken: '' }).status, 403);
      assert.ok(!h({ 'hub.mode': 'subscribe', 'hub.verify_token': 'x', 'hub.challenge': '1' }, SECRETS).body.includes(VERIFY_TOKEN));
    });
  });
});
