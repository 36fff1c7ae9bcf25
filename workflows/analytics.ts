// Daily analytics, started by a Temporal Schedule (workers/schedules.ts) or by hand for one day.
// Without a day it recomputes yesterday and today so far (UTC, by workflow time): yesterday is
// final once its late webhooks and replies are in, and today's numbers are as fresh as the last
// run. Each day is one activity that replaces that day's stats, so any run may be repeated.
import { ApplicationFailure, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { addDays, dayOf, isDay } from '../lib/domain/analytics';

const { aggregateDailyStats } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 5 },
});

export interface DailyAnalyticsInput {
  /** One UTC day, 'YYYY-MM-DD' (e.g. to recompute an old one); default: yesterday and today. */
  day?: string;
}

export async function dailyAnalyticsWorkflow(input: DailyAnalyticsInput = {}) {
  if (input.day !== undefined && !isDay(input.day)) throw ApplicationFailure.nonRetryable(`day must be a YYYY-MM-DD day, got "${input.day}"`, 'InvalidInput');
  const today = dayOf(Date.now());
  const days = input.day ? [input.day] : [addDays(today, -1), today];
  const reports = [];
  for (const day of days) reports.push(await aggregateDailyStats({ day }));
  setCurrentDetails(reports.map((r) => `${r.day}: ${r.messages} messages, ${r.written} stats written, ${r.removed} removed`).join('\n'));
  return { days: reports };
}
