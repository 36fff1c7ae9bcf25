// The reconciliation sweep, started by a Temporal Schedule (workers/schedules.ts): every connected
// channel runs an incremental sync against its platform, which fills any gap a lost webhook left,
// and channels whose queued webhook events were never drained are woken. The result (shown in the
// Web UI) counts what was done and what is parked.
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepChannels } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumAttempts: 3 },
});

export interface ReconcileInput {
  /** Queued webhook events older than this are re-signalled (default 60 s). */
  staleEventsAfterSeconds?: number;
}

export async function reconcileChannelsWorkflow(input: ReconcileInput = {}) {
  const report = await sweepChannels({ staleEventsAfterMs: (input.staleEventsAfterSeconds ?? 60) * 1000 });
  setCurrentDetails(`${report.syncsRequested} of ${report.channels} channels asked to sync; ${report.wokenForEvents} woken for queued events; parked: ${report.parked.held} held, ${report.parked.unmatched} unmatched, ${report.parked.deferred} deferred`);
  return report;
}
