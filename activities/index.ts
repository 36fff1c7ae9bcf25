// Every activity the worker registers. Workflows type their proxies from `Activities`.
import { createChannelLifecycleActivities, type LifecycleDeps } from './channel-lifecycle';
import { createChannelRecordActivities } from './channel-records';
import { drainChannelEvents } from './inbox-events';
import { createReconcileActivities, type ReconcileDeps } from './reconcile';

export type ActivityDeps = LifecycleDeps & ReconcileDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...createChannelRecordActivities(),
    ...createChannelLifecycleActivities(deps),
    drainChannelEvents,
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
