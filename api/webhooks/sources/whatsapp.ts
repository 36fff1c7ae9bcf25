// WhatsApp Cloud API webhooks (`object: "whatsapp_business_account"`), per meta-webhooks.md and
// whatsapp-cloud.md: customer messages of every type, delivery statuses of what we sent, and (on
// numbers shared with the WhatsApp Business app) echoes of what the business typed there.
//
// Routing: a channel's `account.id` is the phone number ID (activities/platforms/whatsapp-cloud.ts),
// which every change carries as `value.metadata.phone_number_id`; entry[].id is the WABA.
// Threads: the Cloud API has no history API, so nothing else names a thread. We use the customer's
// wa_id (their number, digits only), falling back to the 2026 business-scoped user id (`CC.<digits>`)
// for users who hide their number behind a username. One thread per customer and business number.
import type { Platform } from '../../../lib/domain/channel';
import type { NormalizedAttachment } from '../../../activities/platforms/types';
import { arrayAt, idAt, isObject, label, metaHandshake, objectAt, parseMetaEnvelope, stringAt, timeAt, verifyMetaSignature, type Json } from './meta-signature';
import type { AccountRef, DeliveryStatus, InboxEvent, ParseResult, WebhookRequest, WebhookSource } from './types';

const PLATFORM = 'whatsapp_cloud';
export const WHATSAPP_OBJECT = 'whatsapp_business_account';
const PLATFORMS: Platform[] = [PLATFORM];
const STATUSES: readonly DeliveryStatus[] = ['sent', 'delivered', 'read', 'failed'];

interface Contact { waId?: string; userId?: string; name?: string; username?: string }

interface Sink { events: InboxEvent[]; ignored: string[]; receivedAt: number }

/** Normalizes the entries of a `whatsapp_business_account` delivery (also used by the `meta` source). */
export function parseWhatsAppEntries(entries: unknown[], receivedAt: number): ParseResult {
  const sink: Sink = { events: [], ignored: [], receivedAt };
  for (const entry of entries) {
    if (!isObject(entry)) { sink.ignored.push('entry:invalid'); continue; }
    const changes = arrayAt(entry.changes);
    if (!changes.length) { sink.ignored.push('entry:no-changes'); continue; }
    for (const change of changes) {
      try {
        parseChange(change, sink);
      } catch {
        // Defensive: a verified body must never turn into a 500 (and a retry storm).
        sink.ignored.push('change:unreadable');
      }
    }
  }
  return { events: sink.events, ignored: sink.ignored };
}

function parseChange(change: unknown, sink: Sink): void {
  if (!isObject(change)) { sink.ignored.push('change:invalid'); return; }
  const field = stringAt(change.field) ?? 'unknown';
  const value = objectAt(change.value);
  if (field !== 'messages' && field !== 'smb_message_echoes') { sink.ignored.push(label('change', field)); return; }
  if (!value) { sink.ignored.push(label(field, 'no-value')); return; }
  const metadata = objectAt(value.metadata);
  const phoneNumberId = idAt(metadata?.phone_number_id);
  if (!phoneNumberId) { sink.ignored.push(label(field, 'no-phone-number-id')); return; }
  const account: AccountRef = { platforms: PLATFORMS, accountId: phoneNumberId };
  const contacts = arrayAt(value.contacts).filter(isObject).map(contactOf);

  const messages = arrayAt(value.messages);
  const statuses = arrayAt(value.statuses);
  const echoes = arrayAt(value.message_echoes);
  const errors = arrayAt(value.errors);
  for (const m of messages) inboundMessage(m, account, contacts, sink);
  for (const s of statuses) status(s, account, sink);
  for (const e of echoes) echo(e, account, stringAt(metadata?.display_phone_number), sink);
  // Account-level errors (value.errors[]) concern no single message: logged, not stored.
  for (const e of errors) sink.ignored.push(label('errors', codeOf(objectAt(e)?.code) ?? 'unknown'));
  if (!messages.length && !statuses.length && !echoes.length && !errors.length) sink.ignored.push(label(field, 'empty'));
}

function contactOf(c: Json): Contact {
  const profile = objectAt(c.profile);
  return { waId: idAt(c.wa_id), userId: idAt(c.user_id), name: stringAt(profile?.name), username: stringAt(profile?.username) };
}

