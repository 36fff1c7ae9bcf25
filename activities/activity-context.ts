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

/**
 * Runs `work` while heartbeating every `everyMs` with what `progress()` returns: for steps whose
 * single calls can outlast the heartbeat timeout (a platform read that hangs, then is retried).
 */
export async function withHeartbeats<T>(progress: () => unknown, work: () => Promise<T>, everyMs = 10_000): Promise<T> {
  const timer = setInterval(() => heartbeatIfActivity(progress()), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** How long `untilWritten` keeps trying at most; inside an activity, never past its start-to-close deadline. */
const WRITE_BUDGET_MS = 3 * 60_000;

/** Time left before the current activity attempt times out (Infinity outside an activity). */
export function activityTimeLeftMs(): number {
  try {
    const info = Context.current().info;
    return info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs - Date.now();
  } catch {
    return Infinity;
  }
}

/**
 * Repeats idempotent database writes until they land (heartbeating, with a growing pause), for
 * work that must not be redone from the top once a step before it happened: after a platform took
 * a message, failing the activity would send it again, so a database restart is waited out here.
 */
export async function untilWritten<T>(what: string, write: (attempt: number) => Promise<T>, opts: { budgetMs?: number; pauseMs?: number } = {}): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await write(attempt);
    } catch (err) {
      const pause = Math.min((opts.pauseMs ?? 250) * 2 ** (attempt - 1), 5_000);
      // Stop 10 s before the attempt's deadline: a timed-out attempt would be retried from the top.
      const budget = Math.min(opts.budgetMs ?? WRITE_BUDGET_MS, Date.now() - started + activityTimeLeftMs() - 10_000);
      if (Date.now() - started + pause > budget) throw err;
      try {
        Context.current().log.warn(`${what} failed; trying again`, { attempt, error: (err as Error).message });
      } catch {
        // not in an activity
      }
      heartbeatIfActivity({ waitingFor: what, attempt });
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
