// The send workflow: one per outbound message, its ID derived from the client's idempotency key,
// so a repeated request finds the same run. It checks what the channel can do and the platform's
// reply window, calls the platform with a retry policy (transient errors and rate limits retried
// with backoff, honouring Retry-After; permanent and auth errors not retried), and records the
// outcome. Inputs are IDs only; credentials stay sealed in MongoDB.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface SendInput { messageId: string; channelId: string }
export interface SendOutcome { status: 'sent' | 'failed'; externalId?: string; code?: string; reason?: string }

const { prepareSend, recordSendFailure } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
const { deliverMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: 10,
    nonRetryableErrorTypes: ['PermanentPlatformError', 'Reauth', 'WindowClosed'],
  },
});

export async function sendMessageWorkflow(input: SendInput): Promise<SendOutcome> {
  if (!input.messageId || !input.channelId) throw ApplicationFailure.nonRetryable('sendMessageWorkflow needs messageId and channelId', 'InvalidInput');

  const check = await prepareSend({ messageId: input.messageId });
  if (!check.ok) {
    await recordSendFailure({ messageId: input.messageId, code: check.code, reason: check.reason });
    return { status: 'failed', code: check.code, reason: check.reason };
  }
  try {
    const sent = await deliverMessage({ messageId: input.messageId });
    return { status: 'sent', externalId: sent.externalId };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    const code = type === 'Reauth' ? 'reauth_required' : type === 'WindowClosed' ? 'window_closed'
      : type === 'PermanentPlatformError' ? 'rejected' : 'unavailable';
    const reason = cause instanceof Error ? cause.message : String(cause);
    await recordSendFailure({ messageId: input.messageId, code, reason, reauth: type === 'Reauth' });
    return { status: 'failed', code, reason };
  }
}
