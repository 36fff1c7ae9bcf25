// The WhatsApp Cloud adapter against the in-process sandbox: connect with a system-user token and
// phone number ID, wrong input/credentials, check(), error classes for revoked tokens and injected
// faults, the honest empty history (the Cloud API has no message-history read API), and send: text,
// media by link, templates, and every failure classified (window closed, rate limits, 5xx, reauth,
// invalid recipients), checked against what the sandbox received and the status webhooks it emits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { platformConfig } from '../../lib/platform-config';
import { WhatsAppCloudAdapter, whatsappCloudDeliveryFailure, whatsappCloudError } from '../../activities/platforms/whatsapp-cloud';
import { PlatformError, type AccountInfo, type Credentials, type OutboundMessage } from '../../activities/platforms/types';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let sb: Awaited<ReturnType<typeof useSandbox>>;
let adapter: WhatsAppCloudAdapter;
let token: string;
let phoneId: string;
let wabaId: string;
let world: Json;

before(async () => {
  sb = await useSandbox({ platforms: ['whatsapp'] });
  world = (await sb.admin('GET', '/world')).json.whatsapp;
  token = world.systemUserToken;
  wabaId = world.wabas[0].id;
  phoneId = world.wabas[0].phoneNumbers[0].id;
  adapter = new WhatsAppCloudAdapter(platformConfig({ SANDBOX_URL: sb.url }), { timeoutMs: 500 });
});
after(async () => {
  await sb.admin('DELETE', '/faults');
  await sb.close();
});

/** Runs `fn`, expects a PlatformError, returns it after checking classify() agrees with it. */
async function rejects(fn: () => Promise<unknown>): Promise<PlatformError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof PlatformError, `expected a PlatformError, got ${String(err)}`);
    assert.equal(err.platform, 'whatsapp_cloud');
    assert.deepEqual(adapter.classify(err), err.classification);
    assert.ok(!err.message.includes(token), 'the token must never appear in an error');
    return err;
  }
  assert.fail('expected a rejection');
}

describe('connect', () => {
  test('a system-user token and phone number ID give the account and masked hints', async () => {
    const res = await adapter.connectWithCredentials({ accessToken: token, phoneNumberId: phoneId });
    assert.equal(res.account.id, phoneId);
    assert.equal(res.account.name, 'Switchboard Demo');
    assert.equal(res.account.handle, '+1 555-078-3881');
    assert.deepEqual(res.credentials, { accessToken: token, phoneNumberId: phoneId });
    assert.equal(res.tokenExpiresAt, undefined, 'system-user tokens do not expire');
    assert.equal(res.credentialHints?.accessToken, `…${token.slice(-4)}`);
    assert.equal(res.credentialHints?.phoneNumber, '…3881');
    assert.ok(!JSON.stringify(res.credentialHints).includes(token));
  });

  test('with the WABA ID, the number must belong to it', async () => {
    const res = await adapter.connectWithCredentials({ accessToken: token, phoneNumberId: phoneId, wabaId });
    assert.equal(res.credentials.wabaId, wabaId);
    const err = await rejects(() => adapter.connectWithCredentials({ accessToken: token, phoneNumberId: phoneId, wabaId: '999999999999999' }));
    assert.equal(err.classification.kind, 'permanent');
    assert.match(err.message, /WhatsApp Business Account 999999999999999/);
  });

  test('missing or malformed input is permanent, before any call', async () => {
    for (const input of [{ phoneNumberId: phoneId }, { accessToken: token }, { accessToken: token, phoneNumberId: '+1 555 078 3881' }, { accessToken: token, phoneNumberId: phoneId, wabaId: 'abc' }]) {
      const err = await rejects(() => adapter.connectWithCredentials(input));
      assert.equal(err.classification.kind, 'permanent');
    }
  });

  test('a wrong token is reauth (Graph 190, HTTP 401)', async () => {
    const err = await rejects(() => adapter.connectWithCredentials({ accessToken: 'EAAGnot-a-real-token', phoneNumberId: phoneId }));
    assert.equal(err.classification.kind, 'reauth');
    assert.equal(err.classification.code, '190');
    assert.equal(err.status, 401);
  });

  test('an unknown phone number ID is permanent with a clear message', async () => {
    const err = await rejects(() => adapter.connectWithCredentials({ accessToken: token, phoneNumberId: '123456789012345' }));
    assert.equal(err.classification.kind, 'permanent');
    assert.match(err.message, /phone number ID 123456789012345 does not exist/);
  });
});

