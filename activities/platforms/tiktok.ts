// TikTok: Login Kit OAuth v2 (www.tiktok.com authorize, open.tiktokapis.com token/revoke) for the
// business account's token, then the Business Messaging API (business-api.tiktok.com/open_api/v1.3)
// for DMs. Business Messaging answers HTTP 200 with `{code, message, request_id, data}` and reports
// failures in `code`, so every call checks the envelope, not just the status.
import type { PlatformConfig } from '../../lib/platform-config';
import {
  PlatformError,
  type AccountInfo,
  type Capability,
  type ChannelAdapter,
  type ConnectResult,
  type Credentials,
  type ErrorClass,
  type NormalizedAttachment,
  type NormalizedConversation,
  type NormalizedMessage,
  type OutboundMessage,
  type RefreshResult,
  type SendResult,
  type SyncCursor,
  type SyncPage,
} from './types';
import { fetchPlatform, READ_RETRY, readJsonObject, retryRead } from './http';
import { fetchMedia } from './media';

const PLATFORM = 'tiktok' as const;
const API_VERSION = 'v1.3';
const TIMEOUT_MS = 20_000;
/** Used when a rate limit comes without Retry-After. */
const DEFAULT_RETRY_AFTER_MS = 60_000;
/** Conversations per sync page (the list endpoint allows 1–50). */
const CONVERSATIONS_PER_PAGE = 20;
const MESSAGES_PER_REQUEST = 50;
/** Business Messaging limits reported by integrators (and enforced by the sandbox). */
const MAX_TEXT_CHARS = 6000;
const MAX_IMAGE_BYTES = 3 * 1024 * 1024;
const IMAGE_TYPES = ['image/jpeg', 'image/jpg', 'image/png'];

/** Requested at consent; users may grant a subset, so the required ones are checked after. */
export const TIKTOK_SCOPES = ['user.info.basic', 'user.info.profile', 'message.list.read', 'message.list.send', 'message.list.manage'];
const REQUIRED_SCOPES = ['user.info.basic', 'message.list.read', 'message.list.send'];

/**
 * Business Messaging envelope codes. 40001/40002/40100/50000 are documented API-for-Business codes,
 * 40064 is reported by integrators; 40070 and 4010x (token) are the sandbox's choices (its
 * describe() lists them), since TikTok's own values for those are not in the notes.
 */
const CODES = {
  NO_PERMISSION: 40001,
  INVALID_PARAMS: 40002,
  SENDING_TOO_FAST: 40064,
  WINDOW_CLOSED: 40070,
  RATE_LIMITED: 40100,
  ACCESS_TOKEN_EXPIRED: 40102,
  ACCESS_TOKEN_MISSING: 40104,
  ACCESS_TOKEN_INVALID: 40105,
  INTERNAL_ERROR: 50000,
} as const;
const TOKEN_CODES: number[] = [CODES.ACCESS_TOKEN_EXPIRED, CODES.ACCESS_TOKEN_MISSING, CODES.ACCESS_TOKEN_INVALID, CODES.NO_PERMISSION];

type Json = Record<string, unknown>;

interface TokenResponse {
  access_token: string;
  expires_in: number;
  open_id: string;
  refresh_token: string;
  refresh_expires_in?: number;
  scope?: string;
}

interface ConversationItem {
  conversation_id: string;
  user?: { id?: string; username?: string; display_name?: string };
  latest_message?: MessageContent | null;
  update_time?: number;
}

interface MessageContent {
  conversation_id?: string;
  message_id: string;
  /** Epoch ms. */
  timestamp: number;
  type: string;
  text?: { body?: string };
  image?: { media_id?: string };
  share_post?: { embed_url?: string };
  from?: string;
  from_user?: { id?: string };
  to?: string;
  to_user?: { id?: string };
}

/**
 * Cursor (JSON-safe). `watermark` is the newest message time (ms) already returned and `seen` the
 * message ids at exactly that ms, so a message in the same millisecond is neither lost nor repeated.
 * While a walk over the conversation list is in progress, `list` is the list cursor and
 * `walkWatermark`/`walkSeen` collect the next watermark; `phase` says which walk it is.
 */
interface TikTokCursor {
  phase: 'backfill' | 'incremental';
  list: string | null;
  watermark: number;
  seen: string;
  walkWatermark: number;
  walkSeen: string;
}

