// Contract tests of the TikTok simulator: Login Kit OAuth v2 (authorize, code exchange, rotating
// refresh tokens, revocation, lifetimes), Business Messaging (list, send, 48 h window), signed DM
// webhooks, and faults in TikTok's formats.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { signTikTokWebhook } from '../../sandbox/platforms/tiktok';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

/** fetch with `json()` typed loosely, for asserting on response bodies. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseResponse = Omit<Response, 'json'> & { json(): Promise<any> };
const http = (input: string | URL, init?: RequestInit) => fetch(input, init) as Promise<LooseResponse>;

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const SCOPES = 'user.info.basic,message.list.read,message.list.send';

describe('tiktok sandbox', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let app: { id: string; secret: string };
  let businessId: string;

  before(async () => {
    sb = await useSandbox({ platforms: ['tiktok'] });
    hooks = await webhookReceiver();
    app = (await sb.admin('GET', '/apps')).json.tiktok;
    businessId = (await sb.admin('GET', '/world')).json.tiktok.accounts[0].business_id;
    await sb.admin('PUT', '/webhooks/targets/tiktok', { url: `${hooks.url}/tiktok` });
  });
  after(async () => { await sb.close(); await hooks.close(); });

  const authorizeUrl = (extra: Record<string, string>) => {
    const u = new URL(`${sb.url}/www.tiktok.com/v2/auth/authorize/`);
    for (const [k, v] of Object.entries({ client_key: app.id, scope: SCOPES, response_type: 'code', redirect_uri: REDIRECT, state: 'csrf-1', ...extra })) u.searchParams.set(k, v);
    return u.toString();
  };
  const tokenRequest = (form: Record<string, string>) => http(`${sb.url}/open.tiktokapis.com/v2/oauth/token/`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form),
  });
  async function connect() {
    const res = await http(authorizeUrl({ sandbox_decision: 'approve' }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const token = await tokenRequest({ client_key: app.id, client_secret: app.secret, code, grant_type: 'authorization_code', redirect_uri: REDIRECT });
    assert.equal(token.status, 200);
    return token.json() as Promise<Record<string, string | number>>;
  }
  const biz = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${sb.url}/business-api.tiktok.com/open_api/v1.3${path}`, {
      method: init.method ?? 'GET', headers: { 'access-token': token, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    });

  test('authorize: approve redirects with code, scopes and state; deny with access_denied', async () => {
    const page = await http(authorizeUrl({}));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /decision/);

    const approved = await http(authorizeUrl({ sandbox_decision: 'approve', sandbox_scopes: 'user.info.basic,message.list.read' }), { redirect: 'manual' });
    assert.equal(approved.status, 302);
    const cb = new URL(approved.headers.get('location')!);
    assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT);
    assert.ok(cb.searchParams.get('code'));
    assert.equal(cb.searchParams.get('scopes'), 'user.info.basic,message.list.read');
    assert.equal(cb.searchParams.get('state'), 'csrf-1');

    const denied = await http(authorizeUrl({ sandbox_decision: 'deny' }), { redirect: 'manual' });
    const deniedCb = new URL(denied.headers.get('location')!);
    assert.equal(deniedCb.searchParams.get('error'), 'access_denied');
    assert.ok(deniedCb.searchParams.get('error_description'));
    assert.equal(deniedCb.searchParams.get('state'), 'csrf-1');

    // The HTML form path: POST decision=approve.
    const posted = await http(authorizeUrl({}), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    assert.equal(posted.status, 302);

    const badRedirect = await http(authorizeUrl({ redirect_uri: 'https://evil.example/cb' }), { redirect: 'manual' });
    assert.equal(badRedirect.status, 400);
  });

  test('code exchange returns the documented token body; codes are single-use', async () => {
    const res = await http(authorizeUrl({ sandbox_decision: 'approve' }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const form = { client_key: app.id, client_secret: app.secret, code, grant_type: 'authorization_code', redirect_uri: REDIRECT };
    const first = await tokenRequest(form);
    assert.equal(first.status, 200);
    const body = await first.json();
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'open_id', 'refresh_expires_in', 'refresh_token', 'scope', 'token_type']);
    assert.match(body.access_token, /^act\./);
    assert.match(body.refresh_token, /^rft\./);
    assert.equal(body.open_id, businessId);
    assert.equal(body.scope, SCOPES);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 7200);
    assert.equal(body.refresh_expires_in, 180 * 86400);

    const again = await tokenRequest(form);
    assert.equal(again.status, 400);
    const err = await again.json();
    assert.equal(err.error, 'invalid_grant');
    assert.equal(typeof err.error_description, 'string');
    assert.equal(typeof err.log_id, 'string');

    const badClient = await tokenRequest({ ...form, client_secret: 'wrong' });
    assert.equal(badClient.status, 401);
    assert.equal((await badClient.json()).error, 'invalid_client');
    const badGrant = await tokenRequest({ ...form, grant_type: 'password' });
    assert.equal((await badGrant.json()).error, 'unsupported_grant_type');
    const notForm = await http(`${sb.url}/open.tiktokapis.com/v2/oauth/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(form) });
    assert.equal(notForm.status, 400);
    assert.equal((await notForm.json()).error, 'invalid_request');
  });

  test('refresh tokens rotate: the old one gets invalid_grant; lifetimes follow admin TTL overrides', async () => {
    const first = await connect();
    await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: 60 });
    await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'refresh', seconds: 3600 });
    try {
      const refresh = (rt: unknown) => tokenRequest({ client_key: app.id, client_secret: app.secret, grant_type: 'refresh_token', refresh_token: String(rt) });
      const rotated = await refresh(first.refresh_token);
      assert.equal(rotated.status, 200);
      const body = await rotated.json();
      assert.notEqual(body.refresh_token, first.refresh_token);
      assert.notEqual(body.access_token, first.access_token);
      assert.equal(body.expires_in, 60);
      assert.equal(body.refresh_expires_in, 3600);

      const reused = await refresh(first.refresh_token);
      assert.equal(reused.status, 400);
      assert.equal((await reused.json()).error, 'invalid_grant');
      assert.equal((await refresh(body.refresh_token)).status, 200);
    } finally {
      await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'access', seconds: null });
      await sb.admin('PUT', '/tokens/ttl', { platform: 'tiktok', kind: 'refresh', seconds: null });
    }
  });

  test('user info answers in the Open API envelope', async () => {
    const tokens = await connect();
    const res = await http(`${sb.url}/open.tiktokapis.com/v2/user/info/?fields=open_id,union_id,avatar_url,display_name`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.data.user.open_id, businessId);
    assert.equal(body.error.code, 'ok');
    assert.equal(typeof body.error.log_id, 'string');
    const scoped = await http(`${sb.url}/open.tiktokapis.com/v2/user/info/?fields=follower_count`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(scoped.status, 401);
    assert.equal((await scoped.json()).error.code, 'scope_not_authorized');
  });

  test('revocation via the admin API: refresh → invalid_grant, user info → 401, business API → 40105', async () => {
    const tokens = await connect();
    assert.equal((await sb.admin('POST', '/tokens/revoke', { token: tokens.access_token })).status, 200);
    await sb.admin('POST', '/tokens/revoke', { token: tokens.refresh_token });
    const refresh = await tokenRequest({ client_key: app.id, client_secret: app.secret, grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) });
    assert.equal(refresh.status, 400);
    assert.equal((await refresh.json()).error, 'invalid_grant');
    const info = await http(`${sb.url}/open.tiktokapis.com/v2/user/info/?fields=open_id`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.status, 401);
    assert.equal((await info.json()).error.code, 'access_token_invalid');
    const list = await biz(`/business/message/conversation/list/?business_id=${businessId}`, String(tokens.access_token));
    assert.equal(list.status, 200);
    const env = await list.json();
    assert.equal(env.code, 40105);
    assert.equal(typeof env.request_id, 'string');

    // The documented revoke endpoint ends every token of the authorization.
    const other = await connect();
    const revoke = await http(`${sb.url}/open.tiktokapis.com/v2/oauth/revoke/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_key: app.id, client_secret: app.secret, token: String(other.access_token) }) });
    assert.equal(revoke.status, 200);
    const after = await tokenRequest({ client_key: app.id, client_secret: app.secret, grant_type: 'refresh_token', refresh_token: String(other.refresh_token) });
    assert.equal((await after.json()).error, 'invalid_grant');
  });

  test('business messaging: list conversations and messages with cursors, send, echo webhook', async () => {
    const token = String((await connect()).access_token);
    const page1 = await (await biz(`/business/message/conversation/list/?business_id=${businessId}&limit=1`, token)).json();
    assert.equal(page1.code, 0);
    assert.equal(page1.message, 'OK');
    assert.equal(page1.data.conversations.length, 1);
    assert.equal(page1.data.has_more, true);
    const page2 = await (await biz(`/business/message/conversation/list/?business_id=${businessId}&limit=1&cursor=${page1.data.cursor}`, token)).json();
    assert.equal(page2.data.conversations.length, 1);
    assert.notEqual(page2.data.conversations[0].conversation_id, page1.data.conversations[0].conversation_id);
    assert.equal(page2.data.has_more, false);

    const conversationId = page1.data.conversations[0].conversation_id;
    const msgs = await (await biz(`/business/message/content/list/?business_id=${businessId}&conversation_id=${conversationId}&limit=2`, token)).json();
    assert.equal(msgs.code, 0);
    assert.equal(msgs.data.messages.length, 2);
    assert.ok(msgs.data.messages[0].timestamp >= msgs.data.messages[1].timestamp, 'newest first');
    assert.ok(msgs.data.messages[0].timestamp > 1e12, 'timestamp in ms');

    const before = hooks.received.length;
    const sent = await biz('/business/message/send/', token, { method: 'POST', body: { business_id: businessId, recipient_type: 'CONVERSATION', recipient: conversationId, message_type: 'TEXT', text: { body: 'Hi from the API' } } });
    assert.equal(sent.status, 200);
    const sentBody = await sent.json();
    assert.equal(sentBody.code, 0);
    assert.match(sentBody.data.message.message_id, /^\d+$/);
    const echo = (await hooks.waitFor(before + 1))[before]!;
    const echoBody = JSON.parse(echo.body);
    assert.equal(echoBody.event, 'im_send_msg');
    const content = JSON.parse(echoBody.content);
    assert.equal(content.message_id, sentBody.data.message.message_id);
    assert.equal(content.from_user.id, businessId);

    const bad = await biz('/business/message/send/', token, { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 200);
    assert.equal((await bad.json()).code, 40002);
    const wrongBusiness = await biz('/business/message/send/', token, { method: 'POST', body: { business_id: 'someone-else', recipient_type: 'CONVERSATION', recipient: conversationId, message_type: 'TEXT', text: { body: 'x' } } });
    assert.equal((await wrongBusiness.json()).code, 40001);
    const missingToken = await http(`${sb.url}/business-api.tiktok.com/open_api/v1.3/business/get/?business_id=${businessId}`);
    assert.equal((await missingToken.json()).code, 40104);
  });

  test('inbound DM webhook: signed t=…,s=… over `${t}.${body}` with the client secret; time units', async () => {
    const before = hooks.received.length;
    const written = await sb.admin('POST', '/customers/tiktok/messages', { text: 'Do you have this in blue?' });
    assert.equal(written.status, 201);
    const hook = (await hooks.waitFor(before + 1))[before]!;
    const header = String(hook.headers['tiktok-signature']);
    const m = /^t=(\d+),s=([0-9a-f]{64})$/.exec(header);
    assert.ok(m, header);
    const expected = createHmac('sha256', app.secret).update(`${m[1]}.${hook.body}`).digest('hex');
    assert.equal(m[2], expected);

    const body = JSON.parse(hook.body);
    assert.deepEqual(Object.keys(body), ['event', 'user_openid', 'create_time', 'content']);
    assert.equal(body.event, 'im_receive_msg');
    assert.equal(body.user_openid, businessId);
    assert.equal(String(body.create_time), m[1]);
    assert.ok(Math.abs(body.create_time - Date.now() / 1000) < 60, 'create_time in seconds');
    assert.equal(typeof body.content, 'string');
    const content = JSON.parse(body.content);
    assert.ok(Math.abs(content.timestamp - Date.now()) < 60_000, 'timestamp in ms');
    assert.equal(content.type, 'text');
    assert.equal(content.text.body, 'Do you have this in blue?');
    assert.equal(content.to_user.id, businessId);
    assert.equal(content.message_id, written.json.messageId);
  });

  test('signing function matches a fixed vector computed independently', () => {
    const body = JSON.stringify({ event: 'im_receive_msg', user_openid: '-000abc', create_time: 1633174587, content: '{}' });
    const independent = createHmac('sha256', 'sandbox-tiktok-client-secret').update(`1633174587.${body}`).digest('hex');
    assert.equal(independent, 'e2c58bc6229dfc7b130c6a59cbb2ce084a81884d7ce0b799c82bf2d45f208283');
    assert.equal(signTikTokWebhook('sandbox-tiktok-client-secret', 1633174587, body), `t=1633174587,s=${independent}`);
  });

  test('injected faults: rate limit → 429 + Retry-After + code 40100; errors → 5xx envelope', async () => {
    const token = String((await connect()).access_token);
    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'conversations.list', rateLimitRate: 1, retryAfterSeconds: 7, remaining: 1 });
    const limited = await biz(`/business/message/conversation/list/?business_id=${businessId}`, token);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    const body = await limited.json();
    assert.equal(body.code, 40100);
    assert.equal(typeof body.request_id, 'string');

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'conversations.list', errorRate: 1, errorStatus: 503, remaining: 1 });
    const failed = await biz(`/business/message/conversation/list/?business_id=${businessId}`, token);
    assert.equal(failed.status, 503);
    assert.equal((await failed.json()).code, 50000);

    await sb.admin('POST', '/faults', { platform: 'tiktok', endpoint: 'oauth.token', rateLimitRate: 1, retryAfterSeconds: 3, remaining: 1 });
    const tokenLimited = await tokenRequest({ client_key: app.id, client_secret: app.secret, grant_type: 'refresh_token', refresh_token: 'x' });
    assert.equal(tokenLimited.status, 429);
    assert.equal(tokenLimited.headers.get('retry-after'), '3');
    assert.equal((await tokenLimited.json()).error, 'rate_limit_exceeded');
    assert.equal((await biz(`/business/message/conversation/list/?business_id=${businessId}`, token)).status, 200);
  });

  // Last: moves the sandbox clock.
  test('48 h window: after the clock passes it, send answers the window error (HTTP 200, code != 0)', async () => {
    const conversationId = (await sb.admin('GET', '/world')).json.tiktok.accounts[0].conversations[0].conversation_id;
    await sb.admin('POST', '/clock', { advanceSeconds: 49 * 3600 });
    const token = String((await connect()).access_token); // earlier tokens expired with the clock
    const res = await biz('/business/message/send/', token, { method: 'POST', body: { business_id: businessId, recipient_type: 'CONVERSATION', recipient: conversationId, message_type: 'TEXT', text: { body: 'late reply' } } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.code, 40070);
    assert.match(body.message, /48-hour/);

    // The customer writes again: the window reopens.
    const customerId = (await sb.admin('GET', '/world')).json.tiktok.accounts[0].conversations[0].user_id;
    await sb.admin('POST', '/customers/tiktok/messages', { customerId, text: 'still there?' });
    const again = await biz('/business/message/send/', token, { method: 'POST', body: { business_id: businessId, recipient_type: 'CONVERSATION', recipient: conversationId, message_type: 'TEXT', text: { body: 'yes!' } } });
    assert.equal((await again.json()).code, 0);
  });
});
