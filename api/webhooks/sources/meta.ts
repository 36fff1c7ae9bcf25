// Messenger (`object: "page"`) and Instagram (`object: "instagram"`) webhooks, per
// meta-webhooks.md. Both carry `entry[].messaging[]` (or `standby[]` when another app owns the
// thread) with ms timestamps; entry[].id is the Page id or the IG professional account id, which
// is what the Messenger / Instagram / Instagram Login adapters store as `account.id`.
//
// Threads: a Page or IG DM thread is 1:1 with the customer, and webhooks name only the customer
// (PSID / IGSID), so the conversation externalId is the customer's id — the history sync
// (activities/platforms/meta/conversations.ts) uses the same. Echoes of what the business sent
// are outbound messages keyed by mid like inbound ones, so an echo and a synced copy dedupe.
//
// Meta lets one callback URL serve every object of an app, so WhatsApp Cloud bodies posted here
// are normalized too (the dedicated `whatsapp` source does the same).
import { createHash } from 'node:crypto';
import type { Platform } from '../../../lib/domain/channel';
import type { NormalizedAttachment } from '../../../activities/platforms/types';
import { arrayAt, idAt, isObject, label, metaHandshake, objectAt, parseMetaEnvelope, stringAt, timeAt, verifyMetaSignature, type Json } from './meta-signature';
import type { AccountRef, InboxEvent, ParseResult, WebhookRequest, WebhookSource } from './types';
import { parseWhatsAppEntries, WHATSAPP_OBJECT } from './whatsapp';

const OBJECTS = ['page', 'instagram', WHATSAPP_OBJECT] as const;

interface Flavour {
  /** Key prefix: `messenger:message:<mid>`, `instagram:status:<mid>:read`… */
  prefix: 'messenger' | 'instagram';
  platforms: Platform[];
}

const FLAVOURS: Record<string, Flavour> = {
  page: { prefix: 'messenger', platforms: ['messenger'] },
  // Instagram via a Page and Instagram Login both store the IG professional account id.
  instagram: { prefix: 'instagram', platforms: ['instagram', 'instagram_login'] },
};

/** Reaction names Messenger sends without an emoji (older payloads). */
const REACTION_EMOJI: Record<string, string> = { like: '👍', love: '❤️', smile: '😆', wow: '😮', sad: '😢', angry: '😠' };

interface Ctx {
  flavour: Flavour;
  account: AccountRef;
  entryTime: number | undefined;
  receivedAt: number;
  events: InboxEvent[];
  ignored: string[];
}

export function parseMessagingEntries(object: 'page' | 'instagram', entries: unknown[], receivedAt: number): ParseResult {
  const flavour = FLAVOURS[object]!;
  const events: InboxEvent[] = [];
  const ignored: string[] = [];
  for (const entry of entries) {
    if (!isObject(entry)) { ignored.push('entry:invalid'); continue; }
    const accountId = idAt(entry.id);
    if (!accountId) { ignored.push('entry:no-id'); continue; }
    const ctx: Ctx = { flavour, account: { platforms: flavour.platforms, accountId }, entryTime: timeAt(entry.time), receivedAt, events, ignored };
    // Standby events (another app owns the thread) are still the customer's conversation.
    const items = [...arrayAt(entry.messaging), ...arrayAt(entry.standby)];
    // Feed, comments and mentions arrive as `changes`: not inbox messages.
    const changes = arrayAt(entry.changes);
    for (const c of changes) ignored.push(label('changes', stringAt(objectAt(c)?.field) ?? 'unknown'));
    if (!items.length && !changes.length) ignored.push('entry:empty');
    for (const item of items) {
      try {
        messagingItem(item, ctx);
      } catch {
        // Defensive: a verified body must never turn into a 500 (and a retry storm).
        ignored.push('messaging:unreadable');
      }
    }
  }
  return { events, ignored };
}

