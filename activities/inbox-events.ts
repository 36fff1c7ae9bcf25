// Drains a channel's queued webhook events into the inbox, in batches, with bulk idempotent writes.
// The channel workflow runs it when the API signals that events are waiting. Every step is safe to
// repeat: messages are inserted by natural key, statuses only ever raise a message's rank,
// reactions apply only when newer, and an event leaves the queue only after it has been applied —
// so a worker killed mid-drain loses nothing and doubles nothing when the activity is retried.
import { Types } from 'mongoose';
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { conversationKey, messageKey } from '../lib/domain/keys';
import { deliveryFailure, statusRank, type RankedStatus } from '../lib/domain/message-status';
import { appendEventsByTenant } from '../lib/event-log';
import { messageStatusChanged } from '../lib/event-payloads';
import { ChannelModel, ConversationModel, deferredId, deferredRange, MessageModel, pendingRange, queuedEvent, WebhookDeliveryModel, WebhookEventModel } from '../models';
import type { DeletionEvent, InboxEvent, MessageEvent, ReactionEvent, StatusEvent, WatermarkEvent } from '../api/webhooks/sources/types';
import { heartbeatIfActivity, isRetriedAttempt } from './activity-context';
import { bulkWriteInChunks, insertNew, storeConversations, type ChannelRef } from './inbox-writes';
import type { NormalizedConversation } from './platforms/types';

export interface DrainResult {
  /** Events taken from the queue this time. */
  events: number;
  messagesInserted: number;
  statusesApplied: number;
  /** Events waiting for a message that is not stored yet. */
  deferred: number;
  /** The batch was full: call again. */
  more: boolean;
  /** A delivery said "something changed" without saying what (Gmail push): run an incremental sync. */
  syncRequested: boolean;
}

/** One event as the drain works on it (a queued batch document holds many). */
export type QueuedEvent = { _id: string; state: string; event: InboxEvent; delivery?: { _id: string } } & Record<string, unknown>;
export type QueueDoc = { _id: string; event?: unknown; events?: string; count?: number; delivery?: { _id: string } } & Record<string, unknown>;
type TargetEvent = StatusEvent | ReactionEvent | DeletionEvent;

export const DEFAULT_DRAIN_BATCH = 2000;
/** One call drains batch after batch for about this long, then lets the workflow take its turn. */
export const DEFAULT_DRAIN_BUDGET_MS = 5000;
const FIRST_READ_DOCS = 50;

export async function drainChannelEvents({ channelId, limit = DEFAULT_DRAIN_BATCH, budgetMs = DEFAULT_DRAIN_BUDGET_MS }: { channelId: string; limit?: number; budgetMs?: number }): Promise<DrainResult> {
  const total: DrainResult = { events: 0, messagesInserted: 0, statusesApplied: 0, deferred: 0, more: false, syncRequested: false };
  if (!Types.ObjectId.isValid(channelId)) return total;
  const channel = await ChannelModel.findById(channelId, { tenantId: 1, platform: 1 }).lean();
  if (!channel) return total;
  const ref: ChannelRef = { tenantId: String(channel.tenantId), channelId, platform: channel.platform };
  // Batches back to back in one activity: under a burst, a round trip through the workflow per
  // batch would leave the database idle between them.
  const started = Date.now();
  // Queue documents to read: a document is one event or a delivery's batch of them, so the next
  // read is sized by what the last one held (the first is small: it may be all batches).
  let docs = Math.min(limit, FIRST_READ_DOCS);
  for (;;) {
    const batch = await drainBatch(ref, docs);
    const eventsPerDocument = Math.max(1, batch.events / Math.max(1, batch.documents));
    docs = Math.max(1, Math.min(limit, Math.round(limit / eventsPerDocument)));
    total.events += batch.events;
    total.messagesInserted += batch.messagesInserted;
    total.statusesApplied += batch.statusesApplied;
    total.deferred += batch.deferred;
    total.syncRequested ||= batch.syncRequested;
    total.more = batch.more;
    heartbeatIfActivity(total);
    if (!batch.more || Date.now() - started >= budgetMs) return total;
  }
}

