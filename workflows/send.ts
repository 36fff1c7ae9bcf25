// The send workflow: one per outbound message, its ID derived from the client's idempotency key,
// so a repeated request finds the same run. It checks what the channel can do and the platform's
// reply window, calls the platform with a retry policy (transient errors and rate limits retried
// with backoff, honouring Retry-After; permanent and auth errors not retried), and records the
// outcome. Inputs are IDs only; credentials stay sealed in MongoDB.
import { ActivityFailure, ApplicationFailure, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface SendInput { messageId: string; channelId: string }
export interface SendOutcome { status: 'sent' | 'failed'; externalId?: string; code?: string; reason?: string }

const { prepareSend, recordSendFailure, reserveSendSlot } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
// Long enough to wait for a send slot (a retry takes a new one), heartbeating while it waits. The
// heartbeat timeout is generous: the platform call does not heartbeat, and timing out an attempt
// whose platform call went through would send the message twice (the writes after it are repeated
// in place, heartbeating, until they land — activities/send.ts).
const { deliverMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '2 minutes',
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
  // The channel's send rate: take a slot, sleep on a durable timer until just before it (no
  // worker is held while a long queue goes out), and let the delivery wait out the last second.
  let slotAt: number | undefined;
  if (patched('send-pacing')) {
    ({ slotAt } = await reserveSendSlot({ messageId: input.messageId }));
    const wait = slotAt - Date.now();
    if (wait > 2000) await sleep(wait - 1000);
  }
  try {
    const sent = await deliverMessage({ messageId: input.messageId, ...(slotAt !== undefined ? { slotAt } : {}) });
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
