// Turns a classified platform error into the Temporal failure the channel workflow acts on:
// reauth and permanent errors are not retried; rate limits carry their delay up to the workflow
// (which shows `rate_limited` and waits); transient errors use the activity's retry policy.
import { ApplicationFailure } from '@temporalio/activity';
import { PlatformError } from './platforms/types';

export const FAILURE = {
  reauth: 'Reauth',
  rateLimited: 'RateLimited',
  permanent: 'PermanentPlatformError',
  retryable: 'PlatformUnavailable',
} as const;

export function toActivityFailure(err: unknown): Error {
  if (!(err instanceof PlatformError)) return err instanceof Error ? err : new Error(String(err));
  const c = err.classification;
  switch (c.kind) {
    case 'reauth':
      return ApplicationFailure.create({ type: FAILURE.reauth, message: err.message, nonRetryable: true, details: [{ code: c.code ?? null }] });
    case 'rate_limited':
      return ApplicationFailure.create({ type: FAILURE.rateLimited, message: err.message, nonRetryable: true, details: [{ retryAfterMs: c.retryAfterMs }] });
    case 'permanent':
      return ApplicationFailure.create({ type: FAILURE.permanent, message: err.message, nonRetryable: true, details: [{ code: c.code ?? null }] });
    case 'retryable':
      return ApplicationFailure.create({ type: FAILURE.retryable, message: err.message });
  }
}
