// Contract tests of the WhatsApp Cloud API simulator against whatsapp-cloud.md and the WhatsApp
// part of meta-webhooks.md: response and webhook shapes, error codes, windows, limits, media.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { metaJson, metaSignature256 } from '../../sandbox/platforms/whatsapp-cloud';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let sb: Awaited<ReturnType<typeof useSandbox>>;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let token: string;
let phoneId: string;
let wabaId: string;
let appSecret: string;
let graph: string;

before(async () => {
  hooks = await webhookReceiver();
  sb = await useSandbox({ platforms: ['whatsapp'], webhookBaseUrl: hooks.url });
  const world = (await sb.admin('GET', '/world')).json.whatsapp;
  token = world.systemUserToken;
  wabaId = world.wabas[0].id;
  phoneId = world.wabas[0].phoneNumbers[0].id;
  appSecret = (await sb.admin('GET', '/apps')).json.meta.secret;
  graph = `${sb.url}/graph.facebook.com/v25.0`;
});
after(async () => {
  await sb.close();
  await hooks.close();
});

async function call(method: string, path: string, body?: unknown, opts: { token?: string | null; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  const bearer = opts.token === undefined ? token : opts.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let payload: string | undefined = opts.raw;
  if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${graph}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let json: Json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

const sendText = (to: string, text = 'Hola Ana') => call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { preview_url: false, body: text } });
const sendTemplate = (to: string, template: Json) => call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to, type: 'template', template });
const orderUpdate = (params: string[] = ['Ana', '#1042']) => ({
  name: 'order_update', language: { code: 'es_MX' },
  components: [
    { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/box.jpg' } }] },
    { type: 'body', parameters: params.map((text) => ({ type: 'text', text })) },
    { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'TRACK_1042' }] },
  ],
});

const value = (w: ReceivedWebhook): Json => JSON.parse(w.body).entry[0].changes[0].value;

/** Status webhooks for one wamid, in arrival order, once `count` have arrived. */
async function statusesOf(wamid: string, count: number): Promise<Array<{ status: Json; hook: ReceivedWebhook }>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = hooks.received.filter((w) => value(w).statuses?.[0]?.id === wamid).map((hook) => ({ status: value(hook).statuses[0], hook }));
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} statuses for ${wamid}, got ${found.map((f) => f.status.status).join(',')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function inboundFrom(customerId: string, extra: Json = {}) {
  const before = hooks.received.length;
  const res = await sb.admin('POST', '/customers/whatsapp/messages', { customerId, ...extra });
  assert.equal(res.status, 201);
  const [hook] = (await hooks.waitFor(before + 1)).slice(before).filter((w) => value(w).messages?.[0]?.id === res.json.messageId);
  assert.ok(hook, 'inbound webhook delivered');
  return { ...res.json as { messageId: string; customerId: string }, hook: hook! };
}

function assertGraphError(res: { status: number; json: Json }, status: number, code: number) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.code, code, JSON.stringify(res.json));
  assert.equal(typeof res.json.error.message, 'string');
  assert.equal(typeof res.json.error.type, 'string');
  assert.match(res.json.error.fbtrace_id, /^[A-Za-z0-9_-]{8,}$/);
}

