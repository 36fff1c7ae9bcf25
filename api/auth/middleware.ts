// Bearer API-key authentication and role checks. Every tenant-scoped query uses
// c.get('caller').tenantId, never a tenant named by the client.
import { createMiddleware } from 'hono/factory';
import { sha256Hex } from '../../lib/crypto';
import { forbidden, unauthorized } from '../../lib/errors';
import { ApiKeyModel, type ApiKeyRole } from '../../models';
import type { AppEnv } from '../env';
import { looksLikeApiKey } from './keys';

const LAST_USED_RESOLUTION_MS = 60_000;

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  if (!header) throw unauthorized('Missing Authorization header (expected "Bearer <API key>")');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized('Authorization header must be "Bearer <API key>"');
  const key = match[1]!;
  if (!looksLikeApiKey(key)) throw unauthorized('Invalid API key');

  const found = await ApiKeyModel.findOne({ hash: sha256Hex(key) }, { tenantId: 1, role: 1, revokedAt: 1, lastUsedAt: 1 }).lean();
  if (!found || found.revokedAt) throw unauthorized('Invalid or revoked API key');

  c.set('caller', { tenantId: String(found.tenantId), keyId: String(found._id), role: found.role });
  c.set('log', c.get('log').child({ tenantId: String(found.tenantId), keyId: String(found._id) }));

  // Coarse "last used" for key hygiene, without a write on every request.
  if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    ApiKeyModel.updateOne({ _id: found._id }, { $set: { lastUsedAt: new Date() } }).catch((err) =>
      c.get('log').warn({ err }, 'could not record key use'),
    );
  }
  await next();
});

export const requireRole = (role: ApiKeyRole) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.get('caller');
    if (role === 'admin' && caller.role !== 'admin') throw forbidden('This action needs an admin API key');
    await next();
  });
