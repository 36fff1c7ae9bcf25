// Writes a page of synced (or webhook-delivered) history into the inbox: contact identities,
// contacts, conversations and messages. Every document's `_id` is its natural key
// (lib/domain/keys.ts), so writes are unordered bulk inserts whose duplicates are simply refused:
// a retried activity or a page seen twice changes nothing, and no query needs a secondary index
// (FerretDB's SQLite backend only uses the primary key for lookups). No multi-document
// transactions: each step is idempotent on its own, and a crash between steps is repaired by
// running the page again.
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb';
import { Types } from 'mongoose';
import type { Platform } from '../lib/domain/channel';
import { conversationKey, identityKey, messageKey } from '../lib/domain/keys';
import { statusRank } from '../lib/domain/message-status';
import { sha256Hex } from '../lib/crypto';
import { appendEvents } from '../lib/event-log';
import { messageCreated } from '../lib/event-payloads';
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
  /** `_id`s of the messages this call stored for the first time. */
  insertedIds: string[];
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
    // The driver also wraps a network or server error (the database went away mid-command) in a
    // MongoBulkWriteError, with no write errors: nothing is known to be stored, so it must throw.
    if (errors.length === 0 || err.writeConcernError || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    const refused = new Set(errors.map((e) => e.index));
    return new Set(docs.filter((_, i) => !refused.has(i)).map((d) => d._id));
  }
}

/**
 * A bulk write in commands of at most 64 statements. A stock FerretDB v1.24 keeps every statement
 * of one update command open until the command ends and deadlocks past ~100 (its SQLite pool
 * size); our build fixes that (scripts/ferretdb/), but FERRETDB_PATH may point at a stock binary.
 */
export async function bulkWriteInChunks(collection: Collection<Document>, ops: AnyBulkWriteOperation<Document>[], ordered: boolean): Promise<void> {
  for (let i = 0; i < ops.length; i += 64) await collection.bulkWrite(ops.slice(i, i + 64), { ordered });
}

/**
 * `retry`: this is a retried attempt (Temporal activity attempt > 1) of the same batch, which may
 * have stored messages without counting them in their conversation's summary.
 * `announce`: append a `message.created` event for each message stored (new traffic; a backfill of
 * history is not announced message by message).
 */
export async function storeConversations(channel: ChannelRef, conversations: NormalizedConversation[], opts: { retry?: boolean; announce?: boolean } = {}): Promise<StoreResult> {
  if (conversations.length === 0) return { conversations: 0, messagesInserted: 0, messagesSeen: 0, insertedIds: [] };
  const tenantId = new Types.ObjectId(channel.tenantId);
  const channelId = new Types.ObjectId(channel.channelId);

  // 1. One contact per customer identity on this channel (created once, then reused).
  const contactIds = await ensureContacts(channel, tenantId, channelId, conversations);

  // Each conversation's messages in this call form one batch with a token: stored on the
  // conversation when the batch is counted, and on each message it inserts.
  const tokens = new Map(conversations.map((conv) => [conv.externalId, batchToken(conv.messages.map((m) => messageKey(channel.channelId, m.externalId)))]));

  // 2. Conversations, created the first time their thread is seen — with the summary of this
  //    page's messages (and that batch marked as counted), so a backfill needs no second write.
  const now = new Date();
  const created = await insertNew(ConversationModel.collection, conversations.map((conv) => ({
    _id: conversationKey(channel.channelId, conv.externalId), tenantId, channelId, platform: channel.platform,
    externalId: conv.externalId, contactId: contactIds.get(conv.participant.externalId), participant: conv.participant,
    ...(conv.subject ? { subject: conv.subject } : {}), status: 'open', labels: [], unreadCount: 0,
    ...summarize(conv.messages, {}), summaryBatch: tokens.get(conv.externalId)!,
    createdAt: now, updatedAt: now,
  })));

  // 3. Messages: inserted once, whatever the page was.
  const docs = conversations.flatMap((conv) => conv.messages.map((m) => messageDoc(channel, tenantId, channelId, conv, m, tokens.get(conv.externalId)!, now)));
  const inserted = await insertNew(MessageModel.collection, docs);

  // 4. Existing conversations move their summaries forward by what is new. A retried attempt
  //    also counts what an interrupted earlier attempt of the same batch inserted but may not have
  //    counted (same batch token on the message); the conversation's token stops a second count.
  const recovered = new Set<string>();
  const seenBefore = docs.filter((d) => !inserted.has(d._id));
  if (opts.retry && seenBefore.length > 0) {
    const tokenOf = new Map(seenBefore.map((d) => [d._id, d.summaryBatch]));
    for (const d of await MessageModel.collection.find({ _id: { $in: [...tokenOf.keys()] } } as Document, { projection: { summaryBatch: 1 } }).toArray()) {
      if (d.summaryBatch && d.summaryBatch === tokenOf.get(d._id as unknown as string)) recovered.add(d._id as unknown as string);
    }
  }
  const toCount = new Map<string, { token: string; messages: NormalizedMessage[] }>();
  for (const conv of conversations) {
    const id = conversationKey(channel.channelId, conv.externalId);
    const fresh = conv.messages.filter((m) => { const key = messageKey(channel.channelId, m.externalId); return inserted.has(key) || recovered.has(key); });
    if (fresh.length > 0 && !created.has(id)) toCount.set(id, { token: tokens.get(conv.externalId)!, messages: fresh });
  }
  await advanceSummaries(toCount, now);
  // 5. Announce them — after the summaries, so a reader of the event finds the inbox up to date.
  //    Those an interrupted attempt stored are announced again (at least once, same event key).
  if (opts.announce) await appendEvents(channel.tenantId, docs.filter((d) => inserted.has(d._id) || recovered.has(d._id)).map(messageCreated));
  return { conversations: conversations.length, messagesInserted: inserted.size, messagesSeen: docs.length, insertedIds: [...inserted] };
}