async function drainBatch(ref: ChannelRef, limit: number): Promise<DrainResult & { documents: number }> {
  const { channelId } = ref;
  const result = { events: 0, documents: 0, messagesInserted: 0, statusesApplied: 0, deferred: 0, more: false, syncRequested: false };

  // The oldest `limit` queue documents: the range holds only pending ones, so the read stops after `limit` rows.
  const read = (await WebhookEventModel.collection
    .find({ _id: pendingRange(channelId) } as Document)
    .limit(limit).batchSize(limit).toArray()) as unknown as QueueDoc[]; // one round trip
  const queued = read.flatMap(eventsOf);
  result.documents = read.length;
  result.events = queued.length;
  result.more = read.length >= limit;
  if (queued.length === 0) return result;

  // 0. The webhook log entries that rode in with these events (api/webhooks/intake.ts).
  const deliveries = queued.flatMap((q) => (q.delivery ? [q.delivery] : []));
  if (deliveries.length > 0) await insertNew(WebhookDeliveryModel.collection, deliveries);

  // 1. Messages (inbound, and echoes of what the business sent elsewhere) — one bulk path.
  const messages = queued.map((q) => q.event).filter((e): e is MessageEvent => e.kind === 'message');
  const stored = await storeConversations(ref, conversationsOf(messages), { retry: isRetriedAttempt(), announce: true });
  result.messagesInserted = stored.messagesInserted;
  heartbeatIfActivity(result);

  // 2. Everything aimed at one message — plus what waited for the messages just stored.
  const targeted = queued.filter((q) => isTargetEvent(q.event));
  const waiting = await deferredFor(channelId, stored.insertedIds);
  const applied = await applyTargetEvents(channelId, [...targeted, ...waiting]);
  result.statusesApplied = applied.statuses;
  result.deferred = applied.deferred.length;

  // 3. Watermarks (Messenger delivery/read up to a time) live on the conversation.
  await applyWatermarks(channelId, queued.map((q) => q.event).filter((e): e is WatermarkEvent => e.kind === 'watermark'));
  result.syncRequested = queued.some((q) => q.event.kind === 'sync');

  // 4. Only now leave the queue: events still waiting for their message are copied to the
  // deferred range first (by key, so a repeat changes nothing), then the batch is deleted.
  const stillWaiting = new Set(applied.deferred.map((d) => d.id));
  const waitFor = new Map(applied.deferred.map((d) => [d.id, d.messageId]));
  // Parked under the platform event's own key: the same status redelivered is parked once.
  const moved = queued.filter((q) => waitFor.has(q._id)).map(({ delivery: _delivery, ...q }) => ({ ...q, event: JSON.stringify(q.event), _id: deferredId(channelId, q.event.key), state: 'deferred', messageId: waitFor.get(q._id) }));
  if (moved.length > 0) await insertNew(WebhookEventModel.collection, moved);
  const done = [...read.map((d) => d._id), ...waiting.map((w) => w._id).filter((id) => !stillWaiting.has(id))];
  if (done.length > 0) await WebhookEventModel.collection.deleteMany({ _id: { $in: done } } as Document);
  // A send may have stored its message between our lookup and the copy above, and looked for
  // deferred events before these were there: look again now, or they would wait forever.
  if (applied.deferred.length > 0) {
    const targets = [...new Set(applied.deferred.map((d) => d.messageId))];
    const arrived = await MessageModel.collection.find({ _id: { $in: targets } } as Document, { projection: { _id: 1 } }).toArray();
    if (arrived.length > 0) await applyDeferredEvents(channelId, arrived.map((m) => m._id as unknown as string));
  }
  return result;
}

