// One per integrator endpoint, for as long as the endpoint exists: its story is "follow the tenant's
// event log and deliver what the endpoint asked for". The activity does the following and posting
// for a minute at a time (heartbeating); the workflow calls it again, and starts a fresh run now and
// then so its history stays short. Inputs are IDs only: the signing secret stays sealed in MongoDB.
import { ApplicationFailure, continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface OutgoingWebhookInput { endpointId: string }

const { dispatchWebhookEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

const RUNS_PER_HISTORY = 60;

export async function outgoingWebhookWorkflow(input: OutgoingWebhookInput): Promise<void> {
  if (!input.endpointId) throw ApplicationFailure.nonRetryable('outgoingWebhookWorkflow needs endpointId', 'InvalidInput');
  for (let i = 0; i < RUNS_PER_HISTORY; i++) {
    const { gone } = await dispatchWebhookEvents({ endpointId: input.endpointId });
    if (gone) return;
  }
  await continueAsNew<typeof outgoingWebhookWorkflow>(input);
}
