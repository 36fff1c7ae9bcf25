// Google OAuth 2.0 for web servers: consent page (accounts.google.com/o/oauth2/v2/auth), token
// endpoint (oauth2.googleapis.com/token) and revocation (oauth2.googleapis.com/revoke), with
// Google's errors: {"error":"invalid_grant","error_description":"…"}.
import { createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { route, type FaultRenderer } from '../../core/context';
import type { IssuedToken } from '../../core/tokens';
import { faultStatus, KNOWN_SCOPES, PLATFORM, type GoogleWorld } from './world';

const CODE_TTL_MS = 10 * 60 * 1000;

export function registerOAuthRoutes(app: Hono, world: GoogleWorld): void {
  const { ctx } = world;
  const oauthError = (c: Context, status: number, error: string, description: string) =>
    c.json({ error, error_description: description }, status as ContentfulStatusCode);
  const oauthFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') {
      c.header('Retry-After', String(d.retryAfterSeconds));
      return oauthError(c, 429, 'rate_limit_exceeded', 'Rate limit exceeded. Try again later.');
    }
    return oauthError(c, faultStatus(d), 'internal_failure', 'Backend Error');
  };
  const pageFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') c.header('Retry-After', String(d.retryAfterSeconds));
    const status = d.kind === 'rate_limit' ? 429 : faultStatus(d);
    return c.html(errorPage(`Error ${status}`, 'The server encountered a temporary error. Please try again later.'), status as ContentfulStatusCode);
  };

  // ---- consent page -------------------------------------------------------------------------
  const consent = route(ctx, { platform: PLATFORM, name: 'oauth.authorize', renderFault: pageFault }, (c, rawBody) => {
    const q = new URL(c.req.url).searchParams;
    const form = c.req.method === 'POST' ? new URLSearchParams(rawBody) : new URLSearchParams();
    // Google shows request errors on its own page ("Error 400: redirect_uri_mismatch"); only
    // user decisions are sent back to the redirect URI.
    const clientId = q.get('client_id');
    if (!clientId) return c.html(errorPage('Error 400: invalid_request', 'Missing required parameter: client_id'), 400);
    const app = ctx.apps.byId(PLATFORM, clientId);
    if (!app) return c.html(errorPage('Error 401: invalid_client', 'The OAuth client was not found.'), 401);
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri) return c.html(errorPage('Error 400: invalid_request', 'Missing required parameter: redirect_uri'), 400);
    if (!app.redirectUris.includes(redirectUri)) return c.html(errorPage('Error 400: redirect_uri_mismatch', `You can't sign in because this app sent an invalid request. redirect_uri=${redirectUri}`), 400);
    const responseType = q.get('response_type');
    if (!responseType) return c.html(errorPage('Error 400: invalid_request', 'Required parameter is missing: response_type'), 400);
    if (responseType !== 'code') return c.html(errorPage('Error 400: unsupported_response_type', `Unsupported response_type: ${responseType}`), 400);
    const requested = (q.get('scope') ?? '').split(/[\s+]+/).filter(Boolean);
    if (requested.length === 0) return c.html(errorPage('Error 400: invalid_request', 'Missing required parameter: scope'), 400);
    const invalid = requested.filter((s) => !KNOWN_SCOPES.includes(s));
    if (invalid.length) return c.html(errorPage('Error 400: invalid_scope', `Some requested scopes were invalid. {invalid=[${invalid.join(', ')}]}`), 400);
    const accessType = q.get('access_type') ?? 'online';
    if (!['online', 'offline'].includes(accessType)) return c.html(errorPage('Error 400: invalid_request', `Invalid access_type: ${accessType}`), 400);
    const challengeMethod = q.get('code_challenge_method') ?? (q.get('code_challenge') ? 'plain' : undefined);
    if (challengeMethod && !['S256', 'plain'].includes(challengeMethod)) return c.html(errorPage('Error 400: invalid_request', 'Invalid code_challenge_method value.'), 400);

    const state = q.get('state');
    const back = (params: Record<string, string>) => {
      const url = new URL(redirectUri);
      if (state !== null) url.searchParams.set('state', state);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return c.redirect(url.toString(), 302);
    };
    const decision = form.get('decision') ?? q.get('sandbox_decision');
    const accountKey = (form.get('account') ?? q.get('sandbox_account') ?? q.get('login_hint') ?? '').toLowerCase();
    const mailboxes = [...world.mailboxes.values()];
    const mailbox = accountKey ? world.mailbox(accountKey) : mailboxes[0];
    if (!decision) return c.html(consentPage(c.req.url, requested, mailboxes.map((m) => m.email), mailbox?.email));
    if (decision === 'deny') return back({ error: 'access_denied' });
    if (decision !== 'approve' || !mailbox) return c.html(errorPage('Error 400: invalid_request', 'Unknown sandbox account or decision.'), 400);

    // include_granted_scopes=true returns earlier grants of this user to this app as well.
    const grantKey = `${app.id} ${mailbox.email}`;
    const previous = world.grants.get(grantKey) ?? new Set<string>();
    const granted = new Set(q.get('include_granted_scopes') === 'true' ? [...previous, ...requested] : requested);
    world.grants.set(grantKey, new Set([...previous, ...requested]));
    const code = `4/0A${ctx.id('', 36)}`;
    world.codes.set(code, {
      code, clientId: app.id, redirectUri, email: mailbox.email, scopes: [...granted], offline: accessType === 'offline',
      forceConsent: (q.get('prompt') ?? '').split(' ').includes('consent'), expiresAt: ctx.now() + CODE_TTL_MS, used: false,
      codeChallenge: q.get('code_challenge') ?? undefined, codeChallengeMethod: challengeMethod,
    });
    return back({ code, scope: [...granted].join(' '), authuser: '0', prompt: 'consent' });
  });
  app.get('/accounts.google.com/o/oauth2/v2/auth', consent);
  app.post('/accounts.google.com/o/oauth2/v2/auth', consent);

  // ---- token --------------------------------------------------------------------------------
  app.post('/oauth2.googleapis.com/token', route(ctx, { platform: PLATFORM, name: 'oauth.token', renderFault: oauthFault }, (c, rawBody) => {
    const params = parseBody(c, rawBody);
    // Client authentication: in the body or HTTP Basic.
    const basic = /^Basic\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const [basicId, basicSecret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent) : [];
    const clientId = params.get('client_id') ?? basicId;
    const clientSecret = params.get('client_secret') ?? basicSecret;
    const app = ctx.apps.byId(PLATFORM, clientId);
    if (!app) return oauthError(c, 401, 'invalid_client', 'The OAuth client was not found.');
    if (app.secret !== clientSecret) return oauthError(c, 401, 'invalid_client', 'Unauthorized');

    const grantType = params.get('grant_type');
    if (!grantType) return oauthError(c, 400, 'invalid_request', 'Missing required parameter: grant_type');
    if (grantType === 'authorization_code') {
      const codeValue = params.get('code');
      if (!codeValue) return oauthError(c, 400, 'invalid_request', 'Missing required parameter: code');
      const code = world.codes.get(codeValue);
      if (!code) return oauthError(c, 400, 'invalid_grant', codeValue.startsWith('4/') ? 'Bad Request' : 'Malformed auth code.');
      if (code.used || code.expiresAt <= ctx.now() || code.clientId !== app.id) return oauthError(c, 400, 'invalid_grant', 'Bad Request');
      if (params.get('redirect_uri') !== code.redirectUri) return oauthError(c, 400, 'redirect_uri_mismatch', 'Bad Request');
      if (code.codeChallenge) {
        const verifier = params.get('code_verifier');
        if (!verifier) return oauthError(c, 400, 'invalid_grant', 'Missing code verifier.');
        const expected = code.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (expected !== code.codeChallenge) return oauthError(c, 400, 'invalid_grant', 'Invalid code verifier.');
      }
      code.used = true;
      const grant = ctx.id('grant_', 8);
      const access = issueAccess(world, code.email, app.id, code.scopes, grant);
      // A refresh token comes only with access_type=offline, and again only on (re)consent.
      const existingRefresh = ctx.tokens.list({ platform: PLATFORM, subject: code.email })
        .some((t) => t.kind === 'refresh' && t.app === app.id && ctx.tokens.state(t) === 'valid');
      const refresh = code.offline && (code.forceConsent || !existingRefresh)
        ? ctx.tokens.issue({ platform: PLATFORM, kind: 'refresh', subject: code.email, app: app.id, scopes: code.scopes, prefix: '1//0', ttlSeconds: world.options.refreshTtlSeconds, meta: { grant } })
        : undefined;
      return c.json(tokenBody(world, access, refresh));
    }
    if (grantType === 'refresh_token') {
      const presented = params.get('refresh_token');
      if (!presented) return oauthError(c, 400, 'invalid_request', 'Missing required parameter: refresh_token');
      const refresh = ctx.tokens.get(presented);
      if (!refresh || refresh.platform !== PLATFORM || refresh.kind !== 'refresh' || ctx.tokens.state(refresh) !== 'valid') {
        return oauthError(c, 400, 'invalid_grant', 'Token has been expired or revoked.');
      }
      if (refresh.app !== app.id) return oauthError(c, 401, 'unauthorized_client', 'Unauthorized');
      // Google does not rotate refresh tokens: the response carries no refresh_token.
      const access = issueAccess(world, refresh.subject, app.id, refresh.scopes, String(refresh.meta?.grant ?? ''));
      const body = tokenBody(world, access, undefined);
      const refreshLeft = ctx.tokens.expiresIn(refresh);
      return c.json(refreshLeft === null ? body : { ...body, refresh_token_expires_in: refreshLeft });
    }
    return oauthError(c, 400, 'unsupported_grant_type', `Invalid grant_type: ${grantType}`);
  }));

  // ---- revoke: ends the user's grant to the app (access and refresh tokens alike) ------------
  const revoke = route(ctx, { platform: PLATFORM, name: 'oauth.revoke', renderFault: oauthFault }, (c, rawBody) => {
    const token = ctx.tokens.get(new URL(c.req.url).searchParams.get('token') ?? parseBody(c, rawBody).get('token'));
    if (!token || token.platform !== PLATFORM || ctx.tokens.state(token) !== 'valid') return oauthError(c, 400, 'invalid_token', 'Token expired or revoked');
    for (const t of ctx.tokens.list({ platform: PLATFORM, subject: token.subject })) {
      if (t.app === token.app) ctx.tokens.revoke({ token: t.token }, { reason: 'revoked by the client (oauth2/revoke)' });
    }
    world.grants.delete(`${token.app} ${token.subject}`);
    return c.json({});
  });
  app.post('/oauth2.googleapis.com/revoke', revoke);
  app.get('/oauth2.googleapis.com/revoke', revoke);
}

