// Login Kit OAuth v2 (www.tiktok.com authorize page, open.tiktokapis.com token/revoke/user info).
// Errors use TikTok's shapes: token endpoint `{error, error_description, log_id}`, Open API
// `{data:{}, error:{code, message, log_id}}`.
import { createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { route, type FaultRenderer } from '../../core/context';
import type { IssuedToken } from '../../core/tokens';
import { ALL_SCOPES, faultStatus, PLATFORM, type AuthCode, type TikTokWorld } from './world';

const CODE_TTL_MS = 10 * 60 * 1000;

export function registerOAuthRoutes(app: Hono, world: TikTokWorld): void {
  const { ctx } = world;

  // ---- authorize page ---------------------------------------------------------------------
  const authorizeFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') c.header('Retry-After', String(d.retryAfterSeconds));
    return c.html(errorPage('Too many requests', 'Please try again later.'), d.kind === 'rate_limit' ? 429 : (faultStatus(d)));
  };
  const authorize = route(ctx, { platform: PLATFORM, name: 'oauth.authorize', renderFault: authorizeFault }, async (c, rawBody) => {
    const q = new URL(c.req.url).searchParams;
    const form = c.req.method === 'POST' ? new URLSearchParams(rawBody) : new URLSearchParams();
    const clientKey = q.get('client_key');
    const redirectUri = q.get('redirect_uri') ?? '';
    const app = ctx.apps.byId(PLATFORM, clientKey);
    // Before the redirect URI is trusted, errors are shown on TikTok's own page, never redirected.
    if (!app) return c.html(errorPage('client_key', 'Something went wrong: the client_key is invalid.'), 400);
    if (!app.redirectUris.includes(redirectUri)) return c.html(errorPage('redirect_uri', 'Something went wrong: redirect_uri does not match a registered redirect URI.'), 400);

    const state = q.get('state');
    const back = (params: Record<string, string>) => {
      const url = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      if (state !== null) url.searchParams.set('state', state);
      return c.redirect(url.toString(), 302);
    };
    if (q.get('response_type') !== 'code') return back({ error: 'invalid_request', error_description: 'response_type must be code' });
    const requested = (q.get('scope') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (requested.length === 0) return back({ error: 'invalid_scope', error_description: 'scope is required' });
    const unknown = requested.filter((s) => !ALL_SCOPES.includes(s));
    if (unknown.length) return back({ error: 'invalid_scope', error_description: `Unknown scope: ${unknown.join(',')}` });
    const challenge = q.get('code_challenge') ?? undefined;
    if (challenge && (q.get('code_challenge_method') ?? 'S256') !== 'S256') return back({ error: 'invalid_request', error_description: 'code_challenge_method must be S256' });

    // Test drivers skip the page with ?sandbox_decision=approve|deny (or the form posts `decision`).
    const decision = form.get('decision') ?? q.get('sandbox_decision');
    const accountKey = form.get('account') ?? q.get('sandbox_account');
    const accounts = [...world.accounts.values()];
    const account = accountKey ? accounts.find((a) => a.businessId === accountKey || a.username === accountKey) : accounts[0];
    if (!decision) return c.html(consentPage(c.req.url, requested, accounts.map((a) => ({ id: a.businessId, label: `@${a.username}` }))));
    if (decision === 'deny') return back({ error: 'access_denied', error_description: 'The user denied the authorization request.' });
    if (decision !== 'approve' || !account) return c.html(errorPage('account', 'Unknown sandbox account or decision.'), 400);

    // Users may grant a subset of the requested scopes.
    const grantedParam = form.get('scopes') ?? q.get('sandbox_scopes');
    const granted = grantedParam ? requested.filter((s) => grantedParam.split(',').includes(s)) : requested;
    // Real codes contain characters that must be URL-decoded (`*`, `!`), so ours do too.
    const code = `${ctx.id('', 24)}*0!${ctx.random.int(10_000)}`;
    world.codes.set(code, { code, clientKey: app.id, redirectUri, openId: account.businessId, scopes: granted, expiresAt: ctx.now() + CODE_TTL_MS, used: false, codeChallenge: challenge });
    return back({ code, scopes: granted.join(',') });
  });
  for (const path of ['/www.tiktok.com/v2/auth/authorize/', '/www.tiktok.com/v2/auth/authorize']) {
    app.get(path, authorize);
    app.post(path, authorize);
  }

  // ---- token ------------------------------------------------------------------------------
  const oauthError = (c: Context, status: 400 | 401 | 429 | 500, error: string, description: string) =>
    c.json({ error, error_description: description, log_id: world.logId() }, status);
  const oauthFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') {
      c.header('Retry-After', String(d.retryAfterSeconds));
      return oauthError(c, 429, 'rate_limit_exceeded', 'Too many requests. Please retry after some time.');
    }
    return c.json({ error: 'internal_error', error_description: 'Internal server error.', log_id: world.logId() }, faultStatus(d));
  };

  app.post('/open.tiktokapis.com/v2/oauth/token/', route(ctx, { platform: PLATFORM, name: 'oauth.token', renderFault: oauthFault }, (c, rawBody) => {
    if (!(c.req.header('content-type') ?? '').includes('application/x-www-form-urlencoded')) {
      return oauthError(c, 400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.');
    }
    const form = new URLSearchParams(rawBody);
    const clientKey = form.get('client_key');
    const secret = form.get('client_secret');
    if (!clientKey || !secret) return oauthError(c, 400, 'invalid_request', 'client_key and client_secret are required.');
    const app = ctx.apps.byId(PLATFORM, clientKey);
    if (!app || app.secret !== secret) return oauthError(c, 401, 'invalid_client', 'Client key or secret is incorrect.');

    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const result = redeemCode(world, { code: form.get('code'), clientKey, redirectUri: form.get('redirect_uri'), codeVerifier: form.get('code_verifier') });
      if ('error' in result) return oauthError(c, 400, result.error, result.description);
      return c.json(loginKitTokenBody(world, issueTokens(world, result.openId, app.id, result.scopes)));
    }
    if (grantType === 'refresh_token') {
      const result = rotateRefreshToken(world, form.get('refresh_token'), app.id);
      if ('error' in result) return oauthError(c, 400, result.error, result.description);
      return c.json(loginKitTokenBody(world, result));
    }
    return oauthError(c, 400, grantType ? 'unsupported_grant_type' : 'invalid_request', grantType ? `Unsupported grant_type: ${grantType}` : 'grant_type is required.');
  }));

  // ---- revoke: the user's authorization of this app ends (every token for that open_id) -----
  app.post('/open.tiktokapis.com/v2/oauth/revoke/', route(ctx, { platform: PLATFORM, name: 'oauth.revoke', renderFault: oauthFault }, (c, rawBody) => {
    const form = new URLSearchParams(rawBody);
    const app = ctx.apps.byId(PLATFORM, form.get('client_key'));
    if (!app || app.secret !== form.get('client_secret')) return oauthError(c, 401, 'invalid_client', 'Client key or secret is incorrect.');
    const token = ctx.tokens.get(form.get('token'));
    if (!token || token.platform !== PLATFORM || token.app !== app.id) return oauthError(c, 400, 'invalid_request', 'The token is invalid.');
    for (const t of ctx.tokens.list({ platform: PLATFORM, subject: token.subject })) {
      if (t.app === app.id) ctx.tokens.revoke({ token: t.token }, { reason: 'revoked by the client (oauth/revoke)' });
    }
    return c.json({});
  }));

  // ---- user info --------------------------------------------------------------------------
  const openApiError = (c: Context, status: 400 | 401 | 429 | 500, code: string, message: string) =>
    c.json({ data: {}, error: { code, message, log_id: world.logId() } }, status);
  const openApiFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') {
      c.header('Retry-After', String(d.retryAfterSeconds));
      return openApiError(c, 429, 'rate_limit_exceeded', 'The API rate limit was exceeded. Please try again later.');
    }
    return c.json({ data: {}, error: { code: 'internal_error', message: 'Something went wrong. Please try again later.', log_id: world.logId() } }, faultStatus(d));
  };
  app.get('/open.tiktokapis.com/v2/user/info/', route(ctx, { platform: PLATFORM, name: 'user.info', renderFault: openApiFault }, (c) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const token = ctx.tokens.get(bearer);
    if (!token || token.platform !== PLATFORM || token.kind !== 'access' || ctx.tokens.state(token) !== 'valid') {
      return openApiError(c, 401, 'access_token_invalid', 'The access token is invalid or not found in the request.');
    }
    const account = world.accounts.get(token.subject);
    if (!account) return openApiError(c, 401, 'access_token_invalid', 'The access token is invalid or not found in the request.');
    const fields = (c.req.query('fields') ?? '').split(',').map((f) => f.trim()).filter(Boolean);
    if (fields.length === 0) return openApiError(c, 400, 'invalid_params', 'fields is required.');
    const values: Record<string, { scope: string; value: unknown }> = {
      open_id: { scope: 'user.info.basic', value: account.businessId },
      union_id: { scope: 'user.info.basic', value: account.unionId },
      avatar_url: { scope: 'user.info.basic', value: account.profileImage },
      display_name: { scope: 'user.info.basic', value: account.displayName },
      username: { scope: 'user.info.profile', value: account.username },
      bio_description: { scope: 'user.info.profile', value: 'Sandbox business account' },
      is_verified: { scope: 'user.info.profile', value: false },
      profile_deep_link: { scope: 'user.info.profile', value: `https://www.tiktok.com/@${account.username}` },
      follower_count: { scope: 'user.info.stats', value: 1200 },
      following_count: { scope: 'user.info.stats', value: 12 },
      likes_count: { scope: 'user.info.stats', value: 3400 },
      video_count: { scope: 'user.info.stats', value: 42 },
    };
    const user: Record<string, unknown> = {};
    for (const f of fields) {
      const field = values[f];
      if (!field) return openApiError(c, 400, 'invalid_params', `Invalid field: ${f}`);
      if (!token.scopes.includes(field.scope)) return openApiError(c, 401, 'scope_not_authorized', `The user did not authorize the scope required for field ${f} (${field.scope}).`);
      user[f] = field.value;
    }
    return c.json({ data: { user }, error: { code: 'ok', message: '', log_id: world.logId() } });
  }));
}

