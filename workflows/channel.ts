// The channel workflow: one per connected channel, for as long as it stays connected. It owns the
// channel's state and is the only writer of its status. (The connect/sync/refresh steps arrive
// with the channel-lifecycle work; this is the skeleton they hang on.)
import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { PLATFORMS, type ChannelStatus, type Platform } from '../lib/domain/channel';
import { SA_CHANNEL_STATUS } from '../lib/domain/search-attributes';

/** Workflow input: IDs only — never a token or a secret (history is visible in the Web UI). */
export interface ChannelWorkflowInput {
  tenantId: string;
  channelId: string;
  platform: Platform;
}

export interface ChannelState {
  status: ChannelStatus;
  since: string;
  reason?: string;
}

export const channelStatusQuery = defineQuery<ChannelState>('status');
export const disconnectSignal = defineSignal<[{ reason?: string }]>('disconnect');

const { recordChannelStatus } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

export async function channelWorkflow(input: ChannelWorkflowInput): Promise<ChannelState> {
  if (!input.tenantId || !input.channelId || !PLATFORMS.includes(input.platform)) {
    throw ApplicationFailure.nonRetryable('channelWorkflow needs tenantId, channelId and a known platform', 'InvalidInput');
  }

  let state: ChannelState = { status: 'pending_auth', since: new Date().toISOString() };
  let disconnectRequested: { reason?: string } | undefined;

  setHandler(channelStatusQuery, () => state);
  setHandler(disconnectSignal, (request) => {
    disconnectRequested ??= request;
  });

  async function moveTo(status: ChannelStatus, reason?: string): Promise<void> {
    await recordChannelStatus({ channelId: input.channelId, status, reason });
    state = { status, since: new Date().toISOString(), reason };
    upsertSearchAttributes([{ key: SA_CHANNEL_STATUS, value: status }]);
  }

  await moveTo('active');

  await condition(() => disconnectRequested !== undefined);
  await moveTo('disconnected', disconnectRequested?.reason ?? 'disconnected by user');
  return state;
}