function messagingItem(raw: unknown, ctx: Ctx): void {
  const item = objectAt(raw);
  if (!item) { ctx.ignored.push('messaging:invalid'); return; }
  const sender = idAt(objectAt(item.sender)?.id);
  const recipient = idAt(objectAt(item.recipient)?.id);
  const stamp = timeAt(item.timestamp) ?? ctx.entryTime;
  const at = { timestamp: stamp ?? ctx.receivedAt, stamp };

  const message = objectAt(item.message);
  if (message) return messageEvent(message, sender, recipient, at, ctx);
  const delivery = objectAt(item.delivery);
  if (delivery) return receipt('delivered', delivery, sender, at, ctx);
  const read = objectAt(item.read);
  if (read) return receipt('read', read, sender, at, ctx);
  const reaction = objectAt(item.reaction);
  if (reaction) return reactionEvent(reaction, sender, at, ctx);
  // postback, referral, optin, message_edit, account_linking, handover (pass/take_thread_control)…
  const kind = Object.keys(item).find((k) => k !== 'sender' && k !== 'recipient' && k !== 'timestamp');
  ctx.ignored.push(label(kind ?? 'messaging:empty'));
}

interface At { timestamp: number; stamp: number | undefined }

function messageEvent(msg: Json, sender: string | undefined, recipient: string | undefined, at: At, ctx: Ctx): void {
  const mid = idAt(msg.mid);
  if (!mid) { ctx.ignored.push('message:no-mid'); return; }
  const { prefix } = ctx.flavour;
  // Instagram unsend: the same mid comes back with is_deleted; the stored message is to go, not a new one.
  if (msg.is_deleted === true) {
    ctx.events.push({ kind: 'deletion', key: `${prefix}:deletion:${mid}`, account: ctx.account, timestamp: at.timestamp, messageExternalId: mid });
    return;
  }
  const outbound = msg.is_echo === true;
  // An echo goes from the business to the customer: the customer is its recipient.
  const customer = outbound ? recipient : sender;
  if (!customer) { ctx.ignored.push(outbound ? 'echo:no-recipient' : 'message:no-sender'); return; }
  const from = outbound ? sender ?? ctx.account.accountId : customer;
  const attachments = arrayAt(msg.attachments).map(attachmentOf).filter((a): a is NormalizedAttachment => !!a);
  if (msg.is_unsupported === true) attachments.push({ type: 'other', name: 'unsupported' });
  const text = stringAt(msg.text);
  ctx.events.push({
    kind: 'message', key: `${prefix}:message:${mid}`, account: ctx.account, timestamp: at.timestamp,
    conversation: { externalId: customer, participant: { externalId: customer } },
    message: {
      externalId: mid, direction: outbound ? 'outbound' : 'inbound', sender: { externalId: from }, timestamp: at.timestamp,
      ...(text !== undefined ? { text } : {}),
      ...(attachments.length ? { attachments } : {}),
    },
  });
}

/**
 * Delivery and read receipts. Messenger: a watermark (everything sent up to then) and, for
 * deliveries, often the mids too. Instagram `messaging_seen`: the mid that was seen.
 */
function receipt(status: 'delivered' | 'read', body: Json, sender: string | undefined, at: At, ctx: Ctx): void {
  const { prefix } = ctx.flavour;
  const before = ctx.events.length;
  const mids = [...arrayAt(body.mids), body.mid].map(idAt).filter((m): m is string => !!m);
  for (const mid of new Set(mids)) {
    ctx.events.push({ kind: 'status', key: `${prefix}:status:${mid}:${status}`, account: ctx.account, timestamp: at.timestamp, messageExternalId: mid, status });
  }
  const watermark = timeAt(body.watermark);
  if (watermark !== undefined) {
    // The receipt comes from the customer, whose id is the conversation's.
    if (!sender) { ctx.ignored.push(label(status, 'no-sender')); return; }
    ctx.events.push({
      kind: 'watermark', key: `${prefix}:watermark:${ctx.account.accountId}:${sender}:${status}:${watermark}`, account: ctx.account,
      timestamp: at.stamp ?? watermark, conversationExternalId: sender, status, watermark,
    });
  }
  if (ctx.events.length === before) ctx.ignored.push(label(status, 'empty'));
}