/** Applies deferred events waiting for messages that were just stored (by a sync or a send). */
export async function applyDeferredEvents(channelId: string, messageIds: string[]): Promise<number> {
  const waiting = await deferredFor(channelId, messageIds);
  if (waiting.length === 0) return 0;
  const applied = await applyTargetEvents(channelId, waiting);
  const stillWaiting = new Set(applied.deferred.map((d) => d.id));
  const done = waiting.map((w) => w._id).filter((id) => !stillWaiting.has(id));
  if (done.length > 0) await WebhookEventModel.collection.deleteMany({ _id: { $in: done } } as Document);
  return done.length;
}

function conversationsOf(events: MessageEvent[]): NormalizedConversation[] {
  const byThread = new Map<string, NormalizedConversation>();
  for (const e of events) {
    let conv = byThread.get(e.conversation.externalId);
    if (!conv) {
      conv = { externalId: e.conversation.externalId, participant: { ...e.conversation.participant }, ...(e.conversation.subject ? { subject: e.conversation.subject } : {}), messages: [] };
      byThread.set(e.conversation.externalId, conv);
    }
    // Later events may know the customer's name when earlier ones did not.
    conv.participant.name ??= e.conversation.participant.name;
    conv.participant.handle ??= e.conversation.participant.handle;
    if (!conv.messages.some((m) => m.externalId === e.message.externalId)) conv.messages.push(e.message);
  }
  return [...byThread.values()];
}

const isTargetEvent = (e: InboxEvent): e is TargetEvent => e.kind === 'status' || e.kind === 'reaction' || e.kind === 'deletion';

async function deferredFor(channelId: string, messageIds: string[]): Promise<QueuedEvent[]> {
  if (messageIds.length === 0) return [];
  return ((await WebhookEventModel.collection
    // Only the channel's deferred events are in this range (usually none): the messageId test is cheap.
    .find({ _id: deferredRange(channelId), messageId: { $in: messageIds } } as Document, { projection: { event: 1, state: 1 } })
    .toArray()) as unknown as QueueDoc[]).flatMap(eventsOf);
}

/** The events a queue document holds: itself, or each event of a batch (named "<batch _id>:<n>"). */
export function eventsOf(doc: QueueDoc): QueuedEvent[] {
  if (typeof doc.events !== 'string') return [{ ...doc, event: queuedEvent<InboxEvent>(doc.event) } as QueuedEvent];
  const { events, count: _count, delivery, ...rest } = doc;
  return (JSON.parse(events) as InboxEvent[]).map((event, i) => ({
    ...rest, _id: `${doc._id}:${i}`, kind: event.kind, accountId: event.account.accountId, state: rest.state as string, event,
    ...(i === 0 && delivery ? { delivery } : {}),
  }));
}

/**
 * Statuses, reactions and unsends, as conditional updates on the target message. Events whose
 * message is not stored yet are returned as deferred (a status may overtake its message).
 */
