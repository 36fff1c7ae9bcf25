import { Schema, model } from 'mongoose';

// Per-channel send pacing (activities/send-pacing.ts): `next` is the earliest time (ms since the
// epoch) the channel's next send may start. `_id` = the channel ID.
const sendPaceSchema = new Schema(
  { _id: { type: String, required: true }, next: { type: Number, required: true } },
  { versionKey: false },
);

export const SendPaceModel = model('SendPace', sendPaceSchema, 'send_pacing');