describe('channel operations', () => {
  let credentials: Credentials;
  let account: AccountInfo;
  before(async () => {
    ({ credentials, account } = await adapter.connectWithCredentials({ accessToken: token, phoneNumberId: phoneId }));
  });

  test('check() reads the number from the API', async () => {
    const before = (await sb.admin('GET', '/requests?platform=whatsapp&endpoint=node.get')).json.data.length;
    const info = await adapter.check(credentials, account);
    assert.deepEqual(info, { id: phoneId, name: 'Switchboard Demo', handle: '+1 555-078-3881' });
    const requests = (await sb.admin('GET', '/requests?platform=whatsapp&endpoint=node.get')).json.data;
    assert.equal(requests.length, before + 1);
    assert.equal(requests.at(-1).status, 200);
  });

  test('refresh() returns null: system-user tokens do not expire', async () => {
    assert.equal(await adapter.refresh(), null);
  });

  test('history: the Cloud API has none to read, so backfill and incremental are empty and done', async () => {
    // The sandbox does hold history for this number (seeded, webhook-only); the adapter cannot read it.
    assert.ok(world.customers.length > 0);
    await sb.admin('POST', '/customers/whatsapp/messages', { customerId: '5215512345678', text: 'new after connect' });
    const backfill = await adapter.fetchPage({ credentials, account, cursor: null, mode: 'backfill' });
    assert.deepEqual(backfill.conversations, []);
    assert.equal(backfill.done, true);
    const incremental = await adapter.fetchPage({ credentials, account, cursor: backfill.cursor, mode: 'incremental' });
    assert.deepEqual(incremental, { conversations: [], cursor: backfill.cursor, done: true });
    const again = await adapter.fetchPage({ credentials, account, cursor: backfill.cursor, mode: 'incremental' });
    assert.deepEqual(again, incremental);
  });

  test('a revoked token makes check() fail as reauth; restored, it works again', async () => {
    await sb.admin('POST', '/tokens/revoke', { token });
    try {
      const err = await rejects(() => adapter.check(credentials, account));
      assert.equal(err.classification.kind, 'reauth');
      assert.equal(adapter.classify(err).kind, 'reauth');
    } finally {
      await sb.admin('POST', '/tokens/restore', { token });
    }
    assert.equal((await adapter.check(credentials, account)).id, phoneId);
  });

  test('an expired token is reauth too', async () => {
    await sb.admin('POST', '/tokens/expire', { token });
    try {
      const err = await rejects(() => adapter.check(credentials, account));
      assert.equal(err.classification.kind, 'reauth');
    } finally {
      // restore only undoes revocation: give the (non-expiring) system-user token a long life again.
      await sb.admin('POST', '/tokens/expire', { token, inSeconds: 10 * 365 * 24 * 3600 });
    }
    assert.equal((await adapter.check(credentials, account)).id, phoneId);
  });

  test('an injected rate limit (Graph 80007, HTTP 400) is rate_limited with Retry-After', async () => {
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
    const err = await rejects(() => adapter.check(credentials, account));
    assert.equal(err.status, 400);
    assert.deepEqual({ kind: err.classification.kind, code: err.classification.code }, { kind: 'rate_limited', code: '80007' });
    assert.equal(err.classification.kind === 'rate_limited' && err.classification.retryAfterMs, 7000);
  });

  test('injected 500 and 503 are retryable (131000 / 131016)', async () => {
    for (const [status, code] of [[500, '131000'], [503, '131016']] as const) {
      await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', errorRate: 1, errorStatus: status, remaining: 3 });
      const err = await rejects(() => adapter.check(credentials, account));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'retryable', code, status });
    }
  });

  test('an injected 401 is reauth, 403 (permission) is reauth', async () => {
    for (const status of [401, 403]) {
      await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', errorRate: 1, errorStatus: status, remaining: 1 });
      const err = await rejects(() => adapter.check(credentials, account));
      assert.equal(err.classification.kind, 'reauth');
    }
  });

  test('a hanging request times out as retryable', async () => {
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', timeoutRate: 1, remaining: 3 });
    const err = await rejects(() => adapter.check(credentials, account));
    assert.equal(err.classification.kind, 'retryable');
    assert.match(err.message, /timed out/);
  });
});

