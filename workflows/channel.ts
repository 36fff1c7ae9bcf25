// The channel workflow: one per connected channel, for as long as it stays connected. It owns the
// channel's state machine and is the only writer of its status:
//
//   pending_auth ──connect──▶ active ⇄ syncing (backfill) ⇄ degraded / rate_limited
//        ▲                      │
//        └── reauth_required ◀──┘ (the platform refused our token: stop calling it until reconnected)
//   any ──disconnect──▶ disconnected (revoke what can be revoked; the workflow ends)
//
// It backfills history page by page, then syncs incrementally on an interval and on demand, and
// refreshes tokens on a durable timer before they expire. Inputs, signals, updates, results and
// search attributes carry IDs and states only: credentials stay sealed in MongoDB.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { PLATFORMS, PUSH_WATCH_PLATFORMS, type ChannelStatus, type Platform } from '../lib/domain/channel';
import { SA_CHANNEL_STATUS } from '../lib/domain/search-attributes';

/** Workflow input: IDs only — never a token or a secret (history is visible in the Web UI). */
export interface ChannelWorkflowInput {
  tenantId: string;
  channelId: string;
  platform: Platform;
  /** Incremental sync interval (default 300 s). */
  syncIntervalSeconds?: number;
  /** Continue-as-new past this many history events, if the server has not suggested it sooner. */
  maxHistoryEvents?: number;
  /** State carried across continue-as-new. */
  carried?: CarriedState;
}

interface CarriedState {
  status: ChannelStatus;
  reason?: string;
  tokenExpiresAt: number | null;
  backfillDone: boolean;
  syncRequested: boolean;
  /** Webhook events were waiting when the workflow continued as new. */
  eventsPending?: boolean;
  /** When to renew the platform push (patch push-watch); null: nothing to renew. */
  pushRenewAt?: number | null;
}

export interface ChannelState {
  status: ChannelStatus;
  since: string;
  reason?: string;
  tokenExpiresAt: string | null;
  nextRefreshAt: string | null;
  backfill: { done: boolean; pages: number; messages: number };
  lastSyncAt: string | null;
  lastError: string | null;
  /** Gmail: until when the mailbox pushes changes to us (users.watch; renewed daily). */
  pushExpiresAt?: string | null;
  /** Gmail: why the last request for push was refused (the channel still syncs by polling). */
  pushError?: string | null;
  /** Webhook events drained into the inbox by this run of the workflow. */
  inbox?: { events: number; messages: number; lastDrainAt: string | null };
}

export interface ConnectOutcome { ok: boolean; status: ChannelStatus; message: string }

export const channelStatusQuery = defineQuery<ChannelState>('status');
export const disconnectSignal = defineSignal<[{ reason?: string }]>('disconnect');
export const syncNowSignal = defineSignal('syncNow');
/** The API stored webhook events for this channel (coalesced: at most a few per second). */
export const eventsPendingSignal = defineSignal('eventsPending');
/** Runs the connect step on what the API left sealed in MongoDB (an OAuth code or credentials). */
export const connectUpdate = defineUpdate<ConnectOutcome>('connect');
/** A consent that was denied or abandoned: stays pending_auth, with the reason shown. */
export const authorizationFailedSignal = defineSignal<[{ reason: string }]>('authorizationFailed');
/** A send (or another caller outside this workflow) had its token refused by the platform. */
export const credentialsRejectedSignal = defineSignal<[{ reason: string }]>('credentialsRejected');
export const testConnectionUpdate = defineUpdate<ConnectOutcome>('testConnection');
export const refreshNowUpdate = defineUpdate<ConnectOutcome>('refreshNow');

