// Facebook Login and Instagram Login: the consent dialogs (HTML for people, `sandbox_action`
// for tests and scripts), code → token exchanges, short → long-lived tokens, Instagram token
// refresh, debug_token, and /me/permissions (list and deauthorize).
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { IssuedToken } from '../../core/tokens';
import { Errors, GraphError } from './errors';
import { escapeHtml, htmlPage, PLATFORM, stringParam, tokenProblem, type MetaEnv } from './http';
import type { AuthCode } from './state';

export const FACEBOOK_SCOPES = [
  'public_profile', 'email', 'pages_show_list', 'pages_manage_metadata', 'pages_messaging', 'pages_read_engagement',
  'pages_read_user_content', 'pages_manage_posts', 'business_management', 'instagram_basic', 'instagram_manage_messages',
  'instagram_manage_comments', 'whatsapp_business_messaging', 'whatsapp_business_management',
] as const;
/** What a Facebook Login for Business `config_id` grants in the sandbox (Messenger + Instagram). */
export const CONFIG_SCOPES = ['pages_show_list', 'pages_manage_metadata', 'pages_messaging', 'pages_read_engagement', 'business_management', 'instagram_basic', 'instagram_manage_messages'];
export const INSTAGRAM_SCOPES = ['instagram_business_basic', 'instagram_business_manage_messages', 'instagram_business_manage_comments', 'instagram_business_content_publish', 'instagram_business_manage_insights'] as const;

export const TTL = {
  code: 600,
  userShort: 2 * 3600,
  userLong: 60 * 86400,
  igShort: 3600,
  igLong: 60 * 86400,
  dataAccess: 90 * 86400,
} as const;

const splitScopes = (raw: string | undefined) => (raw ?? '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
const newCode = () => `AQ${randomBytes(48).toString('base64url')}`;

/** Appends params to a redirect URI (keeping its own query) plus an optional fragment, as the dialogs do. */
function redirectTo(uri: string, params: Record<string, string>, fragment?: string): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  return `${url.toString()}${fragment ?? ''}`;
}

/** A dialog request as validated before any redirect (never redirect to an unregistered URI). */
interface DialogRequest { clientId: string; redirectUri: string; state?: string; scopes: string[]; action?: string; decline: string[]; params: Record<string, string> }

function readDialog(c: Context, rawBody: string): Record<string, string> {
  const params: Record<string, string> = { ...c.req.query() };
  if (c.req.method === 'POST') for (const [k, v] of new URLSearchParams(rawBody)) if (k !== 'granted_scopes') params[k] = v;
  return params;
}