export class TikTokAdapter implements ChannelAdapter {
  readonly platform = PLATFORM;
  readonly usesOAuth = true;

  constructor(private readonly config: PlatformConfig) {}

  private get cfg() { return this.config.tiktok; }
  private get businessBase() { return `${this.cfg.businessApiUrl.replace(/\/$/, '')}/open_api/${API_VERSION}`; }

  capabilities(): Capability[] {
    return ['read', 'send', 'send_media', 'webhooks', 'history'];
  }

  authorizationUrl({ state, redirectUri }: { state: string; redirectUri: string }): string {
    const url = new URL(`${this.cfg.authorizeUrl.replace(/\/$/, '')}/v2/auth/authorize/`);
    url.searchParams.set('client_key', this.cfg.clientKey);
    url.searchParams.set('scope', TIKTOK_SCOPES.join(','));
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    return url.toString();
  }

  async exchangeCode({ code, redirectUri }: { code: string; redirectUri: string }): Promise<ConnectResult> {
    if (!code) throw permanent('no authorization code: the user denied or cancelled the TikTok consent');
    // The notes say to URL-decode the code; a code copied raw from the callback URL still has %XX.
    const decoded = /%[0-9A-Fa-f]{2}/.test(code) ? safeDecode(code) : code;
    const tokens = await this.tokenRequest({ grant_type: 'authorization_code', code: decoded, redirect_uri: redirectUri });
    const granted = (tokens.scope ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const missing = REQUIRED_SCOPES.filter((s) => !granted.includes(s));
    // No revoke here: TikTok's revoke ends the app's whole authorization for this account, which
    // would also cut off a channel already connected with the same account.
    if (missing.length) throw permanent(`required TikTok permissions were not granted: ${missing.join(', ')}; reconnect and allow them`, 'missing_scopes');
    const credentials = credentialsOf(tokens);
    const account = await this.check(credentials, { id: tokens.open_id });
    return {
      account,
      credentials,
      tokenExpiresAt: credentials.accessTokenExpiresAt as number,
      credentialHints: { accessToken: mask(tokens.access_token), scopes: granted.join(','), openId: mask(tokens.open_id) },
    };
  }

  /** Refresh tokens rotate: the response's refresh_token replaces the old one, which stops working. */
  async refresh(credentials: Credentials, _account?: AccountInfo): Promise<RefreshResult | null> {
    const refreshToken = str(credentials.refreshToken);
    if (!refreshToken) throw reauth('no TikTok refresh token stored; reconnect the account');
    const tokens = await this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const next = credentialsOf(tokens);
    return { credentials: { ...credentials, ...next }, tokenExpiresAt: next.accessTokenExpiresAt as number };
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const businessId = str(credentials.openId) ?? account.id;
    const data = await this.business(credentials, 'GET', '/business/get/', {
      business_id: businessId, fields: JSON.stringify(['username', 'display_name', 'profile_image']),
    });
    return { id: businessId, name: str(data.display_name), handle: str(data.username) };
  }

  async revoke(credentials: Credentials, _account?: AccountInfo): Promise<void> {
    const token = str(credentials.accessToken) ?? str(credentials.refreshToken);
    if (token) await this.revokeToken(token);
  }

  // ---- sync ---------------------------------------------------------------------------------

  /**
   * backfill: walks the conversation list (newest activity first, CONVERSATIONS_PER_PAGE a page)
   * with every message of each conversation. incremental: walks the list only down to the
   * watermark and returns the messages newer than it. Both list endpoints are marked unverified
   * by the sandbox (paths not confirmed against TikTok's portal).
   */
  // `mode` needs no branch here: the cursor's phase says which walk is under way, and a null
  // cursor (either mode) starts with the full walk, which ends in an incremental cursor.
  async fetchPage({ credentials, account, cursor }: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const businessId = str(credentials.openId) ?? account.id;
    const c = parseCursor(cursor);
    const data = await this.business(credentials, 'GET', '/business/message/conversation/list/', {
      business_id: businessId, limit: String(CONVERSATIONS_PER_PAGE), ...(c.list ? { cursor: c.list } : {}),
    });
    const items = (Array.isArray(data.conversations) ? data.conversations : []) as ConversationItem[];
    const hasMore = data.has_more === true && typeof data.cursor === 'string' && data.cursor !== '';
    const since = c.phase === 'incremental' ? { watermark: c.watermark, seen: new Set(splitIds(c.seen)) } : null;

    // The list is newest activity first: in incremental mode stop at the first conversation whose
    // last activity is older than the watermark (update_time is in seconds, so compare in seconds).
    let reachedOld = false;
    const wanted: ConversationItem[] = [];
    for (const item of items) {
      const lastMs = item.latest_message?.timestamp ?? (item.update_time ?? 0) * 1000;
      if (since && Math.floor(lastMs / 1000) < Math.floor(since.watermark / 1000)) { reachedOld = true; break; }
      wanted.push(item);
    }

    // The next watermark is the newest activity when the walk starts (the list's first entry):
    // anything newer arrived during the walk and is picked up again next time (deduped by id),
    // so a message landing in an already walked conversation is never skipped.
    const walk = c.list
      ? { watermark: c.walkWatermark, seen: new Set(splitIds(c.walkSeen)) }
      : { watermark: c.watermark, seen: new Set(splitIds(c.seen)) };
    const first = c.list ? undefined : items[0]?.latest_message;
    if (first && first.timestamp > walk.watermark) { walk.watermark = first.timestamp; walk.seen = new Set([first.message_id]); }

    const conversations: NormalizedConversation[] = [];
    for (const item of wanted) {
      const messages = await this.messagesOf(credentials, businessId, item.conversation_id, since);
      for (const m of messages) if (m.timestamp === walk.watermark) walk.seen.add(m.externalId);
      if (since && messages.length === 0) continue;
      conversations.push({
        externalId: item.conversation_id,
        participant: { externalId: item.user?.id ?? '', handle: item.user?.username, name: item.user?.display_name },
        messages,
      });
    }

    const seen = [...walk.seen].join(',');
    if (hasMore && !reachedOld) {
      return { conversations, done: false, cursor: toCursor({ ...c, list: data.cursor as string, walkWatermark: walk.watermark, walkSeen: seen }) };
    }
    // Walk finished: its watermark becomes the incremental cursor.
    return {
      conversations, done: true,
      cursor: toCursor({ phase: 'incremental', list: null, watermark: walk.watermark, seen, walkWatermark: 0, walkSeen: '' }),
    };
  }

  /** Messages of one conversation, oldest first; with `since`, only those newer than the watermark. */
  private async messagesOf(credentials: Credentials, businessId: string, conversationId: string, since: { watermark: number; seen: Set<string> } | null): Promise<NormalizedMessage[]> {
    const out: NormalizedMessage[] = [];
    let pageCursor: string | undefined;
    for (;;) {
      const data = await this.business(credentials, 'GET', '/business/message/content/list/', {
        business_id: businessId, conversation_id: conversationId, limit: String(MESSAGES_PER_REQUEST), ...(pageCursor ? { cursor: pageCursor } : {}),
      });
      const items = (Array.isArray(data.messages) ? data.messages : []) as MessageContent[];
      let older = false;
      for (const m of items) {
        if (since && (m.timestamp < since.watermark || (m.timestamp === since.watermark && since.seen.has(m.message_id)))) {
          if (m.timestamp < since.watermark) older = true;
          continue;
        }
        out.push(normalizeMessage(m, businessId));
      }
      // Newest first, so once older than the watermark the rest is too.
      if (older || data.has_more !== true || typeof data.cursor !== 'string' || !data.cursor) break;
      pageCursor = data.cursor;
    }
    const unique = new Map(out.map((m) => [m.externalId, m]));
    return [...unique.values()].sort((a, b) => a.timestamp - b.timestamp);
  }

  // ---- send ---------------------------------------------------------------------------------

  /**
   * POST /business/message/send/ to the conversation (recipient_type CONVERSATION, recipient =
   * conversation_id). Text and images only (TikTok DMs have no video/audio/file and no templates);
   * an image is fetched from its URL and uploaded first (media/upload → media_id). Text together
   * with an image goes out as two DMs (TikTok has no captions): the image, then the text; the
   * result is the image's message_id. Outside the 48 h window (or past the 10 messages allowed in
   * it) TikTok answers 40070 → permanent `window_closed`.
   */
  async send({ credentials, account, message }: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult> {
    const businessId = str(credentials.openId) ?? account.id;
    const conversationId = message.conversationExternalId;
    if (!conversationId) throw permanent('no TikTok conversation_id to send to', 'invalid_recipient');
    if (message.template) throw permanent('TikTok Business Messaging has no message templates', 'unsupported');
    const text = message.media?.caption ?? message.text;
    if (text !== undefined && [...text].length > MAX_TEXT_CHARS) throw permanent(`TikTok DMs are limited to ${MAX_TEXT_CHARS} characters`, 'text_too_long');

    const sendOne = async (content: Record<string, unknown>): Promise<SendResult> => {
      const data = await this.sendCall(credentials, { business_id: businessId, recipient_type: 'CONVERSATION', recipient: conversationId, ...content });
      const id = str((data.message as Json | undefined)?.message_id);
      if (!id) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'TikTok send response lacks data.message.message_id', code: 'bad_response' });
      return { externalId: id, timestamp: Date.now() };
    };

    if (message.media) {
      if (message.media.type !== 'image') throw permanent(`TikTok DMs cannot carry ${message.media.type} attachments (images only)`, 'unsupported');
      const mediaId = await this.uploadImage(credentials, businessId, message.media);
      const result = await sendOne({ message_type: 'IMAGE', image: { media_id: mediaId } });
      if (text) await sendOne({ message_type: 'TEXT', text: { body: text } });
      return result;
    }
    if (!text) throw permanent('nothing to send: no text and no media', 'empty_message');
    return sendOne({ message_type: 'TEXT', text: { body: text } });
  }

