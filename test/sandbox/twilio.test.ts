// Contract tests of the Twilio WhatsApp simulator against twilio-whatsapp.md: Messages resource
// shapes, Basic auth, errors, the 24 h window (63016), signed status callbacks and inbound webhooks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHmac } from 'node:crypto';
import twilio from 'twilio';
import { twilioSignature } from '../../sandbox/platforms/twilio';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Validate = (authToken: string, signature: string, url: string, params: Record<string, string | string[]>) => boolean;

// The official SDK's validator: the simulator's signatures must pass the check real apps use.
const { validateRequest } = twilio as unknown as { validateRequest: Validate };

let sb: Awaited<ReturnType<typeof useSandbox>>;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let accountSid: string;
let authToken: string;
let world: Json;
let api: string;
const SENDER = 'whatsapp:+14155238886';
const OPEN_CUSTOMER = 'whatsapp:+5215512345678'; // wrote an hour ago
const CLOSED_CUSTOMER = 'whatsapp:+15551234567'; // wrote more than a day ago

before(async () => {
  hooks = await webhookReceiver();
  sb = await useSandbox({ platforms: ['twilio'], webhookBaseUrl: hooks.url });
  world = (await sb.admin('GET', '/world')).json.twilio;
  accountSid = world.accountSid;
  authToken = world.authToken;
  api = `${sb.url}/api.twilio.com/2010-04-01/Accounts/${accountSid}`;
});
after(async () => {
  await sb.close();
  await hooks.close();
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

async function call(method: string, path: string, form?: Array<[string, string]>, auth: string | null = basic(accountSid, authToken), base = api) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(`${base}${path}`, { method, headers, body: form ? new URLSearchParams(form).toString() : undefined });
  const text = await res.text();
  let json: Json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, headers: res.headers };
}
const send = (fields: Record<string, string>) => call('POST', '/Messages.json', Object.entries(fields));

function paramsOf(hook: ReceivedWebhook): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(hook.body)) {
    const prev = params[k];
    params[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return params;
}

function assertSigned(hook: ReceivedWebhook) {
  const url = `${hooks.url}${hook.url}`;
  const signature = String(hook.headers['x-twilio-signature']);
  assert.ok(validateRequest(authToken, signature, url, paramsOf(hook)), `signature valid for ${url}`);
  assert.equal(signature, twilioSignature(authToken, url, paramsOf(hook)));
  assert.ok(!validateRequest('wrong-token', signature, url, paramsOf(hook)));
}

async function callbacksFor(sid: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = hooks.received.filter((h) => paramsOf(h).MessageStatus !== undefined && paramsOf(h).MessageSid === sid);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} callbacks for ${sid}, got ${found.map((h) => paramsOf(h).MessageStatus).join(',')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertTwilioError(res: { status: number; json: Json }, status: number, code: number) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.deepEqual(Object.keys(res.json).sort(), ['code', 'message', 'more_info', 'status']);
  assert.equal(res.json.code, code);
  assert.equal(res.json.status, status);
  assert.equal(res.json.more_info, `https://www.twilio.com/docs/errors/${code}`);
}

const RFC2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

describe('signature', () => {
  test("the notes' test vector", () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    assert.equal(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params), '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    assert.ok(validateRequest('12345', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', 'https://mycompany.com/myapp.php?foo=1&bar=2', params));
  });

  test('repeated params contribute each distinct value, sorted', () => {
    const params = { MediaUrl: ['https://b.example/2', 'https://a.example/1', 'https://a.example/1'], Body: 'x' };
    const sig = twilioSignature('tok', 'https://h.example/hook', params);
    assert.equal(sig, createHmac('sha1', 'tok').update('https://h.example/hookBodyxMediaUrlhttps://a.example/1MediaUrlhttps://b.example/2').digest('base64'));
    assert.ok(validateRequest('tok', sig, 'https://h.example/hook', params));
  });
});