function inboundMessage(raw: unknown, account: AccountRef, contacts: Contact[], sink: Sink): void {
  const m = objectAt(raw);
  const id = idAt(m?.id);
  if (!m || !id) { sink.ignored.push('message:no-id'); return; }
  const fromWa = idAt(m.from);
  const fromUser = idAt(m.from_user_id);
  // The contact block describes the sender; match it by either id (or take the only one).
  const contact = contacts.find((c) => (fromWa && c.waId === fromWa) || (fromUser && c.userId === fromUser))
    ?? (contacts.length === 1 && !fromWa && !fromUser ? contacts[0] : undefined);
  const waId = fromWa ?? contact?.waId;
  const userId = fromUser ?? contact?.userId;
  const customer = waId ?? userId;
  if (!customer) { sink.ignored.push('message:no-sender'); return; }
  const timestamp = timeAt(m.timestamp) ?? sink.receivedAt;
  const type = stringAt(m.type) ?? 'unknown';

  if (type === 'reaction') {
    const reaction = objectAt(m.reaction);
    const target = idAt(reaction?.message_id);
    if (!target) { sink.ignored.push('reaction:no-message-id'); return; }
    // An empty (or absent) emoji is how WhatsApp reports a removed reaction.
    sink.events.push({
      kind: 'reaction', key: `${PLATFORM}:reaction:${id}`, account, timestamp,
      messageExternalId: target, conversationExternalId: customer, senderExternalId: customer, emoji: stringAt(reaction?.emoji) ?? null,
    });
    return;
  }
  // System notices (e.g. "customer changed their number") and welcome requests carry no message for the inbox.
  if (type === 'system' || type === 'request_welcome') { sink.ignored.push(label('message', type)); return; }

  const content = contentOf(type, m);
  const name = contact?.name;
  const handle = waId ? `+${waId}` : contact?.username;
  sink.events.push({
    kind: 'message', key: `${PLATFORM}:message:${id}`, account, timestamp,
    conversation: { externalId: customer, participant: { externalId: customer, ...(handle ? { handle } : {}), ...(name ? { name } : {}) } },
    message: {
      externalId: id, direction: 'inbound', sender: { externalId: customer, ...(name ? { name } : {}) }, timestamp,
      ...(content.text !== undefined ? { text: content.text } : {}),
      ...(content.attachments.length ? { attachments: content.attachments } : {}),
    },
  });
}

/** Outbound copy of a message the business sent from the WhatsApp Business app (coexistence numbers). */
function echo(raw: unknown, account: AccountRef, displayNumber: string | undefined, sink: Sink): void {
  const m = objectAt(raw);
  const id = idAt(m?.id);
  if (!m || !id) { sink.ignored.push('echo:no-id'); return; }
  const customer = idAt(m.to) ?? idAt(m.to_user_id);
  if (!customer) { sink.ignored.push('echo:no-recipient'); return; }
  const type = stringAt(m.type) ?? 'unknown';
  if (type === 'reaction' || type === 'system') { sink.ignored.push(label('echo', type)); return; }
  const timestamp = timeAt(m.timestamp) ?? sink.receivedAt;
  const content = contentOf(type, m);
  const business = idAt(m.from) ?? displayNumber ?? account.accountId;
  const to = idAt(m.to);
  sink.events.push({
    kind: 'message', key: `${PLATFORM}:message:${id}`, account, timestamp,
    conversation: { externalId: customer, participant: { externalId: customer, ...(to ? { handle: `+${to}` } : {}) } },
    message: {
      externalId: id, direction: 'outbound', sender: { externalId: business }, timestamp,
      ...(content.text !== undefined ? { text: content.text } : {}),
      ...(content.attachments.length ? { attachments: content.attachments } : {}),
    },
  });
}

function status(raw: unknown, account: AccountRef, sink: Sink): void {
  const s = objectAt(raw);
  const id = idAt(s?.id);
  if (!s || !id) { sink.ignored.push('status:no-id'); return; }
  const value = stringAt(s.status);
  // `played` (voice), `deleted`, `warning` and group variants are not delivery statuses we track.
  if (!value || !(STATUSES as readonly string[]).includes(value)) { sink.ignored.push(label('status', value ?? 'missing')); return; }
  const first = objectAt(arrayAt(s.errors)[0]);
  const error = first ? errorOf(first) : undefined;
  sink.events.push({
    kind: 'status', key: `${PLATFORM}:status:${id}:${value}`, account, timestamp: timeAt(s.timestamp) ?? sink.receivedAt,
    messageExternalId: id, status: value as DeliveryStatus, ...(error ? { error } : {}),
  });
}