describe('classification of Graph error bodies', () => {
  const body = (code: number, message = 'x') => ({ error: { message, type: 'OAuthException', code, fbtrace_id: 'A' } });
  const cls = (status: number, code: number, headers: Record<string, string> = {}) => whatsappCloudError(status, body(code), new Headers(headers)).classification;

  test('rate limits: Retry-After first, then the business use case hint, then per-code defaults', () => {
    assert.deepEqual(cls(400, 131056), { kind: 'rate_limited', retryAfterMs: 6000, message: 'Graph 400 code 131056: x', code: '131056' });
    assert.equal((cls(400, 130429, { 'retry-after': '3' }) as Json).retryAfterMs, 3000);
    assert.equal((cls(400, 80007, { 'x-business-use-case-usage': JSON.stringify({ [wabaId]: [{ type: 'whatsapp_business_management', call_count: 100, estimated_time_to_regain_access: 2 }] }) }) as Json).retryAfterMs, 120_000);
    assert.equal(cls(400, 4).kind, 'rate_limited');
    assert.equal(cls(429, 0 as number).kind, 'reauth'); // code 0 is auth failure whatever the status
  });

  test('retryable, reauth and permanent codes', () => {
    for (const code of [131000, 131016, 1, 2]) assert.equal(cls(500, code).kind, 'retryable', String(code));
    for (const code of [190, 0, 10, 200]) assert.equal(cls(401, code).kind, 'reauth', String(code));
    for (const code of [131047, 131026, 132000, 132001, 100, 131008, 131009, 131051, 368]) assert.equal(cls(400, code).kind, 'permanent', String(code));
    assert.equal(whatsappCloudError(502, undefined, new Headers()).classification.kind, 'retryable');
    assert.equal(whatsappCloudError(429, undefined, new Headers()).classification.kind, 'rate_limited');
  });

  test('a token echoed in an error body is redacted', () => {
    const err = whatsappCloudError(400, body(100, `bad token ${'EAAGsecret'}`), new Headers(), 'EAAGsecret');
    assert.ok(!err.message.includes('EAAGsecret'));
  });

  test('non-platform errors: network failures are retryable, programming errors permanent', () => {
    assert.equal(adapter.classify(new TypeError('fetch failed')).kind, 'retryable');
    assert.equal(adapter.classify(new Error('boom')).kind, 'permanent');
  });
});

