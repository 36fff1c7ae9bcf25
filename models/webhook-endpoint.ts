import { Schema, model, type InferSchemaType } from 'mongoose';
import { sealedSchema } from './sealed';
import { TENANT_EVENT_TYPES } from './tenant-event';

// An integrator's URL that receives the tenant's events (lib/event-log.ts), signed with a secret of
// its own (shown once, kept sealed). `position` is the last event sequence number handed to its
// delivery workflow (workflows/outgoing-webhooks.ts): the log is followed from there.
const webhookEndpointSchema = new Schema(
  {
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    url: { type: String, required: true },
    description: { type: String },
    events: { type: [{ type: String, enum: TENANT_EVENT_TYPES }], default: [] }, // empty: every type
    secret: { type: sealedSchema, required: true, select: false },
    secretHint: { type: String, required: true },
    active: { type: Boolean, default: true },
    position: { type: Number, required: true, default: 0 },
    workflowId: { type: String, required: true },
    deletedAt: Date,
  },
  { timestamps: true },
);
webhookEndpointSchema.index({ tenantId: 1, createdAt: -1 });

export type WebhookEndpoint = InferSchemaType<typeof webhookEndpointSchema>;
export const WebhookEndpointModel = model('WebhookEndpoint', webhookEndpointSchema, 'webhook_endpoints');

export const OUTGOING_DELIVERY_STATES = ['pending', 'retrying', 'delivered', 'failed'] as const;

// One event for one endpoint, and every attempt to deliver it. `_id` = "<endpointId>:<event seq,
// 12 digits>": an endpoint's log is one range of the primary key, newest last.
const outgoingDeliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    endpointId: { type: Schema.Types.ObjectId, ref: 'WebhookEndpoint', required: true },
    eventSeq: { type: Number, required: true },
    eventType: { type: String, required: true },
    state: { type: String, enum: OUTGOING_DELIVERY_STATES, required: true },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: Date,
    deliveredAt: Date,
    // The latest attempts (newest last, at most 10): when, the HTTP status or the error, how long.
    log: { type: [{ _id: false, at: Date, status: Number, error: String, ms: Number }], default: [] },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export type OutgoingDelivery = InferSchemaType<typeof outgoingDeliverySchema>;
export const OutgoingDeliveryModel = model('OutgoingDelivery', outgoingDeliverySchema, 'webhook_out_deliveries');