describe('auth', () => {
  test('missing or wrong credentials → 401 20003 with WWW-Authenticate', async () => {
    const none = await call('GET', '/Messages.json', undefined, null);
    assertTwilioError(none, 401, 20003);
    assert.equal(none.json.message, 'Authenticate');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assertTwilioError(await call('GET', '/Messages.json', undefined, basic(accountSid, 'wrong')), 401, 20003);
    const otherAccount = `${sb.url}/api.twilio.com/2010-04-01/Accounts/AC99999999999999999999999999999999`;
    assertTwilioError(await call('GET', '/Messages.json', undefined, basic(accountSid, authToken), otherAccount), 401, 20003);
  });

  test('an API key (SK… + secret) works with the Account SID in the path', async () => {
    const res = await call('GET', '/Messages.json', undefined, basic(world.apiKey.sid, world.apiKey.secret));
    assert.equal(res.status, 200);
    assertTwilioError(await call('GET', '/Messages.json', undefined, basic(world.apiKey.sid, authToken)), 401, 20003);
  });

  test('a revoked Auth Token fails until restored', async () => {
    await sb.admin('POST', '/tokens/revoke', { platform: 'twilio' });
    assertTwilioError(await call('GET', '/Messages.json'), 401, 20003);
    await sb.admin('POST', '/tokens/restore', { platform: 'twilio' });
    assert.equal((await call('GET', '/Messages.json')).status, 200);
  });
});

describe('send and status callbacks', () => {
  test('send → 201 in Twilio JSON; callbacks sent → delivered → read, each validly signed', async () => {
    const callback = `${hooks.url}/callbacks/status?tenant=acme&x=a%20b`;
    const res = await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'Hola Ana ¿qué tal?', StatusCallback: callback });
    assert.equal(res.status, 201);
    const m = res.json;
    assert.deepEqual(Object.keys(m).sort(), ['account_sid', 'api_version', 'body', 'date_created', 'date_sent', 'date_updated', 'direction', 'error_code', 'error_message', 'from', 'messaging_service_sid', 'num_media', 'num_segments', 'price', 'price_unit', 'sid', 'status', 'subresource_uris', 'to', 'uri']);
    assert.match(m.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(m.account_sid, accountSid);
    assert.equal(m.status, 'queued');
    assert.equal(m.direction, 'outbound-api');
    assert.equal(m.from, SENDER);
    assert.equal(m.to, OPEN_CUSTOMER);
    assert.equal(m.body, 'Hola Ana ¿qué tal?');
    assert.equal(m.num_media, '0');
    assert.equal(m.num_segments, '1');
    assert.equal(m.error_code, null);
    assert.equal(m.price, null);
    assert.equal(m.date_sent, null);
    assert.match(m.date_created, RFC2822);
    assert.equal(m.api_version, '2010-04-01');
    assert.equal(m.uri, `/2010-04-01/Accounts/${accountSid}/Messages/${m.sid}.json`);
    assert.equal(m.subresource_uris.media, `/2010-04-01/Accounts/${accountSid}/Messages/${m.sid}/Media.json`);

    const callbacks = await callbacksFor(m.sid, 3);
    assert.deepEqual(callbacks.map((h) => paramsOf(h).MessageStatus), ['sent', 'delivered', 'read']);
    for (const hook of callbacks) {
      assert.equal(hook.url, '/callbacks/status?tenant=acme&x=a%20b');
      assert.match(String(hook.headers['content-type']), /^application\/x-www-form-urlencoded/);
      assertSigned(hook);
      const p = paramsOf(hook);
      assert.equal(p.AccountSid, accountSid);
      assert.equal(p.From, SENDER);
      assert.equal(p.To, OPEN_CUSTOMER);
      assert.equal(p.SmsSid, m.sid);
      assert.equal(p.SmsStatus, p.MessageStatus);
      assert.equal(p.ApiVersion, '2010-04-01');
      assert.equal(p.ChannelPrefix, 'whatsapp');
      assert.equal(p.ErrorCode, undefined);
    }
    assert.equal(paramsOf(callbacks[2]!).EventType, 'READ');

    const fetched = await call('GET', `/Messages/${m.sid}.json`);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.json.status, 'read');
    assert.match(fetched.json.date_sent, RFC2822);
  });

  test('without StatusCallback, callbacks go to the webhook target + /status; a Messaging Service send starts accepted', async () => {
    const res = await send({ MessagingServiceSid: world.messagingServices[0].sid, To: OPEN_CUSTOMER, Body: 'via service' });
    assert.equal(res.status, 201);
    assert.equal(res.json.status, 'accepted');
    assert.equal(res.json.messaging_service_sid, world.messagingServices[0].sid);
    assert.equal(res.json.from, SENDER);
    const callbacks = await callbacksFor(res.json.sid, 3);
    for (const hook of callbacks) {
      assert.equal(hook.url, '/twilio/status');
      assertSigned(hook);
      assert.equal(paramsOf(hook).MessagingServiceSid, world.messagingServices[0].sid);
    }
  });

  test('a number not on WhatsApp: sent, then undelivered with ErrorCode 63003', async () => {
    const tpl = world.contentTemplates.find((t: Json) => t.friendlyName === 'appointment_reminder');
    const res = await send({ From: SENDER, To: 'whatsapp:+15550000000', ContentSid: tpl.sid, ContentVariables: '{"1":"Ana"}' });
    const callbacks = await callbacksFor(res.json.sid, 2);
    assert.deepEqual(callbacks.map((h) => paramsOf(h).MessageStatus), ['sent', 'undelivered']);
    assert.equal(paramsOf(callbacks[1]!).ErrorCode, '63003');
  });

  test('validation errors in Twilio JSON', async () => {
    assertTwilioError(await send({ From: SENDER, Body: 'x' }), 400, 21604);
    assertTwilioError(await send({ To: OPEN_CUSTOMER, Body: 'x' }), 400, 21603);
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER }), 400, 21602);
    const invalid = await send({ From: SENDER, To: 'whatsapp:+12', Body: 'x' });
    assertTwilioError(invalid, 400, 21211);
    assert.equal(invalid.json.message, "The 'To' number whatsapp:+12 is not a valid phone number.");
    assertTwilioError(await send({ From: SENDER, To: '+15551234567', Body: 'x' }), 400, 21910);
    assertTwilioError(await send({ From: 'whatsapp:+15005550006', To: OPEN_CUSTOMER, Body: 'x' }), 400, 63007);
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'x'.repeat(1601) }), 400, 21617);
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER, ContentSid: 'HX00000000000000000000000000000000' }), 400, 21655);
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER, ContentSid: world.contentTemplates[0].sid, ContentVariables: 'not json' }), 400, 21656);
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'x', StatusCallback: 'ftp://nope' }), 400, 21609);
  });
});