export interface TokenPair { access: IssuedToken; refresh: IssuedToken }

export function issueTokens(world: TikTokWorld, openId: string, appId: string, scopes: string[]): TokenPair {
  const grant = world.ctx.id('grant_', 8);
  const common = { platform: PLATFORM, subject: openId, app: appId, scopes, meta: { grant } };
  return {
    access: world.ctx.tokens.issue({ ...common, kind: 'access', prefix: 'act.', ttlSeconds: world.options.accessTtlSeconds }),
    refresh: world.ctx.tokens.issue({ ...common, kind: 'refresh', prefix: 'rft.', ttlSeconds: world.options.refreshTtlSeconds }),
  };
}

/** Lifetimes always from the issued tokens, so admin TTL overrides show up in the response. */
function loginKitTokenBody(world: TikTokWorld, pair: TokenPair) {
  return {
    access_token: pair.access.token,
    expires_in: world.ctx.tokens.expiresIn(pair.access) ?? 0,
    open_id: pair.access.subject,
    refresh_expires_in: world.ctx.tokens.expiresIn(pair.refresh) ?? 0,
    refresh_token: pair.refresh.token,
    scope: pair.access.scopes.join(','),
    token_type: 'Bearer',
  };
}

type GrantResult<T> = T | { error: string; description: string };