function reactionEvent(r: Json, sender: string | undefined, at: At, ctx: Ctx): void {
  const mid = idAt(r.mid);
  if (!mid || !sender) { ctx.ignored.push(label('reaction', mid ? 'no-sender' : 'no-mid')); return; }
  const action = stringAt(r.action) ?? 'react';
  let emoji: string | null = null;
  if (action !== 'unreact') {
    const name = stringAt(r.reaction);
    emoji = stringAt(r.emoji) ?? (name ? REACTION_EMOJI[name] ?? name : null);
    if (!emoji) { ctx.ignored.push('reaction:no-emoji'); return; }
  }
  // One customer can react, unreact and react again to a mid: the event time tells them apart,
  // and it is in the body, so a redelivery gets the same key. Without one, what the reaction says does.
  const when = at.stamp !== undefined ? String(at.stamp) : createHash('sha256').update(JSON.stringify([action, emoji])).digest('hex').slice(0, 16);
  ctx.events.push({
    kind: 'reaction', key: `${ctx.flavour.prefix}:reaction:${mid}:${sender}:${when}:${action === 'unreact' ? 'unreact' : 'react'}`,
    account: ctx.account, timestamp: at.timestamp, messageExternalId: mid, conversationExternalId: sender, senderExternalId: sender, emoji,
  });
}

/** Webhook attachments carry a type and a payload (url, sticker_id, title…); no MIME type, no name. */
function attachmentOf(raw: unknown): NormalizedAttachment | undefined {
  const a = objectAt(raw);
  if (!a) return undefined;
  const type = stringAt(a.type) ?? 'unknown';
  const payload = objectAt(a.payload) ?? {};
  const url = httpUrl(payload.url);
  const mediaId = idAt(payload.attachment_id) ?? idAt(payload.sticker_id) ?? idAt(payload.reel_video_id) ?? idAt(payload.id);
  const common = { ...(url ? { url } : {}), ...(mediaId ? { platformMediaId: mediaId } : {}) };
  switch (type) {
    // Messenger sends stickers (and the thumbs-up) as images with a sticker_id.
    case 'image': return { type: payload.sticker_id !== undefined ? 'sticker' : 'image', ...common };
    case 'video': case 'audio': case 'file': case 'sticker': return { type, ...common };
    case 'location': {
      const c = objectAt(payload.coordinates);
      const lat = Number(c?.lat);
      const lng = Number(c?.long);
      const geo = c && typeof c.lat === 'number' && typeof c.long === 'number' && Number.isFinite(lat) && Number.isFinite(lng) ? `geo:${lat},${lng}` : url;
      const name = stringAt(payload.title);
      return { type: 'location', ...(geo ? { url: geo } : {}), ...(name ? { name } : {}) };
    }
    default: {
      // share, story_mention, ig_reel, reel, fallback, template…: kept, named after their kind.
      const name = stringAt(payload.title) ?? type;
      return { type: 'other', ...common, name: name.slice(0, 200) };
    }
  }
}

const httpUrl = (v: unknown) => {
  const s = stringAt(v);
  return s && /^https?:\/\//i.test(s) ? s : undefined;
};

export const metaWebhookSource: WebhookSource = {
  name: 'meta',
  contentTypes: ['application/json'],
  async verify(req, ctx) {
    return verifyMetaSignature(req, ctx.secrets.metaAppSecrets);
  },
  parse(req: WebhookRequest): ParseResult {
    const { object, entries } = parseMetaEnvelope(req.body, OBJECTS);
    if (object === WHATSAPP_OBJECT) return parseWhatsAppEntries(entries, req.receivedAt);
    return parseMessagingEntries(object as 'page' | 'instagram', entries, req.receivedAt);
  },
  handshake: metaHandshake,
};