describe('send and status webhooks', () => {
  test('text inside the window → 200 with contacts + wamid, then sent → delivered → read, signed over the exact bytes', async () => {
    const res = await sendText('+52 1 55 1234 5678');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.json), ['messaging_product', 'contacts', 'messages']);
    assert.equal(res.json.messaging_product, 'whatsapp');
    assert.deepEqual(res.json.contacts, [{ input: '+52 1 55 1234 5678', wa_id: '5215512345678' }]);
    assert.match(res.json.messages[0].id, /^wamid\.HBg[A-Za-z0-9+/=]+$/);

    const statuses = await statusesOf(res.json.messages[0].id, 3);
    assert.deepEqual(statuses.map((s) => s.status.status), ['sent', 'delivered', 'read']);
    for (const { status, hook } of statuses) {
      const body = JSON.parse(hook.body);
      assert.equal(body.object, 'whatsapp_business_account');
      assert.equal(body.entry[0].id, wabaId);
      assert.equal(body.entry[0].changes[0].field, 'messages');
      assert.deepEqual(value(hook).metadata, { display_phone_number: '15550783881', phone_number_id: phoneId });
      assert.equal(value(hook).messages, undefined);
      assert.match(status.timestamp, /^\d{10}$/);
      assert.equal(status.recipient_id, '5215512345678');
      assert.equal(hook.headers['content-type'], 'application/json');
      const expected = `sha256=${createHmac('sha256', appSecret).update(Buffer.from(hook.body, 'utf8')).digest('hex')}`;
      assert.equal(hook.headers['x-hub-signature-256'], expected);
      assert.equal(hook.url, '/whatsapp');
    }
    assert.deepEqual(statuses[0]!.status.pricing, { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' });
  });

  test('media by link, interactive buttons, reaction and quoted reply are accepted', async () => {
    const to = '5215512345678';
    const bodies = [
      { type: 'image', image: { link: 'https://example.com/p.jpg', caption: 'Blue one' } },
      { type: 'document', document: { link: 'https://example.com/invoice.pdf', filename: 'invoice.pdf' } },
      { type: 'interactive', interactive: { type: 'button', body: { text: 'Which size?' }, action: { buttons: [{ type: 'reply', reply: { id: 'S', title: 'Small' } }, { type: 'reply', reply: { id: 'M', title: 'Medium' } }] } } },
      { type: 'text', text: { body: 'Quoted' }, context: { message_id: 'wamid.prev' } },
    ];
    for (const b of bodies) {
      const res = await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to, ...b });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.match(res.json.messages[0].id, /^wamid\./);
    }
  });

  test('bad input gets Graph errors with 400, never 500', async () => {
    assertGraphError(await call('POST', `/${phoneId}/messages`, undefined, { raw: 'not json', headers: { 'content-type': 'application/json' } }), 400, 100);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { to: '15551234567', type: 'text', text: { body: 'x' } }), 400, 100);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }), 400, 100);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: 'not-a-number', type: 'text', text: { body: 'x' } }), 400, 131009);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'hologram' }), 400, 100);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: {} }), 400, 131008);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'x'.repeat(4097) } }), 400, 131009);
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'image', image: {} }), 400, 100);
    const tooMany = { type: 'button', body: { text: 'Pick' }, action: { buttons: ['a', 'b', 'c', 'd'].map((id) => ({ type: 'reply', reply: { id, title: id } })) } };
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'interactive', interactive: tooMany }), 400, 131009);
  });

  test('error body carries error_data.details for WhatsApp codes', async () => {
    const res = await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: {} });
    assert.equal(res.json.error.error_data.messaging_product, 'whatsapp');
    assert.equal(typeof res.json.error.error_data.details, 'string');
    assert.match(res.json.error.message, /^\(#131008\) /);
  });

  test('a number not on WhatsApp is accepted, then fails with 131026', async () => {
    const res = await sendTemplate('15550000000', { name: 'hello_world', language: { code: 'en_US' } });
    assert.equal(res.status, 200);
    const [failed] = await statusesOf(res.json.messages[0].id, 1);
    assert.equal(failed!.status.status, 'failed');
    assert.equal(failed!.status.errors[0].code, 131026);
  });
});

describe('templates', () => {
  test('a template send answers message_status accepted and bills by category', async () => {
    const res = await sendTemplate('447700900123', orderUpdate());
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json.messages[0], { id: res.json.messages[0].id, message_status: 'accepted' });
    const statuses = await statusesOf(res.json.messages[0].id, 3);
    assert.deepEqual(statuses.map((s) => s.status.status), ['sent', 'delivered', 'read']);
    assert.deepEqual(statuses[0]!.status.pricing, { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' });
  });

  test('wrong name or language → 132001, wrong parameter count → 132000, paused → 132015, bad format → 132012', async () => {
    const to = '15559876543';
    const wrongName = await sendTemplate(to, { ...orderUpdate(), name: 'order_updte' });
    assertGraphError(wrongName, 404, 132001);
    assert.equal(wrongName.json.error.error_data.details, 'template name (order_updte) does not exist in es_MX');
    assertGraphError(await sendTemplate(to, { ...orderUpdate(), language: { code: 'en_US' } }), 404, 132001);
    const wrongCount = await sendTemplate(to, orderUpdate(['Ana']));
    assertGraphError(wrongCount, 400, 132000);
    assert.match(wrongCount.json.error.error_data.details, /body: number of localizable_params \(1\) does not match the expected number of params \(2\)/);
    assertGraphError(await sendTemplate(to, { name: 'order_update', language: { code: 'es_MX' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] }), 400, 132000);
    assertGraphError(await sendTemplate(to, { name: 'spring_sale', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }] }), 400, 132015);
    assertGraphError(await sendTemplate(to, { name: 'verification_code', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: '123456' }] }] }), 400, 132000);
    assertGraphError(await sendTemplate(to, orderUpdate(['Ana', ' '])), 400, 132012);
    assertGraphError(await sendTemplate(to, { language: { code: 'en_US' } }), 400, 131008);
  });

  test('templates are listed on the WABA', async () => {
    const res = await call('GET', `/${wabaId}/message_templates`);
    assert.equal(res.status, 200);
    const names = res.json.data.map((t: Json) => `${t.name}/${t.language}/${t.status}`);
    assert.ok(names.includes('order_update/es_MX/APPROVED'));
    assert.ok(names.includes('spring_sale/en_US/PAUSED'));
    assert.ok(res.json.paging.cursors);
  });
});

