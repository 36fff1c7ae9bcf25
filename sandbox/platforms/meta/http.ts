// The plumbing every Meta endpoint shares: one route() per endpoint with Graph-style fault
// rendering, access-token resolution against ctx.tokens (190 with the right subcode), request
// parameters from query/JSON/form, and the X-App-Usage / X-Business-Use-Case-Usage headers.
import { createHmac } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { route, type SandboxContext } from '../../core/context';
import type { FaultDecision } from '../../core/faults';
import type { IssuedToken } from '../../core/tokens';
import { Errors, GraphError, graphErrorBody, revokedMessage } from './errors';
import type { MetaWorld } from './state';

export const PLATFORM = 'meta';
export const GRAPH_HOSTS = ['graph.facebook.com', 'graph.instagram.com'] as const;
export type GraphHost = (typeof GRAPH_HOSTS)[number];

/** Token kinds this module issues (IssuedToken.kind). */
export type MetaTokenKind = 'user_short' | 'user_long' | 'page' | 'ig_short' | 'ig_long';

export interface MetaEnv {
  ctx: SandboxContext;
  world: MetaWorld;
  usage: UsageMeter;
}

// --- paths ---------------------------------------------------------------------------------
export interface GraphPath { host: GraphHost; version: string | null; segs: string[] }

/** `/graph.facebook.com/v25.0/123/messages` → {host, version: 'v25.0', segs: ['123', 'messages']}; the version is optional. */
export function graphPath(c: Context): GraphPath | undefined {
  const parts = c.req.path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  const host = GRAPH_HOSTS.find((h) => h === parts[0]);
  if (!host) return undefined;
  const version = parts[1] && /^v\d+\.\d+$/.test(parts[1]) ? parts[1] : null;
  return { host, version, segs: parts.slice(version ? 2 : 1) };
}

// --- parameters ----------------------------------------------------------------------------
/**
 * Graph takes parameters from the query string, a JSON body or a form body (where objects are
 * JSON-encoded strings). Merged with body winning; unparseable bodies are Graph error 100.
 */
