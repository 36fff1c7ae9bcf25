// The running activity's context, for code that also runs outside one (scripts, unit tests).
import { Context } from '@temporalio/activity';

/** True in a retried attempt of the current activity. */
export function isRetriedAttempt(): boolean {
  try {
    return Context.current().info.attempt > 1;
  } catch {
    return false;
  }
}

/** Heartbeats when running as an activity: a worker that dies mid-way is noticed in seconds. */
export function heartbeatIfActivity(progress?: unknown): void {
  try {
    Context.current().heartbeat(progress);
  } catch {
    // not in an activity: nothing to report to
  }
}