describe('customer-service window', () => {
  test('free-form outside the window is accepted then fails with 131047; a template goes through', async () => {
    // This customer has never written to the business number.
    const res = await sendText('447700900123', 'Are you still there?');
    assert.equal(res.status, 200);
    const [failed] = await statusesOf(res.json.messages[0].id, 1);
    assert.equal(failed!.status.status, 'failed');
    assert.deepEqual(failed!.status.errors, [{
      code: 131047, title: 'Re-engagement message', message: 'Re-engagement message',
      error_data: { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
      href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
    }]);
    assert.equal(failed!.status.pricing, undefined);
  });

  test('an inbound message opens the window; advancing the clock 24 h closes it', async () => {
    const customer = '34612345678';
    await inboundFrom(customer, { text: 'Hola' });
    const inside = await sendText(customer, 'Hi!');
    assert.deepEqual((await statusesOf(inside.json.messages[0].id, 3)).map((s) => s.status.status), ['sent', 'delivered', 'read']);

    assert.equal((await sb.admin('POST', '/clock', { advanceSeconds: 24 * 3600 + 1 })).status, 200);
    const outside = await sendText(customer, 'Still there?');
    assert.equal(outside.status, 200);
    const [failed] = await statusesOf(outside.json.messages[0].id, 1);
    assert.equal(failed!.status.errors[0].code, 131047);

    const template = await sendTemplate(customer, { name: 'hello_world', language: { code: 'en_US' } });
    assert.equal(template.status, 200);
    assert.deepEqual((await statusesOf(template.json.messages[0].id, 3)).map((s) => s.status.status), ['sent', 'delivered', 'read']);
  });
});

describe('inbound webhooks', () => {
  test('a customer text arrives as value.messages[] + contacts[] with 2026 user ids, ASCII-escaped and signed', async () => {
    const text = '¿Tienen la talla M? 👍 https://shop.example/x';
    const { hook, messageId, customerId } = await inboundFrom('15557654321', { text });
    assert.equal(customerId, '15557654321');
    const v = value(hook);
    assert.deepEqual(Object.keys(v), ['messaging_product', 'metadata', 'contacts', 'messages']);
    assert.equal(v.metadata.phone_number_id, phoneId);
    assert.equal(v.contacts[0].wa_id, '15557654321');
    assert.equal(typeof v.contacts[0].profile.name, 'string');
    assert.match(v.contacts[0].user_id, /^[A-Z]{2}\.\d+$/);
    const m = v.messages[0];
    assert.equal(m.id, messageId);
    assert.equal(m.from, '15557654321');
    assert.equal(m.from_user_id, v.contacts[0].user_id);
    assert.equal(m.type, 'text');
    assert.equal(m.text.body, text);
    assert.match(m.timestamp, /^\d{10}$/);
    assert.ok(Math.abs(Number(m.timestamp) - Date.now() / 1000) > 24 * 3600 - 5, 'sandbox clock (advanced) is used');
    // The exact bytes: only ASCII, non-ASCII as \uXXXX, slashes escaped.
    assert.match(hook.body, /^[\x20-\x7e]*$/);
    assert.ok(hook.body.includes('\\u00bfTienen'));
    assert.ok(hook.body.includes('\\ud83d\\udc4d'));
    assert.ok(hook.body.includes('https:\\/\\/shop.example\\/x'));
    assert.equal(hook.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', appSecret).update(hook.body).digest('hex')}`);
    // A re-serialized body hashes differently, which is why receivers must use the raw bytes.
    assert.notEqual(createHmac('sha256', appSecret).update(JSON.stringify(JSON.parse(hook.body))).digest('hex'), hook.headers['x-hub-signature-256']!.toString().slice(7));
  });

  test('known vector: escaping and X-Hub-Signature-256', () => {
    const body = metaJson({ object: 'whatsapp_business_account', entry: [{ id: '102290129340398', changes: [{ value: { messaging_product: 'whatsapp', messages: [{ text: { body: 'Grüße / 👍' } }] }, field: 'messages' }] }] });
    assert.equal(body, '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","messages":[{"text":{"body":"Gr\\u00fc\\u00dfe \\/ \\ud83d\\udc4d"}}]},"field":"messages"}]}]}');
    assert.equal(metaSignature256('sandbox-meta-app-secret', body), 'sha256=5ca7f73eed397ac14620ac33e15c0c30b96b290710385a161e1f4eb8ec5c818e');
  });

  test('a customer photo arrives with a media id the business can fetch', async () => {
    const { hook } = await inboundFrom('15557654321', { media: true, text: 'this one' });
    const m = value(hook).messages[0];
    assert.equal(m.type, 'image');
    assert.equal(m.image.caption, 'this one');
    assert.match(m.image.id, /^\d{15,16}$/);
    assert.equal(typeof m.image.mime_type, 'string');
    const meta = await call('GET', `/${m.image.id}`);
    assert.equal(meta.status, 200);
    const file = await fetch(meta.json.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(file.status, 200);
    assert.equal(Buffer.from(m.image.sha256, 'base64').toString('hex'), meta.json.sha256);
  });

  test('mark as read: {success:true} for a received message, 100 for an unknown one', async () => {
    const { messageId } = await inboundFrom('15557654321', { text: 'read me' });
    const ok = await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', status: 'read', message_id: messageId });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { success: true });
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.unknown' }), 400, 100);
  });
});

describe('media', () => {
  const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x80, 0xfe]);

  async function upload(type = 'image/jpeg', data: Buffer = bytes, product = 'whatsapp') {
    const form = new FormData();
    form.set('messaging_product', product);
    form.set('type', type);
    form.set('file', new Blob([new Uint8Array(data)], { type }), 'photo.jpg');
    const res = await fetch(`${graph}/${phoneId}/media`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    return { status: res.status, json: await res.json() as Json };
  }

  test('upload → id; GET id → expiring URL; download with Bearer gives the exact bytes; expired URL → error', async () => {
    const up = await upload();
    assert.equal(up.status, 200);
    assert.deepEqual(Object.keys(up.json), ['id']);
    assert.match(up.json.id, /^\d{15,16}$/);

    const meta = await call('GET', `/${up.json.id}?phone_number_id=${phoneId}`);
    assert.equal(meta.status, 200);
    assert.deepEqual(Object.keys(meta.json).sort(), ['file_size', 'id', 'messaging_product', 'mime_type', 'sha256', 'url']);
    assert.equal(meta.json.messaging_product, 'whatsapp');
    assert.equal(meta.json.mime_type, 'image/jpeg');
    assert.equal(meta.json.file_size, String(bytes.length));
    assert.equal(meta.json.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(meta.json.id, up.json.id);

    assert.equal((await fetch(meta.json.url)).status, 401);
    const file = await fetch(meta.json.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), bytes);

    await sb.admin('POST', '/clock', { advanceSeconds: 301 });
    const expired = await fetch(meta.json.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(expired.status, 404);
    const fresh = await call('GET', `/${up.json.id}`);
    assert.equal((await fetch(fresh.json.url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  test('send by uploaded media id is delivered; an unknown id fails with 131053', async () => {
    const up = await upload();
    const res = await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15557654321', type: 'image', image: { id: up.json.id } });
    assert.equal(res.status, 200);
    assert.deepEqual((await statusesOf(res.json.messages[0].id, 3)).map((s) => s.status.status), ['sent', 'delivered', 'read']);
    const bad = await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15557654321', type: 'image', image: { id: '1234567890123456' } });
    assert.equal(bad.status, 200);
    const [failed] = await statusesOf(bad.json.messages[0].id, 1);
    assert.equal(failed!.status.errors[0].code, 131053);
  });

  test('unsupported type → 131053; missing messaging_product → 100; delete → success, then gone', async () => {
    assertGraphError(await upload('application/x-msdownload'), 400, 131053);
    const noProduct = await fetch(`${graph}/${phoneId}/media`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: (() => { const f = new FormData(); f.set('file', new Blob(['x'], { type: 'text/plain' })); return f; })() });
    assertGraphError({ status: noProduct.status, json: await noProduct.json() }, 400, 100);
    const up = await upload();
    const del = await call('DELETE', `/${up.json.id}`);
    assert.deepEqual(del.json, { success: true });
    const gone = await call('GET', `/${up.json.id}`);
    assertGraphError(gone, 400, 100);
    assert.equal(gone.json.error.error_subcode, 33);
  });
});

describe('rate limits', () => {
  test('pair rate limit: a burst to one user ends in 131056 with Retry-After', async () => {
    const to = '4915123456789';
    let limited: Awaited<ReturnType<typeof sendText>> | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      const res = await sendTemplate(to, { name: 'hello_world', language: { code: 'en_US' } });
      if (res.status !== 200) limited = res;
    }
    assert.ok(limited, 'expected a pair rate limit');
    assertGraphError(limited, 400, 131056);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 6, `Retry-After ${retryAfter}`);
    // Another user is not affected.
    assert.equal((await sendTemplate('919812345678', { name: 'hello_world', language: { code: 'en_US' } })).status, 200);
    // After waiting, the pair may send again.
    await sb.admin('POST', '/clock', { advanceSeconds: retryAfter });
    assert.equal((await sendTemplate(to, { name: 'hello_world', language: { code: 'en_US' } })).status, 200);
  });

  test('throughput: a burst above 80 msg/s per number gets 130429 with Retry-After', async () => {
    const results = await Promise.all(Array.from({ length: 140 }, (_, i) => sendTemplate(`1444555${String(i).padStart(4, '0')}1`, { name: 'hello_world', language: { code: 'en_US' } })));
    const limited = results.filter((r) => r.status !== 200);
    assert.ok(limited.length > 0, 'some sends are throttled');
    assert.ok(results.filter((r) => r.status === 200).length >= 80);
    for (const r of limited) {
      assertGraphError(r, 400, 130429);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    await sb.admin('POST', '/clock', { advanceSeconds: 2 }); // refill for the tests after this one
  });

  test('injected faults render as Graph errors: rate limit 130429 + Retry-After, 503 → 131016, 500 → 131000', async () => {
    assert.equal((await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 })).status, 201);
    const limited = await sendTemplate('15551234567', { name: 'hello_world', language: { code: 'en_US' } });
    assertGraphError(limited, 400, 130429);
    assert.equal(limited.headers.get('retry-after'), '7');

    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', errorRate: 1, errorStatus: 503, remaining: 1 });
    assertGraphError(await sendTemplate('15551234567', { name: 'hello_world', language: { code: 'en_US' } }), 503, 131016);
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'send', errorRate: 1, errorStatus: 500, remaining: 1 });
    assertGraphError(await sendTemplate('15551234567', { name: 'hello_world', language: { code: 'en_US' } }), 500, 131000);
    assert.equal((await sendTemplate('15551234567', { name: 'hello_world', language: { code: 'en_US' } })).status, 200);
  });
});

describe('routing and auth', () => {
  test('ids the module does not own fall through; any vNN.0 works', async () => {
    const foreign = await call('POST', '/123456789/messages', { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'x' } });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.json.error.type, 'SandboxNotFound');
    const old = await fetch(`${sb.url}/graph.facebook.com/v19.0/${phoneId}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(old.status, 200);
    assert.equal(((await old.json()) as Json).id, phoneId);
    assert.equal((await fetch(`${sb.url}/graph.facebook.com/v19/${phoneId}`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
  });

  test('missing or unknown token → 401; revoked → 190 until restored; expired → 190/463', async () => {
    assertGraphError(await call('POST', `/${phoneId}/messages`, { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'x' } }, { token: null }), 401, 104);
    assertGraphError(await call('GET', `/${phoneId}`, undefined, { token: 'EAAGnotatoken' }), 401, 190);

    assert.equal((await sb.admin('POST', '/tokens/revoke', { platform: 'whatsapp' })).json.revoked, 1);
    const revoked = await sendTemplate('15551234567', { name: 'hello_world', language: { code: 'en_US' } });
    assertGraphError(revoked, 401, 190);
    assert.equal(revoked.json.error.error_subcode, 460);
    assert.match(revoked.headers.get('www-authenticate') ?? '', /^OAuth "Facebook Platform" "invalid_token"/);
    await sb.admin('POST', '/tokens/restore', { platform: 'whatsapp' });
    assert.equal((await call('GET', `/${phoneId}`)).status, 200);

    await sb.admin('POST', '/tokens/expire', { platform: 'whatsapp' });
    const expired = await call('GET', `/${phoneId}`);
    assertGraphError(expired, 401, 190);
    assert.equal(expired.json.error.error_subcode, 463);
  });
});
