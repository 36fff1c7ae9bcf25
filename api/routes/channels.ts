// Channels: each one is a record in MongoDB plus one long-running workflow that owns its state.
// The API only writes the record and starts or signals the workflow; the workflow does the rest.
import { createRoute, z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Types } from 'mongoose';
import { AppError, notFound } from '../../lib/errors';
import { CHANNEL_STATUSES, PLATFORMS, channelWorkflowId } from '../../lib/domain/channel';
import { SA_CHANNEL, SA_CHANNEL_STATUS, SA_PLATFORM, SA_TENANT } from '../../lib/domain/search-attributes';
import { ChannelModel, type Channel } from '../../models';
import type { channelWorkflow } from '../../workflows/channel';
import { disconnectSignal } from '../../workflows/channel';
import { requireRole } from '../auth/middleware';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

const ChannelView = z.object({
  id: z.string(),
  platform: z.enum(PLATFORMS),
  name: z.string(),
  status: z.enum(CHANNEL_STATUSES),
  statusReason: z.string().nullable(),
  account: z.object({ id: z.string().nullable(), name: z.string().nullable(), handle: z.string().nullable() }),
  credentials: z.record(z.string(), z.string()).openapi({ description: 'Masked hints only (e.g. "…a1b2"); secrets are never returned' }),
  capabilities: z.array(z.string()),
  workflowId: z.string(),
  lastSyncedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  createdAt: z.string(),
}).openapi('Channel');

type ChannelDoc = Channel & { _id: Types.ObjectId; createdAt?: Date };
const iso = (d?: Date | null) => (d ? d.toISOString() : null);
const toView = (ch: ChannelDoc): z.infer<typeof ChannelView> => ({
  id: String(ch._id), platform: ch.platform, name: ch.name, status: ch.status, statusReason: ch.statusReason ?? null,
  account: { id: ch.account?.id ?? null, name: ch.account?.name ?? null, handle: ch.account?.handle ?? null },
  credentials: Object.fromEntries(ch.credentialHints instanceof Map ? ch.credentialHints : Object.entries(ch.credentialHints ?? {})),
  capabilities: ch.capabilities ?? [], workflowId: ch.workflowId,
  lastSyncedAt: iso(ch.lastSyncedAt), lastError: ch.lastError ?? null, lastErrorAt: iso(ch.lastErrorAt), createdAt: iso(ch.createdAt) ?? '',
});

const CreateChannel = z.object({
  platform: z.enum(PLATFORMS),
  name: z.string().trim().min(1).max(200).openapi({ example: 'Support inbox' }),
}).openapi('CreateChannel');

const ListQuery = z.object({
  platform: z.enum(PLATFORMS).optional(),
  status: z.enum(CHANNEL_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: ObjectIdParam.optional().openapi({ description: 'nextCursor from the previous page' }),
});

const security = [{ apiKey: [] }];

export function channelRoutes(deps: { temporal: Client; taskQueue: string }) {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/channels', tags: ['channels'], summary: 'Connect a channel', security,
      middleware: [requireRole('admin')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateChannel } } } },
      responses: {
        201: { description: 'Created; its workflow takes it from pending_auth on', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } },
        ...errorResponses(400, 401, 403, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const tenantId = c.get('caller').tenantId;
      const _id = new Types.ObjectId();
      const workflowId = channelWorkflowId(tenantId, body.platform, String(_id));
      const channel = await ChannelModel.create({ _id, tenantId, platform: body.platform, name: body.name, status: 'pending_auth', workflowId });
      try {
        await deps.temporal.workflow.start<typeof channelWorkflow>('channelWorkflow', {
          workflowId,
          taskQueue: deps.taskQueue,
          args: [{ tenantId, channelId: String(_id), platform: body.platform }],
          typedSearchAttributes: [
            { key: SA_TENANT, value: tenantId },
            { key: SA_PLATFORM, value: body.platform },
            { key: SA_CHANNEL, value: String(_id) },
            { key: SA_CHANNEL_STATUS, value: 'pending_auth' },
          ],
        });
      } catch (err) {
        // Nothing half-made: without its workflow a channel record means nothing.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          await ChannelModel.deleteOne({ _id });
          c.get('log').error({ err }, 'could not start channel workflow');
          throw new AppError(503, 'temporal_unavailable', 'Could not start the channel workflow; try again');
        }
      }
      return c.json({ channel: toView(channel.toObject() as ChannelDoc) }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/channels', tags: ['channels'], summary: 'List channels, newest first', security,
      request: { query: ListQuery },
      responses: {
        200: { description: 'A page of channels', content: { 'application/json': { schema: z.object({ data: z.array(ChannelView), nextCursor: z.string().nullable() }) } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const filter: Record<string, unknown> = { tenantId: c.get('caller').tenantId };
      if (q.platform) filter.platform = q.platform;
      if (q.status) filter.status = q.status;
      if (q.cursor) filter._id = { $lt: new Types.ObjectId(q.cursor) };
      const docs = await ChannelModel.find(filter).sort({ _id: -1 }).limit(q.limit + 1).lean<ChannelDoc[]>();
      const page = docs.slice(0, q.limit);
      return c.json({ data: page.map(toView), nextCursor: docs.length > q.limit ? String(page[page.length - 1]!._id) : null }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/channels/{id}', tags: ['channels'], summary: 'One channel', security,
      request: { params: z.object({ id: ObjectIdParam }) },
      responses: { 200: { description: 'The channel', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const ch = await ChannelModel.findOne({ _id: c.req.valid('param').id, tenantId: c.get('caller').tenantId }).lean<ChannelDoc>();
      if (!ch) throw notFound('Channel');
      return c.json({ channel: toView(ch) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete', path: '/v1/channels/{id}', tags: ['channels'], summary: 'Disconnect a channel', security,
      middleware: [requireRole('admin')] as const,
      request: { params: z.object({ id: ObjectIdParam }) },
      responses: {
        202: { description: 'Disconnect requested; the workflow stops everything', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } },
        ...errorResponses(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const ch = await ChannelModel.findOne({ _id: c.req.valid('param').id, tenantId: c.get('caller').tenantId }).lean<ChannelDoc>();
      if (!ch) throw notFound('Channel');
      if (ch.status !== 'disconnected') {
        try {
          await deps.temporal.workflow.getHandle(ch.workflowId).signal(disconnectSignal, { reason: 'disconnected by API' });
        } catch (err) {
          c.get('log').error({ err }, 'could not signal channel workflow');
          throw new AppError(503, 'temporal_unavailable', 'Could not reach the channel workflow; try again');
        }
      }
      return c.json({ channel: toView(ch) }, 202);
    },
  );

  return router;
}
