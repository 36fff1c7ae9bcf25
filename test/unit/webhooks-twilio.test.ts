// The Twilio (WhatsApp) webhook source against real sandbox deliveries: inbound messages written
// through the admin API and status callbacks of messages sent through the sandbox's Messages API,
// verified with the Auth Token a connected channel holds (stubbed), rejected when anything signed
// changes, normalized to what the adapter's sync produces for the same thread, and robust to any
// body (only MalformedWebhookError escapes parse, verify never throws).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WhatsAppTwilioAdapter } from '../../activities/platforms/whatsapp-twilio';
import type { Credentials, NormalizedMessage } from '../../activities/platforms/types';
import { twilioWebhookSource as source } from '../../api/webhooks/sources/twilio';
import { MalformedWebhookError, type InboxEvent, type MessageEvent, type StatusEvent, type VerifyContext, type WebhookRequest } from '../../api/webhooks/sources/types';
import type { Platform } from '../../lib/domain/channel';
import { platformConfig } from '../../lib/platform-config';
import { twilioSignature } from '../../sandbox/platforms/twilio';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SENDER = 'whatsapp:+14155238886';
const OPEN_CUSTOMER = 'whatsapp:+5215512345678'; // seeded: wrote an hour ago, window open
const CLOSED_CUSTOMER = 'whatsapp:+15551234567'; // seeded: wrote more than a day ago

let sb: Awaited<ReturnType<typeof useSandbox>>;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let world: Json;
let accountSid: string;
let authToken: string;

before(async () => {
  hooks = await webhookReceiver();
  sb = await useSandbox({ platforms: ['twilio'], webhookBaseUrl: hooks.url });
  world = (await sb.admin('GET', '/world')).json.twilio;
  accountSid = world.accountSid;
  authToken = world.authToken;
});
after(async () => {
  await sb.close();
  await hooks.close();
});

// ---- helpers ----

/** What our endpoint would hand the source for a captured delivery: exact bytes, the URL Twilio called. */
function requestOf(hook: ReceivedWebhook, patch: Partial<WebhookRequest> = {}): WebhookRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(hook.headers)) if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  const url = `${hooks.url}${hook.url}`;
  return { body: Buffer.from(hook.body, 'utf8'), headers, url, query: Object.fromEntries(new URL(url).searchParams), receivedAt: hook.at, ...patch };
}

/** A VerifyContext whose only connected channel is the sandbox's sender with `credentials`. */
function ctxWith(credentials: Credentials[] = [{ accountSid, authToken }], address = SENDER) {
  const calls: Array<[Platform, string]> = [];
  const ctx: VerifyContext = {
    secrets: { metaAppSecrets: [], metaVerifyToken: '', tiktokClientSecret: '', gmailPushToken: '' },
    async channelCredentials(platform, accountId) {
      calls.push([platform, accountId]);
      return platform === 'whatsapp_twilio' && accountId === address ? credentials : [];
    },
  };
  return { ctx, calls };
}

const paramsOf = (hook: ReceivedWebhook) => Object.fromEntries(new URLSearchParams(hook.body));

