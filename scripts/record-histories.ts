// `npm run histories:record`: runs each workflow scenario against a fresh Temporal dev server and
// saves its event history under test/histories/. The replay test replays every saved history
// against the current workflow code, so a change that would break running workflows fails CI.
// Record new histories when a workflow gains a new path; never re-record to make replay pass.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { channelStatusQuery, connectUpdate, disconnectSignal, eventsPendingSignal, syncNowSignal, type channelWorkflow } from '../workflows/channel';
import type { dailyAnalyticsWorkflow } from '../workflows/analytics';
import type { reconcileChannelsWorkflow } from '../workflows/reconcile';
import type { sendMessageWorkflow } from '../workflows/send';
import type { outgoingWebhookWorkflow } from '../workflows/outgoing-webhooks';
import type { markReadWorkflow } from '../workflows/mark-read';
import { WORKFLOWS_PATH } from '../workers/worker';
import { freePort } from './stack/processes';
import { startTemporal } from './stack/services';
import { ROOT, toolPath } from './stack/tools';

const OUT = path.join(ROOT, 'test', 'histories');
// Existing histories are kept (they stand for workflows already running somewhere); --force re-records.
const force = process.argv.includes('--force');
const until = async (probe: () => Promise<boolean>) => { while (!(await probe())) await new Promise((r) => setTimeout(r, 50)); };

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const server = await startTemporal({ port, uiPort: null });
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  let revoked = false;
  let rateLimitNext = false;
  let syncs = 0;
  let drains = 0;
  let sendAttempts = 0;
  let dispatches = 0;
  try {
    const taskQueue = 'record-histories';
    const worker = await Worker.create({
      connection: nativeConnection, taskQueue, workflowsPath: WORKFLOWS_PATH,
      activities: {
        recordChannelStatus: async () => undefined,
        connectChannel: async () => ({ accountName: 'Shop', tokenExpiresAt: Date.now() + 3_600_000, capabilities: ['read'] }),
        syncChannel: async ({ mode }: { mode: string }) => {
          syncs++;
          if (revoked) throw ApplicationFailure.create({ type: 'Reauth', message: 'token revoked', nonRetryable: true });
          if (rateLimitNext) { rateLimitNext = false; throw ApplicationFailure.create({ type: 'RateLimited', message: 'rate limited (613)', nonRetryable: true, details: [{ retryAfterMs: 4000 }] }); }
          return { pages: 1, conversations: 1, messagesInserted: 5, done: mode === 'incremental' || syncs >= 2 };
        },
        refreshChannelToken: async () => ({ tokenExpiresAt: Date.now() + 3_600_000 }),
        checkChannel: async () => ({ ok: true, accountName: 'Shop' }),
        revokeChannelAccess: async () => ({ revoked: true }),
        // 1st drain: a full batch (drain again); 3rd: a Gmail-style hint (sync).
        drainChannelEvents: async () => { drains++; return { events: 3, messagesInserted: 2, statusesApplied: 1, deferred: 0, more: drains === 1, syncRequested: drains === 3 }; },
        // A send that hits a transient failure once, then goes out.
        prepareSend: async () => ({ ok: true }),
        deliverMessage: async (_: unknown) => { sendAttempts++; if (sendAttempts === 1) throw ApplicationFailure.create({ type: 'PlatformUnavailable', message: '503 from the platform' }); return { externalId: 'm_sent_1' }; },
        recordSendFailure: async () => undefined,
        sweepChannels: async () => ({ channels: 2, syncsRequested: 2, wokenForEvents: 1, failedSignals: 0, parked: { held: 0, unmatched: 1, deferred: 0 } }),
        aggregateDailyStats: async ({ day }: { day: string }) => ({ day, messages: 12, written: 3, removed: 0 }),
        // The channel's next send slot, a few seconds away (the workflow sleeps on a timer).
        reserveSendSlot: async () => ({ slotAt: Date.now() + 3000 }),
        // Two minutes of delivering, then the endpoint is deleted.
        dispatchWebhookEvents: async () => { dispatches++; return { gone: dispatches >= 3, delivered: 2, failed: dispatches === 1 ? 1 : 0 }; },
        markConversationRead: async () => ({ status: 'marked', messages: 1 }),
        watchChannelPush: async () => ({ expiresAt: Date.now() + 7 * 86400_000 }),
      },
    });
    const save = async (name: string, workflowId: string) => {
      const file = path.join(OUT, `${name}.json`);
      if (existsSync(file) && !force) { process.stdout.write(`kept ${path.relative(ROOT, file)}\n`); return; }
      // The CLI writes the canonical proto3 JSON that historyFromJSON reads back.
      const json = execFileSync(toolPath('temporal'), ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json']);
      writeFileSync(file, json);
      process.stdout.write(`saved ${path.relative(ROOT, file)}\n`);
    };
    await worker.runUntil(async () => {
      // channel-lifecycle: connect, backfill (2 pages), sync now, auth lost, reconnect, disconnect.
      const handle = await client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: 'channel:tenant1:messenger:channel1', args: [{ tenantId: 'tenant1', channelId: 'channel1', platform: 'messenger', syncIntervalSeconds: 300 }],
      });
      await handle.executeUpdate(connectUpdate);
      await until(async () => (await handle.query(channelStatusQuery)).backfill.done);
      revoked = true;
      await handle.signal(syncNowSignal);
      await until(async () => (await handle.query(channelStatusQuery)).status === 'reauth_required');
      revoked = false;
      await handle.executeUpdate(connectUpdate);
      await until(async () => (await handle.query(channelStatusQuery)).lastSyncAt !== null && (await handle.query(channelStatusQuery)).status === 'active');
      await handle.signal(disconnectSignal, { reason: 'recorded scenario' });
      await handle.result();
      await save('channel-lifecycle', handle.workflowId);
      // The same story with the status recorded after the workflow's own state (patch status-before-record).
      await save('channel-lifecycle-status-first', handle.workflowId);

      // channel-webhooks: events signalled before and after connecting, a full batch drained
      // twice, a sync hint, then disconnect.
      syncs = 0;
      const hooks = await client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: 'channel:tenant1:whatsapp_cloud:channel2', args: [{ tenantId: 'tenant1', channelId: 'channel2', platform: 'whatsapp_cloud', syncIntervalSeconds: 300 }],
      });
      await hooks.signal(eventsPendingSignal);
      await until(async () => (await hooks.query(channelStatusQuery)).inbox!.events >= 6);
      await hooks.executeUpdate(connectUpdate);
      await until(async () => (await hooks.query(channelStatusQuery)).backfill.done);
      await hooks.signal(eventsPendingSignal);
      await until(async () => (await hooks.query(channelStatusQuery)).inbox!.events >= 9 && syncs >= 3);
      await hooks.signal(disconnectSignal, { reason: 'recorded scenario' });
      await hooks.result();
      await save('channel-webhooks', hooks.workflowId);

      // channel-rate-limited: a sync refused with a 4 s Retry-After; webhook events drained and a
      // "sync now" ignored inside the delay (patch rate-limit-wait-in-loop), then active again.
      syncs = 0;
      const limited = await client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: 'channel:tenant1:messenger:channel3', args: [{ tenantId: 'tenant1', channelId: 'channel3', platform: 'messenger', syncIntervalSeconds: 2 }],
      });
      await limited.executeUpdate(connectUpdate);
      await until(async () => (await limited.query(channelStatusQuery)).backfill.done);
      rateLimitNext = true;
      await limited.signal(syncNowSignal);
      await until(async () => (await limited.query(channelStatusQuery)).status === 'rate_limited');
      const drained = (await limited.query(channelStatusQuery)).inbox!.events;
      await limited.signal(eventsPendingSignal);
      await limited.signal(syncNowSignal);
      await until(async () => (await limited.query(channelStatusQuery)).inbox!.events > drained);
      await until(async () => (await limited.query(channelStatusQuery)).status === 'active');
      await limited.signal(disconnectSignal, { reason: 'recorded scenario' });
      await limited.result();
      await save('channel-rate-limited', limited.workflowId);

      // channel-gmail-push: a Gmail channel asks for push (users.watch) once connected, then a push
      // (events) brings a sync; disconnect (patch push-watch).
      syncs = 0;
      const mailbox = await client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: 'channel:tenant1:gmail:channel4', args: [{ tenantId: 'tenant1', channelId: 'channel4', platform: 'gmail', syncIntervalSeconds: 300 }],
      });
      await mailbox.executeUpdate(connectUpdate);
      await until(async () => { const s = await mailbox.query(channelStatusQuery); return s.backfill.done && !!s.pushExpiresAt; });
      await mailbox.signal(eventsPendingSignal);
      await until(async () => (await mailbox.query(channelStatusQuery)).inbox!.events >= 3);
      await mailbox.signal(disconnectSignal, { reason: 'recorded scenario' });
      await mailbox.result();
      await save('channel-gmail-push', mailbox.workflowId);

      // send-message: one reply, retried once after a transient failure.
      const send = await client.workflow.start<typeof sendMessageWorkflow>('sendMessageWorkflow', { taskQueue, workflowId: 'send:tenant1:record', args: [{ messageId: 'channel1:out:record', channelId: 'channel1' }] });
      await send.result();
      await save('send-message', send.workflowId);

      // reconcile-channels: one sweep as the schedule starts it.
      const sweep = await client.workflow.start<typeof reconcileChannelsWorkflow>('reconcileChannelsWorkflow', { taskQueue, workflowId: 'reconcile-channels:record', args: [{}] });
      await sweep.result();
      await save('reconcile-channels', sweep.workflowId);

      // send-message-paced: the same with the per-channel send rate (a slot, a timer, the send).
      sendAttempts = 0;
      const paced = await client.workflow.start<typeof sendMessageWorkflow>('sendMessageWorkflow', { taskQueue, workflowId: 'send:tenant1:record-paced', args: [{ messageId: 'channel1:out:record-paced', channelId: 'channel1' }] });
      await paced.result();
      await save('send-message-paced', paced.workflowId);

      // outgoing-webhooks: an endpoint's workflow until the endpoint is deleted.
      const hooksOut = await client.workflow.start<typeof outgoingWebhookWorkflow>('outgoingWebhookWorkflow', { taskQueue, workflowId: 'webhook-endpoint:tenant1:record', args: [{ endpointId: 'endpoint1' }] });
      await hooksOut.result();
      await save('outgoing-webhooks', hooksOut.workflowId);

      // mark-read: one conversation marked read on the platform.
      const read = await client.workflow.start<typeof markReadWorkflow>('markReadWorkflow', { taskQueue, workflowId: 'mark-read:record', args: [{ conversationId: 'channel1:thread1', upTo: Date.UTC(2026, 10, 1) }] });
      await read.result();
      await save('mark-read', read.workflowId);

      // daily-analytics: one run as the schedule starts it (yesterday and today).
      const analytics = await client.workflow.start<typeof dailyAnalyticsWorkflow>('dailyAnalyticsWorkflow', { taskQueue, workflowId: 'daily-analytics:record', args: [{}] });
      await analytics.result();
      await save('daily-analytics', analytics.workflowId);
    });
  } finally {
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
