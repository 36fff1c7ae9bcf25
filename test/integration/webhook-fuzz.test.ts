// Thousands of malformed, truncated and mutated webhook bodies — signed correctly, so they reach
// the parsers — against every endpoint of the real API app and database: never a 5xx, never a
// crash, and the API still answers afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { signTikTokWebhook } from '../../sandbox/platforms/tiktok/signature';
import { createTestApi } from '../helpers/api';
import { uniqueName, useTestDatabase } from '../helpers/env';

const ROUNDS = 2000;

// A tiny seeded PRNG: a failure reproduces.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const SAMPLES: Record<string, unknown> = {
  meta: { object: 'page', entry: [{ id: '101000000000001', time: 1785312004871, messaging: [{ sender: { id: '1' }, recipient: { id: '101000000000001' }, timestamp: 1785312004523, message: { mid: 'm_1', text: 'hi', attachments: [{ type: 'image', payload: { url: 'https://x/y.png' } }] } }, { sender: { id: '1' }, recipient: { id: '101000000000001' }, delivery: { mids: ['m_0'], watermark: 1785312100000 } }] }] },
  whatsapp: { object: 'whatsapp_business_account', entry: [{ id: 'WABA', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' }, contacts: [{ profile: { name: 'Ana' }, wa_id: '5215512345678' }], messages: [{ from: '5215512345678', id: 'wamid.1', timestamp: '1785312805', type: 'text', text: { body: 'Hola' } }], statuses: [{ id: 'wamid.0', status: 'failed', timestamp: '1785312900', recipient_id: '5215512345678', errors: [{ code: 131047, title: 'Re-engagement message' }] }] } }] }] },
  tiktok: { event: 'im_receive_msg', client_key: 'sbxtiktokclientkey', create_time: 1785312805, user_openid: 'biz-1', content: JSON.stringify({ conversation_id: 'c1', message_id: 'mm1', timestamp: 1785312805000, type: 'text', text: { body: 'hey' }, from_user: { id: 'u1' }, to_user: { id: 'biz-1' } }) },
  google: { message: { data: Buffer.from(JSON.stringify({ emailAddress: 'shop@example.com', historyId: '12345' })).toString('base64'), messageId: '1', publishTime: '2026-11-22T10:00:00Z' }, subscription: 'projects/p/subscriptions/s' },
};

const WEIRD: unknown[] = [null, true, 0, -1, 1e308, 2 ** 64, '', 'x'.repeat(5000), '\u0000\ud800', [], [[[]]], {}, { $where: '1' }, { __proto__: { polluted: 1 } }, '../../etc/passwd', '1785312004'];

/** The sample with one random value somewhere replaced, removed, or its container swapped. */
function mutate(value: unknown, rand: () => number, depth = 0): unknown {
  if (rand() < 0.15 + depth * 0.1) return WEIRD[Math.floor(rand() * WEIRD.length)];
  if (Array.isArray(value)) {
    if (value.length === 0 || rand() < 0.1) return rand() < 0.5 ? [] : [WEIRD[Math.floor(rand() * WEIRD.length)]];
    const i = Math.floor(rand() * value.length);
    return value.map((v, j) => (j === i ? mutate(v, rand, depth + 1) : v));
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    const k = keys[Math.floor(rand() * keys.length)];
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    if (k === undefined) return copy;
    if (rand() < 0.2) delete copy[k];
    else copy[k] = mutate(copy[k], rand, depth + 1);
    return copy;
  }
  if (typeof value === 'string' && value.startsWith('{') && rand() < 0.5) {
    try { return JSON.stringify(mutate(JSON.parse(value), rand, depth + 1)); } catch { /* not JSON */ }
  }
  return WEIRD[Math.floor(rand() * WEIRD.length)];
}

function body(source: string, rand: () => number): string {
  const valid = JSON.stringify(SAMPLES[source]);
  const r = rand();
  if (r < 0.1) return valid.slice(0, Math.floor(rand() * valid.length)); // truncated
  if (r < 0.15) return Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))).toString('latin1'); // noise
  if (r < 0.2) return '['.repeat(5000) + ']'.repeat(5000); // deep nesting
  return JSON.stringify(mutate(SAMPLES[source], rand));
}

describe('webhook endpoints under fuzzing', () => {
  let db: Awaited<ReturnType<typeof useTestDatabase>>;
  let api: Awaited<ReturnType<typeof createTestApi>>;

  before(async () => {
    db = await useTestDatabase();
    api = await createTestApi(uniqueName('fuzz'));
  });
  after(async () => {
    await api?.close();
    await db?.drop();
  });

  for (const source of ['meta', 'whatsapp', 'tiktok', 'google', 'twilio']) {
    it(`${source}: ${ROUNDS} signed malformed bodies → 2xx or 4xx, never 5xx`, async () => {
      const rand = rng(source.length * 7919);
      const statuses = new Map<number, number>();
      for (let i = 0; i < ROUNDS; i++) {
        let raw = source === 'twilio' ? new URLSearchParams(Object.entries({ AccountSid: 'AC1', MessageSid: `SM${i}`, From: String(mutate('whatsapp:+1', rand)), Body: body('meta', rand) })).toString() : body(source, rand);
        if (source === 'meta' || source === 'whatsapp') raw = asMetaSends(raw);
        const headers: Record<string, string> = { 'content-type': source === 'twilio' ? 'application/x-www-form-urlencoded' : 'application/json' };
        if (source === 'meta' || source === 'whatsapp') headers['x-hub-signature-256'] = signMetaBody(raw, DEFAULT_APPS.meta!.secret);
        if (source === 'tiktok') headers['tiktok-signature'] = signTikTokWebhook(DEFAULT_APPS.tiktok!.secret, Math.floor(Date.now() / 1000), raw);
        if (source === 'twilio') headers['x-twilio-signature'] = 'bm90IGEgc2lnbmF0dXJl';
        const path = source === 'google' ? `/webhooks/google?token=${DEFAULT_APPS.google!.extra.pushToken}` : `/webhooks/${source}`;
        const res = await api.call('POST', path, { rawBody: raw, headers });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `${source} #${i}: ${res.status} ${res.text.slice(0, 200)} for ${raw.slice(0, 300)}`);
        if (res.status >= 400) assert.ok(res.json?.error?.message, `${source} #${i}: a 4xx says what was wrong`);
      }
      if (source !== 'twilio') assert.ok((statuses.get(400) ?? 0) > ROUNDS / 10, `many bodies reach the parser and are refused: ${JSON.stringify([...statuses])}`);
      assert.equal((await api.call('GET', '/healthz')).status, 200, 'still serving');
    });
  }
});

/** Meta escapes its JSON to ASCII; bodies that are not JSON (or too deep to re-serialize) are sent as they are. */
function asMetaSends(raw: string): string {
  try { return metaJson(JSON.parse(raw)); } catch { return raw; }
}
