// Who am I, and the tenant's API keys (admin). A key's secret is returned once, at creation.
import { createRoute, z } from '@hono/zod-openapi';
import { notFound } from '../../lib/errors';
import { API_KEY_ROLES, ApiKeyModel, TenantModel } from '../../models';
import { issueApiKey } from '../auth/keys';
import { requireRole } from '../auth/middleware';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

const ApiKeyView = z.object({
  id: z.string(), name: z.string(), role: z.enum(API_KEY_ROLES), prefix: z.string().openapi({ description: 'First characters of the key, to recognise it' }),
  createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable(),
}).openapi('ApiKey');

type ApiKeyDoc = { _id: unknown; name: string; role: (typeof API_KEY_ROLES)[number]; prefix: string; createdAt?: Date; lastUsedAt?: Date | null; revokedAt?: Date | null };
const toView = (k: ApiKeyDoc): z.infer<typeof ApiKeyView> => ({
  id: String(k._id), name: k.name, role: k.role, prefix: k.prefix,
  createdAt: (k.createdAt ?? new Date()).toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null, revokedAt: k.revokedAt?.toISOString() ?? null,
});

const CreateApiKey = z.object({
  name: z.string().trim().min(1).max(200).openapi({ example: 'support desk' }),
  role: z.enum(API_KEY_ROLES).openapi({ description: 'admin manages channels and keys; agent reads and replies' }),
}).openapi('CreateApiKey');

const security = [{ apiKey: [] }];

export function apiKeyRoutes() {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/me', tags: ['account'], summary: 'The tenant and key making this request', security,
      responses: {
        200: { description: 'Caller', content: { 'application/json': { schema: z.object({ tenant: z.object({ id: z.string(), name: z.string() }), key: ApiKeyView }) } } },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const [tenant, key] = await Promise.all([TenantModel.findById(caller.tenantId).lean(), ApiKeyModel.findById(caller.keyId).lean()]);
      if (!tenant || !key) throw notFound('Tenant');
      return c.json({ tenant: { id: String(tenant._id), name: tenant.name }, key: toView(key) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/api-keys', tags: ['account'], summary: "List the tenant's API keys", security,
      middleware: [requireRole('admin')] as const,
      responses: { 200: { description: 'Keys, newest first', content: { 'application/json': { schema: z.object({ data: z.array(ApiKeyView) }) } } }, ...errorResponses(401, 403) },
    }),
    async (c) => {
      const keys = await ApiKeyModel.find({ tenantId: c.get('caller').tenantId }).sort({ createdAt: -1 }).limit(500).lean();
      return c.json({ data: keys.map(toView) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/api-keys', tags: ['account'], summary: 'Create an API key (its secret is shown once)', security,
      middleware: [requireRole('admin')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateApiKey } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: z.object({ apiKey: ApiKeyView, secret: z.string() }) } } },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { apiKey, secret } = await issueApiKey({ tenantId: c.get('caller').tenantId, name: body.name, role: body.role });
      return c.json({ apiKey: toView(apiKey.toObject()), secret }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete', path: '/v1/api-keys/{id}', tags: ['account'], summary: 'Revoke an API key', security,
      middleware: [requireRole('admin')] as const,
      request: { params: z.object({ id: ObjectIdParam }) },
      responses: { 200: { description: 'Revoked', content: { 'application/json': { schema: z.object({ apiKey: ApiKeyView }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const key = await ApiKeyModel.findOneAndUpdate(
        { _id: id, tenantId: c.get('caller').tenantId },
        { $set: { revokedAt: new Date() } },
        { returnDocument: 'after' },
      ).lean();
      if (!key) throw notFound('API key');
      return c.json({ apiKey: toView(key) }, 200);
    },
  );

  return router;
}
