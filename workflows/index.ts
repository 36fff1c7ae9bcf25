// The worker's workflow bundle entry: every workflow type it runs.
export { channelWorkflow } from './channel';
export { reconcileChannelsWorkflow } from './reconcile';
export { sendMessageWorkflow } from './send';
export { dailyAnalyticsWorkflow } from './analytics';
export { markReadWorkflow } from './mark-read';
export { outgoingWebhookWorkflow } from './outgoing-webhooks';
