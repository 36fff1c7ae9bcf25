// Connecting channels through the real API the way a user does, for tests and benchmarks.
import assert from 'node:assert/strict';
import type { createTestApi } from './api';
import { eventually } from './env';

type TestApi = Awaited<ReturnType<typeof createTestApi>>;

/** Creates a Messenger channel for `pageId`, approves the sandbox consent, waits for the backfill. */
export async function connectMessenger(api: TestApi, key: string, pageId: string, name = 'Shop'): Promise<{ id: string; workflowId: string }> {
  const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'messenger', name, settings: { pageId } } });
  assert.equal(created.status, 201, created.text);
  const res = await fetch(`${created.json.authorizeUrl}&sandbox_action=approve`, { redirect: 'manual' });
  const location = new URL(res.headers.get('location')!);
  const callback = await api.call('GET', `${location.pathname}${location.search}`);
  assert.equal(callback.status, 200, callback.text);
  const id: string = created.json.channel.id;
  await eventually('backfill done', async () => {
    const ch = (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;
    return ch.backfill.done && ch.status === 'active';
  }, 60_000);
  return { id, workflowId: created.json.channel.workflowId };
}
