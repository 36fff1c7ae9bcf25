// The tenant event log (models/tenant-event.ts): writers append what they stored, readers (the SSE
// stream, outgoing webhooks) follow it by sequence number.
//
// Sequence numbers are taken in blocks with one atomic `$inc` per append, so concurrent writers
// never share a number. A number can be taken and its event written a moment later — or never, if
// the writer crashed in between — so a reader meeting a missing number waits for it a little
// (GAP_WAIT_MS) before passing it: it never skips an event that is merely in flight.
import type { Document } from 'mongodb';
import { Types } from 'mongoose';
import { EventSequenceModel, TenantEventModel, type TenantEventType } from '../models';

export interface NewTenantEvent {
  type: TenantEventType;
  key: string;
  data: Record<string, unknown>;
  at?: Date;
}

export interface TenantEventRecord {
  seq: number;
  type: TenantEventType;
  key: string;
  at: Date;
  data: Record<string, unknown>;
}

const SEQ_DIGITS = 12;
export const GAP_WAIT_MS = 5_000;

export const tenantEventId = (tenantId: string, seq: number) => `${tenantId}:${String(seq).padStart(SEQ_DIGITS, '0')}`;

/** Appends a tenant's events in order. Returns their sequence numbers. */
export async function appendEvents(tenantId: string, events: NewTenantEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  const counter = await EventSequenceModel.collection.findOneAndUpdate(
    { _id: tenantId } as Document, { $inc: { seq: events.length } }, { upsert: true, returnDocument: 'after' },
  );
  const last = Number(counter?.seq);
  const first = last - events.length + 1;
  const tenant = new Types.ObjectId(tenantId);
  const now = new Date();
  const docs = events.map((e, i) => ({
    // `data` as JSON text: every reader only passes it on as JSON, and one string is far cheaper for
    // FerretDB to write and read back than a document tree (it is the bulk of each event).
    _id: tenantEventId(tenantId, first + i), tenantId: tenant, seq: first + i, type: e.type, key: e.key, at: e.at ?? now, data: JSON.stringify(e.data),
  }));
  await TenantEventModel.collection.insertMany(docs as unknown as Document[], { ordered: false });
  return docs.map((d) => d.seq);
}

/** Appends events grouped by tenant (a write may touch several tenants' records). */
export async function appendEventsByTenant(events: (NewTenantEvent & { tenantId: string })[]): Promise<void> {
  const byTenant = new Map<string, NewTenantEvent[]>();
  for (const { tenantId, ...e } of events) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), e]);
  for (const [tenantId, list] of byTenant) await appendEvents(tenantId, list);
}

/** The last sequence number handed out for a tenant (0 before its first event). */
export async function latestSeq(tenantId: string): Promise<number> {
  const counter = await EventSequenceModel.collection.findOne({ _id: tenantId } as Document);
  return counter ? Number(counter.seq) : 0;
}

export async function findEvent(tenantId: string, seq: number): Promise<TenantEventRecord | null> {
  const doc = await TenantEventModel.collection.findOne({ _id: tenantEventId(tenantId, seq) } as Document);
  return doc ? toRecord(doc) : null;
}

/**
 * Follows one tenant's log from a position. `read()` returns the next events in sequence order,
 * without gaps except those that stayed empty for `gapWaitMs` (a writer that died between taking a
 * number and writing the event).
 */
export class EventFollower {
  private gapSeenAt: number | null = null;

  constructor(
    readonly tenantId: string,
    public position: number,
    private readonly opts: { batch?: number; gapWaitMs?: number; now?: () => number } = {},
  ) {}

  async read(): Promise<TenantEventRecord[]> {
    const batch = this.opts.batch ?? 200;
    const now = this.opts.now ?? Date.now;
    const out: TenantEventRecord[] = [];
    // A span of sequence numbers is a range of `_id`s: the primary key answers it on any server.
    const docs = await TenantEventModel.collection
      .find({ _id: { $gt: tenantEventId(this.tenantId, this.position), $lte: tenantEventId(this.tenantId, this.position + batch) } } as Document)
      .sort({ _id: 1 }).toArray();
    for (const doc of docs) {
      const record = toRecord(doc);
      if (record.seq !== this.position + 1) {
        // A missing number: wait for it a while, then pass it.
        this.gapSeenAt ??= now();
        if (now() - this.gapSeenAt < (this.opts.gapWaitMs ?? GAP_WAIT_MS)) break;
      }
      this.gapSeenAt = null;
      out.push(record);
      this.position = record.seq;
    }
    if (docs.length === 0) await this.skipEmptySpan(batch, now);
    return out;
  }

  /** Numbers were taken past a whole empty span (writers that died): pass it once it stayed empty. */
  private async skipEmptySpan(batch: number, now: () => number) {
    if ((await latestSeq(this.tenantId)) <= this.position) { this.gapSeenAt = null; return; }
    this.gapSeenAt ??= now();
    if (now() - this.gapSeenAt >= (this.opts.gapWaitMs ?? GAP_WAIT_MS)) { this.position += batch; this.gapSeenAt = null; }
  }
}

function toRecord(doc: Document): TenantEventRecord {
  // Events appended before `data` was stored as text hold it as a document.
  const data = typeof doc.data === 'string' ? JSON.parse(doc.data) : doc.data;
  return { seq: Number(doc.seq), type: doc.type as TenantEventType, key: String(doc.key), at: new Date(doc.at as Date), data: data as Record<string, unknown> };
}
