import { Schema, model, type InferSchemaType } from 'mongoose';
import { PLATFORMS } from '../lib/domain/channel';

// One person; each identity is how one channel knows them. Replies always route through the
// conversation's own channel identity, so merging contacts never changes where a reply goes.
// `identities` here is a denormalized copy for display and search; uniqueness lives in
// contact_identities (a unique index over array elements is not enforced by FerretDB).
const identitySchema = new Schema(
  {
    channelId: { type: Schema.Types.ObjectId, ref: 'Channel', required: true },
    platform: { type: String, enum: PLATFORMS, required: true },
    externalId: { type: String, required: true }, // PSID, IGSID, wa_id, phone, email address…
    handle: { type: String },
    name: { type: String },
  },
  { _id: false },
);

const contactSchema = new Schema(
  {
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    name: { type: String, trim: true },
    identities: { type: [identitySchema], default: [] },
    // Merging B into A (api/routes/contacts.ts): B.mergingInto = A first (the intent, so a repeat
    // finishes an interrupted merge), then identities and conversations move to A, then
    // B.mergedInto = A. A merged contact stays as a pointer: reads of B answer with A.
    mergingInto: { type: Schema.Types.ObjectId, ref: 'Contact' },
    mergedInto: { type: Schema.Types.ObjectId, ref: 'Contact' },
    mergedAt: { type: Date },
  },
  { timestamps: true },
);
contactSchema.index({ tenantId: 1, 'identities.externalId': 1 });
contactSchema.index({ tenantId: 1, name: 1 });

export type Contact = InferSchemaType<typeof contactSchema>;
export const ContactModel = model('Contact', contactSchema, 'contacts');
