// The real-time stream: `GET /v1/events` (Server-Sent Events) follows the caller's tenant event log
// (lib/event-log.ts) — new messages, message statuses, channel statuses — as they are stored. The
// SSE `id` is the event's sequence number: a client that reconnects with `Last-Event-ID` (browsers
// do it on their own) resumes right after the last event it saw, missing nothing.
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { EventFollower, findEvent, latestSeq, type TenantEventRecord } from '../../lib/event-log';
import { TENANT_EVENT_TYPES } from '../../models';
import { notFound } from '../../lib/errors';
import { errorResponses, newRouter } from '../router';

export interface EventStreamOptions {
  /** How often an idle stream looks for new events. */
  pollMs?: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  keepAliveMs?: number;
}

const EventView = z.object({
  id: z.string().openapi({ description: 'Sequence number in the tenant log (the SSE id)' }),
  type: z.enum(TENANT_EVENT_TYPES),
  key: z.string().openapi({ description: 'What it is about; the same key twice is the same event (after a crash it may be sent again)' }),
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
}).openapi('Event');

const Position = z.string().regex(/^\d{1,12}$/, 'must be an event id (a sequence number)');

const StreamQuery = z.object({
  after: Position.optional().openapi({ description: 'Start after this event id (as Last-Event-ID); default: only new events' }),
  types: z.string().optional().openapi({ description: 'Comma-separated event types to receive (default all)' })
    .refine((v) => !v || v.split(',').every((t) => (TENANT_EVENT_TYPES as readonly string[]).includes(t)), { message: `types must be among ${TENANT_EVENT_TYPES.join(', ')}` }),
});

export const toEventView = (e: TenantEventRecord) => ({ id: String(e.seq), type: e.type, key: e.key, at: e.at.toISOString(), data: e.data });

export function eventRoutes(opts: EventStreamOptions = {}) {
  const router = newRouter();
  const pollMs = opts.pollMs ?? 250;
  const keepAliveMs = opts.keepAliveMs ?? 15_000;

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/events', tags: ['events'], summary: 'Stream inbox events (Server-Sent Events, resumable with Last-Event-ID)', security: [{ apiKey: [] }],
      request: { query: StreamQuery, headers: z.object({ 'last-event-id': Position.optional() }) },
      responses: {
        200: { description: 'text/event-stream: `id` = sequence number, `event` = type, `data` = the Event as JSON', content: { 'text/event-stream': { schema: EventView } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const query = c.req.valid('query');
      const resumeFrom = c.req.valid('header')['last-event-id'] ?? query.after;
      const types = query.types ? new Set(query.types.split(',')) : null;
      const follower = new EventFollower(tenantId, resumeFrom !== undefined ? Number(resumeFrom) : await latestSeq(tenantId));
      const log = c.get('log');
      return streamSSE(c, async (stream) => {
        let open = true;
        stream.onAbort(() => { open = false; });
        let quietSince = Date.now();
        // The stream's start, so a client knows where it stands even before the first event.
        await stream.writeSSE({ event: 'ready', data: JSON.stringify({ after: String(follower.position) }) });
        while (open) {
          const events = await follower.read().catch((err) => { log.warn({ err }, 'event stream read failed'); return []; });
          for (const e of events) {
            if (types && !types.has(e.type)) continue;
            await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(toEventView(e)) });
          }
          if (events.length > 0) { quietSince = Date.now(); continue; }
          if (Date.now() - quietSince >= keepAliveMs) { await stream.write(': keep-alive\n\n'); quietSince = Date.now(); }
          await stream.sleep(pollMs);
        }
      }, async (err, stream) => {
        log.warn({ err }, 'event stream failed');
        await stream.writeSSE({ event: 'error', data: JSON.stringify({ error: { code: 'stream_failed', message: 'the event stream stopped; reconnect with Last-Event-ID' } }) });
      });
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/events/{id}', tags: ['events'], summary: 'One event of the tenant log', security: [{ apiKey: [] }],
      request: { params: z.object({ id: Position }) },
      responses: { 200: { description: 'The event', content: { 'application/json': { schema: z.object({ event: EventView }) } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const event = await findEvent(c.get('caller').tenantId, Number(c.req.valid('param').id));
      if (!event) throw notFound('Event');
      return c.json({ event: toEventView(event) }, 200);
    },
  );
  return router;
}