export function facebookDialog(env: MetaEnv) {
  const { ctx, world } = env;
  const dialogError = (status: number, title: string, text: string, c: Context) =>
    c.html(htmlPage(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`), status as 400);

  return (c: Context, rawBody: string): Response => {
    const p = readDialog(c, rawBody);
    const app = ctx.apps.byId('meta', p.client_id);
    if (!p.client_id) return dialogError(400, 'Error', 'The parameter app_id is required', c);
    if (!app) return dialogError(400, 'Invalid App ID', 'The provided app ID does not look like a valid app ID.', c);
    if (!p.redirect_uri || !app.redirectUris.includes(p.redirect_uri)) {
      return dialogError(400, 'URL blocked', "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid OAuth Redirect URIs.", c);
    }
    if (p.response_type && p.response_type !== 'code') return dialogError(400, 'Error', 'The sandbox dialog supports response_type=code only.', c);
    const scopes = p.config_id ? CONFIG_SCOPES : splitScopes(p.scope ?? 'public_profile');
    const invalid = scopes.filter((s) => !(FACEBOOK_SCOPES as readonly string[]).includes(s));
    if (invalid.length) return dialogError(400, 'Invalid Scopes', `Invalid Scopes: ${invalid.join(', ')}. This message is only shown to developers.`, c);
    const req: DialogRequest = { clientId: app.id, redirectUri: p.redirect_uri, state: p.state, scopes, action: p.sandbox_action ?? p.action, decline: splitScopes(p.sandbox_decline), params: p };
    if (c.req.method === 'POST' && p.consent_form === '1') {
      // Unchecked boxes are not submitted: what the person left checked is what they grant.
      const checked = new URLSearchParams(rawBody).getAll('granted_scopes');
      req.decline = scopes.filter((s) => !checked.includes(s));
    }
    if (req.action === 'deny') {
      return c.redirect(redirectTo(req.redirectUri, { error: 'access_denied', error_reason: 'user_denied', error_description: 'Permissions error', ...(req.state !== undefined ? { state: req.state } : {}) }, '#_=_'), 302);
    }
    if (req.action !== 'approve') return c.html(consentPage(c, req, world.user.name, 'Facebook', 'Continue as ' + world.user.name));

    // Approve: earlier grants persist, newly declined scopes are removed (auth_type=rerequest re-asks).
    const grant = world.grants.get(world.user.id) ?? { userId: world.user.id, granted: [], declined: [] };
    const granted = new Set(grant.granted);
    for (const s of scopes) if (!req.decline.includes(s)) granted.add(s);
    for (const s of req.decline) granted.delete(s);
    grant.granted = [...granted];
    grant.declined = [...new Set([...grant.declined.filter((s) => !granted.has(s)), ...req.decline])];
    world.grants.set(world.user.id, grant);
    const code: AuthCode = { code: newCode(), kind: 'facebook', clientId: app.id, redirectUri: req.redirectUri, subject: world.user.id, scopes: grant.granted, expiresAt: ctx.now() + TTL.code * 1000 };
    world.codes.set(code.code, code);
    return c.redirect(redirectTo(req.redirectUri, { code: code.code, ...(req.state !== undefined ? { state: req.state } : {}) }, '#_=_'), 302);
  };
}

export function instagramDialog(env: MetaEnv) {
  const { ctx, world } = env;
  const oauthError = (c: Context, message: string) => c.json({ error_type: 'OAuthException', code: 400, error_message: message }, 400);
  return (c: Context, rawBody: string): Response => {
    const p = readDialog(c, rawBody);
    const app = ctx.apps.byId('instagram', p.client_id);
    if (!app) return oauthError(c, 'Invalid platform app');
    if (!p.redirect_uri || !app.redirectUris.includes(p.redirect_uri)) return oauthError(c, 'Invalid redirect_uri');
    if (p.response_type !== undefined && p.response_type !== 'code') return oauthError(c, 'Invalid response_type');
    const scopes = splitScopes(p.scope ?? 'instagram_business_basic');
    const invalid = scopes.filter((s) => !(INSTAGRAM_SCOPES as readonly string[]).includes(s));
    if (invalid.length) return oauthError(c, `Invalid scope: ${invalid.join(',')}`);
    const account = world.igByAnyId(p.sandbox_account ?? '') ?? [...world.igAccounts.values()].find((ig) => !ig.pageId);
    if (!account) return oauthError(c, 'No Instagram professional account in the sandbox world');
    let decline = splitScopes(p.sandbox_decline);
    if (c.req.method === 'POST' && p.consent_form === '1') {
      const checked = new URLSearchParams(rawBody).getAll('granted_scopes');
      decline = scopes.filter((s) => !checked.includes(s));
    }
    const action = p.sandbox_action ?? p.action;
    if (action === 'deny') {
      return c.redirect(redirectTo(p.redirect_uri, { error: 'access_denied', error_reason: 'user_denied', error_description: 'The user denied your request', ...(p.state !== undefined ? { state: p.state } : {}) }), 302);
    }
    if (action !== 'approve') return c.html(consentPage(c, { clientId: app.id, redirectUri: p.redirect_uri, state: p.state, scopes, decline: [], params: p }, `@${account.username}`, 'Instagram', 'Allow'));
    const shape = p.sandbox_response_shape === 'data' ? 'data' : 'flat';
    const code: AuthCode = { code: newCode(), kind: 'instagram', clientId: app.id, redirectUri: p.redirect_uri, subject: account.id, scopes: scopes.filter((s) => !decline.includes(s)), expiresAt: ctx.now() + TTL.code * 1000, responseShape: shape };
    world.codes.set(code.code, code);
    // Instagram appends "#_" to the redirect; it is a fragment, so servers never see it.
    return c.redirect(redirectTo(p.redirect_uri, { code: code.code, ...(p.state !== undefined ? { state: p.state } : {}) }, '#_'), 302);
  };
}

function consentPage(c: Context, req: DialogRequest, who: string, brand: string, approveLabel: string): string {
  const hidden = Object.entries(req.params)
    .filter(([k]) => !['action', 'sandbox_action', 'sandbox_decline', 'consent_form'].includes(k))
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
  const boxes = req.scopes.map((s) => `<label><input type="checkbox" name="granted_scopes" value="${escapeHtml(s)}" checked> ${escapeHtml(s)}</label><br>`).join('');
  return htmlPage(`${brand} — sandbox consent`, `<h1>${escapeHtml(brand)} (sandbox)</h1><p>${escapeHtml(who)} is asked to allow app ${escapeHtml(req.clientId)} to:</p>`
    + `<form method="post" action="${escapeHtml(c.req.path)}">${hidden}<input type="hidden" name="consent_form" value="1">${boxes}<p>`
    + `<button name="action" value="approve" type="submit">${escapeHtml(approveLabel)}</button>`
    + `<button name="action" value="deny" type="submit">Cancel</button></p></form>`
    + '<p><small>Scripts: add <code>sandbox_action=approve|deny</code> (and <code>sandbox_decline=scope,…</code>) to the dialog URL to skip this page.</small></p>');
}

/** `GET|POST graph.facebook.com/{ver}/oauth/access_token`: authorization code, fb_exchange_token, client_credentials. */
export function facebookTokenEndpoint(env: MetaEnv) {
  const { ctx, world } = env;
  return (params: Record<string, unknown>): Record<string, unknown> => {
    const clientId = stringParam(params, 'client_id');
    if (!clientId) throw new GraphError(101, 'Missing client_id parameter.');
    const app = ctx.apps.byId('meta', clientId);
    if (!app) throw new GraphError(101, 'Error validating application. Invalid application ID.');
    const secret = stringParam(params, 'client_secret');
    if (!secret) throw new GraphError(1, 'Missing client_secret parameter.');
    if (secret !== app.secret) throw new GraphError(1, 'Error validating client secret.');
    const grantType = stringParam(params, 'grant_type');

    if (grantType === 'client_credentials') return { access_token: `${app.id}|${app.secret}`, token_type: 'bearer' };

    if (grantType === 'fb_exchange_token') {
      const raw = stringParam(params, 'fb_exchange_token');
      if (!raw) throw Errors.param('The parameter fb_exchange_token is required');
      const short = ctx.tokens.get(raw);
      if (!short || short.platform !== PLATFORM || !['user_short', 'user_long'].includes(short.kind)) throw Errors.unparseableToken();
      const problem = tokenProblem(env, short);
      if (problem) throw problem;
      const long = ctx.tokens.issue({ platform: PLATFORM, kind: 'user_long', subject: short.subject, app: 'meta', scopes: short.scopes, prefix: 'EAAB', ttlSeconds: TTL.userLong, meta: { userId: short.subject, dataAccessExpiresAt: ctx.now() + TTL.dataAccess * 1000 } });
      return tokenResponse(env, long);
    }
    if (grantType && grantType !== 'authorization_code') throw Errors.param(`Unsupported grant_type: ${grantType}`);

    const codeValue = stringParam(params, 'code');
    if (!codeValue) throw Errors.param('The parameter code is required');
    const code = world.codes.get(codeValue);
    if (!code || code.kind !== 'facebook' || code.clientId !== app.id) throw new GraphError(100, 'Invalid verification code format.');
    if (stringParam(params, 'redirect_uri') !== code.redirectUri) {
      throw new GraphError(100, 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request', { subcode: 36008 });
    }
    if (code.usedAt !== undefined) throw new GraphError(100, 'This authorization code has been used.', { subcode: 36009 });
    if (code.expiresAt <= ctx.now()) throw new GraphError(100, 'This authorization code has expired.', { subcode: 36007 });
    code.usedAt = ctx.now();
    const token = ctx.tokens.issue({ platform: PLATFORM, kind: 'user_short', subject: code.subject, app: 'meta', scopes: code.scopes, prefix: 'EAAB', ttlSeconds: TTL.userShort, meta: { userId: code.subject, dataAccessExpiresAt: ctx.now() + TTL.dataAccess * 1000 } });
    return tokenResponse(env, token);
  };
}

function tokenResponse(env: MetaEnv, token: IssuedToken): Record<string, unknown> {
  const expiresIn = env.ctx.tokens.expiresIn(token);
  return { access_token: token.token, token_type: 'bearer', ...(expiresIn === null ? {} : { expires_in: expiresIn }) };
}

/**
 * `POST api.instagram.com/oauth/access_token` (form). Answers in the shape chosen at authorize
 * time (`sandbox_response_shape`, default flat as observed live): flat has `user_id` as a bare
 * JSON number (the 17-digit professional id, beyond 2^53: parse it as text) and `permissions` as
 * an array; `data` is the documented `{"data":[{…}]}` with the app-scoped id and a CSV string.
 * Returns the exact body text.
 */
export function instagramCodeExchange(env: MetaEnv) {
  const { ctx, world } = env;
  const fail = (message: string) => new GraphError(400, message, { status: 400 });
  return (form: URLSearchParams): string => {
    const app = ctx.apps.byId('instagram', form.get('client_id'));
    if (!app) throw fail('Invalid platform app');
    if (form.get('client_secret') !== app.secret) throw fail('Error validating client secret.');
    if (form.get('grant_type') !== 'authorization_code') throw fail('Invalid grant_type, expected authorization_code');
    const code = world.codes.get(form.get('code') ?? '');
    if (!code || code.kind !== 'instagram' || code.clientId !== app.id) throw fail('Matching code was not found or was already used');
    if (form.get('redirect_uri') !== code.redirectUri) throw fail('Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request');
    if (code.usedAt !== undefined) throw fail('This authorization code has been used');
    if (code.expiresAt <= ctx.now()) throw fail('This authorization code has expired');
    code.usedAt = ctx.now();
    const account = world.igAccounts.get(code.subject)!;
    const token = ctx.tokens.issue({ platform: PLATFORM, kind: 'ig_short', subject: account.id, app: 'instagram', scopes: code.scopes, prefix: 'IGAA', ttlSeconds: TTL.igShort });
    if (code.responseShape === 'data') {
      return JSON.stringify({ data: [{ access_token: token.token, user_id: account.appScopedId, permissions: code.scopes.join(',') }] });
    }
    return `{"access_token":${JSON.stringify(token.token)},"user_id":${account.id},"permissions":${JSON.stringify(code.scopes)}}`;
  };
}

/** `graph.instagram.com/access_token?grant_type=ig_exchange_token` and `/refresh_access_token?grant_type=ig_refresh_token`. */
export function instagramLongLived(env: MetaEnv) {
  const { ctx } = env;
  const current = (raw: string | undefined): IssuedToken => {
    if (!raw) throw Errors.missingToken();
    const token = ctx.tokens.get(raw);
    if (!token || token.platform !== PLATFORM || !token.kind.startsWith('ig_')) throw Errors.unparseableToken();
    const problem = tokenProblem(env, token);
    if (problem) throw problem;
    return token;
  };
  const issueLong = (from: IssuedToken) => tokenResponse(env, ctx.tokens.issue({ platform: PLATFORM, kind: 'ig_long', subject: from.subject, app: 'instagram', scopes: from.scopes, prefix: 'IGAA', ttlSeconds: TTL.igLong }));
  return {
    exchange(params: Record<string, unknown>, raw: string | undefined) {
      if (stringParam(params, 'grant_type') !== 'ig_exchange_token') throw Errors.param('Param grant_type must be ig_exchange_token');
      const secret = stringParam(params, 'client_secret');
      if (!secret) throw Errors.param('The parameter client_secret is required');
      if (secret !== ctx.apps.get('instagram').secret) throw new GraphError(1, 'Error validating client secret.');
      const token = current(raw);
      if (token.kind !== 'ig_short') throw Errors.param('The access token must be a short-lived Instagram User access token');
      return issueLong(token);
    },
    refresh(params: Record<string, unknown>, raw: string | undefined) {
      if (stringParam(params, 'grant_type') !== 'ig_refresh_token') throw Errors.param('Param grant_type must be ig_refresh_token');
      const token = current(raw);
      if (token.kind !== 'ig_long') throw Errors.param('Only long-lived Instagram User access tokens can be refreshed');
      if (ctx.now() - token.issuedAt < 86_400_000) throw Errors.param('The access token must be at least 24 hours old to be refreshed');
      return issueLong(token);
    },
  };
}

/** `GET graph.facebook.com/{ver}/debug_token`: metadata of any token of our app, is_valid:false + error 190/subcode when dead. */
export function debugToken(env: MetaEnv) {
  const { ctx, world } = env;
  return (params: Record<string, unknown>, caller: string | undefined): Record<string, unknown> => {
    const app = ctx.apps.get('meta');
    if (!caller) throw Errors.param('You must provide an app access token, or a user access token that is an owner or developer of the app');
    const callerToken = ctx.tokens.get(caller);
    if (caller !== `${app.id}|${app.secret}` && !(callerToken?.platform === PLATFORM && callerToken.app === 'meta' && !tokenProblem(env, callerToken))) {
      throw new GraphError(190, 'Invalid OAuth access token signature.');
    }
    const input = stringParam(params, 'input_token');
    if (!input) throw Errors.param('The parameter input_token is required');
    const token = ctx.tokens.get(input);
    if (!token || token.platform !== PLATFORM || token.app !== 'meta') {
      return { data: { error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' }, is_valid: false, scopes: [] } };
    }
    const isPage = token.kind === 'page';
    const userId = String(token.meta?.userId ?? token.subject);
    const pageIds = [...world.pages.keys()];
    const igIds = [...world.pages.values()].flatMap((p) => (p.igAccountId ? [p.igAccountId] : []));
    const data: Record<string, unknown> = {
      app_id: app.id,
      type: isPage ? 'PAGE' : 'USER',
      application: 'Switchboard (sandbox)',
      data_access_expires_at: Math.floor(Number(token.meta?.dataAccessExpiresAt ?? token.issuedAt + TTL.dataAccess * 1000) / 1000),
      expires_at: token.expiresAt === null ? 0 : Math.floor(token.expiresAt / 1000),
      is_valid: true,
      issued_at: Math.floor(token.issuedAt / 1000),
      ...(isPage ? { profile_id: token.subject } : {}),
      scopes: token.scopes,
      granular_scopes: token.scopes.filter((s) => s !== 'public_profile').map((scope) => {
        const targets = scope.startsWith('pages_') ? (isPage ? [token.subject] : pageIds) : scope.startsWith('instagram_') ? igIds : undefined;
        return targets ? { scope, target_ids: targets } : { scope };
      }),
      user_id: userId,
    };
    const problem = tokenProblem(env, token);
    if (problem) {
      data.is_valid = false;
      delete data.issued_at;
      data.error = { code: problem.code, message: problem.message, ...(problem.opts.subcode !== undefined ? { subcode: problem.opts.subcode } : {}) };
    }
    return { data };
  };
}

/** `DELETE /me/permissions`: the person removes our app; every token of theirs dies with 190/458. */
export function deauthorize(env: MetaEnv, userId: string): void {
  for (const t of env.ctx.tokens.list({ platform: PLATFORM })) {
    if (t.app === 'meta' && String(t.meta?.userId ?? t.subject) === userId) env.ctx.tokens.revoke({ token: t.token }, { reason: 'user removed the app', code: 190, subcode: 458 });
  }
  env.world.grants.delete(userId);
  env.world.pageTokens.clear();
}
