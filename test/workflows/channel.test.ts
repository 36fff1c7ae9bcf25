// The channel workflow's own logic, on the time-skipping test server (timers fire at once), with
// its activities stubbed (a unit test of the state machine; the integration suite runs the real
// activities against the sandbox).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ChannelStatus, Platform } from '../../lib/domain/channel';
import { SA_CHANNEL_STATUS } from '../../lib/domain/search-attributes';
import { toolPath } from '../../scripts/stack/tools';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { channelStatusQuery, connectUpdate, disconnectSignal, eventsPendingSignal, refreshDueAt, syncNowSignal, testConnectionUpdate, type ChannelState, type channelWorkflow } from '../../workflows/channel';
import { workflowBundle } from '../helpers/env';

type Call = { name: string; at: number; args: unknown };

/** Stub activities whose behaviour each test scripts; every call is recorded with the workflow clock. */
function stubs(env: TestWorkflowEnvironment, script: Partial<Record<string, (n: number) => unknown>> = {}) {
  const calls: Call[] = [];
  const counts: Record<string, number> = {};
  const stub = (name: string, fallback: () => unknown) => async (args: unknown) => {
    counts[name] = (counts[name] ?? 0) + 1;
    calls.push({ name, at: (await env.currentTimeMs()) as number, args });
    const fn = script[name];
    return fn ? fn(counts[name]!) : fallback();
  };
  const activities = {
    recordChannelStatus: stub('recordChannelStatus', () => undefined),
    connectChannel: stub('connectChannel', () => ({ accountName: 'Shop', tokenExpiresAt: null, capabilities: ['read'] })),
    syncChannel: stub('syncChannel', () => ({ pages: 1, conversations: 1, messagesInserted: 1, done: true })),
    refreshChannelToken: stub('refreshChannelToken', () => ({ tokenExpiresAt: null })),
    checkChannel: stub('checkChannel', () => ({ ok: true, accountName: 'Shop' })),
    revokeChannelAccess: stub('revokeChannelAccess', () => ({ revoked: true })),
    watchChannelPush: stub('watchChannelPush', () => ({ expiresAt: null })),
    drainChannelEvents: stub('drainChannelEvents', () => ({ events: 1, messagesInserted: 1, statusesApplied: 0, deferred: 0, more: false, syncRequested: false })),
  };
  return { activities, calls, statuses: () => calls.filter((c) => c.name === 'recordChannelStatus').map((c) => (c.args as { status: ChannelStatus }).status) };
}

