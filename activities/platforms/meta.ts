// The Meta family's shared plumbing (Messenger, Instagram via Facebook Login, Instagram Login):
// a small Graph HTTP client, the Graph error classifier (codes, subcodes, Retry-After and the
// X-Business-Use-Case-Usage hints), lossless JSON parsing, and the Facebook Login steps the
// Page-based adapters share (code → user token → long-lived token → granted scopes → Pages).
// Reference: /work/shared/platforms/messenger-instagram.md and meta-oauth.md.
import type { Platform } from '../../lib/domain/channel';
import { PlatformError, type ChannelAdapter, type Credentials, type ErrorClass, type OutboundMessage, type SendResult } from './types';
import { READ_RETRY, retryRead } from './http';

/** Long enough for a slow Graph page, short enough that a hung socket does not stall a sync. */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** Graph rate limits without any hint: Meta's docs say "wait a while"; a minute is the usual floor. */
const DEFAULT_RATE_LIMIT_MS = 60_000;
/** Code 368 (temporarily blocked for policy) lasts hours, not seconds. */
const POLICY_BLOCK_MS = 3_600_000;

export interface MetaAdapterOptions {
  /** Per-request timeout (AbortSignal.timeout). */
  timeoutMs?: number;
  /** Messages one fetchPage call returns at most (default 500); long threads continue on the next page. */
  pageMessageBudget?: number;
}

// --- JSON ----------------------------------------------------------------------------------------

/**
 * JSON.parse that keeps integers beyond 2^53 exact by turning them into strings (Instagram Login
 * answers `"user_id":17841400000000202` as a bare number; JSON.parse would round it).
 */
