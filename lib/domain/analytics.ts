// Daily analytics, the pure part: UTC day arithmetic (the workflow picks "yesterday" and "today"
// from workflow time with it), the natural key of a day's stats, what counts as a message, and the
// tally of one day's messages into per tenant × platform numbers with the median first response.
// The activity (activities/analytics.ts) streams messages from MongoDB into a DayTally.

export const DAY_MS = 86_400_000;

/** What `platform` holds on the per-tenant, all-platform totals of a day. */
export const ALL_PLATFORMS = 'all';

/** True for a real calendar day written `YYYY-MM-DD` (2026-02-30 is not one). */
export function isDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const start = Date.parse(`${value}T00:00:00.000Z`);
  return !Number.isNaN(start) && dayOf(start) === value;
}

/** The UTC day of an epoch-ms instant. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** Epoch ms of a UTC day's first instant. */
export const dayStart = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);
export const addDays = (day: string, n: number): string => dayOf(dayStart(day) + n * DAY_MS);
/** Whole days from `from` to `to` (0 for the same day, negative when `to` is earlier). */
export const daysBetween = (from: string, to: string): number => Math.round((dayStart(to) - dayStart(from)) / DAY_MS);

/**
 * `_id` of a daily_stats document. Day before platform: a tenant's date range is one `_id` range,
 * `{$gte: "<tenant>:<from>", $lt: "<tenant>:<to>;"}` (';' sorts right after ':'), which FerretDB
 * answers from its primary key (lib/domain/keys.ts).
 */
export const dailyStatKey = (tenantId: string, day: string, platform: string) => `${tenantId}:${day}:${platform}`;
export const dailyStatRange = (tenantId: string, from: string, to: string) => ({ $gte: `${tenantId}:${from}`, $lt: `${tenantId}:${to};` });

/** Outbound messages the platform took. Pending ones have not gone out; failed ones never reached the customer. */
export const SENT_STATUSES = ['sent', 'delivered', 'read'] as const;
const SENT = new Set<string>(SENT_STATUSES);

export interface TallyMessage {
  tenantId: string;
  platform: string;
  conversationId: string;
  direction: 'inbound' | 'outbound';
  status: string;
  /** The platform's timestamp, epoch ms. */
  at: number;
}

/** A message that happened as far as the customer is concerned: every inbound one, outbound ones once sent. */
export const counts = (m: Pick<TallyMessage, 'direction' | 'status'>): boolean => m.direction === 'inbound' || SENT.has(m.status);

/** The median, the mean of the middle two for an even count (rounded to the ms); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

export interface DayStat {
  tenantId: string;
  /** A platform, or ALL_PLATFORMS for the tenant's totals of the day. */
  platform: string;
  messagesIn: number;
  messagesOut: number;
  conversationsOpened: number;
  /** Conversations opened that day by the customer that got a reply (the median's sample size). */
  firstResponses: number;
  medianFirstResponseMs: number | null;
}

interface ConversationTally {
  tenantId: string;
  platform: string;
  firstAt: number;
  firstInbound: boolean;
  /** The earliest sent outbound message of the day. */
  firstOutboundAt: number | null;
}

/**
 * One UTC day's messages, added in any order. A conversation is opened that day when its earliest
 * message falls in the day, i.e. it has no message before the day (the caller looks those up: it
 * passes them as `earlier`). Its first response is the time from that first message, when inbound,
 * to the first sent outbound message at or after it, on that day or later (`laterReplies`).
 */
export class DayTally {
  private readonly groups = new Map<string, DayStat>();
  private readonly conversations = new Map<string, ConversationTally>();
  messages = 0;

  add(m: TallyMessage): void {
    if (!counts(m)) return;
    this.messages++;
    const group = this.group(m.tenantId, m.platform);
    if (m.direction === 'inbound') group.messagesIn++;
    else group.messagesOut++;

    const inbound = m.direction === 'inbound';
    const conv = this.conversations.get(m.conversationId);
    if (!conv) {
      this.conversations.set(m.conversationId, { tenantId: m.tenantId, platform: m.platform, firstAt: m.at, firstInbound: inbound, firstOutboundAt: inbound ? null : m.at });
      return;
    }
    // Earliest first; at the same instant the customer's message is taken as the first.
    if (m.at < conv.firstAt || (m.at === conv.firstAt && inbound)) {
      conv.firstAt = m.at;
      conv.firstInbound = inbound;
    }
    if (!inbound && (conv.firstOutboundAt === null || m.at < conv.firstOutboundAt)) conv.firstOutboundAt = m.at;
  }

  /** Every conversation with a message that day: the caller finds which had messages before it. */
  conversationIds(): string[] {
    return [...this.conversations.keys()];
  }

  /** Conversations opened by the customer that day with no reply the same day: look later. */
  awaitingReply(earlier: ReadonlySet<string>): string[] {
    return [...this.conversations].filter(([id, c]) => !earlier.has(id) && c.firstInbound && c.firstOutboundAt === null).map(([id]) => id);
  }

  /**
   * Per tenant × platform, plus one ALL_PLATFORMS row per tenant (its median is over every
   * platform's conversations, which the platforms' medians cannot give).
   * `laterReplies`: conversation → its first sent outbound message after the day (epoch ms).
   */
  finish(earlier: ReadonlySet<string>, laterReplies: ReadonlyMap<string, number> = new Map()): DayStat[] {
    const responses = new Map<string, number[]>();
    const opened = new Map<string, number>();
    for (const [id, c] of this.conversations) {
      if (earlier.has(id)) continue;
      for (const key of [groupKey(c.tenantId, c.platform), groupKey(c.tenantId, ALL_PLATFORMS)]) opened.set(key, (opened.get(key) ?? 0) + 1);
      const replyAt = c.firstOutboundAt ?? laterReplies.get(id);
      if (!c.firstInbound || replyAt === undefined) continue;
      for (const key of [groupKey(c.tenantId, c.platform), groupKey(c.tenantId, ALL_PLATFORMS)]) {
        const list = responses.get(key) ?? [];
        list.push(Math.max(0, replyAt - c.firstAt));
        responses.set(key, list);
      }
    }
    const totals = new Map<string, DayStat>();
    for (const g of this.groups.values()) {
      const t = totals.get(g.tenantId) ?? emptyStat(g.tenantId, ALL_PLATFORMS);
      t.messagesIn += g.messagesIn;
      t.messagesOut += g.messagesOut;
      totals.set(g.tenantId, t);
    }
    return [...this.groups.values(), ...totals.values()].map((s) => {
      const key = groupKey(s.tenantId, s.platform);
      const times = responses.get(key) ?? [];
      return { ...s, conversationsOpened: opened.get(key) ?? 0, firstResponses: times.length, medianFirstResponseMs: median(times) };
    });
  }

  private group(tenantId: string, platform: string): DayStat {
    const key = groupKey(tenantId, platform);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = emptyStat(tenantId, platform)));
    return g;
  }
}

const groupKey = (tenantId: string, platform: string) => `${tenantId}\u0000${platform}`;
const emptyStat = (tenantId: string, platform: string): DayStat => ({ tenantId, platform, messagesIn: 0, messagesOut: 0, conversationsOpened: 0, firstResponses: 0, medianFirstResponseMs: null });
