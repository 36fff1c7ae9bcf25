import { Schema, model, type InferSchemaType } from 'mongoose';

export const API_KEY_ROLES = ['admin', 'agent'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

// Only the SHA-256 of a key is stored: keys are 256-bit random, so a fast hash is enough and
// lookup by hash is a single indexed read. `prefix` lets a user recognise a key in a list.
const apiKeySchema = new Schema(
  {
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    name: { type: String, required: true, trim: true, maxlength: 200 },
    role: { type: String, enum: API_KEY_ROLES, required: true },
    hash: { type: String, required: true },
    prefix: { type: String, required: true },
    lastUsedAt: { type: Date },
    revokedAt: { type: Date },
  },
  { timestamps: true },
);
apiKeySchema.index({ hash: 1 }, { unique: true });
apiKeySchema.index({ tenantId: 1, createdAt: -1 });

export type ApiKey = InferSchemaType<typeof apiKeySchema>;
export const ApiKeyModel = model('ApiKey', apiKeySchema, 'api_keys');
