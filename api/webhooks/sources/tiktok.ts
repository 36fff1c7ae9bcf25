// TikTok Business Messaging DM webhooks: `TikTok-Signature: t=<unix s>,s=<hex>` where
// s = hex(HMAC-SHA256(client_secret, `${t}.${raw body}`)), and a body
// `{event, user_openid, create_time (s), content: "<JSON string>"}`. DM content mirrors what the
// adapter's message list returns, so events are normalized exactly as activities/platforms/tiktok.ts
// normalizes synced messages (same ids, direction rule, attachments), and webhook and sync meet.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NormalizedAttachment, NormalizedMessage } from '../../../activities/platforms/types';
import {
  MalformedWebhookError,
  type InboxEvent,
  type ParseResult,
  type Verdict,
  type VerifyContext,
  type WebhookRequest,
  type WebhookSource,
} from './types';

const PLATFORMS: ['tiktok'] = ['tiktok'];
/** TikTok leaves the tolerance to the receiver; 5 minutes either way absorbs clock skew and retries' queueing. */
export const DEFAULT_TIKTOK_TOLERANCE_MS = 5 * 60_000;

type Json = Record<string, unknown>;

export interface TikTokSourceOptions {
  /** Largest allowed distance (ms, either direction) between the signed `t` and `receivedAt`. */
  toleranceMs?: number;
}

export class TikTokWebhookSource implements WebhookSource {
  readonly name = 'tiktok';
  readonly contentTypes = ['application/json'];
  private readonly toleranceMs: number;

  constructor(options: TikTokSourceOptions = {}) {
    const tolerance = options.toleranceMs ?? DEFAULT_TIKTOK_TOLERANCE_MS;
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new Error('toleranceMs must be a non-negative number');
    this.toleranceMs = tolerance;
  }

  verify(req: WebhookRequest, ctx: VerifyContext): Promise<Verdict> {
    return Promise.resolve(this.check(req, ctx.secrets.tiktokClientSecret));
  }

  private check(req: WebhookRequest, secret: string): Verdict {
    if (!secret) return { ok: false, reason: 'TikTok client secret is not configured' };
    const header = req.headers['tiktok-signature'];
    if (!header) return { ok: false, reason: 'missing TikTok-Signature header' };
    const parsed = parseSignatureHeader(header);
    if (!parsed) return { ok: false, reason: 'malformed TikTok-Signature header (expected t=<unix seconds>,s=<hex>)' };

    const expected = createHmac('sha256', secret).update(`${parsed.t}.`).update(req.body).digest();
    // Every s= value is compared (a sender may list several while rotating secrets); all are 32 bytes.
    let match = false;
    for (const s of parsed.signatures) if (timingSafeEqual(expected, s)) match = true;
    if (!match) return { ok: false, reason: 'TikTok-Signature does not match the body' };

    // Checked after the HMAC so the timestamp itself is known to be genuine; the window bounds replays.
    const skew = req.receivedAt - parsed.t * 1000;
    if (skew > this.toleranceMs) return { ok: false, reason: `TikTok-Signature timestamp is ${Math.round(skew / 1000)}s old (tolerance ${Math.round(this.toleranceMs / 1000)}s)` };
    if (-skew > this.toleranceMs) return { ok: false, reason: `TikTok-Signature timestamp is ${Math.round(-skew / 1000)}s in the future (tolerance ${Math.round(this.toleranceMs / 1000)}s)` };
    return { ok: true };
  }

  parse(req: WebhookRequest): ParseResult {
    const body = parseObject(req.body.toString('utf8'), 'body');
    const event = body.event;
    if (typeof event !== 'string' || event === '') throw new MalformedWebhookError('TikTok webhook has no event name');
    const createdMs = toMs(body.create_time, 1000);

    switch (event) {
      case 'im_receive_msg':
      case 'im_send_msg':
        return { events: [this.message(event, body, createdMs)], ignored: [] };
      case 'im_mark_read_msg':
        return this.read(body, createdMs);
      default:
        // Developer webhooks (authorization.removed, video.*) and anything new: nothing for the inbox.
        return { events: [], ignored: [`tiktok:${event.slice(0, 64)}`] };
    }
  }

