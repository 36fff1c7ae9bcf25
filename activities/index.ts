// Every activity the worker registers. Workflows type their proxies from `Activities`.
import { createChannelRecordActivities } from './channel-records';

export function createActivities() {
  return {
    ...createChannelRecordActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
