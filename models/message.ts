import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';

export const MESSAGE_STATUSES = ['pending', 'sent', 'delivered', 'read', 'failed', 'received'] as const;
export const MESSAGE_DIRECTIONS = ['inbound', 'outbound'] as const;

const attachmentSchema = new Schema(
  { type: { type: String, enum: ['image', 'video', 'audio', 'file', 'sticker', 'location', 'other'], required: true }, url: String, mimeType: String, size: Number, name: String, platformMediaId: String,
    // An upload of ours (models/media.ts), sent as a signed link made at delivery (never stored).
    mediaId: String },
  { _id: false },
);

const messageSchema = new Schema(
  {
    // "<channelId>:<platform message ID>" (lib/domain/keys.ts): the natural key makes every write
    // an idempotent insert. Sends not yet known to the platform get a key of their own.
    _id: { type: String, required: true },
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel', required: true },
    conversationId: { type: String, ref: 'Conversation', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    externalId: { type: String },
    direction: { type: String, enum: MESSAGE_DIRECTIONS, required: true },
    sender: { externalId: String, name: String, agentId: String },
    text: { type: String },
    attachments: { type: [attachmentSchema], default: [] },
    template: { name: String, language: String, parameters: [String] },
    status: { type: String, enum: MESSAGE_STATUSES, required: true },
    // lib/domain/message-status.ts: status updates apply only when they raise the rank.
    statusRank: { type: Number, required: true },
    error: { code: String, message: String },
    platformTimestamp: { type: Date, required: true }, // when the platform says it happened
    sentAt: Date,
    deliveredAt: Date,
    readAt: Date,
    idempotencyKey: { type: String }, // "<tenantId>:<client key>" for sends
    // Customer reactions, by the reacting user's platform ID: { emoji (null once removed), at }.
    reactions: { type: Schema.Types.Mixed },
    deletedAt: Date, // the customer unsent it (Instagram): text and attachments are removed
    // The write batch that stored it: a retried drain or sync page recognises what its interrupted
    // attempt stored and finishes that batch's conversation summary (activities/inbox-writes.ts).
    summaryBatch: String,
  },
  { timestamps: true },
);
// (No {channelId, externalId} index: `_id` is "<channelId>:<externalId>" already.)
messageSchema.index({ idempotencyKey: 1 }, { unique: true, sparse: true });
messageSchema.index({ conversationId: 1, platformTimestamp: 1, _id: 1 });
messageSchema.index({ tenantId: 1, platformTimestamp: -1 });

export type Message = InferSchemaType<typeof messageSchema>;
export const MessageModel = model('Message', messageSchema, 'messages');