  /** The send call, with the window error turned into `window_closed`. */
  private async sendCall(credentials: Credentials, body: Json): Promise<Json> {
    try {
      return await this.business(credentials, 'POST', '/business/message/send/', body);
    } catch (err) {
      if (err instanceof PlatformError && err.classification.code === String(CODES.WINDOW_CLOSED)) {
        throw new PlatformError(PLATFORM, {
          kind: 'permanent', code: 'window_closed',
          message: `TikTok reply window closed (${err.classification.message}); replies are allowed for 48 h after the customer's last message, at most 10 per window, and TikTok has no message templates: the customer must write again`,
        }, err.status);
      }
      throw err;
    }
  }

  /** Fetches the image at `url` and uploads it (multipart) for a media_id. */
  private async uploadImage(credentials: Credentials, businessId: string, media: NonNullable<OutboundMessage['media']>): Promise<string> {
    const token = str(credentials.accessToken);
    if (!token) throw reauth('no TikTok access token stored; reconnect the account');
    const { content: bytes, contentType: mimeType } = await fetchMedia(PLATFORM, media, { maxBytes: MAX_IMAGE_BYTES, limit: 'TikTok\'s 3 MB image limit', timeoutMs: TIMEOUT_MS, policy: this.config.tenantNetwork });
    if (!IMAGE_TYPES.includes(mimeType)) throw permanent(`TikTok DMs take JPG or PNG images only, not ${mimeType || 'an unknown type'}`, 'unsupported');
    const form = new FormData();
    form.set('business_id', businessId);
    form.set('media_type', 'IMAGE');
    form.set('file', new Blob([bytes], { type: mimeType }), media.name ?? (mimeType === 'image/png' ? 'image.png' : 'image.jpg'));
    const res = await send(`${this.businessBase}/business/message/media/upload/`, { method: 'POST', headers: { 'Access-Token': token }, body: form });
    const json = await readJson(res);
    const code = typeof json?.code === 'number' ? json.code : undefined;
    const mediaId = str((json?.data as Json | undefined)?.media_id);
    if (res.ok && code === 0 && mediaId) return mediaId;
    throw businessError(res, code, str(json?.message));
  }

