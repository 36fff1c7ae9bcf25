// The pure rules of daily analytics: UTC days, the stats' keys, what counts as a message, when a
// conversation is opened, and the median first response.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_PLATFORMS, DayTally, addDays, dailyStatKey, dailyStatRange, dayOf, daysBetween, isDay, median, type TallyMessage } from '../../lib/domain/analytics';

const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 14, 9); // 2026-03-14 09:00 UTC

const msg = (conversationId: string, direction: 'inbound' | 'outbound', at: number, extra: Partial<TallyMessage> = {}): TallyMessage =>
  ({ tenantId: 't1', platform: 'messenger', conversationId, direction, status: direction === 'inbound' ? 'received' : 'sent', at, ...extra });
const byPlatform = (stats: ReturnType<DayTally['finish']>, tenantId: string, platform: string) => stats.find((s) => s.tenantId === tenantId && s.platform === platform);

describe('UTC days', () => {
  it('accepts real calendar days only', () => {
    assert.ok(isDay('2026-03-14'));
    assert.ok(isDay('2024-02-29'));
    for (const bad of ['2026-02-30', '2025-02-29', '2026-13-01', '2026-3-14', '14/03/2026', '2026-03-14T00:00:00Z', '']) assert.equal(isDay(bad), false, bad);
  });
  it('steps over month and year ends and counts days between', () => {
    assert.equal(addDays('2026-01-01', -1), '2025-12-31');
    assert.equal(addDays('2024-02-28', 1), '2024-02-29');
    assert.equal(daysBetween('2026-01-01', '2026-12-31'), 364);
    assert.equal(daysBetween('2026-03-15', '2026-03-14'), -1);
    assert.equal(dayOf(Date.UTC(2026, 2, 14, 23, 59, 59, 999)), '2026-03-14');
  });
  it('keys a tenant\'s days so that a date range is one _id range', () => {
    const key = dailyStatKey('abc', '2026-03-14', 'messenger');
    const range = dailyStatRange('abc', '2026-03-14', '2026-03-15');
    const inRange = (k: string) => k >= range.$gte && k < range.$lt;
    assert.ok(inRange(key));
    assert.ok(inRange(dailyStatKey('abc', '2026-03-15', ALL_PLATFORMS)));
    assert.ok(inRange(dailyStatKey('abc', '2026-03-15', 'whatsapp_twilio')));
    assert.equal(inRange(dailyStatKey('abc', '2026-03-16', 'email')), false);
    assert.equal(inRange(dailyStatKey('abd', '2026-03-14', 'email')), false);
  });
});

describe('median', () => {
  it('is the middle value, the mean of the middle two for an even count, null for none', () => {
    assert.equal(median([]), null);
    assert.equal(median([7]), 7);
    assert.equal(median([30, 10, 20]), 20);
    assert.equal(median([40, 10, 30, 20]), 25);
    assert.equal(median([1, 2]), 2, 'rounded to the ms (1.5 → 2)');
  });
});