describe('send', () => {
  const OPEN = '5215512345678'; // wrote an hour ago: window open
  let credentials: Credentials;
  let account: AccountInfo;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let ref = 0;
  const message = (to: string, extra: Partial<OutboundMessage>): OutboundMessage => ({ clientRef: `msg_${++ref}`, to: { externalId: to }, conversationExternalId: to, ...extra });
  const send = (to: string, extra: Partial<OutboundMessage>) => adapter.send({ credentials, account, message: message(to, extra) });
  const sendRequests = async () => (await sb.admin('GET', '/requests?platform=whatsapp&endpoint=send')).json.data as Json[];
  const lastSendBody = async () => JSON.parse((await sendRequests()).at(-1).body);

  /** The status webhooks the sandbox emitted for one wamid (waits for `count`). */
  async function statusesOf(wamid: string, count: number): Promise<Json[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = hooks.received.map((w) => JSON.parse(w.body).entry[0].changes[0].value.statuses?.[0]).filter((st: Json) => st?.id === wamid);
      if (found.length >= count) return found;
      if (Date.now() > deadline) assert.fail(`expected ${count} statuses for ${wamid}, got ${found.map((f: Json) => f.status).join(',')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    ({ credentials, account } = await adapter.connectWithCredentials({ accessToken: token, phoneNumberId: phoneId }));
    hooks = await webhookReceiver();
    await sb.admin('PUT', '/webhooks/targets/whatsapp', { url: hooks.url });
  });
  after(async () => {
    await sb.admin('DELETE', '/faults');
    await hooks.close();
  });

  test('a text reaches the sandbox; the returned wamid is the one its status webhooks carry', async () => {
    const startedAt = Date.now();
    const res = await send(OPEN, { text: 'Hola Ana, ya salió: https://shop.example/t/1042' });
    assert.match(res.externalId, /^wamid\./);
    assert.ok(res.timestamp >= startedAt && res.timestamp <= Date.now());
    const request = (await sendRequests()).at(-1);
    assert.equal(request.status, 200);
    assert.equal(request.path, `/graph.facebook.com/${platformConfig({ SANDBOX_URL: sb.url }).whatsapp.graphVersion}/${phoneId}/messages`);
    assert.match(request.headers.authorization, /^Bearer /);
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), {
      messaging_product: 'whatsapp', recipient_type: 'individual', to: OPEN,
      type: 'text', text: { preview_url: true, body: 'Hola Ana, ya salió: https://shop.example/t/1042' },
    });
    const statuses = await statusesOf(res.externalId, 3);
    assert.deepEqual(statuses.map((st) => st.status), ['sent', 'delivered', 'read']);
    assert.equal(statuses[0].recipient_id, OPEN);
  });

  test('a + prefixed or whatsapp: recipient is sent as digits', async () => {
    await send(`+${OPEN}`, { text: 'uno' });
    assert.equal((await lastSendBody()).to, OPEN);
    await send(`whatsapp:+${OPEN}`, { text: 'dos' });
    assert.equal((await lastSendBody()).to, OPEN);
  });

  test('media by link: image with caption, video, audio, file as a document with its filename', async () => {
    const image = await send(OPEN, { media: { type: 'image', url: 'https://cdn.example/p.jpg', caption: 'la foto' } });
    assert.deepEqual(await lastSendBody(), { messaging_product: 'whatsapp', recipient_type: 'individual', to: OPEN, type: 'image', image: { link: 'https://cdn.example/p.jpg', caption: 'la foto' } });
    assert.deepEqual((await statusesOf(image.externalId, 1))[0].status, 'sent');

    await send(OPEN, { text: 'the clip', media: { type: 'video', url: 'https://cdn.example/v.mp4' } });
    assert.deepEqual((await lastSendBody()).video, { link: 'https://cdn.example/v.mp4', caption: 'the clip' });
    await send(OPEN, { media: { type: 'audio', url: 'https://cdn.example/a.ogg' } });
    assert.deepEqual((await lastSendBody()).audio, { link: 'https://cdn.example/a.ogg' });
    const file = await send(OPEN, { media: { type: 'file', url: 'https://cdn.example/f.pdf', name: 'factura.pdf', caption: 'Tu factura' } });
    const body = await lastSendBody();
    assert.equal(body.type, 'document');
    assert.deepEqual(body.document, { link: 'https://cdn.example/f.pdf', caption: 'Tu factura', filename: 'factura.pdf' });
    assert.match(file.externalId, /^wamid\./);
  });

  test('content the Cloud API cannot carry is permanent, before any call', async () => {
    const count = (await sendRequests()).length;
    for (const extra of [{}, { text: '  ' }, { text: 'x'.repeat(4097) }, { text: 'hi', media: { type: 'audio' as const, url: 'https://cdn.example/a.ogg' } }, { media: { type: 'image' as const, url: 'ftp://cdn.example/p.jpg' } }]) {
      const err = await rejects(() => send(OPEN, extra));
      assert.equal(err.classification.kind, 'permanent');
    }
    assert.equal((await sendRequests()).length, count);
  });

  test('a template: name + language, body parameters as text components', async () => {
    const res = await send(OPEN, { template: { name: 'hello_world', language: 'en_US' } });
    assert.deepEqual(await lastSendBody(), { messaging_product: 'whatsapp', recipient_type: 'individual', to: OPEN, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } });
    assert.deepEqual((await statusesOf(res.externalId, 3)).map((st) => st.status), ['sent', 'delivered', 'read']);

    // hello_world has no body placeholders: the parameters reach Graph as components and it answers 132000.
    const err = await rejects(() => send(OPEN, { template: { name: 'hello_world', language: 'en_US', parameters: ['Ana', '#1042'] } }));
    assert.deepEqual(JSON.parse((await sendRequests()).at(-1).body).template.components, [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#1042' }] }]);
    assert.deepEqual({ kind: err.classification.kind, code: err.classification.code }, { kind: 'permanent', code: '132000' });

    const unknown = await rejects(() => send(OPEN, { template: { name: 'no_such_template', language: 'en_US' } }));
    assert.deepEqual({ kind: unknown.classification.kind, code: unknown.classification.code }, { kind: 'permanent', code: '132001' });
  });

  test('an invalid recipient is permanent: refused by Graph (131009), locally, or after acceptance (131026)', async () => {
    const graph = await rejects(() => send('not-a-number', { text: 'hi' }));
    assert.deepEqual({ kind: graph.classification.kind, code: graph.classification.code, status: graph.status }, { kind: 'permanent', code: '131009', status: 400 });
    const local = await rejects(() => send('123', { text: 'hi' }));
    assert.equal(local.classification.kind, 'permanent');

    // A number not on WhatsApp is accepted, then fails asynchronously.
    const res = await send('15550000000', { text: 'hi' });
    const [failed] = await statusesOf(res.externalId, 1);
    assert.equal(failed.status, 'failed');
    assert.deepEqual({ kind: whatsappCloudDeliveryFailure(failed.errors[0]).kind, code: whatsappCloudDeliveryFailure(failed.errors[0]).code }, { kind: 'permanent', code: '131026' });
  });

  test('an injected 5xx on send is retryable', async () => {
    for (const [status, code] of [[500, '131000'], [503, '131016']] as const) {
      await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', errorRate: 1, errorStatus: status, remaining: 1 });
      const err = await rejects(() => send(OPEN, { text: 'hi' }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'retryable', code, status });
    }
  });

  test('a hanging send times out as retryable', async () => {
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', timeoutRate: 1, remaining: 1 });
    const err = await rejects(() => send(OPEN, { text: 'hi' }));
    assert.equal(err.classification.kind, 'retryable');
  });

  test('throughput limit (injected 130429) is rate_limited with its Retry-After', async () => {
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 4, remaining: 1 });
    const err = await rejects(() => send(OPEN, { text: 'hi' }));
    assert.equal(err.status, 400);
    assert.deepEqual(err.classification, { kind: 'rate_limited', retryAfterMs: 4000, code: '130429', message: err.classification.message });
  });

  test('the pair rate limit (too many to one user, 131056) is rate_limited with the platform delay', async () => {
    const customer = '15551234567';
    let err: PlatformError | undefined;
    for (let i = 0; i < 20 && !err; i++) {
      try { await send(customer, { template: { name: 'hello_world', language: 'en_US' } }); } catch (e) { err = e as PlatformError; }
    }
    assert.ok(err instanceof PlatformError, 'the pair limit was never hit');
    assert.equal(err.classification.kind, 'rate_limited');
    assert.equal(err.classification.code, '131056');
    assert.ok(err.classification.kind === 'rate_limited' && err.classification.retryAfterMs >= 1000 && err.classification.retryAfterMs <= 6000, JSON.stringify(err.classification));
  });

  test('a revoked token is reauth (190), and never appears in the error', async () => {
    await sb.admin('POST', '/tokens/revoke', { token });
    try {
      const err = await rejects(() => send(OPEN, { text: 'hi' }));
      assert.deepEqual({ kind: err.classification.kind, code: err.classification.code, status: err.status }, { kind: 'reauth', code: '190', status: 401 });
    } finally {
      await sb.admin('POST', '/tokens/restore', { token });
    }
    const missing = await rejects(() => adapter.send({ credentials: { phoneNumberId: phoneId }, account, message: message(OPEN, { text: 'hi' }) }));
    assert.equal(missing.classification.kind, 'reauth');
  });

  test('a synchronous 131047 is permanent window_closed and says a template is needed', () => {
    const err = whatsappCloudError(400, { error: { message: '(#131047) Re-engagement message', code: 131047, error_data: { details: 'More than 24 hours have passed.' } } }, new Headers());
    assert.equal(err.classification.kind, 'permanent');
    assert.equal(err.classification.code, 'window_closed');
    assert.match(err.message, /131047/);
    assert.match(err.message, /template/);
  });

  // Last: it moves the sandbox clock forward for good.
  test('window closed (clock +24 h): a free-form send fails with 131047 → window_closed; a template still goes through', async () => {
    assert.equal((await sb.admin('POST', '/clock', { advanceSeconds: 24 * 3600 + 60 })).status, 200);
    const res = await send(OPEN, { text: 'Still there?' });
    const [failed] = await statusesOf(res.externalId, 1);
    assert.equal(failed.status, 'failed');
    const cls = whatsappCloudDeliveryFailure(failed.errors[0]);
    assert.equal(cls.kind, 'permanent');
    assert.equal(cls.code, 'window_closed');
    assert.match(cls.message, /131047.*template/);

    const template = await send(OPEN, { template: { name: 'hello_world', language: 'en_US' } });
    assert.deepEqual((await statusesOf(template.externalId, 3)).map((st) => st.status), ['sent', 'delivered', 'read']);
  });
});