async function applyTargetEvents(channelId: string, queued: QueuedEvent[]): Promise<{ statuses: number; deferred: { id: string; messageId: string }[] }> {
  if (queued.length === 0) return { statuses: 0, deferred: [] };
  const target = (q: QueuedEvent) => messageKey(channelId, (q.event as TargetEvent).messageExternalId);
  const ids = [...new Set(queued.map(target))];
  // A message we sent is stored under its own ID; its platform ID is an alias pointing at it.
  const found = await MessageModel.collection.find({ _id: { $in: ids } } as Document, { projection: { _id: 1, aliasOf: 1 } }).toArray();
  const existing = new Set(found.map((d) => d._id as unknown as string));
  const redirect = new Map(found.filter((d) => d.aliasOf).map((d) => [d._id as unknown as string, d.aliasOf as string]));
  const deferred = queued.filter((q) => !existing.has(target(q))).map((q) => ({ id: q._id, messageId: target(q) }));
  const now = new Date();
  const ops: AnyBulkWriteOperation<Document>[] = [];
  let statuses = 0;
  for (const q of queued) {
    if (!existing.has(target(q))) continue;
    const id = redirect.get(target(q)) ?? target(q);
    const e = q.event as TargetEvent;
    const at = new Date(e.timestamp);
    if (e.kind === 'status') {
      statuses++;
      const rank = statusRank(e.status);
      ops.push({ updateOne: {
        // `$not: {$gte}` also matches documents stored before ranks existed.
        filter: { _id: id, statusRank: { $not: { $gte: rank } } } as Document,
        update: { $set: { status: e.status, statusRank: rank, [`${e.status}At`]: at, updatedAt: now, ...(e.status === 'failed' ? { error: deliveryFailure(e.error) } : {}) } },
      } });
    } else if (e.kind === 'reaction') {
      const who = `reactions.${fieldSafe(e.senderExternalId)}`;
      ops.push({ updateOne: {
        filter: { _id: id, $or: [{ [`${who}.at`]: { $lt: at } }, { [who]: { $exists: false } }] } as Document,
        update: { $set: { [who]: { emoji: e.emoji, at }, updatedAt: now } },
      } });
    } else {
      ops.push({ updateOne: { filter: { _id: id } as Document, update: { $set: { deletedAt: at, updatedAt: now }, $unset: { text: '', attachments: '' } } } });
    }
  }
  const before = await statusesOf(queued.filter((q) => q.event.kind === 'status' && existing.has(target(q))).map((q) => redirect.get(target(q)) ?? target(q)));
  await bulkWriteInChunks(MessageModel.collection, ops, false);
  await announceRisingStatuses(before, queued.flatMap((q) => {
    if (q.event.kind !== 'status' || !existing.has(target(q))) return [];
    return [{ id: redirect.get(target(q)) ?? target(q), status: q.event.status, at: new Date(q.event.timestamp), error: q.event.status === 'failed' ? deliveryFailure(q.event.error) : undefined }];
  }));
  return { statuses, deferred };
}

type StatusBefore = { _id: string; tenantId: unknown; conversationId: string; channelId: unknown; platform: string; statusRank?: number };

async function statusesOf(ids: string[]): Promise<Map<string, StatusBefore>> {
  if (ids.length === 0) return new Map();
  const docs = await MessageModel.collection.find({ _id: { $in: [...new Set(ids)] } } as Document, { projection: { tenantId: 1, conversationId: 1, channelId: 1, platform: 1, statusRank: 1 } }).toArray();
  return new Map(docs.map((d) => [d._id as unknown as string, d as unknown as StatusBefore]));
}

/**
 * One `message.status` event per status that raised a message's rank, lowest first — the order a
 * reader must see them in, whatever order the platform's deliveries came in.
 */
async function announceRisingStatuses(before: Map<string, StatusBefore>, changes: { id: string; status: RankedStatus; at: Date; error?: { code: string; message: string } }[]) {
  const events: Parameters<typeof appendEventsByTenant>[0] = [];
  for (const [id, doc] of before) {
    let rank = doc.statusRank ?? -1;
    const mine = changes.filter((c) => c.id === id).sort((a, b) => statusRank(a.status) - statusRank(b.status));
    for (const c of mine) {
      if (statusRank(c.status) <= rank) continue;
      rank = statusRank(c.status);
      events.push({ tenantId: String(doc.tenantId), ...messageStatusChanged(doc, c.status, c.at, c.error) });
    }
  }
  await appendEventsByTenant(events);
}

async function applyWatermarks(channelId: string, events: WatermarkEvent[]): Promise<void> {
  if (events.length === 0) return;
  await bulkWriteInChunks(ConversationModel.collection, events.map((e) => ({
    updateOne: {
      filter: { _id: conversationKey(channelId, e.conversationExternalId) } as Document,
      update: { $max: { [e.status === 'read' ? 'readUpTo' : 'deliveredUpTo']: new Date(e.watermark) } },
    },
  })), false);
  await applyWatermarksToReplies(channelId, events);
}

