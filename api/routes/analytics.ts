// Daily analytics for the caller's tenant: what the daily analytics schedule (workflows/analytics.ts)
// computed per UTC day and platform, with the day's totals. Every day of the range is answered,
// a day without activity (or not computed yet) with no platform rows and zero totals.
import { createRoute, z } from '@hono/zod-openapi';
import type { Document } from 'mongodb';
import { ALL_PLATFORMS, addDays, dailyStatRange, daysBetween, isDay } from '../../lib/domain/analytics';
import { PLATFORMS } from '../../lib/domain/channel';
import { DailyStatModel } from '../../models';
import { errorResponses, newRouter } from '../router';

const MAX_DAYS = 366;

const Day = z.string().refine(isDay, 'must be a day written YYYY-MM-DD').openapi({ format: 'date', example: '2026-03-14' });
const Query = z.object({
  from: Day.openapi({ description: 'First UTC day' }),
  to: Day.openapi({ description: `Last UTC day, inclusive (a range spans at most ${MAX_DAYS} days)` }),
  platform: z.enum(PLATFORMS).optional().openapi({ description: 'Only this platform (the totals are then its numbers)' }),
}).superRefine((q, ctx) => {
  if (!isDay(q.from) || !isDay(q.to)) return;
  const span = daysBetween(q.from, q.to);
  if (span < 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
  else if (span + 1 > MAX_DAYS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the range is ${span + 1} days; at most ${MAX_DAYS}` });
});

const Numbers = {
  messagesIn: z.number().openapi({ description: 'Messages from customers' }),
  messagesOut: z.number().openapi({ description: 'Messages sent to customers (sent, delivered or read; not pending or failed)' }),
  conversationsOpened: z.number().openapi({ description: 'Conversations whose first message is on this day' }),
  firstResponses: z.number().openapi({ description: 'Of those opened by the customer, how many got a reply (the median\'s sample)' }),
  medianFirstResponseMs: z.number().nullable().openapi({ description: 'Median time from the customer\'s first message to the first reply, ms; null when none was answered' }),
};
const Totals = z.object(Numbers).openapi('DailyTotals');
const PlatformRow = z.object({ platform: z.enum(PLATFORMS), ...Numbers }).openapi('DailyPlatformStats');
const DayView = z.object({
  day: z.string(),
  totals: Totals,
  platforms: z.array(PlatformRow).openapi({ description: 'Platforms with activity that day, by name' }),
  computedAt: z.string().nullable().openapi({ description: 'When these numbers were computed; null when there were none to compute' }),
}).openapi('DailyAnalytics');

type StatDoc = { _id: string; platform: string; day: string; messagesIn?: number; messagesOut?: number; conversationsOpened?: number; firstResponses?: number; medianFirstResponseMs?: number | null; updatedAt?: Date };
const numbers = (d?: StatDoc): z.infer<typeof Totals> => ({
  messagesIn: d?.messagesIn ?? 0, messagesOut: d?.messagesOut ?? 0, conversationsOpened: d?.conversationsOpened ?? 0,
  firstResponses: d?.firstResponses ?? 0, medianFirstResponseMs: d?.medianFirstResponseMs ?? null,
});

export function analyticsRoutes() {
  const router = newRouter();
  router.openapi(
    createRoute({
      method: 'get', path: '/v1/analytics/daily', tags: ['analytics'], summary: 'Messages, conversations opened and first response per UTC day and platform', security: [{ apiKey: [] }],
      request: { query: Query },
      responses: {
        200: { description: 'Every day from `from` to `to`, oldest first', content: { 'application/json': { schema: z.object({ from: z.string(), to: z.string(), platform: z.enum(PLATFORMS).nullable(), days: z.array(DayView) }) } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const { from, to, platform } = c.req.valid('query');
      const tenantId = c.get('caller').tenantId;
      // One _id range over the tenant's days (the keys put the tenant first, then the day).
      const docs = await DailyStatModel.collection.find(
        { _id: dailyStatRange(tenantId, from, to), ...(platform ? { platform } : {}) } as Document,
        { projection: { tenantId: 0, createdAt: 0 } },
      ).toArray() as unknown as StatDoc[];
      const byDay = new Map<string, StatDoc[]>();
      for (const d of docs) byDay.set(d.day, [...(byDay.get(d.day) ?? []), d]);

      const days = Array.from({ length: daysBetween(from, to) + 1 }, (_, i) => {
        const day = addDays(from, i);
        const found = byDay.get(day) ?? [];
        const rows = found.filter((d) => d.platform !== ALL_PLATFORMS).sort((a, b) => a.platform.localeCompare(b.platform));
        const totals = platform ? rows[0] : found.find((d) => d.platform === ALL_PLATFORMS);
        const computed = found.map((d) => d.updatedAt?.getTime() ?? 0).filter(Boolean);
        return {
          day, totals: numbers(totals),
          platforms: rows.map((d) => ({ platform: d.platform as (typeof PLATFORMS)[number], ...numbers(d) })),
          computedAt: computed.length ? new Date(Math.max(...computed)).toISOString() : null,
        };
      });
      return c.json({ from, to, platform: platform ?? null, days }, 200);
    },
  );
  return router;
}