async function deliveries(match: (p: Record<string, string>) => boolean, count: number, timeoutMs = 5000): Promise<ReceivedWebhook[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = hooks.received.filter((h) => match(paramsOf(h)));
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} deliveries, got ${found.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function customerWrites(input: Record<string, unknown>): Promise<ReceivedWebhook> {
  const res = await sb.admin('POST', '/customers/twilio/messages', input);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const [hook] = await deliveries((p) => p.MessageSid === res.json.messageId, 1);
  return hook!;
}

async function send(fields: Record<string, string>): Promise<string> {
  const res = await fetch(`${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages.json`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  const json = (await res.json()) as Json;
  assert.equal(res.status, 201, JSON.stringify(json));
  return json.sid;
}

async function statusCallbacks(sid: string, count: number) {
  return deliveries((p) => p.MessageSid === sid && p.MessageStatus !== undefined, count);
}

async function verified(hook: ReceivedWebhook) {
  const req = requestOf(hook);
  const { ctx } = ctxWith();
  assert.deepEqual(await source.verify(req, ctx), { ok: true });
  return source.parse(req);
}

/** A signed form of our own (for shapes the sandbox does not emit), signed like Twilio does. */
function signedForm(pairs: Array<[string, string]>, url = `${hooks.url}/twilio`): WebhookRequest {
  const params: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = params[k];
    params[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return {
    body: Buffer.from(new URLSearchParams(pairs).toString()),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(authToken, url, params) },
    url, query: {}, receivedAt: 1_780_000_000_000,
  };
}

const replaceParam = (body: string, name: string, value: string | null) => {
  const form = new URLSearchParams(body);
  if (value === null) form.delete(name);
  else form.set(name, value);
  return Buffer.from(form.toString());
};

// ---- inbound messages ----

describe('inbound messages', () => {
  test('a customer text: verified with the channel for To, normalized into the sync thread', async () => {
    const hook = await customerWrites({ customerId: '+15557654321', text: 'Hola, ¿tienen talla M? 👍' });
    const p = paramsOf(hook);
    const req = requestOf(hook);
    const { ctx, calls } = ctxWith();
    assert.deepEqual(await source.verify(req, ctx), { ok: true });
    assert.deepEqual(calls, [['whatsapp_twilio', SENDER]]);

    const { events, ignored } = source.parse(req);
    assert.deepEqual(ignored, []);
    assert.deepEqual(events, [{
      kind: 'message',
      key: `whatsapp_twilio:message:${p.MessageSid}`,
      account: { platforms: ['whatsapp_twilio'], accountId: SENDER },
      timestamp: hook.at,
      conversation: { externalId: 'whatsapp:+15557654321', participant: { externalId: 'whatsapp:+15557654321', handle: '+15557654321', name: p.ProfileName } },
      message: {
        externalId: p.MessageSid!,
        direction: 'inbound',
        sender: { externalId: 'whatsapp:+15557654321', name: p.ProfileName },
        text: 'Hola, ¿tienen talla M? 👍',
        timestamp: hook.at,
      },
    } satisfies MessageEvent]);
    assert.ok(p.ProfileName, 'the sandbox sends a WhatsApp profile name');
  });

  test('a customer photo: the attachment carries type, MIME, URL and the ME… media SID', async () => {
    const hook = await customerWrites({ customerId: '+15557654321', media: true });
    const p = paramsOf(hook);
    const [event] = (await verified(hook)).events as MessageEvent[];
    assert.equal(event!.message.text, undefined, 'a photo without caption has no text');
    assert.deepEqual(event!.message.attachments, [{ type: 'image', mimeType: 'image/png', url: p.MediaUrl0, platformMediaId: /\/Media\/(ME[0-9a-f]{32})$/.exec(p.MediaUrl0!)![1] }]);
    const file = await fetch(event!.message.attachments![0]!.url!);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');
  });

  test('webhook and history sync land in the same conversation with the same message and media ids', async () => {
    const customer = '+15550001234';
    const text = await customerWrites({ customerId: customer, text: 'sync me' });
    const photo = await customerWrites({ customerId: customer, media: true });
    const fromHooks = [...(await verified(text)).events, ...(await verified(photo)).events] as MessageEvent[];

    const adapter = new WhatsAppTwilioAdapter(platformConfig({ SANDBOX_URL: sb.url }), { timeoutMs: 2000 });
    const synced: Array<{ conversation: { externalId: string; participant: unknown }; message: NormalizedMessage }> = [];
    let cursor = null;
    for (let i = 0; i < 20; i++) {
      const page = await adapter.fetchPage({ credentials: { accountSid, authToken }, account: { id: SENDER }, cursor, mode: 'backfill' });
      for (const conv of page.conversations) for (const message of conv.messages) synced.push({ conversation: conv, message });
      cursor = page.cursor;
      if (page.done) break;
    }
    for (const event of fromHooks) {
      const match = synced.find((s) => s.message.externalId === event.message.externalId);
      assert.ok(match, `sync has ${event.message.externalId}`);
      assert.equal(event.conversation.externalId, match.conversation.externalId);
      const { name, ...participant } = event.conversation.participant;
      assert.ok(name);
      assert.deepEqual(participant, match.conversation.participant);
      assert.equal(event.message.direction, match.message.direction);
      assert.equal(event.message.sender.externalId, match.message.sender.externalId);
      assert.equal(event.message.text, match.message.text);
      assert.deepEqual(event.message.attachments, match.message.attachments);
    }
    assert.equal(fromHooks[1]!.message.attachments?.length, 1);
  });

  test('a redelivered duplicate gives identical keys and events', async () => {
    await sb.admin('PUT', '/webhooks/options/twilio', { duplicate: 1 });
    try {
      const res = await sb.admin('POST', '/customers/twilio/messages', { customerId: '+15557654321', text: 'twice' });
      const copies = await deliveries((p) => p.MessageSid === res.json.messageId, 2);
      const parsed = await Promise.all(copies.map(async (hook) => (await verified(hook)).events));
      assert.equal(parsed[0]!.length, 1);
      assert.equal(parsed[0]![0]!.key, parsed[1]![0]!.key);
      // Only the receipt time differs between copies (Twilio callbacks carry no event time).
      const strip = (events: InboxEvent[]): unknown => JSON.parse(JSON.stringify(events, (k, v: unknown) => (k === 'timestamp' ? 0 : v)));
      assert.deepEqual(strip(parsed[0]!), strip(parsed[1]!));
    } finally {
      await sb.admin('PUT', '/webhooks/options/twilio', { duplicate: 0 });
    }
  });

  test('shapes the sandbox does not emit: location, quick-reply button, several media', () => {
    const sid = `SM${'a'.repeat(32)}`;
    const base: Array<[string, string]> = [['MessageSid', sid], ['AccountSid', accountSid], ['From', 'whatsapp:+447700900123'], ['To', SENDER], ['SmsStatus', 'received']];
    const location = source.parse(signedForm([...base, ['Body', ''], ['NumMedia', '0'], ['Latitude', '51.5072'], ['Longitude', '-0.1276'], ['Label', 'Our shop']]));
    assert.deepEqual((location.events[0] as MessageEvent).message.attachments, [{ type: 'location', url: 'geo:51.5072,-0.1276', name: 'Our shop' }]);
    assert.equal((location.events[0] as MessageEvent).message.text, undefined);

    const button = source.parse(signedForm([...base, ['ButtonText', 'Yes, confirm'], ['ButtonPayload', 'confirm'], ['NumMedia', '0']]));
    assert.equal((button.events[0] as MessageEvent).message.text, 'Yes, confirm');

    const media = `https://api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages/MM${'b'.repeat(32)}/Media`;
    const album = source.parse(signedForm([...base, ['Body', 'two files'], ['NumMedia', '2'],
      ['MediaContentType0', 'application/pdf'], ['MediaUrl0', `${media}/ME${'c'.repeat(32)}`],
      ['MediaContentType1', 'audio/ogg'], ['MediaUrl1', `${media}/ME${'d'.repeat(32)}`]]));
    assert.deepEqual((album.events[0] as MessageEvent).message.attachments, [
      { type: 'file', mimeType: 'application/pdf', url: `${media}/ME${'c'.repeat(32)}`, platformMediaId: `ME${'c'.repeat(32)}` },
      { type: 'audio', mimeType: 'audio/ogg', url: `${media}/ME${'d'.repeat(32)}`, platformMediaId: `ME${'d'.repeat(32)}` },
    ]);
    // No ProfileName: no name, rather than an empty one.
    assert.deepEqual((album.events[0] as MessageEvent).conversation.participant, { externalId: 'whatsapp:+447700900123', handle: '+447700900123' });
  });
});

// ---- status callbacks ----

describe('status callbacks', () => {
  test('sent → delivered → read, each its own event keyed by status, routed by From', async () => {
    const sid = await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'Hola Ana', StatusCallback: `${hooks.url}/twilio` });
    const callbacks = await statusCallbacks(sid, 3);
    const events: InboxEvent[] = [];
    for (const hook of callbacks) {
      assert.equal(hook.url, '/twilio');
      const { ctx, calls } = ctxWith();
      assert.deepEqual(await source.verify(requestOf(hook), ctx), { ok: true });
      assert.deepEqual(calls, [['whatsapp_twilio', SENDER]], 'looked up by the business number (From)');
      const parsed = source.parse(requestOf(hook));
      assert.deepEqual(parsed.ignored, []);
      events.push(...parsed.events);
    }
    assert.deepEqual(events, callbacks.map((hook, i): StatusEvent => ({
      kind: 'status',
      key: `whatsapp_twilio:status:${sid}:${['sent', 'delivered', 'read'][i]}`,
      account: { platforms: ['whatsapp_twilio'], accountId: SENDER },
      timestamp: hook.at,
      messageExternalId: sid,
      status: (['sent', 'delivered', 'read'] as const)[i]!,
    })));
  });

  test('callbacks on the default status URL (webhook target + /status) verify against the URL called', async () => {
    const sid = await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'default callback' });
    const callbacks = await statusCallbacks(sid, 3);
    for (const hook of callbacks) {
      assert.equal(hook.url, '/twilio/status');
      assert.equal((await verified(hook)).events.length, 1);
      // The same bytes claimed for /twilio do not verify: the URL is signed.
      const moved = requestOf(hook, { url: `${hooks.url}/twilio` });
      assert.equal((await source.verify(moved, ctxWith().ctx)).ok, false);
    }
  });

  test('a number not on WhatsApp: sent, then failed with Twilio\'s error code and message', async () => {
    const template = world.contentTemplates.find((t: Json) => t.friendlyName === 'appointment_reminder');
    const sid = await send({ From: SENDER, To: 'whatsapp:+15550000000', ContentSid: template.sid, ContentVariables: '{"1":"Ana"}' });
    const callbacks = await statusCallbacks(sid, 2);
    const events = (await Promise.all(callbacks.map(verified))).flatMap((r) => r.events) as StatusEvent[];
    assert.deepEqual(events.map((e) => e.status), ['sent', 'failed']);
    assert.equal(events[1]!.key, `whatsapp_twilio:status:${sid}:failed`);
    assert.deepEqual(events[1]!.error, { code: '63003', message: 'Channel could not find To address' });
    assert.equal(events[0]!.error, undefined);
  });

  test('free-form outside the 24 h window: failed 63016', async () => {
    const sid = await send({ From: SENDER, To: CLOSED_CUSTOMER, Body: 'Still there?' });
    const [hook] = await statusCallbacks(sid, 1);
    const [event] = (await verified(hook!)).events as StatusEvent[];
    assert.equal(event!.status, 'failed');
    assert.equal(event!.error?.code, '63016');
    assert.match(event!.error!.message, /outside the allowed window/);
  });

  test('pre-send and inbound statuses are ignored; canceled ends as failed', async () => {
    const sid = await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'for shapes' });
    const [hook] = await statusCallbacks(sid, 1);
    const as = (status: string) => {
      let body = replaceParam(hook!.body, 'MessageStatus', status);
      body = replaceParam(body.toString(), 'SmsStatus', status);
      return source.parse(requestOf(hook!, { body }));
    };
    for (const status of ['queued', 'accepted', 'scheduled', 'sending', 'partially_delivered', 'received', 'something_new', 'constructor', '__proto__', 'tostring']) {
      assert.deepEqual(as(status), { events: [], ignored: [`status:${status}`] }, status);
    }
    const canceled = as('canceled').events[0] as StatusEvent;
    assert.equal(canceled.status, 'failed');
    assert.equal(canceled.key, `whatsapp_twilio:status:${sid}:failed`);
    assert.equal(canceled.error?.code, 'canceled');
    // An undelivered callback without ErrorMessage still names the code.
    const bare = source.parse(requestOf(hook!, { body: replaceParam(replaceParam(hook!.body, 'MessageStatus', 'undelivered').toString(), 'ErrorCode', '30003') })).events[0] as StatusEvent;
    assert.deepEqual(bare.error, { code: '30003', message: '' });
    // SMS on the same account is not one of our channels.
    const sms = replaceParam(replaceParam(hook!.body, 'From', '+14155238886').toString(), 'To', '+5215512345678');
    assert.deepEqual(source.parse(requestOf(hook!, { body: sms })), { events: [], ignored: ['status:non-whatsapp'] });
  });
});

