import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';

const dailyStatSchema = new Schema(
  {
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    day: { type: String, required: true, match: /^\d{4}-\d{2}-\d{2}$/ }, // UTC day
    messagesIn: { type: Number, default: 0 },
    messagesOut: { type: Number, default: 0 },
    conversationsOpened: { type: Number, default: 0 },
    medianFirstResponseMs: { type: Number },
  },
  { timestamps: true },
);
dailyStatSchema.index({ tenantId: 1, platform: 1, day: 1 }, { unique: true });
dailyStatSchema.index({ tenantId: 1, day: 1 });

export type DailyStat = InferSchemaType<typeof dailyStatSchema>;
export const DailyStatModel = model('DailyStat', dailyStatSchema, 'daily_stats');