  private message(event: 'im_receive_msg' | 'im_send_msg', body: Json, createdMs: number | undefined): InboxEvent {
    const businessId = requireId(body.user_openid, 'user_openid');
    const content = contentOf(body);
    const conversationId = requireId(content.conversation_id, 'content.conversation_id');
    const messageId = requireId(content.message_id, 'content.message_id');
    const fromId = idOf(obj(content.from_user)?.id);
    const toId = idOf(obj(content.to_user)?.id);
    const from = str(content.from);
    const to = str(content.to);

    // The adapter's rule (incoming when addressed to the business), so an echo and its synced copy
    // agree on direction; the event name only decides when the content names neither side.
    const inbound = toId !== undefined ? toId === businessId : fromId !== undefined ? fromId !== businessId : event === 'im_receive_msg';
    const customerId = inbound ? fromId : toId;
    if (!customerId) throw new MalformedWebhookError(`TikTok ${event} does not name the customer (${inbound ? 'from_user' : 'to_user'}.id)`);

    const timestamp = toMs(content.timestamp, 1) ?? createdMs;
    if (timestamp === undefined) throw new MalformedWebhookError(`TikTok ${event} has no timestamp`);

    const message: NormalizedMessage = {
      externalId: messageId,
      direction: inbound ? 'inbound' : 'outbound',
      // As the adapter does: `from` (the sender's username) is the only name the content carries.
      sender: { externalId: fromId ?? (inbound ? customerId : businessId), ...(from ? { name: from } : {}) },
      timestamp,
    };
    const text = str(obj(content.text)?.body);
    if (text !== undefined) message.text = text;
    const attachments = attachmentsOf(content);
    if (attachments.length) message.attachments = attachments;

    // The sync's participant is the conversation list's `user` (id, username); the content's
    // from/to is that username.
    const handle = inbound ? from : to;
    return {
      kind: 'message',
      key: `tiktok:message:${messageId}`,
      account: { platforms: PLATFORMS, accountId: businessId },
      timestamp,
      conversation: { externalId: conversationId, participant: { externalId: customerId, ...(handle ? { handle } : {}) } },
      message,
    };
  }

  /**
   * im_mark_read_msg: named in the notes but its content is not described and the sandbox never
   * sends it. Read as: `conversation_id` + `timestamp` (ms) of the read, `from_user` the reader.
   * A read by the customer marks everything the business sent up to then as read; a read by the
   * business (or a shape we do not recognize) is ignored, never an error.
   */
  private read(body: Json, createdMs: number | undefined): ParseResult {
    const businessId = idOf(body.user_openid);
    let content: Json;
    try { content = contentOf(body); } catch { return { events: [], ignored: ['tiktok:im_mark_read_msg:unreadable'] }; }
    const conversationId = idOf(content.conversation_id);
    const readerId = idOf(obj(content.from_user)?.id);
    const at = toMs(content.timestamp, 1) ?? createdMs;
    if (!businessId || !conversationId || at === undefined) return { events: [], ignored: ['tiktok:im_mark_read_msg:incomplete'] };
    if (readerId === businessId) return { events: [], ignored: ['tiktok:im_mark_read_msg:by_business'] };
    return {
      events: [{
        kind: 'watermark',
        key: `tiktok:read:${conversationId}:${at}`,
        account: { platforms: PLATFORMS, accountId: businessId },
        timestamp: at,
        conversationExternalId: conversationId,
        status: 'read',
        watermark: at,
      }],
      ignored: [],
    };
  }
}

/** The default source (5-minute window). */
export const tiktokWebhookSource = new TikTokWebhookSource();

// ---- helpers ------------------------------------------------------------------------------------

/** `t=…,s=…` (any order, spaces tolerated); t must be unix seconds, each s 64 hex digits. */
function parseSignatureHeader(header: string): { t: number; signatures: Buffer[] } | undefined {
  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') {
      if (!/^\d{1,12}$/.test(v)) return undefined;
      t = Number(v);
    } else if (k === 's') {
      if (!/^[0-9a-fA-F]{64}$/.test(v)) return undefined;
      signatures.push(Buffer.from(v, 'hex'));
    }
  }
  return t !== undefined && signatures.length > 0 ? { t, signatures } : undefined;
}

/** Same mapping as the adapter's normalizeMessage. */
function attachmentsOf(content: Json): NormalizedAttachment[] {
  switch (content.type) {
    case 'image': {
      const mediaId = str(obj(content.image)?.media_id);
      return [{ type: 'image', ...(mediaId ? { platformMediaId: mediaId } : {}) }];
    }
    case 'share_post': {
      const url = str(obj(content.share_post)?.embed_url);
      return [{ type: 'other', ...(url ? { url } : {}), name: 'share_post' }];
    }
    case 'sticker':
      return [{ type: 'sticker' }];
    default:
      return [];
  }
}

/** `content` is a JSON string in TikTok's envelope; an object is accepted too. */
function contentOf(body: Json): Json {
  if (typeof body.content === 'string') return parseObject(body.content, 'content');
  const direct = obj(body.content);
  if (direct) return direct;
  throw new MalformedWebhookError('TikTok webhook content is missing');
}

function parseObject(text: string, what: string): Json {
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw new MalformedWebhookError(`TikTok webhook ${what} is not valid JSON`); }
  const o = obj(value);
  if (!o) throw new MalformedWebhookError(`TikTok webhook ${what} is not a JSON object`);
  return o;
}

function requireId(v: unknown, what: string): string {
  const id = idOf(v);
  if (!id) throw new MalformedWebhookError(`TikTok webhook has no ${what}`);
  return id;
}

/**
 * IDs are strings; a JSON number is taken as its decimal text (TikTok message ids exceed 2^53, so a
 * numeric one may already have lost precision, exactly as it would for the adapter's sync).
 */
function idOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 && v.length <= 256 ? v : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v).toString();
  return undefined;
}

/** A number (or numeric string) times `scale`, as ms since epoch; undefined otherwise. */
function toMs(v: unknown, scale: number): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  const ms = Math.round(n * scale);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
