// Waiting for a scenario to come to rest before it is audited: the sandbox has nothing left to
// deliver, the channel's webhook queue is empty, no reply is pending, the inbox stopped changing
// and every send workflow has closed. A process that exited by itself meanwhile is started again (as a supervisor would) and
// reported. Gives up after `timeoutMs` and lets the audit say what is missing.
import type { Document } from 'mongodb';
import { MessageModel, pendingRange, WebhookEventModel } from '../../../models';
import { sleep, type ChaosStack } from './stack';
import { storedCount, type Channel, type SendLog } from './workload';

export async function settle(stack: ChaosStack, channel: Channel, sends: SendLog[], timeoutMs = 300_000): Promise<{ settled: boolean; waitedMs: number; why: string }> {
  const t0 = Date.now();
  const ids = () => sends.flatMap((s) => s.ids.filter((id): id is string => !!id));
  let lastCount = -1;
  let stableSince = Date.now();
  let why = 'not yet checked';
  let lastSaid = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (Date.now() - lastSaid >= 15_000) { stack.note(`still settling: ${why}`); lastSaid = Date.now(); }
    await stack.superviseOnce();
    try {
      const d = stack.sandbox.ctx.webhooks.stats();
      const queued = await WebhookEventModel.collection.countDocuments({ _id: pendingRange(channel.channelId) } as Document);
      const pendingReplies = await MessageModel.collection.countDocuments({ _id: { $in: ids() }, status: 'pending' } as Document);
      const count = await storedCount(channel);
      if (count !== lastCount) { lastCount = count; stableSince = Date.now(); }
      why = `${d.pending} deliveries in flight, waiting to retry or held (${d.held} held), ${queued} events queued, ${pendingReplies} replies pending, ${count} messages stored (unchanged for ${Math.round((Date.now() - stableSince) / 1000)} s)`;
      if (d.pending === 0 && queued === 0 && pendingReplies === 0 && Date.now() - stableSince >= 3000) {
        const running = await runningSendWorkflows(stack, ids());
        if (running === 0) return { settled: true, waitedMs: Date.now() - t0, why };
        why = `${running} send workflows still running (their messages are no longer pending), ${count} messages stored`;
      }
    } catch (err) {
      why = `database not answering (${(err as Error).message})`;
    }
    await sleep(500);
  }
  return { settled: false, waitedMs: Date.now() - t0, why };
}

/** Send workflows (`send:<tenant>:<key hash>`) of these replies that have not closed yet. */
async function runningSendWorkflows(stack: ChaosStack, replyIds: string[]): Promise<number> {
  let running = 0;
  for (let i = 0; i < replyIds.length; i += 20) {
    const statuses = await Promise.all(replyIds.slice(i, i + 20).map((id) => stack.temporal.workflow.getHandle(`send:${stack.tenantId}:${id.split(':out:')[1]}`).describe().then((d) => d.status.name, () => 'UNKNOWN')));
    running += statuses.filter((s) => s === 'RUNNING').length;
  }
  return running;
}
