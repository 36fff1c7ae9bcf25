// Webhook events waiting or parked for the caller's tenant: what a platform delivered that is not
// in the inbox yet — queued for a drain, waiting for its message (a status that overtook it), or
// held because its channel is disconnected. (Events for accounts no channel speaks for belong to
// no tenant: operators see them in the logs and the reconciliation report.)
import { createRoute, z } from '@hono/zod-openapi';
import { Types } from 'mongoose';
import { WebhookEventModel } from '../../models';
import { requireRole } from '../auth/middleware';
import { errorResponses, newRouter } from '../router';

const STATES = ['pending', 'deferred', 'held'] as const;

const EventView = z.object({
  id: z.string(), source: z.string(), kind: z.string(), state: z.enum(STATES), channelId: z.string().nullable(),
  accountId: z.string(), receivedAt: z.string(), waitingFor: z.string().nullable().openapi({ description: 'deferred: the message it waits for' }),
  events: z.number().int().openapi({ description: 'Events in this entry: 1, or a queued delivery\'s batch (kind "batch")' }),
}).openapi('WebhookEvent');

const Query = z.object({
  state: z.enum(STATES).optional().openapi({ description: 'Only events in this state' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** Events, not documents: a queued batch (one delivery's many events, pending only) counts as its events. */
async function countEvents(tenantId: Types.ObjectId, state: (typeof STATES)[number]): Promise<number> {
  const single = await WebhookEventModel.countDocuments({ tenantId, state, count: { $exists: false } });
  if (state !== 'pending') return single;
  const [batched] = await WebhookEventModel.aggregate<{ n: number }>([{ $match: { tenantId, state, count: { $exists: true } } }, { $group: { _id: null, n: { $sum: '$count' } } }]);
  return single + (batched?.n ?? 0);
}

export function webhookEventRoutes() {
  const router = newRouter();
  router.openapi(
    createRoute({
      method: 'get', path: '/v1/webhook-events', tags: ['webhooks'], summary: 'Webhook events not (yet) in the inbox', security: [{ apiKey: [] }],
      middleware: [requireRole('admin')] as const,
      request: { query: Query },
      responses: {
        200: { description: 'Counts per state and the oldest events', content: { 'application/json': { schema: z.object({ counts: z.record(z.string(), z.number()), data: z.array(EventView) }) } } },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { state, limit } = c.req.valid('query');
      const tenantId = new Types.ObjectId(c.get('caller').tenantId);
      const counts = Object.fromEntries(await Promise.all(STATES.map(async (s) => [s, await countEvents(tenantId, s)] as const)));
      const docs = await WebhookEventModel.find({ tenantId, state: state ?? { $in: STATES } }, { event: 0, events: 0 }).sort({ receivedAt: 1 }).limit(limit).lean();
      return c.json({
        counts,
        data: docs.map((d) => ({
          id: d._id, source: d.source, kind: d.kind, state: d.state as (typeof STATES)[number], channelId: d.channelId ? String(d.channelId) : null,
          accountId: d.accountId, receivedAt: d.receivedAt.toISOString(), waitingFor: d.messageId ?? null, events: d.count ?? 1,
        })),
      }, 200);
    },
  );
  return router;
}
