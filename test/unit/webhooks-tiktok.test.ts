// The TikTok webhook source against real sandbox deliveries: signature and freshness checks over
// the exact bytes, normalization of every DM event the sandbox emits (customer text, image +
// caption, echo of a business send), agreement with the adapter's sync (conversation, participant,
// message), redelivery keys, and malformed/fuzzed bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TikTokAdapter } from '../../activities/platforms/tiktok';
import type { AccountInfo, Credentials, NormalizedConversation } from '../../activities/platforms/types';
import { TikTokWebhookSource, tiktokWebhookSource } from '../../api/webhooks/sources/tiktok';
import { MalformedWebhookError, type MessageEvent, type VerifyContext, type WebhookRequest } from '../../api/webhooks/sources/types';
import { platformConfig } from '../../lib/platform-config';
import { signTikTokWebhook } from '../../sandbox/platforms/tiktok';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const source = tiktokWebhookSource;

describe('tiktok webhook source', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let adapter: TikTokAdapter;
  let account: AccountInfo;
  let credentials: Credentials;
  let secret: string;
  let ctx: VerifyContext;
  /** Deliveries answered 500 before the receiver accepts again (forces the sandbox to retry). */
  let failNext = 0;

  before(async () => {
    sb = await useSandbox({ platforms: ['tiktok'] });
    hooks = await webhookReceiver(() => (failNext > 0 ? (failNext--, 500) : 200));
    await sb.admin('PUT', '/webhooks/targets/tiktok', { url: `${hooks.url}/webhooks/tiktok` });
    const config = platformConfig({ SANDBOX_URL: sb.url });
    secret = config.tiktok.clientSecret;
    ctx = secretsCtx({ tiktokClientSecret: secret });
    adapter = new TikTokAdapter(config);
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    url.searchParams.set('sandbox_decision', 'approve');
    const code = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!).searchParams.get('code')!;
    ({ account, credentials } = await adapter.exchangeCode({ code, redirectUri: REDIRECT }));
  });
  after(async () => { await sb.close(); await hooks.close(); });

  /** Runs `fn` and returns the deliveries it caused (waits for `count`). */
  async function deliveries(count: number, fn: () => Promise<unknown>): Promise<ReceivedWebhook[]> {
    const from = hooks.received.length;
    await fn();
    return (await hooks.waitFor(from + count)).slice(from, from + count);
  }
  const customerWrites = (body: Record<string, unknown>) => sb.admin('POST', '/customers/tiktok/messages', body);
  const toRequest = (r: ReceivedWebhook, receivedAt = r.at) => request(hooks.url, r, receivedAt);

  /** Verifies (must pass) and parses a delivery into its single message event. */
  async function messageOf(r: ReceivedWebhook): Promise<MessageEvent> {
    const req = toRequest(r);
    assert.deepEqual(await source.verify(req, ctx), { ok: true });
    const { events, ignored } = source.parse(req);
    assert.deepEqual(ignored, []);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'message');
    return events[0] as MessageEvent;
  }

  /** The adapter's full sync of the account. */
  async function sync(): Promise<NormalizedConversation[]> {
    const out: NormalizedConversation[] = [];
    let cursor = null;
    for (let i = 0; i < 10; i++) {
      const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'backfill' });
      out.push(...page.conversations);
      cursor = page.cursor;
      if (page.done) return out;
    }
    throw new Error('sync did not finish');
  }

  /** Webhook and sync agree on conversation, participant and message. */
  async function assertMatchesSync(event: MessageEvent) {
    const conv = (await sync()).find((c) => c.externalId === event.conversation.externalId);
    assert.ok(conv, 'the sync has the webhook conversation');
    assert.equal(event.conversation.participant.externalId, conv.participant.externalId);
    assert.equal(event.conversation.participant.handle, conv.participant.handle);
    const synced = conv.messages.find((m) => m.externalId === event.message.externalId);
    assert.ok(synced, 'the sync has the webhook message');
    assert.deepEqual(plain(event.message), plain(synced));
  }

  test('customer text → inbound message routed to the connected account, same as the sync', async () => {
    const [r] = await deliveries(1, () => customerWrites({ text: 'Do you ship to Porto?', customerId: '-000custPorto01' }));
    const raw = JSON.parse(r!.body);
    assert.equal(raw.event, 'im_receive_msg');
    const event = await messageOf(r!);
    const content = JSON.parse(raw.content);
    assert.equal(event.key, `tiktok:message:${content.message_id}`);
    assert.deepEqual(event.account, { platforms: ['tiktok'], accountId: account.id });
    assert.equal(event.conversation.externalId, content.conversation_id);
    assert.equal(event.conversation.participant.externalId, '-000custPorto01');
    assert.equal(event.message.direction, 'inbound');
    assert.equal(event.message.text, 'Do you ship to Porto?');
    assert.equal(event.message.sender.externalId, '-000custPorto01');
    assert.equal(event.message.attachments, undefined);
    assert.equal(event.timestamp, content.timestamp);
    assert.ok(Math.abs(event.timestamp - Date.now()) < 60_000, 'timestamp in ms');
    await assertMatchesSync(event);
  });

  test('image with a caption → an image message (media id) and a text message', async () => {
    const [image, caption] = await deliveries(2, () => customerWrites({ media: true, text: 'this one', customerId: '-000custPhoto01' }));
    const events = [await messageOf(image!), await messageOf(caption!)];
    const img = events.find((e) => e.message.attachments)!;
    const txt = events.find((e) => !e.message.attachments)!;
    assert.ok(img && txt);
    assert.equal(img.message.attachments!.length, 1);
    assert.equal(img.message.attachments![0]!.type, 'image');
    assert.match(img.message.attachments![0]!.platformMediaId!, /^v0/);
    assert.equal(img.message.text, undefined);
    assert.equal(txt.message.text, 'this one');
    assert.equal(img.conversation.externalId, txt.conversation.externalId);
    assert.notEqual(img.key, txt.key);
    await assertMatchesSync(img);
    await assertMatchesSync(txt);
  });

  test('a business send → im_send_msg echo: outbound, keyed like the sent message, same conversation', async () => {
    const [inbound] = await deliveries(1, () => customerWrites({ text: 'Hello?', customerId: '-000custEcho01' }));
    const first = await messageOf(inbound!);
    let messageId = '';
    const [echo] = await deliveries(1, async () => {
      const res = await fetch(`${sb.url}/business-api.tiktok.com/open_api/v1.3/business/message/send/`, {
        method: 'POST', headers: { 'access-token': String(credentials.accessToken), 'content-type': 'application/json' },
        body: JSON.stringify({ business_id: account.id, recipient_type: 'CONVERSATION', recipient: first.conversation.externalId, message_type: 'TEXT', text: { body: 'Hi, how can we help?' } }),
      });
      const json = await res.json() as { code: number; data: { message: { message_id: string } } };
      assert.equal(json.code, 0);
      messageId = json.data.message.message_id;
    });
    assert.equal(JSON.parse(echo!.body).event, 'im_send_msg');
    const event = await messageOf(echo!);
    assert.equal(event.key, `tiktok:message:${messageId}`);
    assert.equal(event.message.externalId, messageId);
    assert.equal(event.message.direction, 'outbound');
    assert.equal(event.message.text, 'Hi, how can we help?');
    assert.equal(event.message.sender.externalId, account.id);
    assert.equal(event.conversation.externalId, first.conversation.externalId);
    assert.deepEqual(event.conversation.participant, first.conversation.participant);
    assert.equal(event.account.accountId, account.id);
    await assertMatchesSync(event);
  });

  test('redelivery: sandbox duplicates and retries of one event carry identical keys', async () => {
    await sb.admin('PUT', '/webhooks/options/tiktok', { duplicate: 1 });
    try {
      const copies = await deliveries(2, () => customerWrites({ text: 'twice', customerId: '-000custDup01' }));
      assert.equal(copies[0]!.body, copies[1]!.body);
      const [a, b] = [await messageOf(copies[0]!), await messageOf(copies[1]!)];
      assert.equal(a.key, b.key);
      assert.deepEqual(a, b);
    } finally {
      await sb.admin('PUT', '/webhooks/options/tiktok', { duplicate: 0 });
    }
    failNext = 1;
    const attempts = await deliveries(2, () => customerWrites({ text: 'retried', customerId: '-000custDup01' }));
    assert.equal(attempts[0]!.body, attempts[1]!.body);
    assert.equal((await messageOf(attempts[0]!)).key, (await messageOf(attempts[1]!)).key);
  });

  test('freshness: stale or future timestamps are rejected; the window is a constructor option', async () => {
    const [r] = await deliveries(1, () => customerWrites({ text: 'when?' }));
    const t = Number(/t=(\d+)/.exec(r!.headers['tiktok-signature'] as string)![1]) * 1000;
    const at = (ms: number) => toRequest(r!, t + ms);
    assert.deepEqual(await source.verify(at(5 * 60_000), ctx), { ok: true });
    assert.deepEqual(await source.verify(at(-5 * 60_000), ctx), { ok: true });
    const stale = await source.verify(at(5 * 60_000 + 1000), ctx);
    assert.equal(stale.ok, false);
    assert.match((stale as { reason: string }).reason, /old/);
    const future = await source.verify(at(-5 * 60_000 - 1000), ctx);
    assert.equal(future.ok, false);
    assert.match((future as { reason: string }).reason, /future/);
    assert.equal((await source.verify(at(3 * 86400_000), ctx)).ok, false, 'a day-old replay');

    const wide = new TikTokWebhookSource({ toleranceMs: 15 * 60_000 });
    assert.deepEqual(await wide.verify(at(10 * 60_000), ctx), { ok: true });
    assert.equal((await wide.verify(at(16 * 60_000), ctx)).ok, false);
    const strict = new TikTokWebhookSource({ toleranceMs: 5_000 });
    assert.equal((await strict.verify(at(6_000), ctx)).ok, false);
    assert.throws(() => new TikTokWebhookSource({ toleranceMs: -1 }));
  });

  test('tampered body, wrong secret, missing or malformed header → rejected without echoing the secret', async () => {
    const [r] = await deliveries(1, () => customerWrites({ text: 'original text' }));
    const good = toRequest(r!);
    const header = good.headers['tiktok-signature']!;
    const [, t, s] = /^t=(\d+),s=([0-9a-f]+)$/.exec(header)!;
    const rejected = async (req: WebhookRequest, reason: RegExp, context = ctx) => {
      const v = await source.verify(req, context);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, reason);
      assert.ok(!(v as { reason: string }).reason.includes(secret));
    };
    assert.deepEqual(await source.verify(good, ctx), { ok: true });
    const withBody = (body: string) => ({ ...good, body: Buffer.from(body) });
    const withHeader = (value: string | undefined) => {
      const headers = { ...good.headers };
      if (value === undefined) delete headers['tiktok-signature'];
      else headers['tiktok-signature'] = value;
      return { ...good, headers };
    };
    await rejected(withBody(r!.body.replace('original text', 'tampered text')), /does not match/);
    await rejected(withBody(`${r!.body} `), /does not match/);
    await rejected(withBody(r!.body.slice(0, -1)), /does not match/);
    await rejected(good, /does not match/, secretsCtx({ tiktokClientSecret: 'not-the-secret' }));
    await rejected(good, /not configured/, secretsCtx({ tiktokClientSecret: '' }));
    await rejected(withHeader(undefined), /missing/);
    await rejected(withHeader(''), /missing/);
    await rejected(withHeader(`t=${Number(t) + 1},s=${s}`), /does not match/); // signed time altered
    await rejected(withHeader(`s=${s}`), /malformed/);
    await rejected(withHeader(`t=${t}`), /malformed/);
    await rejected(withHeader(`t=${t},s=${s!.slice(0, 63)}`), /malformed/);
    await rejected(withHeader(`t=${t},s=${'z'.repeat(64)}`), /malformed/);
    await rejected(withHeader(`t=abc,s=${s}`), /malformed/);
    await rejected(withHeader(`t=${t},s=${'0'.repeat(64)}`), /does not match/);
    // Spacing and order are tolerated; upper-case hex is the same signature.
    assert.deepEqual(await source.verify(withHeader(`s=${s!.toUpperCase()}, t=${t}`), ctx), { ok: true });
  });

  test('real future delivery: the sandbox clock runs 10 minutes ahead → rejected as from the future', async () => {
    await sb.admin('POST', '/clock', { advanceSeconds: 600 });
    const [r] = await deliveries(1, () => customerWrites({ text: 'from the future' }));
    const v = await source.verify(toRequest(r!), ctx);
    assert.equal(v.ok, false);
    assert.match((v as { reason: string }).reason, /future/);
    assert.deepEqual(await new TikTokWebhookSource({ toleranceMs: 15 * 60_000 }).verify(toRequest(r!), ctx), { ok: true });
  });

  describe('bodies the sandbox does not send', () => {
    const businessId = '-000biz';
    const signed = (body: unknown, now = Date.now()) => {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const t = Math.floor(now / 1000);
      return { body: Buffer.from(raw), headers: { 'content-type': 'application/json', 'tiktok-signature': signTikTokWebhook(secret, t, raw) }, url: 'https://example.test/webhooks/tiktok', query: {}, receivedAt: now } satisfies WebhookRequest;
    };
    const envelope = (event: string, content: unknown) => ({ event, user_openid: businessId, create_time: 1_780_000_000, content: typeof content === 'string' ? content : JSON.stringify(content) });
    const dm = (extra: Record<string, unknown>) => ({
      conversation_id: 'conv-1', message_id: '7300000000000000123', timestamp: 1_780_000_000_123, type: 'text', text: { body: 'hi' },
      from: 'cust', from_user: { id: 'cust-1' }, to: 'shop', to_user: { id: businessId }, ...extra,
    });
    const parseOne = (body: unknown) => {
      const req = signed(body);
      return source.parse(req);
    };

    test('malformed bodies → MalformedWebhookError', async () => {
      const bad: unknown[] = [
        '', 'not json', '[]', 'null', '42', '"str"', '{}', { event: 42 }, { event: '' },
        envelope('im_receive_msg', 'not json'), envelope('im_receive_msg', '[1]'), { event: 'im_receive_msg', user_openid: businessId },
        envelope('im_receive_msg', dm({ message_id: undefined })), envelope('im_receive_msg', dm({ conversation_id: '' })),
        { ...envelope('im_receive_msg', dm({})), user_openid: undefined },
        envelope('im_receive_msg', dm({ from_user: undefined, to_user: { id: businessId } })),
        { ...envelope('im_receive_msg', dm({ timestamp: 'soon' })), create_time: undefined },
      ];
      for (const body of bad) {
        const req = signed(body);
        assert.deepEqual(await source.verify(req, ctx), { ok: true }, 'signed correctly, so only parse can object');
        assert.throws(() => source.parse(req), MalformedWebhookError, JSON.stringify(body));
      }
    });

    test('unknown events are ignored; developer webhooks too', () => {
      assert.deepEqual(parseOne({ client_key: 'ck', event: 'authorization.removed', create_time: 1, user_openid: businessId, content: '{"reason":1}' }), { events: [], ignored: ['tiktok:authorization.removed'] });
      assert.deepEqual(parseOne(envelope('im_something_new', {})), { events: [], ignored: ['tiktok:im_something_new'] });
    });

    test('share_post and sticker map as the adapter maps them; numeric ids and create_time fallback', () => {
      const post = parseOne(envelope('im_receive_msg', dm({ type: 'share_post', text: undefined, share_post: { embed_url: 'https://www.tiktok.com/embed/1' } }))).events[0] as MessageEvent;
      assert.deepEqual(post.message.attachments, [{ type: 'other', url: 'https://www.tiktok.com/embed/1', name: 'share_post' }]);
      const sticker = parseOne(envelope('im_receive_msg', dm({ type: 'sticker', text: undefined }))).events[0] as MessageEvent;
      assert.deepEqual(sticker.message.attachments, [{ type: 'sticker' }]);
      const numeric = parseOne(envelope('im_receive_msg', dm({ message_id: 12345, timestamp: undefined }))).events[0] as MessageEvent;
      assert.equal(numeric.key, 'tiktok:message:12345');
      assert.equal(numeric.timestamp, 1_780_000_000_000);
      // Content as an object rather than a JSON string is accepted.
      const inline = parseOne({ ...envelope('im_receive_msg', {}), content: dm({}) }).events[0] as MessageEvent;
      assert.equal(inline.message.text, 'hi');
    });

    test('im_mark_read_msg: a customer read is a read watermark; a business read is ignored', () => {
      const read = parseOne(envelope('im_mark_read_msg', { conversation_id: 'conv-1', timestamp: 1_780_000_000_500, from_user: { id: 'cust-1' }, to_user: { id: businessId } }));
      assert.deepEqual(read, {
        events: [{ kind: 'watermark', key: 'tiktok:read:conv-1:1780000000500', account: { platforms: ['tiktok'], accountId: businessId }, timestamp: 1_780_000_000_500, conversationExternalId: 'conv-1', status: 'read', watermark: 1_780_000_000_500 }],
        ignored: [],
      });
      assert.deepEqual(parseOne(envelope('im_mark_read_msg', { conversation_id: 'conv-1', timestamp: 1, from_user: { id: businessId } })).ignored, ['tiktok:im_mark_read_msg:by_business']);
      assert.deepEqual(parseOne(envelope('im_mark_read_msg', 'garbage')).ignored, ['tiktok:im_mark_read_msg:unreadable']);
      assert.deepEqual(parseOne(envelope('im_mark_read_msg', {})).ignored, ['tiktok:im_mark_read_msg:incomplete']);
    });

    test('fuzz: random and mutated bodies give events or MalformedWebhookError, nothing else', () => {
      const seeds = [JSON.stringify(envelope('im_receive_msg', dm({}))), JSON.stringify(envelope('im_send_msg', dm({ type: 'image', image: { media_id: 'v0x' } }))), JSON.stringify(envelope('im_mark_read_msg', { conversation_id: 'c', timestamp: 5 }))];
      let seed = 42;
      const rand = (n: number) => { seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; return seed % n; };
      const outcomes = { events: 0, malformed: 0 };
      const junk = [null, 0, -1, 1e308, '', 'x', [], {}, true, '\u0000', '9'.repeat(40), { id: {} }];
      for (let i = 0; i < 3000; i++) {
        let body: Buffer;
        const base = seeds[rand(seeds.length)]!;
        if (i % 3 === 0) {
          const bytes = Buffer.from(base);
          for (let k = 0; k <= rand(4); k++) bytes[rand(bytes.length)] = rand(256);
          body = bytes;
        } else if (i % 3 === 1) {
          const obj = JSON.parse(base) as Record<string, unknown>;
          const content = JSON.parse(obj.content as string) as Record<string, unknown>;
          const target = rand(2) ? obj : content;
          const keys = Object.keys(target);
          target[keys[rand(keys.length)]!] = junk[rand(junk.length)];
          obj.content = rand(5) === 0 ? content : JSON.stringify(content);
          body = Buffer.from(JSON.stringify(obj));
        } else {
          body = Buffer.from(Array.from({ length: rand(64) }, () => rand(256)));
        }
        try {
          const result = source.parse({ body, headers: {}, url: 'https://x.test/webhooks/tiktok', query: {}, receivedAt: Date.now() });
          for (const e of result.events) assert.ok(typeof e.key === 'string' && e.key.startsWith('tiktok:') && Number.isFinite(e.timestamp));
          outcomes.events += result.events.length;
        } catch (err) {
          assert.ok(err instanceof MalformedWebhookError, `parse threw ${String(err)} for ${body.toString('utf8')}`);
          outcomes.malformed += 1;
        }
      }
      assert.ok(outcomes.events > 100 && outcomes.malformed > 100, JSON.stringify(outcomes));
    });
  });
});

/** A WebhookRequest from what the receiver captured (raw bytes, lower-case headers, full URL). */
function request(base: string, r: ReceivedWebhook, receivedAt: number): WebhookRequest {
  const url = new URL(r.url, base);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { body: Buffer.from(r.body, 'utf8'), headers, url: url.toString(), query: Object.fromEntries(url.searchParams), receivedAt };
}

function secretsCtx(overrides: { tiktokClientSecret?: string; gmailPushToken?: string }): VerifyContext {
  return {
    secrets: { metaAppSecrets: [], metaVerifyToken: '', tiktokClientSecret: '', gmailPushToken: '', ...overrides },
    channelCredentials: () => Promise.resolve([]),
  };
}

/** Drops undefined properties, so `{a: undefined}` and `{}` compare equal. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
