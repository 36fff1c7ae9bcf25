import { Schema, model, type InferSchemaType } from 'mongoose';
import { CHANNEL_STATUSES, PLATFORMS } from '../lib/domain/channel';
import { sealedSchema } from './sealed';

const channelSchema = new Schema(
  {
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    name: { type: String, required: true, trim: true, maxlength: 200 },
    status: { type: String, enum: CHANNEL_STATUSES, required: true, default: 'pending_auth' },
    statusReason: { type: String },
    workflowId: { type: String, required: true },
    // The platform account this channel speaks for (page, IG account, phone number, mailbox…).
    account: {
      id: { type: String },
      name: { type: String },
      handle: { type: String },
    },
    // Tokens, passwords and app secrets, sealed; the API shows only `credentialHints`.
    credentials: { type: sealedSchema, select: false },
    // What the user gave to connect (an OAuth code, or credentials to validate), sealed, until
    // the channel workflow's connect step consumes it.
    pendingAuth: { type: sealedSchema, select: false },
    // SHA-256 of the nonce in the outstanding OAuth state; consumed once by the callback.
    oauthNonceHash: { type: String, select: false },
    credentialHints: { type: Map, of: String, default: undefined },
    tokenExpiresAt: { type: Date },
    webhookVerifyTokenHash: { type: String, select: false },
    capabilities: { type: [String], default: [] },
    settings: { type: Schema.Types.Mixed, default: {} },
    // Sends per second for this channel (lib/domain/send-rate.ts); unset = the platform's cap.
    sendRatePerSecond: { type: Number },
    // Incremental sync position (Graph cursor/timestamp, Gmail historyId, IMAP UIDVALIDITY/UID…).
    cursor: { type: Schema.Types.Mixed },
    backfill: {
      done: { type: Boolean, default: false },
      pages: { type: Number, default: 0 },
      conversations: { type: Number, default: 0 },
      messages: { type: Number, default: 0 },
      cursor: { type: Schema.Types.Mixed },
      finishedAt: { type: Date },
    },
    lastSyncedAt: { type: Date },
    lastError: { type: String },
    lastErrorAt: { type: Date },
    errorCount: { type: Number, default: 0 },
    disconnectedAt: { type: Date },
  },
  { timestamps: true },
);
channelSchema.index({ tenantId: 1, createdAt: -1 });
channelSchema.index({ tenantId: 1, platform: 1, status: 1 });
channelSchema.index({ workflowId: 1 }, { unique: true });
// Webhooks arrive addressed to a platform account: find its channel in one indexed read.
channelSchema.index({ platform: 1, 'account.id': 1 });

export type Channel = InferSchemaType<typeof channelSchema>;
export const ChannelModel = model('Channel', channelSchema, 'channels');