describe('channel workflow', () => {
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
    });
    // The same registration the worker does at start-up on a namespace that lacks them.
    await ensureSearchAttributes(env.connection, 'default', { info: () => undefined, warn: (...args: unknown[]) => assert.fail(String(args)) });
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(activities: object, fn: (handle: WorkflowHandle<typeof channelWorkflow>) => Promise<void>, opts: { syncIntervalSeconds?: number; platform?: Platform } = {}) {
    const taskQueue = `wf-${Math.random().toString(36).slice(2)}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: `channel:t1:${opts.platform ?? 'messenger'}:${taskQueue}`,
        args: [{ tenantId: 't1', channelId: 'c1', platform: opts.platform ?? 'messenger', syncIntervalSeconds: opts.syncIntervalSeconds ?? 300 }],
      });
      await fn(handle);
    });
  }

  async function waitForState(handle: WorkflowHandle<typeof channelWorkflow>, ok: (s: ChannelState) => boolean) {
    for (let i = 0; i < 100; i++) {
      const st = await handle.query(channelStatusQuery);
      if (ok(st)) return st;
      await new Promise((r) => setTimeout(r, 50));
    }
    return assert.fail(`channel never reached the expected state: ${JSON.stringify(await handle.query(channelStatusQuery))}`);
  }

  async function waitForStatus(handle: WorkflowHandle<typeof channelWorkflow>, status: ChannelStatus) {
    for (let i = 0; i < 100; i++) {
      if ((await handle.query(channelStatusQuery)).status === status) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`channel never became ${status}: ${JSON.stringify(await handle.query(channelStatusQuery))}`);
  }

  it('waits for authorization, connects, backfills page by page, then syncs on its interval', async () => {
    const s = stubs(env, { syncChannel: (n) => ({ pages: 1, conversations: 2, messagesInserted: 10, done: n >= 3 }) });
    await run(s.activities, async (handle) => {
      assert.equal((await handle.query(channelStatusQuery)).status, 'pending_auth');
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, 0, 'no platform calls before authorization');
      const outcome = await handle.executeUpdate(connectUpdate);
      assert.deepEqual(outcome, { ok: true, status: 'active', message: 'connected to Shop' });
      const state = await waitForState(handle, (st) => st.backfill.done && st.status === 'active');
      assert.deepEqual(state.backfill, { done: true, pages: 3, messages: 30 });
      const modes = s.calls.filter((c) => c.name === 'syncChannel').map((c) => (c.args as { mode: string }).mode);
      assert.deepEqual(modes.slice(0, 3), ['backfill', 'backfill', 'backfill']);
      // Then incremental syncs, one per interval of workflow time.
      await env.sleep('16 minutes');
      const incremental = s.calls.filter((c) => c.name === 'syncChannel' && (c.args as { mode: string }).mode === 'incremental');
      assert.ok(incremental.length >= 3 && incremental.length <= 5, `expected ~4 incremental syncs in 16 min at a 5 min interval, got ${incremental.length}`);
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA_CHANNEL_STATUS), 'active');
      await handle.signal(disconnectSignal, { reason: 'test over' });
      assert.equal((await handle.result()).status, 'disconnected');
      assert.equal(s.calls.filter((c) => c.name === 'revokeChannelAccess').length, 1);
    });
  });

  it('refreshes the token on a durable timer before it expires', async () => {
    const s = stubs(env, {
      connectChannel: async () => ({ accountName: 'Shop', tokenExpiresAt: (await env.currentTimeMs()) + 3_600_000, capabilities: [] }),
      refreshChannelToken: async () => ({ tokenExpiresAt: (await env.currentTimeMs()) + 3_600_000 }),
    });
    await run(s.activities, async (handle) => {
      const connectedAt = await env.currentTimeMs();
      await handle.executeUpdate(connectUpdate);
      await env.sleep('2 hours');
      const refreshes = s.calls.filter((c) => c.name === 'refreshChannelToken');
      assert.ok(refreshes.length >= 2, `expected a refresh per hour-long token, got ${refreshes.length}`);
      const first = refreshes[0]!.at - connectedAt;
      assert.ok(first < 3_600_000 && first >= 3_600_000 - 15 * 60_000, `first refresh ${first} ms after connect: before expiry, not much earlier`);
      await handle.signal(disconnectSignal, {});
      await handle.result();
    }, { syncIntervalSeconds: 3600 * 24 });
  });

  it('stops calling the platform after an auth error, and resumes when reconnected', async () => {
    let revoked = true;
    const s = stubs(env, {
      syncChannel: (n) => {
        if (n >= 2 && revoked) throw ApplicationFailure.create({ type: 'Reauth', message: 'messenger: token revoked (190)', nonRetryable: true });
        return { pages: 1, conversations: 1, messagesInserted: 1, done: true };
      },
    });
    await run(s.activities, async (handle) => {
      await handle.executeUpdate(connectUpdate);
      await handle.signal(syncNowSignal);
      await waitForStatus(handle, 'reauth_required');
      const syncsAtReauth = s.calls.filter((c) => c.name === 'syncChannel').length;
      await env.sleep('3 hours');
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, syncsAtReauth, 'no platform calls while reauth is required');
      const state = await handle.query(channelStatusQuery);
      assert.match(state.reason ?? '', /token revoked/);

      revoked = false;
      const outcome = await handle.executeUpdate(connectUpdate);
      assert.equal(outcome.ok, true);
      await waitForStatus(handle, 'active');
      for (let i = 0; i < 50 && s.calls.filter((c) => c.name === 'syncChannel').length === syncsAtReauth; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(s.calls.filter((c) => c.name === 'syncChannel').length > syncsAtReauth, 'sync resumed after reconnect');
      await handle.signal(disconnectSignal, {});
      await handle.result();
    });
  });

  it('shows rate_limited and waits the platform\'s delay before calling again', async () => {
    const s = stubs(env, {
      syncChannel: (n) => {
        if (n === 2) throw ApplicationFailure.create({ type: 'RateLimited', message: 'messenger: rate limited (613)', nonRetryable: true, details: [{ retryAfterMs: 600_000 }] });
        return { pages: 1, conversations: 1, messagesInserted: 0, done: true };
      },
    });
    await run(s.activities, async (handle) => {
      await handle.executeUpdate(connectUpdate);
      await handle.signal(syncNowSignal);
      await waitForStatus(handle, 'rate_limited');
      // While it waits: webhook events are still drained (no platform call needed), and "sync now"
      // does not cut the platform's delay short.
      await handle.signal(eventsPendingSignal);
      await handle.signal(syncNowSignal);
      await waitForState(handle, (st) => (st.inbox?.events ?? 0) > 0);
      assert.equal((await handle.query(channelStatusQuery)).status, 'rate_limited');
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, 2, 'no platform call inside the delay');
      await env.sleep('11 minutes');
      await waitForStatus(handle, 'active');
      const syncs = s.calls.filter((c) => c.name === 'syncChannel');
      assert.ok(syncs[2]!.at - syncs[1]!.at >= 600_000, 'the next call came after Retry-After');
      const transitions = s.statuses().filter((x) => x !== 'syncing').filter((x, i, a) => a[i - 1] !== x);
      assert.deepEqual(transitions.slice(0, 3), ['active', 'rate_limited', 'active']);
      await handle.signal(disconnectSignal, {});
      await handle.result();
    });
  });

  it('a rate limit met by "test connection" ends with the platform\'s delay, not at the next sync', async () => {
    const s = stubs(env, {
      checkChannel: (n) => {
        if (n === 1) throw ApplicationFailure.create({ type: 'RateLimited', message: 'messenger: rate limited (613)', nonRetryable: true, details: [{ retryAfterMs: 60_000 }] });
        return { ok: true, accountName: 'Shop' };
      },
    });
    await run(s.activities, async (handle) => {
      await handle.executeUpdate(connectUpdate);
      await waitForState(handle, (st) => st.backfill.done && st.status === 'active');
      const outcome = await handle.executeUpdate(testConnectionUpdate);
      assert.equal(outcome.ok, false);
      assert.equal(outcome.status, 'rate_limited');
      const limitedAt = await env.currentTimeMs();
      try {
        await env.sleep('2 minutes'); // the next sync is 60 minutes away
        await waitForStatus(handle, 'active');
        const back = s.calls.filter((c) => c.name === 'recordChannelStatus' && (c.args as { status: string }).status === 'active').pop()!;
        assert.ok(back.at - limitedAt >= 59_000 && back.at - limitedAt < 120_000, `active again ${back.at - limitedAt} ms after the limit, once its minute had passed`);
      } finally {
        // A workflow left open would hold the time-skipping server's clock for the tests after it.
        await handle.signal(disconnectSignal, {});
        await handle.result();
      }
    }, { syncIntervalSeconds: 3600 });
  });

  it('a failed connect leaves the channel waiting for authorization, with the reason', async () => {
    const s = stubs(env, { connectChannel: () => { throw ApplicationFailure.create({ type: 'PermanentPlatformError', message: 'instagram: not a business account', nonRetryable: true }); } });
    await run(s.activities, async (handle) => {
      const outcome = await handle.executeUpdate(connectUpdate);
      assert.deepEqual(outcome, { ok: false, status: 'pending_auth', message: 'instagram: not a business account' });
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, 0);
      await handle.signal(disconnectSignal, {});
      assert.equal((await handle.result()).status, 'disconnected');
    });
  });

  it('continues as new before its history grows large, carrying its state (no second backfill)', async () => {
    const s = stubs(env);
    const taskQueue = `wf-${Math.random().toString(36).slice(2)}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: s.activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: `channel:t1:messenger:${taskQueue}`,
        args: [{ tenantId: 't1', channelId: 'c1', platform: 'messenger', syncIntervalSeconds: 60, maxHistoryEvents: 40 }],
      });
      await handle.executeUpdate(connectUpdate);
      await env.sleep('1 hour');
      const firstRun = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
      assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW');
      const latest = env.client.workflow.getHandle(handle.workflowId);
      assert.notEqual((await latest.describe()).runId, handle.firstExecutionRunId);
      const state = await latest.query(channelStatusQuery);
      assert.equal(state.status, 'active');
      assert.equal(state.backfill.done, true);
      const modes = s.calls.filter((c) => c.name === 'syncChannel').map((c) => (c.args as { mode: string }).mode);
      assert.equal(modes.filter((m) => m === 'backfill').length, 1, 'backfilled once across runs');
      assert.ok(modes.length > 20, `kept syncing across runs (${modes.length} syncs)`);
      assert.equal(s.calls.filter((c) => c.name === 'connectChannel').length, 1, 'stayed connected across runs');
      await latest.signal(disconnectSignal, {});
      assert.equal((await latest.result()).status, 'disconnected');
    });
  });

  it('drains webhook events when signalled, batch after batch, without syncing early or skipping a sync', async () => {
    const s = stubs(env, {
      drainChannelEvents: (n) => ({ events: 1000, messagesInserted: 1000, statusesApplied: 0, deferred: 0, more: n % 3 !== 0, syncRequested: false }),
    });
    await run(s.activities, async (handle) => {
      await handle.executeUpdate(connectUpdate);
      await waitForState(handle, (st) => st.backfill.done);
      const syncsBefore = s.calls.filter((c) => c.name === 'syncChannel').length;
      await handle.signal(eventsPendingSignal);
      const st = await waitForState(handle, (x) => (x.inbox?.events ?? 0) >= 3000);
      assert.equal(st.inbox?.messages, 3000, 'full batches are followed by another drain until one is not full');
      assert.equal(s.calls.filter((c) => c.name === 'drainChannelEvents').length, 3);
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, syncsBefore, 'events do not trigger a platform sync');
      await env.sleep('6 minutes');
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, syncsBefore + 1, 'the interval sync still happens on time');
      await handle.signal(disconnectSignal, {});
      await handle.result();
    });
  });

  it('drains events while waiting for authorization, and a Gmail-style hint runs an incremental sync', async () => {
    const s = stubs(env, {
      drainChannelEvents: (n) => ({ events: 1, messagesInserted: 0, statusesApplied: 0, deferred: 0, more: false, syncRequested: n === 2 }),
    });
    await run(s.activities, async (handle) => {
      await handle.signal(eventsPendingSignal);
      await waitForState(handle, (x) => (x.inbox?.events ?? 0) === 1);
      assert.equal((await handle.query(channelStatusQuery)).status, 'pending_auth');
      assert.equal(s.calls.filter((c) => c.name === 'syncChannel').length, 0, 'still no platform call before authorization');
      await handle.executeUpdate(connectUpdate);
      await waitForState(handle, (st) => st.backfill.done);
      const syncsBefore = s.calls.filter((c) => c.name === 'syncChannel').length;
      await handle.signal(eventsPendingSignal);
      await waitForState(handle, (x) => (x.inbox?.events ?? 0) === 2);
      for (let i = 0; i < 50 && s.calls.filter((c) => c.name === 'syncChannel').length === syncsBefore; i++) await new Promise((r) => setTimeout(r, 50));
      const syncs = s.calls.filter((c) => c.name === 'syncChannel').slice(syncsBefore);
      assert.equal(syncs.length, 1, 'the hint asked for one sync');
      assert.equal((syncs[0]!.args as { mode: string }).mode, 'incremental');
      await handle.signal(disconnectSignal, {});
      await handle.result();
    });
  });

  it('Gmail: asks for push once connected and renews it daily; a refusal is shown and retried, syncing goes on', async () => {
    const day = 86_400_000;
    const s = stubs(env, {
      watchChannelPush: async (n) => {
        if (n === 3) throw ApplicationFailure.create({ type: 'PlatformPermanent', message: 'no right to publish to the topic', nonRetryable: true });
        return { expiresAt: (await env.currentTimeMs()) + 7 * day };
      },
    });
    const watches = () => s.calls.filter((c) => c.name === 'watchChannelPush');
    await run(s.activities, async (handle) => {
      const connectedAt = await env.currentTimeMs();
      await handle.executeUpdate(connectUpdate);
      const first = await waitForState(handle, (st) => st.backfill.done && !!st.pushExpiresAt);
      assert.ok(Date.parse(first.pushExpiresAt!) - connectedAt >= 7 * day - 60_000, 'the watch lasts a week');
      assert.equal(watches().length, 1);
      await env.sleep('25 hours');
      assert.equal(watches().length, 2, 'renewed after a day, long before it lapses');
      assert.ok(watches()[1]!.at - watches()[0]!.at <= day + 60_000);
      await env.sleep(23 * 3600_000 + 5 * 60_000); // the next renewal, 48 h in, is refused
      const refused = await waitForState(handle, (st) => st.pushError === 'no right to publish to the topic');
      assert.equal(refused.status, 'active', 'the mailbox is still synced by polling');
      await env.sleep('11 minutes');
      const renewed = await waitForState(handle, (st) => st.pushError === null);
      assert.ok(watches().length >= 4, 'asked again ten minutes later');
      assert.ok(Date.parse(renewed.pushExpiresAt!) > Date.parse(first.pushExpiresAt!));
      await handle.signal(disconnectSignal, {});
      await handle.result();
    }, { syncIntervalSeconds: 3600 * 24, platform: 'gmail' });
    // Other platforms never ask.
    const other = stubs(env);
    await run(other.activities, async (handle) => {
      await handle.executeUpdate(connectUpdate);
      await waitForState(handle, (st) => st.backfill.done);
      await handle.signal(disconnectSignal, {});
      await handle.result();
    });
    assert.equal(other.calls.filter((c) => c.name === 'watchChannelPush').length, 0);
  });

  it('fails fast, without retrying, on invalid input', async () => {
    const taskQueue = `wf-${Math.random().toString(36).slice(2)}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: stubs(env).activities });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('channelWorkflow', { taskQueue, workflowId: `bad-${taskQueue}`, args: [{ tenantId: 't1', channelId: 'c2', platform: 'fax' }] });
      await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && /known platform/.test(String(err.cause?.message)));
    });
  });

  it('plans refreshes at 80% of the remaining life, never closer than a minute to expiry', () => {
    assert.equal(refreshDueAt(1_000_000 + 3_600_000, 1_000_000), 1_000_000 + 2_880_000);
    assert.equal(refreshDueAt(1_000_000 + 120_000, 1_000_000), 1_000_000 + 60_000);
  });
});
