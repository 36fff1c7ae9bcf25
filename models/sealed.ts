import { Schema } from 'mongoose';

/** An AES-256-GCM sealed secret (lib/crypto.ts); never selected unless asked for. */
export const sealedSchema = new Schema(
  { kid: { type: String, required: true }, iv: { type: String, required: true }, tag: { type: String, required: true }, data: { type: String, required: true } },
  { _id: false },
);
