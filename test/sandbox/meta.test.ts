// Contract tests of the Meta simulator (Facebook Login, Instagram Login, Messenger/Instagram
// Graph messaging and webhooks) against /work/shared/platforms/meta-*.md and messenger-instagram.md.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { escapeLikeMeta, metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

type Sbx = Awaited<ReturnType<typeof useSandbox>>;
const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const FB_APP = { id: '100000000000001', secret: 'sandbox-meta-app-secret' };
const IG_APP = { id: '200000000000002', secret: 'sandbox-instagram-app-secret' };
const PAGE = '101000000000001';
const LINKED_PAGE = '101000000000002';
const LINKED_IG = '17841400000000101';
const LOGIN_IG = '17841400000000202';

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}
const post = (url: string, body: unknown) => get(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const hmacHex = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

async function world(s: Sbx) {
  return (await s.admin('GET', '/world')).json.meta as { pages: { id: string; pageAccessToken: string }[]; userAccessToken: string; instagramLogin: { accessToken: string }[] };
}

function assertGraphError(res: { status: number; json: any }, code: number, subcode?: number, status = 400) { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.type, 'OAuthException');
  assert.equal(res.json.error.code, code);
  assert.equal(typeof res.json.error.message, 'string');
  assert.equal(typeof res.json.error.fbtrace_id, 'string');
  if (subcode !== undefined) assert.equal(res.json.error.error_subcode, subcode);
}

