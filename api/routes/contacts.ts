// Contacts: one person, with their identities on several channels. Replies never route by
// contact — always through a conversation's own channel identity.
import { createRoute, z } from '@hono/zod-openapi';
import { Types } from 'mongoose';
import { PLATFORMS } from '../../lib/domain/channel';
import { notFound } from '../../lib/errors';
import { ContactModel } from '../../models';
import { decodeCursor, encodeCursor, escapeRegex } from '../cursor';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

const security = [{ apiKey: [] }];

const ContactView = z.object({
  id: z.string(), name: z.string().nullable(),
  identities: z.array(z.object({ channelId: z.string(), platform: z.enum(PLATFORMS), externalId: z.string(), handle: z.string().nullable(), name: z.string().nullable() })),
  createdAt: z.string().nullable(),
}).openapi('Contact');

type ContactDoc = { _id: Types.ObjectId; name?: string | null; identities?: { channelId: Types.ObjectId; platform: (typeof PLATFORMS)[number]; externalId: string; handle?: string | null; name?: string | null }[]; createdAt?: Date };
const toView = (c: ContactDoc): z.infer<typeof ContactView> => ({
  id: String(c._id), name: c.name ?? null,
  identities: (c.identities ?? []).map((i) => ({ channelId: String(i.channelId), platform: i.platform, externalId: i.externalId, handle: i.handle ?? null, name: i.name ?? null })),
  createdAt: c.createdAt?.toISOString() ?? null,
});

const ListQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().openapi({ description: 'Name, handle or platform ID (case-insensitive)' }),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(200).optional(),
});
const isCursor = (v: unknown): v is { id: string } => !!v && typeof v === 'object' && typeof (v as { id: unknown }).id === 'string' && Types.ObjectId.isValid((v as { id: string }).id);

export function contactRoutes() {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/contacts', tags: ['inbox'], summary: 'Contacts, newest first', security,
      request: { query: ListQuery },
      responses: { 200: { description: 'A page', content: { 'application/json': { schema: z.object({ data: z.array(ContactView), nextCursor: z.string().nullable() }) } } }, ...errorResponses(400, 401) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const filter: Record<string, unknown> = { tenantId: new Types.ObjectId(c.get('caller').tenantId), mergedInto: null };
      if (q.q) {
        const re = { $regex: escapeRegex(q.q), $options: 'i' };
        filter.$or = [{ name: re }, { 'identities.handle': re }, { 'identities.externalId': re }, { 'identities.name': re }];
      }
      const cursor = decodeCursor(q.cursor, 'cursor', isCursor);
      if (cursor) filter._id = { $lt: new Types.ObjectId(cursor.id) };
      const docs = await ContactModel.find(filter).sort({ _id: -1 }).limit(q.limit + 1).lean<ContactDoc[]>();
      const page = docs.slice(0, q.limit);
      return c.json({ data: page.map(toView), nextCursor: docs.length > q.limit ? encodeCursor({ id: String(page[page.length - 1]!._id) }) : null }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/contacts/{id}', tags: ['inbox'], summary: 'One contact with its identities', security,
      request: { params: z.object({ id: ObjectIdParam }) },
      responses: { 200: { description: 'The contact', content: { 'application/json': { schema: z.object({ contact: ContactView }) } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const contact = await ContactModel.findById(c.req.valid('param').id).lean<ContactDoc & { tenantId: Types.ObjectId }>();
      if (!contact || String(contact.tenantId) !== c.get('caller').tenantId) throw notFound('Contact');
      return c.json({ contact: toView(contact) }, 200);
    },
  );
  return router;
}
