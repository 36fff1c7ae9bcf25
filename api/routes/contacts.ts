// Contacts: one person, with their identities on several channels. Replies never route by
// contact — always through a conversation's own channel identity.
import { createRoute, z } from '@hono/zod-openapi';
import { Types } from 'mongoose';
import { PLATFORMS } from '../../lib/domain/channel';
import { ContactModel } from '../../models';
import { decodeCursor, encodeCursor, escapeRegex } from '../cursor';
import { errorResponses, ErrorSchema, newRouter, ObjectIdParam } from '../router';
import { mergeContacts, resolveContact } from './contact-merge';

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
const MergeBody = z.object({
  contactId: ObjectIdParam.openapi({ description: 'The contact merged into this one (it then stops being listed; reading it answers with this one)' }),
}).openapi('MergeContact');

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
      description: 'A contact merged into another answers with that one (its `id` differs from the one asked for; `Content-Location` names it).',
      request: { params: z.object({ id: ObjectIdParam }) },
      responses: { 200: { description: 'The contact', content: { 'application/json': { schema: z.object({ contact: ContactView }) } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const contact = await resolveContact<ContactDoc & { tenantId: Types.ObjectId }>(new Types.ObjectId(c.get('caller').tenantId), new Types.ObjectId(id));
      if (String(contact._id) !== id.toLowerCase()) c.header('Content-Location', `/v1/contacts/${String(contact._id)}`);
      return c.json({ contact: toView(contact) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/contacts/{id}/merge', tags: ['inbox'], summary: 'Merge another contact into this one', security,
      description: 'The other contact\'s identities and conversations move to this one, and its name fills this one\'s where this one only has a handle or ID. '
        + 'It is then no longer listed, and `GET /v1/contacts/{its id}` answers with this contact. Replies keep going through each conversation\'s own channel '
        + 'and recipient. Repeating a merge (e.g. after a timeout) is harmless and completes it.',
      request: { params: z.object({ id: ObjectIdParam }), body: { content: { 'application/json': { schema: MergeBody } }, required: true } },
      responses: {
        200: {
          description: 'The merged contact',
          content: { 'application/json': { schema: z.object({ contact: ContactView, merged: z.object({ contactId: z.string(), identitiesMoved: z.number(), conversationsMoved: z.number() }) }) } },
        },
        ...errorResponses(400, 401, 404, 409),
        422: { description: 'A contact cannot be merged with itself', content: { 'application/json': { schema: ErrorSchema } } },
      },
    }),
    async (c) => {
      const tenantId = new Types.ObjectId(c.get('caller').tenantId);
      const intoId = new Types.ObjectId(c.req.valid('param').id);
      const fromId = new Types.ObjectId(c.req.valid('json').contactId);
      const result = await mergeContacts(tenantId, intoId, fromId);
      const contact = await resolveContact<ContactDoc & { tenantId: Types.ObjectId }>(tenantId, intoId);
      return c.json({ contact: toView(contact), merged: { contactId: String(fromId), ...result } }, 200);
    },
  );
  return router;
}