describe('24 h window', () => {
  test('free-form to a customer outside the window: 201 queued, then failed with ErrorCode 63016; ContentSid goes through', async () => {
    const res = await send({ From: SENDER, To: CLOSED_CUSTOMER, Body: 'Still there?' });
    assert.equal(res.status, 201);
    assert.equal(res.json.status, 'queued');
    const [failed] = await callbacksFor(res.json.sid, 1);
    const p = paramsOf(failed!);
    assert.equal(p.MessageStatus, 'failed');
    assert.equal(p.ErrorCode, '63016');
    assertSigned(failed!);
    const fetched = await call('GET', `/Messages/${res.json.sid}.json`);
    assert.equal(fetched.json.status, 'failed');
    assert.equal(fetched.json.error_code, 63016);

    const tpl = world.contentTemplates.find((t: Json) => t.friendlyName === 'order_update');
    const templated = await send({ From: SENDER, To: CLOSED_CUSTOMER, ContentSid: tpl.sid, ContentVariables: JSON.stringify({ 1: 'Ana', 2: '#1042' }) });
    assert.equal(templated.status, 201);
    assert.equal(templated.json.body, 'Hola Ana, tu pedido #1042 va en camino.');
    assert.deepEqual((await callbacksFor(templated.json.sid, 3)).map((h) => paramsOf(h).MessageStatus), ['sent', 'delivered', 'read']);
  });

  test('an inbound message opens the window; advancing the clock 24 h closes it', async () => {
    await sb.admin('POST', '/customers/twilio/messages', { customerId: '+34612345678', text: 'Hola' });
    const inside = await send({ From: SENDER, To: 'whatsapp:+34612345678', Body: 'Hi!' });
    assert.deepEqual((await callbacksFor(inside.json.sid, 3)).map((h) => paramsOf(h).MessageStatus), ['sent', 'delivered', 'read']);
    await sb.admin('POST', '/clock', { advanceSeconds: 24 * 3600 + 1 });
    const outside = await send({ From: SENDER, To: 'whatsapp:+34612345678', Body: 'Still there?' });
    const [failed] = await callbacksFor(outside.json.sid, 1);
    assert.equal(paramsOf(failed!).ErrorCode, '63016');
  });
});

