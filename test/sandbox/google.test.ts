// Contract tests of the Google simulator: OAuth 2.0 (consent, code exchange, refresh, revocation,
// lifetimes), Gmail (messages, threads, history + 404 horizon, send + threading, upload send,
// watch + Pub/Sub push), quota and injected faults in Google's error shape.
//
// Requests are made as @googleapis/gmail makes them (rootUrl + gmail/v1/users/{userId}/…, array
// params repeated, JSON bodies, multipart/related upload). When @googleapis/gmail and
// google-auth-library are installed, the last suite runs the official clients unchanged as well.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { GooglePlatform } from '../../sandbox/platforms/google';
import { useSandbox, webhookReceiver } from '../helpers/sandbox';

/** fetch with `json()` typed loosely, for asserting on response bodies. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseResponse = Omit<Response, 'json'> & { json(): Promise<any> };
const http = (input: string | URL, init?: RequestInit) => fetch(input, init) as Promise<LooseResponse>;

const REDIRECT = 'http://localhost:3000/v1/oauth/callback';
const SCOPES = ['https://www.googleapis.com/auth/gmail.modify', 'openid', 'email'];

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

describe('google sandbox', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let app: { id: string; secret: string; extra: { pushToken: string } };
  let mailbox: string;
  let google: GooglePlatform;

  before(async () => {
    sb = await useSandbox({ platforms: ['google'] });
    hooks = await webhookReceiver();
    app = (await sb.admin('GET', '/apps')).json.google;
    mailbox = (await sb.admin('GET', '/world')).json.google.mailboxes[0].emailAddress;
    google = sb.sandbox.platforms.get('google') as GooglePlatform;
    await sb.admin('PUT', '/webhooks/targets/google', { url: `${hooks.url}/gmail/push` });
  });
  after(async () => { await sb.close(); await hooks.close(); });

  const consentUrl = (extra: Record<string, string> = {}) => {
    const u = new URL(`${sb.url}/accounts.google.com/o/oauth2/v2/auth`);
    const params = { client_id: app.id, redirect_uri: REDIRECT, response_type: 'code', scope: SCOPES.join(' '), access_type: 'offline', prompt: 'consent', state: 'st-1', include_granted_scopes: 'true', ...extra };
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  };
  const token = (form: Record<string, string>) => http(`${sb.url}/oauth2.googleapis.com/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form),
  });
  async function connect() {
    const res = await http(consentUrl({ sandbox_decision: 'approve' }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const t = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: app.id, client_secret: app.secret });
    assert.equal(t.status, 200);
    return t.json() as Promise<{ access_token: string; refresh_token?: string; expires_in: number; scope: string; token_type: string }>;
  }
  /** A Gmail call the way the generated client builds it. */
  const gmail = (accessToken: string, path: string, init: { method?: string; query?: Record<string, string | string[]>; body?: unknown } = {}) => {
    const u = new URL(`${sb.url}/gmail.googleapis.com/gmail/v1/users/me${path}`);
    for (const [k, v] of Object.entries(init.query ?? {})) for (const item of [v].flat()) u.searchParams.append(k, item);
    return http(u, { method: init.method ?? 'GET', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  };
  const assertGoogleError = async (res: LooseResponse, code: number, reason: string, status: string) => {
    assert.equal(res.status, code);
    const body = await res.json();
    assert.equal(body.error.code, code);
    assert.equal(body.error.status, status);
    assert.equal(typeof body.error.message, 'string');
    assert.equal(body.error.errors[0].reason, reason);
    assert.equal(typeof body.error.errors[0].domain, 'string');
    assert.equal(typeof body.error.errors[0].message, 'string');
    return body;
  };

  test('consent: approve redirects with code, scope and state; deny → access_denied; bad redirect_uri → error page', async () => {
    const page = await http(consentUrl());
    assert.equal(page.status, 200);
    assert.match(await page.text(), /decision/);
    const approved = await http(consentUrl({ sandbox_decision: 'approve' }), { redirect: 'manual' });
    assert.equal(approved.status, 302);
    const cb = new URL(approved.headers.get('location')!);
    assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT);
    assert.match(cb.searchParams.get('code')!, /^4\/0A/);
    assert.equal(cb.searchParams.get('scope'), SCOPES.join(' '));
    assert.equal(cb.searchParams.get('state'), 'st-1');
    const denied = new URL((await http(consentUrl({ sandbox_decision: 'deny' }), { redirect: 'manual' })).headers.get('location')!);
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st-1');
    const mismatch = await http(consentUrl({ redirect_uri: 'https://evil.example/cb' }), { redirect: 'manual' });
    assert.equal(mismatch.status, 400);
    assert.match(await mismatch.text(), /redirect_uri_mismatch/);
  });

  test('token endpoint: code exchange, refresh (no rotation), lifetimes from ctx.tokens, errors', async () => {
    const first = await connect();
    assert.match(first.access_token, /^ya29\./);
    assert.match(first.refresh_token!, /^1\/\//);
    assert.equal(first.expires_in, 3599);
    assert.equal(first.token_type, 'Bearer');
    assert.equal(first.scope, SCOPES.join(' '));

    await sb.admin('PUT', '/tokens/ttl', { platform: 'google', kind: 'access', seconds: 120 });
    try {
      const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: app.id, client_secret: app.secret });
      assert.equal(refreshed.status, 200);
      const body = await refreshed.json();
      assert.equal(body.expires_in, 120);
      assert.equal(body.refresh_token, undefined);
      assert.notEqual(body.access_token, first.access_token);
    } finally {
      await sb.admin('PUT', '/tokens/ttl', { platform: 'google', kind: 'access', seconds: null });
    }
    const bad = await token({ grant_type: 'authorization_code', code: '4/0Anope', redirect_uri: REDIRECT, client_id: app.id, client_secret: app.secret });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, 'invalid_grant');
    const wrongClient = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: app.id, client_secret: 'nope' });
    assert.equal(wrongClient.status, 401);
    assert.equal((await wrongClient.json()).error, 'invalid_client');
    assert.equal((await (await token({ grant_type: 'password', client_id: app.id, client_secret: app.secret })).json()).error, 'unsupported_grant_type');
  });

  test('revocation via the admin API → invalid_grant on refresh, 401 authError on Gmail', async () => {
    const t = await connect();
    await sb.admin('POST', '/tokens/revoke', { platform: 'google', subject: mailbox });
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token!, client_id: app.id, client_secret: app.secret });
    assert.equal(refreshed.status, 400);
    assert.deepEqual(await refreshed.json(), { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    const res = await gmail(t.access_token, '/profile');
    assert.match(res.headers.get('www-authenticate') ?? '', /invalid_token/);
    await assertGoogleError(res, 401, 'authError', 'UNAUTHENTICATED');
    await sb.admin('POST', '/tokens/restore', { platform: 'google', subject: mailbox });

    // The revoke endpoint (?token=) ends the grant.
    const other = await connect();
    assert.equal((await http(`${sb.url}/oauth2.googleapis.com/revoke?token=${encodeURIComponent(other.access_token)}`, { method: 'POST' })).status, 200);
    const after = await token({ grant_type: 'refresh_token', refresh_token: other.refresh_token!, client_id: app.id, client_secret: app.secret });
    assert.equal((await after.json()).error, 'invalid_grant');
  });

  test('messages list/get in every format, threads list/get', async () => {
    const { access_token: at } = await connect();
    const list = await (await gmail(at, '/messages', { query: { labelIds: ['INBOX'], maxResults: '2' } })).json();
    assert.equal(list.messages.length, 2);
    assert.ok(list.nextPageToken);
    assert.equal(typeof list.resultSizeEstimate, 'number');
    const page2 = await (await gmail(at, '/messages', { query: { labelIds: ['INBOX'], maxResults: '2', pageToken: list.nextPageToken } })).json();
    assert.notEqual(page2.messages[0].id, list.messages[0].id);

    const id = list.messages[0].id;
    const full = await (await gmail(at, `/messages/${id}`, { query: { format: 'full' } })).json();
    assert.equal(full.id, id);
    assert.match(full.internalDate, /^\d{13}$/);
    assert.match(full.historyId, /^\d+$/);
    assert.ok(full.labelIds.includes('INBOX'));
    assert.equal(typeof full.snippet, 'string');
    assert.equal(full.payload.partId, '');
    assert.ok(full.payload.headers.some((h: { name: string }) => h.name === 'Subject'));
    assert.ok(Buffer.from(full.payload.body.data, 'base64url').toString('utf8').startsWith('Hello'));

    const meta = await (await gmail(at, `/messages/${id}`, { query: { format: 'metadata', metadataHeaders: ['From', 'Subject'] } })).json();
    assert.deepEqual(meta.payload.headers.map((h: { name: string }) => h.name).sort(), ['From', 'Subject']);
    const raw = await (await gmail(at, `/messages/${id}`, { query: { format: 'raw' } })).json();
    assert.match(Buffer.from(raw.raw, 'base64url').toString('utf8'), /^From: /m);
    assert.equal(raw.payload, undefined);
    const minimal = await (await gmail(at, `/messages/${id}`, { query: { format: 'minimal' } })).json();
    assert.equal(minimal.payload, undefined);
    assert.equal(minimal.threadId, full.threadId);

    await assertGoogleError(await gmail(at, '/messages/ffff0000ffff0000'), 404, 'notFound', 'NOT_FOUND');
    await assertGoogleError(await gmail(at, `/messages/${id}`, { query: { format: 'bogus' } }), 400, 'invalidArgument', 'INVALID_ARGUMENT');

    const threads = await (await gmail(at, '/threads', { query: { maxResults: '10' } })).json();
    assert.equal(threads.threads.length, 2);
    assert.deepEqual(Object.keys(threads.threads[0]).sort(), ['historyId', 'id', 'snippet']);
    const thread = await (await gmail(at, `/threads/${full.threadId}`)).json();
    assert.equal(thread.id, full.threadId);
    assert.equal(thread.messages.length, 3);
    assert.ok(thread.messages[0].internalDate <= thread.messages[1].internalDate);
  });

  test('messages.batchModify: UNREAD removed from the ids given (unknown ids ignored), 204; bad input → 400; read-only scope → 403', async () => {
    const { access_token: at } = await connect();
    const unread = async () => ((await (await gmail(at, '/messages', { query: { q: 'is:unread' } })).json()).messages ?? []).map((m: { id: string }) => m.id);
    const ids: string[] = await unread();
    assert.ok(ids.length > 0, 'the seeded world has unread mail');
    const [first, ...others] = ids;
    const profile = await (await gmail(at, '/profile')).json();
    const res = await gmail(at, '/messages/batchModify', { method: 'POST', body: { ids: [first, 'ffff0000ffff0000'], removeLabelIds: ['UNREAD'] } });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    assert.deepEqual((await unread()).sort(), [...others].sort(), 'only the id given was marked read');
    const msg = await (await gmail(at, `/messages/${first}`, { query: { format: 'minimal' } })).json();
    assert.ok(!msg.labelIds.includes('UNREAD'));
    const history = await (await gmail(at, '/history', { query: { startHistoryId: profile.historyId, historyTypes: ['labelRemoved'] } })).json();
    assert.deepEqual(history.history.flatMap((h: { labelsRemoved?: { message: { id: string }; labelIds: string[] }[] }) => h.labelsRemoved ?? []).map((r: { message: { id: string }; labelIds: string[] }) => [r.message.id, r.labelIds]), [[first, ['UNREAD']]]);
    // Again: nothing changes, no new history.
    assert.equal((await gmail(at, '/messages/batchModify', { method: 'POST', body: { ids: [first], removeLabelIds: ['UNREAD'] } })).status, 204);
    const again = await (await gmail(at, '/history', { query: { startHistoryId: profile.historyId, historyTypes: ['labelRemoved'] } })).json();
    assert.equal(again.history.length, 1);

    const bad = (body: unknown) => gmail(at, '/messages/batchModify', { method: 'POST', body });
    await assertGoogleError(await bad({ ids: [], removeLabelIds: ['UNREAD'] }), 400, 'invalidArgument', 'INVALID_ARGUMENT');
    await assertGoogleError(await bad({ ids: [first], removeLabelIds: ['NOT_A_LABEL'] }), 400, 'invalidArgument', 'INVALID_ARGUMENT');
    await assertGoogleError(await bad({ ids: ['not hex!'], removeLabelIds: ['UNREAD'] }), 400, 'invalidArgument', 'INVALID_ARGUMENT');
    await assertGoogleError(await bad({ ids: Array.from({ length: 1001 }, (_, i) => i.toString(16)), removeLabelIds: ['UNREAD'] }), 400, 'invalidArgument', 'INVALID_ARGUMENT');
    await assertGoogleError(await bad({ ids: [first] }), 400, 'invalidArgument', 'INVALID_ARGUMENT');

    const consent = await http(consentUrl({ sandbox_decision: 'approve', scope: 'https://www.googleapis.com/auth/gmail.readonly', include_granted_scopes: 'false' }), { redirect: 'manual' });
    const code = new URL(consent.headers.get('location')!).searchParams.get('code')!;
    const readonly = await (await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: app.id, client_secret: app.secret })).json();
    await assertGoogleError(await gmail(readonly.access_token, '/messages/batchModify', { method: 'POST', body: { ids: others, removeLabelIds: ['UNREAD'] } }), 403, 'insufficientPermissions', 'PERMISSION_DENIED');
  });

  test('send: raw RFC 2822 reply lands in the thread; missing recipient → 400; upload variant', async () => {
    const { access_token: at } = await connect();
    const threadId = (await (await gmail(at, '/threads')).json()).threads[0].id;
    const parent = (await (await gmail(at, `/threads/${threadId}`, { query: { format: 'metadata' } })).json()).messages.at(-1);
    const header = (name: string) => parent.payload.headers.find((h: { name: string; value: string }) => h.name === name)?.value;
    const reply = [
      `To: ${header('From')}`, `Subject: Re: ${header('Subject').replace(/^Re: /, '')}`,
      `In-Reply-To: ${header('Message-ID')}`, `References: ${header('References') ?? ''} ${header('Message-ID')}`.replace('  ', ' '),
      'Content-Type: text/plain; charset=UTF-8', '', 'Thanks, it ships tomorrow.',
    ].join('\r\n');
    const sent = await gmail(at, '/messages/send', { method: 'POST', body: { raw: b64url(reply), threadId } });
    assert.equal(sent.status, 200);
    const sentBody = await sent.json();
    assert.deepEqual(Object.keys(sentBody).sort(), ['id', 'labelIds', 'threadId']);
    assert.equal(sentBody.threadId, threadId);
    assert.deepEqual(sentBody.labelIds, ['SENT']);
    const stored = await (await gmail(at, `/messages/${sentBody.id}`, { query: { format: 'metadata', metadataHeaders: ['Message-ID', 'From'] } })).json();
    assert.match(stored.payload.headers.find((h: { name: string }) => h.name === 'Message-ID').value, /^<.+@.+>$/);
    assert.match(stored.payload.headers.find((h: { name: string }) => h.name === 'From').value, new RegExp(mailbox));

    // threadId without matching References/Subject starts a new thread, as Gmail does.
    const unrelated = await (await gmail(at, '/messages/send', { method: 'POST', body: { raw: b64url('To: a@example.com\r\nSubject: Other\r\n\r\nhi'), threadId } })).json();
    assert.notEqual(unrelated.threadId, threadId);

    const noRecipient = await gmail(at, '/messages/send', { method: 'POST', body: { raw: b64url('Subject: x\r\n\r\nbody') } });
    const err = await assertGoogleError(noRecipient, 400, 'invalidArgument', 'INVALID_ARGUMENT');
    assert.equal(err.error.message, 'Recipient address required');
    await assertGoogleError(await gmail(at, '/messages/send', { method: 'POST', body: {} }), 400, 'invalidArgument', 'INVALID_ARGUMENT');

    const upload = await http(`${sb.url}/gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media`, {
      method: 'POST', headers: { authorization: `Bearer ${at}`, 'content-type': 'message/rfc822' }, body: 'To: b@example.com\r\nSubject: Upload\r\n\r\nvia upload',
    });
    assert.equal(upload.status, 200);
    assert.deepEqual((await upload.json()).labelIds, ['SENT']);
  });

  test('history: messageAdded after a customer writes; 404 once the horizon passes the start id', async () => {
    const { access_token: at } = await connect();
    const start = (await (await gmail(at, '/profile')).json()).historyId;
    const written = await sb.admin('POST', '/customers/google/messages', { customerId: 'new.customer@example.com', text: 'Where is my parcel?' });
    assert.equal(written.status, 201);
    const history = await (await gmail(at, '/history', { query: { startHistoryId: start, historyTypes: ['messageAdded'] } })).json();
    assert.equal(history.history.length, 1);
    assert.equal(history.history[0].messagesAdded[0].message.id, written.json.messageId);
    assert.ok(history.history[0].messagesAdded[0].message.labelIds.includes('INBOX'));
    assert.ok(BigInt(history.historyId) > BigInt(start));
    assert.ok(BigInt(history.history[0].id) > BigInt(start));
    const nothingNew = await (await gmail(at, '/history', { query: { startHistoryId: history.historyId } })).json();
    assert.equal(nothingNew.history, undefined);
    assert.equal(nothingNew.historyId, history.historyId);

    google.expireHistory();
    await assertGoogleError(await gmail(at, '/history', { query: { startHistoryId: start } }), 404, 'notFound', 'NOT_FOUND');
    // The current id still works after a forced horizon.
    assert.equal((await gmail(at, '/history', { query: { startHistoryId: history.historyId } })).status, 200);
    await assertGoogleError(await gmail(at, '/history'), 400, 'invalidArgument', 'INVALID_ARGUMENT');
  });

  test('watch + push: Pub/Sub envelope with base64 {emailAddress, historyId}, push token in the URL; stop ends it', async () => {
    const { access_token: at } = await connect();
    await assertGoogleError(await gmail(at, '/watch', { method: 'POST', body: { topicName: 'not-a-topic' } }), 400, 'invalidArgument', 'INVALID_ARGUMENT');
    const watch = await (await gmail(at, '/watch', { method: 'POST', body: { topicName: 'projects/switchboard/topics/gmail', labelIds: ['INBOX'], labelFilterBehavior: 'include' } })).json();
    assert.match(watch.historyId, /^\d+$/);
    assert.match(watch.expiration, /^\d{13}$/);
    assert.ok(Number(watch.expiration) - Date.now() > 6 * 86400_000);

    const before = hooks.received.length;
    await sb.admin('POST', '/customers/google/messages', { text: 'push me' });
    const push = (await hooks.waitFor(before + 1))[before]!;
    const url = new URL(push.url, hooks.url);
    assert.equal(url.pathname, '/gmail/push');
    assert.equal(url.searchParams.get('token'), app.extra.pushToken);
    const envelope = JSON.parse(push.body);
    assert.deepEqual(Object.keys(envelope).sort(), ['message', 'subscription']);
    assert.equal(envelope.subscription, 'projects/switchboard/subscriptions/gmail-push');
    assert.match(envelope.message.messageId, /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(envelope.message.publishTime)));
    const data = JSON.parse(Buffer.from(envelope.message.data, 'base64').toString('utf8'));
    assert.equal(data.emailAddress, mailbox);
    assert.ok(BigInt(data.historyId) > BigInt(watch.historyId));

    assert.equal((await gmail(at, '/stop', { method: 'POST' })).status, 204);
    await sb.admin('POST', '/customers/google/messages', { text: 'no push now' });
    await sb.sandbox.ctx.webhooks.idle(2000);
    assert.equal(hooks.received.length, before + 1);
  });

  test('quota: units per user per minute → 429 rateLimitExceeded with Retry-After', async () => {
    const { access_token: at } = await connect();
    const saved = google.world.options.quotaUnitsPerUserPerMinute;
    google.world.options.quotaUnitsPerUserPerMinute = 250; // watch costs 100 units
    try {
      await sb.admin('POST', '/clock', { advanceSeconds: 61 }); // a fresh quota minute
      const fresh = (await connect()).access_token;
      for (let i = 0; i < 2; i++) assert.equal((await gmail(fresh, '/watch', { method: 'POST', body: { topicName: 'projects/p/topics/t' } })).status, 200);
      const limited = await gmail(fresh, '/watch', { method: 'POST', body: { topicName: 'projects/p/topics/t' } });
      const retryAfter = Number(limited.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
      const body = await assertGoogleError(limited, 429, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED');
      assert.equal(body.error.errors[0].domain, 'usageLimits');
      await gmail(fresh, '/stop', { method: 'POST' });
    } finally {
      google.world.options.quotaUnitsPerUserPerMinute = saved;
    }
    void at;
  });

  test('injected faults are rendered in Google\'s error shape, rate limits with Retry-After', async () => {
    const { access_token: at } = await connect();
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.list', rateLimitRate: 1, retryAfterSeconds: 9, remaining: 1 });
    const limited = await gmail(at, '/messages');
    assert.equal(limited.headers.get('retry-after'), '9');
    await assertGoogleError(limited, 429, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED');
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.list', errorRate: 1, errorStatus: 503, remaining: 1 });
    await assertGoogleError(await gmail(at, '/messages'), 503, 'backendError', 'UNAVAILABLE');
    await sb.admin('POST', '/faults', { platform: 'google', endpoint: 'messages.list', errorRate: 1, errorStatus: 403, remaining: 1 });
    await assertGoogleError(await gmail(at, '/messages'), 403, 'userRateLimitExceeded', 'PERMISSION_DENIED');
    assert.equal((await gmail(at, '/messages')).status, 200);
  });

  // Last: moves the sandbox clock past the retention horizon.
  test('history ages out with sandbox time (retention horizon)', async () => {
    const { access_token: at } = await connect();
    const start = (await (await gmail(at, '/profile')).json()).historyId;
    await sb.admin('POST', '/customers/google/messages', { text: 'old news' });
    await sb.admin('POST', '/clock', { advanceSeconds: 8 * 86400 });
    const fresh = (await connect()).access_token;
    await assertGoogleError(await gmail(fresh, '/history', { query: { startHistoryId: start } }), 404, 'notFound', 'NOT_FOUND');
  });

  // ---- the official clients, unchanged except for base URLs -----------------------------------
  test('official @googleapis/gmail + google-auth-library clients work against the sandbox', async () => {
    const load = async (name: string): Promise<Record<string, unknown> | null> => {
      try { return (await import(name)) as Record<string, unknown>; } catch { return null; }
    };
    const gmailMod = await load(['@googleapis', 'gmail'].join('/'));
    const authMod = await load('google-auth-library');
    assert.ok(gmailMod && authMod, '@googleapis/gmail and google-auth-library must be installed (npm ci)');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const { OAuth2Client } = authMod as any;
    const oauth = new OAuth2Client({
      clientId: app.id, clientSecret: app.secret, redirectUri: REDIRECT,
      endpoints: { oauth2AuthBaseUrl: `${sb.url}/accounts.google.com/o/oauth2/v2/auth`, oauth2TokenUrl: `${sb.url}/oauth2.googleapis.com/token`, oauth2RevokeUrl: `${sb.url}/oauth2.googleapis.com/revoke` },
    });
    const authUrl: string = oauth.generateAuthUrl({ access_type: 'offline', prompt: 'consent', scope: SCOPES, state: 'lib' });
    const cb = new URL((await http(`${authUrl}&sandbox_decision=approve`, { redirect: 'manual' })).headers.get('location')!);
    const { tokens } = await oauth.getToken(cb.searchParams.get('code'));
    assert.ok(tokens.refresh_token);
    oauth.setCredentials(tokens);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const client = (gmailMod as any).gmail({ version: 'v1', auth: oauth, rootUrl: `${sb.url}/gmail.googleapis.com/` });
    const list = await client.users.messages.list({ userId: 'me', labelIds: ['INBOX'], maxResults: 5 });
    assert.ok(list.data.messages.length > 0);
    const msg = await client.users.messages.get({ userId: 'me', id: list.data.messages[0].id, format: 'metadata', metadataHeaders: ['Subject'] });
    assert.equal(msg.data.payload.headers[0].name, 'Subject');
    const thread = await client.users.threads.get({ userId: 'me', id: msg.data.threadId });
    assert.ok(thread.data.messages.length >= 1);
    const profile = await client.users.getProfile({ userId: 'me' });
    const history = await client.users.history.list({ userId: 'me', startHistoryId: profile.data.historyId });
    assert.equal(history.data.historyId, profile.data.historyId);
    const sent = await client.users.messages.send({ userId: 'me', requestBody: { raw: b64url('To: c@example.com\r\nSubject: lib\r\n\r\nfrom the official client') } });
    assert.deepEqual(sent.data.labelIds, ['SENT']);
    // Media uploads ignore the global rootUrl (googleapis-common builds mediaUrl from the per-call
    // rootUrl only), so the upload call passes it per call.
    const uploaded = await client.users.messages.send(
      { userId: 'me', requestBody: {}, media: { mimeType: 'message/rfc822', body: 'To: d@example.com\r\nSubject: lib upload\r\n\r\nmultipart' } },
      { rootUrl: `${sb.url}/gmail.googleapis.com/` },
    );
    assert.deepEqual(uploaded.data.labelIds, ['SENT']);
    await assert.rejects(client.users.history.list({ userId: 'me', startHistoryId: '1' }), (err: { code?: number; status?: number }) => (err.code ?? err.status) === 404);
    const refreshed = await oauth.refreshAccessToken();
    assert.ok(refreshed.credentials.access_token);
    await oauth.revokeToken(tokens.access_token);
  });
});
