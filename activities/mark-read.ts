// Marking a conversation read on the platform, after an agent read it here (the mark-read
// workflow's one side effect). The API has already zeroed our unread count; this tells the
// platform — WhatsApp read receipt, Meta mark_seen, Gmail UNREAD removed, IMAP \Seen — for the
// inbound messages up to the one the request saw as the latest (`upTo`), never newer ones.
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Document } from 'mongodb';
import { ConversationModel, MessageModel } from '../models';
import { credentialsRejectedSignal } from '../workflows/channel';
import { channelAccess, type LifecycleDeps } from './channel-lifecycle';
import { toActivityFailure } from './failures';
import { PlatformError } from './platforms/types';

export interface MarkReadDeps extends LifecycleDeps {
  /** To tell the channel workflow when the platform refused its credentials. */
  temporal?: Client;
}

export interface MarkReadInput {
  conversationId: string;
  /** The latest inbound message's time (ms) when the agent read: messages up to it are marked. */
  upTo: number;
}

export type MarkReadOutcome =
  | { status: 'marked'; messages: number }
  | { status: 'skipped'; reason: string };

/** Platform messages handed to the adapter at most (newest first). */
const MAX_MESSAGES = 100;
/** Channel states in which we call the platform at all. */
const CALLABLE = new Set(['active', 'syncing', 'degraded', 'rate_limited']);

export function createMarkReadActivities(deps: MarkReadDeps) {
  const { adapterFor, load, credentialsOf, accountOf } = channelAccess(deps);

  return {
    async markConversationRead({ conversationId, upTo }: MarkReadInput): Promise<MarkReadOutcome> {
      const conv = await ConversationModel.findById(conversationId, { channelId: 1, externalId: 1, participant: 1 }).lean();
      if (!conv) return { status: 'skipped', reason: 'the conversation no longer exists' };
      const channel = await load(String(conv.channelId));
      // Not retried: a later read (after a reconnect) starts a new attempt (the workflow failed).
      if (!CALLABLE.has(channel.status)) throw ApplicationFailure.nonRetryable(`the channel is ${channel.status}`, 'ChannelUnavailable');
      const adapter = adapterFor(channel.platform);
      if (!adapter.markRead || !adapter.capabilities().includes('mark_read')) return { status: 'skipped', reason: `${channel.platform} has no read receipts here` };

      const messages = await MessageModel.collection
        .find({ conversationId, direction: 'inbound', platformTimestamp: { $lte: new Date(upTo) } } as Document, { projection: { externalId: 1 } })
        .sort({ platformTimestamp: -1, _id: -1 }).limit(MAX_MESSAGES).toArray();
      const messageIds = messages.map((m) => m.externalId as string | undefined).filter((id): id is string => !!id);
      if (!messageIds.length) return { status: 'skipped', reason: 'no inbound message to mark read' };

      try {
        await adapter.markRead({
          credentials: credentialsOf(channel.credentials), account: accountOf(channel.account),
          read: { conversationExternalId: conv.externalId, participant: { externalId: conv.participant!.externalId, ...(conv.participant?.handle ? { handle: conv.participant.handle } : {}) }, messageIds },
        });
      } catch (err) {
        if (err instanceof PlatformError) {
          const c = err.classification;
          if (c.kind === 'rate_limited') throw ApplicationFailure.create({ type: 'RateLimited', message: err.message, nextRetryDelay: Math.max(1000, c.retryAfterMs) });
          // Meta takes sender actions only inside the reply window: nothing to tell, not a failure.
          if (c.kind === 'permanent' && c.code === 'window_closed') return { status: 'skipped', reason: c.message };
          if (c.kind === 'reauth' && deps.temporal) {
            await deps.temporal.workflow.getHandle(channel.workflowId).signal(credentialsRejectedSignal, { reason: err.message }).catch(() => undefined);
          }
        }
        throw toActivityFailure(err);
      }
      return { status: 'marked', messages: messageIds.length };
    },
  };
}
