// WhatsApp Cloud API (Meta-hosted) adapter, per /work/shared/platforms/whatsapp-cloud.md. A
// credential platform: the business gives us a system-user (or Embedded Signup business) token and
// its phone number ID, and we prove them by reading that number from the Graph API.
//
// The Cloud API has no endpoint that reads past or received messages: messages reach us only as
// `whatsapp_business_account` webhooks. So fetchPage honestly returns nothing in both modes and
// the webhook handler is the source of truth for this channel's history.
import type { PlatformConfig } from '../../lib/platform-config';
import { READ_RETRY, retryRead } from './http';
import {
  PlatformError,
  type AccountInfo,
  type Capability,
  type ChannelAdapter,
  type ConnectResult,
  type Credentials,
  type ErrorClass,
  type MarkReadRequest,
  type OutboundMessage,
  type SendResult,
  type SyncCursor,
  type SyncPage,
} from './types';

const PLATFORM = 'whatsapp_cloud' as const;
const DEFAULT_TIMEOUT_MS = 15_000;
const PHONE_FIELDS = 'display_phone_number,verified_name,quality_rating,code_verification_status,platform_type';
const GRAPH_ID = /^\d{5,20}$/;

// Graph error codes by how a caller should react (whatsapp-cloud.md "Errors", README cross-cutting rules).
const RATE_LIMIT_CODES = new Set([4, 17, 32, 613, 80007, 130429, 131056]);
const RETRYABLE_CODES = new Set([1, 2, 131000, 131016]);
const REAUTH_CODES = new Set([0, 102, 104, 190]);
const isPermissionCode = (code: number) => code === 10 || (code >= 200 && code <= 299);
/** When the platform gives no Retry-After: the pair rate is ~1 msg / 6 s, throughput refills per second, BUC/app limits per minutes. */
const DEFAULT_RETRY_MS: Record<number, number> = { 130429: 1_000, 131056: 6_000 };
const DEFAULT_LONG_RETRY_MS = 60_000;
/** Outside the 24 h customer-service window: only an approved template may be sent (131047 re-engagement). */
const WINDOW_CLOSED_CODE = 131047;
const WINDOW_CLOSED_HINT = 'outside the 24 h customer-service window: send an approved template instead';
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

interface PhoneNumberNode {
  id: string;
  display_phone_number?: string;
  verified_name?: string;
  quality_rating?: string;
  code_verification_status?: string;
  platform_type?: string;
}
interface GraphErrorBody {
  error?: { message?: string; type?: string; code?: number; error_subcode?: number; error_data?: { details?: string } };
}

