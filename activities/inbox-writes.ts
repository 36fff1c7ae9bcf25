// Writes a page of synced (or webhook-delivered) history into the inbox: contact identities,
// contacts, conversations and messages, with bulk upserts keyed by natural IDs so a retried
// activity or a page seen twice changes nothing. No multi-document transactions: each step is
// idempotent on its own, and a crash between steps is repaired by running the page again.
import { Types } from 'mongoose';
import type { Platform } from '../lib/domain/channel';
import { ContactIdentityModel, ContactModel, ConversationModel, MessageModel } from '../models';
import type { NormalizedConversation } from './platforms/types';

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

export async function storeConversations(channel: ChannelRef, conversations: NormalizedConversation[]): Promise<StoreResult> {
  if (conversations.length === 0) return { conversations: 0, messagesInserted: 0, messagesSeen: 0 };
  const tenantId = new Types.ObjectId(channel.tenantId);
  const channelId = new Types.ObjectId(channel.channelId);

  // 1. One contact per customer identity on this channel (created once, then reused).
  const contactIds = await upsertContacts(tenantId, channelId, channel.platform, conversations);

  // 2. Conversations, keyed by (channel, platform thread ID).
  await ConversationModel.bulkWrite(
    conversations.map((conv) => ({
      updateOne: {
        filter: { channelId, externalId: conv.externalId },
        update: {
          $setOnInsert: { tenantId, channelId, platform: channel.platform, externalId: conv.externalId, status: 'open', labels: [], unreadCount: 0 },
          $set: {
            contactId: contactIds.get(conv.participant.externalId),
            participant: conv.participant,
            ...(conv.subject ? { subject: conv.subject } : {}),
          },
        },
        upsert: true,
      },
    })),
    { ordered: false },
  );
  const stored = await ConversationModel.find({ channelId, externalId: { $in: conversations.map((c) => c.externalId) } }, { _id: 1, externalId: 1 }).lean();
  const conversationIds = new Map(stored.map((c) => [c.externalId, c._id]));

  // 3. Messages, keyed by "<channel>:<platform message ID>"; inserted only if new.
  const ops = conversations.flatMap((conv) =>
    conv.messages.map((m) => ({
      updateOne: {
        filter: { externalKey: `${channel.channelId}:${m.externalId}` },
        update: {
          $setOnInsert: {
            tenantId, channelId, conversationId: conversationIds.get(conv.externalId), platform: channel.platform,
            externalKey: `${channel.channelId}:${m.externalId}`, externalId: m.externalId, direction: m.direction,
            sender: m.sender, text: m.text, attachments: m.attachments ?? [],
            status: m.direction === 'inbound' ? 'received' : 'sent', platformTimestamp: new Date(m.timestamp),
          },
        },
        upsert: true,
      },
    })),
  );
  let messagesInserted = 0;
  if (ops.length > 0) {
    const result = await MessageModel.bulkWrite(ops, { ordered: false });
    messagesInserted = result.upsertedCount;
  }

  // 4. Conversation summaries from what is stored (so repeats and out-of-order pages agree).
  await refreshConversationSummaries([...conversationIds.values()]);
  return { conversations: conversations.length, messagesInserted, messagesSeen: ops.length };
}

async function upsertContacts(tenantId: Types.ObjectId, channelId: Types.ObjectId, platform: Platform, conversations: NormalizedConversation[]) {
  const people = new Map(conversations.map((c) => [c.participant.externalId, c.participant]));
  const externalIds = [...people.keys()];
  const known = await ContactIdentityModel.find({ channelId, externalId: { $in: externalIds } }, { externalId: 1, contactId: 1 }).lean();
  const contactIds = new Map(known.map((k) => [k.externalId, k.contactId]));
  const missing = externalIds.filter((id) => !contactIds.has(id));
  if (missing.length > 0) {
    // New people: make a contact each, then claim the identity. If another writer claimed it first
    // (a duplicate key), use theirs and drop ours.
    const fresh = missing.map((externalId) => {
      const p = people.get(externalId)!;
      return { _id: new Types.ObjectId(), tenantId, name: p.name ?? p.handle ?? externalId, identities: [{ channelId, platform, externalId, handle: p.handle, name: p.name }] };
    });
    await ContactModel.insertMany(fresh, { ordered: false });
    await ContactIdentityModel.bulkWrite(
      fresh.map((c) => ({
        updateOne: {
          filter: { channelId, externalId: c.identities[0]!.externalId },
          update: { $setOnInsert: { tenantId, contactId: c._id, channelId, platform, externalId: c.identities[0]!.externalId, handle: c.identities[0]!.handle, name: c.identities[0]!.name } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    const claimed = await ContactIdentityModel.find({ channelId, externalId: { $in: missing } }, { externalId: 1, contactId: 1 }).lean();
    for (const k of claimed) contactIds.set(k.externalId, k.contactId);
    const orphans = fresh.filter((c) => !contactIds.get(c.identities[0]!.externalId)?.equals(c._id)).map((c) => c._id);
    if (orphans.length > 0) await ContactModel.deleteMany({ _id: { $in: orphans } });
  }
  return contactIds;
}

/** Recomputes last message, preview and unread count of conversations from their messages. */
export async function refreshConversationSummaries(conversationIds: Types.ObjectId[]): Promise<void> {
  for (const conversationId of conversationIds) {
    const [last] = await MessageModel.find({ conversationId }, { text: 1, attachments: 1, platformTimestamp: 1 }).sort({ platformTimestamp: -1, _id: -1 }).limit(1).lean();
    const [lastInbound] = await MessageModel.find({ conversationId, direction: 'inbound' }, { platformTimestamp: 1 }).sort({ platformTimestamp: -1 }).limit(1).lean();
    if (!last) continue;
    // Unread: what the customer wrote since the business last answered.
    const [lastOutbound] = await MessageModel.find({ conversationId, direction: 'outbound' }, { platformTimestamp: 1 }).sort({ platformTimestamp: -1 }).limit(1).lean();
    const unreadCount = await MessageModel.countDocuments({ conversationId, direction: 'inbound', ...(lastOutbound ? { platformTimestamp: { $gt: lastOutbound.platformTimestamp } } : {}) });
    await ConversationModel.updateOne(
      { _id: conversationId },
      { $set: {
        lastMessageAt: last.platformTimestamp,
        lastMessagePreview: (last.text ?? (last.attachments?.length ? `[${last.attachments[0]!.type}]` : '')).slice(0, PREVIEW_LENGTH),
        ...(lastInbound ? { lastInboundAt: lastInbound.platformTimestamp } : {}),
        unreadCount,
      } },
    );
  }
}
