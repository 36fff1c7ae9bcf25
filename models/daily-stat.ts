import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';
import { ALL_PLATFORMS, dailyStatKey } from '../lib/domain/analytics';

// One document per tenant × platform × UTC day with activity, and one per tenant × day with
// platform "all" (the day's totals over every platform; its median is over all their
// conversations). Written only by the daily analytics activity (activities/analytics.ts), which
// replaces a day's documents whenever it recomputes that day.
const dailyStatSchema = new Schema(
  {
    // "<tenantId>:<YYYY-MM-DD>:<platform>" (lib/domain/analytics.ts): recomputing a day is an
    // upsert by _id, and a tenant's date range is one _id range.
    _id: { type: String, required: true },
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    platform: { type: String, enum: [...PLATFORMS, ALL_PLATFORMS], required: true },
    day: { type: String, required: true, match: /^\d{4}-\d{2}-\d{2}$/ }, // UTC day
    messagesIn: { type: Number, default: 0 },
    messagesOut: { type: Number, default: 0 }, // sent, delivered or read (not pending or failed)
    conversationsOpened: { type: Number, default: 0 },
    firstResponses: { type: Number, default: 0 }, // conversations opened that day that got a reply
    medianFirstResponseMs: { type: Number, default: null },
  },
  { timestamps: true },
);
// Documents made without an _id (tests, scripts) get their natural key.
dailyStatSchema.pre('validate', function () {
  if (this._id === undefined || this._id === null) this._id = dailyStatKey(String(this.tenantId), this.day, this.platform);
});
// The recompute of a day removes what it no longer finds (a send that failed after all).
dailyStatSchema.index({ day: 1 });

export type DailyStat = InferSchemaType<typeof dailyStatSchema>;
export const DailyStatModel = model('DailyStat', dailyStatSchema, 'daily_stats');
