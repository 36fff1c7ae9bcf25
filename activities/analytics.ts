// Daily analytics: one UTC day's messages counted per tenant × platform (lib/domain/analytics.ts
// says what counts) and written as that day's daily_stats documents, replacing what an earlier
// run wrote, so running a day again — the schedule recomputes yesterday and today every run —
// gives the same documents for the same messages. Everything here is a scan of `messages`
// (FerretDB answers only `_id` lookups from an index), fine for a job that runs a few times a day;
// only the fields needed are fetched, and the activity heartbeats as it streams.
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { Types } from 'mongoose';
import { DayTally, DAY_MS, SENT_STATUSES, dailyStatKey, dayStart, isDay, type TallyMessage } from '../lib/domain/analytics';
import { DailyStatModel, MessageModel } from '../models';
import { heartbeatIfActivity } from './activity-context';
import { bulkWriteInChunks } from './inbox-writes';

export interface DailyStatsReport {
  day: string;
  /** Messages counted (inbound, and outbound ones that were sent). */
  messages: number;
  /** daily_stats documents written (per platform and the per-tenant totals). */
  written: number;
  /** Documents of the day an earlier run wrote that no longer have anything to count. */
  removed: number;
}

// $in lists per query: on MongoDB each chunk is an index lookup ({conversationId, platformTimestamp}).
const CHUNK = 1000;

/** Recomputes one UTC day ('YYYY-MM-DD') of daily_stats for every tenant with messages that day. */
export async function aggregateDailyStats({ day }: { day: string }): Promise<DailyStatsReport> {
  if (!isDay(day)) throw new Error(`aggregateDailyStats: "${day}" is not a YYYY-MM-DD day`);
  const start = new Date(dayStart(day));
  const end = new Date(start.getTime() + DAY_MS);

  // The day's messages. Alias documents (activities/send.ts: a sent message's pointer under its
  // platform ID) have no timestamp, so the range alone leaves them out; the condition says so.
  const tally = new DayTally();
  let seen = 0;
  const cursor = MessageModel.collection.find(
    { platformTimestamp: { $gte: start, $lt: end }, aliasOf: { $exists: false } },
    { projection: { _id: 0, tenantId: 1, platform: 1, conversationId: 1, direction: 1, status: 1, platformTimestamp: 1 } },
  );
  for await (const m of cursor) {
    if (!m.tenantId || !m.conversationId || !(m.platformTimestamp instanceof Date)) continue;
    tally.add({ tenantId: String(m.tenantId), platform: m.platform, conversationId: m.conversationId, direction: m.direction, status: m.status, at: m.platformTimestamp.getTime() } as TallyMessage);
    if (++seen % 1000 === 0) heartbeatIfActivity({ day, seen });
  }

  // Conversations with a message before the day were opened earlier.
  const earlier = new Set<string>();
  const ids = tally.conversationIds();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const found = await MessageModel.collection.distinct('conversationId', { conversationId: { $in: ids.slice(i, i + CHUNK) }, platformTimestamp: { $lt: start } });
    for (const id of found) earlier.add(String(id));
    heartbeatIfActivity({ day, checked: i + CHUNK });
  }

  // First replies that came after the day, for conversations the customer opened that day.
  const laterReplies = new Map<string, number>();
  const waiting = tally.awaitingReply(earlier);
  for (let i = 0; i < waiting.length; i += CHUNK) {
    const replies = MessageModel.collection.find(
      { conversationId: { $in: waiting.slice(i, i + CHUNK) }, direction: 'outbound', status: { $in: [...SENT_STATUSES] }, platformTimestamp: { $gte: end } },
      { projection: { _id: 0, conversationId: 1, platformTimestamp: 1 } },
    );
    for await (const r of replies) {
      const at = (r.platformTimestamp as Date).getTime();
      const prev = laterReplies.get(r.conversationId);
      if (prev === undefined || at < prev) laterReplies.set(r.conversationId, at);
    }
    heartbeatIfActivity({ day, replies: i + CHUNK });
  }

  // Replace the day: upsert what was counted, remove what no longer is.
  const now = new Date();
  const stats = tally.finish(earlier, laterReplies);
  const ops: AnyBulkWriteOperation<Document>[] = stats.map((s) => ({
    updateOne: {
      filter: { _id: dailyStatKey(s.tenantId, day, s.platform) } as Document,
      update: {
        $set: {
          tenantId: new Types.ObjectId(s.tenantId), platform: s.platform, day,
          messagesIn: s.messagesIn, messagesOut: s.messagesOut, conversationsOpened: s.conversationsOpened,
          firstResponses: s.firstResponses, medianFirstResponseMs: s.medianFirstResponseMs, updatedAt: now,
        },
        $setOnInsert: { createdAt: now },
      },
      upsert: true,
    },
  }));
  await bulkWriteInChunks(DailyStatModel.collection, ops, false);
  const written = stats.map((s) => dailyStatKey(s.tenantId, day, s.platform));
  const { deletedCount } = await DailyStatModel.collection.deleteMany({ day, _id: { $nin: written } } as Document);
  return { day, messages: tally.messages, written: written.length, removed: deletedCount };
}
