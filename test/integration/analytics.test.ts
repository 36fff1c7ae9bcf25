// Daily analytics through the real worker, Temporal and database: messages stored with known
// timestamps on two days, two platforms and two tenants are counted by the analytics workflow and
// read back from GET /v1/analytics/daily (counts, conversations opened, median first response;
// aliases, pending and failed sends not counted); a re-run changes nothing, a send that failed
// after all is taken out; other tenants see none of it; bad ranges are 400s. Then the product
// path: a customer writes through the sandbox, an agent replies through the API, and a run of the
// schedule shows both with the reply's first-response time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { Types } from 'mongoose';
import { createTenantWithAdminKey } from '../../api/auth/keys';
import { dayOf } from '../../lib/domain/analytics';
import { DailyStatModel, MessageModel } from '../../models';
import type { dailyAnalyticsWorkflow } from '../../workflows/analytics';
import { analyticsScheduleId, ensureSchedules, reconcileScheduleId } from '../../workers/schedules';
import { connectMessenger } from '../helpers/channels';
import { messageSettled, messengerCustomerWrites } from '../helpers/conversations';
import { eventually, uniqueName } from '../helpers/env';
import { type InboxStack, useInboxStack } from '../helpers/stack';

const PAGE = '101000000000001';
const MIN = 60_000;
const D0 = '2026-03-10';
const D1 = '2026-03-14';
const D2 = '2026-03-15';
const at = (day: string, time: string) => new Date(`${day}T${time}Z`);

