// Temporal Schedules the worker owns, created or updated at start-up (idempotent): operators see
// and pause them in the Web UI under Schedules.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Logger } from 'pino';
import type { dailyAnalyticsWorkflow } from '../workflows/analytics';
import type { reconcileChannelsWorkflow } from '../workflows/reconcile';

export const reconcileScheduleId = (taskQueue: string) => `reconcile-channels:${taskQueue}`;
export const analyticsScheduleId = (taskQueue: string) => `daily-analytics:${taskQueue}`;

/**
 * Daily analytics run every hour at :10 UTC: each run recomputes yesterday and today so far, so
 * the analytics endpoint lags by at most an hour and yesterday's numbers take in late webhooks
 * and replies until the day after.
 */
export const DEFAULT_ANALYTICS_CRON = '10 * * * *';

export async function ensureSchedules(client: Client, opts: { taskQueue: string; reconcileEveryMinutes: number; analyticsCron?: string; log?: Logger }): Promise<void> {
  await ensureSchedule(client, {
    scheduleId: reconcileScheduleId(opts.taskQueue),
    spec: { intervals: [{ every: `${opts.reconcileEveryMinutes}m` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconcileChannelsWorkflow',
      workflowId: `reconcile-channels:${opts.taskQueue}`,
      taskQueue: opts.taskQueue,
      args: [{}] as Parameters<typeof reconcileChannelsWorkflow>,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    memo: { purpose: 'incremental sync of every connected channel; fills gaps left by lost webhooks' },
  }, { everyMinutes: opts.reconcileEveryMinutes }, opts.log);

  const analyticsCron = opts.analyticsCron ?? DEFAULT_ANALYTICS_CRON;
  await ensureSchedule(client, {
    scheduleId: analyticsScheduleId(opts.taskQueue),
    spec: { cronExpressions: [analyticsCron] }, // UTC
    action: {
      type: 'startWorkflow',
      workflowType: 'dailyAnalyticsWorkflow',
      workflowId: `daily-analytics:${opts.taskQueue}`,
      taskQueue: opts.taskQueue,
      args: [{}] as Parameters<typeof dailyAnalyticsWorkflow>,
    },
    // A missed run is made up by the next one (it recomputes the same days).
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    memo: { purpose: 'messages in/out, conversations opened and median first response per tenant, platform and day (GET /v1/analytics/daily)' },
  }, { cron: analyticsCron }, opts.log);
}

/** Creates the schedule, or brings an existing one's spec and action up to date. */
async function ensureSchedule(client: Client, options: ScheduleOptions, logged: Record<string, unknown>, log?: Logger): Promise<void> {
  const { scheduleId, spec, action } = options;
  try {
    await client.schedule.create(options);
    log?.info({ scheduleId, ...logged }, 'schedule created');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
    log?.debug({ scheduleId }, 'schedule updated');
  }
}