describe('a day\'s tally', () => {
  it('counts inbound and sent outbound messages; pending and failed sends do not count', () => {
    const t = new DayTally();
    t.add(msg('c1', 'inbound', T0));
    for (const status of ['sent', 'delivered', 'read', 'pending', 'failed']) t.add(msg('c1', 'outbound', T0 + MIN, { status }));
    const s = byPlatform(t.finish(new Set()), 't1', 'messenger')!;
    assert.equal(s.messagesIn, 1);
    assert.equal(s.messagesOut, 3);
    assert.equal(t.messages, 4);
  });

  it('times the first reply to a conversation the customer opened, whatever order messages come in', () => {
    const t = new DayTally();
    t.add(msg('c1', 'outbound', T0 + 9 * MIN)); // a second reply
    t.add(msg('c1', 'inbound', T0 + 2 * MIN));
    t.add(msg('c1', 'outbound', T0 + 5 * MIN)); // the first reply: 3 min after the first message
    t.add(msg('c1', 'inbound', T0 + 4 * MIN));
    t.add(msg('c2', 'inbound', T0));
    t.add(msg('c2', 'outbound', T0 + 10 * MIN, { status: 'failed' })); // no reply yet
    t.add(msg('c2', 'outbound', T0 + 11 * MIN)); // 11 min
    const s = byPlatform(t.finish(new Set()), 't1', 'messenger')!;
    assert.equal(s.conversationsOpened, 2);
    assert.equal(s.firstResponses, 2);
    assert.equal(s.medianFirstResponseMs, 7 * MIN);
  });

  it('leaves out conversations with earlier messages, and ones the business opened, from the median', () => {
    const t = new DayTally();
    t.add(msg('old', 'inbound', T0)); // had messages before the day
    t.add(msg('old', 'outbound', T0 + MIN));
    t.add(msg('ours', 'outbound', T0)); // the business wrote first (e.g. a template)
    t.add(msg('ours', 'inbound', T0 + MIN));
    t.add(msg('ours', 'outbound', T0 + 2 * MIN));
    t.add(msg('unanswered', 'inbound', T0));
    const earlier = new Set(['old']);
    const s = byPlatform(t.finish(earlier), 't1', 'messenger')!;
    assert.equal(s.conversationsOpened, 2);
    assert.equal(s.firstResponses, 0);
    assert.equal(s.medianFirstResponseMs, null);
    assert.deepEqual(t.awaitingReply(earlier), ['unanswered']);
  });

  it('takes a reply from a later day into the day the conversation was opened', () => {
    const t = new DayTally();
    t.add(msg('late', 'inbound', T0));
    const s = byPlatform(t.finish(new Set(), new Map([['late', T0 + 20 * 60 * MIN]])), 't1', 'messenger')!;
    assert.equal(s.medianFirstResponseMs, 20 * 60 * MIN);
  });

  it('a reply at the same instant as the first message is a 0 ms response', () => {
    const t = new DayTally();
    t.add(msg('bot', 'outbound', T0));
    t.add(msg('bot', 'inbound', T0));
    assert.equal(byPlatform(t.finish(new Set()), 't1', 'messenger')!.medianFirstResponseMs, 0);
  });

  it('keeps tenants and platforms apart, with per-tenant totals whose median spans platforms', () => {
    const t = new DayTally();
    t.add(msg('m1', 'inbound', T0)); t.add(msg('m1', 'outbound', T0 + 1 * MIN));
    t.add(msg('m2', 'inbound', T0)); t.add(msg('m2', 'outbound', T0 + 2 * MIN));
    t.add(msg('w1', 'inbound', T0, { platform: 'whatsapp_cloud' })); t.add(msg('w1', 'outbound', T0 + 9 * MIN, { platform: 'whatsapp_cloud' }));
    t.add(msg('x1', 'inbound', T0, { tenantId: 't2' }));
    const stats = t.finish(new Set());
    assert.equal(stats.length, 5, 't1 × 2 platforms, t2 × 1, and a totals row per tenant');
    assert.equal(byPlatform(stats, 't1', 'messenger')!.medianFirstResponseMs, Math.round(1.5 * MIN));
    assert.equal(byPlatform(stats, 't1', 'whatsapp_cloud')!.medianFirstResponseMs, 9 * MIN);
    assert.deepEqual(byPlatform(stats, 't1', ALL_PLATFORMS), { tenantId: 't1', platform: ALL_PLATFORMS, messagesIn: 3, messagesOut: 3, conversationsOpened: 3, firstResponses: 3, medianFirstResponseMs: 2 * MIN });
    assert.deepEqual(byPlatform(stats, 't2', ALL_PLATFORMS), { tenantId: 't2', platform: ALL_PLATFORMS, messagesIn: 1, messagesOut: 0, conversationsOpened: 1, firstResponses: 0, medianFirstResponseMs: null });
  });
});
