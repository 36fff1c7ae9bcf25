// The real-time stream over real HTTP: GET /v1/events follows what the worker stores — a customer's
// message, a reply and its statuses in order, a channel flagged for reauthorization — resumes after
// Last-Event-ID without missing or repeating anything, and shows a tenant only its own events.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { appendEvents, EventFollower, tenantEventId } from '../../lib/event-log';
import { EventSequenceModel, TenantEventModel } from '../../models';
import { connectMessenger } from '../helpers/channels';
import { messengerCustomerWrites } from '../helpers/conversations';
import { eventually, uniqueName } from '../helpers/env';
import { openEventStream } from '../helpers/sse';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';

describe('event stream (SSE)', () => {
  const taskQueue = uniqueName('events');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let tenantId = '';
  let channelId = '';
  const streams: ReturnType<typeof openEventStream>[] = [];

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta'], world: { conversations: 1, messagesPerConversation: 1 } }, listen: true, redirectUris: ['meta'], webhookTargets: ['meta'] });
    ({ sb, api, key } = stack);
    tenantId = String(stack.tenantId);
    ({ id: channelId } = await connectMessenger(api, key, PAGE));
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await stack?.close();
  });

  const stream = (k = key, headers: Record<string, string> = {}, query = '') => {
    const s = openEventStream(`${api.url}/v1/events${query}`, { authorization: `Bearer ${k}`, ...headers });
    streams.push(s);
    return s;
  };
  const customerWrites = (text: string) => messengerCustomerWrites(sb, channelId, PAGE, text);
  const reply = (conversationId: string, text: string, idempotencyKey: string) =>
    api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key, body: { text }, headers: { 'idempotency-key': idempotencyKey } });

  it('streams a new message, then a reply and its statuses in order, as they are stored', async () => {
    const live = stream();
    await eventually('stream ready', async () => live.events.some((e) => e.event === 'ready'));
    const { conversationId, messageId } = await customerWrites('Do you ship to Norway?');
    const inbound = await eventually('inbound on the stream', async () => live.logged().find((e) => e.type === 'message.created' && e.data.messageId === messageId));
    assert.equal(inbound.data.direction, 'inbound');
    assert.equal(inbound.data.text, 'Do you ship to Norway?');
    assert.equal(inbound.data.conversationId, conversationId);

    const sent = await reply(conversationId, 'We do, in 3 days.', 'sse-1');
    assert.equal(sent.status, 202, sent.text);
    const id = sent.json.message.id;
    // The Messenger sandbox acknowledges, then posts delivery and read webhooks.
    const mine = await eventually('reply read on the stream', async () => {
      const events = live.logged().filter((e) => e.data.messageId === id);
      return events.some((e) => e.type === 'message.status' && e.data.status === 'read') && events;
    }, 30_000).catch((err) => { console.log(JSON.stringify(live.logged())); throw err; });
    assert.equal(mine[0].type, 'message.created');
    assert.equal(mine[0].data.status, 'pending');
    assert.deepEqual(mine.filter((e: { type: string }) => e.type === 'message.status').map((e: { data: { status: string } }) => e.data.status), ['sent', 'delivered', 'read']);
    const ids = live.logged().map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids only go up');
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
  });

  it('resumes after Last-Event-ID with nothing missed and nothing repeated', async () => {
    const first = stream();
    await customerWrites('Question one');
    const seen = await eventually('one event', async () => live(first).length >= 1 && live(first));
    const lastSeen = seen[seen.length - 1].id;
    await first.close();
    // While disconnected: two more messages.
    await customerWrites('Question two');
    await customerWrites('Question three');
    const resumed = stream(key, { 'last-event-id': String(lastSeen) });
    const got = await eventually('the missed events', async () => {
      const texts = resumed.logged().map((e) => e.data.text);
      return texts.includes('Question two') && texts.includes('Question three') && resumed.logged();
    });
    assert.equal(got[0].id, lastSeen + 1, 'starts right after the last event seen');
    assert.deepEqual(got.map((e) => e.id), got.map((_, i) => lastSeen + 1 + i), 'consecutive');
    assert.ok(!got.some((e) => e.data.text === 'Question one'), 'not repeated');
    // The same through ?after= (for clients that cannot set headers).
    const viaQuery = stream(key, {}, `?after=${lastSeen}&types=message.created`);
    await eventually('replayed by query', async () => viaQuery.logged().filter((e) => e.data.text === 'Question three').length === 1);
    assert.ok(viaQuery.logged().every((e) => e.type === 'message.created'));
  });
  const live = (s: ReturnType<typeof openEventStream>) => s.logged();

  it('announces a channel flagged for reauthorization, and the failed reply', async () => {
    const live = stream(key, {}, '?types=channel.status,message.status');
    const { conversationId } = await customerWrites('Hello?');
    await sb.admin('POST', '/tokens/revoke', { subject: PAGE });
    const id = (await reply(conversationId, 'Here!', 'sse-revoked')).json.message.id;
    const failed = await eventually('failure on the stream', async () => live.logged().find((e) => e.data.messageId === id && e.data.status === 'failed'), 60_000);
    assert.equal(failed.data.error.code, 'reauth_required');
    const flagged = await eventually('channel status on the stream', async () => live.logged().find((e) => e.type === 'channel.status' && e.data.status === 'reauth_required'));
    assert.equal(flagged.data.channelId, channelId);
    assert.equal(flagged.data.platform, 'messenger');
  });

  it('shows a tenant only its own events; bad positions are refused', async () => {
    const other = (await createTenantWithAdminKey('Other')).secret;
    const theirs = stream(other, {}, '?after=0');
    const mine = stream(key, {}, '?after=0');
    await eventually('my history replayed', async () => mine.logged().length >= 5);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(theirs.logged().length, 0, 'another tenant sees none of it');
    const oneOfMine = mine.logged()[0].id;
    assert.equal((await api.call('GET', `/v1/events/${oneOfMine}`, { key })).status, 200);
    assert.equal((await api.call('GET', `/v1/events/${oneOfMine}`, { key: other })).status, 404);
    assert.equal((await api.call('GET', '/v1/events', { key: other, headers: { 'last-event-id': 'abc' } })).status, 400);
    const badTypes = await api.call('GET', '/v1/events?types=message.deleted', { key });
    assert.equal(badTypes.status, 400);
    assert.match(badTypes.text, /types must be among/);
    assert.equal((await api.call('GET', '/v1/events')).status, 401);
  });

  it('waits for an event still being written, and passes a number whose writer died', async () => {
    const t = tenantId;
    const follower = new EventFollower(t, (await EventSequenceModel.findById(t).lean())!.seq as number, { gapWaitMs: 300 });
    // A writer took a number and died before writing its event; another wrote the next one.
    await EventSequenceModel.updateOne({ _id: t }, { $inc: { seq: 1 } });
    const [next] = await appendEvents(t, [{ type: 'channel.status', key: 'test:after-gap', data: { channelId, platform: 'messenger', status: 'active' } }]);
    assert.deepEqual(await follower.read(), [], 'the missing number is waited for first');
    await new Promise((r) => setTimeout(r, 400));
    const got = await follower.read();
    assert.deepEqual(got.map((e) => e.seq), [next], 'then passed');
    assert.equal(follower.position, next);
  });

  it('reads events appended before their data was stored as text, and streams both alike', async () => {
    const t = tenantId;
    const follower = new EventFollower(t, (await EventSequenceModel.findById(t).lean())!.seq as number, { gapWaitMs: 300 });
    // An event as an earlier version wrote it: `data` a document.
    const [old] = await appendEvents(t, [{ type: 'channel.status', key: 'test:old-form', data: {} }]);
    await TenantEventModel.collection.updateOne({ _id: tenantEventId(t, old!) } as never, { $set: { data: { channelId, platform: 'messenger', status: 'degraded' } } });
    await appendEvents(t, [{ type: 'channel.status', key: 'test:new-form', data: { channelId, platform: 'messenger', status: 'active' } }]);
    const got = await follower.read();
    assert.deepEqual(got.map((e) => [e.key, e.data]), [
      ['test:old-form', { channelId, platform: 'messenger', status: 'degraded' }],
      ['test:new-form', { channelId, platform: 'messenger', status: 'active' }],
    ]);
  });
});
