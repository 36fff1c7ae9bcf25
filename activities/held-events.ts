// Events that arrived for a tenant's disconnected channel are held (api/webhooks/intake.ts). When
// the tenant connects that account again — a new channel — they move into the new channel's queue:
// what the platform delivered in between is not lost (WhatsApp Cloud, for one, has no history a
// backfill could fetch it from). Statuses among them find their messages like any other event.
import { Types } from 'mongoose';
import type { Document } from 'mongodb';
import type { Platform } from '../lib/domain/channel';
import { heldId, pendingRange, queuedEvent, WebhookDeliveryModel, WebhookEventModel } from '../models';
import type { InboxEvent } from '../api/webhooks/sources/types';
import { eventsOf, type QueueDoc } from './inbox-events';
import { insertNew } from './inbox-writes';

const CHUNK = 1000;
const ALL_HELD = { $gte: 'held:', $lt: 'held;' };

export interface AdoptingChannel { channelId: string; tenantId: string; platform: Platform; accountId: string }

/** Moves the tenant's held events for this channel's account into its queue; returns how many. */
export async function adoptHeldEvents(channel: AdoptingChannel): Promise<number> {
  const tenantId = new Types.ObjectId(channel.tenantId);
  let adopted = 0;
  let after = ALL_HELD.$gte;
  for (;;) {
    const held = (await WebhookEventModel.collection
      .find({ _id: { $gt: after, $lt: ALL_HELD.$lt }, tenantId, accountId: channel.accountId } as Document)
      .sort({ _id: 1 }).limit(CHUNK).toArray()) as unknown as ({ _id: string; channelId: Types.ObjectId; event: unknown } & Record<string, unknown>)[];
    if (held.length === 0) return adopted;
    after = held[held.length - 1]!._id;
    // Same account id on another platform (a Page id is not an Instagram id) is not ours to take.
    const ours = held.filter((d) => String(d.channelId) !== channel.channelId && queuedEvent<InboxEvent>(d.event).account.platforms.includes(channel.platform));
    if (ours.length > 0) {
      // The queue key keeps the event's arrival time and key: it takes its place in arrival order.
      await insertNew(WebhookEventModel.collection, ours.map((d) => ({
        ...d, _id: `${channel.channelId}:${d._id.slice(`held:${String(d.channelId)}:`.length)}`, channelId: new Types.ObjectId(channel.channelId), state: 'pending',
      })));
      await WebhookEventModel.collection.deleteMany({ _id: { $in: ours.map((d) => d._id) } } as Document);
      adopted += ours.length;
    }
    if (held.length < CHUNK) return adopted;
  }
}

/**
 * A disconnected channel's pending events — queued by an API that still took the channel for
 * connected (its directory cache had not expired yet): nothing drains them any more, so they are
 * held like what arrives for the channel now, and adopted with it when the account is connected
 * again. Their webhook log entries are written first, as a drain would.
 */
export async function holdPendingEvents(channelId: string): Promise<number> {
  let held = 0;
  for (;;) {
    const docs = (await WebhookEventModel.collection.find({ _id: pendingRange(channelId) } as Document).limit(CHUNK).toArray()) as unknown as QueueDoc[];
    if (docs.length === 0) return held;
    await insertNew(WebhookDeliveryModel.collection, docs.flatMap((d) => (d.delivery ? [d.delivery] : [])));
    const parked = docs.flatMap((doc) => {
      const arrival = doc._id.slice(channelId.length + 1).split(':')[0];
      return eventsOf(doc).map(({ delivery: _delivery, ...q }) => ({
        ...q, _id: heldId(`${channelId}:${arrival}:${q.event.key}`), kind: q.event.kind, state: 'held', event: JSON.stringify(q.event),
      }));
    });
    await insertNew(WebhookEventModel.collection, parked);
    await WebhookEventModel.collection.deleteMany({ _id: { $in: docs.map((d) => d._id) } } as Document);
    held += parked.length;
  }
}

/** The (tenant, account) pairs that have held events, for the reconciliation sweep. */
export async function heldAccounts(): Promise<{ tenantId: string; accountId: string }[]> {
  const docs = await WebhookEventModel.collection.find({ _id: ALL_HELD } as Document, { projection: { tenantId: 1, accountId: 1 } }).toArray();
  const pairs = new Map(docs.map((d) => [`${String(d.tenantId)} ${String(d.accountId)}`, { tenantId: String(d.tenantId), accountId: String(d.accountId) }]));
  return [...pairs.values()];
}
