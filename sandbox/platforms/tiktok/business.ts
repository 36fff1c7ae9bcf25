// TikTok API for Business, Business Messaging (DMs) under /business-api.tiktok.com/open_api/v1.3.
// Every answer is the envelope {code, message, request_id, data}; `code != 0` is an error even with
// HTTP 200, which is how TikTok reports business errors (window closed, bad params, bad token).
import type { Context, Hono } from 'hono';
import { route, type FaultRenderer } from '../../core/context';
import type { IssuedToken } from '../../core/tokens';
import { issueTokens, redeemCode, rotateRefreshToken, type TokenPair } from './oauth';
import { faultStatus, PLATFORM, type BusinessAccount, type Conversation, type TikTokWorld } from './world';

const BASE = '/business-api.tiktok.com/open_api/v1.3';

/**
 * Envelope codes. 40001/40002/40100/50000 are TikTok API for Business codes; 40064 is reported by
 * integrators for daily conversation caps; the token and window codes are not documented in the
 * notes, so they are sandbox choices (see describe()).
 */
export const TIKTOK_CODES = {
  OK: 0,
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

const MAX_TEXT = 6000;
const MAX_IMAGE_BYTES = 3 * 1024 * 1024;

type Json = Record<string, unknown>;

export function registerBusinessRoutes(app: Hono, world: TikTokWorld): void {
  const { ctx } = world;

  const envelope = (c: Context, code: number, message: string, data: Json = {}, status: 200 | 429 | 500 = 200) =>
    c.json({ code, message, request_id: world.logId(), data }, status);
  const renderFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') {
      c.header('Retry-After', String(d.retryAfterSeconds));
      return envelope(c, TIKTOK_CODES.RATE_LIMITED, 'Too many requests. Please retry in some time.', {}, 429);
    }
    return c.json({ code: TIKTOK_CODES.INTERNAL_ERROR, message: 'Internal service error. Please try again later.', request_id: world.logId(), data: {} }, faultStatus(d));
  };
  const endpoint = (name: string, handler: (c: Context, rawBody: string) => Response | Promise<Response>) =>
    route(ctx, { platform: PLATFORM, name, renderFault }, handler);

  const parseJson = (rawBody: string): Json | undefined => {
    try {
      const v: unknown = JSON.parse(rawBody);
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
    } catch { return undefined; }
  };
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);

  /** Checks the Access-Token header, the scope, and that business_id is the token's account. */
  const authorize = (c: Context, businessId: unknown, scope: string): { account: BusinessAccount; token: IssuedToken } | Response => {
    const header = c.req.header('access-token');
    if (!header) return envelope(c, TIKTOK_CODES.ACCESS_TOKEN_MISSING, 'Access token is empty. Please pass it in the Access-Token header.');
    const token = ctx.tokens.get(header);
    const state = token && token.platform === PLATFORM && token.kind === 'access' ? ctx.tokens.state(token) : 'unknown';
    if (state === 'expired') return envelope(c, TIKTOK_CODES.ACCESS_TOKEN_EXPIRED, 'Access token has expired. Please refresh it.');
    if (state !== 'valid' || !token) return envelope(c, TIKTOK_CODES.ACCESS_TOKEN_INVALID, 'Access token is incorrect or has been revoked.');
    if (!str(businessId)) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'business_id: Missing data for required field.');
    const account = world.accounts.get(businessId as string);
    if (!account || token.subject !== account.businessId) return envelope(c, TIKTOK_CODES.NO_PERMISSION, 'No permission to operate this business account. Check that business_id matches the access token.');
    if (!token.scopes.includes(scope)) return envelope(c, TIKTOK_CODES.NO_PERMISSION, `Permission denied: the access token lacks the ${scope} scope.`);
    return { account, token };
  };

  // ---- TikTok-account OAuth for Business (JSON bodies, envelope answers) ----------------------
  const businessTokenData = (pair: TokenPair) => ({
    open_id: pair.access.subject,
    access_token: pair.access.token,
    refresh_token: pair.refresh.token,
    expires_in: ctx.tokens.expiresIn(pair.access) ?? 0,
    refresh_token_expires_in: ctx.tokens.expiresIn(pair.refresh) ?? 0,
    scope: pair.access.scopes.join(','),
  });
  const clientOf = (body: Json) => {
    const app = ctx.apps.byId(PLATFORM, str(body.client_id));
    return app && app.secret === body.client_secret ? app : undefined;
  };
  app.post(`${BASE}/tt_user/oauth2/token/`, endpoint('business.oauth.token', (c, rawBody) => {
    const body = parseJson(rawBody);
    if (!body) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Invalid JSON body.');
    const app = clientOf(body);
    if (!app) return envelope(c, TIKTOK_CODES.NO_PERMISSION, 'client_id or client_secret is incorrect.');
    if (body.grant_type !== 'authorization_code') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'grant_type must be authorization_code.');
    const result = redeemCode(world, { code: str(body.auth_code) ?? null, clientKey: app.id, redirectUri: str(body.redirect_uri) ?? null, codeVerifier: str(body.code_verifier) ?? null });
    if ('error' in result) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, `${result.error}: ${result.description}`);
    return envelope(c, 0, 'OK', businessTokenData(issueTokens(world, result.openId, app.id, result.scopes)));
  }));
  app.post(`${BASE}/tt_user/oauth2/refresh_token/`, endpoint('business.oauth.refresh', (c, rawBody) => {
    const body = parseJson(rawBody);
    if (!body) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Invalid JSON body.');
    const app = clientOf(body);
    if (!app) return envelope(c, TIKTOK_CODES.NO_PERMISSION, 'client_id or client_secret is incorrect.');
    if (body.grant_type !== 'refresh_token') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'grant_type must be refresh_token.');
    const result = rotateRefreshToken(world, str(body.refresh_token) ?? null, app.id);
    if ('error' in result) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, `${result.error}: ${result.description}`);
    return envelope(c, 0, 'OK', businessTokenData(result));
  }));

  // ---- profile ------------------------------------------------------------------------------
  app.get(`${BASE}/business/get/`, endpoint('business.get', (c) => {
    const auth = authorize(c, c.req.query('business_id'), 'user.info.basic');
    if (auth instanceof Response) return auth;
    let fields: unknown = ['username', 'display_name', 'profile_image'];
    const raw = c.req.query('fields');
    if (raw) {
      try { fields = JSON.parse(raw); } catch { return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'fields must be a JSON array of strings.'); }
    }
    if (!Array.isArray(fields)) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'fields must be a JSON array of strings.');
    const profile: Json = { username: auth.account.username, display_name: auth.account.displayName, profile_image: auth.account.profileImage };
    const unknown = fields.filter((f) => typeof f !== 'string' || !(f in profile));
    if (unknown.length) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, `Invalid fields: ${unknown.join(', ')}`);
    return envelope(c, 0, 'OK', Object.fromEntries((fields as string[]).map((f) => [f, profile[f]])));
  }));

  // ---- conversations and messages (cursor paging; newest first) -------------------------------
  const page = <T>(c: Context, items: T[]): { items: T[]; cursor: string; hasMore: boolean } | Response => {
    const limit = Number(c.req.query('limit') ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'limit must be an integer between 1 and 50.');
    const cursorParam = c.req.query('cursor');
    const offset = cursorParam ? decodeCursor(cursorParam) : 0;
    if (offset === undefined) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'cursor is invalid.');
    const slice = items.slice(offset, offset + limit);
    const next = offset + slice.length;
    return { items: slice, cursor: next < items.length ? encodeCursor(next) : '', hasMore: next < items.length };
  };
  const lastActivity = (conv: Conversation) => conv.messages.at(-1)?.timestamp ?? 0;

  app.get(`${BASE}/business/message/conversation/list/`, endpoint('conversations.list', (c) => {
    const auth = authorize(c, c.req.query('business_id'), 'message.list.read');
    if (auth instanceof Response) return auth;
    const convs = world.conversationsOf(auth.account.businessId).sort((a, b) => lastActivity(b) - lastActivity(a));
    const p = page(c, convs);
    if (p instanceof Response) return p;
    return envelope(c, 0, 'OK', {
      conversations: p.items.map((conv) => {
        const user = world.users.get(conv.userId);
        const last = conv.messages.at(-1);
        return {
          conversation_id: conv.conversationId,
          user: { id: conv.userId, username: user?.username, display_name: user?.displayName },
          latest_message: last ? world.messageContent(last) : null,
          update_time: Math.floor(lastActivity(conv) / 1000),
          can_send_message: windowState(world, conv).open,
        };
      }),
      cursor: p.cursor,
      has_more: p.hasMore,
    });
  }));

  app.get(`${BASE}/business/message/content/list/`, endpoint('messages.list', (c) => {
    const auth = authorize(c, c.req.query('business_id'), 'message.list.read');
    if (auth instanceof Response) return auth;
    const conv = world.conversations.get(c.req.query('conversation_id') ?? '');
    if (!conv || conv.businessId !== auth.account.businessId) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'conversation_id is invalid or does not belong to this business.');
    const p = page(c, [...conv.messages].sort((a, b) => b.timestamp - a.timestamp));
    if (p instanceof Response) return p;
    return envelope(c, 0, 'OK', { messages: p.items.map((m) => world.messageContent(m)), cursor: p.cursor, has_more: p.hasMore });
  }));

  // ---- send ---------------------------------------------------------------------------------
  app.post(`${BASE}/business/message/send/`, endpoint('send', (c, rawBody) => {
    const body = parseJson(rawBody);
    if (!body) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Invalid JSON body.');
    const auth = authorize(c, body.business_id, 'message.list.send');
    if (auth instanceof Response) return auth;
    if (body.recipient_type !== 'CONVERSATION') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'recipient_type must be CONVERSATION.');
    const conv = world.conversations.get(str(body.recipient) ?? '');
    if (!conv || conv.businessId !== auth.account.businessId) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'recipient is not a conversation of this business.');

    let content: { type: 'text'; text: string } | { type: 'image'; mediaId: string };
    if (body.message_type === 'TEXT') {
      const text = (body.text as Json | undefined)?.body;
      if (typeof text !== 'string' || text.length === 0) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'text.body is required for TEXT messages.');
      if ([...text].length > MAX_TEXT) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, `text.body exceeds ${MAX_TEXT} characters.`);
      content = { type: 'text', text };
    } else if (body.message_type === 'IMAGE') {
      const mediaId = str((body.image as Json | undefined)?.media_id);
      const media = mediaId ? world.media.get(mediaId) : undefined;
      if (!mediaId || !media || media.businessId !== auth.account.businessId) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'image.media_id is invalid; upload the image first.');
      content = { type: 'image', mediaId };
    } else {
      return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'message_type must be TEXT or IMAGE.');
    }
    const referenced = str((body.referenced_message_info as Json | undefined)?.referenced_message_id);
    if (referenced && !conv.messages.some((m) => m.messageId === referenced)) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'referenced_message_id is not a message of this conversation.');

    const window = windowState(world, conv);
    if (world.options.enforceWindow && !window.open) return envelope(c, TIKTOK_CODES.WINDOW_CLOSED, window.reason);
    if (!takeDailyConversation(world, auth.account.businessId, conv.conversationId)) {
      return envelope(c, TIKTOK_CODES.SENDING_TOO_FAST, 'You are sending messages too fast. Take a rest.');
    }
    const msg = world.addMessage(conv, {
      timestamp: ctx.now(), type: content.type, text: content.type === 'text' ? content.text : undefined,
      mediaId: content.type === 'image' ? content.mediaId : undefined, fromId: auth.account.businessId, toId: conv.userId, referencedMessageId: referenced,
    });
    world.emit('im_send_msg', auth.account.businessId, world.messageContent(msg));
    return envelope(c, 0, 'OK', { message: { message_id: msg.messageId } });
  }));

  // ---- media --------------------------------------------------------------------------------
  app.post(`${BASE}/business/message/media/upload/`, endpoint('media.upload', async (c, rawBody) => {
    let form: FormData;
    try {
      // route() has read the body as text; rebuild the request to parse the multipart form.
      form = await new Request('http://sandbox.local/', { method: 'POST', headers: { 'content-type': c.req.header('content-type') ?? '' }, body: rawBody }).formData();
    } catch { return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Request must be multipart/form-data with business_id, media_type and file.'); }
    const auth = authorize(c, form.get('business_id'), 'message.list.send');
    if (auth instanceof Response) return auth;
    if (form.get('media_type') !== 'IMAGE') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'media_type must be IMAGE.');
    const file = form.get('file');
    if (!file || typeof file === 'string') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'file is required.');
    const name = file.name.toLowerCase();
    const mimeType = file.type || (name.endsWith('.png') ? 'image/png' : 'image/jpeg');
    if (!['image/jpeg', 'image/jpg', 'image/png'].includes(mimeType)) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Only JPG and PNG images are supported.');
    const bytes = Buffer.from(await file.arrayBuffer());
    if (bytes.length > MAX_IMAGE_BYTES) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Image exceeds 3 MB.');
    const mediaId = `v0${ctx.id('', 16)}`;
    world.media.set(mediaId, { mediaId, businessId: auth.account.businessId, mimeType, size: bytes.length, bytes });
    return envelope(c, 0, 'OK', { media_id: mediaId });
  }));

  app.post(`${BASE}/business/message/media/download/`, endpoint('media.download', (c, rawBody) => {
    const body = parseJson(rawBody);
    if (!body) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Invalid JSON body.');
    const auth = authorize(c, body.business_id, 'message.list.read');
    if (auth instanceof Response) return auth;
    const conv = world.conversations.get(str(body.conversation_id) ?? '');
    const msg = conv?.businessId === auth.account.businessId ? conv.messages.find((m) => m.messageId === body.message_id) : undefined;
    if (!msg || msg.mediaId !== body.media_id || !world.media.has(String(body.media_id))) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'No such media in this conversation and message.');
    if (body.media_type !== undefined && body.media_type !== 'IMAGE') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'media_type must be IMAGE.');
    return envelope(c, 0, 'OK', { download_url: `${ctx.publicUrl()}/business-api.tiktok.com/sandbox-media/${encodeURIComponent(String(body.media_id))}` });
  }));

  // Where download_url points (a CDN in reality): the stored bytes.
  app.get('/business-api.tiktok.com/sandbox-media/:mediaId', endpoint('media.file', (c) => {
    const mediaId = c.req.param('mediaId') ?? '';
    // Profile pictures (avatar-*.png) are served as the stock pixel.
    const media = world.media.get(mediaId) ?? (mediaId.startsWith('avatar-') ? world.stockPixel : undefined);
    if (!media) return c.text('Not Found', 404);
    return c.body(new Uint8Array(media.bytes), 200, { 'content-type': media.mimeType });
  }));

  // ---- DM webhook registration per app: the callback becomes the sandbox's webhook target ----
  const appAuth = (appId: unknown, secret: unknown) => {
    const app = ctx.apps.byId(PLATFORM, str(appId));
    return app && app.secret === secret ? app : undefined;
  };
  app.get(`${BASE}/business/webhook/list/`, endpoint('webhook.list', (c) => {
    if (!appAuth(c.req.query('app_id'), c.req.query('secret'))) return envelope(c, TIKTOK_CODES.NO_PERMISSION, 'app_id or secret is incorrect.');
    if (c.req.query('event_type') !== 'DIRECT_MESSAGE') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'event_type must be DIRECT_MESSAGE.');
    return envelope(c, 0, 'OK', { app_id: c.req.query('app_id'), event_type: 'DIRECT_MESSAGE', callback_url: ctx.webhooks.target(PLATFORM) ?? '' });
  }));
  app.post(`${BASE}/business/webhook/update/`, endpoint('webhook.update', (c, rawBody) => {
    const body = parseJson(rawBody);
    if (!body) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'Invalid JSON body.');
    if (!appAuth(body.app_id, body.secret)) return envelope(c, TIKTOK_CODES.NO_PERMISSION, 'app_id or secret is incorrect.');
    if (body.event_type !== 'DIRECT_MESSAGE') return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'event_type must be DIRECT_MESSAGE.');
    const url = str(body.callback_url);
    if (!url || !/^https?:\/\//.test(url)) return envelope(c, TIKTOK_CODES.INVALID_PARAMS, 'callback_url must be an absolute URL.');
    ctx.webhooks.setTarget(PLATFORM, url);
    return envelope(c, 0, 'OK', { app_id: body.app_id, event_type: 'DIRECT_MESSAGE', callback_url: url });
  }));
}