// ---- verification failures ----

describe('verify rejects', () => {
  let hook: ReceivedWebhook;
  before(async () => {
    hook = await customerWrites({ customerId: '+15557654321', text: 'verify me' });
  });

  const rejected = async (req: WebhookRequest, ctx: VerifyContext = ctxWith().ctx, reason?: RegExp) => {
    const verdict = await source.verify(req, ctx);
    assert.equal(verdict.ok, false);
    if (!verdict.ok) {
      assert.ok(!verdict.reason.includes(authToken), 'the reason never echoes the token');
      if (reason) assert.match(verdict.reason, reason);
    }
  };

  test('a wrong Auth Token', async () => {
    await rejected(requestOf(hook), ctxWith([{ accountSid, authToken: 'not-the-token' }]).ctx, /X-Twilio-Signature does not match/);
  });

  test('tampered params: changed, removed, added, a repeated name; reordered pairs still verify', async () => {
    await rejected(requestOf(hook, { body: replaceParam(hook.body, 'Body', 'verify me!') }));
    await rejected(requestOf(hook, { body: replaceParam(hook.body, 'ProfileName', null) }));
    await rejected(requestOf(hook, { body: Buffer.from(`${hook.body}&Extra=1`) }));
    await rejected(requestOf(hook, { body: Buffer.from(`${hook.body}&Body=again`) }));
    // Reordering the pairs of a form changes nothing Twilio signs: still valid.
    const reordered = new URLSearchParams([...new URLSearchParams(hook.body)].reverse()).toString();
    assert.deepEqual(await source.verify(requestOf(hook, { body: Buffer.from(reordered) }), ctxWith().ctx), { ok: true });
  });

  test('a different URL: path, host, scheme, query', async () => {
    const url = new URL(`${hooks.url}${hook.url}`);
    for (const other of [`${url.origin}/twilio/other`, `http://example.com${url.pathname}`, url.toString().replace('http:', 'https:'), `${url}?x=1`]) {
      await rejected(requestOf(hook, { url: other }), undefined, /does not match/);
    }
    await rejected(requestOf(hook, { url: 'not a url' }));
  });

  test('missing or empty X-Twilio-Signature header, or the signature of another delivery', async () => {
    const { 'x-twilio-signature': signature, ...headers } = requestOf(hook).headers;
    assert.ok(signature);
    await rejected(requestOf(hook, { headers }), undefined, /missing X-Twilio-Signature/);
    await rejected(requestOf(hook, { headers: { ...headers, 'x-twilio-signature': '' } }), undefined, /missing X-Twilio-Signature/);
    const other = await customerWrites({ customerId: '+15557654321', text: 'another' });
    await rejected(requestOf(hook, { headers: { ...headers, 'x-twilio-signature': requestOf(other).headers['x-twilio-signature']! } }), undefined, /does not match/);
  });

  test('no connected channel for the address, or one of another Twilio account', async () => {
    const { ctx, calls } = ctxWith([{ accountSid, authToken }], 'whatsapp:+15550009999');
    await rejected(requestOf(hook), ctx, /^no connected channel for whatsapp:\+14155238886$/);
    assert.deepEqual(calls, [['whatsapp_twilio', SENDER]]);
    await rejected(requestOf(hook), ctxWith([{ accountSid: `AC${'f'.repeat(32)}`, authToken }]).ctx, /AccountSid does not match/);
    await rejected(requestOf(hook, { body: replaceParam(hook.body, 'AccountSid', null) }), undefined, /missing AccountSid/);
  });

  test('API-key channels verify only with a webhookAuthToken; any matching candidate is enough', async () => {
    const apiKey = { accountSid, apiKeySid: `SK${'0'.repeat(32)}`, apiKeySecret: 'secret' };
    await rejected(requestOf(hook), ctxWith([apiKey]).ctx, /no Auth Token to verify with/);
    assert.deepEqual(await source.verify(requestOf(hook), ctxWith([{ ...apiKey, webhookAuthToken: authToken }]).ctx), { ok: true });
    const both = ctxWith([{ accountSid, authToken: 'stale-token' }, apiKey, { accountSid, authToken }]).ctx;
    assert.deepEqual(await source.verify(requestOf(hook), both), { ok: true });
  });

  test('a body that is not a Twilio form is rejected, not thrown', async () => {
    for (const body of ['', '{"MessageSid":"x"}', 'To=whatsapp%3A%2B14155238886', randomBytes(64).toString('latin1')]) {
      await rejected(requestOf(hook, { body: Buffer.from(body, 'latin1') }));
    }
  });
});

