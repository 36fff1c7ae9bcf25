// The channel workflow's own logic, on the time-skipping test server (timers fire at once), with its activities stubbed
// (this is a unit test of the workflow; the integration suite runs the real activities).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import type { ChannelStatus } from '../../lib/domain/channel';
import { toolPath } from '../../scripts/stack/tools';
import { channelStatusQuery, disconnectSignal, type channelWorkflow } from '../../workflows/channel';
import { SA_CHANNEL_STATUS } from '../../lib/domain/search-attributes';
import { ensureSearchAttributes } from '../../workers/search-attributes';
import { workflowBundle } from '../helpers/env';

describe('channel workflow', () => {
  let env: TestWorkflowEnvironment;
  const recorded: { channelId: string; status: ChannelStatus; reason?: string }[] = [];

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

  async function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `wf-${Math.random().toString(36).slice(2)}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { recordChannelStatus: async (input: (typeof recorded)[number]) => { recorded.push(input); } },
    });
    return worker.runUntil(fn(taskQueue));
  }

  it('records itself active, answers status queries, and stops on disconnect', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof channelWorkflow>('channelWorkflow', {
        taskQueue, workflowId: `channel:t1:gmail:c1-${taskQueue}`,
        args: [{ tenantId: 't1', channelId: 'c1', platform: 'gmail' }],
      });
      let state = await handle.query(channelStatusQuery);
      for (let i = 0; state.status !== 'active' && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = await handle.query(channelStatusQuery);
      }
      assert.equal(state.status, 'active');
      const described = await handle.describe();
      assert.deepEqual(described.typedSearchAttributes.get(SA_CHANNEL_STATUS), 'active');

      await handle.signal(disconnectSignal, { reason: 'test' });
      const result = await handle.result();
      assert.equal(result.status, 'disconnected');
      assert.equal(result.reason, 'test');
      assert.deepEqual(recorded.filter((r) => r.channelId === 'c1').map((r) => r.status), ['active', 'disconnected']);
    });
  });

  it('fails fast, without retrying, on invalid input', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await env.client.workflow.start('channelWorkflow', {
        taskQueue, workflowId: `bad-${taskQueue}`, args: [{ tenantId: 't1', channelId: 'c2', platform: 'fax' }],
      });
      await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && /known platform/.test(String(err.cause?.message)));
    });
  });
});
