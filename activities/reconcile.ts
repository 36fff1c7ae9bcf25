// The reconciliation sweep's side effects: ask every connected channel for an incremental sync
// (which stores whatever a lost webhook never delivered — inserts are idempotent, so what did
// arrive is not doubled), wake channels whose queued webhook events have waited too long (their
// wake-up signal was lost), queue held events whose account the tenant has connected again, and
// count what is parked (held, unmatched, deferred) for the report.
import { heartbeatIfActivity } from './activity-context';
import type { Client } from '@temporalio/client';
import type { ChannelStatus } from '../lib/domain/channel';
import { ChannelModel, WebhookEventModel } from '../models';
import { adoptHeldEvents, heldAccounts, holdPendingEvents } from './held-events';
import { eventsPendingSignal, syncNowSignal } from '../workflows/channel';

export interface ReconcileDeps {
  /** A Temporal client for signalling channel workflows (the worker passes its own). */
  temporal?: Client;
}

export interface SweepReport {
  channels: number;
  syncsRequested: number;
  wokenForEvents: number;
  failedSignals: number;
  /** Held events queued for a channel that speaks for their account again. */
  heldAdopted?: number;
  /** Events found queued for a disconnected channel, held. */
  pendingHeld?: number;
  parked: { held: number; unmatched: number; deferred: number };
}

const SYNCABLE: ChannelStatus[] = ['active', 'degraded', 'rate_limited', 'syncing'];
const CONCURRENCY = 16;

export function createReconcileActivities(deps: ReconcileDeps) {
  return {
    async sweepChannels({ staleEventsAfterMs = 60_000 }: { staleEventsAfterMs?: number } = {}): Promise<SweepReport> {
      const temporal = deps.temporal;
      if (!temporal) throw new Error('sweepChannels needs a Temporal client (ActivityDeps.temporal)');
      const channels = await ChannelModel.find({ status: { $in: SYNCABLE } }, { workflowId: 1 }).lean();
      const staleIds = new Set((await WebhookEventModel.collection.distinct('channelId', { state: 'pending', receivedAt: { $lt: new Date(Date.now() - staleEventsAfterMs) } })).map(String));
      const staleChannels = await ChannelModel.find({ _id: { $in: [...staleIds] } }, { workflowId: 1, status: 1 }).lean();
      const stale: { _id: unknown; workflowId: string }[] = staleChannels.filter((c) => c.status !== 'disconnected');
      // Queued for a channel that was disconnected meanwhile: nothing drains them; hold them.
      let pendingHeld = 0;
      for (const c of staleChannels.filter((ch) => ch.status === 'disconnected')) pendingHeld += await holdPendingEvents(String(c._id));
      // Held events the connect step did not see (they arrived while it ran): queue them now.
      let heldAdopted = 0;
      const held = await heldAccounts();
      const heldKeys = new Set(held.map((h) => `${h.tenantId} ${h.accountId}`));
      // One lookup for every held account's live channels, then only the tenant's own count.
      const live = held.length === 0 ? [] : await ChannelModel.find(
        { 'account.id': { $in: [...new Set(held.map((h) => h.accountId))] }, status: { $ne: 'disconnected' } },
        { workflowId: 1, platform: 1, tenantId: 1, account: 1 },
      ).lean();
      for (const c of live.filter((ch) => heldKeys.has(`${String(ch.tenantId)} ${ch.account?.id}`))) {
        const n = await adoptHeldEvents({ channelId: String(c._id), tenantId: String(c.tenantId), platform: c.platform, accountId: c.account!.id! });
        if (n > 0 && !stale.some((s) => String(s._id) === String(c._id))) stale.push(c);
        heldAdopted += n;
      }

      const report: SweepReport = { channels: channels.length, syncsRequested: 0, wokenForEvents: 0, failedSignals: 0, heldAdopted, pendingHeld, parked: { held: 0, unmatched: 0, deferred: 0 } };
      const jobs: Array<() => Promise<void>> = [
        ...channels.map((c) => async () => { await temporal.workflow.getHandle(c.workflowId).signal(syncNowSignal); report.syncsRequested++; }),
        ...stale.map((c) => async () => { await temporal.workflow.getHandle(c.workflowId).signal(eventsPendingSignal); report.wokenForEvents++; }),
      ];
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!;
          await job().catch(() => { report.failedSignals++; });
          if (next % 100 === 0) heartbeatIfActivity(next);
        }
      }));
      for (const state of ['held', 'unmatched', 'deferred'] as const) report.parked[state] = await WebhookEventModel.countDocuments({ state });
      return report;
    },
  };
}