export function parseJsonLossless(text: string): unknown {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      // Skip the whole string literal, honouring escapes.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) continue;
      const literal = m[0];
      if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(last, i)}"${literal}"`;
        last = i + literal.length;
      }
      i += literal.length - 1;
    }
  }
  return JSON.parse(out + text.slice(last));
}

// --- errors --------------------------------------------------------------------------------------

/** Removes anything token-like from text that may end up in an error message or a log line. */
export function redact(text: string, secrets: (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join('[redacted]');
  // Meta user/Page tokens (EAA…), Instagram tokens (IGAA…/IGQ…), app tokens (id|secret), OAuth codes (AQ…).
  return out
    .replace(/\b(?:EAA|IGAA|IGQ)[A-Za-z0-9_-]{12,}/g, '[redacted]')
    .replace(/\b\d{6,}\|[A-Za-z0-9_-]{8,}/g, '[redacted]')
    .replace(/\bAQ[A-Za-z0-9_-]{30,}/g, '[redacted]');
}

const RATE_LIMIT_CODES = new Set([4, 17, 32, 613]);
/** 80001 Pages, 80002 Instagram, 80003–80005 ads/custom audiences, 80006 Messenger, 80007 WhatsApp BM, … */
const isBucCode = (code: number) => code >= 80000 && code <= 80099;

const TOKEN_SUBCODES: Record<number, string> = {
  458: 'the app was removed by the user',
  459: 'the user must log in to Facebook to pass a checkpoint',
  460: 'the session was invalidated (password changed)',
  463: 'the access token has expired',
  464: 'the user is not confirmed',
  467: 'the access token is invalid (logged out)',
};

/** Seconds from `Retry-After` (delta-seconds or an HTTP date), in ms; 0 when absent. */
function retryAfterHeaderMs(headers: Headers | undefined): number {
  const raw = headers?.get('retry-after');
  if (!raw) return 0;
  const secs = Number(raw);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}

/** The largest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage (or X-Page-Usage), in ms. */
export function bucRegainMs(headers: Headers | undefined): number {
  let minutes = 0;
  for (const name of ['x-business-use-case-usage', 'x-page-usage', 'x-ad-account-usage']) {
    const raw = headers?.get(name);
    if (!raw) continue;
    try {
      const parsed = JSON.parse(raw) as unknown;
      const visit = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(visit);
        else if (v && typeof v === 'object') {
          const n = Number((v as Record<string, unknown>).estimated_time_to_regain_access);
          if (Number.isFinite(n)) minutes = Math.max(minutes, n);
          Object.values(v).forEach((x) => { if (x && typeof x === 'object') visit(x); });
        }
      };
      visit(parsed);
    } catch { /* a malformed usage header is not an error of the call */ }
  }
  return minutes * 60_000;
}

export interface GraphErrorInfo { status: number; code?: number; subcode?: number; message: string; transient?: boolean }

/** Reads a Graph error body (`{"error":{…}}`) or api.instagram.com's flat OAuth error (`{"error_type","code","error_message"}`). */
export function graphErrorInfo(status: number, body: unknown): GraphErrorInfo {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const e = b.error && typeof b.error === 'object' ? (b.error as Record<string, unknown>) : undefined;
  if (e) {
    return {
      status,
      code: e.code === undefined ? undefined : Number(e.code),
      subcode: e.error_subcode === undefined ? undefined : Number(e.error_subcode),
      message: String(e.message ?? e.error_user_msg ?? 'unknown Graph error'),
      transient: e.is_transient === true,
    };
  }
  if (b.error_message !== undefined || b.error_type !== undefined) {
    return { status, code: b.code === undefined ? undefined : Number(b.code), message: String(b.error_message ?? b.error_type) };
  }
  if (typeof b.error === 'string') return { status, message: String(b.error_description ?? b.error) };
  return { status, message: `HTTP ${status}` };
}

/** The classification table of messenger-instagram.md ("Errors"), plus HTTP status fallbacks. */
export function classifyGraphError(info: GraphErrorInfo, headers?: Headers): ErrorClass {
  const { code, subcode, status } = info;
  const label = code === undefined ? `HTTP ${status}` : `Graph error ${code}${subcode !== undefined ? `/${subcode}` : ''}`;
  const message = `${label}: ${redact(info.message)}`;
  const codeStr = code === undefined ? String(status) : String(code);
  const waitMs = () => Math.max(retryAfterHeaderMs(headers), bucRegainMs(headers));

  if (code !== undefined && (RATE_LIMIT_CODES.has(code) || isBucCode(code))) {
    return { kind: 'rate_limited', retryAfterMs: waitMs() || DEFAULT_RATE_LIMIT_MS, message, code: codeStr };
  }
  if (code === 368) return { kind: 'rate_limited', retryAfterMs: Math.max(waitMs(), POLICY_BLOCK_MS), message: `${message} (temporarily blocked for policy reasons)`, code: codeStr };
  if (code === 190 || code === 102 || code === 104) {
    const why = subcode !== undefined ? TOKEN_SUBCODES[subcode] : undefined;
    return { kind: 'reauth', message: why ? `${message} (${why})` : message, code: codeStr };
  }
  // 230 is "profile consent not granted" (a profile read), not a lost permission.
  if (code !== undefined && code >= 200 && code <= 299 && code !== 230) {
    return { kind: 'reauth', message: `${message} (a permission is missing or was revoked)`, code: codeStr };
  }
  // Code 1 also means "Error validating client secret": a misconfiguration no retry fixes.
  if (code === 1 && /client[ _]secret|application/i.test(info.message)) return { kind: 'permanent', message, code: codeStr };
  if (code === 1 || code === 2 || code === 1200) return { kind: 'retryable', message, code: codeStr };
  if (status === 429) return { kind: 'rate_limited', retryAfterMs: waitMs() || DEFAULT_RATE_LIMIT_MS, message, code: codeStr };
  if (info.transient || status >= 500 || status === 408) return { kind: 'retryable', message, code: codeStr };
  return { kind: 'permanent', message, code: codeStr };
}

/** Classifies anything a Meta adapter's calls throw. */
export function classifyMetaError(err: unknown): ErrorClass {
  if (err instanceof PlatformError) return err.classification;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return { kind: 'retryable', message: 'request timed out' };
  if (err instanceof TypeError) return { kind: 'retryable', message: `network error: ${redact(err.message)}` };
  if (err instanceof SyntaxError) return { kind: 'retryable', message: 'unreadable response from Meta' };
  return { kind: 'permanent', message: redact(err instanceof Error ? err.message : String(err)) };
}

export const permanent = (platform: Platform, message: string, code?: string) => new PlatformError(platform, { kind: 'permanent', message, code });

/** Instagram reads past the 20-message horizon fail with "message has been deleted"; that is the end of history, not a failure. */
export function isInstagramHorizonError(err: unknown): boolean {
  if (!(err instanceof PlatformError) || err.classification.kind !== 'permanent') return false;
  return err.classification.code === '100' && /deleted|no longer available/i.test(err.classification.message);
}

// --- HTTP ----------------------------------------------------------------------------------------

type Query = Record<string, string | number | undefined>;

export interface GraphResponse<T> { body: T; headers: Headers; status: number }

/**
 * One Graph host (graph.facebook.com, graph.instagram.com, api.instagram.com) for one platform.
 * Tokens go in `Authorization: Bearer` unless a documented endpoint wants them in the query;
 * URLs are never put into errors, so query tokens do not leak either.
 */
export class GraphClient {
  constructor(readonly platform: Platform, private readonly baseUrl: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}

  async request<T = Record<string, unknown>>(input: { method?: 'GET' | 'POST' | 'DELETE'; path: string; query?: Query; token?: string; form?: Record<string, string>; json?: unknown }): Promise<GraphResponse<T>> {
    const url = new URL(`${this.baseUrl.replace(/\/$/, '')}/${input.path.replace(/^\//, '')}`);
    for (const [k, v] of Object.entries(input.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (input.token) headers.authorization = `Bearer ${input.token}`;
    let body: string | undefined;
    if (input.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(input.form).toString();
    } else if (input.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(input.json);
    }
    const secrets = [input.token, ...Object.values(input.query ?? {}).map((v) => (typeof v === 'string' ? v : undefined)), ...Object.values(input.form ?? {})];
    let res: Response;
    try {
      res = await fetch(url, { method: input.method ?? 'GET', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new PlatformError(this.platform, { kind: 'retryable', message: timedOut ? `request to ${url.host} timed out` : `network error talking to ${url.host}${cause ? ` (${cause})` : ''}` });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try { parsed = text ? parseJsonLossless(text) : {}; } catch { parsed = undefined; }
    const isError = !res.ok || (parsed && typeof parsed === 'object' && 'error' in parsed && (parsed as Record<string, unknown>).error);
    if (isError) {
      const info = graphErrorInfo(res.status, parsed);
      info.message = redact(info.message, secrets);
      throw new PlatformError(this.platform, classifyGraphError(info, res.headers), res.status);
    }
    if (parsed === undefined || typeof parsed !== 'object') {
      throw new PlatformError(this.platform, { kind: 'retryable', message: `unreadable response from ${url.host} (HTTP ${res.status})` }, res.status);
    }
    return { body: parsed as T, headers: res.headers, status: res.status };
  }

  /** A read: retried in place on transient failures (see retryRead). */
  async get<T = Record<string, unknown>>(path: string, token: string | undefined, query?: Query): Promise<T> {
    return (await retryRead(() => this.request<T>({ path, token, query }), READ_RETRY)).body;
  }
}

// --- small helpers -------------------------------------------------------------------------------

/** `…a1b2`: enough to tell two tokens apart, nothing to use. */
export const mask = (secret: string | undefined) => (secret ? `…${secret.slice(-4)}` : '');

/** Graph time (`2026-05-02T10:11:12+0000`) → ms since epoch. */
export function graphTimeMs(value: unknown): number {
  if (typeof value === 'number') return value;
  const s = String(value ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : 0;
}

/** `expires_in` (seconds, read from the response) → ms since epoch; undefined when the token does not expire. */
export function expiresAtFrom(expiresIn: unknown, now = Date.now()): number | undefined {
  const n = Number(expiresIn);
  return expiresIn !== undefined && expiresIn !== null && Number.isFinite(n) && n > 0 ? now + n * 1000 : undefined;
}

/** OAuth codes may come back with Facebook's `#_=_` or Instagram's `#_` fragment glued on. */
export const cleanCode = (code: string) => code.trim().replace(/#_=?_?$/, '');

export const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

// --- Facebook Login (Messenger, Instagram via a Page) --------------------------------------------

export interface FacebookLoginConfig { dialogUrl: string; graphUrl: string; graphVersion: string; appId: string; appSecret: string }

export interface PageEntry {
  id: string;
  name?: string;
  access_token?: string;
  tasks?: string[];
  instagram_business_account?: { id: string; username?: string; name?: string };
}

export interface FacebookLogin {
  userToken: string;
  userTokenExpiresAt?: number;
  grantedScopes: string[];
  pages: PageEntry[];
}

export function facebookAuthorizationUrl(cfg: FacebookLoginConfig, scopes: readonly string[], input: { state: string; redirectUri: string }): string {
  const url = new URL(`${cfg.dialogUrl.replace(/\/$/, '')}/${cfg.graphVersion}/dialog/oauth`);
  url.searchParams.set('client_id', cfg.appId);
  url.searchParams.set('redirect_uri', input.redirectUri);
  url.searchParams.set('state', input.state);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scopes.join(','));
  return url.toString();
}

/**
 * Code → user token → long-lived user token, the granted scopes (required ones missing → a
 * permanent error naming them), and the Pages the person manages with their Page tokens.
 */
export async function facebookLogin(graph: GraphClient, cfg: FacebookLoginConfig, input: { code: string; redirectUri: string; requiredScopes: readonly string[]; pageFields: string }): Promise<FacebookLogin> {
  const v = cfg.graphVersion;
  const code = cleanCode(input.code);
  if (!code) throw permanent(graph.platform, 'no authorization code was given');
  const short = await graph.get<{ access_token?: string; expires_in?: number }>(`${v}/oauth/access_token`, undefined, {
    client_id: cfg.appId, client_secret: cfg.appSecret, redirect_uri: input.redirectUri, code,
  });
  if (!short.access_token) throw permanent(graph.platform, 'the code exchange returned no access token');
  const long = await graph.get<{ access_token?: string; expires_in?: number }>(`${v}/oauth/access_token`, undefined, {
    grant_type: 'fb_exchange_token', client_id: cfg.appId, client_secret: cfg.appSecret, fb_exchange_token: short.access_token,
  });
  const userToken = long.access_token ?? short.access_token;
  const userTokenExpiresAt = expiresAtFrom(long.access_token ? long.expires_in : short.expires_in);

  const perms = await graph.get<{ data?: { permission: string; status: string }[] }>(`${v}/me/permissions`, userToken);
  const grantedScopes = (perms.data ?? []).filter((p) => p.status === 'granted').map((p) => p.permission);
  const missing = input.requiredScopes.filter((s) => !grantedScopes.includes(s));
  if (missing.length) throw permanent(graph.platform, `required permissions were not granted: ${missing.join(', ')} (connect again and keep them checked)`, 'missing_scopes');

  const pages: PageEntry[] = [];
  let after: string | undefined;
  for (let i = 0; i < 20; i++) {
    const res = await graph.get<{ data?: PageEntry[]; paging?: { next?: string; cursors?: { after?: string } } }>(`${v}/me/accounts`, userToken, { fields: input.pageFields, limit: 100, after });
    pages.push(...(res.data ?? []).map((p) => ({ ...p, id: String(p.id) })));
    after = res.paging?.next ? res.paging.cursors?.after : undefined;
    if (!after) break;
  }
  return { userToken, userTokenExpiresAt, grantedScopes, pages };
}

/** When a Page token expires, from debug_token (`expires_at: 0` = never); undefined when it does not or cannot be told. */
export async function pageTokenExpiry(graph: GraphClient, cfg: FacebookLoginConfig, pageToken: string): Promise<number | undefined> {
  try {
    const res = await graph.get<{ data?: { expires_at?: number } }>(`${cfg.graphVersion}/debug_token`, `${cfg.appId}|${cfg.appSecret}`, { input_token: pageToken });
    const at = Number(res.data?.expires_at ?? 0);
    return at > 0 ? at * 1000 : undefined;
  } catch (err) {
    // debug_token is informational; a rate limit or outage must still fail the connect loudly.
    if (err instanceof PlatformError && err.classification.kind !== 'permanent') throw err;
    return undefined;
  }
}

/** The Page the channel speaks for: `settings.pageId` when given, else the first that qualifies (and the hint says so). */
export function choosePage(platform: Platform, pages: PageEntry[], settings: Record<string, unknown> | undefined, qualifies: (p: PageEntry) => boolean, noneMessage: string): { page: PageEntry; note?: string } {
  const wanted = str(settings?.pageId);
  if (!pages.length) throw permanent(platform, 'this Facebook login manages no Pages (or the Pages were not selected in the dialog)', 'no_pages');
  if (wanted) {
    const page = pages.find((p) => p.id === wanted);
    if (!page) throw permanent(platform, `Page ${wanted} is not among the Pages this login granted access to`, 'page_not_found');
    if (!qualifies(page)) throw permanent(platform, noneMessage, 'no_account');
    return { page };
  }
  const usable = pages.filter(qualifies);
  const page = usable[0];
  if (!page) throw permanent(platform, noneMessage, 'no_account');
  const note = usable.length > 1
    ? `${usable.length} Pages qualify; took the first, "${page.name ?? page.id}" (${page.id}); set settings.pageId to choose another`
    : undefined;
  return { page, note };
}

// --- webhook subscription ----------------------------------------------------------------------

/**
 * Page fields a Messenger channel needs. A Page-linked Instagram channel subscribes its Page with
 * the same list: Instagram events ride on the Page's app subscription (which Instagram fields
 * arrive is set once in the app's dashboard, not per Page), and Page subscriptions take Page
 * field names only (`messaging_seen` is refused there).
 */
export const PAGE_WEBHOOK_FIELDS = ['messages', 'message_echoes', 'message_deliveries', 'message_reads', 'message_reactions'] as const;
/** Instagram Login account fields (graph.instagram.com/me/subscribed_apps); echoes come with `messages`. */
export const INSTAGRAM_WEBHOOK_FIELDS = ['messages', 'messaging_seen', 'message_reactions'] as const;

/**
 * Subscribes our app to an account's webhooks (`POST {node}/subscribed_apps`, with the token that
 * speaks for the account); without it Meta sends no webhooks for that Page / IG account. The POST
 * replaces the app's field list, so the fields our app already has there are read first and kept:
 * one Page can back both a Messenger and an Instagram channel, and reconnecting either must not
 * drop the other's fields. Returns the fields subscribed now.
 *
 * Any failure fails the connect. A refusal (a missing permission or role: Graph 10, 200–299,
 * which the table calls `reauth` for a live channel; or a token dead already) is `permanent`
 * here, code `webhook_subscription`: the login just granted is what lacks it, so only connecting
 * again helps (`fix` says how). Outages stay `retryable`, rate limits `rate_limited`.
 */
export async function subscribeWebhooks(graph: GraphClient, input: { path: string; token: string; appId: string; fields: readonly string[]; what: string; fix: string }): Promise<string[]> {
  try {
    const current = await graph.get<{ data?: { id?: string | number; subscribed_fields?: unknown }[] }>(input.path, input.token);
    const ours = (current.data ?? []).filter((app) => app.id === undefined || String(app.id) === input.appId);
    const kept = ours.flatMap((app) => (Array.isArray(app.subscribed_fields) ? app.subscribed_fields.map(String) : []));
    const fields = [...new Set([...input.fields, ...kept])];
    const { body } = await graph.request<{ success?: boolean }>({ method: 'POST', path: input.path, token: input.token, form: { subscribed_fields: fields.join(',') } });
    if (body.success === false) throw new PlatformError(graph.platform, { kind: 'retryable', message: 'Meta did not confirm the subscription (success: false)' });
    return fields;
  } catch (err) {
    const c = classifyMetaError(err);
    const status = err instanceof PlatformError ? err.status : undefined;
    const message = `could not subscribe the app to the webhooks of ${input.what}: ${c.message}`;
    if (c.kind === 'reauth' || c.kind === 'permanent') {
      // 10: "Application does not have permission for this action"; 200–299: a permission is missing.
      const code = Number(c.code);
      const permission = code === 10 || (code >= 200 && code <= 299);
      throw new PlatformError(graph.platform, { kind: 'permanent', message: permission ? `${message}; ${input.fix}` : message, code: 'webhook_subscription' }, status);
    }
    throw new PlatformError(graph.platform, { ...c, message }, status);
  }
}

/** DELETE /me/permissions with the user token: removes the app for that person (every channel they connected with it). */
export async function revokeFacebookLogin(graph: GraphClient, graphVersion: string, userToken: string | undefined): Promise<void> {
  if (!userToken) return;
  try {
    await graph.request({ method: 'DELETE', path: `${graphVersion}/me/permissions`, token: userToken });
  } catch (err) {
    // Already dead or already removed: nothing left to revoke.
    const kind = classifyMetaError(err).kind;
    if (kind === 'reauth' || kind === 'permanent') return;
    throw err;
  }
}

// --- Send API (Messenger, Instagram via a Page, Instagram Login) ---------------------------------

/** Send API subcodes of Graph error 10 meaning "outside the allowed window": 2018278 Messenger, 2534022 Instagram. */
const WINDOW_SUBCODES = new Set([2018278, 2534022]);

/** True for Graph's "sent outside of allowed window" refusal (code 10 with a window subcode, or its message). */
export function isWindowError(err: unknown): boolean {
  if (!(err instanceof PlatformError) || err.classification.kind !== 'permanent') return false;
  if (err.classification.code !== '10') return false;
  const m = /Graph error 10\/(\d+)/.exec(err.classification.message);
  return (m !== null && WINDOW_SUBCODES.has(Number(m[1]))) || /outside (?:of )?(?:the )?allowed window/i.test(err.classification.message);
}

/** The `message` object of one Send API call: text, or one attachment by URL (the platform fetches it). */
function sendPayloads(platform: Platform, message: OutboundMessage): Record<string, unknown>[] {
  if (message.template) throw permanent(platform, `message templates are not supported on ${platform} (use humanAgent to reply up to 7 days after the customer's last message)`, 'unsupported');
  const text = message.text ?? message.media?.caption;
  const out: Record<string, unknown>[] = [];
  if (message.media) {
    if (!/^https?:\/\//i.test(message.media.url)) throw permanent(platform, 'media must be given by an http(s) URL the platform can fetch', 'unsupported');
    out.push({ attachment: { type: message.media.type, payload: { url: message.media.url } } });
  }
  // One Send API call carries text or an attachment, never both: a caption/text goes as a second message.
  if (text !== undefined && text !== '') out.push({ text });
  if (!out.length) throw permanent(platform, 'nothing to send: the message has no text and no media', 'unsupported');
  return out;
}

/**
 * `POST {node}/messages` (node: the Page id, or `me` on graph.instagram.com) to the customer's
 * PSID/IGSID, `messaging_type: RESPONSE`, or `MESSAGE_TAG` + `HUMAN_AGENT` when `humanAgent`; our
 * message id rides in `metadata` and comes back on the echo webhook. Returns Meta's `message_id`
 * (the `mid` of the echo and of history). Text with media is two calls (media first; the text's
 * metadata is `clientRef:text`) and returns the media message's id.
 * Outside the window (Graph 10 / 2018278 or 2534022) → permanent `window_closed`.
 */
export async function sendMetaMessage(graph: GraphClient, input: { path: string; token: string; message: OutboundMessage }): Promise<SendResult> {
  const { platform } = graph;
  const { message } = input;
  const recipient = str(message.to.externalId) ?? str(message.conversationExternalId);
  if (!recipient) throw permanent(platform, 'the message has no recipient (PSID/IGSID)', 'invalid_recipient');
  const payloads = sendPayloads(platform, message);
  let first: SendResult | undefined;
  for (const [i, payload] of payloads.entries()) {
    const metadata = i === 0 ? message.clientRef : `${message.clientRef}:text`;
    let body: { message_id?: string | number; recipient_id?: string | number };
    try {
      ({ body } = await graph.request<{ message_id?: string | number; recipient_id?: string | number }>({
        method: 'POST', path: input.path, token: input.token,
        json: {
          recipient: { id: recipient },
          ...(message.humanAgent ? { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' } : { messaging_type: 'RESPONSE' }),
          message: { ...payload, metadata },
        },
      }));
    } catch (err) {
      if (isWindowError(err)) {
        const e = err as PlatformError;
        const why = message.humanAgent
          ? 'more than 7 days have passed since the customer\'s last message (the HUMAN_AGENT tag allows 7 days); the customer must write again'
          : 'the 24-hour reply window is closed (the customer\'s last message is older than 24 h); send it with the HUMAN_AGENT tag (humanAgent: a human reply up to 7 days after the customer\'s last message) or wait for the customer to write';
        throw new PlatformError(platform, { kind: 'permanent', message: `${why} [${e.classification.message}]`, code: 'window_closed' }, e.status);
      }
      throw err;
    }
    const id = str(body.message_id);
    // Not retryable: the message may well have gone out; a retry could send it twice.
    if (!id) throw permanent(platform, 'the Send API accepted the message but returned no message_id', 'no_message_id');
    first ??= { externalId: id, timestamp: Date.now() };
  }
  return first!;
}

/**
 * Sender action `mark_seen` to the customer (`POST {node}/messages` with `recipient` and
 * `sender_action` only): Meta shows the conversation as seen. Sender actions are only allowed
 * inside the 24-hour window; outside it → permanent `window_closed`.
 */
export async function markMetaSeen(graph: GraphClient, input: { path: string; token: string; recipient: string }): Promise<void> {
  const recipient = str(input.recipient);
  if (!recipient) throw permanent(graph.platform, 'the conversation has no recipient (PSID/IGSID) to mark seen', 'invalid_recipient');
  try {
    await graph.request({ method: 'POST', path: input.path, token: input.token, json: { recipient: { id: recipient }, sender_action: 'mark_seen' } });
  } catch (err) {
    if (!isWindowError(err)) throw err;
    const e = err as PlatformError;
    throw new PlatformError(graph.platform, { kind: 'permanent', message: `the 24-hour window is closed: Meta takes sender actions only inside it [${e.classification.message}]`, code: 'window_closed' }, e.status);
  }
}

/** The channel's stored access token (the Page token, or the Instagram user token). */
export function token(credentials: Credentials, platform: ChannelAdapter['platform']): string {
  const t = str(credentials.accessToken);
  if (!t) throw permanent(platform, 'the channel has no access token stored; connect it again', 'no_token');
  return t;
}