function messageDoc(channel: ChannelRef, tenantId: Types.ObjectId, channelId: Types.ObjectId, conv: NormalizedConversation, m: NormalizedMessage, summaryBatch: string, now: Date) {
  const status = m.direction === 'inbound' ? 'received' : 'sent';
  return {
    _id: messageKey(channel.channelId, m.externalId), tenantId, channelId,
    conversationId: conversationKey(channel.channelId, conv.externalId), platform: channel.platform,
    externalId: m.externalId, direction: m.direction, sender: m.sender, ...(m.text !== undefined ? { text: m.text } : {}),
    attachments: m.attachments ?? [], status, statusRank: statusRank(status),
    platformTimestamp: new Date(m.timestamp), summaryBatch, createdAt: now, updatedAt: now,
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

export const previewOf = (m: Pick<NormalizedMessage, 'text' | 'attachments'>) =>
  (m.text ?? (m.attachments?.length ? `[${m.attachments[0]!.type}]` : '')).slice(0, PREVIEW_LENGTH);

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
    next.lastMessagePreview = previewOf(newest);
  }
  if (newestInbound && newestInbound.timestamp > (current.lastInboundAt?.getTime() ?? 0)) next.lastInboundAt = new Date(newestInbound.timestamp);
  if (lastOutboundAt > 0) next.lastOutboundAt = new Date(lastOutboundAt);
  const newUnread = sorted.filter((m) => m.direction === 'inbound' && m.timestamp > lastOutboundAt).length;
  // A newer reply from the business resets the count; otherwise new inbound messages add to it.
  next.unreadCount = newestOutbound && newestOutbound.timestamp >= previousOutbound ? newUnread : (current.unreadCount ?? 0) + newUnread;
  return next;
}

/** Names a batch of messages: the same set of message keys always gives the same token. */
export function batchToken(keys: string[]): string {
  return sha256Hex([...keys].sort().join('\n')).slice(0, 24);
}

/**
 * Moves existing conversations' summaries forward with conditional, atomic updates — never a
 * read-then-write, so concurrent writers (webhook drains, syncs, sends) cannot undo each other:
 * - last message + preview: set only if this batch's newest message is at least as new;
 * - last inbound / outbound: `$max`;
 * - unread: a newer business reply resets it to the inbound messages after that reply; otherwise
 *   the new inbound messages are added — once per batch (`summaryBatch`), so a retried attempt
 *   that counts what an interrupted one stored does not count it twice.
 */
export function summaryUpdates(conversationId: string, token: string, messages: NormalizedMessage[], now: Date): AnyBulkWriteOperation<Document>[] {
  if (messages.length === 0) return [];
  const sorted = [...messages].sort((a, b) => a.timestamp - b.timestamp);
  const newest = sorted[sorted.length - 1]!;
  const newestOutbound = sorted.filter((m) => m.direction === 'outbound').pop();
  const newestInbound = sorted.filter((m) => m.direction === 'inbound').pop();
  const ops: AnyBulkWriteOperation<Document>[] = [];
  const id = conversationId as unknown as Document['_id'];
  ops.push({ updateOne: {
    filter: { _id: id, $or: [{ lastMessageAt: { $lte: new Date(newest.timestamp) } }, { lastMessageAt: null }] },
    update: { $set: { lastMessageAt: new Date(newest.timestamp), lastMessagePreview: previewOf(newest), updatedAt: now } },
  } });
  const max: Document = {};
  if (newestInbound) max.lastInboundAt = new Date(newestInbound.timestamp);
  if (newestOutbound) max.lastOutboundAt = new Date(newestOutbound.timestamp);
  if (Object.keys(max).length > 0) ops.push({ updateOne: { filter: { _id: id }, update: { $max: max } } });
  if (newestOutbound) {
    const after = sorted.filter((m) => m.direction === 'inbound' && m.timestamp > newestOutbound.timestamp).length;
    ops.push({ updateOne: {
      filter: { _id: id, summaryBatch: { $ne: token }, $or: [{ lastOutboundAt: { $lte: new Date(newestOutbound.timestamp) } }, { lastOutboundAt: null }] },
      update: { $set: { unreadCount: after, summaryBatch: token } },
    } });
  } else if (newestInbound) {
    const inbound = sorted.filter((m) => m.direction === 'inbound');
    ops.push({ updateOne: {
      filter: { _id: id, summaryBatch: { $ne: token }, $or: [{ lastOutboundAt: { $lt: new Date(newestInbound.timestamp) } }, { lastOutboundAt: null }] },
      update: { $inc: { unreadCount: inbound.length }, $set: { summaryBatch: token } },
    } });
  }
  return ops;
}

async function advanceSummaries(toCount: Map<string, { token: string; messages: NormalizedMessage[] }>, now: Date): Promise<void> {
  if (toCount.size === 0) return;
  const ops = [...toCount.entries()].flatMap(([id, { token, messages }]) => summaryUpdates(id, token, messages, now));
  // Ordered: a conversation's `$max` of lastOutboundAt must not run before its unread reset checks it.
  await bulkWriteInChunks(ConversationModel.collection, ops, true);
}
