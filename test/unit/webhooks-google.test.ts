// The Gmail push (Pub/Sub) webhook source against real sandbox deliveries: a users.watch on the
// connected mailbox, a customer email, the push it causes; token check (query parameter,
// constant-time), one `sync` hint per push routed to the adapter's account id, redelivery keys,
// and malformed/fuzzed bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GmailAdapter } from '../../activities/platforms/gmail';
import type { AccountInfo, Credentials, SyncCursor } from '../../activities/platforms/types';
import { googleWebhookSource as source } from '../../api/webhooks/sources/google';
import { MalformedWebhookError, type SyncHintEvent, type VerifyContext, type WebhookRequest } from '../../api/webhooks/sources/types';
import { platformConfig } from '../../lib/platform-config';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';

describe('google (gmail push) webhook source', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let adapter: GmailAdapter;
  let account: AccountInfo;
  let credentials: Credentials;
  let pushToken: string;
  let ctx: VerifyContext;
  let watchHistoryId: string;
  /** Deliveries answered 500 before the receiver accepts again (forces Pub/Sub-style redelivery). */
  let failNext = 0;

  before(async () => {
    sb = await useSandbox({ platforms: ['google'] });
    hooks = await webhookReceiver(() => (failNext > 0 ? (failNext--, 500) : 200));
    await sb.admin('PUT', '/webhooks/targets/google', { url: `${hooks.url}/webhooks/google` });
    const config = platformConfig({ SANDBOX_URL: sb.url });
    pushToken = config.google.pushToken;
    ctx = secretsCtx(pushToken);
    adapter = new GmailAdapter(config);
    const url = new URL(adapter.authorizationUrl({ state: 's', redirectUri: REDIRECT }));
    url.searchParams.set('sandbox_decision', 'approve');
    const code = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!).searchParams.get('code')!;
    ({ account, credentials } = await adapter.exchangeCode({ code, redirectUri: REDIRECT }));
    // What the channel does on connect: watch INBOX, pushing to our Pub/Sub topic.
    const res = await fetch(`${sb.url}/gmail.googleapis.com/gmail/v1/users/me/watch`, {
      method: 'POST', headers: { authorization: `Bearer ${String(credentials.accessToken)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ topicName: 'projects/switchboard/topics/gmail', labelIds: ['INBOX'], labelFilterBehavior: 'include' }),
    });
    assert.equal(res.status, 200);
    watchHistoryId = ((await res.json()) as { historyId: string }).historyId;
  });
  after(async () => { await sb.close(); await hooks.close(); });

  async function deliveries(count: number, fn: () => Promise<unknown>): Promise<ReceivedWebhook[]> {
    const from = hooks.received.length;
    await fn();
    return (await hooks.waitFor(from + count)).slice(from, from + count);
  }
  const customerWrites = (body: Record<string, unknown>) => sb.admin('POST', '/customers/google/messages', body);
  const toRequest = (r: ReceivedWebhook) => request(hooks.url, r);

  async function syncHintOf(r: ReceivedWebhook): Promise<SyncHintEvent> {
    const req = toRequest(r);
    assert.deepEqual(await source.verify(req, ctx), { ok: true });
    const { events, ignored } = source.parse(req);
    assert.deepEqual(ignored, []);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'sync');
    return events[0] as SyncHintEvent;
  }

  test('a customer email → one push → one sync hint for the connected mailbox; the incremental sync finds the email', async () => {
    // The channel's position after its backfill.
    let cursor: SyncCursor | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'backfill' });
      cursor = page.cursor;
      if (page.done) break;
    }
    let written = { messageId: '' };
    const [push] = await deliveries(1, async () => { written = (await customerWrites({ text: 'Where is my parcel?', customerId: 'ana@example.com' })).json; });
    const url = new URL(push!.url, hooks.url);
    assert.equal(url.pathname, '/webhooks/google');
    const envelope = JSON.parse(push!.body);
    const data = JSON.parse(Buffer.from(envelope.message.data, 'base64').toString('utf8'));
    assert.ok(BigInt(data.historyId) > BigInt(watchHistoryId));

    const event = await syncHintOf(push!);
    assert.equal(event.key, `gmail:push:${envelope.message.messageId}`);
    assert.deepEqual(event.account, { platforms: ['gmail'], accountId: account.id });
    assert.equal(account.id, data.emailAddress.toLowerCase());
    assert.equal(event.timestamp, Date.parse(envelope.message.publishTime));
    assert.ok(Math.abs(event.timestamp - Date.now()) < 60_000, 'timestamp in ms');
    assert.match(event.reason, new RegExp(data.historyId));

    // Acting on the hint: the incremental sync from the stored cursor has the new email.
    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    const found = page.conversations.flatMap((c) => c.messages).find((m) => m.externalId === written.messageId);
    assert.ok(found, 'incremental sync returns the pushed email');
    assert.equal(found.text?.trim(), 'Where is my parcel?');
  });

  test('redelivery: a retried and a duplicated push keep their key; separate pushes get separate keys', async () => {
    failNext = 1;
    const retried = await deliveries(2, () => customerWrites({ text: 'retry me' }));
    assert.equal(retried[0]!.body, retried[1]!.body);
    const [a, b] = [await syncHintOf(retried[0]!), await syncHintOf(retried[1]!)];
    assert.deepEqual(a, b);

    await sb.admin('PUT', '/webhooks/options/google', { duplicate: 1 });
    try {
      const copies = await deliveries(2, () => customerWrites({ text: 'twice' }));
      const [c, d] = [await syncHintOf(copies[0]!), await syncHintOf(copies[1]!)];
      assert.equal(c.key, d.key);
      assert.notEqual(c.key, a.key);
    } finally {
      await sb.admin('PUT', '/webhooks/options/google', { duplicate: 0 });
    }
  });

  test('token: wrong, missing, empty, elsewhere than the query → rejected without echoing it', async () => {
    const [push] = await deliveries(1, () => customerWrites({ text: 'auth' }));
    const good = toRequest(push!);
    assert.equal(good.query.token, pushToken);
    const rejected = async (req: WebhookRequest, reason: RegExp, context = ctx) => {
      const v = await source.verify(req, context);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, reason);
      assert.ok(!(v as { reason: string }).reason.includes(pushToken));
    };
    const withToken = (token: string | undefined) => {
      const url = new URL(good.url);
      if (token === undefined) url.searchParams.delete('token');
      else url.searchParams.set('token', token);
      return { ...good, url: url.toString(), query: Object.fromEntries(url.searchParams) };
    };
    await rejected(withToken('wrong-token'), /does not match/);
    await rejected(withToken(`${pushToken}x`), /does not match/);
    await rejected(withToken(pushToken.slice(0, -1)), /does not match/);
    await rejected(withToken(pushToken.toUpperCase()), /does not match/);
    await rejected(withToken(''), /does not match/);
    await rejected(withToken(undefined), /missing/);
    // A token in a header is not where the subscription puts it.
    const inHeader = withToken(undefined);
    await rejected({ ...inHeader, headers: { ...inHeader.headers, authorization: `Bearer ${pushToken}`, 'x-goog-token': pushToken } }, /missing/);
    await rejected(good, /does not match/, secretsCtx('another-configured-token'));
    await rejected(good, /not configured/, secretsCtx(''));
    // The query map is what the endpoint hands over; the URL is only the fallback when it lacks token.
    assert.deepEqual(await source.verify({ ...good, query: {} }, ctx), { ok: true });
    await rejected({ ...good, query: { token: 'wrong-token' } }, /does not match/);
  });

  describe('bodies the sandbox does not send', () => {
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
    const push = (data: string | undefined, message: Record<string, unknown> = {}) => ({
      message: { ...(data === undefined ? {} : { data }), messageId: '2070443601311999', publishTime: '2026-05-02T10:11:12.749Z', ...message },
      subscription: 'projects/switchboard/subscriptions/gmail-push',
    });
    const req = (body: unknown, receivedAt = 1_780_000_000_000): WebhookRequest => ({
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), headers: { 'content-type': 'application/json' },
      url: `https://example.test/webhooks/google?token=${pushToken}`, query: { token: pushToken }, receivedAt,
    });
    const parseOne = (body: unknown, receivedAt?: number) => {
      const { events, ignored } = source.parse(req(body, receivedAt));
      assert.deepEqual(ignored, []);
      assert.equal(events.length, 1);
      return events[0] as SyncHintEvent;
    };

    test('historyId as a number or string; email lower-cased; base64url; snake_case fields; no publishTime', () => {
      const numeric = parseOne(push(b64({ emailAddress: 'Support@Switchboard.Example', historyId: 9876543210 })));
      assert.deepEqual(numeric, {
        kind: 'sync', key: 'gmail:push:2070443601311999', account: { platforms: ['gmail'], accountId: 'support@switchboard.example' },
        timestamp: Date.parse('2026-05-02T10:11:12.749Z'), reason: 'gmail push: mailbox changed up to historyId 9876543210',
      });
      const str = parseOne(push(b64({ emailAddress: 'a@b.com', historyId: '18446744073709551615' })));
      assert.match(str.reason, /18446744073709551615/);
      const urlSafe = parseOne(push(Buffer.from(JSON.stringify({ emailAddress: 'a@b.com', historyId: '1', pad: '>>>???' })).toString('base64url')));
      assert.equal(urlSafe.account.accountId, 'a@b.com');
      const snake = parseOne({ message: { data: b64({ emailAddress: 'a@b.com', historyId: '5' }), message_id: '77', publish_time: '2026-05-02T10:11:13Z' } });
      assert.equal(snake.key, 'gmail:push:77');
      assert.equal(snake.timestamp, Date.parse('2026-05-02T10:11:13Z'));
      assert.equal(parseOne(push(b64({ emailAddress: 'a@b.com', historyId: '5' }), { publishTime: undefined }), 1_234).timestamp, 1_234);
    });

    test('malformed bodies → MalformedWebhookError', () => {
      const bad: unknown[] = [
        '', 'not json', '[]', 'null', '7', '{}', { message: 'x' }, { message: [] },
        push(undefined), push(''), push('!!!not base64!!!'), push(b64('not json')), push(b64('[1,2]')), push(b64('null')),
        push(b64({ historyId: '1' })), push(b64({ emailAddress: '', historyId: '1' })), push(b64({ emailAddress: 'no-at-sign', historyId: '1' })),
        push(b64({ emailAddress: 42, historyId: '1' })), push(b64({ emailAddress: 'a@b.com' })), push(b64({ emailAddress: 'a@b.com', historyId: -1 })),
        push(b64({ emailAddress: 'a@b.com', historyId: 1.5 })), push(b64({ emailAddress: 'a@b.com', historyId: 'abc' })), push(b64({ emailAddress: 'a@b.com', historyId: null })),
        push(b64({ emailAddress: 'a@b.com', historyId: '1' }), { messageId: undefined }), push(b64({ emailAddress: 'a@b.com', historyId: '1' }), { messageId: {} }),
        push(b64({ emailAddress: 'a@b.com', historyId: '1' }), { data: 12 }),
        push('QQ'), // valid base64 of "A"
      ];
      for (const body of bad) assert.throws(() => source.parse(req(body)), MalformedWebhookError, JSON.stringify(body));
    });

    test('fuzz: random and mutated bodies give one sync hint or MalformedWebhookError, nothing else', () => {
      const good = JSON.stringify(push(b64({ emailAddress: 'a@b.com', historyId: '123' })));
      let seed = 7;
      const rand = (n: number) => { seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; return seed % n; };
      const junk = [null, 0, -1, 1e308, '', 'x', [], {}, true, '=', 'A'.repeat(5), b64('{"emailAddress":"x@y","historyId":"1"}')];
      const outcomes = { events: 0, malformed: 0 };
      for (let i = 0; i < 3000; i++) {
        let body: Buffer;
        if (i % 3 === 0) {
          body = Buffer.from(good);
          for (let k = 0; k <= rand(4); k++) body[rand(body.length)] = rand(256);
        } else if (i % 3 === 1) {
          const obj = JSON.parse(good) as { message: Record<string, unknown> };
          const keys = Object.keys(obj.message);
          obj.message[keys[rand(keys.length)]!] = junk[rand(junk.length)];
          body = Buffer.from(JSON.stringify(obj));
        } else {
          body = Buffer.from(Array.from({ length: rand(64) }, () => rand(256)));
        }
        try {
          const { events } = source.parse({ body, headers: {}, url: 'https://x.test/webhooks/google', query: {}, receivedAt: 1 });
          assert.equal(events.length, 1);
          assert.ok(events[0]!.key.startsWith('gmail:push:') && Number.isFinite(events[0]!.timestamp));
          outcomes.events += 1;
        } catch (err) {
          assert.ok(err instanceof MalformedWebhookError, `parse threw ${String(err)} for ${body.toString('utf8')}`);
          outcomes.malformed += 1;
        }
      }
      assert.ok(outcomes.events > 100 && outcomes.malformed > 100, JSON.stringify(outcomes));
    });
  });
});

/** A WebhookRequest from what the receiver captured (raw bytes, lower-case headers, full URL with query). */
function request(base: string, r: ReceivedWebhook): WebhookRequest {
  const url = new URL(r.url, base);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { body: Buffer.from(r.body, 'utf8'), headers, url: url.toString(), query: Object.fromEntries(url.searchParams), receivedAt: r.at };
}

function secretsCtx(gmailPushToken: string): VerifyContext {
  return {
    secrets: { metaAppSecrets: [], metaVerifyToken: '', tiktokClientSecret: '', gmailPushToken },
    channelCredentials: () => Promise.resolve([]),
  };
}
