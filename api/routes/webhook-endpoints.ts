// Outgoing webhooks for integrators (admin): register URLs that receive the tenant's events signed
// with a secret of their own (shown once), see every delivery and its attempts, and ask for one to
// be sent again. Delivery itself is the endpoint's workflow (workflows/outgoing-webhooks.ts).
import { createRoute, z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Document } from 'mongodb';
import { Types } from 'mongoose';
import { seal, type EncryptionKey } from '../../lib/crypto';
import { AppError, notFound } from '../../lib/errors';
import { latestSeq } from '../../lib/event-log';
import type { NetworkPolicy } from '../../lib/network-policy';
import { newWebhookSecret } from '../../lib/outgoing-signature';
import { OUTGOING_DELIVERY_STATES, OutgoingDeliveryModel, TENANT_EVENT_TYPES, WebhookEndpointModel } from '../../models';
import { outgoingDeliveryId } from '../../activities/outgoing-webhooks';
import type { outgoingWebhookWorkflow } from '../../workflows/outgoing-webhooks';
import { requireRole } from '../auth/middleware';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

export interface WebhookEndpointRouteDeps {
  temporal: Client; taskQueue: string; keys: EncryptionKey[];
  /** Where tenant-chosen URLs may point (PlatformConfig.tenantNetwork). */
  tenantNetwork: NetworkPolicy;
}

const Url = z.string().max(2000).url('must be an absolute URL')
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http or https URL' });

const EndpointView = z.object({
  id: z.string(), url: z.string(), description: z.string().nullable(),
  events: z.array(z.enum(TENANT_EVENT_TYPES)).openapi({ description: 'Event types it receives (empty: all)' }),
  active: z.boolean(), secretHint: z.string().openapi({ description: 'The last characters of the signing secret' }),
  workflowId: z.string(), createdAt: z.string(),
}).openapi('WebhookEndpoint');

const DeliveryView = z.object({
  id: z.string().openapi({ description: 'The event id (sequence number) it delivers' }), eventType: z.string(),
  state: z.enum(OUTGOING_DELIVERY_STATES), attempts: z.number(), nextAttemptAt: z.string().nullable(), deliveredAt: z.string().nullable(),
  log: z.array(z.object({ at: z.string(), status: z.number().nullable(), error: z.string().nullable(), ms: z.number() })),
  createdAt: z.string(),
}).openapi('WebhookDelivery');

const CreateEndpoint = z.object({
  url: Url,
  events: z.array(z.enum(TENANT_EVENT_TYPES)).max(TENANT_EVENT_TYPES.length).optional(),
  description: z.string().trim().max(500).optional(),
}).strict().openapi('CreateWebhookEndpoint');

const UpdateEndpoint = z.object({
  url: Url.optional(),
  events: z.array(z.enum(TENANT_EVENT_TYPES)).max(TENANT_EVENT_TYPES.length).optional(),
  description: z.string().trim().max(500).nullable().optional(),
  active: z.boolean().optional(),
}).strict().refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to change' }).openapi('UpdateWebhookEndpoint');

