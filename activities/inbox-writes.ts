// Writes a page of synced (or webhook-delivered) history into the inbox: contact identities,
// contacts, conversations and messages. Every document's `_id` is its natural key
// (lib/domain/keys.ts), so writes are unordered bulk inserts whose duplicates are simply refused:
// a retried activity or a page seen twice changes nothing, and no query needs a secondary index
// (FerretDB's SQLite backend only uses the primary key for lookups). No multi-document
// transactions: each step is idempotent on its own, and a crash between steps is repaired by
// running the page again.
import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';
import { Types } from 'mongoose';
import type { Platform } from '../lib/domain/channel';
import { conversationKey, identityKey, messageKey } from '../lib/domain/keys';
import { ContactIdentityModel, ContactModel, ConversationModel, MessageModel } from '../models';
import type { NormalizedConversation, NormalizedMessage } from './platforms/types';

export interface ChannelRef {
  tenantId: string;
  channelId: string;
  platform: Platform;
}

export interface StoreResult {
  conversations: number;
  messagesInserted: number;
  messagesSeen: number;
}

const PREVIEW_LENGTH = 140;
const DUPLICATE_KEY = 11000;

/** Inserts what is new; returns the `_id`s that were inserted (the rest already existed). */
export async function insertNew<T extends { _id: unknown }>(collection: Collection<Document>, docs: T[]): Promise<Set<T['_id']>> {
  if (docs.length === 0) return new Set();
  try {
    await collection.insertMany(docs as unknown as Document[], { ordered: false });
    return new Set(docs.map((d) => d._id));
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    if (errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    const refused = new Set(errors.map((e) => e.index));
    return new Set(docs.filter((_, i) => !refused.has(i)).map((d) => d._id));
  }
}

export async function storeConversations(channel: ChannelRef, conversations: NormalizedConversation[]): Promise<StoreResult> {
  if (conversations.length === 0) return { conversations: 0, messagesInserted: 0, messagesSeen: 0 };
  const tenantId = new Types.ObjectId(channel.tenantId);
  const channelId = new Types.ObjectId(channel.channelId);

  // 1. One contact per customer identity on this channel (created once, then reused).
  const contactIds = await ensureContacts(channel, tenantId, channelId, conversations);

  // 2. Conversations, created the first time their thread is seen — with the summary of this
  //    page's messages, so a backfill needs no second write per conversation.
  const now = new Date();
  const created = await insertNew(ConversationModel.collection, conversations.map((conv) => ({
    _id: conversationKey(channel.channelId, conv.externalId), tenantId, channelId, platform: channel.platform,
    externalId: conv.externalId, contactId: contactIds.get(conv.participant.externalId), participant: conv.participant,
    ...(conv.subject ? { subject: conv.subject } : {}), status: 'open', labels: [], unreadCount: 0,
    ...summarize(conv.messages, {}), createdAt: now, updatedAt: now,
  })));

  // 3. Messages: inserted once, whatever the page was.
  const docs = conversations.flatMap((conv) => conv.messages.map((m) => messageDoc(channel, tenantId, channelId, conv, m, now)));
  const inserted = await insertNew(MessageModel.collection, docs);

  // 4. Conversations that already existed: move their summaries forward by what was new —
  //    one read and one bulk write for the whole page.
  const freshByConversation = new Map<string, NormalizedMessage[]>();
  for (const conv of conversations) {
    const id = conversationKey(channel.channelId, conv.externalId);
    const fresh = conv.messages.filter((m) => inserted.has(messageKey(channel.channelId, m.externalId)));
    if (!created.has(id) && fresh.length > 0) freshByConversation.set(id, fresh);
  }
  await advanceSummaries(freshByConversation);
  return { conversations: conversations.length, messagesInserted: inserted.size, messagesSeen: docs.length };
}

function messageDoc(channel: ChannelRef, tenantId: Types.ObjectId, channelId: Types.ObjectId, conv: NormalizedConversation, m: NormalizedMessage, now: Date) {
  return {
    _id: messageKey(channel.channelId, m.externalId), tenantId, channelId,
    conversationId: conversationKey(channel.channelId, conv.externalId), platform: channel.platform,
    externalId: m.externalId, direction: m.direction, sender: m.sender, ...(m.text !== undefined ? { text: m.text } : {}),
    attachments: m.attachments ?? [], status: m.direction === 'inbound' ? 'received' : 'sent',
    platformTimestamp: new Date(m.timestamp), createdAt: now, updatedAt: now,
  };
}

async function ensureContacts(channel: ChannelRef, tenantId: Types.ObjectId, channelId: Types.ObjectId, conversations: NormalizedConversation[]) {
  const people = new Map(conversations.map((c) => [identityKey(channel.channelId, c.participant.externalId), c.participant]));
  // Claim every identity with a new contact; only the ones refused as already known are looked up
  // (a backfill meets new people, so it needs no lookup at all).
  const now = new Date();
  const candidates = [...people.entries()].map(([key, p]) => ({
    key, person: p,
    contact: { _id: new Types.ObjectId(), tenantId, name: p.name ?? p.handle ?? p.externalId, identities: [{ channelId, platform: channel.platform, externalId: p.externalId, handle: p.handle, name: p.name }], createdAt: now, updatedAt: now },
  }));
  const claimed = await insertNew(ContactIdentityModel.collection, candidates.map((f) => ({
    _id: f.key, tenantId, contactId: f.contact._id, channelId, platform: channel.platform, externalId: f.person.externalId,
    ...(f.person.handle ? { handle: f.person.handle } : {}), ...(f.person.name ? { name: f.person.name } : {}), createdAt: now, updatedAt: now,
  })));
  const contactIds = new Map<string, unknown>();
  const fresh = candidates.filter((f) => claimed.has(f.key));
  for (const f of fresh) contactIds.set(f.person.externalId, f.contact._id);
  const known = candidates.filter((f) => !claimed.has(f.key));
  const contacts = fresh.map((f) => f.contact);
  if (known.length > 0) {
    const found = await ContactIdentityModel.collection.find({ _id: { $in: known.map((f) => f.key) } } as Document, { projection: { contactId: 1, externalId: 1 } }).toArray();
    const byKey = new Map(known.map((f) => [f.key, f]));
    for (const k of found) {
      contactIds.set(k.externalId as string, k.contactId);
      // Re-offer the known contact under its own id: a no-op normally, and the repair if a crash
      // came between claiming the identity and creating its contact.
      contacts.push({ ...byKey.get(k._id as unknown as string)!.contact, _id: k.contactId as Types.ObjectId });
    }
  }
  // Identities are claimed before their contacts exist; contacts are inserted right after.
  await insertNew(ContactModel.collection, contacts);
  return contactIds;
}

interface Summary { lastMessageAt?: Date; lastMessagePreview?: string; lastInboundAt?: Date; lastOutboundAt?: Date; unreadCount?: number }

/**
 * A conversation's summary moved forward by newly stored messages: last message and preview,
 * the reply window (last inbound), and unread = inbound messages since the business last wrote.
 */
export function summarize(fresh: NormalizedMessage[], current: Summary): Summary {
  if (fresh.length === 0) return {};
  const sorted = [...fresh].sort((a, b) => a.timestamp - b.timestamp);
  const newest = sorted[sorted.length - 1]!;
  const newestOutbound = sorted.filter((m) => m.direction === 'outbound').pop();
  const newestInbound = sorted.filter((m) => m.direction === 'inbound').pop();
  const previousOutbound = current.lastOutboundAt?.getTime() ?? 0;
  const lastOutboundAt = Math.max(previousOutbound, newestOutbound?.timestamp ?? 0);
  const next: Summary = {};
  if (!current.lastMessageAt || current.lastMessageAt.getTime() <= newest.timestamp) {
    next.lastMessageAt = new Date(newest.timestamp);
    next.lastMessagePreview = (newest.text ?? (newest.attachments?.length ? `[${newest.attachments[0]!.type}]` : '')).slice(0, PREVIEW_LENGTH);
  }
  if (newestInbound && newestInbound.timestamp > (current.lastInboundAt?.getTime() ?? 0)) next.lastInboundAt = new Date(newestInbound.timestamp);
  if (lastOutboundAt > 0) next.lastOutboundAt = new Date(lastOutboundAt);
  const newUnread = sorted.filter((m) => m.direction === 'inbound' && m.timestamp > lastOutboundAt).length;
  // A newer reply from the business resets the count; otherwise new inbound messages add to it.
  next.unreadCount = newestOutbound && newestOutbound.timestamp >= previousOutbound ? newUnread : (current.unreadCount ?? 0) + newUnread;
  return next;
}

async function advanceSummaries(freshByConversation: Map<string, NormalizedMessage[]>): Promise<void> {
  if (freshByConversation.size === 0) return;
  const current = await ConversationModel.collection
    .find({ _id: { $in: [...freshByConversation.keys()] } } as Document, { projection: { lastMessageAt: 1, lastOutboundAt: 1, lastInboundAt: 1, unreadCount: 1 } })
    .toArray();
  if (current.length === 0) return;
  const now = new Date();
  await ConversationModel.collection.bulkWrite(current.map((conv) => ({
    updateOne: { filter: { _id: conv._id }, update: { $set: { ...summarize(freshByConversation.get(conv._id as unknown as string)!, conv as Summary), updatedAt: now } } },
  })), { ordered: false });
}
