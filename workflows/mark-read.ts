// The mark-read workflow: one short run per (conversation, latest inbound message) an agent read,
// started by POST /v1/conversations/:id/read without waiting for it. Its ID names both, so
// repeated reads of the same state are one run and one platform call. Transient errors and rate
// limits are retried (honouring the platform's delay); a refused token, a permanent refusal or an
// unusable channel fail the run at once — never a loop — and a later read may try again.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { MarkReadInput, MarkReadOutcome } from '../activities/mark-read';

const { markConversationRead } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: 8,
    nonRetryableErrorTypes: ['PermanentPlatformError', 'Reauth', 'ChannelUnavailable', 'ChannelNotFound'],
  },
});

/** `mark-read:<conversation ID>:<latest inbound message time>`: the same read twice is one run. */
export const markReadWorkflowId = (conversationId: string, upTo: number) => `mark-read:${conversationId}:${upTo}`;

export async function markReadWorkflow(input: MarkReadInput): Promise<MarkReadOutcome> {
  if (!input?.conversationId || !Number.isFinite(input.upTo)) throw ApplicationFailure.nonRetryable('markReadWorkflow needs conversationId and upTo', 'InvalidInput');
  return markConversationRead(input);
}
