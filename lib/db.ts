// One mongoose connection per process. Indexes are created at start-up (idempotent), so a fresh
// database is ready before the first write; every unique index is a correctness guarantee here.
import mongoose from 'mongoose';
import * as models from '../models';

export async function connectDatabase(uri: string, opts: { serverSelectionTimeoutMS?: number } = {}): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  await mongoose.connect(uri, { serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000, autoIndex: false });
  await ensureIndexes();
  return mongoose;
}

export async function ensureIndexes(): Promise<void> {
  const all = [
    models.TenantModel, models.ApiKeyModel, models.ChannelModel, models.ContactModel, models.ContactIdentityModel,
    models.ConversationModel, models.MessageModel, models.WebhookEventModel, models.WebhookDeliveryModel, models.DailyStatModel,
  ];
  for (const model of all) await model.createIndexes();
}

/** True when the database answers a ping within `timeoutMs`. */
export async function pingDatabase(timeoutMs = 2000): Promise<boolean> {
  const db = mongoose.connection.db;
  if (mongoose.connection.readyState !== 1 || !db) return false;
  try {
    await withTimeout(db.admin().ping(), timeoutMs);
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
