// Outgoing webhooks end to end: an integrator's real HTTP server registered through the API receives
// the tenant's events signed with its secret (checked with the documented scheme), only the types it
// asked for; a failing receiver is retried on the backoff schedule until it answers, every attempt in
// the delivery log; redeliver sends an event again; pause, delete and other tenants behave.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { verifyPayload } from '../../lib/outgoing-signature';
import { connectMessenger } from '../helpers/channels';
import { messengerCustomerWrites } from '../helpers/conversations';
import { capturedLogs, eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';

interface Received { path: string; headers: Record<string, string>; body: string; json: { id: string; type: string; data: Record<string, unknown> } }

/** An integrator's endpoint: records what it gets; answers each path with the next queued status. */
async function startReceiver() {
  const received: Received[] = [];
  const failNext = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body, json: JSON.parse(body) });
      const queue = failNext.get(req.url ?? '') ?? [];
      res.writeHead(queue.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, failNext, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('outgoing webhooks', () => {
  const taskQueue = uniqueName('outhooks');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let key = '';
  let channelId = '';

  before(async () => {
    receiver = await startReceiver();
    stack = await useInboxStack(taskQueue, {
      sandbox: { platforms: ['meta'], world: { conversations: 1, messagesPerConversation: 1 } }, listen: true,
      workerDeps: { webhookRetryDelaysMs: [300, 600, 900], webhookPollMs: 100 },
      redirectUris: ['meta'], webhookTargets: ['meta'],
    });
    ({ sb, api, key } = stack);
    ({ id: channelId } = await connectMessenger(api, key, PAGE));
  });
  after(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const register = (body: unknown, k = key) => api.call('POST', '/v1/webhook-endpoints', { key: k, body });
  const customerWrites = (text: string) => messengerCustomerWrites(sb, channelId, PAGE, text);
  const at = (path: string) => receiver.received.filter((r) => r.path === path);

  it('delivers each new event signed with the endpoint\'s secret, only the types it asked for', async () => {
    const created = await register({ url: `${receiver.url}/all`, description: 'CRM sync' });
    assert.equal(created.status, 201, created.text);
    const secret: string = created.json.secret;
    assert.match(secret, /^whsec_/);
    const statusesOnly = await register({ url: `${receiver.url}/statuses`, events: ['message.status'] });
    const { conversationId, messageId } = await customerWrites('Where is my order?');
    const reply = await api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key, body: { text: 'On its way!' }, headers: { 'idempotency-key': 'hook-1' } });
    const replyId = reply.json.message.id;

    const inbound = await eventually('inbound delivered', async () => at('/all').find((r) => r.json.type === 'message.created' && r.json.data.messageId === messageId));
    assert.ok(verifyPayload(secret, inbound.body, inbound.headers['switchboard-signature']!), 'signature checks out with the secret');
    assert.ok(!verifyPayload(secret, inbound.body.replace('Where', 'When'), inbound.headers['switchboard-signature']!), 'a changed body does not');
    assert.ok(!verifyPayload('whsec_other', inbound.body, inbound.headers['switchboard-signature']!), 'another secret does not');
    assert.equal(inbound.headers['switchboard-event-type'], 'message.created');
    assert.equal(inbound.headers['switchboard-event-id'], inbound.json.id);
    assert.equal(inbound.json.data.text, 'Where is my order?');

    await eventually('reply read, on both endpoints', async () =>
      at('/all').some((r) => r.json.data.messageId === replyId && r.json.data.status === 'read') && at('/statuses').some((r) => r.json.data.messageId === replyId && r.json.data.status === 'read'), 30_000);
    assert.ok(at('/statuses').every((r) => r.json.type === 'message.status'), 'only the types asked for');
    assert.deepEqual(at('/all').filter((r) => r.json.data.messageId === replyId && r.json.type === 'message.status').map((r) => r.json.data.status), ['sent', 'delivered', 'read']);
    const ids = at('/all').map((r) => Number(r.json.id));
    assert.equal(new Set(ids).size, ids.length, 'each event once');

    const log = await api.call('GET', `/v1/webhook-endpoints/${statusesOnly.json.endpoint.id}/deliveries`, { key });
    assert.equal(log.status, 200);
    assert.ok(log.json.data.length >= 3 && log.json.data.every((d: { state: string; attempts: number }) => d.state === 'delivered' && d.attempts === 1));
    const shown = await api.call('GET', `/v1/webhook-endpoints/${created.json.endpoint.id}`, { key });
    assert.ok(!shown.text.includes(secret), 'the secret is never shown again');
    assert.equal(shown.json.endpoint.secretHint, `…${secret.slice(-4)}`);
  });

  it('retries a failing endpoint with backoff until it answers, logging every attempt; redeliver sends again', async () => {
    const created = await register({ url: `${receiver.url}/flaky`, events: ['message.created'] });
    const endpointId = created.json.endpoint.id;
    receiver.failNext.set('/flaky', [500, 503]);
    const { messageId } = await customerWrites('Anyone?');
    const got = await eventually('delivered on the third attempt', async () => {
      const tries = at('/flaky').filter((r) => r.json.data.messageId === messageId);
      return tries.length === 3 && tries;
    });
    assert.deepEqual(got.map((r) => r.headers['switchboard-attempt']), ['1', '2', '3']);
    const eventId = got[0]!.json.id;
    const delivery = await eventually('logged as delivered', async () => {
      const d = (await api.call('GET', `/v1/webhook-endpoints/${endpointId}/deliveries/${eventId}`, { key })).json.delivery;
      return d.state === 'delivered' && d;
    });
    assert.equal(delivery.attempts, 3);
    assert.deepEqual(delivery.log.map((l: { status: number }) => l.status), [500, 503, 200]);

    const again = await api.call('POST', `/v1/webhook-endpoints/${endpointId}/deliveries/${eventId}/redeliver`, { key });
    assert.equal(again.status, 202, again.text);
    await eventually('sent again', async () => at('/flaky').filter((r) => r.json.id === eventId).length === 4);
  });

  it('gives up after the last retry and says so; a dead URL is a logged failure, not a crash', async () => {
    const created = await register({ url: 'http://127.0.0.1:9/nothing-listens', events: ['message.created'] });
    await customerWrites('Hello from a dead URL test');
    const failed = await eventually('failed for good', async () => {
      const list = (await api.call('GET', `/v1/webhook-endpoints/${created.json.endpoint.id}/deliveries?state=failed`, { key })).json.data;
      return list.length > 0 && list[0];
    }, 30_000);
    assert.equal(failed.attempts, 4, 'the first attempt and three retries');
    assert.match(failed.log[0].error, /could not connect/);
    assert.equal(failed.nextAttemptAt, null);
  });

  it('stops delivering when paused or deleted', async () => {
    const created = await register({ url: `${receiver.url}/paused`, events: ['message.created'] });
    const id = created.json.endpoint.id;
    assert.equal((await api.call('PATCH', `/v1/webhook-endpoints/${id}`, { key, body: { active: false } })).json.endpoint.active, false);
    await customerWrites('While paused');
    const deleted = await register({ url: `${receiver.url}/deleted`, events: ['message.created'] });
    assert.equal((await api.call('DELETE', `/v1/webhook-endpoints/${deleted.json.endpoint.id}`, { key })).status, 204);
    await customerWrites('After delete');
    await eventually('another endpoint got it, so the paused one had its chance', async () => at('/all').some((r) => r.json.data.text === 'After delete'));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(at('/paused').length, 0);
    assert.equal(at('/deleted').length, 0);
    assert.equal((await api.call('GET', `/v1/webhook-endpoints/${deleted.json.endpoint.id}`, { key })).status, 404);
  });

  it('refuses bad input, agents and other tenants; keeps secrets out of logs', async () => {
    assert.equal((await register({ url: 'not a url' })).status, 400);
    assert.match((await register({ url: 'ftp://x.example/hook' })).text, /http or https/);
    assert.equal((await register({ url: `${receiver.url}/x`, events: ['message.deleted'] })).status, 400);
    assert.equal((await register({ url: `${receiver.url}/x`, extra: 1 })).status, 400);
    const other = (await createTenantWithAdminKey('Other')).secret;
    const mine = (await api.call('GET', '/v1/webhook-endpoints', { key })).json.data[0].id;
    assert.equal((await api.call('GET', `/v1/webhook-endpoints/${mine}`, { key: other })).status, 404);
    assert.equal((await api.call('GET', `/v1/webhook-endpoints/${mine}/deliveries`, { key: other })).status, 404);
    assert.equal((await api.call('POST', `/v1/webhook-endpoints/${mine}/deliveries/1/redeliver`, { key: other })).status, 404);
    assert.equal((await api.call('GET', '/v1/webhook-endpoints', { key: other })).json.data.length, 0);
    const agent = await api.call('POST', '/v1/api-keys', { key, body: { name: 'agent', role: 'agent' } });
    assert.equal((await api.call('GET', '/v1/webhook-endpoints', { key: agent.json.secret })).status, 403);
    const rotated = await api.call('POST', `/v1/webhook-endpoints/${mine}/rotate-secret`, { key });
    assert.equal(rotated.status, 200);
    assert.ok(!capturedLogs.some((l) => l.includes(rotated.json.secret)), 'no secret in the logs');
  });

  it('refuses URLs on private networks (SSRF): the cloud metadata address, internal ranges, by name or number', async () => {
    const before = (await api.call('GET', '/v1/webhook-endpoints', { key })).json.data.length;
    // 127.0.0.1 is allowed in this stack: the sandbox lives there (PlatformConfig.tenantNetwork), and so do the test receivers.
    for (const url of ['http://169.254.169.254/latest/meta-data/iam', 'http://10.0.0.5:8080/hook', 'https://192.168.1.1/hook', 'http://[fd12::1]/hook', 'http://[::ffff:172.16.0.1]/hook']) {
      const res = await register({ url });
      assert.equal(res.status, 400, url);
      assert.equal(res.json.error.code, 'url_not_allowed', url);
      assert.match(res.json.error.message, /private or reserved address/);
    }
    assert.equal((await api.call('GET', '/v1/webhook-endpoints', { key })).json.data.length, before, 'nothing registered');
    const mine = (await api.call('GET', '/v1/webhook-endpoints', { key })).json.data[0];
    const moved = await api.call('PATCH', `/v1/webhook-endpoints/${mine.id}`, { key, body: { url: 'http://169.254.169.254/latest' } });
    assert.equal(moved.status, 400);
    assert.equal((await api.call('GET', `/v1/webhook-endpoints/${mine.id}`, { key })).json.endpoint.url, mine.url, 'the URL is unchanged');
  });
});
