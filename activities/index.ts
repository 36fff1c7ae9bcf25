// Every activity the worker registers. Workflows type their proxies from `Activities`.
import { aggregateDailyStats } from './analytics';
import { createChannelLifecycleActivities, type LifecycleDeps } from './channel-lifecycle';
import { createChannelRecordActivities } from './channel-records';
import { drainChannelEvents } from './inbox-events';
import { createReconcileActivities, type ReconcileDeps } from './reconcile';
import { createSendActivities, type SendDeps } from './send';
import { createMarkReadActivities } from './mark-read';
import { createOutgoingWebhookActivities, type OutgoingWebhookDeps } from './outgoing-webhooks';

export type ActivityDeps = LifecycleDeps & ReconcileDeps & SendDeps & OutgoingWebhookDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...createChannelRecordActivities(),
    ...createChannelLifecycleActivities(deps),
    drainChannelEvents,
    ...createReconcileActivities(deps),
    ...createSendActivities(deps),
    ...createMarkReadActivities(deps),
    aggregateDailyStats,
    ...createOutgoingWebhookActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