describe('daily analytics', () => {
  const taskQueue = uniqueName('analytics');
  let stack: InboxStack;
  let sb: InboxStack['sb'];
  let api: InboxStack['api'];
  let key = '';
  let otherKey = '';
  let emptyKey = '';
  let tenantA = new Types.ObjectId();
  let tenantB = new Types.ObjectId();
  let channelId = '';

  const get = (path: string, k = key) => api.call('GET', path, { key: k });
  const daily = async (query: string, k = key) => {
    const res = await get(`/v1/analytics/daily?${query}`, k);
    assert.equal(res.status, 200, res.text);
    return res.json;
  };
  const runDay = (day: string) => api.temporal.workflow.execute<typeof dailyAnalyticsWorkflow>('dailyAnalyticsWorkflow', { taskQueue, workflowId: uniqueName(`analytics-${day}`), args: [{ day }] });

  // Message documents as the product stores them (activities/inbox-writes.ts, activities/send.ts).
  let seq = 0;
  const channels = new Map<string, Types.ObjectId>();
  const channelOf = (tenantId: Types.ObjectId, platform: string) => {
    const key = `${tenantId}:${platform}`;
    if (!channels.has(key)) channels.set(key, new Types.ObjectId());
    return channels.get(key)!;
  };
  function message(tenantId: Types.ObjectId, platform: string, conversation: string, direction: 'inbound' | 'outbound', time: Date, status = direction === 'inbound' ? 'received' : 'sent') {
    const channel = channelOf(tenantId, platform);
    return {
      _id: `${channel}:m${++seq}`, tenantId, channelId: channel, conversationId: `${channel}:${conversation}`, platform,
      externalId: `m${seq}`, direction, sender: { externalId: direction === 'inbound' ? conversation : 'business' }, text: `message ${seq}`,
      attachments: [], status, statusRank: 0, platformTimestamp: time, createdAt: new Date(), updatedAt: new Date(),
    };
  }

  before(async () => {
    stack = await useInboxStack(taskQueue, { sandbox: { platforms: ['meta'], world: false }, listen: true, redirectUris: ['meta'], webhookTargets: ['meta'] });
    ({ sb, api, key, tenantId: tenantA } = stack);
    const b = await createTenantWithAdminKey('Other');
    otherKey = b.secret; tenantB = b.tenant._id;
    emptyKey = (await createTenantWithAdminKey('Quiet')).secret;
    channelId = (await connectMessenger(api, key, PAGE)).id;

    const A = tenantA;
    const sentReply = message(A, 'messenger', 'mA', 'outbound', at(D1, '09:05:00'));
    await MessageModel.collection.insertMany([
      // Tenant A, Messenger, D1.
      message(A, 'messenger', 'mA', 'inbound', at(D1, '09:00:00')),
      message(A, 'messenger', 'mA', 'inbound', at(D1, '09:01:00')),
      sentReply, // first response 5 min
      message(A, 'messenger', 'mB', 'inbound', at(D1, '10:00:00')),
      message(A, 'messenger', 'mB', 'outbound', at(D1, '10:01:00'), 'failed'),
      message(A, 'messenger', 'mB', 'outbound', at(D1, '10:02:00'), 'pending'),
      message(A, 'messenger', 'mB', 'outbound', at(D1, '10:30:00'), 'delivered'), // 30 min
      message(A, 'messenger', 'mC', 'inbound', at(D1, '11:00:00')),
      message(A, 'messenger', 'mC', 'outbound', at(D2, '00:00:00.000')), // answered the next day: 13 h
      message(A, 'messenger', 'mOld', 'inbound', at(D0, '12:00:00')), // opened before D1
      message(A, 'messenger', 'mOld', 'inbound', at(D1, '12:00:00')),
      message(A, 'messenger', 'mOld', 'outbound', at(D1, '12:01:00')),
      // Tenant A, WhatsApp, D1.
      message(A, 'whatsapp_cloud', 'wA', 'outbound', at(D1, '13:00:00'), 'read'), // the business wrote first
      message(A, 'whatsapp_cloud', 'wA', 'inbound', at(D1, '13:10:00')),
      message(A, 'whatsapp_cloud', 'wB', 'inbound', at(D1, '14:00:00')),
      message(A, 'whatsapp_cloud', 'wB', 'outbound', at(D1, '14:02:00')), // 2 min
      // Tenant A, D2.
      message(A, 'messenger', 'mD', 'inbound', at(D2, '23:59:59.999')), // not answered
      message(A, 'whatsapp_cloud', 'wC', 'outbound', at(D2, '10:00:00')), // a template, later failed
      // Tenant B, D1.
      message(tenantB, 'messenger', 'bA', 'inbound', at(D1, '09:00:00')),
      message(tenantB, 'messenger', 'bA', 'outbound', at(D1, '09:10:00')), // 10 min
    ] as never[]);
    // The pointer a send leaves under the platform's ID (activities/send.ts): not a second message.
    await MessageModel.collection.insertOne({ _id: `${sentReply.channelId}:m_platform_1`, aliasOf: sentReply._id, channelId: sentReply.channelId, tenantId: A } as never);
  });
  after(() => stack?.close());

  const messengerD1 = { platform: 'messenger', messagesIn: 5, messagesOut: 3, conversationsOpened: 3, firstResponses: 3, medianFirstResponseMs: 30 * MIN };
  const whatsappD1 = { platform: 'whatsapp_cloud', messagesIn: 2, messagesOut: 2, conversationsOpened: 2, firstResponses: 1, medianFirstResponseMs: 2 * MIN };
  const none = { messagesIn: 0, messagesOut: 0, conversationsOpened: 0, firstResponses: 0, medianFirstResponseMs: null };
  const strip = ({ platform: _p, ...numbers }: Record<string, unknown>) => numbers;

  it('counts each day per platform with totals: messages in and out, conversations opened, median first response', async () => {
    const reports = [await runDay(D1), await runDay(D2)];
    assert.deepEqual(reports.map((r) => r.days[0]!.day), [D1, D2]);
    const res = await daily(`from=2026-03-13&to=2026-03-16`);
    assert.deepEqual(res.days.map((d: { day: string }) => d.day), ['2026-03-13', D1, D2, '2026-03-16'], 'every day of the range, oldest first');
    const [before, d1, d2, afterwards] = res.days;
    assert.deepEqual(before, { day: '2026-03-13', totals: none, platforms: [], computedAt: null });
    assert.deepEqual(afterwards.platforms, []);
    assert.deepEqual(d1.platforms, [messengerD1, whatsappD1]);
    // Over both platforms: 2, 5, 30 min and 13 h → the mean of 5 and 30 min.
    assert.deepEqual(d1.totals, { messagesIn: 7, messagesOut: 5, conversationsOpened: 5, firstResponses: 4, medianFirstResponseMs: 17.5 * MIN });
    assert.ok(d1.computedAt);
    assert.deepEqual(d2.platforms, [
      { platform: 'messenger', messagesIn: 1, messagesOut: 1, conversationsOpened: 1, firstResponses: 0, medianFirstResponseMs: null },
      { platform: 'whatsapp_cloud', messagesIn: 0, messagesOut: 1, conversationsOpened: 1, firstResponses: 0, medianFirstResponseMs: null },
    ]);
    assert.deepEqual(d2.totals, { messagesIn: 1, messagesOut: 2, conversationsOpened: 2, firstResponses: 0, medianFirstResponseMs: null });

    const whatsapp = await daily(`from=${D1}&to=${D1}&platform=whatsapp_cloud`);
    assert.deepEqual(whatsapp.days[0].platforms, [whatsappD1]);
    assert.deepEqual(whatsapp.days[0].totals, strip(whatsappD1), 'the totals of one platform are its numbers');
  });

  it('gives the same numbers when a day is recomputed, and takes out a send that failed after all', async () => {
    const first = await daily(`from=${D1}&to=${D2}`);
    const docs = await DailyStatModel.countDocuments({ day: { $in: [D1, D2] } });
    await runDay(D1);
    await runDay(D2);
    const again = await daily(`from=${D1}&to=${D2}`);
    const numbersOnly = (r: { days: { computedAt: unknown }[] }) => r.days.map(({ computedAt: _c, ...d }) => d);
    assert.deepEqual(numbersOnly(again), numbersOnly(first));
    assert.equal(await DailyStatModel.countDocuments({ day: { $in: [D1, D2] } }), docs, 'upserted, not added');

    // WhatsApp reports the template of D2 as failed (as a late status does): D2 has no WhatsApp row any more.
    await MessageModel.collection.updateOne({ conversationId: `${channelOf(tenantA, 'whatsapp_cloud')}:wC` }, { $set: { status: 'failed', statusRank: 25 } });
    const report = await runDay(D2);
    assert.equal(report.days[0]!.removed, 1);
    const d2 = (await daily(`from=${D2}&to=${D2}`)).days[0];
    assert.deepEqual(d2.platforms.map((p: { platform: string }) => p.platform), ['messenger']);
    assert.deepEqual(d2.totals, { messagesIn: 1, messagesOut: 1, conversationsOpened: 1, firstResponses: 0, medianFirstResponseMs: null });
  });

  it('shows each tenant only its own numbers', async () => {
    const other = await daily(`from=${D1}&to=${D2}`, otherKey);
    assert.deepEqual(other.days[0].platforms, [{ platform: 'messenger', messagesIn: 1, messagesOut: 1, conversationsOpened: 1, firstResponses: 1, medianFirstResponseMs: 10 * MIN }]);
    assert.deepEqual(other.days[1].platforms, []);
    const quiet = await daily(`from=${D0}&to=${D2}`, emptyKey);
    assert.ok(quiet.days.every((d: { platforms: unknown[]; totals: unknown }) => d.platforms.length === 0 && JSON.stringify(d.totals) === JSON.stringify(none)));
  });

  it('answers 400 with a message to a bad range, 401 without a key', async () => {
    const bad = async (query: string, field: RegExp) => {
      const res = await get(`/v1/analytics/daily?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.json.error.code, 'validation_failed');
      assert.match(res.json.error.message, field, res.json.error.message);
    };
    await bad(`to=${D1}`, /query\.from/);
    await bad(`from=2026-02-30&to=${D1}`, /query\.from: must be a day written YYYY-MM-DD/);
    await bad(`from=14.03.2026&to=${D1}`, /query\.from/);
    await bad(`from=${D2}&to=${D1}`, /query\.to: must not be before from/);
    await bad('from=2025-01-01&to=2026-01-02', /query\.to: the range is 367 days; at most 366/);
    await bad(`from=${D1}&to=${D2}&platform=fax`, /query\.platform/);
    assert.equal((await daily('from=2024-01-01&to=2024-12-31')).days.length, 366, 'a leap year is fine');
    assert.equal((await api.call('GET', `/v1/analytics/daily?from=${D1}&to=${D2}`)).status, 401);
  });

  it('the schedule counts a conversation a customer opened and an agent answered through the API', async () => {
    const { conversationId, message: inbound } = await messengerCustomerWrites(sb, channelId, PAGE, 'Do you deliver to Linz?');
    const sent = await api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { key, body: { text: 'Yes, in two days.' }, headers: { 'idempotency-key': 'analytics-reply-1' } });
    assert.equal(sent.status, 202, sent.text);
    const reply = await messageSettled(api, key, sent.json.message.id);
    assert.ok(['sent', 'delivered', 'read'].includes(reply.status), reply.status);
    // Delivery and read webhooks come after the platform's echo of the reply: all three are in.
    await eventually('reply read', async () => (await get(`/v1/messages/${encodeURIComponent(reply.id)}`)).json.message.status === 'read');

    await ensureSchedules(api.temporal, { taskQueue, reconcileEveryMinutes: 60 });
    await ensureSchedules(api.temporal, { taskQueue, reconcileEveryMinutes: 60 }); // idempotent
    const schedule = api.temporal.schedule.getHandle(analyticsScheduleId(taskQueue));
    try {
      const described = await schedule.describe();
      assert.equal(described.action.type === 'startWorkflow' && described.action.workflowType, 'dailyAnalyticsWorkflow');
      await schedule.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
      const run = await eventually('analytics run', async () => {
        const d = await schedule.describe();
        return d.info.recentActions.length > 0 && d.info.recentActions[0]!;
      });
      const result = await api.temporal.workflow.getHandle(run.action.workflow.workflowId, run.action.workflow.firstExecutionRunId).result() as Awaited<ReturnType<typeof dailyAnalyticsWorkflow>>;
      assert.equal(result.days.length, 2, 'yesterday and today');

      // (Should the reply fall just after midnight, the two messages are on two days.)
      const inboundAt = inbound!.platformTimestamp.getTime();
      const replyAt = Date.parse(reply.timestamp);
      const days = (await daily(`from=${dayOf(inboundAt)}&to=${dayOf(replyAt)}`)).days;
      const rows = days.flatMap((d: { platforms: { platform: string }[] }) => d.platforms.filter((p) => p.platform === 'messenger'));
      const sum = (field: string) => rows.reduce((n: number, r: Record<string, number>) => n + r[field]!, 0);
      assert.equal(sum('messagesIn'), 1);
      assert.equal(sum('messagesOut'), 1, 'the sent reply once: its alias and the platform\'s echo are not counted');
      assert.equal(days[0].platforms[0].conversationsOpened, 1);
      assert.equal(days[0].platforms[0].firstResponses, 1);
      assert.equal(days[0].platforms[0].medianFirstResponseMs, replyAt - inboundAt);
    } finally {
      await schedule.delete();
      await api.temporal.schedule.getHandle(reconcileScheduleId(taskQueue)).delete();
    }
  });
});
