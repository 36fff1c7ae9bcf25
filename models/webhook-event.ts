import { Schema, model, type InferSchemaType } from 'mongoose';

export const WEBHOOK_EVENT_STATES = ['pending', 'processed', 'orphaned', 'ignored', 'failed'] as const;

// One normalized platform event (a message, an echo, a status…). `eventKey` is unique per
// platform event, so a redelivered webhook inserts nothing new.
const webhookEventSchema = new Schema(
  {
    eventKey: { type: String, required: true }, // "<platform>:<kind>:<platform event ID>"
    platform: { type: String, required: true },
    kind: { type: String, required: true }, // message | echo | status | reaction | …
    accountId: { type: String }, // the platform account addressed (page, phone number ID…)
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant' },
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel' },
    state: { type: String, enum: WEBHOOK_EVENT_STATES, default: 'pending' },
    payload: { type: Schema.Types.Mixed, required: true },
    receivedAt: { type: Date, required: true },
    processedAt: Date,
    error: String,
  },
  { timestamps: false },
);
webhookEventSchema.index({ eventKey: 1 }, { unique: true });
webhookEventSchema.index({ channelId: 1, state: 1, receivedAt: 1 });
webhookEventSchema.index({ state: 1, receivedAt: 1 });

export type WebhookEvent = InferSchemaType<typeof webhookEventSchema>;
export const WebhookEventModel = model('WebhookEvent', webhookEventSchema, 'webhook_events');