/** The reply window: open for `windowHours` after the user's last message, `messagesPerWindow` sends. */
export function windowState(world: TikTokWorld, conv: Conversation): { open: true } | { open: false; reason: string } {
  const { windowHours, messagesPerWindow } = world.options;
  if (conv.lastUserMessageAt === null) return { open: false, reason: 'The user has not messaged this business; they must message first.' };
  if (world.ctx.now() - conv.lastUserMessageAt > windowHours * 3600 * 1000) {
    return { open: false, reason: `The ${windowHours}-hour messaging window has closed: the user's last message is older than ${windowHours} hours.` };
  }
  if (conv.businessMessagesInWindow >= messagesPerWindow) {
    return { open: false, reason: `At most ${messagesPerWindow} messages can be sent per ${windowHours}-hour window until the user writes again.` };
  }
  return { open: true };
}

/** Daily cap on distinct conversations a business sends to (UTC day of sandbox time). */
function takeDailyConversation(world: TikTokWorld, businessId: string, conversationId: string): boolean {
  const day = new Date(world.ctx.now()).toISOString().slice(0, 10);
  let entry = world.dailySends.get(businessId);
  if (!entry || entry.day !== day) {
    entry = { day, conversations: new Set() };
    world.dailySends.set(businessId, entry);
  }
  if (entry.conversations.has(conversationId)) return true;
  if (entry.conversations.size >= world.options.dailyConversationCap) return false;
  entry.conversations.add(conversationId);
  return true;
}

const encodeCursor = (offset: number) => Buffer.from(`o:${offset}`).toString('base64url');
function decodeCursor(cursor: string): number | undefined {
  const m = /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
