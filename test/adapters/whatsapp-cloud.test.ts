// The WhatsApp Cloud adapter against the in-process sandbox: connect with a system-user token and
// phone number ID, wrong input/credentials, check(), error classes for revoked tokens and injected
// faults, and the honest empty history (the Cloud API has no message-history read API).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { platformConfig } from '../../lib/platform-config';
import { WhatsAppCloudAdapter, whatsappCloudError } from '../../activities/platforms/whatsapp-cloud';
import { PlatformError, type AccountInfo, type Credentials } from '../../activities/platforms/types';
import { useSandbox } from '../helpers/sandbox';

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
      await sb.admin('POST', '/tokens/restore', { token });
    }
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
      await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', errorRate: 1, errorStatus: status, remaining: 1 });
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
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', timeoutRate: 1, remaining: 1 });
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