export function requestParams(c: Context, rawBody: string): Record<string, unknown> {
  const params: Record<string, unknown> = { ...c.req.query() };
  if (!rawBody.trim()) return params;
  const type = c.req.header('content-type') ?? '';
  if (type.includes('json') || /^\s*[{[]/.test(rawBody)) {
    let parsed: unknown;
    try { parsed = JSON.parse(rawBody); } catch { throw Errors.param('The request body could not be parsed as JSON'); }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw Errors.param('The request body must be a JSON object');
    return { ...params, ...(parsed as Record<string, unknown>) };
  }
  for (const [key, value] of new URLSearchParams(rawBody)) params[key] = value;
  return params;
}

/** A param that may be an object or a JSON-encoded object (form bodies); undefined when absent. */
export function objectParam(params: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  let value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string') {
    try { value = JSON.parse(value); } catch { throw Errors.param(`Param ${name} must be a JSON object`); }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw Errors.param(`Param ${name} must be a JSON object`);
  return value as Record<string, unknown>;
}

export function stringParam(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw Errors.param(`Param ${name} must be a string`);
  return value;
}

// --- tokens --------------------------------------------------------------------------------
/** The access token from `Authorization: Bearer|OAuth …`, `access_token=` in query or body. */
export function accessTokenOf(c: Context, params?: Record<string, unknown>): string | undefined {
  const auth = c.req.header('authorization');
  const m = auth ? /^(?:Bearer|OAuth)\s+(\S+)/i.exec(auth) : null;
  if (m) return m[1];
  const q = c.req.query('access_token');
  if (q) return q;
  const b = params?.access_token;
  return typeof b === 'string' && b ? b : undefined;
}

/** Which token kinds each Graph host accepts: Facebook tokens never work on graph.instagram.com and vice versa. */
const HOST_KINDS: Record<GraphHost, readonly string[]> = {
  'graph.facebook.com': ['user_short', 'user_long', 'page'],
  'graph.instagram.com': ['ig_short', 'ig_long'],
};

/** Resolves and checks a token the way Graph does: 104 missing, 190 unparseable / expired (463) / invalidated. */
export function authenticate(env: MetaEnv, c: Context, host: GraphHost, params?: Record<string, unknown>): IssuedToken {
  const raw = accessTokenOf(c, params);
  if (!raw) throw Errors.missingToken();
  const token = env.ctx.tokens.get(raw);
  if (!token || token.platform !== PLATFORM || !HOST_KINDS[host].includes(token.kind)) throw Errors.unparseableToken();
  assertUsable(env, token);
  const proof = c.req.query('appsecret_proof') ?? (typeof params?.appsecret_proof === 'string' ? params.appsecret_proof : undefined);
  if (proof !== undefined) {
    const secret = env.ctx.apps.get(token.app ?? 'meta').secret;
    if (proof !== createHmac('sha256', secret).update(raw).digest('hex')) throw Errors.param('Invalid appsecret_proof provided in the API argument');
  }
  return token;
}

/** Throws the 190 a client would get for an expired or invalidated token (or one whose parent user token was invalidated). */
export function assertUsable(env: MetaEnv, token: IssuedToken): void {
  const problem = tokenProblem(env, token);
  if (problem) throw problem;
}

export function tokenProblem(env: MetaEnv, token: IssuedToken): GraphError | undefined {
  const { tokens } = env.ctx;
  const state = tokens.state(token);
  const appId = env.ctx.apps.get(token.app ?? 'meta').id;
  if (state === 'revoked') {
    const subcode = token.revoked?.subcode ?? 460;
    return Errors.tokenRevoked(subcode, revokedMessage(subcode, appId, token.revoked?.reason));
  }
  if (state === 'expired') return Errors.tokenExpired(token.expiresAt!, env.ctx.now());
  // A Page token dies with the user session it came from (password change, deauthorization).
  const parent = typeof token.meta?.parent === 'string' ? tokens.get(token.meta.parent) : undefined;
  if (parent && tokens.state(parent) === 'revoked') {
    const subcode = parent.revoked?.subcode ?? 460;
    return Errors.tokenRevoked(subcode, revokedMessage(subcode, appId, parent.revoked?.reason));
  }
  return undefined;
}

// --- usage headers ------------------------------------------------------------------------
/**
 * Rolling one-hour call counts per app and per business object, reported as percentages the
 * way X-App-Usage and X-Business-Use-Case-Usage do. Budgets are sandbox choices.
 */
export class UsageMeter {
  private readonly buckets = new Map<string, Map<number, number>>();
  constructor(private readonly now: () => number, private readonly budgetPerHour = 10_000) {}

  hit(key: string): number {
    const minute = Math.floor(this.now() / 60_000);
    const buckets = this.buckets.get(key) ?? new Map<number, number>();
    this.buckets.set(key, buckets);
    buckets.set(minute, (buckets.get(minute) ?? 0) + 1);
    let total = 0;
    for (const [m, n] of buckets) {
      if (m <= minute - 60) buckets.delete(m);
      else total += n;
    }
    return total;
  }

  percent(calls: number): number {
    return Math.min(100, Math.round((calls / this.budgetPerHour) * 100));
  }

  appHeader(c: Context, appId: string): void {
    const pct = this.percent(this.hit(`app:${appId}`));
    c.header('X-App-Usage', JSON.stringify({ call_count: pct, total_cputime: Math.floor(pct / 2), total_time: pct }));
  }

  /** Page/IG tokens are metered per business object and use case (`messenger`, `instagram`, `pages`). */
  businessHeader(c: Context, objectId: string, type: BucType, regainMinutes = 0): void {
    const pct = this.percent(this.hit(`buc:${objectId}:${type}`));
    c.header('X-Business-Use-Case-Usage', bucHeader(objectId, type, pct, regainMinutes));
  }
}

export type BucType = 'messenger' | 'instagram' | 'pages';

export function bucHeader(objectId: string, type: BucType, pct: number, regainMinutes: number): string {
  return JSON.stringify({ [objectId]: [{ type, call_count: pct, total_cputime: Math.floor(pct / 2), total_time: pct, estimated_time_to_regain_access: regainMinutes }] });
}

// --- routes --------------------------------------------------------------------------------
export type ErrorStyle = 'graph' | 'instagram-oauth' | 'html';

/** Renders a GraphError in the endpoint's own style (Graph JSON, api.instagram.com's flat OAuth JSON, or the dialog's HTML). */
export function renderError(c: Context, err: GraphError, style: ErrorStyle): Response {
  for (const [k, v] of Object.entries(err.opts.headers ?? {})) c.header(k, v);
  const status = err.status as 400;
  if (style === 'instagram-oauth') return c.json({ error_type: err.opts.type ?? 'OAuthException', code: err.status, error_message: err.message }, status);
  if (style === 'html') return c.html(htmlPage('Error', `<h1>Sorry, something went wrong.</h1><p>${escapeHtml(err.message)}</p>`), status);
  // Graph names token problems in WWW-Authenticate as well as in the body.
  if (err.code === 190 || err.code === 104) c.header('WWW-Authenticate', `OAuth "Facebook Platform" "invalid_token" "${err.message.replace(/"/g, "'")}"`);
  return c.json(graphErrorBody(err), status);
}

export interface EndpointOptions {
  name: string;
  style?: ErrorStyle;
  owns?: (c: Context) => boolean;
  /** Which business use case an injected rate limit is charged to: 80006 messenger, 80002 instagram, 80001 pages; none → 613. */
  bucOf?: (c: Context) => BucType | undefined;
  /** BUC object id for an injected rate limit's header. */
  objectOf?: (c: Context) => string | undefined;
}

/** One simulated Meta endpoint: route() + Graph fault rendering + thrown GraphErrors rendered, never a 500 from bad input. */
export function metaRoute(env: MetaEnv, opts: EndpointOptions, handler: (c: Context, rawBody: string) => Response | Promise<Response>): MiddlewareHandler {
  const style = opts.style ?? 'graph';
  return route(env.ctx, {
    platform: PLATFORM,
    name: opts.name,
    owns: opts.owns,
    renderFault: (c, decision) => renderError(c, faultError(decision, opts, c, env), style),
  }, async (c, rawBody) => {
    if (style === 'graph') env.usage.appHeader(c, env.ctx.apps.get('meta').id);
    try {
      return await handler(c, rawBody);
    } catch (err) {
      if (err instanceof GraphError) return renderError(c, err, style);
      env.ctx.log.error({ err, endpoint: opts.name }, 'meta sandbox handler failed');
      return renderError(c, new GraphError(1, 'An unknown error occurred', { status: 500, isTransient: true }), style);
    }
  });
}


/** An injected fault as the GraphError Meta would send: 613 / 80006 / 80002 with Retry-After for rate limits, 1 or 2 for 5xx. */
function faultError(decision: Exclude<FaultDecision, { kind: 'none' }>, opts: EndpointOptions, c: Context, env: MetaEnv): GraphError {
  // route() answers timeouts itself; should one reach here, it reads as Graph's transient error.
  if (decision.kind === 'timeout') return new GraphError(2, 'An unexpected error has occurred. Please retry your request later.', { status: 503, isTransient: true });
  if (decision.kind === 'rate_limit' || decision.status === 429) {
    const retryAfter = decision.kind === 'rate_limit' ? decision.retryAfterSeconds : 60;
    const channel = opts.bucOf?.(c);
    const objectId = opts.objectOf?.(c) ?? env.ctx.apps.get('meta').id;
    const regainMinutes = Math.max(1, Math.ceil(retryAfter / 60));
    const headers: Record<string, string> = { 'Retry-After': String(retryAfter) };
    const status = decision.kind === 'rate_limit' ? 400 : 429;
    if (channel === 'messenger') {
      headers['X-Business-Use-Case-Usage'] = bucHeader(objectId, 'messenger', 100, regainMinutes);
      return new GraphError(80006, '(#80006) There have been too many messages sent to this Messenger account. Please wait a while before sending more messages.', { status, headers, isTransient: true });
    }
    if (channel === 'instagram') {
      headers['X-Business-Use-Case-Usage'] = bucHeader(objectId, 'instagram', 100, regainMinutes);
      return new GraphError(80002, '(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.', { status, headers, isTransient: true });
    }
    if (channel === 'pages') {
      headers['X-Business-Use-Case-Usage'] = bucHeader(objectId, 'pages', 100, regainMinutes);
      return new GraphError(80001, '(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.', { status, headers, isTransient: true });
    }
    return new GraphError(613, '(#613) Calls to this api have exceeded the rate limit.', { status, headers, isTransient: true });
  }
  if (decision.status === 503) return new GraphError(2, 'An unexpected error has occurred. Please retry your request later.', { status: 503, isTransient: true });
  if (decision.status >= 500) return new GraphError(1, 'An unknown error occurred', { status: decision.status, isTransient: true, subcode: 99 });
  if (opts.name === 'send') return new GraphError(1200, '(#1200) Temporary send message failure. Please try again later', { status: decision.status, isTransient: true });
  return new GraphError(1, 'An unknown error occurred', { status: decision.status, isTransient: true });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>`
    + '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{padding:.5rem 1.2rem;margin-right:.5rem}</style>'
    + `</head><body>${body}</body></html>`;
}
