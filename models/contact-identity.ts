import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';

// How one channel knows one person (PSID, IGSID, wa_id, phone, email address…), and which contact
// that person is. The unique (channel, external ID) key makes contact upserts idempotent;
// merging two contacts re-points identities, it never changes them.
const contactIdentitySchema = new Schema(
  {
    _id: { type: String, required: true }, // "<channelId>:<platform user ID>" (lib/domain/keys.ts)
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    contactId: { type: Schema.Types.ObjectId, ref: 'Contact', required: true },
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    externalId: { type: String, required: true },
    handle: { type: String },
    name: { type: String },
  },
  { timestamps: true },
);
contactIdentitySchema.index({ channelId: 1, externalId: 1 }, { unique: true });
contactIdentitySchema.index({ contactId: 1 });

export type ContactIdentity = InferSchemaType<typeof contactIdentitySchema>;
export const ContactIdentityModel = model('ContactIdentity', contactIdentitySchema, 'contact_identities');
