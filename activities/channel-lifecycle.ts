// The side effects of a channel's lifecycle: connect (code exchange or credential check), page
// through history into the inbox, refresh tokens, revoke. Secrets are unsealed here, used, and
// sealed again; they never leave these functions (not in results, errors or logs).
import { ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import { Types } from 'mongoose';
import { seal, unseal, type EncryptionKey, type Sealed } from '../lib/crypto';
import type { Platform } from '../lib/domain/channel';
import type { PlatformConfig } from '../lib/platform-config';
import { ChannelModel } from '../models';
import { toActivityFailure } from './failures';
import { isRetriedAttempt, withHeartbeats } from './activity-context';
import { adoptHeldEvents } from './held-events';
import { applyDeferredEvents } from './inbox-events';
import { storeConversations } from './inbox-writes';
import { ADAPTER_FACTORIES } from './platforms';
import { PlatformError, type AccountInfo, type ChannelAdapter, type ConnectResult, type Credentials, type SyncCursor } from './platforms/types';

export interface LifecycleDeps {
  keys: EncryptionKey[];
  platforms: PlatformConfig;
  /** Tests may provide adapters directly. */
  adapters?: Partial<Record<Platform, ChannelAdapter>>;
}

/** What the API leaves (sealed) for the connect step. */
export type PendingAuth =
  | { kind: 'oauth'; code: string; redirectUri: string; settings?: Record<string, unknown> }
  | { kind: 'credentials'; values: Record<string, unknown> };

export interface SyncResult { pages: number; conversations: number; messagesInserted: number; done: boolean }

/** Loading a channel with its unsealed credentials and its adapter (shared by the lifecycle and send activities). */
export function channelAccess(deps: LifecycleDeps) {
  const adapterFor = (platform: Platform): ChannelAdapter => {
    const adapter = deps.adapters?.[platform] ?? ADAPTER_FACTORIES[platform]?.(deps.platforms);
    if (!adapter) throw ApplicationFailure.nonRetryable(`no adapter for platform ${platform}`, 'UnsupportedPlatform');
    return adapter;
  };

  async function load(channelId: string, extra = '') {
    if (!Types.ObjectId.isValid(channelId)) throw ApplicationFailure.nonRetryable(`invalid channel id ${channelId}`, 'ChannelNotFound');
    const channel = await ChannelModel.findById(channelId).select(`+credentials ${extra}`).lean();
    if (!channel) throw ApplicationFailure.nonRetryable(`channel ${channelId} does not exist`, 'ChannelNotFound');
    return channel;
  }

  const credentialsOf = (sealed: Sealed | null | undefined): Credentials => {
    if (!sealed) throw ApplicationFailure.create({ type: 'Reauth', message: 'the channel has no stored credentials', nonRetryable: true });
    return JSON.parse(unseal(sealed, deps.keys));
  };
  const accountOf = (account: { id?: string | null; name?: string | null; handle?: string | null } | null | undefined): AccountInfo => ({
    id: account?.id ?? '', name: account?.name ?? undefined, handle: account?.handle ?? undefined,
  });
  return { adapterFor, load, credentialsOf, accountOf };
}

export function createChannelLifecycleActivities(deps: LifecycleDeps) {
  const { adapterFor, load, credentialsOf, accountOf } = channelAccess(deps);

  /** A platform call whose failure is recorded on the channel and classified for Temporal. */
  async function reported<T>(channelId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      await recordError(channelId, err);
      throw toActivityFailure(err);
    }
  }

  async function recordError(channelId: string, err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    await ChannelModel.updateOne({ _id: channelId }, { $set: { lastError: message.slice(0, 500), lastErrorAt: new Date() }, $inc: { errorCount: 1 } });
  }

  return {
    /** Exchanges the pending OAuth code or validates pending credentials; the channel gets its account and sealed credentials. */
    async connectChannel({ channelId }: { channelId: string }): Promise<{ accountName: string; tokenExpiresAt: number | null; capabilities: string[]; heldAdopted?: number }> {
      const channel = await load(channelId, '+pendingAuth');
      if (!channel.pendingAuth) throw ApplicationFailure.nonRetryable('nothing to connect: no authorization is pending', 'NothingToConnect');
      const pending: PendingAuth = JSON.parse(unseal(channel.pendingAuth, deps.keys));
      const adapter = adapterFor(channel.platform);
      let result: ConnectResult;
      try {
        result = pending.kind === 'oauth'
          // The channel's settings say which Page to take when the login grants several ({pageId});
          // after a connect they name the connected one, so a reconnect takes the same Page.
          ? await adapter.exchangeCode!({ code: pending.code, redirectUri: pending.redirectUri, settings: pending.settings ?? (channel.settings as Record<string, unknown> | undefined) })
          : await adapter.connectWithCredentials!(pending.values);
        await ChannelModel.updateOne({ _id: channelId }, {
          $set: {
            account: result.account, credentials: seal(JSON.stringify(result.credentials), deps.keys),
            tokenExpiresAt: result.tokenExpiresAt ? new Date(result.tokenExpiresAt) : undefined,
            credentialHints: result.credentialHints ?? {}, capabilities: adapter.capabilities(),
            ...(result.settings ? { settings: result.settings } : {}), errorCount: 0,
          },
          $unset: { pendingAuth: 1, lastError: 1, lastErrorAt: 1 },
        });
      } catch (err) {
        // Refused credentials stay refused, and an OAuth code is single-use (the platform may have
        // spent it before the failure): drop them. Credentials that met a platform outage are kept
        // for the activity's retry, so the user does not have to enter them again.
        const transient = err instanceof PlatformError && err.classification.kind === 'retryable';
        if (pending.kind === 'oauth' || !transient) await ChannelModel.updateOne({ _id: channelId }, { $unset: { pendingAuth: 1 } });
        await recordError(channelId, err);
        throw toActivityFailure(err);
      }
      // What arrived for this account while the tenant's earlier channel for it was disconnected.
      // The connect is recorded (and its authorization spent): a failure here must not fail it —
      // the reconciliation sweep queues whatever is left.
      const heldAdopted = await adoptHeldEvents({ channelId, tenantId: String(channel.tenantId), platform: channel.platform, accountId: result.account.id })
        .catch((err: unknown) => { log.warn('held events not queued yet; the reconciliation sweep will', { channelId, error: (err as Error).message }); return 0; });
      return { accountName: result.account.name ?? result.account.handle ?? result.account.id, tokenExpiresAt: result.tokenExpiresAt ?? null, capabilities: adapter.capabilities(), heldAdopted };
    },

    /**
     * Pages through history into the inbox, saving the cursor after every page so a crash or a
     * retry resumes where it stopped. Heartbeats carry progress. Returns after `maxPages`.
     */
    async syncChannel({ channelId, mode, maxPages = 20 }: { channelId: string; mode: 'backfill' | 'incremental'; maxPages?: number }): Promise<SyncResult> {
      const channel = await load(channelId);
      const adapter = adapterFor(channel.platform);
      const credentials = credentialsOf(channel.credentials);
      const account = accountOf(channel.account);
      const ref = { tenantId: String(channel.tenantId), channelId, platform: channel.platform };
      let cursor = ((mode === 'backfill' ? channel.backfill?.cursor : channel.cursor) ?? null) as SyncCursor | null;
      const total: SyncResult = { pages: 0, conversations: 0, messagesInserted: 0, done: false };
      try {
        while (total.pages < maxPages) {
          // A page read may hang and be retried in place (retryRead) for longer than the heartbeat timeout.
          const page = await withHeartbeats(() => ({ pages: total.pages, messagesInserted: total.messagesInserted }), () => adapter.fetchPage({ credentials, account, cursor, mode }));
          // Only the first page of a retried attempt can be one an interrupted attempt half stored.
          const stored = await storeConversations(ref, page.conversations, { retry: total.pages === 0 && isRetriedAttempt(), announce: mode === 'incremental' });
          await applyDeferredEvents(channelId, stored.insertedIds); // statuses that arrived before their message
          total.pages += 1;
          total.conversations += stored.conversations;
          total.messagesInserted += stored.messagesInserted;
          cursor = page.cursor;
          const now = new Date();
          if (mode === 'backfill') {
            await ChannelModel.updateOne({ _id: channelId }, {
              $set: { 'backfill.cursor': cursor, lastSyncedAt: now, ...(page.done ? { 'backfill.done': true, 'backfill.finishedAt': now, cursor } : {}) },
              $inc: { 'backfill.pages': 1, 'backfill.conversations': stored.conversations, 'backfill.messages': stored.messagesInserted },
            });
          } else {
            await ChannelModel.updateOne({ _id: channelId }, { $set: { cursor, lastSyncedAt: now } });
          }
          heartbeat({ pages: total.pages, messagesInserted: total.messagesInserted });
          if (page.done) { total.done = true; break; }
        }
        return total;
      } catch (err) {
        await recordError(channelId, err);
        throw toActivityFailure(err);
      }
    },

    /** Refreshes the channel's tokens; returns the new expiry (null: nothing expires). */
    async refreshChannelToken({ channelId }: { channelId: string }): Promise<{ tokenExpiresAt: number | null }> {
      const channel = await load(channelId);
      const adapter = adapterFor(channel.platform);
      if (!adapter.refresh) return { tokenExpiresAt: null };
      return reported(channelId, async () => {
        const refreshed = await adapter.refresh!(credentialsOf(channel.credentials), accountOf(channel.account));
        if (!refreshed) return { tokenExpiresAt: null };
        await ChannelModel.updateOne({ _id: channelId }, {
          $set: { credentials: seal(JSON.stringify(refreshed.credentials), deps.keys), tokenExpiresAt: refreshed.tokenExpiresAt ? new Date(refreshed.tokenExpiresAt) : undefined },
        });
        return { tokenExpiresAt: refreshed.tokenExpiresAt ?? null };
      });
    },

    /** A cheap authenticated call ("test connection"). */
    async checkChannel({ channelId }: { channelId: string }): Promise<{ ok: true; accountName: string }> {
      const channel = await load(channelId);
      return reported(channelId, async () => {
        const account = await adapterFor(channel.platform).check(credentialsOf(channel.credentials), accountOf(channel.account));
        return { ok: true as const, accountName: account.name ?? account.handle ?? account.id };
      });
    },

    /** Asks (again) for platform push (Gmail users.watch); `expiresAt` null: none to ask for. */
    async watchChannelPush({ channelId }: { channelId: string }): Promise<{ expiresAt: number | null }> {
      const channel = await load(channelId);
      const adapter = adapterFor(channel.platform);
      if (!adapter.watch) return { expiresAt: null };
      return reported(channelId, async () => {
        const watched = await adapter.watch!(credentialsOf(channel.credentials), accountOf(channel.account));
        return { expiresAt: watched?.expiresAt ?? null };
      });
    },

    /** Revokes platform access where possible (best effort) and forgets the credentials. */
    async revokeChannelAccess({ channelId }: { channelId: string }): Promise<{ revoked: boolean }> {
      const channel = await load(channelId);
      let revoked = false;
      const adapter = adapterFor(channel.platform);
      if (adapter.revoke && channel.credentials) {
        try {
          await adapter.revoke(credentialsOf(channel.credentials), accountOf(channel.account));
          revoked = true;
        } catch (err) {
          await recordError(channelId, err);
        }
      }
      await ChannelModel.updateOne({ _id: channelId }, { $unset: { credentials: 1, pendingAuth: 1, oauthNonceHash: 1 } });
      return { revoked };
    },
  };
}