/** Single-use, 10-minute codes bound to client and redirect URI, with optional PKCE (S256). */
export function redeemCode(world: TikTokWorld, input: { code: string | null; clientKey: string; redirectUri: string | null; codeVerifier: string | null }): GrantResult<AuthCode> {
  if (!input.code) return { error: 'invalid_request', description: 'code is required.' };
  const code = world.codes.get(input.code);
  if (!code || code.clientKey !== input.clientKey) return { error: 'invalid_grant', description: 'Authorization code is invalid.' };
  if (code.used) return { error: 'invalid_grant', description: 'Authorization code has been used.' };
  if (code.expiresAt <= world.ctx.now()) return { error: 'invalid_grant', description: 'Authorization code is expired.' };
  if (input.redirectUri !== code.redirectUri) return { error: 'invalid_grant', description: 'redirect_uri does not match the one used in the authorization request.' };
  if (code.codeChallenge) {
    if (!input.codeVerifier) return { error: 'invalid_request', description: 'code_verifier is required.' };
    const digest = createHash('sha256').update(input.codeVerifier).digest();
    // S256 is base64url(SHA-256); TikTok's desktop docs describe hex(SHA-256), so accept both.
    if (code.codeChallenge !== digest.toString('base64url') && code.codeChallenge !== digest.toString('hex')) {
      return { error: 'invalid_grant', description: 'code_verifier does not match code_challenge.' };
    }
  }
  code.used = true;
  return code;
}

/** Refresh tokens rotate: each use returns a new pair and the old refresh token stops working. */
export function rotateRefreshToken(world: TikTokWorld, presented: string | null, appId: string): GrantResult<TokenPair> {
  const { tokens } = world.ctx;
  if (!presented) return { error: 'invalid_request', description: 'refresh_token is required.' };
  const old = tokens.get(presented);
  if (!old || old.platform !== PLATFORM || old.kind !== 'refresh' || old.app !== appId) return { error: 'invalid_grant', description: 'Refresh token is invalid.' };
  if (old.usedAt !== undefined) return { error: 'invalid_grant', description: 'Refresh token has already been used; use the newest refresh token.' };
  const state = tokens.state(old);
  if (state === 'revoked') return { error: 'invalid_grant', description: 'Refresh token has been revoked.' };
  if (state === 'expired') return { error: 'invalid_grant', description: 'Refresh token is expired.' };
  old.usedAt = world.ctx.now();
  return issueTokens(world, old.subject, appId, old.scopes);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function errorPage(title: string, message: string): string {
  return `<!doctype html><html><head><title>TikTok</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`;
}

function consentPage(action: string, scopes: string[], accounts: { id: string; label: string }[]): string {
  const options = accounts.map((a) => `<option value="${escapeHtml(a.id)}">${escapeHtml(a.label)}</option>`).join('');
  return `<!doctype html><html><head><title>Log in to TikTok (sandbox)</title></head><body>
<h1>Authorize this app</h1><p>It asks for: ${scopes.map(escapeHtml).join(', ')}</p>
<form method="post" action="${escapeHtml(action)}">
<label>Account <select name="account">${options}</select></label>
<input type="hidden" name="scopes" value="${escapeHtml(scopes.join(','))}">
<button name="decision" value="approve">Authorize</button> <button name="decision" value="deny">Cancel</button>
</form></body></html>`;
}
