// Connecting channels through the real API the way a user does, for tests and benchmarks.
import assert from 'node:assert/strict';
import type { createTestApi } from './api';
import { eventually } from './env';

type TestApi = Awaited<ReturnType<typeof createTestApi>>;

export interface ChannelToConnect {
  platform: string;
  /** The channel's name (default: the platform). */
  name?: string;
  settings?: unknown;
  credentials?: unknown;
  /** OAuth platforms: the query parameter that makes the sandbox's consent page approve. */
  approve?: string;
}

/**
 * Creates a channel, approves the sandbox's consent (OAuth) and lands on our callback, then waits
 * until it is active with its backfill done; returns the channel's API view at that point.
 */
export async function connectChannel(api: TestApi, key: string, c: ChannelToConnect, timeoutMs = 60_000) {
  const body = { platform: c.platform, name: c.name ?? c.platform, ...(c.settings !== undefined ? { settings: c.settings } : {}), ...(c.credentials !== undefined ? { credentials: c.credentials } : {}) };
  const created = await api.call('POST', '/v1/channels', { key, body });
  assert.equal(created.status, 201, created.text);
  if (c.approve) {
    const consent = await fetch(`${created.json.authorizeUrl}&${c.approve}`, { redirect: 'manual' });
    const location = new URL(consent.headers.get('location')!);
    const callback = await api.call('GET', `${location.pathname}${location.search}`);
    assert.equal(callback.status, 200, callback.text);
  }
  const id: string = created.json.channel.id;
  const channel = await eventually(`${c.platform} connected and backfilled`, async () => {
    const ch = (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;
    return ch.backfill.done && ch.status === 'active' && ch;
  }, timeoutMs);
  return { id, workflowId: created.json.channel.workflowId as string, channel };
}

/** Creates a Messenger channel for `pageId`, approves the sandbox consent, waits for the backfill. */
export async function connectMessenger(api: TestApi, key: string, pageId: string, name = 'Shop'): Promise<{ id: string; workflowId: string }> {
  const { id, workflowId } = await connectChannel(api, key, { platform: 'messenger', name, settings: { pageId }, approve: 'sandbox_action=approve' });
  return { id, workflowId };
}