describe('inbound webhook', () => {
  test('a customer text is POSTed form-encoded with the documented params, signed', async () => {
    const before = hooks.received.length;
    const res = await sb.admin('POST', '/customers/twilio/messages', { customerId: '+15557654321', text: 'Hola, ¿tienen talla M? 👍' });
    assert.equal(res.status, 201);
    const hook = (await hooks.waitFor(before + 1)).slice(before).find((h) => paramsOf(h).MessageSid === res.json.messageId)!;
    assert.equal(hook.url, '/twilio');
    assertSigned(hook);
    const p = paramsOf(hook);
    assert.match(String(p.MessageSid), /^SM[0-9a-f]{32}$/);
    assert.equal(p.SmsSid, p.MessageSid);
    assert.equal(p.SmsMessageSid, p.MessageSid);
    assert.equal(p.AccountSid, accountSid);
    assert.equal(p.MessagingServiceSid, world.messagingServices[0].sid);
    assert.equal(p.From, 'whatsapp:+15557654321');
    assert.equal(p.To, SENDER);
    assert.equal(p.Body, 'Hola, ¿tienen talla M? 👍');
    assert.equal(p.NumMedia, '0');
    assert.equal(p.WaId, '15557654321');
    assert.equal(typeof p.ProfileName, 'string');
    assert.equal(p.NumSegments, '1');
    assert.equal(p.SmsStatus, 'received');
    assert.equal(p.ApiVersion, '2010-04-01');
    assert.equal(p.MessageType, 'text');

    const listed = await call('GET', `/Messages.json?From=${encodeURIComponent('whatsapp:+15557654321')}`);
    assert.equal(listed.json.messages[0].sid, p.MessageSid);
    assert.equal(listed.json.messages[0].direction, 'inbound');
    assert.equal(listed.json.messages[0].status, 'received');
  });

  test('a customer photo carries MediaUrl0 / MediaContentType0, and the URL serves the file', async () => {
    const before = hooks.received.length;
    const res = await sb.admin('POST', '/customers/twilio/messages', { customerId: '+15557654321', media: true });
    const hook = (await hooks.waitFor(before + 1)).slice(before).find((h) => paramsOf(h).MessageSid === res.json.messageId)!;
    assertSigned(hook);
    const p = paramsOf(hook);
    assert.equal(p.NumMedia, '1');
    assert.equal(p.MediaContentType0, 'image/png');
    assert.equal(p.MessageType, 'image');
    const file = await fetch(String(p.MediaUrl0));
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.ok((await file.arrayBuffer()).byteLength > 0);
  });
});

describe('resource reads', () => {
  test('fetch by sid, 404 20404 for an unknown sid, list with paging', async () => {
    assertTwilioError(await call('GET', '/Messages/SM00000000000000000000000000000000.json'), 404, 20404);
    const page1 = await call('GET', `/Messages.json?To=${encodeURIComponent(OPEN_CUSTOMER)}&PageSize=2`);
    assert.equal(page1.status, 200);
    assert.equal(page1.json.page, 0);
    assert.equal(page1.json.page_size, 2);
    assert.equal(page1.json.messages.length, 2);
    assert.ok(page1.json.messages.every((m: Json) => m.to === OPEN_CUSTOMER));
    assert.match(page1.json.next_page_uri, /^\/2010-04-01\/Accounts\/AC\w+\/Messages\.json\?.*PageToken=PASM/);
    const page2 = await call('GET', page1.json.next_page_uri.replace(/^\/2010-04-01\/Accounts\/\w+/, ''));
    assert.equal(page2.json.page, 1);
    assert.ok(page2.json.messages.length >= 1);
    assert.notEqual(page2.json.messages[0].sid, page1.json.messages[1].sid);
  });
});

describe('faults', () => {
  test('injected rate limit → 429 20429 with Retry-After; 5xx → 20500', async () => {
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 3, remaining: 1 });
    const limited = await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'x' });
    assertTwilioError(limited, 429, 20429);
    assert.equal(limited.headers.get('retry-after'), '3');
    await sb.admin('POST', '/faults', { platform: 'twilio', endpoint: 'send', errorRate: 1, remaining: 1 });
    assertTwilioError(await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'x' }), 500, 20500);
    assert.equal((await send({ From: SENDER, To: OPEN_CUSTOMER, Body: 'x' })).status, 201);
  });
});
