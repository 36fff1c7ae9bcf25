// Every activity the worker registers. Workflows type their proxies from `Activities`.
import { createChannelLifecycleActivities, type LifecycleDeps } from './channel-lifecycle';
import { createChannelRecordActivities } from './channel-records';

export type ActivityDeps = LifecycleDeps;

export function createActivities(deps: ActivityDeps) {
  return {
    ...createChannelRecordActivities(),
    ...createChannelLifecycleActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