// ---- parse robustness ----

describe('parse', () => {
  test('malformed bodies throw MalformedWebhookError', async () => {
    const hook = await customerWrites({ customerId: '+15557654321', text: 'shape' });
    const cases: Array<string | Buffer> = [
      '', '{"MessageSid":"SM1"}', '<Response/>', 'garbage', randomBytes(200),
      replaceParam(hook.body, 'MessageSid', null).toString().replace(/SmsSid=[^&]*/, '').replace(/SmsMessageSid=[^&]*/, ''),
      replaceParam(hook.body, 'MessageSid', 'SM123'),
      replaceParam(hook.body, 'AccountSid', null), replaceParam(hook.body, 'AccountSid', 'ACnope'),
      replaceParam(hook.body, 'From', null), replaceParam(hook.body, 'To', ''), replaceParam(hook.body, 'From', ' ( ) '),
    ];
    for (const body of cases) {
      assert.throws(() => source.parse(requestOf(hook, { body: Buffer.isBuffer(body) ? body : Buffer.from(body) })), MalformedWebhookError, String(body).slice(0, 80));
    }
  });

  test('fuzz: mutated real deliveries never throw anything but MalformedWebhookError; verify never throws', async () => {
    const samples = hooks.received.filter((h) => h.body.includes('MessageSid'));
    assert.ok(samples.length >= 5);
    const { ctx } = ctxWith();
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const mutate = (body: string): Buffer => {
      const bytes = Buffer.from(body);
      switch (rand(6)) {
        case 0: for (let i = 0; i < 1 + rand(8); i++) bytes[rand(bytes.length)] = rand(256); return bytes;
        case 1: return bytes.subarray(0, rand(bytes.length));
        case 2: return Buffer.from(body.split('&').filter(() => rand(3) > 0).join('&'));
        case 3: return Buffer.from(`${body}&${body.split('&')[rand(12)]}=${'%'.repeat(rand(3))}${randomBytes(rand(20)).toString('latin1')}`);
        case 4: return Buffer.from(body.replace(/=[^&]*/g, (v) => (rand(4) === 0 ? `=${['', '%', '%zz', '__proto__', 'constructor', 'whatsapp:', 'NaN', '-1', '9'.repeat(30), 'read', 'received'][rand(11)]}` : v)));
        default: return Buffer.from(body.replace(/(^|&)[^=&]*/g, (k) => (rand(5) === 0 ? `${k.startsWith('&') ? '&' : ''}${['__proto__', 'constructor', 'MediaUrl0', 'NumMedia', 'Latitude', 'MessageStatus'][rand(6)]}` : k)));
      }
    };
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const hook = samples[rand(samples.length)]!;
      const req = requestOf(hook, { body: mutate(hook.body) });
      try {
        const { events } = source.parse(req);
        accepted++;
        for (const e of events) {
          assert.ok(e.key.startsWith('whatsapp_twilio:') && Number.isFinite(e.timestamp));
          if (e.kind === 'status') assert.ok(['sent', 'delivered', 'read', 'failed'].includes(e.status), String(e.status));
          if (e.kind === 'message') assert.ok(typeof e.message.externalId === 'string' && typeof e.conversation.externalId === 'string');
        }
      } catch (err) {
        if (!(err instanceof MalformedWebhookError)) throw err;
      }
      const verdict = await source.verify(req, ctx);
      assert.equal(typeof verdict.ok, 'boolean');
    }
    assert.ok(accepted > 0, 'some mutations are still well-formed');
  });

  test('the acknowledgement is empty TwiML', () => {
    assert.equal(source.name, 'twilio');
    assert.deepEqual(source.contentTypes, ['application/x-www-form-urlencoded']);
    assert.deepEqual(source.ackBody, { contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' });
  });
});