/**
 * A watermark ("read everything up to T") also moves the replies sent through us before T, so
 * their status — and the stream's `message.status` events — say so. The conversation lists the
 * replies still waiting to be read (`awaitingRead`, kept by the send activity on platforms whose
 * receipts are watermarks), so this reads those few by `_id` whatever the channel's history. Only
 * replies the platform took count: a pending or failed one was never delivered.
 */
async function applyWatermarksToReplies(channelId: string, events: WatermarkEvent[]) {
  const upTo = new Map<string, { delivered: number; read: number }>();
  for (const e of events) {
    const id = conversationKey(channelId, e.conversationExternalId);
    const marks = upTo.get(id) ?? { delivered: 0, read: 0 };
    marks[e.status] = Math.max(marks[e.status], e.watermark);
    upTo.set(id, marks);
  }
  const waiting = await ConversationModel.collection.find({ _id: { $in: [...upTo.keys()] } } as Document, { projection: { awaitingRead: 1 } }).toArray();
  const candidates = waiting.flatMap((c) => (c.awaitingRead ?? []) as string[]);
  if (candidates.length === 0) return;
  const replies = await MessageModel.collection.find(
    { _id: { $in: candidates } } as Document,
    { projection: { tenantId: 1, conversationId: 1, channelId: 1, platform: 1, status: 1, statusRank: 1, platformTimestamp: 1 } },
  ).toArray();
  // No longer waiting: read, failed, or gone.
  const done = new Set(candidates);
  for (const m of replies) if (m.status === 'sent' || m.status === 'delivered') done.delete(m._id as unknown as string);
  const changes: { id: string; status: RankedStatus; at: Date }[] = [];
  for (const m of replies) {
    const marks = upTo.get(m.conversationId as string)!;
    const sentAt = new Date(m.platformTimestamp as Date).getTime();
    const reached = marks.read >= sentAt ? 'read' : marks.delivered >= sentAt ? 'delivered' : null;
    if (!reached || statusRank(reached) <= (m.statusRank as number)) continue;
    // Delivered is implied by read: announce both steps, in order.
    if (reached === 'read' && (m.statusRank as number) < statusRank('delivered')) changes.push({ id: m._id as unknown as string, status: 'delivered', at: new Date(marks.read) });
    changes.push({ id: m._id as unknown as string, status: reached, at: new Date(reached === 'read' ? marks.read : marks.delivered) });
  }
  for (const c of changes) if (c.status === 'read') done.add(c.id);
  if (done.size > 0) {
    await bulkWriteInChunks(ConversationModel.collection, waiting.map((c) => ({
      updateOne: { filter: { _id: c._id } as Document, update: { $pullAll: { awaitingRead: ((c.awaitingRead ?? []) as string[]).filter((id) => done.has(id)) } } as Document },
    })), false);
  }
  if (changes.length === 0) return;
  const before = new Map(replies.filter((m) => m.status === 'sent' || m.status === 'delivered').map((m) => [m._id as unknown as string, m as unknown as StatusBefore]));
  const now = new Date();
  const final = new Map(changes.map((c) => [c.id, c]));
  await bulkWriteInChunks(MessageModel.collection, [...final.values()].map((c) => ({
    updateOne: {
      filter: { _id: c.id, statusRank: { $not: { $gte: statusRank(c.status) } } } as Document,
      update: { $set: { status: c.status, statusRank: statusRank(c.status), [`${c.status}At`]: c.at, updatedAt: now } },
    },
  })), false);
  await announceRisingStatuses(before, changes);
}

/** Platform user IDs become field names: keep them from reaching into other fields. */
const fieldSafe = (id: string) => id.replace(/[.$]/g, '_');
