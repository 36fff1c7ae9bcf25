// How the official twilio-node client reaches the configured API base, and how its failures are
// classified. twilio-node builds absolute `https://api.twilio.com/…` URLs (also for next-page
// links) and lets the caller supply the HTTP client (`httpClient` option); region/edge options
// only rewrite the host name under twilio.com, so they cannot point at the sandbox. We therefore
// subclass its own RequestClient (axios transport, timeout, Basic auth) and only (1) move the URL
// onto the configured base and (2) turn every non-2xx answer into a classified PlatformError
// while its headers (Retry-After) are still at hand — twilio-node's RestException drops them.
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type Response from 'twilio/lib/http/response';
import { PlatformError, type ErrorClass } from '../types';

export const PLATFORM = 'whatsapp_twilio' as const;
const PRODUCTION_BASE = 'https://api.twilio.com';
/** When a 429 carries no Retry-After (20429 is "too many concurrent requests": back off briefly). */
const DEFAULT_RATE_LIMIT_MS = 1_000;

// Twilio error codes (twilio-whatsapp.md "Errors and limits").
const REAUTH_CODES = new Set([20003]);
const RATE_LIMIT_CODES = new Set([20429, 63018]);

type Options<T> = RequestClient.RequestOptions<T>;

export class RebasingRequestClient extends twilio.RequestClient {
  constructor(private readonly apiBase: string, private readonly timeoutMs: number) {
    super({ timeout: timeoutMs });
  }

  override async request<TData>(opts: Options<TData>): Promise<Response<TData>> {
    const uri = rebase(opts.uri, this.apiBase);
    let res: Response<TData>;
    try {
      res = await super.request({ ...opts, uri, timeout: opts.timeout ?? this.timeoutMs });
    } catch (err) {
      // axios errors carry the request config (Authorization header included): never let them out.
      throw new PlatformError(PLATFORM, transportClass(err));
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw twilioHttpError(res.statusCode, res.body, res.headers, opts.password);
    return res;
  }
}

/** `https://api.twilio.com/2010-04-01/…` (or a regional `api.<edge>.<region>.twilio.com`) → the configured base. */
export function rebase(uri: string, apiBase: string): string {
  if (apiBase === PRODUCTION_BASE) return uri;
  const url = new URL(uri);
  if (!/^api(\.[a-z0-9-]+)*\.twilio\.com$/i.test(url.hostname)) return uri;
  return `${apiBase}${url.pathname}${url.search}`;
}

/** A Twilio REST error body `{code, message, more_info, status}` as a PlatformError. */
export function twilioHttpError(status: number, body: unknown, headers: unknown, secret?: string): PlatformError {
  let parsed = body;
  if (typeof body === 'string') {
    try { parsed = JSON.parse(body); } catch { parsed = undefined; }
  }
  const { code, message: text } = (parsed && typeof parsed === 'object' ? parsed : {}) as { code?: unknown; message?: unknown };
  const numeric = typeof code === 'number' ? code : Number.isFinite(Number(code)) && code !== null && code !== '' ? Number(code) : undefined;
  let detail = typeof text === 'string' && text ? text : `HTTP ${status}`;
  if (secret) detail = detail.split(secret).join('[redacted]');
  const message = `Twilio ${status}${numeric !== undefined ? ` error ${numeric}` : ''}: ${detail}`;
  const codeText = numeric === undefined ? undefined : String(numeric);

  let cls: ErrorClass;
  if (status === 401 || (numeric !== undefined && REAUTH_CODES.has(numeric))) {
    cls = { kind: 'reauth', message: `${message} (the Account SID / Auth Token or API key was rejected)`, code: codeText };
  } else if (status === 429 || (numeric !== undefined && RATE_LIMIT_CODES.has(numeric))) {
    cls = { kind: 'rate_limited', retryAfterMs: retryAfterMs(headers) ?? DEFAULT_RATE_LIMIT_MS, message, code: codeText };
  } else if (status >= 500 || status === 408) {
    cls = { kind: 'retryable', message, code: codeText };
  } else {
    // 21211/21614 invalid or non-mobile To, 63016 outside the 24 h window, 63003/63024 unknown recipient, 20404…
    cls = { kind: 'permanent', message, code: codeText };
  }
  return new PlatformError(PLATFORM, cls, status);
}

function retryAfterMs(headers: unknown): number | undefined {
  const raw = headerValue(headers, 'retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.max(1000, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(1000, at - Date.now()) : undefined;
}

/** axios hands back AxiosHeaders (with get()) or a plain object, depending on the path taken. */
function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const value = typeof h.get === 'function' ? h.get(name) : Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  if (Array.isArray(value)) return value[0] === undefined ? undefined : String(value[0]);
  return value === undefined || value === null ? undefined : String(value);
}

/** Any error from this adapter: PlatformErrors as classified, twilio-node's own errors by status/code. */
export function twilioClass(err: unknown): ErrorClass {
  if (err instanceof PlatformError) return err.classification;
  const rest = err as { status?: unknown; code?: unknown; message?: unknown } | null;
  if (rest && typeof rest.status === 'number') return twilioHttpError(rest.status, { code: rest.code, message: rest.message }, undefined).classification;
  return transportClass(err);
}

function transportClass(err: unknown): ErrorClass {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'retryable', message: 'Twilio request timed out' };
  if (code && /^(ECONN|ENOTFOUND|EAI_AGAIN|EPIPE|ENETUNREACH|EHOSTUNREACH|ERR_NETWORK|ECONNRESET)/.test(code)) return { kind: 'retryable', message: `network error reaching Twilio (${code})` };
  // twilio-node's own argument checks ("accountSid must start with AC"…) and anything else unexpected.
  return { kind: 'permanent', message: `Twilio client error: ${typeof e?.message === 'string' ? e.message : String(err)}` };
}
