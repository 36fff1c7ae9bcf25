import { Schema, model, type InferSchemaType } from 'mongoose';

export const TENANT_EVENT_TYPES = ['message.created', 'message.status', 'channel.status'] as const;
export type TenantEventType = (typeof TENANT_EVENT_TYPES)[number];

// A tenant's event log: what changed in its inbox, in the order it was stored, for the real-time
// stream (GET /v1/events) and outgoing webhooks. `_id` = "<tenantId>:<seq, 12 digits>": one tenant's
// events are one range of the primary key, and a reader asks for the next span of sequence numbers
// (the only index FerretDB uses for reads is `_id`). Sequence numbers come from `event_sequences`.
const tenantEventSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    seq: { type: Number, required: true },
    type: { type: String, enum: TENANT_EVENT_TYPES, required: true },
    // What the event is about, stable across a retried write ("message.status:<id>:read"):
    // consumers may see an event twice after a crash, never a different one under the same key.
    key: { type: String, required: true },
    at: { type: Date, required: true },
    data: { type: Schema.Types.Mixed, required: true }, // JSON text (lib/event-log.ts); a document in events appended before
  },
  { versionKey: false },
);

const eventSequenceSchema = new Schema(
  { _id: { type: String, required: true }, seq: { type: Number, required: true } },
  { versionKey: false },
);

export type TenantEvent = InferSchemaType<typeof tenantEventSchema>;
export const TenantEventModel = model('TenantEvent', tenantEventSchema, 'events');
export const EventSequenceModel = model('EventSequence', eventSequenceSchema, 'event_sequences');
