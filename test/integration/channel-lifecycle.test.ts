// A channel's whole life against the sandbox, with the real API, worker, Temporal and database:
// connect (OAuth consent, or credentials checked by the platform), backfill, incremental sync,
// revocation → reauth_required without a retry storm → reconnect → nothing missed or duplicated,
// disconnect, and no plaintext secret anywhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mongoose from 'mongoose';
import { ChannelModel, ConversationModel, MessageModel } from '../../models';
import { capturedLogs, eventually, uniqueName } from '../helpers/env';
import { stringsOf } from '../helpers/strings';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const WORLD = { conversations: 3, messagesPerConversation: 4 };
const MESSENGER_PAGE = '101000000000001';

describe('channel lifecycle against the sandbox', () => {
  const taskQueue = uniqueName('lifecycle');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key: string;

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta', 'whatsapp'], world: WORLD }, workerFirst: true });
    ({ sb, api, key } = stack);
  });
  after(() => stack?.close());

  const channel = async (id: string) => (await api.call('GET', `/v1/channels/${id}`, { key })).json.channel;

  /** Drives the consent page like a user who approves, then lands on our callback. */
  async function consent(authorizeUrl: string, action: 'approve' | 'deny' = 'approve') {
    const res = await fetch(`${authorizeUrl}&sandbox_action=${action}`, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, 'http://localhost:3000/v1/oauth/callback');
    return api.call('GET', `${location.pathname}${location.search}`);
  }

  let messengerId = '';

  it('connects Messenger by OAuth and backfills the seeded history', async () => {
    const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'messenger', name: 'Shop', settings: { pageId: MESSENGER_PAGE } } });
    assert.equal(created.status, 201, created.text);
    messengerId = created.json.channel.id;
    const callback = await consent(created.json.authorizeUrl);
    assert.equal(callback.status, 200, callback.text);
    assert.equal(callback.json.ok, true);

    const ch = await eventually('backfill done', async () => { const c = await channel(messengerId); return c.backfill.done && c.status === 'active' && c; });
    assert.equal(ch.account.id, MESSENGER_PAGE);
    assert.equal(ch.statusReason, null, 'no stale "backfilling" reason once active');
    assert.equal(ch.account.name, 'Sandbox Shop');
    assert.deepEqual(Object.values(ch.credentials).filter((v) => /EAA[A-Za-z0-9_-]{10,}/.test(String(v))), [], 'no token in the API view');
    assert.equal(await MessageModel.countDocuments({ channelId: messengerId }), WORLD.conversations * WORLD.messagesPerConversation);
    assert.equal(await ConversationModel.countDocuments({ channelId: messengerId }), WORLD.conversations);
    const conv = await ConversationModel.findOne({ channelId: messengerId }).lean();
    assert.ok(conv?.lastMessageAt && conv.lastMessagePreview !== undefined && conv.contactId);
  });

  it('refuses a replayed or forged state', async () => {
    const again = await api.call('POST', `/v1/channels/${messengerId}/reconnect`, { key });
    assert.equal(again.status, 200);
    const url = new URL(again.json.authorizeUrl);
    const state = url.searchParams.get('state')!;
    assert.equal((await api.call('GET', `/v1/oauth/callback?code=x&state=${state.slice(0, -2)}xx`)).json.error.code, 'invalid_state');
    assert.equal((await api.call('GET', `/v1/oauth/callback?code=x&state=${encodeURIComponent(state)}`)).json.error.code, 'state_used', 'active channel: nothing to authorize');
  });

  it('picks up new customer messages on "sync now", once', async () => {
    await sb.admin('POST', '/customers/meta/messages', { accountId: MESSENGER_PAGE, text: 'Is the blue one in stock?' });
    assert.equal((await api.call('POST', `/v1/channels/${messengerId}/sync`, { key })).status, 202);
    await eventually('new message stored', async () => (await MessageModel.countDocuments({ channelId: messengerId })) === WORLD.conversations * WORLD.messagesPerConversation + 1);
    const stored = await MessageModel.findOne({ channelId: messengerId, text: 'Is the blue one in stock?' }).lean();
    assert.equal(stored?.direction, 'inbound');
    // A second sync finds nothing new.
    await api.call('POST', `/v1/channels/${messengerId}/sync`, { key });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await MessageModel.countDocuments({ channelId: messengerId }), WORLD.conversations * WORLD.messagesPerConversation + 1);
  });

  it('moves to reauth_required when the token is revoked, stops calling, and resumes after reconnect with nothing lost', async () => {
    await sb.admin('POST', '/tokens/revoke', { platform: 'meta', code: 190, subcode: 460 });
    await api.call('POST', `/v1/channels/${messengerId}/sync`, { key });
    const ch = await eventually('reauth_required', async () => { const c = await channel(messengerId); return c.status === 'reauth_required' && c; });
    assert.match(ch.statusReason, /190|password|token/i);

    // While revoked: customers keep writing; we make no further calls however often sync is asked.
    await sb.admin('POST', '/customers/meta/messages', { accountId: MESSENGER_PAGE, text: 'Hello? Anyone there?' });
    const calls = () => sb.sandbox.ctx.recorder.list({ platform: 'meta' }).length;
    const before = calls();
    for (let i = 0; i < 3; i++) await api.call('POST', `/v1/channels/${messengerId}/sync`, { key });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(calls(), before, 'no platform calls while reauth is required');

    await sb.admin('POST', '/tokens/restore', { platform: 'meta' });
    const reconnect = await api.call('POST', `/v1/channels/${messengerId}/reconnect`, { key });
    const callback = await consent(reconnect.json.authorizeUrl);
    assert.equal(callback.json.ok, true, callback.text);
    await eventually('message written during the outage', async () => (await MessageModel.countDocuments({ channelId: messengerId, text: 'Hello? Anyone there?' })) === 1);
    const keys = await MessageModel.find({ channelId: messengerId }, { externalId: 1 }).lean();
    assert.equal(new Set(keys.map((k) => k.externalId)).size, keys.length, 'no duplicates');
    assert.equal(keys.length, WORLD.conversations * WORLD.messagesPerConversation + 2);
    assert.equal((await channel(messengerId)).status, 'active');
  });

  it('leaves a denied consent pending with the reason, never half-made', async () => {
    const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'messenger', name: 'Denied' } });
    const callback = await consent(created.json.authorizeUrl, 'deny');
    assert.equal(callback.status, 422);
    assert.match(callback.json.message, /not granted/i);
    const ch = await eventually('reason shown', async () => { const c = await channel(created.json.channel.id); return c.statusReason && c; });
    assert.equal(ch.status, 'pending_auth');
    assert.equal(ch.account.id, null);
    assert.equal(await MessageModel.countDocuments({ channelId: created.json.channel.id }), 0);
  });

  it('connects WhatsApp Cloud with credentials the platform accepts, and refuses bad ones with nothing left behind', async () => {
    const world = (await sb.admin('GET', '/world')).json.whatsapp;
    const phoneNumberId = world.wabas[0].phoneNumbers[0].id;
    const bad = await api.call('POST', '/v1/channels', { key, body: { platform: 'whatsapp_cloud', name: 'WA', credentials: { accessToken: 'EAAG-not-a-real-token', phoneNumberId } } });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.error.code, 'credentials_refused');
    assert.equal(await ChannelModel.countDocuments({ platform: 'whatsapp_cloud' }), 0);

    const good = await api.call('POST', '/v1/channels', { key, body: { platform: 'whatsapp_cloud', name: 'WA', credentials: { accessToken: world.systemUserToken, phoneNumberId } } });
    assert.equal(good.status, 201, good.text);
    // Connected: the first sync may already have begun by the time the record is read.
    assert.ok(['active', 'syncing'].includes(good.json.channel.status), good.json.channel.status);
    assert.equal(good.json.channel.account.id, phoneNumberId);
    const test = await api.call('POST', `/v1/channels/${good.json.channel.id}/test`, { key });
    assert.equal(test.json.ok, true, test.text);
  });

  it('connects through a platform outage on the credentials check without asking for them again', async () => {
    const world = (await sb.admin('GET', '/world')).json.whatsapp;
    const phoneNumberId = world.wabas[0].phoneNumbers[0].id;
    // Three 503s in a row: more than the in-place read retry absorbs, so the connect activity's
    // first attempt fails and its retry must still find the credentials.
    await sb.admin('POST', '/faults', { platform: 'whatsapp', endpoint: 'node.get', errorRate: 1, errorStatus: 503, remaining: 3 });
    const created = await api.call('POST', '/v1/channels', { key, body: { platform: 'whatsapp_cloud', name: 'WA through an outage', credentials: { accessToken: world.systemUserToken, phoneNumberId } } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.channel.account.id, phoneNumberId);
    const stored = await ChannelModel.findById(created.json.channel.id).select('+pendingAuth').lean();
    assert.equal((stored as { pendingAuth?: unknown } | null)?.pendingAuth ?? null, null, 'the pending credentials are gone once connected');
  });

  it('keeps every token sealed: not in MongoDB, not in workflow histories, not in logs', async () => {
    const tokens = sb.sandbox.ctx.tokens.list().map((t) => t.token);
    assert.ok(tokens.length > 3);
    const dump: string[] = [];
    for (const name of await mongoose.connection.db!.listCollections().toArray()) {
      dump.push(...stringsOf(await mongoose.connection.db!.collection(name.name).find({}).toArray()));
    }
    for (const ch of await ChannelModel.find({}).lean()) {
      const history = await api.temporal.workflow.getHandle(ch.workflowId).fetchHistory();
      dump.push(...stringsOf(history));
    }
    assert.ok(capturedLogs.length > 50, `expected the API and worker logs to be captured (${capturedLogs.length} lines)`);
    dump.push(...capturedLogs);
    const all = dump.join('\n');
    assert.deepEqual(tokens.filter((t) => all.includes(t)), [], 'plaintext tokens found');
  });

  it('disconnects: revokes, ends the workflow, and refuses further actions', async () => {
    const del = await api.call('DELETE', `/v1/channels/${messengerId}`, { key });
    assert.equal(del.status, 202);
    const ch = await eventually('disconnected', async () => { const c = await channel(messengerId); return c.status === 'disconnected' && c; });
    const description = await api.temporal.workflow.getHandle(ch.workflowId).describe();
    assert.equal(description.status.name, 'COMPLETED');
    assert.equal((await api.call('POST', `/v1/channels/${messengerId}/sync`, { key })).status, 409);
  });
});