const { recordChannelStatus, connectChannel, checkChannel, refreshChannelToken, revokeChannelAccess, watchChannelPush } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});
// Draining only writes to MongoDB: retried until it succeeds (events stay queued until applied).
const { drainChannelEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
const { syncChannel } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** Refresh when 80% of the token's remaining life has passed, at least a minute before expiry. */
export function refreshDueAt(tokenExpiresAt: number, now: number): number {
  const remaining = tokenExpiresAt - now;
  return tokenExpiresAt - Math.max(60_000, remaining * 0.2);
}

const MAX_HISTORY_EVENTS = 10_000;
/** Gmail recommends renewing users.watch daily (it lapses after 7 days). */
const PUSH_RENEW_EVERY_MS = 24 * 3600_000;
/** …and never later than this before it lapses (a platform may grant a shorter watch). */
const PUSH_RENEW_MARGIN_MS = 3600_000;
/** A renewal that failed (and did not need reauthorization) is tried again this much later. */
const PUSH_RETRY_MS = 10 * 60_000;

export async function channelWorkflow(input: ChannelWorkflowInput): Promise<ChannelState> {
  if (!input.tenantId || !input.channelId || !PLATFORMS.includes(input.platform)) {
    throw ApplicationFailure.nonRetryable('channelWorkflow needs tenantId, channelId and a known platform', 'InvalidInput');
  }
  const channelId = input.channelId;
  const syncIntervalMs = (input.syncIntervalSeconds ?? 300) * 1000;

  // --- state ---------------------------------------------------------------------------------
  const state: ChannelState = {
    status: input.carried?.status ?? 'pending_auth',
    since: new Date().toISOString(),
    reason: input.carried?.reason,
    tokenExpiresAt: input.carried?.tokenExpiresAt ? new Date(input.carried.tokenExpiresAt).toISOString() : null,
    nextRefreshAt: null,
    backfill: { done: input.carried?.backfillDone ?? false, pages: 0, messages: 0 },
    lastSyncAt: null,
    lastError: null,
    inbox: { events: 0, messages: 0, lastDrainAt: null },
  };
  let tokenExpiresAt = input.carried?.tokenExpiresAt ?? null;
  let syncRequested = input.carried?.syncRequested ?? false;
  let eventsPending = input.carried?.eventsPending ?? false;
  let disconnectRequested: { reason?: string } | undefined;
  /** The platform said to wait until then (patch rate-limit-wait-in-loop). */
  let rateLimitedUntil = 0;
  // A rate limit met by an update handler ("test connection", "refresh now") wakes the main loop,
  // which waits out the delay and moves back to active then — not at its next sync, up to a sync
  // interval later (patch rate-limit-wakes-loop).
  const rateLimitWakesLoop = patched('rate-limit-wakes-loop');
  // Platforms that push only while asked to (patch push-watch; the patch is only looked at for
  // them, so other channels' histories are unchanged). 0: ask at once; null: nothing to ask for.
  const pushWatch = PUSH_WATCH_PLATFORMS.includes(input.platform) && patched('push-watch');
  const carriedRenewAt = input.carried?.pushRenewAt;
  let pushRenewAt: number | null = null;
  if (pushWatch) pushRenewAt = carriedRenewAt === undefined ? 0 : carriedRenewAt;

  async function moveTo(status: ChannelStatus, reason?: string): Promise<void> {
    if (state.status === status && state.reason === reason) return;
    // The workflow's own state first: a request that sees the new status in the database (a
    // reconnect after reauth_required) must find the workflow already in it.
    if (patched('status-before-record')) {
      Object.assign(state, { status, reason, since: new Date().toISOString() });
      await recordChannelStatus({ channelId, status, reason });
    } else {
      await recordChannelStatus({ channelId, status, reason });
      Object.assign(state, { status, reason, since: new Date().toISOString() });
    }
    upsertSearchAttributes([{ key: SA_CHANNEL_STATUS, value: status }]);
    showDetails();
  }
  function showDetails() {
    const b = state.backfill;
    setCurrentDetails([
      `**${state.status}**${state.reason ? `: ${state.reason}` : ''}`,
      `backfill: ${b.done ? 'done' : 'in progress'} (${b.pages} pages, ${b.messages} messages)`,
      `last sync: ${state.lastSyncAt ?? 'never'}; next token refresh: ${state.nextRefreshAt ?? 'none'}`,
      pushWatch ? `push: ${state.pushExpiresAt ? `until ${state.pushExpiresAt}` : 'not set up'}${state.pushError ? ` (last request refused: ${state.pushError})` : ''}` : '',
      state.lastError ? `last error: ${state.lastError}` : '',
    ].filter(Boolean).join('\n'));
  }

  // --- handlers ------------------------------------------------------------------------------
  setHandler(channelStatusQuery, () => state);
  setHandler(disconnectSignal, (request) => { disconnectRequested ??= request; });
  setHandler(syncNowSignal, () => { syncRequested = true; });
  setHandler(eventsPendingSignal, () => { eventsPending = true; });
  setHandler(authorizationFailedSignal, async ({ reason }) => {
    if (state.status === 'pending_auth' || state.status === 'reauth_required') await moveTo(state.status, reason);
  });
  setHandler(credentialsRejectedSignal, async ({ reason }) => {
    if (state.status === 'pending_auth' || state.status === 'reauth_required' || disconnectRequested) return;
    state.lastError = reason;
    await moveTo('reauth_required', reason);
  });
  setHandler(connectUpdate, async (): Promise<ConnectOutcome> => {
    if (state.status !== 'pending_auth' && state.status !== 'reauth_required') {
      return { ok: false, status: state.status, message: 'the channel is not waiting for authorization' };
    }
    try {
      const connected = await connectChannel({ channelId });
      tokenExpiresAt = connected.tokenExpiresAt;
      // Events held while the tenant's earlier channel for this account was disconnected are queued here now.
      if (connected.heldAdopted) eventsPending = true;
      state.tokenExpiresAt = tokenExpiresAt ? new Date(tokenExpiresAt).toISOString() : null;
      state.lastError = null;
      // Resume (or start) syncing from the saved cursor at once — asked before the status moves
      // (patch status-before-record: the main loop may run as soon as it does).
      const statusFirst = patched('status-before-record');
      if (statusFirst) syncRequested = true;
      // A new grant: ask for push again (a reauthorized mailbox may have lost its watch).
      if (pushWatch) pushRenewAt = 0;
      await moveTo('active');
      if (!statusFirst) syncRequested = true;
      return { ok: true, status: 'active', message: `connected to ${connected.accountName}` };
    } catch (err) {
      const message = failureMessage(err);
      state.lastError = message;
      await moveTo(state.status, message);
      return { ok: false, status: state.status, message };
    }
  });
  setHandler(testConnectionUpdate, async (): Promise<ConnectOutcome> => {
    try {
      const checked = await checkChannel({ channelId });
      return { ok: true, status: state.status, message: `credentials work (${checked.accountName})` };
    } catch (err) {
      await handleFailure(err);
      return { ok: false, status: state.status, message: failureMessage(err) };
    }
  });
  setHandler(refreshNowUpdate, async (): Promise<ConnectOutcome> => {
    const ok = await refreshToken();
    return { ok, status: state.status, message: ok ? `token valid until ${state.tokenExpiresAt ?? 'it is revoked'}` : state.lastError ?? 'refresh failed' };
  });

  // --- steps ---------------------------------------------------------------------------------
  /** Applies a failed step to the state machine: reauth stops platform calls until reconnected. */
  async function handleFailure(err: unknown): Promise<void> {
    const message = failureMessage(err);
    state.lastError = message;
    switch (failureType(err)) {
      case 'Reauth':
        await moveTo('reauth_required', message);
        return;
      case 'RateLimited': {
        const waitMs = retryAfterMs(err) ?? 60_000;
        if (patched('rate-limit-wait-in-loop')) {
          // The main loop waits it out, draining webhook events meanwhile (they need no platform
          // call); an update handler that hit the limit returns at once instead of hanging.
          rateLimitedUntil = Math.max(rateLimitedUntil, Date.now() + waitMs);
          await moveTo('rate_limited', message);
          return;
        }
        await moveTo('rate_limited', message);
        await condition(() => disconnectRequested !== undefined, waitMs);
        if (state.status === 'rate_limited') await moveTo('active');
        return;
      }
      default:
        await moveTo('degraded', message);
    }
  }

  async function refreshToken(): Promise<boolean> {
    try {
      const refreshed = await refreshChannelToken({ channelId });
      tokenExpiresAt = refreshed.tokenExpiresAt;
      state.tokenExpiresAt = tokenExpiresAt ? new Date(tokenExpiresAt).toISOString() : null;
      return true;
    } catch (err) {
      await handleFailure(err);
      return false;
    }
  }

  /** Asks the platform to (keep) push(ing) changes; renewed daily, retried later when refused. */
  async function renewPush(): Promise<void> {
    try {
      const { expiresAt } = await watchChannelPush({ channelId });
      state.pushExpiresAt = expiresAt ? new Date(expiresAt).toISOString() : null;
      state.pushError = null;
      pushRenewAt = expiresAt === null ? null : Math.min(expiresAt - PUSH_RENEW_MARGIN_MS, Date.now() + PUSH_RENEW_EVERY_MS);
    } catch (err) {
      // A refused token or a rate limit is the channel's state; any other refusal (e.g. no right to
      // publish to the topic) leaves the channel syncing by polling, with the reason shown.
      const type = failureType(err);
      if (type === 'Reauth' || type === 'RateLimited') await handleFailure(err);
      state.pushError = failureMessage(err);
      pushRenewAt = Date.now() + PUSH_RETRY_MS;
    }
    showDetails();
  }

  async function syncOnce(): Promise<boolean> {
    const mode = state.backfill.done ? 'incremental' : 'backfill';
    try {
      if (mode === 'backfill') await moveTo('syncing', 'backfilling history');
      const result = await syncChannel({ channelId, mode });
      state.lastSyncAt = new Date().toISOString();
      if (mode === 'backfill') {
        state.backfill.pages += result.pages;
        state.backfill.messages += result.messagesInserted;
        state.backfill.done = result.done;
      }
      state.lastError = null;
      if (state.status !== 'active' && (result.done || mode === 'incremental')) await moveTo('active');
      showDetails();
      return true;
    } catch (err) {
      await handleFailure(err);
      return false;
    }
  }

  /** Webhook events into the inbox, batch after batch until the queue is empty. */
  async function drainEvents(): Promise<void> {
    eventsPending = false;
    const drained = await drainChannelEvents({ channelId });
    const inbox = state.inbox!;
    inbox.events += drained.events;
    inbox.messages += drained.messagesInserted;
    inbox.lastDrainAt = new Date().toISOString();
    if (drained.more) eventsPending = true;
    if (drained.syncRequested) syncRequested = true;
  }
  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.maxHistoryEvents ?? MAX_HISTORY_EVENTS);

  // --- the story -----------------------------------------------------------------------------
  showDetails();
  let failures = 0;
  while (!disconnectRequested) {
    // Webhook events first, in any status: storing them needs no platform call.
    if (eventsPending) {
      await drainEvents();
      if (historyIsLong()) break;
      continue;
    }
    // Not authorized (yet, or any more): make no platform calls until connected.
    if (state.status === 'pending_auth' || state.status === 'reauth_required') {
      await condition(() => disconnectRequested !== undefined || eventsPending || (state.status !== 'pending_auth' && state.status !== 'reauth_required'));
      continue;
    }
    // Rate limited: no platform call before the platform's time; "sync now" does not cut it short.
    if (state.status === 'rate_limited' && rateLimitedUntil > 0) {
      if (Date.now() < rateLimitedUntil) { await waitDraining(rateLimitedUntil, { wakeOnSync: false }); continue; }
      rateLimitedUntil = 0;
      await moveTo('active');
      continue;
    }

    const refreshAt = tokenExpiresAt ? refreshDueAt(tokenExpiresAt, Date.now()) : null;
    state.nextRefreshAt = refreshAt ? new Date(refreshAt).toISOString() : null;
    if (refreshAt !== null && Date.now() >= refreshAt) {
      if (!(await refreshToken())) { failures++; await backoff(failures); }
      continue;
    }

    if (pushRenewAt !== null && Date.now() >= pushRenewAt) {
      await renewPush();
      continue;
    }

    syncRequested = false;
    const ok = await syncOnce();
    failures = ok ? 0 : failures + 1;
    if (!ok) { await backoff(failures); continue; }
    if (!state.backfill.done) continue; // keep paging through history

    if (historyIsLong()) break;

    // Sleep until the next sync, a token refresh, webhook events, a "sync now", or a disconnect.
    const wakeAt = Math.min(Date.now() + syncIntervalMs, refreshAt ?? Infinity, pushRenewAt ?? Infinity);
    await waitDraining(wakeAt);
  }

  if (!disconnectRequested) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof channelWorkflow>({
      ...input,
      carried: { status: state.status, reason: state.reason, tokenExpiresAt, backfillDone: state.backfill.done, syncRequested, eventsPending, ...(pushWatch ? { pushRenewAt } : {}) },
    });
  }

  await revokeChannelAccess({ channelId });
  await moveTo('disconnected', disconnectRequested.reason ?? 'disconnected by user');
  await condition(allHandlersFinished);
  return state;

  /** Waits after consecutive failures (30 s, 1 min, 2 min … up to the sync interval), or until disconnect / sync now. */
  async function backoff(n: number): Promise<void> {
    const delay = Math.min(30_000 * 2 ** Math.max(0, n - 1), syncIntervalMs);
    await waitDraining(Date.now() + delay);
  }

  /**
   * Sleeps until `until`, a "sync now" (unless `wakeOnSync` is false), a new rate limit or a
   * disconnect — draining webhook events as they are signalled without cutting the sleep short
   * (events must not trigger platform calls).
   */
  async function waitDraining(until: number, opts: { wakeOnSync: boolean } = { wakeOnSync: true }): Promise<void> {
    const limitedUntil = rateLimitedUntil;
    const woken = () => disconnectRequested !== undefined || (opts.wakeOnSync && syncRequested) || (rateLimitWakesLoop && rateLimitedUntil > limitedUntil);
    for (;;) {
      await condition(() => woken() || eventsPending, Math.max(1, until - Date.now()));
      if (!eventsPending || woken() || Date.now() >= until || historyIsLong()) return;
      await drainEvents();
    }
  }
}

/** The ApplicationFailure type behind an activity failure (activities/failures.ts). */
function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined;
}

function retryAfterMs(err: unknown): number | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as { retryAfterMs?: number } | undefined) : undefined;
  return details?.retryAfterMs;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause ?? err : err;
  return cause instanceof Error ? cause.message : String(cause);
}
