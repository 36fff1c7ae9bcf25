// The send workflow's side effects. A pending message is stored by the API under an ID of its own
// (stable for the client); once the platform accepts it, an alias document under the natural key
// "<channelId>:<platform message ID>" makes the platform's echo a duplicate (not a second message)
// and lets its delivery statuses find the message (activities/inbox-events.ts follows the alias).
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Document } from 'mongodb';
import { windowClosedReason } from '../lib/domain/reply-window';
import { messageKey } from '../lib/domain/keys';
import { statusRank, type RankedStatus } from '../lib/domain/message-status';
import { ChannelModel, ConversationModel, MessageModel } from '../models';
import { credentialsRejectedSignal } from '../workflows/channel';
import { channelAccess, type LifecycleDeps } from './channel-lifecycle';
import { appendEvents } from '../lib/event-log';
import { messageStatusChanged } from '../lib/event-payloads';
import { isRetriedAttempt, untilWritten } from './activity-context';
import { sendInSlot, takeSendSlot } from './send-pacing';
import { sendRateOf } from '../lib/domain/send-rate';
import { toActivityFailure } from './failures';
import { mediaLinkKeys, signedMediaUrl } from '../lib/media-link';
import { applyDeferredEvents } from './inbox-events';
import { batchToken, bulkWriteInChunks, insertNew, summaryUpdates } from './inbox-writes';
import { PlatformError, type OutboundMessage } from './platforms/types';

export interface SendDeps extends LifecycleDeps {
  /** Where Twilio posts delivery statuses (`${PUBLIC_URL}/webhooks/twilio`). */
  publicUrl?: string;
  temporal?: Client;
}

type PendingMessage = {
  _id: string; tenantId: unknown; channelId: unknown; conversationId: string; platform: string; status: string;
  text?: string; attachments?: { type: 'image' | 'video' | 'audio' | 'file'; url?: string; mediaId?: string; mimeType?: string; name?: string }[];
  template?: { name?: string; language?: string; parameters?: string[] }; humanAgent?: boolean; subject?: string;
  externalId?: string; sentAt?: Date;
};

/** The longest a delivery waits for its slot inside the activity (its timeout is 5 minutes). */
const MAX_SLOT_WAIT_MS = 3 * 60_000;

/** Platforms whose delivery/read receipts are watermarks ("everything up to T"), not per message. */
const WATERMARK_PLATFORMS = new Set(['messenger', 'instagram', 'instagram_login', 'tiktok']);

const SENDABLE_STATUSES = new Set(['active', 'syncing', 'degraded', 'rate_limited']);