function issueAccess(world: GoogleWorld, email: string, appId: string, scopes: string[], grant: string): IssuedToken {
  return world.ctx.tokens.issue({ platform: PLATFORM, kind: 'access', subject: email, app: appId, scopes, prefix: 'ya29.', ttlSeconds: world.options.accessTtlSeconds, meta: { grant } });
}

/** expires_in always from the issued token, so admin TTL overrides show in the response. */
function tokenBody(world: GoogleWorld, access: IssuedToken, refresh: IssuedToken | undefined) {
  const body: Record<string, unknown> = {
    access_token: access.token,
    expires_in: world.ctx.tokens.expiresIn(access) ?? 0,
    scope: access.scopes.join(' '),
    token_type: 'Bearer',
  };
  if (refresh) {
    body.refresh_token = refresh.token;
    const left = world.ctx.tokens.expiresIn(refresh);
    if (left !== null) body.refresh_token_expires_in = left;
  }
  return body;
}

/** The token endpoint takes form bodies (what clients send) and JSON. */
function parseBody(c: Context, rawBody: string): URLSearchParams {
  if ((c.req.header('content-type') ?? '').includes('application/json')) {
    try {
      const json = JSON.parse(rawBody) as Record<string, unknown>;
      return new URLSearchParams(Object.entries(json).filter(([, v]) => typeof v === 'string') as [string, string][]);
    } catch { return new URLSearchParams(); }
  }
  return new URLSearchParams(rawBody);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function errorPage(title: string, message: string): string {
  return `<!doctype html><html><head><title>${escapeHtml(title)}</title></head><body><h1>Access blocked</h1><h2>${escapeHtml(title)}</h2><p>${escapeHtml(message)}</p></body></html>`;
}

function consentPage(action: string, scopes: string[], accounts: string[], selected?: string): string {
  const options = accounts.map((a) => `<option${a === selected ? ' selected' : ''}>${escapeHtml(a)}</option>`).join('');
  return `<!doctype html><html><head><title>Sign in - Google Accounts (sandbox)</title></head><body>
<h1>Choose an account</h1><p>This app wants access to: ${scopes.map(escapeHtml).join(', ')}</p>
<form method="post" action="${escapeHtml(action)}">
<select name="account">${options}</select>
<button name="decision" value="approve">Allow</button> <button name="decision" value="deny">Cancel</button>
</form></body></html>`;
}