export interface WhatsAppCloudOptions {
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export class WhatsAppCloudAdapter implements ChannelAdapter {
  readonly platform = PLATFORM;
  readonly usesOAuth = false;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(config: PlatformConfig, options: WhatsAppCloudOptions = {}) {
    this.base = `${config.whatsapp.graphUrl.replace(/\/$/, '')}/${config.whatsapp.graphVersion}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  capabilities(): Capability[] {
    // No 'history': the Cloud API cannot read past messages.
    return ['read', 'send', 'send_media', 'templates', 'mark_read', 'webhooks'];
  }

  async connectWithCredentials(input: Record<string, unknown>): Promise<ConnectResult> {
    const accessToken = stringField(input, 'accessToken');
    const phoneNumberId = stringField(input, 'phoneNumberId');
    const wabaId = input.wabaId === undefined || input.wabaId === null || input.wabaId === '' ? undefined : stringField(input, 'wabaId');
    if (!accessToken) throw permanent('accessToken is required (a system-user or business integration token)');
    if (!phoneNumberId || !GRAPH_ID.test(phoneNumberId)) throw permanent('phoneNumberId is required: the numeric phone number ID from WhatsApp Manager (not the phone number itself)');
    if (wabaId !== undefined && !GRAPH_ID.test(wabaId)) throw permanent('wabaId must be the numeric WhatsApp Business Account ID');

    const phone = await this.readPhoneNumber(accessToken, phoneNumberId).catch((err: unknown) => {
      throw notFoundAsPermanent(err, `phone number ID ${phoneNumberId} does not exist or this token cannot access it`);
    });
    if (wabaId) {
      // Webhooks arrive keyed by the WABA: make sure the number really belongs to the WABA we were given.
      const listed = await this.graphGet<{ data?: Array<{ id?: string }> }>(accessToken, `/${wabaId}/phone_numbers`, { fields: 'id' }).catch((err: unknown) => {
        throw notFoundAsPermanent(err, `WhatsApp Business Account ${wabaId} does not exist or this token cannot access it`);
      });
      if (!listed.data?.some((p) => p.id === phoneNumberId)) throw permanent(`phone number ID ${phoneNumberId} does not belong to WhatsApp Business Account ${wabaId}`);
    }

    const account = accountOf(phone);
    const credentials: Credentials = { accessToken, phoneNumberId, ...(wabaId ? { wabaId } : {}) };
    const credentialHints: Record<string, string> = { accessToken: mask(accessToken), phoneNumber: mask(digitsOf(phone.display_phone_number ?? '')) };
    if (phone.quality_rating) credentialHints.qualityRating = phone.quality_rating;
    if (wabaId) credentialHints.wabaId = wabaId;
    // System-user tokens do not expire, so there is no tokenExpiresAt to report.
    return { account, credentials, credentialHints, settings: { phoneNumberId, ...(wabaId ? { wabaId } : {}) } };
  }

  /** System-user tokens do not expire and Graph offers no refresh for them. */
  async refresh(): Promise<null> {
    return null;
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const phoneNumberId = String(credentials.phoneNumberId ?? account.id);
    return accountOf(await this.readPhoneNumber(tokenOf(credentials), phoneNumberId));
  }

  /** No history API on the Cloud API: webhooks are the only source of messages (see the file comment). */
  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    return { conversations: [], cursor: input.cursor ?? { source: 'webhooks' }, done: true };
  }

  /**
   * `POST /{phone-number-id}/messages`: text, media by link (image/video/audio/document) or a
   * template with body parameters. A 200 only means accepted: delivery, and most refusals (131047
   * outside the window, 131026 undeliverable), arrive later as `statuses[]` webhooks keyed by the
   * returned wamid — classify those with whatsappCloudDeliveryFailure().
   */
  async send(input: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult> {
    const { credentials, account, message } = input;
    const accessToken = tokenOf(credentials);
    const phoneNumberId = String(credentials.phoneNumberId ?? account.id);
    const to = recipientOf(message);
    const body = { messaging_product: 'whatsapp', recipient_type: 'individual', to, ...contentOf(message) };
    const res = await this.graphPost<SendResponse>(accessToken, `/${phoneNumberId}/messages`, body);
    const wamid = res.messages?.[0]?.id;
    if (typeof wamid !== 'string' || !wamid) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'Graph accepted the send but returned no message id' });
    return { externalId: wamid, timestamp: Date.now() };
  }

  /**
   * Read receipt: `POST /{phone-number-id}/messages` `{messaging_product, status: 'read', message_id}`
   * on the latest inbound message (the customer sees blue ticks; WhatsApp marks the earlier ones read too).
   */
  async markRead(input: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void> {
    const latest = input.read.messageIds[0];
    if (!latest) return;
    const phoneNumberId = String(input.credentials.phoneNumberId ?? input.account.id);
    await this.graphPost<{ success?: boolean }>(tokenOf(input.credentials), `/${phoneNumberId}/messages`, { messaging_product: 'whatsapp', status: 'read', message_id: latest });
  }

  classify(err: unknown): ErrorClass {
    return classifyError(err);
  }

  // ---- Graph plumbing ----

  private readPhoneNumber(accessToken: string, phoneNumberId: string): Promise<PhoneNumberNode> {
    return this.graphGet<PhoneNumberNode>(accessToken, `/${phoneNumberId}`, { fields: PHONE_FIELDS });
  }

  /** GET on the Graph API with the token in the Authorization header (never in the URL, so never in an error). */
  private graphGet<T>(accessToken: string, path: string, query: Record<string, string>): Promise<T> {
    return retryRead(() => this.graphRequest<T>(accessToken, `${this.base}${path}?${new URLSearchParams(query)}`, { method: 'GET' }), READ_RETRY);
  }

  /** POST of a JSON body on the Graph API. */
  private graphPost<T>(accessToken: string, path: string, body: unknown): Promise<T> {
    return this.graphRequest<T>(accessToken, `${this.base}${path}`, { method: 'POST', body: JSON.stringify(body), contentType: 'application/json' });
  }

  private async graphRequest<T>(accessToken: string, url: string, init: { method: string; body?: string; contentType?: string }): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: init.method,
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', ...(init.contentType ? { 'content-type': init.contentType } : {}) },
        body: init.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new PlatformError(PLATFORM, transportClass(err));
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
    if (!res.ok) throw whatsappCloudError(res.status, body, res.headers, accessToken);
    if (!body || typeof body !== 'object') throw new PlatformError(PLATFORM, { kind: 'retryable', message: `Graph answered ${res.status} without a JSON body` }, res.status);
    return body as T;
  }
}

/**
 * A failed Graph call as a PlatformError: the `error.code` decides (the Cloud API answers HTTP 400
 * even for rate limits), then the HTTP status. Exported for unit tests of the classification.
 */
export function whatsappCloudError(status: number, body: unknown, headers: Headers, secret?: string): PlatformError {
  const error = (body as GraphErrorBody | undefined)?.error;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const details = error?.error_data?.details;
  let text = [error?.message ?? `HTTP ${status}`, details].filter(Boolean).join(' — ');
  if (secret) text = text.split(secret).join('[redacted]');
  const codeText = code === undefined ? undefined : String(code);
  const message = `Graph ${status}${code !== undefined ? ` code ${code}` : ''}${error?.error_subcode !== undefined ? `/${error.error_subcode}` : ''}: ${text}`;

  let cls: ErrorClass;
  if (code === WINDOW_CLOSED_CODE) {
    // Usually asynchronous (a `failed` status), but the API may also refuse it synchronously.
    cls = { kind: 'permanent', message: `${message} (${WINDOW_CLOSED_HINT})`, code: 'window_closed' };
  } else if (code !== undefined && RATE_LIMIT_CODES.has(code)) {
    cls = { kind: 'rate_limited', retryAfterMs: retryAfterMs(headers) ?? DEFAULT_RETRY_MS[code] ?? DEFAULT_LONG_RETRY_MS, message, code: codeText };
  } else if (code !== undefined && RETRYABLE_CODES.has(code)) {
    cls = { kind: 'retryable', message, code: codeText };
  } else if ((code !== undefined && (REAUTH_CODES.has(code) || isPermissionCode(code))) || status === 401) {
    cls = { kind: 'reauth', message, code: codeText };
  } else if (status === 429) {
    cls = { kind: 'rate_limited', retryAfterMs: retryAfterMs(headers) ?? DEFAULT_LONG_RETRY_MS, message, code: codeText };
  } else if (status >= 500 || status === 408) {
    cls = { kind: 'retryable', message, code: codeText };
  } else {
    // 131047 window closed, 131026 undeliverable, 132000/132001 template, 100/131008/131009 bad request, 368 policy…
    cls = { kind: 'permanent', message, code: codeText };
  }
  return new PlatformError(PLATFORM, cls, status);
}

/**
 * How long to wait, from the platform's own hints: `Retry-After` (seconds or HTTP date), else the
 * business use case header's `estimated_time_to_regain_access` (minutes).
 */
function retryAfterMs(headers: Headers): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.max(1000, seconds * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(1000, at - Date.now());
  }
  const buc = headers.get('x-business-use-case-usage');
  if (buc) {
    try {
      const usage = JSON.parse(buc) as Record<string, Array<{ estimated_time_to_regain_access?: number }>>;
      const minutes = Math.max(0, ...Object.values(usage).flat().map((u) => Number(u.estimated_time_to_regain_access) || 0));
      if (minutes > 0) return minutes * 60_000;
    } catch { /* a malformed hint is no hint */ }
  }
  return undefined;
}

/**
 * A send that was accepted and then failed, as its `statuses[].errors[]` webhook reports it
 * (`{code, title, message, error_data.details}`): 131047 → permanent `window_closed`, rate limits,
 * retryable codes and the rest (131026 undeliverable, 131051 unsupported, 132xxx template…) as for
 * synchronous errors. Retry-After does not exist here, so rate limits get the per-code defaults.
 */
export function whatsappCloudDeliveryFailure(error: { code?: number | string; title?: string; message?: string; error_data?: { details?: string } }): ErrorClass {
  const code = Number(error.code);
  const body = { error: { code: Number.isFinite(code) ? code : undefined, message: error.message ?? error.title, error_data: error.error_data } };
  // HTTP 400 stands in for the status an async failure does not have: the code alone decides.
  return whatsappCloudError(400, body, new Headers()).classification;
}

function classifyError(err: unknown): ErrorClass {
  if (err instanceof PlatformError) return err.classification;
  return transportClass(err);
}

/** Errors before any HTTP answer: timeouts and network failures are worth retrying. */
function transportClass(err: unknown): ErrorClass {
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'retryable', message: 'Graph request timed out' };
  if (err instanceof TypeError) return { kind: 'retryable', message: `network error reaching Graph (${causeCode(err) ?? 'fetch failed'})` };
  return { kind: 'permanent', message: `unexpected error: ${(err as Error | undefined)?.message ?? String(err)}` };
}

const causeCode = (err: Error) => (err.cause as { code?: string } | undefined)?.code;

/** A missing object (Graph code 100 / subcode 33, or a plain 404) reads better with what we were looking for. */
function notFoundAsPermanent(err: unknown, what: string): unknown {
  if (!(err instanceof PlatformError)) return err;
  const cls = err.classification;
  const missing = err.status === 404 || (cls.kind === 'permanent' && cls.code === '100');
  return missing ? new PlatformError(PLATFORM, { kind: 'permanent', message: `${what} (${cls.message})`, code: cls.code }, err.status) : err;
}

interface SendResponse { messages?: Array<{ id?: string; message_status?: string }>; contacts?: Array<{ input?: string; wa_id?: string }> }

/** The customer's wa_id (digits; `+`, spaces and a `whatsapp:` prefix are tolerated) or a BSUID (`CC.digits`), as is. */
function recipientOf(message: OutboundMessage): string {
  const raw = (message.to.externalId || message.to.handle || '').trim().replace(/^whatsapp:/i, '');
  if (!raw) throw permanent('the message has no recipient');
  if (/^\+?[\d\s\-().]+$/.test(raw)) {
    const digits = raw.replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15) throw permanent(`invalid recipient "${raw}": not a WhatsApp phone number`);
    return digits;
  }
  return raw;
}

const MEDIA_KIND = { image: 'image', video: 'video', audio: 'audio', file: 'document' } as const;

/** The type-specific part of a send body; content the Cloud API cannot carry is refused before any call. */
function contentOf(message: OutboundMessage): Record<string, unknown> {
  if (message.template) {
    const { name, language, parameters } = message.template;
    if (!name || !language) throw permanent('a template needs a name and a language code');
    const components = parameters && parameters.length > 0
      ? [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text', text })) }]
      : undefined;
    return { type: 'template', template: { name, language: { code: language }, ...(components ? { components } : {}) } };
  }
  if (message.media) {
    const { type, url, name } = message.media;
    const kind = MEDIA_KIND[type];
    if (!kind) throw permanent(`unsupported media type "${String(type)}"`);
    if (!/^https?:\/\/\S+$/i.test(url)) throw permanent('media must be given by an http(s) URL');
    const caption = message.media.caption ?? message.text;
    if (caption && kind === 'audio') throw permanent('WhatsApp audio messages cannot carry a caption or text: send the text as its own message');
    if (caption && caption.length > MAX_CAPTION) throw permanent(`a WhatsApp media caption is at most ${MAX_CAPTION} characters`);
    return { type: kind, [kind]: { link: url, ...(caption ? { caption } : {}), ...(kind === 'document' && name ? { filename: name } : {}) } };
  }
  const text = message.text ?? '';
  if (!text.trim()) throw permanent('nothing to send: the message has no text, media or template');
  if (text.length > MAX_TEXT) throw permanent(`a WhatsApp text is at most ${MAX_TEXT} characters`);
  return { type: 'text', text: { preview_url: /https?:\/\//i.test(text), body: text } };
}

function accountOf(phone: PhoneNumberNode): AccountInfo {
  return { id: phone.id, name: phone.verified_name, handle: phone.display_phone_number };
}

function tokenOf(credentials: Credentials): string {
  const token = credentials.accessToken;
  if (typeof token !== 'string' || !token) throw new PlatformError(PLATFORM, { kind: 'reauth', message: 'no access token stored for this channel' });
  return token;
}

function stringField(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' && typeof value !== 'number') throw permanent(`${name} must be a string`);
  return String(value).trim();
}

const permanent = (message: string) => new PlatformError(PLATFORM, { kind: 'permanent', message });
const digitsOf = (s: string) => s.replace(/\D/g, '');
/** `…` and the last four characters: enough to recognize, useless to replay. */
const mask = (s: string) => (s.length > 4 ? `…${s.slice(-4)}` : '…');
