// The `whatsapp` webhook source (WhatsApp Cloud API) against real sandbox deliveries: customer
// messages and the sent → delivered → read / failed statuses of business sends, exactly as the
// sandbox signs and posts them. Message types the sandbox does not emit are built with its own
// serializer and signer. Also: signature failures, malformed bodies, redelivery keys, batching,
// username-only users (2026 BSUIDs) and the GET handshake.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { whatsappWebhookSource } from '../../api/webhooks/sources/whatsapp';
import { MalformedWebhookError, type InboxEvent, type MessageEvent, type ParseResult, type VerifyContext, type WebhookRequest, type WebhookSecrets } from '../../api/webhooks/sources/types';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, metaSignature256 } from '../../sandbox/platforms/whatsapp-cloud';
import { useSandbox, webhookReceiver, type ReceivedWebhook } from '../helpers/sandbox';

const PHONE_ID = '106540352242922';
const WABA = '102290129340398';
const OPEN_WINDOW_CUSTOMER = '5215512345678';
const CLOSED_WINDOW_CUSTOMER = '15551234567';
const META_SECRET = DEFAULT_APPS.meta!.secret;
const VERIFY_TOKEN = DEFAULT_APPS.meta!.extra.verifyToken!;

const SECRETS: WebhookSecrets = { metaAppSecrets: [DEFAULT_APPS.instagram!.secret, META_SECRET], metaVerifyToken: VERIFY_TOKEN, tiktokClientSecret: 'unused', gmailPushToken: 'unused' };
const ctxWith = (secrets: Partial<WebhookSecrets> = {}): VerifyContext => ({ secrets: { ...SECRETS, ...secrets }, channelCredentials: async () => [] });
const CTX = ctxWith();
const ACCOUNT = { platforms: ['whatsapp_cloud'], accountId: PHONE_ID };

function requestOf(d: ReceivedWebhook, base = 'https://switchboard.example'): WebhookRequest {
  const url = new URL(d.url, base);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { body: Buffer.from(d.body, 'utf8'), headers, url: url.toString(), query: Object.fromEntries(url.searchParams), receivedAt: d.at };
}

function signed(payload: unknown, secret = META_SECRET): WebhookRequest {
  const body = metaJson(payload);
  return {
    body: Buffer.from(body, 'utf8'),
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature256(secret, body) },
    url: 'https://switchboard.example/webhooks/whatsapp', query: {}, receivedAt: Date.now(),
  };
}

/** One `messages` change for our number, as the Cloud API wraps it. */
const wabaBody = (value: Record<string, unknown>, extraChanges: unknown[] = []) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: WABA, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_ID }, ...value } }, ...extraChanges] }],
});

async function verifiedParse(req: WebhookRequest, ctx = CTX): Promise<ParseResult> {
  assert.deepEqual(await whatsappWebhookSource.verify(req, ctx), { ok: true });
  return whatsappWebhookSource.parse(req);
}

const ofKind = <K extends InboxEvent['kind']>(events: InboxEvent[], kind: K) => events.filter((e): e is Extract<InboxEvent, { kind: K }> => e.kind === kind);
const only = <T>(list: T[]): T => { assert.equal(list.length, 1, JSON.stringify(list)); return list[0]!; };