/** Runs the Facebook Login dialog headlessly and returns the redirect URL. */
async function dialog(s: Sbx, extra: Record<string, string>) {
  const res = await get(`${s.url}/www.facebook.com/v25.0/dialog/oauth?${q({ client_id: FB_APP.id, redirect_uri: REDIRECT, response_type: 'code', ...extra })}`);
  return res;
}
async function userToken(s: Sbx, scope = 'pages_show_list,pages_messaging,pages_manage_metadata,instagram_basic,instagram_manage_messages') {
  const res = await dialog(s, { state: 's1', scope, sandbox_action: 'approve' });
  const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
  const tok = await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?${q({ client_id: FB_APP.id, client_secret: FB_APP.secret, redirect_uri: REDIRECT, code })}`);
  return tok.json.access_token as string;
}

describe('meta sandbox', () => {
  let s: Sbx;
  before(async () => { s = await useSandbox({ platforms: ['meta'], world: { conversations: 30, messagesPerConversation: 25 } }); });
  after(async () => { await s.close(); });

  describe('Facebook Login dialog', () => {
    test('approve redirects with code and the state echoed unchanged', async () => {
      const state = 'a b/c?d=é&x';
      const res = await dialog(s, { state, scope: 'pages_show_list,pages_messaging', sandbox_action: 'approve' });
      assert.equal(res.status, 302);
      const location = res.headers.get('location')!;
      assert.ok(location.startsWith(`${REDIRECT}?code=`));
      assert.ok(location.endsWith('#_=_'));
      const url = new URL(location);
      assert.equal(url.searchParams.get('state'), state);
      assert.match(url.searchParams.get('code')!, /^AQ/);
    });

    test('deny redirects with the documented error parameters', async () => {
      const res = await dialog(s, { state: 'xyz', scope: 'pages_messaging', sandbox_action: 'deny' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), `${REDIRECT}?error=access_denied&error_reason=user_denied&error_description=Permissions+error&state=xyz#_=_`);
    });

    test('unregistered redirect_uri or app id is an error page, never a redirect', async () => {
      const bad = await get(`${s.url}/www.facebook.com/v25.0/dialog/oauth?${q({ client_id: FB_APP.id, redirect_uri: 'http://evil.example/cb', state: 's', sandbox_action: 'approve' })}`);
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('location'), null);
      assert.match(bad.text, /URL blocked/);
      const badApp = await get(`${s.url}/www.facebook.com/v25.0/dialog/oauth?${q({ client_id: '999', redirect_uri: REDIRECT, sandbox_action: 'approve' })}`);
      assert.equal(badApp.status, 400);
      assert.equal(badApp.headers.get('location'), null);
    });

    test('the HTML consent page posts back; unchecked scopes are declined and visible in debug_token and /me/permissions', async () => {
      const page = await dialog(s, { state: 'st', scope: 'pages_show_list,pages_messaging' });
      assert.equal(page.status, 200);
      assert.match(page.text, /<form method="post"/);
      assert.match(page.text, /value="approve"/);
      assert.match(page.text, /value="deny"/);
      const form = new URLSearchParams({ client_id: FB_APP.id, redirect_uri: REDIRECT, state: 'st', scope: 'pages_show_list,pages_messaging', consent_form: '1', action: 'approve', granted_scopes: 'pages_show_list' });
      const res = await get(`${s.url}/www.facebook.com/v25.0/dialog/oauth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      assert.equal(res.status, 302);
      const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
      const tok = await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?${q({ client_id: FB_APP.id, client_secret: FB_APP.secret, redirect_uri: REDIRECT, code })}`);
      const dbg = await get(`${s.url}/graph.facebook.com/v25.0/debug_token?${q({ input_token: tok.json.access_token, access_token: `${FB_APP.id}|${FB_APP.secret}` })}`);
      assert.equal(dbg.json.data.is_valid, true);
      assert.ok(dbg.json.data.scopes.includes('pages_show_list'));
      assert.ok(!dbg.json.data.scopes.includes('pages_messaging'));
      const perms = await get(`${s.url}/graph.facebook.com/v25.0/me/permissions?access_token=${tok.json.access_token}`);
      assert.deepEqual(perms.json.data.find((p: { permission: string }) => p.permission === 'pages_messaging'), { permission: 'pages_messaging', status: 'declined' });
      // sandbox_decline does the same without a browser
      const declined = await dialog(s, { scope: 'pages_show_list,pages_messaging', sandbox_action: 'approve', sandbox_decline: 'pages_messaging' });
      assert.equal(declined.status, 302);
    });
  });

  describe('Facebook tokens', () => {
    test('code → short-lived token; the code is single-use; redirect_uri must match', async () => {
      const res = await dialog(s, { state: 's', scope: 'pages_show_list', sandbox_action: 'approve' });
      const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
      const exchange = (redirect = REDIRECT) => get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?${q({ client_id: FB_APP.id, client_secret: FB_APP.secret, redirect_uri: redirect, code })}`);
      assertGraphError(await exchange('http://localhost:3000/other'), 100, 36008);
      const ok = await exchange();
      assert.equal(ok.status, 200);
      assert.match(ok.json.access_token, /^EAA/);
      assert.equal(ok.json.token_type, 'bearer');
      assert.ok(ok.json.expires_in > 0 && ok.json.expires_in <= 7200);
      assertGraphError(await exchange(), 100);
      const wrongSecret = await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?${q({ client_id: FB_APP.id, client_secret: 'nope', redirect_uri: REDIRECT, code })}`);
      assertGraphError(wrongSecret, 1);
    });

    test('fb_exchange_token gives a ~60-day token; its Page tokens never expire', async () => {
      const short = await userToken(s);
      const long = await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?${q({ grant_type: 'fb_exchange_token', client_id: FB_APP.id, client_secret: FB_APP.secret, fb_exchange_token: short })}`);
      assert.equal(long.status, 200);
      assert.match(long.json.access_token, /^EAA/);
      assert.ok(long.json.expires_in > 5_180_000 && long.json.expires_in <= 5_184_000);

      const accounts = await get(`${s.url}/graph.facebook.com/v25.0/me/accounts?fields=id,name,access_token,tasks&access_token=${long.json.access_token}`);
      assert.equal(accounts.status, 200);
      assert.deepEqual(accounts.json.data.map((p: { id: string }) => p.id), [PAGE, LINKED_PAGE]);
      for (const p of accounts.json.data) {
        assert.deepEqual(Object.keys(p).sort(), ['access_token', 'id', 'name', 'tasks']);
        assert.ok(p.tasks.includes('MESSAGING'));
        assert.match(p.access_token, /^EAA/);
      }
      const again = await get(`${s.url}/graph.facebook.com/v25.0/me/accounts?fields=id,access_token&access_token=${long.json.access_token}`);
      assert.equal(again.json.data[0].access_token, accounts.json.data[0].access_token, 'Page tokens are stable');
      const dbg = await get(`${s.url}/graph.facebook.com/v25.0/debug_token?${q({ input_token: accounts.json.data[0].access_token, access_token: `${FB_APP.id}|${FB_APP.secret}` })}`);
      assert.equal(dbg.json.data.type, 'PAGE');
      assert.equal(dbg.json.data.expires_at, 0);
      assert.equal(dbg.json.data.profile_id, PAGE);
      assert.equal(dbg.json.data.app_id, FB_APP.id);
      assert.ok(Array.isArray(dbg.json.data.granular_scopes));
    });

    test('a Page\'s Instagram business account: present when linked, absent otherwise', async () => {
      const w = await world(s);
      const linked = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}?fields=instagram_business_account{id,username}&access_token=${w.userAccessToken}`);
      assert.deepEqual(linked.json, { instagram_business_account: { id: LINKED_IG, username: 'sandbox.boutique' }, id: LINKED_PAGE });
      const plain = await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}?fields=instagram_business_account{id,username}&access_token=${w.userAccessToken}`);
      assert.equal(plain.status, 200);
      assert.deepEqual(plain.json, { id: PAGE }, 'no instagram_business_account key at all');
      const withId = await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}?fields=id,name,instagram_business_account&access_token=${w.pages[0]!.pageAccessToken}`);
      assert.deepEqual(withId.json, { id: PAGE, name: 'Sandbox Shop' });
    });

    test('debug_token: valid user token shape; unknown, expired and revoked tokens are is_valid:false with 190', async () => {
      const token = await userToken(s);
      const debug = (input: string) => get(`${s.url}/graph.facebook.com/v25.0/debug_token?${q({ input_token: input, access_token: `${FB_APP.id}|${FB_APP.secret}` })}`);
      const ok = await debug(token);
      assert.equal(ok.status, 200);
      for (const key of ['app_id', 'type', 'application', 'expires_at', 'data_access_expires_at', 'is_valid', 'issued_at', 'scopes', 'granular_scopes', 'user_id']) assert.ok(key in ok.json.data, key);
      assert.equal(ok.json.data.type, 'USER');
      assert.equal(ok.json.data.is_valid, true);
      assert.ok(ok.json.data.expires_at > Date.now() / 1000);
      const unknown = await debug('EAAnonsense');
      assert.equal(unknown.json.data.is_valid, false);
      assert.equal(unknown.json.data.error.code, 190);
      await s.admin('POST', '/tokens/expire', { token, inSeconds: 0 });
      const expired = await debug(token);
      assert.equal(expired.json.data.is_valid, false);
      assert.deepEqual([expired.json.data.error.code, expired.json.data.error.subcode], [190, 463]);
      const other = await userToken(s);
      await s.admin('POST', '/tokens/revoke', { token: other });
      const revoked = await debug(other);
      assert.deepEqual([revoked.json.data.is_valid, revoked.json.data.error.code, revoked.json.data.error.subcode], [false, 190, 460]);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/debug_token?${q({ input_token: token, access_token: 'wrong|secret' })}`), 190);
    });

    test('subscribed_apps: POST with fields, GET to audit; a user token is refused', async () => {
      const w = await world(s);
      const pageToken = w.pages[1]!.pageAccessToken;
      const sub = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/subscribed_apps?subscribed_fields=messages,message_echoes,message_deliveries,message_reads,messaging_postbacks&access_token=${pageToken}`, { method: 'POST' });
      assert.deepEqual(sub.json, { success: true });
      const audit = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/subscribed_apps?access_token=${pageToken}`);
      assert.equal(audit.json.data[0].id, FB_APP.id);
      assert.deepEqual(audit.json.data[0].subscribed_fields, ['messages', 'message_echoes', 'message_deliveries', 'message_reads', 'messaging_postbacks']);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/subscribed_apps?subscribed_fields=bogus&access_token=${pageToken}`, { method: 'POST' }), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/subscribed_apps?access_token=${w.userAccessToken}`), 210);
    });
  });

  describe('Instagram Login', () => {
    async function igCode(extra: Record<string, string> = {}) {
      const res = await get(`${s.url}/www.instagram.com/oauth/authorize?${q({ client_id: IG_APP.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'instagram_business_basic,instagram_business_manage_messages', state: 'ig', sandbox_action: 'approve', ...extra })}`);
      assert.equal(res.status, 302);
      const location = res.headers.get('location')!;
      assert.ok(location.endsWith('#_'));
      const url = new URL(location);
      assert.equal(url.searchParams.get('state'), 'ig');
      return url.searchParams.get('code')!;
    }
    const exchange = (code: string) => get(`${s.url}/api.instagram.com/oauth/access_token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: q({ client_id: IG_APP.id, client_secret: IG_APP.secret, grant_type: 'authorization_code', redirect_uri: REDIRECT, code }),
    });

    test('code exchange answers flat (observed) or data-wrapped (documented), per the authorize flag', async () => {
      const flat = await exchange(await igCode());
      assert.equal(flat.status, 200);
      assert.match(flat.json.access_token, /^IGAA/);
      assert.deepEqual(flat.json.permissions, ['instagram_business_basic', 'instagram_business_manage_messages']);
      // user_id is a bare 17-digit number: exact only when read from the text
      assert.match(flat.text, new RegExp(`"user_id":${LOGIN_IG}[,}]`));
      const data = await exchange(await igCode({ sandbox_response_shape: 'data' }));
      assert.equal(data.json.data.length, 1);
      assert.match(data.json.data[0].access_token, /^IGAA/);
      assert.equal(typeof data.json.data[0].user_id, 'string');
      assert.equal(data.json.data[0].permissions, 'instagram_business_basic,instagram_business_manage_messages');
    });

    test('code reuse and a bad secret use Instagram\'s OAuth error shape', async () => {
      const code = await igCode();
      assert.equal((await exchange(code)).status, 200);
      const reused = await exchange(code);
      assert.equal(reused.status, 400);
      assert.equal(reused.json.error_type, 'OAuthException');
      assert.equal(reused.json.code, 400);
      assert.equal(typeof reused.json.error_message, 'string');
    });

    test('short → long-lived; refresh only once the token is 24 h old; /me', async () => {
      const local = await useSandbox({ platforms: ['meta'] });
      try {
        const code = new URL((await get(`${local.url}/www.instagram.com/oauth/authorize?${q({ client_id: IG_APP.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'instagram_business_basic,instagram_business_manage_messages', sandbox_action: 'approve' })}`)).headers.get('location')!).searchParams.get('code')!;
        const short = await get(`${local.url}/api.instagram.com/oauth/access_token`, { method: 'POST', body: new URLSearchParams({ client_id: IG_APP.id, client_secret: IG_APP.secret, grant_type: 'authorization_code', redirect_uri: REDIRECT, code }) });
        const long = await get(`${local.url}/graph.instagram.com/access_token?${q({ grant_type: 'ig_exchange_token', client_secret: IG_APP.secret, access_token: short.json.access_token })}`);
        assert.equal(long.status, 200);
        assert.equal(long.json.token_type, 'bearer');
        assert.ok(long.json.expires_in > 5_180_000);
        const refresh = () => get(`${local.url}/graph.instagram.com/refresh_access_token?${q({ grant_type: 'ig_refresh_token', access_token: long.json.access_token })}`);
        assertGraphError(await refresh(), 100);
        await local.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
        const refreshed = await refresh();
        assert.equal(refreshed.status, 200);
        assert.match(refreshed.json.access_token, /^IGAA/);
        assert.ok(refreshed.json.expires_in > 5_180_000);
        const me = await get(`${local.url}/graph.instagram.com/v25.0/me?fields=user_id,username,account_type&access_token=${refreshed.json.access_token}`);
        assert.deepEqual(me.json, { user_id: LOGIN_IG, username: 'sandbox.studio', account_type: 'BUSINESS', id: '10200000000000202' });
        // Facebook tokens are not Instagram tokens
        assertGraphError(await get(`${local.url}/graph.instagram.com/v25.0/me?access_token=${(await world(local)).userAccessToken}`), 190);
      } finally { await local.close(); }
    });
  });

  describe('Conversations API', () => {
    test('conversation list pages by following paging.next to the end', async () => {
      const w = await world(s);
      let next: string | undefined = `${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?platform=messenger&fields=id,updated_time,participants&limit=7&access_token=${w.pages[0]!.pageAccessToken}`;
      const ids: string[] = [];
      let pages = 0;
      while (next) {
        assert.ok(next.startsWith(`${s.url}/graph.facebook.com/v25.0/`), next);
        const res = await get(next);
        assert.equal(res.status, 200);
        for (const conv of res.json.data) {
          ids.push(conv.id);
          assert.match(conv.updated_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
          assert.equal(conv.participants.data.length, 2);
          assert.equal(conv.participants.data[1].id, PAGE);
        }
        assert.ok(res.json.paging.cursors.after);
        next = res.json.paging.next;
        pages++;
      }
      assert.equal(pages, 5);
      assert.equal(ids.length, 30);
      assert.equal(new Set(ids).size, 30);
      assert.ok(ids.every((id) => id.startsWith('t_')));
    });

    test('user_id finds the one conversation with a person; IG threads are listed on the linked Page', async () => {
      const w = await world(s);
      const token = w.pages[1]!.pageAccessToken;
      const list = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/conversations?platform=instagram&fields=participants&limit=1&access_token=${token}`);
      const igsid = list.json.data[0].participants.data[0].id;
      assert.ok('username' in list.json.data[0].participants.data[0]);
      const found = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/conversations?platform=instagram&user_id=${igsid}&access_token=${token}`);
      assert.equal(found.json.data.length, 1);
      assert.equal(found.json.data[0].id, list.json.data[0].id);
    });

    test('messages of a conversation come newest first, paged, as nested field and as edge', async () => {
      const w = await world(s);
      const token = w.pages[0]!.pageAccessToken;
      const list = await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?platform=messenger&limit=1&access_token=${token}`);
      const convId = list.json.data[0].id;
      const nested = await get(`${s.url}/graph.facebook.com/v25.0/${convId}?fields=messages.limit(10){id,created_time,from,to,message}&access_token=${token}`);
      assert.equal(nested.json.id, convId);
      const times = nested.json.messages.data.map((m: { created_time: string }) => Date.parse(m.created_time.replace('+0000', 'Z')));
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
      assert.equal(nested.json.messages.data.length, 10);
      assert.ok(nested.json.messages.paging.next.includes(`/${convId}/messages?`));
      const edge = await get(`${s.url}/graph.facebook.com/v25.0/${convId}/messages?fields=id,created_time,message&limit=10&access_token=${token}`);
      assert.equal(edge.json.data.length, 10);
      assert.equal(edge.json.data[0].id, nested.json.messages.data[0].id);
      const rest = await get(edge.json.paging.next);
      assert.equal(rest.json.data.length, 10);
      assert.ok(Date.parse(rest.json.data[0].created_time.replace('+0000', 'Z')) <= Date.parse(edge.json.data[9].created_time.replace('+0000', 'Z')));
      const one = await get(`${s.url}/graph.facebook.com/v25.0/${edge.json.data[0].id}?fields=id,created_time,from,to,message,attachments&access_token=${token}`);
      assert.equal(one.json.id, edge.json.data[0].id);
      assert.equal(one.json.to.data.length, 1);
    });

    test('Instagram: only the 20 newest messages are readable; older ids read as deleted', async () => {
      const w = await world(s);
      const token = w.pages[1]!.pageAccessToken;
      const list = await get(`${s.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/conversations?platform=instagram&limit=1&access_token=${token}`);
      const convId = list.json.data[0].id;
      const ids: string[] = [];
      let next: string | undefined = `${s.url}/graph.facebook.com/v25.0/${convId}/messages?fields=id&limit=8&access_token=${token}`;
      while (next) {
        const res = await get(next);
        ids.push(...res.json.data.map((m: { id: string }) => m.id));
        next = res.json.paging?.next;
      }
      assert.equal(ids.length, 20, 'seeded 25, only 20 visible');
      const newest = await get(`${s.url}/graph.facebook.com/v25.0/${ids[0]}?fields=id,from,message&access_token=${token}`);
      assert.equal(newest.status, 200);
      assert.ok('username' in newest.json.from);
      const history = s.sandbox.platforms.get('meta')!.describe() as { counts: { messages: number } };
      assert.ok(history.counts.messages >= 3 * 30 * 25);
      // the 21st newest message exists in platform state but answers as deleted
      const convNode = await get(`${s.url}/graph.facebook.com/v25.0/${convId}?fields=message_count&access_token=${token}`);
      assert.equal(convNode.json.message_count, 25);
      // A client's only handle on an older message is a webhook mid: write 21 more, then read the first.
      const first = await s.admin('POST', '/customers/meta/messages', { accountId: LINKED_IG, customerId: 'horizon-customer', text: 'first' });
      assert.equal((await get(`${s.url}/graph.facebook.com/v25.0/${first.json.messageId}?fields=message&access_token=${token}`)).json.message, 'first');
      for (let i = 0; i < 20; i++) await s.admin('POST', '/customers/meta/messages', { accountId: LINKED_IG, customerId: 'horizon-customer', text: `more ${i}` });
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${first.json.messageId}?fields=id,message&access_token=${token}`), 100);
    });
  });

  describe('Send API and webhooks', () => {
    let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
    before(async () => {
      hooks = await webhookReceiver();
      await s.admin('PUT', '/webhooks/targets/meta', { url: `${hooks.url}/webhooks/meta` });
    });
    after(async () => { await s.admin('PUT', '/webhooks/targets/meta', { url: null }); await hooks.close(); });

    test('a customer message arrives signed over the exact bytes, ASCII-escaped like Meta', async () => {
      const start = hooks.received.length;
      const r = await s.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'Olá — size M? 1/2 ✓' });
      assert.equal(r.status, 201);
      const [hook] = (await hooks.waitFor(start + 1)).slice(start);
      assert.equal(hook!.headers['x-hub-signature-256'], `sha256=${hmacHex(FB_APP.secret, hook!.body)}`);
      assert.match(hook!.body, /Ol\\u00e1 \\u2014 size M\? 1\\\/2 \\u2713/);
      assert.ok(/^[\x20-\x7e]*$/.test(hook!.body), 'body is pure ASCII');
      const payload = JSON.parse(hook!.body);
      assert.equal(payload.object, 'page');
      assert.equal(payload.entry[0].id, PAGE);
      const event = payload.entry[0].messaging[0];
      assert.equal(event.message.mid, r.json.messageId);
      assert.equal(event.message.text, 'Olá — size M? 1/2 ✓');
      assert.equal(event.sender.id, r.json.customerId);
      assert.ok(Math.abs(event.timestamp - Date.now()) < 60_000, 'ms timestamp');
    });

    test('known vector: fixed body and secret give a fixed signature', () => {
      const body = '{"object":"page","entry":[{"id":"1","time":1785312004871,"messaging":[{"message":{"text":"Caf\\u00e9 \\/ ok"}}]}]}';
      const secret = 'vector-secret';
      const expected = createHmac('sha256', secret).update(Buffer.from(body, 'utf8')).digest('hex');
      assert.equal(signMetaBody(body, secret), `sha256=${expected}`);
      assert.equal(metaJson({ object: 'page', entry: [{ id: '1', time: 1785312004871, messaging: [{ message: { text: 'Café / ok' } }] }] }), body);
      assert.equal(escapeLikeMeta('"😀"'), '"\\ud83d\\ude00"');
    });

    test('send inside the window → {recipient_id, message_id}, then echo, delivery and read webhooks', async () => {
      const w = await world(s);
      const before = hooks.received.length;
      const customer = await s.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hi' });
      await hooks.waitFor(before + 1); // the customer's own message
      const base = hooks.received.length;
      const res = await post(`${s.url}/graph.facebook.com/v25.0/${PAGE}/messages?access_token=${w.pages[0]!.pageAccessToken}`, {
        recipient: { id: customer.json.customerId }, messaging_type: 'RESPONSE', message: { text: 'Yes, size M is available.', metadata: 'ticket-42' },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['message_id', 'recipient_id']);
      assert.equal(res.json.recipient_id, customer.json.customerId);
      assert.match(res.json.message_id, /^m_/);
      assert.ok(res.headers.get('x-app-usage'));
      const buc = JSON.parse(res.headers.get('x-business-use-case-usage')!);
      assert.equal(buc[PAGE][0].type, 'messenger');
      const got = (await hooks.waitFor(base + 3)).slice(base);
      const events = got.map((h) => JSON.parse(h.body).entry[0].messaging[0]);
      const echo = events.find((e) => e.message?.is_echo);
      assert.equal(echo.message.mid, res.json.message_id);
      assert.equal(echo.message.app_id, Number(FB_APP.id));
      assert.equal(echo.message.metadata, 'ticket-42');
      assert.equal(echo.sender.id, PAGE);
      const delivery = events.find((e) => e.delivery);
      assert.deepEqual(delivery.delivery.mids, [res.json.message_id]);
      assert.equal(typeof delivery.delivery.watermark, 'number');
      const read = events.find((e) => e.read);
      assert.equal(typeof read.read.watermark, 'number');
      for (const h of got) assert.equal(h.headers['x-hub-signature-256'], `sha256=${hmacHex(FB_APP.secret, h.body)}`);
    });

    test('Instagram send: echo then messaging_seen with the mid; IG Login events are signed with the Instagram app secret', async () => {
      const w = await world(s);
      const before = hooks.received.length;
      const customer = await s.admin('POST', '/customers/meta/messages', { accountId: LOGIN_IG, text: 'oi' });
      const inbound = (await hooks.waitFor(before + 1))[before]!;
      assert.equal(inbound.headers['x-hub-signature-256'], `sha256=${hmacHex(IG_APP.secret, inbound.body)}`);
      assert.equal(JSON.parse(inbound.body).object, 'instagram');
      const base = hooks.received.length;
      const res = await post(`${s.url}/graph.instagram.com/v25.0/me/messages`, { recipient: { id: customer.json.customerId }, message: { text: 'Olá!' }, access_token: w.instagramLogin[0]!.accessToken });
      assert.equal(res.status, 200, res.text);
      const got = (await hooks.waitFor(base + 2)).slice(base).map((h) => JSON.parse(h.body).entry[0].messaging[0]);
      assert.ok(got.find((e) => e.message?.is_echo && e.message.mid === res.json.message_id));
      assert.deepEqual(got.find((e) => e.read).read, { mid: res.json.message_id });
    });

    test('native-app replies echo with the Page inbox app id', async () => {
      const base = hooks.received.length;
      const customer = await s.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hello' });
      const native = await post(`${s.url}/graph.facebook.com/__sandbox/native-send`, { accountId: PAGE, customerId: customer.json.customerId, text: 'typed in Business Suite' });
      assert.equal(native.status, 201);
      const got = (await hooks.waitFor(base + 2)).slice(base).map((h) => JSON.parse(h.body).entry[0].messaging[0]);
      const echo = got.find((e) => e.message?.is_echo);
      assert.equal(echo.message.app_id, 263902037430900);
    });

    test('unknown recipient, too-long text and bad messaging_type are Graph 100s', async () => {
      const w = await world(s);
      const url = `${s.url}/graph.facebook.com/v25.0/me/messages?access_token=${w.pages[0]!.pageAccessToken}`;
      assertGraphError(await post(url, { recipient: { id: '999' }, messaging_type: 'RESPONSE', message: { text: 'x' } }), 100, 2018001);
      const customer = await s.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hey' });
      assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, messaging_type: 'RESPONSE', message: { text: 'x'.repeat(2001) } }), 100);
      assert.equal((await post(url, { recipient: { id: customer.json.customerId }, messaging_type: 'RESPONSE', message: { text: 'é'.repeat(2000) } })).status, 200);
      assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, messaging_type: 'SOMETIMES', message: { text: 'x' } }), 100);
      const attach = await post(url, { recipient: { id: customer.json.customerId }, message: { attachment: { type: 'image', payload: { url: 'https://example.com/a.jpg', is_reusable: true } } } });
      assert.equal(attach.status, 200);
      assert.ok(attach.json.attachment_id);
      const byId = await post(url, { recipient: { id: customer.json.customerId }, message: { attachment: { type: 'image', payload: { attachment_id: attach.json.attachment_id } } } });
      assert.equal(byId.status, 200);
    });
  });

  describe('sender action mark_seen', () => {
    test('mark_seen → {recipient_id}, the conversation\'s unread_count drops to 0; it sends no message and no webhook', async () => {
      const local = await useSandbox({ platforms: ['meta'] });
      const hooks = await webhookReceiver();
      try {
        await local.admin('PUT', '/webhooks/targets/meta', { url: `${hooks.url}/webhooks/meta` });
        const w = await world(local);
        const customer = await local.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'anyone there?' });
        await local.admin('POST', '/customers/meta/messages', { accountId: PAGE, customerId: customer.json.customerId, text: 'hello?' });
        await hooks.waitFor(2);
        const token = w.pages[0]!.pageAccessToken;
        const conv = async () => (await get(`${local.url}/graph.facebook.com/v25.0/${PAGE}/conversations?${q({ user_id: customer.json.customerId, fields: 'unread_count,message_count', access_token: token })}`)).json.data[0];
        assert.equal((await conv()).unread_count, 2);
        const before = await conv();
        const res = await post(`${local.url}/graph.facebook.com/v25.0/${PAGE}/messages?access_token=${token}`, { recipient: { id: customer.json.customerId }, sender_action: 'mark_seen' });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, { recipient_id: customer.json.customerId });
        const after = await conv();
        assert.equal(after.unread_count, 0);
        assert.equal(after.message_count, before.message_count, 'no message was sent');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(hooks.received.length, 2, 'no webhook for a sender action');
        const recorded = local.sandbox.ctx.recorder.list({ platform: 'meta', endpoint: 'send' }).filter((r) => r.body.includes('mark_seen'));
        assert.equal(recorded.length, 1);
        assert.equal(recorded[0]!.status, 200);
        // Instagram Login: the same sender action on graph.instagram.com/me/messages.
        const ig = await local.admin('POST', '/customers/meta/messages', { accountId: LOGIN_IG, text: 'oi' });
        const igSeen = await post(`${local.url}/graph.instagram.com/v25.0/me/messages`, { recipient: { id: ig.json.customerId }, sender_action: 'mark_seen', access_token: w.instagramLogin[0]!.accessToken });
        assert.equal(igSeen.status, 200, igSeen.text);
      } finally { await hooks.close(); await local.close(); }
    });

    test('an unknown action, a message with an action, an unknown recipient → 100; outside 24 h → 10; a revoked token → 190', async () => {
      const local = await useSandbox({ platforms: ['meta'] });
      try {
        const w = await world(local);
        const customer = await local.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hi' });
        const url = `${local.url}/graph.facebook.com/v25.0/${PAGE}/messages?access_token=${w.pages[0]!.pageAccessToken}`;
        assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, sender_action: 'mark_read' }), 100);
        assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, sender_action: 'mark_seen', message: { text: 'x' } }), 100);
        assertGraphError(await post(url, { recipient: { id: '999' }, sender_action: 'mark_seen' }), 100, 2018001);
        await local.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
        assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, sender_action: 'mark_seen' }), 10, 2018278);
        await local.admin('POST', '/tokens/revoke', { subject: PAGE });
        assertGraphError(await post(url, { recipient: { id: customer.json.customerId }, sender_action: 'mark_seen' }), 190);
      } finally { await local.close(); }
    });
  });

  describe('windows, revocation, faults and malformed input', () => {
    test('outside 24 h → 10/2018278 (Messenger) and 10/2534022 (Instagram); HUMAN_AGENT works up to 7 days', async () => {
      const local = await useSandbox({ platforms: ['meta'] });
      try {
        const w = await world(local);
        const m = await local.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hi' });
        const ig = await local.admin('POST', '/customers/meta/messages', { accountId: LINKED_IG, text: 'hi' });
        const fbUrl = `${local.url}/graph.facebook.com/v25.0/${PAGE}/messages?access_token=${w.pages[0]!.pageAccessToken}`;
        const igUrl = `${local.url}/graph.facebook.com/v25.0/${LINKED_PAGE}/messages?access_token=${w.pages[1]!.pageAccessToken}`;
        assert.equal((await post(fbUrl, { recipient: { id: m.json.customerId }, messaging_type: 'UPDATE', message: { text: 'inside' } })).status, 200);
        await local.admin('POST', '/clock', { advanceSeconds: 25 * 3600 });
        assertGraphError(await post(fbUrl, { recipient: { id: m.json.customerId }, messaging_type: 'RESPONSE', message: { text: 'late' } }), 10, 2018278);
        assertGraphError(await post(igUrl, { recipient: { id: ig.json.customerId }, message: { text: 'late' } }), 10, 2534022);
        assert.equal((await post(fbUrl, { recipient: { id: m.json.customerId }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'agent' } })).status, 200);
        assert.equal((await post(igUrl, { recipient: { id: ig.json.customerId }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'agent' } })).status, 200);
        assertGraphError(await post(fbUrl, { recipient: { id: m.json.customerId }, messaging_type: 'MESSAGE_TAG', message: { text: 'no tag' } }), 100);
        await local.admin('POST', '/clock', { advanceSeconds: 6 * 86400 + 3600 });
        assertGraphError(await post(fbUrl, { recipient: { id: m.json.customerId }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'too late' } }), 10, 2018278);
      } finally { await local.close(); }
    });

    test('revocation through the admin API → 190; DELETE /me/permissions kills the user\'s tokens with 458', async () => {
      const local = await useSandbox({ platforms: ['meta'] });
      try {
        const w = await world(local);
        const url = `${local.url}/graph.facebook.com/v25.0/${PAGE}/conversations?platform=messenger&access_token=${w.pages[0]!.pageAccessToken}`;
        assert.equal((await get(url)).status, 200);
        assert.deepEqual((await local.admin('POST', '/tokens/revoke', { token: w.pages[0]!.pageAccessToken })).json, { revoked: 1 });
        assertGraphError(await get(url), 190, 460);
        await local.admin('POST', '/tokens/restore', { token: w.pages[0]!.pageAccessToken });
        assert.equal((await get(url)).status, 200);
        const del = await get(`${local.url}/graph.facebook.com/v25.0/me/permissions?access_token=${w.userAccessToken}`, { method: 'DELETE' });
        assert.deepEqual(del.json, { success: true });
        assertGraphError(await get(url), 190, 458);
        assertGraphError(await get(`${local.url}/graph.facebook.com/v25.0/me?access_token=${w.userAccessToken}`), 190, 458);
      } finally { await local.close(); }
    });

    test('injected faults render Graph errors: 80006 + Retry-After + BUC on send, 613 elsewhere, code 2 for 503', async () => {
      const w = await world(s);
      const customer = await s.admin('POST', '/customers/meta/messages', { accountId: PAGE, text: 'hi' });
      await s.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', rateLimitRate: 1, retryAfterSeconds: 120, remaining: 1 });
      const limited = await post(`${s.url}/graph.facebook.com/v25.0/${PAGE}/messages?access_token=${w.pages[0]!.pageAccessToken}`, { recipient: { id: customer.json.customerId }, messaging_type: 'RESPONSE', message: { text: 'x' } });
      assertGraphError(limited, 80006);
      assert.equal(limited.headers.get('retry-after'), '120');
      const buc = JSON.parse(limited.headers.get('x-business-use-case-usage')!);
      assert.equal(buc[PAGE][0].type, 'messenger');
      assert.equal(buc[PAGE][0].estimated_time_to_regain_access, 2);
      await s.admin('POST', '/faults', { platform: 'meta', endpoint: 'me.accounts', rateLimitRate: 1, retryAfterSeconds: 5, remaining: 1 });
      const generic = await get(`${s.url}/graph.facebook.com/v25.0/me/accounts?access_token=${w.userAccessToken}`);
      assertGraphError(generic, 613);
      assert.equal(generic.headers.get('retry-after'), '5');
      await s.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', errorRate: 1, errorStatus: 503, remaining: 1 });
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?access_token=${w.pages[0]!.pageAccessToken}`), 2, undefined, 503);
      await s.admin('POST', '/faults', { platform: 'meta', endpoint: 'conversations', errorRate: 1, errorStatus: 500, remaining: 1 });
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?access_token=${w.pages[0]!.pageAccessToken}`), 1, undefined, 500);
      // and the next call is normal again
      assert.equal((await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?access_token=${w.pages[0]!.pageAccessToken}`)).status, 200);
    });

    test('malformed input is a Graph error with HTTP 400, never a 500', async () => {
      const w = await world(s);
      const token = w.pages[0]!.pageAccessToken;
      const raw = (path: string, body: string, type = 'application/json') => get(`${s.url}/graph.facebook.com/v25.0/${path}?access_token=${token}`, { method: 'POST', headers: { 'content-type': type }, body });
      assertGraphError(await raw(`${PAGE}/messages`, '{"recipient":'), 100);
      assertGraphError(await raw(`${PAGE}/messages`, '[1,2]'), 100);
      assertGraphError(await raw(`${PAGE}/messages`, 'recipient=notjson&message=%7B', 'application/x-www-form-urlencoded'), 100);
      assertGraphError(await raw(`${PAGE}/messages`, '{"recipient":{"id":"1"},"message":{"attachment":{"type":"hologram"}}}'), 100);
      assertGraphError(await raw(`${PAGE}/messages`, '{"recipient":{"id":"1"}}'), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?fields=messages{id&access_token=${token}`), 2500);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?fields=nope&access_token=${token}`), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?limit=abc&access_token=${token}`), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?after=garbage&access_token=${token}`), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?platform=myspace&access_token=${token}`), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations`), 104);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/${PAGE}/conversations?access_token=garbage`), 190);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token?client_id=${FB_APP.id}&client_secret=${FB_APP.secret}&redirect_uri=${REDIRECT}&code=bogus`), 100);
      assertGraphError(await get(`${s.url}/graph.facebook.com/v25.0/oauth/access_token`), 101);
      assertGraphError(await get(`${s.url}/graph.instagram.com/v25.0/me/nothing/here?access_token=x`), 190);
      const igBad = await get(`${s.url}/api.instagram.com/oauth/access_token`, { method: 'POST', body: 'garbage%%' });
      assert.equal(igBad.status, 400);
      assert.equal(igBad.json.error_type, 'OAuthException');
    });

    test('the webhook verification handshake is simulated against our endpoint', async () => {
      const verifier = await (async () => {
        const { createServer } = await import('node:http');
        const server = createServer((req, res) => {
          const u = new URL(req.url!, 'http://x');
          const ok = u.searchParams.get('hub.mode') === 'subscribe' && u.searchParams.get('hub.verify_token') === 'sandbox-meta-verify-token';
          res.writeHead(ok ? 200 : 403).end(ok ? u.searchParams.get('hub.challenge')! : 'no');
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        return server;
      })();
      try {
        const port = (verifier.address() as { port: number }).port;
        const ok = await post(`${s.url}/graph.facebook.com/__sandbox/verify-webhook`, { url: `http://127.0.0.1:${port}/webhooks/meta`, challenge: '1158201444' });
        assert.deepEqual(ok.json, { status: 200, body: '1158201444', verified: true });
        const bad = await post(`${s.url}/graph.facebook.com/__sandbox/verify-webhook`, { url: `http://127.0.0.1:${port}/webhooks/meta`, verifyToken: 'wrong' });
        assert.equal(bad.json.verified, false);
        assert.equal(bad.json.status, 403);
      } finally { await new Promise((r) => verifier.close(r)); }
    });
  });
});
