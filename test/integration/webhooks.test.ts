// Webhook ingestion end to end, with the real API (over HTTP), worker, Temporal and database and
// the sandbox delivering signed webhooks: every event stored exactly once, whatever the platform
// does with retries, duplicates and order; bad signatures and malformed bodies refused with a 4xx
// and nothing stored.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { ChannelModel, ConversationModel, deferredRange, MessageModel, pendingRange, WebhookDeliveryModel, WebhookEventModel } from '../../models';
import { DEFAULT_APPS } from '../../sandbox/core/apps';
import { metaJson, signMetaBody } from '../../sandbox/platforms/meta';
import { parseMessagingEntries } from '../../api/webhooks/sources/meta';
import { createReconcileActivities } from '../../activities/reconcile';
import { ensureSchedules, reconcileScheduleId } from '../../workers/schedules';
import { connectChannel, connectMessenger } from '../helpers/channels';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';
const META_SECRET = DEFAULT_APPS.meta!.secret;

describe('webhook ingestion', () => {
  const taskQueue = uniqueName('webhooks');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key: string;
  let channelId = '';

  before(async () => {
    const platforms = ['meta', 'whatsapp', 'twilio', 'tiktok', 'google'];
    stack = await useInboxStack(taskQueue, {
      sandbox: { platforms, world: { conversations: 1, messagesPerConversation: 2 } }, listen: true, workerPublicUrl: false,
      redirectUris: ['meta', 'google'], webhookTargets: platforms,
    });
    ({ sb, api, key } = stack);
    channelId = (await connectMessenger(api, key, PAGE)).id;
  });
  after(() => stack?.close());

  const customerWrites = async (input: { customerId?: string; text?: string; media?: boolean }) => {
    const res = await sb.admin('POST', '/customers/meta/messages', { accountId: PAGE, ...input });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json as { messageId: string; customerId: string };
  };
  const conversationOf = (customerId: string) => ConversationModel.findById(`${channelId}:${customerId}`).lean();
  const stored = (mid: string) => MessageModel.findById(`${channelId}:${mid}`).lean();
  const queueEmpty = async () => (await WebhookEventModel.countDocuments({ channelId, state: 'pending' })) === 0;

  /** Posts a body signed like Meta signs it (or with the signature given). */
  async function postMeta(payload: unknown, signature?: string) {
    const body = metaJson(payload);
    const res = await fetch(`${api.url}/webhooks/meta`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature ?? signMetaBody(body, META_SECRET) },
    });
    return { status: res.status, text: await res.text(), body };
  }
  const page = (...messaging: unknown[]) => ({ object: 'page', entry: [{ id: PAGE, time: Date.now(), messaging }] });
  const inbound = (psid: string, mid: string, text: string, timestamp: number) => ({ sender: { id: psid }, recipient: { id: PAGE }, timestamp, message: { mid, text } });
  const echo = (psid: string, mid: string, text: string, timestamp: number) => ({ sender: { id: PAGE }, recipient: { id: psid }, timestamp, message: { mid, text, is_echo: true, app_id: 263902037430900 } });
  const delivered = (psid: string, mids: string[], watermark: number) => ({ sender: { id: psid }, recipient: { id: PAGE }, delivery: { mids, watermark } });
  const read = (psid: string, watermark: number) => ({ sender: { id: psid }, recipient: { id: PAGE }, timestamp: watermark + 1, read: { watermark } });

  it('answers the Meta verification handshake with the challenge, and 403 to a wrong token', async () => {
    const ok = await fetch(`${api.url}/webhooks/meta?hub.mode=subscribe&hub.verify_token=${DEFAULT_APPS.meta!.extra.verifyToken}&hub.challenge=1158201444`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '1158201444');
    const wrong = await fetch(`${api.url}/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1`);
    assert.equal(wrong.status, 403);
  });

  it('stores a customer message delivered by the sandbox once, with the conversation summary moved on', async () => {
    const w = await customerWrites({ text: 'Is the blue one in stock?' });
    const msg = (await eventually('message stored', () => stored(w.messageId), 20_000))!;
    assert.equal(msg.direction, 'inbound');
    assert.equal(msg.text, 'Is the blue one in stock?');
    assert.equal(msg.status, 'received');
    const conv = await conversationOf(w.customerId);
    assert.equal(conv?.lastMessagePreview, 'Is the blue one in stock?');
    assert.equal(conv?.unreadCount, 1);
    await eventually('queue drained', queueEmpty);
    assert.equal(await WebhookDeliveryModel.countDocuments({ source: 'meta' }), 1, 'the delivery is in the webhook log');
  });

  it('stores each event once when every delivery arrives three times', async () => {
    const answered = async () => (await sb.admin('GET', '/webhooks?platform=meta')).json.data.filter((d: { status: number | null }) => d.status === 200).length;
    const answeredBefore = await answered();
    await sb.admin('PUT', '/webhooks/options/meta', { duplicate: 2 });
    try {
      const first = await customerWrites({ text: 'one' });
      const rest = [];
      for (const text of ['two', 'three', 'four', 'five']) rest.push(await customerWrites({ customerId: first.customerId, text }));
      const mids = [first, ...rest].map((w) => w.messageId);
      await eventually('five messages stored', async () => (await MessageModel.countDocuments({ _id: { $in: mids.map((m) => `${channelId}:${m}`) } })) === 5);
      await eventually('all 15 deliveries acknowledged', async () => (await answered()) - answeredBefore === 15);
      await eventually('queue drained', queueEmpty);
      const conv = await conversationOf(first.customerId);
      assert.equal(conv?.unreadCount, 5, 'each message counted once');
      assert.equal(conv?.lastMessagePreview, 'five');
      assert.equal(await MessageModel.countDocuments({ conversationId: `${channelId}:${first.customerId}` }), 5);
    } finally {
      await sb.admin('PUT', '/webhooks/options/meta', { duplicate: 0 });
    }
  });

  it('reaches the same final state whatever order the events arrive in', async () => {
    const base = Date.now() - 60_000;
    const orders = [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]];
    for (const [n, order] of orders.entries()) {
      const psid = `7000${n}`;
      const events = [
        echo(psid, `m_out_${n}`, 'We have it in blue', base + 1000),
        inbound(psid, `m_in1_${n}`, 'Great, size M?', base + 2000),
        inbound(psid, `m_in2_${n}`, 'And in red?', base + 3000),
        delivered(psid, [`m_out_${n}`], base + 1000),
        read(psid, base + 1000),
      ];
      for (const i of order) assert.equal((await postMeta(page(events[i]))).status, 200);
    }
    for (const n of orders.keys()) {
      const psid = `7000${n}`;
      const conv = await eventually(`conversation ${n} complete`, async () => {
        const c = await conversationOf(psid);
        const out = await stored(`m_out_${n}`);
        return c && c.unreadCount === 2 && c.readUpTo && out?.status === 'delivered' && c;
      }) as NonNullable<Awaited<ReturnType<typeof conversationOf>>>;
      assert.equal(conv.lastMessagePreview, 'And in red?', `order ${orders[n]}`);
      assert.equal(conv.lastMessageAt?.getTime(), base + 3000);
      assert.equal(conv.lastOutboundAt?.getTime(), base + 1000);
      assert.equal(conv.readUpTo?.getTime(), base + 1000);
      assert.equal((await stored(`m_out_${n}`))?.direction, 'outbound');
      assert.equal(await MessageModel.countDocuments({ conversationId: conv._id }), 3);
    }
  });

  it('applies a status that arrives before its message once the message is stored', async () => {
    const psid = '71001';
    const t = Date.now() - 5000;
    assert.equal((await postMeta(page(delivered(psid, ['m_late_1'], t)))).status, 200);
    await eventually('status deferred', async () => (await WebhookEventModel.countDocuments({ channelId, state: 'deferred', messageId: `${channelId}:m_late_1` })) === 1);
    assert.equal(await stored('m_late_1'), null);
    // Parked out of the drain's way: the channel's pending range is empty, the deferred one holds it.
    assert.equal(await WebhookEventModel.countDocuments({ _id: pendingRange(channelId) }), 0);
    assert.equal(await WebhookEventModel.countDocuments({ _id: deferredRange(channelId) }), 1);
    assert.equal((await postMeta(page(echo(psid, 'm_late_1', 'Sent from the phone', t)))).status, 200);
    const msg = await eventually('status applied', async () => { const m = await stored('m_late_1'); return m?.status === 'delivered' && m; });
    assert.equal(msg.statusRank, 30);
    await eventually('deferred status left the queue', async () => (await WebhookEventModel.countDocuments({ channelId, state: 'deferred' })) === 0);
  });

  it('stores a delivery batching many events once, however often it comes, statuses included', async () => {
    const t = Date.now() - 60_000;
    const batch = page(
      delivered('71010', ['m_batch_echo'], t + 50), // overtakes its message, in the same delivery
      ...Array.from({ length: 30 }, (_, i) => inbound(i % 2 ? '71010' : '71011', `m_batch_${i}`, `batched ${i}`, t + i)),
      echo('71010', 'm_batch_echo', 'answered from the phone', t + 40),
      delivered('71011', ['m_batch_later'], t + 60), // its message comes in a later delivery
    );
    for (let i = 0; i < 3; i++) assert.equal((await postMeta(batch)).status, 200);
    await eventually('batch stored', async () => (await MessageModel.countDocuments({ channelId, externalId: { $regex: '^m_batch_' } })) === 31);
    await eventually('queue drained', queueEmpty);
    assert.equal((await stored('m_batch_echo'))?.status, 'delivered');
    // 15 inbound each; the business answered 71010 after all of them (t+40), so nothing is unread there.
    assert.equal((await conversationOf('71011'))?.unreadCount, 15);
    assert.equal((await conversationOf('71010'))?.unreadCount, 0);
    const parked = await WebhookEventModel.find({ _id: deferredRange(channelId), messageId: `${channelId}:m_batch_later` }).lean();
    assert.equal(parked.length, 1, 'one parked status, whichever copy of the batch put it there');
    assert.equal((await postMeta(page(echo('71011', 'm_batch_later', 'later', t + 55)))).status, 200);
    await eventually('parked status applied', async () => (await stored('m_batch_later'))?.status === 'delivered');
  });

  it('Gmail: connecting asks the mailbox to push; new mail arrives by push, without a sync; disconnecting stops it', async () => {
    const since = Date.now();
    const gmail = await connectChannel(api, key, { platform: 'gmail', approve: 'sandbox_decision=approve' });
    const googleCalls = async (endpoint: string, after: number) =>
      ((await sb.admin('GET', `/requests?platform=google&endpoint=${endpoint}`)).json.data as { at: number; status: number; body: string }[]).filter((r) => r.at >= after);
    const watches = await eventually('users.watch asked for', async () => { const r = await googleCalls('watch', since); return r.length > 0 && r; });
    assert.equal(watches[0]!.status, 200);
    assert.deepEqual(JSON.parse(watches[0]!.body), { topicName: 'projects/switchboard/topics/gmail', labelIds: ['INBOX'], labelFilterBehavior: 'include' });
    const pushExpiresAt = await eventually('push shown on the channel', async () => {
      const s = await api.temporal.workflow.getHandle(gmail.workflowId).query('status') as { pushExpiresAt?: string | null };
      return s.pushExpiresAt ?? false;
    });
    assert.ok(Date.parse(pushExpiresAt) - Date.now() > 6 * 86400_000, 'the watch lasts 7 days');

    // The sync interval here is an hour: only the push can bring this mail in.
    const wrote = await sb.admin('POST', '/customers/google/messages', { text: 'Pushed, not polled' });
    assert.equal(wrote.status, 201, JSON.stringify(wrote.json));
    const mail = await eventually('mail stored by push', () => MessageModel.findById(`${gmail.id}:${wrote.json.messageId}`).lean(), 30_000);
    assert.match(mail!.text ?? '', /Pushed, not polled/);
    const pushes = (await sb.admin('GET', '/webhooks?platform=google')).json.data.filter((a: { at: number; status: number }) => a.at >= since);
    assert.ok(pushes.length > 0 && pushes.every((a: { status: number }) => a.status === 200), 'the push was delivered and acknowledged');

    const since2 = Date.now();
    assert.equal((await api.call('DELETE', `/v1/channels/${gmail.id}`, { key })).status < 300, true);
    await eventually('users.stop called', async () => (await googleCalls('stop', since2)).length > 0);
  });

  it('drains events queued as documents by an earlier version (now queued as JSON text)', async () => {
    const t = Date.now() - 5000;
    const [event] = parseMessagingEntries('page', page(inbound('71009', 'm_old_form', 'queued long ago', t)).entry, t).events;
    const channel = (await ChannelModel.findById(channelId).lean())!;
    await WebhookEventModel.collection.insertOne({
      _id: `${channelId}:000000001:${event!.key}`, source: 'meta', kind: 'message', accountId: PAGE, tenantId: channel.tenantId, channelId: channel._id,
      state: 'pending', event: JSON.parse(JSON.stringify(event)), deliveryId: 'meta:old-form', receivedAt: new Date(t),
    } as never);
    // A new delivery wakes the channel; its drain takes both.
    assert.equal((await postMeta(page(inbound('71009', 'm_new_form', 'queued now', t + 1)))).status, 200);
    await eventually('both stored', async () => (await stored('m_old_form'))?.text === 'queued long ago' && (await stored('m_new_form'))?.text === 'queued now');
    await eventually('queue drained', queueEmpty);
  });

  it('reports events waiting for their message to the tenant admin, and to no one else', async () => {
    assert.equal((await postMeta(page(delivered('71005', ['m_never'], Date.now())))).status, 200);
    const report = await eventually('reported', async () => {
      const r = await api.call('GET', '/v1/webhook-events?state=deferred', { key });
      return r.json?.counts?.deferred === 1 && r.json;
    });
    assert.equal(report.data[0].kind, 'status');
    assert.equal(report.data[0].waitingFor, `${channelId}:m_never`);
    assert.equal(report.data[0].channelId, channelId);
    const other = (await createTenantWithAdminKey('Other')).secret;
    assert.deepEqual((await api.call('GET', '/v1/webhook-events', { key: other })).json.counts, { pending: 0, deferred: 0, held: 0 });
    assert.equal((await api.call('GET', '/v1/webhook-events?state=nonsense', { key })).status, 400);
  });

  it('never moves a status backwards', async () => {
    const psid = '71002';
    const t = Date.now() - 5000;
    // Instagram-style read by mid is not Messenger's; use delivery then a replayed "sent"-level echo.
    await postMeta(page(echo(psid, 'm_order_1', 'hello', t)));
    await postMeta(page(delivered(psid, ['m_order_1'], t)));
    await eventually('delivered', async () => (await stored('m_order_1'))?.status === 'delivered');
    await postMeta(page(echo(psid, 'm_order_1', 'hello', t))); // a replay of the echo (status "sent")
    await eventually('queue drained', queueEmpty);
    assert.equal((await stored('m_order_1'))?.status, 'delivered');
  });

  it('refuses bad signatures with 401 and stores nothing', async () => {
    const before = await WebhookDeliveryModel.countDocuments();
    const payload = page(inbound('71003', 'm_forged', 'forged', Date.now()));
    const body = metaJson(payload);
    const wrongSecret = await postMeta(payload, `sha256=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`);
    assert.equal(wrongSecret.status, 401);
    assert.match(JSON.parse(wrongSecret.text).error.code, /invalid_signature/);
    const missing = await fetch(`${api.url}/webhooks/meta`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(missing.status, 401);
    const tampered = await fetch(`${api.url}/webhooks/meta`, { method: 'POST', body: body.replace('forged', 'FORGED'), headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, META_SECRET) } });
    assert.equal(tampered.status, 401);
    const tiktok = await fetch(`${api.url}/webhooks/tiktok`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'tiktok-signature': `t=${Math.floor(Date.now() / 1000)},s=${'0'.repeat(64)}` } });
    assert.equal(tiktok.status, 401);
    const gmail = await fetch(`${api.url}/webhooks/google?token=wrong`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(gmail.status, 401);
    const twilio = await fetch(`${api.url}/webhooks/twilio`, { method: 'POST', body: 'AccountSid=AC00000000000000000000000000000001&MessageSid=SM1&From=whatsapp%3A%2B1&To=whatsapp%3A%2B2&Body=x', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bm9wZQ==' } });
    assert.equal(twilio.status, 401);
    assert.equal(await WebhookDeliveryModel.countDocuments(), before, 'nothing logged as received');
    assert.equal(await stored('m_forged'), null);
    assert.equal(await WebhookEventModel.countDocuments({ _id: { $regex: 'm_forged' } }), 0);
  });

  it('answers 413 to an oversized body and 400 to a signed body that is not a webhook', async () => {
    // In process: over a socket the server answers before the upload ends and closes the connection.
    const big = 'x'.repeat(1024 * 1024 + 10);
    const res = await api.call('POST', '/webhooks/meta', { rawBody: big, headers: { 'x-hub-signature-256': signMetaBody(big, META_SECRET) } });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'payload_too_large');
    const notJson = '{"object":"page","entry":[';
    const bad = await fetch(`${api.url}/webhooks/meta`, { method: 'POST', body: notJson, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(notJson, META_SECRET) } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(await bad.text()).error.code, 'malformed_webhook');
    assert.equal((await fetch(`${api.url}/webhooks/nowhere`, { method: 'POST', body: '{}' })).status, 404);
  });

  it('the reconciliation schedule fills the gap a lost webhook left', async () => {
    await sb.admin('PUT', '/webhooks/targets/meta', { url: null }); // the platform never delivers
    try {
      const w = await customerWrites({ text: 'did anyone get this?' });
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await stored(w.messageId), null, 'no webhook, no message yet');
      await ensureSchedules(api.temporal, { taskQueue, reconcileEveryMinutes: 60 });
      await ensureSchedules(api.temporal, { taskQueue, reconcileEveryMinutes: 60 }); // idempotent
      const schedule = api.temporal.schedule.getHandle(reconcileScheduleId(taskQueue));
      await schedule.trigger();
      const msg = await eventually('gap filled by the sweep', () => stored(w.messageId), 30_000);
      assert.equal(msg!.text, 'did anyone get this?');
      const run = await eventually('sweep finished', async () => {
        const d = await schedule.describe();
        return d.info.recentActions.length > 0 && d.info.recentActions[0]!;
      });
      const report = await api.temporal.workflow.getHandle(run.action.workflow.workflowId, run.action.workflow.firstExecutionRunId).result();
      assert.equal(report.syncsRequested, 1);
      assert.equal(report.failedSignals, 0);
      await schedule.delete();
    } finally {
      await sb.admin('PUT', '/webhooks/targets/meta', { url: `${api.url}/webhooks/meta` });
    }
  });

  it('keeps events for an account no channel speaks for, and reports them', async () => {
    const res = await postMeta({ object: 'page', entry: [{ id: '109999999999999', time: Date.now(), messaging: [inbound('71004', 'm_nobody', 'hello?', Date.now())] }] });
    assert.equal(res.status, 200, 'acknowledged: the platform must not retry forever');
    const kept = await WebhookEventModel.findById('unmatched:messenger:message:m_nobody').lean();
    assert.equal(kept?.state, 'unmatched');
    assert.equal(kept?.accountId, '109999999999999');
  });

  it('holds what arrives for a disconnected channel, reports it, and queues it into the channel that connects the account again', async () => {
    const PAGE2 = '101000000000002';
    const onPage2 = (...messaging: unknown[]) => ({ object: 'page', entry: [{ id: PAGE2, time: Date.now(), messaging }] });
    const first = await connectMessenger(api, key, PAGE2, 'Second shop');
    // The Page asked for in settings.pageId, not the first one the login grants.
    assert.equal((await api.call('GET', `/v1/channels/${first.id}`, { key })).json.channel.account.id, PAGE2);
    assert.equal((await api.call('DELETE', `/v1/channels/${first.id}`, { key })).status < 300, true);
    await eventually('disconnected', async () => (await api.call('GET', `/v1/channels/${first.id}`, { key })).json.channel.status === 'disconnected');
    const t = Date.now() - 60_000;
    assert.equal((await postMeta(onPage2(inbound('72001', 'm_held_1', 'anyone there?', t), inbound('72001', 'm_held_2', 'hello??', t + 1)))).status, 200);
    const report = await eventually('held and reported', async () => {
      const r = (await api.call('GET', '/v1/webhook-events?state=held', { key })).json;
      return r.counts.held === 2 && r;
    });
    assert.deepEqual(report.data.map((e: { channelId: string }) => e.channelId), [first.id, first.id]);

    const second = await connectMessenger(api, key, PAGE2, 'Second shop again');
    const adopted = await eventually('held messages stored on the new channel', async () => {
      const m = await MessageModel.find({ _id: { $in: [`${second.id}:m_held_1`, `${second.id}:m_held_2`] } }).lean();
      return m.length === 2 && m;
    });
    assert.deepEqual(adopted.map((m) => m.text).sort(), ['anyone there?', 'hello??']);
    assert.equal((await api.call('GET', '/v1/webhook-events', { key })).json.counts.held, 0);
    assert.equal((await ConversationModel.findById(`${second.id}:72001`).lean())?.unreadCount, 2);

    // Once the API sees the new channel (a held account is looked up again within 5 s), nothing more is held for the old one.
    await new Promise((r) => setTimeout(r, 5500));
    assert.equal((await postMeta(onPage2(inbound('72001', 'm_held_3', 'thanks', t + 2)))).status, 200);
    await eventually('stored on the new channel', () => MessageModel.findById(`${second.id}:m_held_3`).lean());
    assert.equal((await api.call('GET', '/v1/webhook-events', { key })).json.counts.held, 0);

    // One held while the new channel's connect step ran (it never saw it): the sweep queues it.
    const [late] = parseMessagingEntries('page', onPage2(inbound('72001', 'm_held_4', 'still there?', t + 3)).entry, t + 3).events;
    const channel = (await ChannelModel.findById(first.id).lean())!;
    await WebhookEventModel.collection.insertOne({
      _id: `held:${first.id}:000000002:${late!.key}`, source: 'meta', kind: 'message', accountId: PAGE2, tenantId: channel.tenantId, channelId: channel._id,
      state: 'held', event: JSON.stringify(late), deliveryId: 'meta:late', receivedAt: new Date(t + 3),
    } as never);
    // And one queued as pending for the old channel by an API whose cache still took it for
    // connected: nothing drains a disconnected channel, so the sweep holds it, then queues it here.
    const [orphan] = parseMessagingEntries('page', onPage2(inbound('72001', 'm_held_5', 'hello again', t + 4)).entry, t + 4).events;
    await WebhookEventModel.collection.insertOne({
      _id: `${first.id}:000000003:${orphan!.key}`, source: 'meta', kind: 'message', accountId: PAGE2, tenantId: channel.tenantId, channelId: channel._id,
      state: 'pending', event: JSON.stringify(orphan), deliveryId: 'meta:orphan', receivedAt: new Date(t + 4),
      delivery: { _id: 'meta:orphan', source: 'meta', receivedAt: new Date(t + 4), bytes: 100, events: 1, unmatched: 0, ignored: [], channelIds: [first.id] },
    } as never);
    const sweep = await createReconcileActivities({ temporal: api.temporal }).sweepChannels({});
    assert.equal(sweep.pendingHeld, 1);
    assert.equal(sweep.heldAdopted, 2);
    await eventually('adopted by the sweep and stored', async () => (await MessageModel.countDocuments({ _id: { $in: [`${second.id}:m_held_4`, `${second.id}:m_held_5`] } })) === 2);
    assert.ok(await WebhookDeliveryModel.findById('meta:orphan').lean(), 'its webhook log entry was written');
    assert.equal(await WebhookEventModel.countDocuments({ _id: pendingRange(first.id) }), 0);
    assert.equal(sweep.parked.held, 0);
  });
});
