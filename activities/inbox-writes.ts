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
export async function insertNew<T extends { _id: string }>(collection: Collection<Document>, docs: T[]): Promise<Set<string>> {
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

  // 2. Conversations, created the first time their thread is seen.
  const now = new Date();
  await insertNew(ConversationModel.collection, conversations.map((conv) => ({
    _id: conversationKey(channel.channelId, conv.externalId), tenantId, channelId, platform: channel.platform,
    externalId: conv.externalId, contactId: contactIds.get(conv.participant.externalId), participant: conv.participant,
    ...(conv.subject ? { subject: conv.subject } : {}), status: 'open', labels: [], unreadCount: 0, createdAt: now, updatedAt: now,
  })));

  // 3. Messages: inserted once, whatever the page was.
  const docs = conversations.flatMap((conv) => conv.messages.map((m) => messageDoc(channel, tenantId, channelId, conv, m, now)));
  const inserted = await insertNew(MessageModel.collection, docs);

  // 4. Conversation summaries, moved forward by what was new.
  for (const conv of conversations) {
    const fresh = conv.messages.filter((m) => inserted.has(messageKey(channel.channelId, m.externalId)));
    if (fresh.length > 0) await advanceSummary(conversationKey(channel.channelId, conv.externalId), fresh);
  }
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
  const known = await ContactIdentityModel.collection.find({ _id: { $in: [...people.keys()] } } as Document, { projection: { contactId: 1, externalId: 1 } }).toArray();
  const contactIds = new Map<string, unknown>(known.map((k) => [k.externalId as string, k.contactId]));
  const missing = [...people.entries()].filter(([, p]) => !contactIds.has(p.externalId));
  if (missing.length > 0) {
    // New people: a contact each, then claim the identity. If another writer claimed one first,
    // use theirs and drop ours.
    const now = new Date();
    const fresh = missing.map(([key, p]) => ({
      key, person: p,
      contact: { _id: new Types.ObjectId(), tenantId, name: p.name ?? p.handle ?? p.externalId, identities: [{ channelId, platform: channel.platform, externalId: p.externalId, handle: p.handle, name: p.name }], createdAt: now, updatedAt: now },
    }));
    await ContactModel.collection.insertMany(fresh.map((f) => f.contact), { ordered: false });
    const claimed = await insertNew(ContactIdentityModel.collection, fresh.map((f) => ({
      _id: f.key, tenantId, contactId: f.contact._id, channelId, platform: channel.platform, externalId: f.person.externalId,
      ...(f.person.handle ? { handle: f.person.handle } : {}), ...(f.person.name ? { name: f.person.name } : {}), createdAt: now, updatedAt: now,
    })));
    for (const f of fresh) if (claimed.has(f.key)) contactIds.set(f.person.externalId, f.contact._id);
    const lost = fresh.filter((f) => !claimed.has(f.key));
    if (lost.length > 0) {
      await ContactModel.collection.deleteMany({ _id: { $in: lost.map((f) => f.contact._id) } });
      const winners = await ContactIdentityModel.collection.find({ _id: { $in: lost.map((f) => f.key) } } as Document).toArray();
      for (const w of winners) contactIds.set(w.externalId as string, w.contactId);
    }
  }
  return contactIds;
}

/**
 * Moves a conversation's last message, preview, window and unread count forward by newly stored
 * messages. Unread = inbound messages since the business last wrote.
 */
async function advanceSummary(conversationId: string, fresh: NormalizedMessage[]): Promise<void> {
  const current = await ConversationModel.collection.findOne({ _id: conversationId } as Document, { projection: { lastMessageAt: 1, lastOutboundAt: 1, lastInboundAt: 1, unreadCount: 1 } });
  if (!current) return;
  const sorted = [...fresh].sort((a, b) => a.timestamp - b.timestamp);
  const newest = sorted[sorted.length - 1]!;
  const newestOutbound = sorted.filter((m) => m.direction === 'outbound').pop();
  const newestInbound = sorted.filter((m) => m.direction === 'inbound').pop();
  const lastOutboundAt = Math.max((current.lastOutboundAt as Date | undefined)?.getTime() ?? 0, newestOutbound?.timestamp ?? 0);
  const set: Record<string, unknown> = { updatedAt: new Date() };
  if (!current.lastMessageAt || (current.lastMessageAt as Date).getTime() <= newest.timestamp) {
    set.lastMessageAt = new Date(newest.timestamp);
    set.lastMessagePreview = (newest.text ?? (newest.attachments?.length ? `[${newest.attachments[0]!.type}]` : '')).slice(0, PREVIEW_LENGTH);
  }
  if (newestInbound && newestInbound.timestamp > ((current.lastInboundAt as Date | undefined)?.getTime() ?? 0)) set.lastInboundAt = new Date(newestInbound.timestamp);
  if (lastOutboundAt > 0) set.lastOutboundAt = new Date(lastOutboundAt);
  const newUnread = sorted.filter((m) => m.direction === 'inbound' && m.timestamp > lastOutboundAt).length;
  // A newer reply from the business resets the count; otherwise new inbound messages add to it.
  set.unreadCount = newestOutbound && newestOutbound.timestamp >= ((current.lastOutboundAt as Date | undefined)?.getTime() ?? 0) ? newUnread : ((current.unreadCount as number) ?? 0) + newUnread;
  await ConversationModel.collection.updateOne({ _id: conversationId } as Document, { $set: set });
}
