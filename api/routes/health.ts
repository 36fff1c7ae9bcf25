// Liveness and readiness. /readyz names each dependency that is not reachable, so an operator
// (or a load balancer) knows what to look at.
import { createRoute, z } from '@hono/zod-openapi';
import { newRouter } from '../router';

export interface ReadinessChecks { mongodb: () => Promise<boolean>; temporal: () => Promise<boolean> }

const Ready = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ mongodb: z.enum(['ok', 'unreachable']), temporal: z.enum(['ok', 'unreachable']) }),
}).openapi('Readiness');

export function healthRoutes(checks: ReadinessChecks) {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'get', path: '/healthz', tags: ['operations'], summary: 'The API process is up',
      responses: { 200: { description: 'Up', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/readyz', tags: ['operations'], summary: 'MongoDB and Temporal are reachable',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: Ready } } },
        503: { description: 'A dependency is unreachable', content: { 'application/json': { schema: Ready } } },
      },
    }),
    async (c) => {
      const [mongodb, temporal] = await Promise.all([checks.mongodb(), checks.temporal()]);
      const body = {
        status: mongodb && temporal ? ('ready' as const) : ('not_ready' as const),
        checks: { mongodb: mongodb ? ('ok' as const) : ('unreachable' as const), temporal: temporal ? ('ok' as const) : ('unreachable' as const) },
      };
      return body.status === 'ready' ? c.json(body, 200) : c.json(body, 503);
    },
  );

  return router;
}
