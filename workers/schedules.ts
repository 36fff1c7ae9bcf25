// Temporal Schedules the worker owns, created or updated at start-up (idempotent): operators see
// and pause them in the Web UI under Schedules.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { reconcileChannelsWorkflow } from '../workflows/reconcile';

export const reconcileScheduleId = (taskQueue: string) => `reconcile-channels:${taskQueue}`;

export async function ensureSchedules(client: Client, opts: { taskQueue: string; reconcileEveryMinutes: number; log?: Logger }): Promise<void> {
  const scheduleId = reconcileScheduleId(opts.taskQueue);
  const spec = { intervals: [{ every: `${opts.reconcileEveryMinutes}m` as const }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'reconcileChannelsWorkflow',
    workflowId: `reconcile-channels:${opts.taskQueue}`,
    taskQueue: opts.taskQueue,
    args: [{}] as Parameters<typeof reconcileChannelsWorkflow>,
  };
  try {
    await client.schedule.create({
      scheduleId, spec, action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { purpose: 'incremental sync of every connected channel; fills gaps left by lost webhooks' },
    });
    opts.log?.info({ scheduleId, everyMinutes: opts.reconcileEveryMinutes }, 'reconciliation schedule created');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
    opts.log?.debug({ scheduleId }, 'reconciliation schedule updated');
  }
}
