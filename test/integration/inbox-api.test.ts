// The unified inbox API over real data: a Messenger channel backfilled from the sandbox and fed by
// signed webhooks, drained by the real worker. Filters, search, paging both ways, agent actions,
// contacts, and another tenant seeing none of it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { connectMessenger } from '../helpers/channels';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';

describe('inbox API', () => {
  const taskQueue = uniqueName('inbox');
  let stack: InboxStack;
  let api: InboxStack['api'];
  let key = '';
  let other = '';
  let channelId = '';
  const base = Date.now() - 3_600_000;

  async function deliver(messaging: unknown[]) {
    const body = metaJson({ object: 'page', entry: [{ id: PAGE, time: Date.now(), messaging }] });
    const res = await api.call('POST', '/webhooks/meta', { rawBody: body, headers: { 'x-hub-signature-256': signMetaBody(body, DEFAULT_APPS.meta!.secret) } });
    assert.equal(res.status, 200, res.text);
  }
  const inbound = (psid: string, mid: string, text: string, ts: number) => ({ sender: { id: psid }, recipient: { id: PAGE }, timestamp: ts, message: { mid, text } });
  const echo = (psid: string, mid: string, text: string, ts: number) => ({ sender: { id: PAGE }, recipient: { id: psid }, timestamp: ts, message: { mid, text, is_echo: true } });
  const get = (path: string, k = key) => api.call('GET', path, { key: k });
  const post = (path: string, body?: unknown, k = key) => api.call('POST', path, { key: k, ...(body === undefined ? {} : { body }) });
  const conv = (psid: string) => encodeURIComponent(`${channelId}:${psid}`);

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta'], world: { conversations: 2, messagesPerConversation: 2 } } });
    ({ api, key } = stack);
    other = (await createTenantWithAdminKey('Other')).secret;
    channelId = (await connectMessenger(api, key, PAGE)).id;
    // 60 messages from Ana (one conversation), a reply, and one message from Bruno.
    const ana = Array.from({ length: 60 }, (_, i) => inbound('800001', `m_ana_${i}`, `Ana question ${i}`, base + i * 1000));
    for (let i = 0; i < ana.length; i += 20) await deliver(ana.slice(i, i + 20));
    await deliver([echo('800001', 'm_reply_1', 'We ship to Graz, yes', base + 61_000), inbound('800002', 'm_bruno_1', 'Do you have the red scarf?', base + 30_000)]);
    await eventually('drained', async () => (await WebhookEventModel.countDocuments({ state: 'pending' })) === 0 && (await get(`/v1/conversations/${conv('800002')}`)).status === 200);
  });
  after(() => stack?.close());

  it('lists conversations across the tenant, most recent first, with filters', async () => {
    const all = await get('/v1/conversations');
    assert.equal(all.status, 200);
    const ids = all.json.data.map((c: { id: string }) => c.id);
    assert.ok(ids.includes(`${channelId}:800001`) && ids.includes(`${channelId}:800002`));
    const times = all.json.data.map((c: { lastMessageAt: string | null }) => (c.lastMessageAt ? Date.parse(c.lastMessageAt) : 0));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'sorted by last activity');
    const ana = all.json.data.find((c: { id: string }) => c.id === `${channelId}:800001`);
    assert.equal(ana.unreadCount, 0, 'the business replied after her last message');
    assert.equal(ana.lastMessagePreview, 'We ship to Graz, yes');
    const unread = await get('/v1/conversations?unread=true');
    assert.ok(unread.json.data.every((c: { unreadCount: number }) => c.unreadCount > 0));
    assert.ok(unread.json.data.some((c: { id: string }) => c.id === `${channelId}:800002`));
    assert.equal((await get('/v1/conversations?platform=gmail')).json.data.length, 0);
    assert.equal((await get(`/v1/conversations?channelId=${channelId}&status=open`)).json.data.length, all.json.data.length);
  });

  it('searches by message text and by contact', async () => {
    const byText = await get('/v1/conversations?q=red%20SCARF');
    assert.deepEqual(byText.json.data.map((c: { id: string }) => c.id), [`${channelId}:800002`]);
    const byId = await get('/v1/conversations?q=800001');
    assert.deepEqual(byId.json.data.map((c: { id: string }) => c.id), [`${channelId}:800001`]);
    assert.equal((await get('/v1/conversations?q=.*')).json.data.length, 0, 'search text is literal, not a pattern');
  });

  it('pages conversations with a cursor', async () => {
    const first = await get('/v1/conversations?limit=1');
    assert.equal(first.json.data.length, 1);
    assert.ok(first.json.nextCursor);
    const second = await get(`/v1/conversations?limit=1&cursor=${first.json.nextCursor}`);
    assert.equal(second.json.data.length, 1);
    assert.notEqual(second.json.data[0].id, first.json.data[0].id);
    assert.equal((await get('/v1/conversations?cursor=garbage!')).json.error.code, 'invalid_cursor');
  });

  it('pages messages oldest → newest, both ways', async () => {
    const newest = await get(`/v1/conversations/${conv('800001')}/messages?limit=25`);
    assert.equal(newest.status, 200, newest.text);
    const texts = newest.json.data.map((m: { text: string }) => m.text);
    assert.equal(texts.length, 25);
    assert.equal(texts[24], 'We ship to Graz, yes', 'the newest page ends with the newest message');
    assert.equal(texts[0], 'Ana question 36');
    assert.equal(newest.json.nextCursor, null);
    const older = await get(`/v1/conversations/${conv('800001')}/messages?limit=25&before=${newest.json.prevCursor}`);
    assert.equal(older.json.data[0].text, 'Ana question 11');
    assert.equal(older.json.data[24].text, 'Ana question 35');
    const back = await get(`/v1/conversations/${conv('800001')}/messages?limit=25&after=${older.json.nextCursor}`);
    assert.equal(back.json.data[0].text, 'Ana question 36');
    const oldest = await get(`/v1/conversations/${conv('800001')}/messages?limit=25&before=${older.json.prevCursor}`);
    assert.equal(oldest.json.data.length, 11);
    assert.equal(oldest.json.prevCursor, null);
    const out = newest.json.data[24];
    assert.equal(out.direction, 'outbound');
    assert.equal(out.status, 'sent');
  });

  it('lets an agent read, unread, assign, label, snooze, close and reopen', async () => {
    const id = conv('800002');
    assert.equal((await post(`/v1/conversations/${id}/read`)).json.conversation.unreadCount, 0);
    assert.equal((await post(`/v1/conversations/${id}/unread`)).json.conversation.unreadCount, 1);
    assert.equal((await post(`/v1/conversations/${id}/assign`, { assigneeId: 'agent-7' })).json.conversation.assigneeId, 'agent-7');
    assert.equal((await get('/v1/conversations?assignee=agent-7')).json.data.length, 1);
    assert.equal((await post(`/v1/conversations/${id}/assign`, { assigneeId: null })).json.conversation.assigneeId, null);
    assert.deepEqual((await post(`/v1/conversations/${id}/labels`, { add: ['vip', 'scarves'] })).json.conversation.labels.sort(), ['scarves', 'vip']);
    assert.deepEqual((await post(`/v1/conversations/${id}/labels`, { remove: ['scarves'] })).json.conversation.labels, ['vip']);
    assert.equal((await get('/v1/conversations?label=vip')).json.data.length, 1);
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const snoozed = (await post(`/v1/conversations/${id}/status`, { status: 'snoozed', snoozedUntil: until })).json.conversation;
    assert.deepEqual([snoozed.status, snoozed.snoozedUntil], ['snoozed', until]);
    const noTime = await post(`/v1/conversations/${id}/status`, { status: 'snoozed' });
    assert.equal(noTime.status, 400);
    assert.match(noTime.json.error.message, /snoozedUntil/);
    assert.equal((await post(`/v1/conversations/${id}/status`, { status: 'closed' })).json.conversation.status, 'closed');
    assert.equal((await get('/v1/conversations?status=closed')).json.data.length, 1);
    const reopened = (await post(`/v1/conversations/${id}/status`, { status: 'open' })).json.conversation;
    assert.deepEqual([reopened.status, reopened.snoozedUntil], ['open', null]);
  });

  it('shows contacts with their identities', async () => {
    const list = await get('/v1/contacts?q=800002');
    assert.equal(list.json.data.length, 1);
    const contact = (await get(`/v1/contacts/${list.json.data[0].id}`)).json.contact;
    assert.deepEqual(contact.identities.map((i: { platform: string; externalId: string }) => [i.platform, i.externalId]), [['messenger', '800002']]);
  });

  it('shows another tenant nothing: every conversation, message and contact is a 404', async () => {
    const id = conv('800001');
    assert.equal((await get('/v1/conversations', other)).json.data.length, 0);
    assert.equal((await get('/v1/contacts', other)).json.data.length, 0);
    for (const path of [`/v1/conversations/${id}`, `/v1/conversations/${id}/messages`]) assert.equal((await get(path, other)).status, 404, path);
    for (const action of ['read', 'unread']) assert.equal((await post(`/v1/conversations/${id}/${action}`, undefined, other)).status, 404);
    assert.equal((await post(`/v1/conversations/${id}/assign`, { assigneeId: 'x' }, other)).status, 404);
    const contactId = (await get('/v1/contacts?q=800001')).json.data[0].id;
    assert.equal((await get(`/v1/contacts/${contactId}`, other)).status, 404);
    assert.equal((await get('/v1/conversations')).status, 200);
    assert.equal((await api.call('GET', '/v1/conversations')).status, 401, 'no key');
  });
});