describe('whatsapp webhook source', () => {
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let token: string;

  before(async () => {
    receiver = await webhookReceiver();
    sb = await useSandbox({ webhookBaseUrl: receiver.url, platforms: ['whatsapp'] });
    token = (await sb.admin('GET', '/world')).json.whatsapp.systemUserToken;
  });
  after(async () => {
    await sb.close();
    await receiver.close();
  });

  async function deliveries<T>(count: number, action: () => Promise<T>): Promise<{ result: T; got: ReceivedWebhook[] }> {
    const from = receiver.received.length;
    const result = await action();
    const deadline = Date.now() + 10_000;
    const mine = () => receiver.received.slice(from).filter((d) => d.url.startsWith('/whatsapp'));
    for (;;) {
      if (mine().length >= count) {
        await new Promise((r) => setTimeout(r, 150));
        return { result, got: mine() };
      }
      if (Date.now() > deadline) throw new Error(`expected ${count} deliveries to /whatsapp, got ${mine().length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function customerWrites(input: { customerId?: string; text?: string; media?: boolean }) {
    const { result, got } = await deliveries(1, async () => {
      const res = await sb.admin('POST', '/customers/whatsapp/messages', { accountId: PHONE_ID, ...input });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      return res.json as { messageId: string; accountId: string; customerId: string };
    });
    assert.equal(got.length, 1);
    return { ...result, delivery: got[0]! };
  }

  async function send(to: string, expected: number, body: Record<string, unknown> = { type: 'text', text: { body: 'Hola 👋' } }) {
    const { result, got } = await deliveries(expected, async () => {
      const res = await fetch(`${sb.url}/graph.facebook.com/v25.0/${PHONE_ID}/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to, ...body }),
      });
      const json = await res.json() as { messages: { id: string }[] };
      assert.equal(res.status, 200, JSON.stringify(json));
      return json.messages[0]!.id;
    });
    assert.equal(got.length, expected);
    const events = (await Promise.all(got.map((d) => verifiedParse(requestOf(d))))).flatMap((r) => r.events);
    return { wamid: result, events };
  }

  describe('deliveries from the sandbox', () => {
    test('a customer text: ASCII-escaped body, verified over the raw bytes, wa_id as thread and participant', async () => {
      const text = 'Hola, ¿mi pedido ya salió? Grüße ä / 👍';
      const w = await customerWrites({ customerId: OPEN_WINDOW_CUSTOMER, text });
      const raw = w.delivery.body;
      assert.match(raw, /^[\x20-\x7e]*$/);
      assert.ok(raw.includes('\\u00e4') && raw.includes('\\/') && raw.includes('\\ud83d\\udc4d'), raw);

      const r = await verifiedParse(requestOf(w.delivery));
      assert.deepEqual(r.ignored, []);
      const e = only(r.events) as MessageEvent;
      assert.equal(e.kind, 'message');
      assert.equal(e.key, `whatsapp_cloud:message:${w.messageId}`);
      assert.deepEqual(e.account, ACCOUNT);
      assert.deepEqual(e.conversation, { externalId: OPEN_WINDOW_CUSTOMER, participant: { externalId: OPEN_WINDOW_CUSTOMER, handle: `+${OPEN_WINDOW_CUSTOMER}`, name: 'Ana García' } });
      assert.deepEqual(e.message.sender, { externalId: OPEN_WINDOW_CUSTOMER, name: 'Ana García' });
      assert.equal(e.message.direction, 'inbound');
      assert.equal(e.message.externalId, w.messageId);
      assert.equal(e.message.text, text);
      // Seconds-as-string on the wire, ms here.
      assert.equal(e.timestamp % 1000, 0);
      assert.ok(Math.abs(e.timestamp - Date.now()) < 60_000);
    });

    test('a customer photo: image attachment with media id, MIME type and caption', async () => {
      const w = await customerWrites({ customerId: OPEN_WINDOW_CUSTOMER, media: true, text: 'esta foto' });
      const e = only((await verifiedParse(requestOf(w.delivery))).events) as MessageEvent;
      assert.equal(e.message.text, 'esta foto');
      const a = only(e.message.attachments ?? []);
      assert.equal(a.type, 'image');
      assert.equal(a.mimeType, 'image/png');
      assert.match(a.platformMediaId!, /^\d{16}$/);
      // The media id the webhook names is the one GET /{media-id} resolves.
      const res = await fetch(`${sb.url}/graph.facebook.com/v25.0/${a.platformMediaId}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
    });

    test('a send inside the window: sent, delivered, read statuses keyed by wamid and status', async () => {
      const { wamid, events } = await send(OPEN_WINDOW_CUSTOMER, 3);
      const statuses = ofKind(events, 'status').sort((a, b) => ['sent', 'delivered', 'read'].indexOf(a.status) - ['sent', 'delivered', 'read'].indexOf(b.status));
      assert.equal(statuses.length, 3);
      assert.deepEqual(statuses.map((s) => [s.key, s.messageExternalId, s.status, s.error]), [
        [`whatsapp_cloud:status:${wamid}:sent`, wamid, 'sent', undefined],
        [`whatsapp_cloud:status:${wamid}:delivered`, wamid, 'delivered', undefined],
        [`whatsapp_cloud:status:${wamid}:read`, wamid, 'read', undefined],
      ]);
      for (const s of statuses) assert.deepEqual(s.account, ACCOUNT);
    });

    test('a free-form send outside the window fails with 131047, to a non-WhatsApp number with 131026', async () => {
      const late = await send(CLOSED_WINDOW_CUSTOMER, 1);
      const failed = only(ofKind(late.events, 'status'));
      assert.equal(failed.key, `whatsapp_cloud:status:${late.wamid}:failed`);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, '131047');
      assert.match(failed.error!.message, /^Re-engagement message: .*24 hours/);

      const nowhere = await send('15550000000', 1);
      const undeliverable = only(ofKind(nowhere.events, 'status'));
      assert.equal(undeliverable.error?.code, '131026');
      assert.match(undeliverable.error!.message, /^Message undeliverable: /);
    });

    test('a redelivered event verifies again and gets the same keys', async () => {
      await sb.admin('PUT', '/webhooks/options/whatsapp', { duplicate: 1 });
      try {
        const { got } = await deliveries(2, () => sb.admin('POST', '/customers/whatsapp/messages', { accountId: PHONE_ID, text: 'twice' }));
        assert.equal(got.length, 2);
        assert.equal(got[0]!.body, got[1]!.body);
        const [a, b] = await Promise.all(got.map((d) => verifiedParse(requestOf(d))));
        assert.deepEqual(a!.events.map((e) => e.key), b!.events.map((e) => e.key));
        assert.deepEqual(a!.events, b!.events);
      } finally {
        await sb.admin('PUT', '/webhooks/options/whatsapp', { duplicate: 0 });
      }
    });

    test('tampered bodies, wrong secrets and missing headers are rejected', async () => {
      const genuine = requestOf((await customerWrites({ customerId: OPEN_WINDOW_CUSTOMER, text: 'firma ñ' })).delivery);
      assert.deepEqual(await whatsappWebhookSource.verify(genuine, CTX), { ok: true });
      const body = Buffer.from(genuine.body);
      body[body.indexOf('firma')] = 'F'.charCodeAt(0);
      const reserialized = Buffer.from(JSON.stringify(JSON.parse(genuine.body.toString('utf8'))));
      const cases: [WebhookRequest, VerifyContext][] = [
        [{ ...genuine, body }, CTX],
        [{ ...genuine, body: reserialized }, CTX],
        [genuine, ctxWith({ metaAppSecrets: ['rotated-secret'] })],
        [genuine, ctxWith({ metaAppSecrets: [] })],
        [{ ...genuine, headers: { 'content-type': 'application/json' } }, CTX],
        [{ ...genuine, headers: { 'x-hub-signature': genuine.headers['x-hub-signature']! } }, CTX],
        [{ ...genuine, headers: { 'x-hub-signature-256': 'sha256=zz' } }, CTX],
      ];
      for (const [req, ctx] of cases) {
        const verdict = await whatsappWebhookSource.verify(req, ctx);
        assert.equal(verdict.ok, false);
        assert.ok(!(verdict as { reason: string }).reason.includes(META_SECRET));
      }
    });
  });

  describe('message types', () => {
    const T = '1785312805';
    const customer = { profile: { name: 'Ana' }, wa_id: OPEN_WINDOW_CUSTOMER, user_id: 'MX.1410018717833190' };
    const msg = (id: string, type: string, content: Record<string, unknown>) => ({ from: OPEN_WINDOW_CUSTOMER, from_user_id: 'MX.1410018717833190', id, timestamp: T, type, ...content });

    test('media, location, contacts, interactive and button replies, orders and unsupported messages', async () => {
      const r = await verifiedParse(signed(wabaBody({ contacts: [customer], messages: [
        msg('wamid.doc', 'document', { document: { filename: 'Factura 04/2026.pdf', mime_type: 'application/pdf', sha256: 'x', id: '1001', caption: 'la factura' } }),
        msg('wamid.audio', 'audio', { audio: { mime_type: 'audio/ogg; codecs=opus', sha256: 'x', id: '1002', voice: true } }),
        msg('wamid.video', 'video', { video: { mime_type: 'video/mp4', sha256: 'x', id: '1003' } }),
        msg('wamid.sticker', 'sticker', { sticker: { mime_type: 'image/webp', sha256: 'x', id: '1004', animated: false } }),
        msg('wamid.loc', 'location', { location: { latitude: 19.4326, longitude: -99.1332, name: 'Zócalo', address: 'Centro, CDMX' } }),
        msg('wamid.contacts', 'contacts', { contacts: [{ name: { formatted_name: 'Luis Pérez', first_name: 'Luis' }, phones: [{ phone: '+52 55 1234 5678', wa_id: '5215512345678', type: 'CELL' }] }] }),
        msg('wamid.btn', 'interactive', { interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Sí, confirmo' } } }),
        msg('wamid.list', 'interactive', { interactive: { type: 'list_reply', list_reply: { id: 'm', title: 'Talla M', description: 'Mediana' } } }),
        msg('wamid.tpl', 'button', { button: { text: 'Track order', payload: 'TRACK_1042' } }),
        msg('wamid.order', 'order', { order: { catalog_id: '1', text: 'please', product_items: [] } }),
        msg('wamid.unsup', 'unsupported', { errors: [{ code: 131051, title: 'Message type unknown' }] }),
      ] })));
      assert.deepEqual(r.ignored, []);
      const byId = new Map(ofKind(r.events, 'message').map((e) => [e.message.externalId, e.message]));
      assert.equal(byId.size, 11);
      assert.deepEqual(byId.get('wamid.doc'), {
        externalId: 'wamid.doc', direction: 'inbound', sender: { externalId: OPEN_WINDOW_CUSTOMER, name: 'Ana' }, timestamp: 1_785_312_805_000,
        text: 'la factura', attachments: [{ type: 'file', mimeType: 'application/pdf', name: 'Factura 04/2026.pdf', platformMediaId: '1001' }],
      });
      assert.deepEqual(byId.get('wamid.audio')!.attachments, [{ type: 'audio', mimeType: 'audio/ogg; codecs=opus', platformMediaId: '1002' }]);
      assert.deepEqual(byId.get('wamid.video')!.attachments, [{ type: 'video', mimeType: 'video/mp4', platformMediaId: '1003' }]);
      assert.deepEqual(byId.get('wamid.sticker')!.attachments, [{ type: 'sticker', mimeType: 'image/webp', platformMediaId: '1004' }]);
      assert.deepEqual(byId.get('wamid.loc')!.attachments, [{ type: 'location', url: 'geo:19.4326,-99.1332', name: 'Zócalo' }]);
      assert.equal(byId.get('wamid.loc')!.text, 'Zócalo\nCentro, CDMX');
      assert.equal(byId.get('wamid.contacts')!.text, 'Luis Pérez: +52 55 1234 5678');
      assert.equal(byId.get('wamid.btn')!.text, 'Sí, confirmo');
      assert.equal(byId.get('wamid.list')!.text, 'Talla M');
      assert.equal(byId.get('wamid.tpl')!.text, 'Track order');
      assert.deepEqual([byId.get('wamid.order')!.text, byId.get('wamid.order')!.attachments], ['please', [{ type: 'other', name: 'order' }]]);
      assert.deepEqual([byId.get('wamid.unsup')!.text, byId.get('wamid.unsup')!.attachments], [undefined, [{ type: 'other', name: 'unsupported' }]]);
      for (const e of r.events) assert.equal(e.key, `whatsapp_cloud:message:${(e as MessageEvent).message.externalId}`);
    });

    test('reactions (added and removed) are reaction events on the reacted message', async () => {
      const r = await verifiedParse(signed(wabaBody({ contacts: [customer], messages: [
        msg('wamid.r1', 'reaction', { reaction: { message_id: 'wamid.ours', emoji: '\u2764\ufe0f' } }),
        msg('wamid.r2', 'reaction', { reaction: { message_id: 'wamid.ours' } }),
        msg('wamid.r3', 'reaction', { reaction: { emoji: 'x' } }),
      ] })));
      const reactions = ofKind(r.events, 'reaction');
      assert.deepEqual(reactions.map((x) => [x.key, x.messageExternalId, x.conversationExternalId, x.senderExternalId, x.emoji]), [
        ['whatsapp_cloud:reaction:wamid.r1', 'wamid.ours', OPEN_WINDOW_CUSTOMER, OPEN_WINDOW_CUSTOMER, '❤️'],
        ['whatsapp_cloud:reaction:wamid.r2', 'wamid.ours', OPEN_WINDOW_CUSTOMER, OPEN_WINDOW_CUSTOMER, null],
      ]);
      assert.deepEqual(r.ignored, ['reaction:no-message-id']);
    });

    test('a username user without a phone number (2026) is addressed by the business-scoped user id', async () => {
      const r = await verifiedParse(signed(wabaBody({
        contacts: [{ profile: { name: 'Bea', username: 'bea.shop' }, user_id: 'US.13491208655302741' }],
        messages: [{ from_user_id: 'US.13491208655302741', id: 'wamid.bsuid', timestamp: T, type: 'text', text: { body: 'hi' } }],
      })));
      const e = only(ofKind(r.events, 'message'));
      assert.deepEqual(e.conversation, { externalId: 'US.13491208655302741', participant: { externalId: 'US.13491208655302741', handle: 'bea.shop', name: 'Bea' } });
      assert.deepEqual(e.message.sender, { externalId: 'US.13491208655302741', name: 'Bea' });
    });

    test('statuses: failed carries code and details; played/deleted and account errors are ignored', async () => {
      const r = await verifiedParse(signed(wabaBody({
        statuses: [
          { id: 'wamid.s1', status: 'failed', timestamp: '1785312900', recipient_id: OPEN_WINDOW_CUSTOMER, errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed.' } }] },
          { id: 'wamid.s2', status: 'delivered', timestamp: '1785312901', recipient_id: OPEN_WINDOW_CUSTOMER, pricing: { billable: true, pricing_model: 'PMP', category: 'service' } },
          { id: 'wamid.s3', status: 'played', timestamp: '1785312902' },
          { id: 'wamid.s4', status: 'failed', timestamp: '1785312903', errors: [{ code: 131026 }] },
        ],
        errors: [{ code: 131000, title: 'Something went wrong' }],
      })));
      const statuses = ofKind(r.events, 'status');
      assert.deepEqual(statuses.map((s) => [s.key, s.status, s.timestamp, s.error]), [
        ['whatsapp_cloud:status:wamid.s1:failed', 'failed', 1_785_312_900_000, { code: '131047', message: 'Re-engagement message: More than 24 hours have passed.' }],
        ['whatsapp_cloud:status:wamid.s2:delivered', 'delivered', 1_785_312_901_000, undefined],
        ['whatsapp_cloud:status:wamid.s4:failed', 'failed', 1_785_312_903_000, { code: '131026', message: 'unknown error' }],
      ]);
      assert.deepEqual(r.ignored, ['status:played', 'errors:131000']);
    });

    test('echoes of replies typed in the WhatsApp Business app are outbound messages in the customer thread', async () => {
      const r = await verifiedParse(signed({ object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'smb_message_echoes', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_ID },
        message_echoes: [{ from: '15550783881', to: OPEN_WINDOW_CUSTOMER, id: 'wamid.echo', timestamp: T, type: 'text', text: { body: 'Ya salió' } }],
      } }] }] }));
      const e = only(ofKind(r.events, 'message'));
      assert.equal(e.key, 'whatsapp_cloud:message:wamid.echo');
      assert.equal(e.message.direction, 'outbound');
      assert.equal(e.conversation.externalId, OPEN_WINDOW_CUSTOMER);
      assert.equal(e.message.text, 'Ya salió');
    });

    test('several entries, changes and messages in one delivery yield all of them', async () => {
      const value = (phone: string, ids: string[]) => ({ messaging_product: 'whatsapp', metadata: { display_phone_number: '1555', phone_number_id: phone },
        contacts: [customer], messages: ids.map((id) => msg(id, 'text', { text: { body: id } })), statuses: [{ id: `${ids[0]}.out`, status: 'sent', timestamp: T }] });
      const r = await verifiedParse(signed({ object: 'whatsapp_business_account', entry: [
        { id: WABA, changes: [{ field: 'messages', value: value(PHONE_ID, ['a1', 'a2', 'a3']) }, { field: 'messages', value: value(PHONE_ID, ['b1', 'b2']) }] },
        { id: '999', changes: [{ field: 'messages', value: value('777777777777777', ['c1', 'c2']) }, { field: 'message_template_status_update', value: { event: 'APPROVED' } }] },
      ] }));
      assert.deepEqual(ofKind(r.events, 'message').map((e) => [e.message.text, e.account.accountId]), [
        ['a1', PHONE_ID], ['a2', PHONE_ID], ['a3', PHONE_ID], ['b1', PHONE_ID], ['b2', PHONE_ID], ['c1', '777777777777777'], ['c2', '777777777777777'],
      ]);
      assert.deepEqual(ofKind(r.events, 'status').map((s) => s.messageExternalId), ['a1.out', 'b1.out', 'c1.out']);
      assert.deepEqual(r.ignored, ['change:message_template_status_update']);
    });

    test('system messages and changes without a phone number id are ignored with a label', async () => {
      const r = await verifiedParse(signed({ object: 'whatsapp_business_account', entry: [
        { id: WABA, changes: [
          { field: 'messages', value: { metadata: { phone_number_id: PHONE_ID }, messages: [msg('wamid.sys', 'system', { system: { body: 'changed number', type: 'user_changed_number' } }), { id: 'wamid.anon', type: 'text', text: { body: 'x' } }, 'junk'] } },
          { field: 'messages', value: { messages: [msg('wamid.nophone', 'text', { text: { body: 'x' } })] } },
          { field: 'messages', value: { metadata: { phone_number_id: PHONE_ID } } },
          { field: 'messages' },
          'junk',
        ] },
        { id: WABA },
        42,
      ] }));
      assert.deepEqual(r.events, []);
      assert.deepEqual(r.ignored, ['message:system', 'message:no-sender', 'message:no-id', 'messages:no-phone-number-id', 'messages:empty', 'messages:no-value', 'change:invalid', 'entry:no-changes', 'entry:invalid']);
    });

    test('malformed bodies throw MalformedWebhookError; a Messenger body is not a WhatsApp one', () => {
      for (const b of ['', 'nope', 'null', '[]', '{}', '{"object":"page","entry":[]}', '{"object":"whatsapp_business_account"}', '{"object":"whatsapp_business_account","entry":"x"}']) {
        assert.throws(() => whatsappWebhookSource.parse({ ...signed({}), body: Buffer.from(b) }), MalformedWebhookError, b);
      }
    });

    test('mutated bodies never throw anything but MalformedWebhookError', () => {
      const sample = wabaBody({ contacts: [customer], messages: [msg('a', 'text', { text: { body: 'x' } }), msg('b', 'image', { image: { id: '1', mime_type: 'image/png' } }), msg('c', 'reaction', { reaction: { message_id: 'a', emoji: 'x' } }), msg('d', 'location', { location: { latitude: 1, longitude: 2 } }), msg('e', 'interactive', { interactive: { type: 'nfm_reply', nfm_reply: { body: 'Sent' } } })], statuses: [{ id: 's', status: 'failed', timestamp: T, errors: [{ code: 1, error_data: { details: 'd' } }] }], errors: [{ code: 2 }] });
      let seed = 11;
      const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const junk = [null, true, 0, -5, 1e308, '', 'x', [], {}, [null], { a: [] }, '\u0000', 2 ** 60, '99999999999999999999'];
      const mutate = (v: unknown): unknown => {
        if (rand() < 0.08) return junk[Math.floor(rand() * junk.length)];
        if (Array.isArray(v)) return v.map(mutate);
        if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [rand() < 0.03 ? `${k}_` : k, mutate(x)]));
        return v;
      };
      let parsed = 0;
      for (let i = 0; i < 1500; i++) {
        const body = Buffer.from(metaJson(mutate(sample)));
        if (i % 5 === 0) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
        try {
          const r = whatsappWebhookSource.parse({ ...signed({}), body });
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

  test('GET handshake echoes the challenge for the right token only', () => {
    const h = whatsappWebhookSource.handshake!;
    assert.deepEqual(h({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '987654' }, SECRETS), { status: 200, body: '987654' });
    assert.equal(h({ 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '987654' }, SECRETS).status, 403);
    assert.equal(h({}, SECRETS).status, 403);
  });
});
