// Every activity the worker registers. Workflows type their proxies from `Activities`.
import { createChannelLifecycleActivities, type LifecycleDeps } from './channel-lifecycle';
import { createChannelRecordActivities } from './channel-records';
import { drainChannelEvents } from './inbox-events';

export type ActivityDeps = LifecycleDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...createChannelRecordActivities(),
    ...createChannelLifecycleActivities(deps),
    drainChannelEvents,
  };
}

export type Activities = ReturnType<typeof createActivities>;
