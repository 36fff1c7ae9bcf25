// Replies through the real API, worker and send workflow to the Messenger sandbox, with its
// echo/delivery/read webhooks flowing back: one platform send per Idempotency-Key, exactly once
// under injected 5xx and 429s, window_closed before any platform call, a revoked token failing the
// message with reauth_required and flagging the channel, retry by API, and tenant isolation.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { ConversationModel, MessageModel, TenantEventModel } from '../../models';
import { statusRank } from '../../lib/domain/message-status';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { connectMessenger } from '../helpers/channels';
import { messageSettled, messengerCustomerWrites } from '../helpers/conversations';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';

describe('sending replies', () => {
  const taskQueue = uniqueName('send');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let channelId = '';
  let workflowId = '';

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta'], world: { conversations: 1, messagesPerConversation: 1 } }, listen: true, redirectUris: ['meta'], webhookTargets: ['meta'] });
    ({ sb, api, key } = stack);
    ({ id: channelId, workflowId } = await connectMessenger(api, key, PAGE));
  });
  after(() => stack?.close());

  /** A customer writes (through the sandbox, so its webhook reaches us). */
  const customerWrites = (text: string, customerId?: string) => messengerCustomerWrites(sb, channelId, PAGE, text, customerId);
  const reply = (conversationId: string, body: unknown, idempotencyKey?: string, k = key) =>
    api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key: k, body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  // Long enough for a rate-limited send to wait out the platform's delay (an HTTP 429 without
  // Retry-After is retried after 60 s) and go out.
  const settled = (id: string) => messageSettled(api, key, id, 150_000);
  const platformSends = async () => (await sb.admin('GET', '/requests?platform=meta')).json.data
    .filter((r: { method: string; path: string; status: number }) => r.method === 'POST' && /\/messages$/.test(r.path) && r.status === 200).length;

  it('sends a reply once per Idempotency-Key; the echo does not duplicate it and statuses move it on', async () => {
    const { conversationId } = await customerWrites('Hi, is the shop open on Sunday?');
    const before = await platformSends();
    const first = await reply(conversationId, { text: 'Yes, 10 to 16h.' }, 'reply-1');
    assert.equal(first.status, 202, first.text);
    assert.equal(first.json.message.status, 'pending');
    const again = await reply(conversationId, { text: 'Yes, 10 to 16h.' }, 'reply-1');
    assert.equal(again.json.message.id, first.json.message.id, 'the same key is the same message');
    const sent = await settled(first.json.message.id);
    assert.ok(['sent', 'delivered', 'read'].includes(sent.status), sent.status);
    assert.ok(sent.externalId);
    await eventually('delivery and read webhooks applied to our message', async () => (await api.call('GET', `/v1/messages/${encodeURIComponent(sent.id)}`, { key })).json.message.status === 'read');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await platformSends()) - before, 1, 'one platform send for two requests');
    const messages = (await api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key })).json.data;
    assert.equal(messages.filter((m: { text: string }) => m.text === 'Yes, 10 to 16h.').length, 1, 'the echo webhook did not add a copy');
    const conv = (await api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}`, { key })).json.conversation;
    assert.equal(conv.lastMessagePreview, 'Yes, 10 to 16h.');
    assert.equal(conv.unreadCount, 0, 'a reply resets unread');
  });

  it('a reply stored by an API that died before announcing and sending it: the client\'s retry announces and sends it, once', async () => {
    const { conversationId } = await customerWrites('Anyone there?');
    const conv = (await ConversationModel.findById(conversationId).lean())!;
    const tenantId = String(stack.tenantId);
    // What the first request wrote before the process died: the message, no event, no send workflow.
    const hash = createHash('sha256').update(`${tenantId}:died-1`).digest('hex').slice(0, 32);
    const messageId = `${channelId}:out:${hash}`;
    const now = new Date();
    await MessageModel.collection.insertOne({
      _id: messageId, tenantId: conv.tenantId, channelId: conv.channelId, conversationId, platform: conv.platform, direction: 'outbound', sender: {},
      status: 'pending', statusRank: statusRank('pending'), text: 'Yes, here', attachments: [], idempotencyKey: `${tenantId}:${hash}`, platformTimestamp: now, createdAt: now, updatedAt: now,
    } as never);
    const before = await platformSends();
    const retried = await reply(conversationId, { text: 'Yes, here' }, 'died-1');
    assert.equal(retried.status, 202, retried.text);
    assert.equal(retried.json.message.id, messageId);
    assert.ok(['sent', 'delivered', 'read'].includes((await settled(messageId)).status));
    assert.equal((await reply(conversationId, { text: 'Yes, here' }, 'died-1')).status, 202);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await TenantEventModel.countDocuments({ key: `message.created:${messageId}` }), 1, 'announced once');
    assert.equal((await platformSends()) - before, 1, 'sent once');
  });

  it('delivers every reply exactly once with 20 % injected 5xx and a 429 burst', async () => {
    const { conversationId } = await customerWrites('Several questions coming');
    const before = await platformSends();
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 0.2, errorStatus: 503 });
    await sb.admin('POST', '/faults', { platform: 'meta', endpoint: 'send', errorRate: 1, errorStatus: 429, remaining: 2 });
    try {
      const ids = [];
      for (let i = 0; i < 8; i++) ids.push((await reply(conversationId, { text: `answer ${i}` }, `burst-${i}`)).json.message.id);
      const outcomes = await Promise.all(ids.map(settled));
      assert.ok(outcomes.every((m) => ['sent', 'delivered', 'read'].includes(m.status)), JSON.stringify(outcomes.map((m) => m.status)));
    } finally {
      await sb.admin('DELETE', '/faults');
    }
    assert.equal((await platformSends()) - before, 8, 'each reply reached the platform once');
  });

  it('fails fast with window_closed outside the 24 h window, and the human-agent tag goes through', async () => {
    // A customer whose last message is two days old (a late webhook for an old message).
    const ts = Date.now() - 2 * 86_400_000;
    const body = metaJson({ object: 'page', entry: [{ id: PAGE, time: ts, messaging: [{ sender: { id: '555000' }, recipient: { id: PAGE }, timestamp: ts, message: { mid: 'm_old_1', text: 'old question' } }] }] });
    assert.equal((await api.call('POST', '/webhooks/meta', { rawBody: body, headers: { 'x-hub-signature-256': signMetaBody(body, DEFAULT_APPS.meta!.secret) } })).status, 200);
    await eventually('old message stored', () => MessageModel.findById(`${channelId}:m_old_1`).lean());
    const before = await platformSends();
    const closed = await settled((await reply(`${channelId}:555000`, { text: 'Sorry for the delay' }, 'late-1')).json.message.id);
    assert.equal(closed.status, 'failed');
    assert.equal(closed.error.code, 'window_closed');
    assert.match(closed.error.message, /7 days with humanAgent/);
    assert.equal(await platformSends(), before, 'no platform call');
  });

  it('a revoked token fails the reply with reauth_required and flags the channel; retry calls the platform again', async () => {
    const { conversationId } = await customerWrites('Still there?');
    const { json } = await sb.admin('GET', '/tokens?platform=meta');
    const pageTokens = (json.data ?? json).filter((t: { kind: string; subject: string }) => t.kind === 'page' && t.subject === PAGE);
    await sb.admin('POST', '/tokens/revoke', { subject: PAGE });
    const failed = await settled((await reply(conversationId, { text: 'Yes!' }, 'revoked-1')).json.message.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'reauth_required');
    await eventually('channel flagged', async () => (await api.call('GET', `/v1/channels/${channelId}`, { key })).json.channel.status === 'reauth_required');
    assert.ok(workflowId && pageTokens);
    const retried = await api.call('POST', `/v1/messages/${encodeURIComponent(failed.id)}/retry`, { key });
    assert.equal(retried.status, 202);
    const again = await settled(failed.id);
    assert.equal(again.error.code, 'reauth_required', 'the channel still needs reconnecting: the retry checked again');
    assert.equal((await api.call('POST', `/v1/messages/${encodeURIComponent(failed.id)}/retry`, { key })).status, 202);
    assert.equal((await api.call('POST', `/v1/messages/${encodeURIComponent(`${channelId}:m_old_1`)}/retry`, { key })).status, 409, 'only failed messages');
  });

  it('refuses bad input and other tenants', async () => {
    const other = (await createTenantWithAdminKey('Other')).secret;
    const conversationId = `${channelId}:555000`;
    assert.equal((await reply(conversationId, {})).status, 400);
    assert.equal((await reply(conversationId, { media: { type: 'image', url: 'ftp://x/y.png' } })).status, 400);
    // Media URLs on private networks (the platform or our worker would fetch them): refused, nothing stored.
    const before = await MessageModel.countDocuments({ conversationId });
    for (const url of ['http://169.254.169.254/latest/meta-data/iam/info', 'http://10.1.2.3/secret.png', 'http://[::ffff:192.168.0.1]/a.png']) {
      const refused = await reply(conversationId, { media: { type: 'image', url } });
      assert.equal(refused.status, 400, url);
      assert.equal(refused.json.error.code, 'media_url_not_allowed', url);
    }
    assert.equal(await MessageModel.countDocuments({ conversationId }), before);
    assert.equal((await reply(conversationId, { text: 'hi' }, undefined, other)).status, 404);
    const mine = (await reply(conversationId, { text: 'x' }, 'iso-1')).json.message.id;
    assert.equal((await api.call('GET', `/v1/messages/${encodeURIComponent(mine)}`, { key: other })).status, 404);
    assert.equal((await api.call('POST', `/v1/messages/${encodeURIComponent(mine)}/retry`, { key: other })).status, 404);
  });
});
