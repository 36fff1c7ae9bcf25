// The Twilio sync cursor: where a scan of the Messages list is (direction, next page URL) and what
// has already been returned near the newest message (the watermark). JSON-safe for SyncCursor:
// SID sets travel as "SID:ms,SID:ms" strings.
import type { SyncCursor } from '../types';
import { PLATFORM } from './transport';
import { PlatformError } from '../types';

export type Direction = 'inbound' | 'outbound';

/**
 * How far below the watermark an incremental scan looks again. Twilio dates have 1 s precision and
 * a message can show up in the list slightly after later ones (queued sends get date_sent late);
 * SIDs already returned inside this overlap are skipped.
 */
export const OVERLAP_MS = 60_000;
/** Bound on remembered SIDs (only those within OVERLAP_MS of the watermark are kept anyway). */
const MAX_SEEN = 2_000;
const VERSION = 1;

export interface TwilioCursor {
  /** The direction being listed, or idle between scans. */
  phase: Direction | 'idle';
  kind: 'backfill' | 'incremental';
  /** Next page of the current direction (Twilio's next_page_uri as an absolute URL), null: first page. */
  next: string | null;
  /** Incremental passes: messages older than this (ms) are not new. Null: everything (backfill). */
  floor: number | null;
  /**
   * Per direction, the newest message time (ms) committed so far (0: none) and the SIDs returned
   * within OVERLAP_MS of it. Kept per direction because each direction is listed separately: a
   * message that arrives in one direction while the other is being listed must not fall below a
   * watermark set by the other.
   */
  watermark: Record<Direction, number>;
  seen: Record<Direction, Map<string, number>>;
  /** The current direction's `seen` when its pass started: what this pass must not return again. */
  prevSeen: Map<string, number>;
  /** Newest time and SIDs read by the current pass, committed to its direction when the pass ends. */
  scanMax: number;
  scanSeen: Map<string, number>;
}

/** Nothing synced yet. */
export function emptyCursor(kind: 'backfill' | 'incremental'): TwilioCursor {
  return {
    phase: 'idle', kind, next: null, floor: null,
    watermark: { inbound: 0, outbound: 0 }, seen: { inbound: new Map(), outbound: new Map() },
    prevSeen: new Map(), scanMax: 0, scanSeen: new Map(),
  };
}

/** A scan lists inbound, then outbound. */
export const beginScan = (cur: TwilioCursor, kind: 'backfill' | 'incremental') => beginPass({ ...cur, kind }, 'inbound');

function beginPass(cur: TwilioCursor, direction: Direction): TwilioCursor {
  const incremental = cur.kind === 'incremental';
  return {
    ...cur,
    phase: direction,
    next: null,
    floor: incremental ? Math.max(0, cur.watermark[direction] - OVERLAP_MS) : null,
    prevSeen: incremental ? new Map(cur.seen[direction]) : new Map(),
    scanMax: 0,
    scanSeen: new Map(),
  };
}

/** After a direction's last page: commit what it read, then the next direction or idle. */
export function endPass(cur: TwilioCursor): TwilioCursor {
  if (cur.phase === 'idle') return cur;
  const direction = cur.phase;
  const watermark = Math.max(cur.watermark[direction], cur.scanMax);
  const committed: TwilioCursor = {
    ...cur,
    watermark: { ...cur.watermark, [direction]: watermark },
    seen: { ...cur.seen, [direction]: mergeSeen(cur.seen[direction], cur.scanSeen, watermark) },
  };
  if (direction === 'inbound') return beginPass(committed, 'outbound');
  return { ...committed, phase: 'idle', next: null, floor: null, prevSeen: new Map(), scanMax: 0, scanSeen: new Map() };
}

/** `base` plus `add`, keeping only SIDs within OVERLAP_MS of `watermark` (newest first, at most MAX_SEEN). */
export function mergeSeen(base: Map<string, number>, add: Iterable<[string, number]>, watermark: number): Map<string, number> {
  const all = new Map(base);
  for (const [sid, at] of add) all.set(sid, at);
  const kept = [...all].filter(([, at]) => at >= watermark - OVERLAP_MS).sort((a, b) => b[1] - a[1]).slice(0, MAX_SEEN);
  return new Map(kept);
}

const encodeSet = (m: Map<string, number>) => [...m].map(([sid, at]) => `${sid}:${at}`).join(',');

function decodeSet(value: unknown): Map<string, number> {
  if (typeof value !== 'string') throw badCursor();
  const map = new Map<string, number>();
  for (const item of value.split(',').filter(Boolean)) {
    const [sid, at] = item.split(':');
    if (!sid || !Number.isFinite(Number(at))) throw badCursor();
    map.set(sid, Number(at));
  }
  return map;
}

export function encodeCursor(c: TwilioCursor): SyncCursor {
  return {
    v: VERSION, phase: c.phase, kind: c.kind, next: c.next, floor: c.floor,
    watermarkIn: c.watermark.inbound, watermarkOut: c.watermark.outbound,
    seenIn: encodeSet(c.seen.inbound), seenOut: encodeSet(c.seen.outbound),
    prevSeen: encodeSet(c.prevSeen), scanMax: c.scanMax, scanSeen: encodeSet(c.scanSeen),
  };
}

export function decodeCursor(raw: SyncCursor): TwilioCursor {
  const { v, phase, kind, next, floor, watermarkIn, watermarkOut, scanMax } = raw;
  if (v !== VERSION) throw badCursor();
  if (phase !== 'idle' && phase !== 'inbound' && phase !== 'outbound') throw badCursor();
  if (kind !== 'backfill' && kind !== 'incremental') throw badCursor();
  if (next !== null && typeof next !== 'string') throw badCursor();
  if (floor !== null && typeof floor !== 'number') throw badCursor();
  if (typeof watermarkIn !== 'number' || typeof watermarkOut !== 'number' || typeof scanMax !== 'number') throw badCursor();
  return {
    phase, kind, next, floor, scanMax,
    watermark: { inbound: watermarkIn, outbound: watermarkOut },
    seen: { inbound: decodeSet(raw.seenIn), outbound: decodeSet(raw.seenOut) },
    prevSeen: decodeSet(raw.prevSeen),
    scanSeen: decodeSet(raw.scanSeen),
  };
}

const badCursor = () => new PlatformError(PLATFORM, { kind: 'permanent', message: 'unrecognized sync cursor for whatsapp_twilio (start the sync again with a null cursor)' });