export function createSendActivities(deps: SendDeps) {
  const { adapterFor, load, credentialsOf, accountOf } = channelAccess(deps);
  const linkKeys = mediaLinkKeys(deps.keys);

  /** The URL the adapter sends: as given, or for an upload a fresh signed link (valid 7 days) to our /media. */
  function mediaUrlOf(media: NonNullable<PendingMessage['attachments']>[number]): string {
    if (!media.mediaId) return media.url ?? '';
    if (!deps.publicUrl) throw ApplicationFailure.nonRetryable('uploaded media needs PUBLIC_URL: the platform fetches it from there', 'PermanentPlatformError');
    return signedMediaUrl(deps.publicUrl, media.mediaId, linkKeys);
  }

  /** Everything that follows a platform's acceptance of a reply; safe to repeat (`again`: it is a repeat). */
  async function recordSent(message: PendingMessage, channel: { platform: string; account?: { id?: unknown } | null }, sent: { externalId: string; timestamp: number }, media: NonNullable<PendingMessage['attachments']>[number] | undefined, again: boolean): Promise<void> {
    const messageId = message._id;
    const alias = messageKey(String(message.channelId), sent.externalId);
    // The alias first: an echo arriving now is refused as a duplicate and statuses find it.
    await insertNew(MessageModel.collection, [{ _id: alias, aliasOf: messageId, channelId: message.channelId, tenantId: message.tenantId }]);
    const marked = await MessageModel.collection.updateOne({ _id: messageId, statusRank: { $not: { $gte: statusRank('sent') } } } as Document, {
      $set: { status: 'sent', statusRank: statusRank('sent'), externalId: sent.externalId, sentAt: new Date(sent.timestamp), platformTimestamp: new Date(sent.timestamp), updatedAt: new Date() },
      $unset: { error: '' },
    });
    // Repeated (in place or by a retried attempt): the mark may have landed without its event.
    if (marked.modifiedCount === 1 || again || isRetriedAttempt()) {
      await appendEvents(String(message.tenantId), [messageStatusChanged(message, 'sent', new Date(sent.timestamp))]);
    }
    // The conversation's summary moves on as for any outbound message (preview, unread reset).
    await bulkWriteInChunks(ConversationModel.collection, summaryUpdates(message.conversationId, batchToken([messageId]), [{
      externalId: sent.externalId, direction: 'outbound', sender: { externalId: String(channel.account?.id ?? '') }, timestamp: sent.timestamp,
      ...(message.text ? { text: message.text } : {}), ...(media ? { attachments: [{ type: media.type }] } : {}),
    }], new Date()), true);
    // Read receipts there are watermarks over the conversation: list the reply as waiting for
    // one (activities/inbox-events.ts moves it to read and takes it off the list).
    if (WATERMARK_PLATFORMS.has(channel.platform)) {
      await ConversationModel.collection.updateOne({ _id: message.conversationId } as Document, { $addToSet: { awaitingRead: messageId } });
    }
    await applyDeferredEvents(String(message.channelId), [alias]);
  }

  async function loadMessage(messageId: string): Promise<PendingMessage> {
    const message = await MessageModel.collection.findOne({ _id: messageId } as Document) as PendingMessage | null;
    if (!message) throw ApplicationFailure.nonRetryable(`message ${messageId} does not exist`, 'MessageNotFound');
    return message;
  }

  return {
    /** Capability, channel status and the platform's reply window, checked before any platform call. */
    async prepareSend({ messageId }: { messageId: string }): Promise<{ ok: true } | { ok: false; code: string; reason: string }> {
      const message = await loadMessage(messageId);
      const channel = await ChannelModel.findById(message.channelId, { status: 1, platform: 1, capabilities: 1 }).lean();
      if (!channel) return { ok: false, code: 'channel_not_found', reason: 'the channel no longer exists' };
      if (channel.status === 'reauth_required' || channel.status === 'pending_auth') return { ok: false, code: 'reauth_required', reason: 'the channel needs to be reconnected' };
      if (!SENDABLE_STATUSES.has(channel.status)) return { ok: false, code: 'channel_unavailable', reason: `the channel is ${channel.status}` };
      const adapter = adapterFor(channel.platform);
      const caps = adapter.capabilities();
      if (!adapter.send || !caps.includes('send')) return { ok: false, code: 'unsupported', reason: `${channel.platform} channels cannot send here` };
      if (message.attachments?.length && !caps.includes('send_media')) return { ok: false, code: 'unsupported', reason: `${channel.platform} channels cannot send media` };
      if (message.template?.name && !caps.includes('templates')) return { ok: false, code: 'unsupported', reason: `${channel.platform} has no templates` };
      const conv = await ConversationModel.findById(message.conversationId, { lastInboundAt: 1 }).lean();
      const closed = windowClosedReason(channel.platform, conv?.lastInboundAt ? conv.lastInboundAt.getTime() : null, Date.now(), { template: !!message.template?.name, humanAgent: !!message.humanAgent });
      return closed ? { ok: false, code: 'window_closed', reason: closed } : { ok: true };
    },

    /**
     * Takes the channel's next send slot (activities/send-pacing.ts). The workflow sleeps on a
     * durable timer until just before it; the delivery then waits out the rest.
     */
    async reserveSendSlot({ messageId }: { messageId: string }): Promise<{ slotAt: number }> {
      const message = await loadMessage(messageId);
      const channel = await ChannelModel.findById(message.channelId, { platform: 1, sendRatePerSecond: 1 }).lean();
      if (!channel) throw ApplicationFailure.nonRetryable('the channel no longer exists', 'PermanentPlatformError');
      return { slotAt: await takeSendSlot(String(message.channelId), sendRateOf(channel.platform, channel.sendRatePerSecond)) };
    },

    /**
     * Calls the platform once, in its send slot; records `sent` and the alias under the platform's
     * ID. A first attempt uses the slot the workflow reserved; a retry takes a new one.
     */
    async deliverMessage({ messageId, slotAt }: { messageId: string; slotAt?: number }): Promise<{ externalId: string }> {
      const message = await loadMessage(messageId);
      const channel = await load(String(message.channelId));
      const rate = sendRateOf(channel.platform, channel.sendRatePerSecond);
      const slot = slotAt !== undefined && !isRetriedAttempt() ? slotAt : await takeSendSlot(String(message.channelId), rate);
      if (slot - Date.now() > MAX_SLOT_WAIT_MS) {
        // A queue this deep: give the slot up and come back later rather than hold a worker slot.
        throw ApplicationFailure.create({ type: 'RateLimited', message: 'the channel\'s send queue is long', nextRetryDelay: slot - Date.now() - MAX_SLOT_WAIT_MS / 2 });
      }
      await sendInSlot(String(message.channelId), rate, slot);
      const conv = await ConversationModel.findById(message.conversationId, { externalId: 1, participant: 1, subject: 1 }).lean();
      if (!conv) throw ApplicationFailure.nonRetryable('the conversation no longer exists', 'PermanentPlatformError');
      const adapter = adapterFor(channel.platform);
      const media = message.attachments?.[0];
      const outbound: OutboundMessage = {
        clientRef: messageId, to: { externalId: conv.participant!.externalId, ...(conv.participant?.handle ? { handle: conv.participant.handle } : {}) },
        conversationExternalId: conv.externalId,
        ...(message.text ? { text: message.text } : {}),
        ...(media ? { media: { type: media.type, url: mediaUrlOf(media), ...(media.mimeType ? { mimeType: media.mimeType } : {}), ...(media.name ? { name: media.name } : {}) } } : {}),
        ...(message.template?.name ? { template: { name: message.template.name, language: message.template.language ?? 'en', parameters: message.template.parameters ?? [] } } : {}),
        ...(message.humanAgent ? { humanAgent: true } : {}),
        ...(conv.subject ? { subject: conv.subject } : {}),
      };
      let sent;
      const startedAt = Date.now();
      // The platform took it already (an earlier attempt failed after the call): do not send it
      // again, only finish the bookkeeping, which is idempotent.
      if (message.externalId && statusRank(message.status as RankedStatus) >= statusRank('sent') && message.status !== 'failed') {
        sent = { externalId: message.externalId, timestamp: message.sentAt ? new Date(message.sentAt).getTime() : startedAt };
      } else try {
        sent = await adapter.send!({
          credentials: credentialsOf(channel.credentials), account: accountOf(channel.account), message: outbound,
          ...(deps.publicUrl ? { statusCallbackUrl: `${deps.publicUrl.replace(/\/$/, '')}/webhooks/twilio` } : {}),
        });
      } catch (err) {
        if (err instanceof PlatformError) {
          const c = err.classification;
          if (c.kind === 'rate_limited') throw ApplicationFailure.create({ type: 'RateLimited', message: err.message, nextRetryDelay: Math.max(1000, c.retryAfterMs) });
          if (c.kind === 'permanent' && c.code === 'window_closed') throw ApplicationFailure.create({ type: 'WindowClosed', message: err.message, nonRetryable: true });
        }
        throw toActivityFailure(err);
      }
      // The platform stamped it between our call and its answer; where the adapter can only report
      // our clock afterwards, the call's start keeps "sent before watermark" comparisons true.
      const taken = { ...sent, timestamp: Math.min(sent.timestamp, startedAt) };
      // From here on the platform has the message: a failure must not reach the retry policy (the
      // retried attempt would send it again while the "already sent" mark is missing), so the
      // bookkeeping — idempotent, the alias and the mark first — is repeated until it lands.
      await untilWritten('recording a sent message', (attempt) => recordSent(message, channel, taken, media, attempt > 1));
      return { externalId: taken.externalId };
    },

    /** Marks the message failed with the reason; an auth failure also tells the channel workflow. */
    async recordSendFailure({ messageId, code, reason, reauth }: { messageId: string; code: string; reason: string; reauth?: boolean }): Promise<void> {
      const message = await loadMessage(messageId);
      const error = { code, message: reason.slice(0, 500) };
      const marked = await MessageModel.collection.updateOne({ _id: messageId, status: 'pending' } as Document, {
        $set: { status: 'failed', statusRank: statusRank('failed'), error, updatedAt: new Date() },
      });
      if (marked.modifiedCount === 1 || isRetriedAttempt()) {
        await appendEvents(String(message.tenantId), [messageStatusChanged(message, 'failed', new Date(), error)]);
      }
      if (reauth && deps.temporal) {
        const channel = await ChannelModel.findById(message.channelId, { workflowId: 1 }).lean();
        if (channel) await deps.temporal.workflow.getHandle(channel.workflowId).signal(credentialsRejectedSignal, { reason }).catch(() => undefined);
      }
    },
  };
}