/** Build on code + details (whatsapp-cloud.md): the title is generic, details say what happened. */
function errorOf(e: Json): { code: string; message: string } {
  const title = stringAt(e.title) ?? stringAt(e.message);
  const details = stringAt(objectAt(e.error_data)?.details);
  const message = [title, details].filter((x) => x !== undefined).join(': ') || 'unknown error';
  return { code: codeOf(e.code) ?? 'unknown', message };
}

const codeOf = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : stringAt(v)?.slice(0, 40));

/** Text and attachments of a message of any type; unknown types become an `other` attachment named after the type. */
function contentOf(type: string, m: Json): { text?: string; attachments: NormalizedAttachment[] } {
  const payload = objectAt(m[type]);
  switch (type) {
    case 'text':
      return { text: stringAt(payload?.body), attachments: [] };
    case 'image': case 'video': case 'audio': case 'document': case 'sticker': {
      const media = payload ?? {};
      const url = httpUrl(media.url);
      const attachment: NormalizedAttachment = {
        type: type === 'document' ? 'file' : (type as 'image' | 'video' | 'audio' | 'sticker'),
        ...(url ? { url } : {}),
        ...(stringAt(media.mime_type) ? { mimeType: stringAt(media.mime_type) } : {}),
        ...(stringAt(media.filename) ? { name: stringAt(media.filename) } : {}),
        ...(idAt(media.id) ? { platformMediaId: idAt(media.id) } : {}),
      };
      return { text: stringAt(media.caption), attachments: [attachment] };
    }
    case 'location': {
      const loc = payload ?? {};
      const lat = Number(loc.latitude);
      const lng = Number(loc.longitude);
      const name = stringAt(loc.name);
      const text = [name, stringAt(loc.address)].filter((x) => x !== undefined).join('\n') || undefined;
      // No coordinates field in NormalizedAttachment: a geo: URI (RFC 5870) carries them.
      const url = Number.isFinite(lat) && Number.isFinite(lng) && loc.latitude !== null && loc.longitude !== null ? `geo:${lat},${lng}` : httpUrl(loc.url);
      return { text, attachments: [{ type: 'location', ...(url ? { url } : {}), ...(name ? { name } : {}) }] };
    }
    case 'contacts': {
      const lines = arrayAt(m.contacts).filter(isObject).map((c) => {
        const name = stringAt(objectAt(c.name)?.formatted_name) ?? stringAt(objectAt(c.name)?.first_name) ?? 'Contact';
        const phones = arrayAt(c.phones).map((p) => stringAt(objectAt(p)?.phone)).filter((p): p is string => !!p);
        return phones.length ? `${name}: ${phones.join(', ')}` : name;
      });
      return { text: lines.join('\n') || undefined, attachments: [] };
    }
    case 'interactive': {
      // A tapped reply button or list row reads as what the customer chose; a Flow reply as its body.
      const kind = stringAt(payload?.type);
      const reply = objectAt(payload?.button_reply) ?? objectAt(payload?.list_reply);
      const flow = objectAt(payload?.nfm_reply);
      const text = stringAt(reply?.title) ?? stringAt(flow?.body) ?? stringAt(flow?.name);
      return text !== undefined ? { text, attachments: [] } : { attachments: [{ type: 'other', name: label('interactive', kind) }] };
    }
    case 'button':
      return { text: stringAt(payload?.text) ?? stringAt(payload?.payload), attachments: [] };
    case 'order':
      return { text: stringAt(payload?.text), attachments: [{ type: 'other', name: 'order' }] };
    default:
      // `unsupported` (and any type newer than this code): keep the message, mark what it was.
      return { attachments: [{ type: 'other', name: label(type) }] };
  }
}

const httpUrl = (v: unknown) => {
  const s = stringAt(v);
  return s && /^https?:\/\//i.test(s) ? s : undefined;
};

export const whatsappWebhookSource: WebhookSource = {
  name: 'whatsapp',
  contentTypes: ['application/json'],
  async verify(req, ctx) {
    return verifyMetaSignature(req, ctx.secrets.metaAppSecrets);
  },
  parse(req: WebhookRequest): ParseResult {
    const { entries } = parseMetaEnvelope(req.body, [WHATSAPP_OBJECT]);
    return parseWhatsAppEntries(entries, req.receivedAt);
  },
  handshake: metaHandshake,
};