  // ---- errors -------------------------------------------------------------------------------

  classify(err: unknown): ErrorClass {
    if (err instanceof PlatformError) return err.classification;
    if (isTransportError(err)) return { kind: 'retryable', message: 'network error or timeout talking to TikTok', code: 'network' };
    return { kind: 'permanent', message: err instanceof Error ? err.message : 'unknown error' };
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /** Login Kit token endpoint (form body); errors are `{error, error_description, log_id}`. */
  private async tokenRequest(params: Record<string, string>): Promise<TokenResponse> {
    const body = new URLSearchParams({ client_key: this.cfg.clientKey, client_secret: this.cfg.clientSecret, ...params });
    const res = await send(`${this.cfg.openApiUrl.replace(/\/$/, '')}/v2/oauth/token/`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body,
    });
    const json = await readJson(res);
    const error = str(json?.error);
    if (!res.ok || error || !json) throw oauthError(res, json);
    if (!str(json.access_token) || !str(json.open_id) || typeof json.expires_in !== 'number') {
      throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'TikTok token response lacks access_token, open_id or expires_in', code: 'bad_response' }, res.status);
    }
    return json as unknown as TokenResponse;
  }

  private async revokeToken(token: string): Promise<void> {
    const res = await send(`${this.cfg.openApiUrl.replace(/\/$/, '')}/v2/oauth/revoke/`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_key: this.cfg.clientKey, client_secret: this.cfg.clientSecret, token }),
    });
    if (res.ok) { await res.body?.cancel(); return; }
    const json = await readJson(res);
    // An already invalid token is as good as revoked.
    if (str(json?.error) === 'invalid_request' || str(json?.error) === 'invalid_grant') return;
    throw oauthError(res, json);
  }

  /** A Business Messaging call: Access-Token header, `{code, message, data}` envelope. */
  private business(credentials: Credentials, method: 'GET' | 'POST', path: string, params: Json): Promise<Json> {
    // Reads are retried in place on 5xx/timeouts; a POST (a send) is never repeated here.
    return method === 'GET' ? retryRead(() => this.businessCall(credentials, method, path, params), READ_RETRY) : this.businessCall(credentials, method, path, params);
  }

  private async businessCall(credentials: Credentials, method: 'GET' | 'POST', path: string, params: Json): Promise<Json> {
    const token = str(credentials.accessToken);
    if (!token) throw reauth('no TikTok access token stored; reconnect the account');
    const url = new URL(`${this.businessBase}${path}`);
    const init: RequestInit = { method, headers: { 'Access-Token': token } };
    if (method === 'GET') for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
    else init.body = JSON.stringify(params);
    if (method === 'POST') init.headers = { ...init.headers, 'content-type': 'application/json' };
    const res = await send(url.toString(), init);
    const json = await readJson(res);
    const code = typeof json?.code === 'number' ? json.code : undefined;
    if (res.ok && code === 0) return (json?.data && typeof json.data === 'object' ? json.data : {}) as Json;
    throw businessError(res, code, str(json?.message));
  }
}

