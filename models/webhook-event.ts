import { Schema, model, type InferSchemaType } from 'mongoose';

/**
 * - pending: waiting for its channel workflow to drain it into the inbox
 * - deferred: a status/reaction/deletion whose message is not stored yet; applied when it is
 * - held: addressed to a disconnected channel (kept, reported, not applied)
 * - unmatched: no channel speaks for the account it was addressed to (kept, reported)
 */
export const WEBHOOK_EVENT_STATES = ['pending', 'deferred', 'held', 'unmatched'] as const;
export type WebhookEventState = (typeof WEBHOOK_EVENT_STATES)[number];

// The intake queue: one normalized platform event per document (or a delivery's batch of them,
// kind "batch"), stored before the webhook is acknowledged. `_id` = "<channelId>:<arrival time,
// base 36>:<event key>" ("…:batch:<delivery hash>" for a batch): a channel's pending
// events are one range of the primary key, in arrival order, holding nothing else: the drain reads
// its oldest batch as `{_id: range}` and stops after `limit` rows, never stepping over parked
// events (FerretDB filters in Go, row by row). Parked events live in ranges of their own:
// "deferred:<channelId>:<event key>" (waiting for their message), "held:<queue _id>" (disconnected channel),
// "unmatched:<event key>". Applied events are deleted: the queue stays small, and
// `webhook_deliveries` keeps the record of what arrived.
const webhookEventSchema = new Schema(
  {
    _id: { type: String, required: true },
    source: { type: String, required: true }, // the endpoint: meta, whatsapp, twilio, tiktok, google
    kind: { type: String, required: true }, // message | status | watermark | reaction | deletion | sync | batch
    accountId: { type: String, required: true }, // the platform account addressed (page, phone number ID…)
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant' },
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel' },
    state: { type: String, enum: WEBHOOK_EVENT_STATES, required: true },
    event: { type: Schema.Types.Mixed }, // the normalized InboxEvent, as JSON text (see queuedEvent)
    // kind "batch": a delivery's many events for one channel in one document (JSON text of the
    // InboxEvent array), as platforms batch them under load; pending only.
    events: { type: String },
    count: { type: Number },
    messageId: { type: String }, // deferred: the message it waits for
    deliveryId: { type: String, required: true },
    // The webhook log entry of the delivery, carried by its first queued event until the drain
    // writes it to webhook_deliveries (one insert per webhook on the hot path).
    delivery: { type: Schema.Types.Mixed },
    receivedAt: { type: Date, required: true },
  },
  { timestamps: false, versionKey: false },
);
// No secondary index: the drain finds a channel's events by `_id` prefix (the primary key), and
// every index would cost each webhook's insert; sweeps and reports are rare and may scan.

export type WebhookEvent = InferSchemaType<typeof webhookEventSchema>;
export const WebhookEventModel = model('WebhookEvent', webhookEventSchema, 'webhook_events');

const range = (prefix: string) => ({ $gte: `${prefix}:`, $lt: `${prefix};` });
/** A channel's pending events (`_id` range). */
export const pendingRange = (channelId: string) => range(channelId);
/** A channel's deferred events (`_id` range). */
export const deferredRange = (channelId: string) => range(`deferred:${channelId}`);
/** A channel's held events (`_id` range). */
export const heldRange = (channelId: string) => range(`held:${channelId}`);
/** A parked event's `_id`: one per platform event (its natural key), however often it was delivered. */
export const deferredId = (channelId: string, eventKey: string) => `deferred:${channelId}:${eventKey}`;
export const heldId = (queueId: string) => `held:${queueId}`;

/** A queued event's InboxEvent: JSON text, or a document as queued before the text form. */
export const queuedEvent = <T>(stored: unknown): T => (typeof stored === 'string' ? JSON.parse(stored) : stored) as T;
