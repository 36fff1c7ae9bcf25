import { Schema, model, type InferSchemaType } from 'mongoose';

// The webhook log: every verified delivery, recorded before it is acknowledged.
// `_id` = "<source>:<sha256 of the body>": a platform's retry of the same bytes is one entry.
const webhookDeliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    source: { type: String, required: true },
    receivedAt: { type: Date, required: true },
    bytes: { type: Number, required: true },
    // The raw body, only for a verified delivery our parser could not read (to replay it once fixed);
    // otherwise its content lives on as the normalized events. Never a secret (signatures are headers).
    body: { type: String },
    events: { type: Number, required: true },
    unmatched: { type: Number, default: 0 },
    ignored: { type: [String], default: [] },
    channelIds: { type: [String], default: [] },
    error: { type: String }, // a verified body our parser could not read
  },
  { timestamps: false, versionKey: false },
);
// No secondary index: it is written once per webhook on the hot path and read rarely.

export type WebhookDelivery = InferSchemaType<typeof webhookDeliverySchema>;
export const WebhookDeliveryModel = model('WebhookDelivery', webhookDeliverySchema, 'webhook_deliveries');