// ---- error mapping ------------------------------------------------------------------------------

function businessError(res: Response, code: number | undefined, message: string | undefined): PlatformError {
  const text = `${message ?? `HTTP ${res.status}`}${code !== undefined ? ` (code ${code})` : ''}`;
  const codeStr = code !== undefined ? String(code) : `http_${res.status}`;
  if (res.status === 429 || code === CODES.RATE_LIMITED) {
    return new PlatformError(PLATFORM, { kind: 'rate_limited', retryAfterMs: retryAfterMs(res) ?? DEFAULT_RETRY_AFTER_MS, message: text, code: codeStr }, res.status);
  }
  if (code === CODES.SENDING_TOO_FAST) {
    // A daily cap on conversations: it resets with the (UTC) day.
    return new PlatformError(PLATFORM, { kind: 'rate_limited', retryAfterMs: retryAfterMs(res) ?? untilNextUtcDay(), message: text, code: codeStr }, res.status);
  }
  if (code !== undefined && TOKEN_CODES.includes(code)) return new PlatformError(PLATFORM, { kind: 'reauth', message: text, code: codeStr }, res.status);
  if (res.status === 401 || res.status === 403) return new PlatformError(PLATFORM, { kind: 'reauth', message: text, code: codeStr }, res.status);
  if (res.status >= 500 || code === CODES.INTERNAL_ERROR || (code === undefined && res.status === 408)) {
    return new PlatformError(PLATFORM, { kind: 'retryable', message: text, code: codeStr }, res.status);
  }
  // Window closed, invalid params, anything else: retrying will not help.
  return new PlatformError(PLATFORM, { kind: 'permanent', message: text, code: codeStr }, res.status);
}

