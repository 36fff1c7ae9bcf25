// API keys: `sbk_` + 32 random bytes. Only the SHA-256 is stored; the key itself is shown once.
import type { Types } from 'mongoose';
import { randomToken, sha256Hex } from '../../lib/crypto';
import { ApiKeyModel, TenantModel, type ApiKeyRole } from '../../models';

export const API_KEY_PREFIX = 'sbk_';

export async function issueApiKey(input: { tenantId: Types.ObjectId | string; name: string; role: ApiKeyRole }) {
  const secret = `${API_KEY_PREFIX}${randomToken(32)}`;
  const doc = await ApiKeyModel.create({
    tenantId: input.tenantId, name: input.name, role: input.role,
    hash: sha256Hex(secret), prefix: secret.slice(0, API_KEY_PREFIX.length + 6),
  });
  return { apiKey: doc, secret };
}

/** Creates a tenant with its first admin key. If the key cannot be written, the tenant is removed. */
export async function createTenantWithAdminKey(name: string) {
  const tenant = await TenantModel.create({ name });
  try {
    const { apiKey, secret } = await issueApiKey({ tenantId: tenant._id, name: 'initial admin key', role: 'admin' });
    return { tenant, apiKey, secret };
  } catch (err) {
    await TenantModel.deleteOne({ _id: tenant._id });
    throw err;
  }
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX) && /^[A-Za-z0-9_-]{40,64}$/.test(value);
}
