import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';

export const CONVERSATION_STATUSES = ['open', 'closed', 'snoozed'] as const;

const conversationSchema = new Schema(
  {
    _id: { type: String, required: true }, // "<channelId>:<platform thread ID>" (lib/domain/keys.ts)
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    externalId: { type: String, required: true }, // the platform's thread/conversation ID
    contactId: { type: Schema.Types.ObjectId, ref: 'Contact' },
    // The customer as this channel addresses them: replies go here.
    participant: { externalId: { type: String, required: true }, handle: String, name: String },
    subject: { type: String },
    status: { type: String, enum: CONVERSATION_STATUSES, default: 'open' },
    snoozedUntil: { type: Date },
    assigneeId: { type: String },
    labels: { type: [String], default: [] },
    lastMessageAt: { type: Date },
    lastMessagePreview: { type: String },
    lastInboundAt: { type: Date }, // opens the platform's reply window
    lastOutboundAt: { type: Date }, // unread = what the customer wrote since
    unreadCount: { type: Number, default: 0 },
    // Messenger reports delivery and reads as watermarks: every outbound message sent at or before
    // these times is delivered / read (applied when messages are read, not rewritten one by one).
    deliveredUpTo: { type: Date },
    readUpTo: { type: Date },
    // Replies sent through us not yet read, on platforms whose receipts are watermarks.
    awaitingRead: { type: [String], default: undefined },
    // The last batch of new messages counted into unreadCount: a retried write does not count twice.
    summaryBatch: { type: String },
  },
  { timestamps: true },
);
conversationSchema.index({ channelId: 1, externalId: 1 }, { unique: true });
conversationSchema.index({ tenantId: 1, lastMessageAt: -1 });
conversationSchema.index({ tenantId: 1, status: 1, lastMessageAt: -1 });
conversationSchema.index({ tenantId: 1, contactId: 1 });

export type Conversation = InferSchemaType<typeof conversationSchema>;
export const ConversationModel = model('Conversation', conversationSchema, 'conversations');