function oauthError(res: Response, json: Json | undefined): PlatformError {
  const error = str(json?.error) ?? `http_${res.status}`;
  const text = `${error}: ${str(json?.error_description) ?? `HTTP ${res.status}`}`;
  if (res.status === 429 || error === 'rate_limit_exceeded') {
    return new PlatformError(PLATFORM, { kind: 'rate_limited', retryAfterMs: retryAfterMs(res) ?? DEFAULT_RETRY_AFTER_MS, message: text, code: error }, res.status);
  }
  if (res.status >= 500 || error === 'internal_error') return new PlatformError(PLATFORM, { kind: 'retryable', message: text, code: error }, res.status);
  // invalid_grant: the code or refresh token is used, expired or revoked → the user must reconnect.
  if (error === 'invalid_grant' || error === 'access_token_invalid') return new PlatformError(PLATFORM, { kind: 'reauth', message: text, code: error }, res.status);
  // invalid_client, invalid_request, unsupported_grant_type: our configuration or request.
  return new PlatformError(PLATFORM, { kind: 'permanent', message: text, code: error }, res.status);
}

const permanent = (message: string, code?: string) => new PlatformError(PLATFORM, { kind: 'permanent', message, code });
const reauth = (message: string) => new PlatformError(PLATFORM, { kind: 'reauth', message, code: 'no_token' });

// ---- helpers ------------------------------------------------------------------------------------

const send = (url: string, init: RequestInit) => fetchPlatform(PLATFORM, 'TikTok', url, init, TIMEOUT_MS);
const readJson = (res: Response) => readJsonObject<Json>(res);

/** Retry-After in seconds or as an HTTP date. */
export function retryAfterMs(res: { headers: { get(name: string): string | null } }): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function untilNextUtcDay(): number {
  const now = new Date();
  return Math.max(60_000, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime());
}

function credentialsOf(tokens: TokenResponse): Credentials {
  const now = Date.now();
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    openId: tokens.open_id,
    scope: tokens.scope ?? '',
    accessTokenExpiresAt: now + tokens.expires_in * 1000,
    refreshTokenExpiresAt: typeof tokens.refresh_expires_in === 'number' ? now + tokens.refresh_expires_in * 1000 : undefined,
  };
}

function normalizeMessage(m: MessageContent, businessId: string): NormalizedMessage {
  const fromId = m.from_user?.id ?? '';
  // Incoming when addressed to the business (the notes' rule); the sender id is the fallback.
  const inbound = m.to_user?.id !== undefined ? m.to_user.id === businessId : fromId !== businessId;
  const attachments: NormalizedAttachment[] = [];
  if (m.type === 'image') attachments.push({ type: 'image', platformMediaId: m.image?.media_id });
  else if (m.type === 'share_post') attachments.push({ type: 'other', url: m.share_post?.embed_url, name: 'share_post' });
  else if (m.type === 'sticker') attachments.push({ type: 'sticker' });
  return {
    externalId: m.message_id,
    direction: inbound ? 'inbound' : 'outbound',
    sender: { externalId: fromId, name: m.from },
    text: m.text?.body,
    attachments: attachments.length ? attachments : undefined,
    timestamp: m.timestamp, // already epoch ms for DM content
  };
}

function parseCursor(cursor: SyncCursor | null): TikTokCursor {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  if (!cursor) {
    // Incremental without a cursor has nothing to compare with: it starts like a backfill.
    return { phase: 'backfill', list: null, watermark: 0, seen: '', walkWatermark: 0, walkSeen: '' };
  }
  return {
    phase: cursor.phase === 'backfill' ? 'backfill' : 'incremental',
    list: typeof cursor.list === 'string' && cursor.list ? cursor.list : null,
    watermark: num(cursor.watermark),
    seen: typeof cursor.seen === 'string' ? cursor.seen : '',
    walkWatermark: num(cursor.walkWatermark),
    walkSeen: typeof cursor.walkSeen === 'string' ? cursor.walkSeen : '',
  };
}

const toCursor = (c: TikTokCursor): SyncCursor => ({ ...c });
const splitIds = (s: string) => (s ? s.split(',') : []);
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
const mask = (v: string) => `…${v.slice(-4)}`;

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

function isTransportError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || (err instanceof TypeError && /fetch failed/i.test(err.message)));
}