const IdParams = z.object({ id: ObjectIdParam });
const DeliveryParams = z.object({ id: ObjectIdParam, eventId: z.string().regex(/^\d{1,12}$/, 'must be an event id') });
const DeliveryQuery = z.object({
  state: z.enum(OUTGOING_DELIVERY_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().regex(/^\d{1,12}$/, 'must be an event id').optional().openapi({ description: 'Page on: deliveries of events before this id (nextBefore of the previous page)' }),
});

const security = [{ apiKey: [] }];
const iso = (d?: Date | null) => (d ? new Date(d).toISOString() : null);

type EndpointDoc = { _id: Types.ObjectId; url: string; description?: string | null; events?: string[]; active?: boolean; secretHint: string; workflowId: string; createdAt?: Date };
const toEndpointView = (e: EndpointDoc): z.infer<typeof EndpointView> => ({
  id: String(e._id), url: e.url, description: e.description ?? null, events: (e.events ?? []) as z.infer<typeof EndpointView>['events'],
  active: e.active ?? true, secretHint: e.secretHint, workflowId: e.workflowId, createdAt: iso(e.createdAt) ?? '',
});
const toDeliveryView = (d: Document): z.infer<typeof DeliveryView> => ({
  id: String(d.eventSeq), eventType: d.eventType, state: d.state, attempts: d.attempts ?? 0,
  nextAttemptAt: iso(d.nextAttemptAt), deliveredAt: iso(d.deliveredAt),
  log: (d.log ?? []).map((l: { at: Date; status?: number; error?: string; ms: number }) => ({ at: iso(l.at)!, status: l.status ?? null, error: l.error ?? null, ms: l.ms })),
  createdAt: iso(d.createdAt) ?? '',
});
const hintOf = (secret: string) => `…${secret.slice(-4)}`;

export function webhookEndpointRoutes(deps: WebhookEndpointRouteDeps) {
  const router = newRouter();
  /** Refuses URLs on private networks before anything is stored (deliveries check again). */
  const assertReachable = async (url: string) => {
    const refused = await deps.tenantNetwork.check(url);
    if (refused) throw new AppError(400, 'url_not_allowed', `url: ${refused}; endpoints must be on the public internet (an operator can allow private hosts with PRIVATE_NETWORK_ALLOWLIST)`);
  };

  async function findEndpoint(tenantId: string, id: string) {
    const e = await WebhookEndpointModel.findOne({ _id: id, tenantId, deletedAt: { $exists: false } }).lean<EndpointDoc>();
    if (!e) throw notFound('Webhook endpoint');
    return e;
  }
  const startDelivery = (e: EndpointDoc) => deps.temporal.workflow.start<typeof outgoingWebhookWorkflow>('outgoingWebhookWorkflow', {
    taskQueue: deps.taskQueue, workflowId: e.workflowId, args: [{ endpointId: String(e._id) }],
  }).catch((err) => { if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; });

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/webhook-endpoints', tags: ['webhooks'], summary: 'Register a URL for the tenant\'s events (its signing secret is shown once)', security, middleware: [requireRole('admin')] as const,
      request: { body: { content: { 'application/json': { schema: CreateEndpoint } }, required: true } },
      responses: { 201: { description: 'Registered; events from now on are delivered', content: { 'application/json': { schema: z.object({ endpoint: EndpointView, secret: z.string() }) } } }, ...errorResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const body = c.req.valid('json');
      await assertReachable(body.url);
      const secret = newWebhookSecret();
      const _id = new Types.ObjectId();
      // It receives what happens from now on: the log's current end is its starting position.
      const created = await WebhookEndpointModel.create({
        _id, tenantId, url: body.url, ...(body.description ? { description: body.description } : {}), events: body.events ?? [],
        secret: seal(secret, deps.keys), secretHint: hintOf(secret), position: await latestSeq(tenantId), workflowId: `webhook-endpoint:${tenantId}:${String(_id)}`,
      });
      const view = created.toObject() as unknown as EndpointDoc;
      try {
        await startDelivery(view);
      } catch (err) {
        await WebhookEndpointModel.deleteOne({ _id });
        c.get('log').error({ err }, 'could not start the webhook delivery workflow');
        throw new AppError(503, 'temporal_unavailable', 'Could not start delivering to this endpoint; try again');
      }
      return c.json({ endpoint: toEndpointView(view), secret }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/webhook-endpoints', tags: ['webhooks'], summary: 'The tenant\'s webhook endpoints', security, middleware: [requireRole('admin')] as const,
      responses: { 200: { description: 'Endpoints, newest first', content: { 'application/json': { schema: z.object({ data: z.array(EndpointView) }) } } }, ...errorResponses(401, 403) },
    }),
    async (c) => {
      const list = await WebhookEndpointModel.find({ tenantId: c.get('caller').tenantId, deletedAt: { $exists: false } }).sort({ createdAt: -1 }).limit(100).lean<EndpointDoc[]>();
      return c.json({ data: list.map(toEndpointView) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/webhook-endpoints/{id}', tags: ['webhooks'], summary: 'One webhook endpoint', security, middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 200: { description: 'The endpoint', content: { 'application/json': { schema: z.object({ endpoint: EndpointView }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => c.json({ endpoint: toEndpointView(await findEndpoint(c.get('caller').tenantId, c.req.valid('param').id)) }, 200),
  );

  router.openapi(
    createRoute({
      method: 'patch', path: '/v1/webhook-endpoints/{id}', tags: ['webhooks'], summary: 'Change the URL, event types or description; pause (active: false) or resume', security, middleware: [requireRole('admin')] as const,
      request: { params: IdParams, body: { content: { 'application/json': { schema: UpdateEndpoint } }, required: true } },
      responses: { 200: { description: 'The endpoint', content: { 'application/json': { schema: z.object({ endpoint: EndpointView }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const e = await findEndpoint(tenantId, c.req.valid('param').id);
      const body = c.req.valid('json');
      if (body.url) await assertReachable(body.url);
      await WebhookEndpointModel.updateOne({ _id: e._id }, {
        $set: { ...(body.url ? { url: body.url } : {}), ...(body.events ? { events: body.events } : {}), ...(body.active !== undefined ? { active: body.active } : {}), ...(body.description ? { description: body.description } : {}) },
        ...(body.description === null ? { $unset: { description: 1 } } : {}),
      });
      return c.json({ endpoint: toEndpointView(await findEndpoint(tenantId, String(e._id))) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete', path: '/v1/webhook-endpoints/{id}', tags: ['webhooks'], summary: 'Stop delivering to this endpoint and remove it', security, middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 204: { description: 'Removed' }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const e = await findEndpoint(c.get('caller').tenantId, c.req.valid('param').id);
      // Its workflow sees this within a poll and ends; the delivery log stays readable by ID.
      await WebhookEndpointModel.updateOne({ _id: e._id }, { $set: { deletedAt: new Date(), active: false } });
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/webhook-endpoints/{id}/rotate-secret', tags: ['webhooks'], summary: 'Replace the signing secret (the new one is shown once)', security, middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 200: { description: 'The new secret; deliveries from now on are signed with it', content: { 'application/json': { schema: z.object({ endpoint: EndpointView, secret: z.string() }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const e = await findEndpoint(tenantId, c.req.valid('param').id);
      const secret = newWebhookSecret();
      await WebhookEndpointModel.updateOne({ _id: e._id }, { $set: { secret: seal(secret, deps.keys), secretHint: hintOf(secret) } });
      return c.json({ endpoint: toEndpointView(await findEndpoint(tenantId, String(e._id))), secret }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/webhook-endpoints/{id}/deliveries', tags: ['webhooks'], summary: 'The delivery log: every event sent to this endpoint and its attempts, newest first', security, middleware: [requireRole('admin')] as const,
      request: { params: IdParams, query: DeliveryQuery },
      responses: { 200: { description: 'Deliveries', content: { 'application/json': { schema: z.object({ data: z.array(DeliveryView), nextBefore: z.string().nullable() }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const e = await findEndpoint(c.get('caller').tenantId, c.req.valid('param').id);
      const { state, limit, before } = c.req.valid('query');
      const id = String(e._id);
      const docs = await OutgoingDeliveryModel.collection.find({
        _id: { $gte: `${id}:`, $lt: before ? outgoingDeliveryId(id, Number(before)) : `${id};` }, ...(state ? { state } : {}),
      } as Document).sort({ _id: -1 }).limit(limit).toArray();
      return c.json({ data: docs.map(toDeliveryView), nextBefore: docs.length === limit ? String(docs.at(-1)!.eventSeq) : null }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/webhook-endpoints/{id}/deliveries/{eventId}', tags: ['webhooks'], summary: 'One delivery and its attempts', security, middleware: [requireRole('admin')] as const,
      request: { params: DeliveryParams },
      responses: { 200: { description: 'The delivery', content: { 'application/json': { schema: z.object({ delivery: DeliveryView }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id, eventId } = c.req.valid('param');
      await findEndpoint(c.get('caller').tenantId, id);
      const d = await OutgoingDeliveryModel.collection.findOne({ _id: outgoingDeliveryId(id, Number(eventId)) } as Document);
      if (!d) throw notFound('Delivery');
      return c.json({ delivery: toDeliveryView(d) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/webhook-endpoints/{id}/deliveries/{eventId}/redeliver', tags: ['webhooks'], summary: 'Send this event to the endpoint again, now', security, middleware: [requireRole('admin')] as const,
      request: { params: DeliveryParams },
      responses: { 202: { description: 'Queued: the endpoint\'s workflow posts it within a second', content: { 'application/json': { schema: z.object({ delivery: DeliveryView }) } } }, ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, eventId } = c.req.valid('param');
      const e = await findEndpoint(c.get('caller').tenantId, id);
      if (e.active === false) throw new AppError(409, 'endpoint_paused', 'The endpoint is paused: resume it (PATCH active: true) to redeliver');
      const _id = outgoingDeliveryId(id, Number(eventId));
      const updated = await OutgoingDeliveryModel.collection.findOneAndUpdate({ _id } as Document, { $set: { state: 'pending', nextAttemptAt: new Date() } }, { returnDocument: 'after' });
      if (!updated) throw notFound('Delivery');
      await startDelivery(e); // in case its workflow was ended by an operator
      return c.json({ delivery: toDeliveryView(updated) }, 202);
    },
  );
  return router;
}
