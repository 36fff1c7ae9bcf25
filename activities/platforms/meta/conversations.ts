// History sync over the Conversations API, shared by Messenger, Instagram via a Page and
// Instagram Login. One walker serves both modes: it lists conversations newest-updated first
// (cursor paging), reads each one's messages newest first, and stops where it meets what an
// earlier walk already covered (the `since` watermark, from `updated_time`/`created_time`).
// Graph times have one-second precision and arrive a little out of order, so the walk re-reads
// a short overlap before the watermark and drops the ids it already returned (`recent`).
import type { Platform } from '../../../lib/domain/channel';
import { GraphClient, graphTimeMs, isInstagramHorizonError, str } from '../meta';
import type { NormalizedAttachment, NormalizedConversation, NormalizedMessage, SyncCursor, SyncPage } from '../types';

/** Conversations per listing request (the API default; the page size stays well under 50). */
const LIST_LIMIT = 25;
/** Messages per messages-edge request. */
const MESSAGE_LIMIT = 50;
/** Messages one fetchPage call returns at most; a long thread continues on the next page. */
const PAGE_MESSAGE_BUDGET = 500;
/** How far before the watermark a walk re-reads (late, equal-second and reordered messages). */
const OVERLAP_MS = 120_000;
/** Ids kept to drop re-read messages of the overlap; bounded so the cursor stays small. */
const RECENT_CAP = 300;

export interface ConversationSource {
  platform: Platform;
  graph: GraphClient;
  graphVersion: string;
  token: string;
  /** Whose conversations: the Page id (Messenger, Instagram via a Page) or `me` (Instagram Login). */
  listNode: string;
  channel: 'messenger' | 'instagram';
  /** Ids that stand for the business in `from`/`participants` (Page id, IG id, IG app-scoped id). */
  businessIds: string[];
  /** Overrides PAGE_MESSAGE_BUDGET. */
  pageMessageBudget?: number;
}

/** The cursor, decoded. Lists of ids travel as JSON strings because SyncCursor values are scalars. */
interface WalkState {
  /** Watermark (ms): every message at or before it was returned by an earlier, finished walk. null: nothing yet. */
  since: number | null;
  /** [id, created ms] of returned messages at or after `since - OVERLAP_MS`. */
  recent: [string, number][];
  /** A walk in progress. */
  walking: boolean;
  /** The newest `updated_time` at the walk's start: the next watermark once the walk finishes. */
  top: number | null;
  /** Listing cursor of the current listing page (null: the first page). */
  listAfter: string | null;
  /** Conversations of the current listing page already finished. */
  doneIds: string[];
  /** A conversation left half-read by the message budget, and where its messages continue. */
  convId: string | null;
  msgAfter: string | null;
  /** [id, created ms] returned so far by this walk inside the future overlap window. */
  seen: [string, number][];
}

const fresh = (): WalkState => ({ since: null, recent: [], walking: false, top: null, listAfter: null, doneIds: [], convId: null, msgAfter: null, seen: [] });

function decode(cursor: SyncCursor | null): WalkState {
  if (!cursor || cursor.v !== 1) return fresh();
  const list = <T>(v: unknown): T[] => {
    if (typeof v !== 'string') return [];
    try { const parsed = JSON.parse(v) as unknown; return Array.isArray(parsed) ? (parsed as T[]) : []; } catch { return []; }
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    since: num(cursor.since),
    recent: list<[string, number]>(cursor.recent),
    walking: cursor.walking === true,
    top: num(cursor.top),
    listAfter: str(cursor.listAfter) ?? null,
    doneIds: list<string>(cursor.doneIds),
    convId: str(cursor.convId) ?? null,
    msgAfter: str(cursor.msgAfter) ?? null,
    seen: list<[string, number]>(cursor.seen),
  };
}

function encode(s: WalkState): SyncCursor {
  return {
    v: 1, since: s.since, recent: JSON.stringify(s.recent), walking: s.walking, top: s.top, listAfter: s.listAfter,
    doneIds: JSON.stringify(s.doneIds), convId: s.convId, msgAfter: s.msgAfter, seen: JSON.stringify(s.seen),
  };
}

interface GraphParticipant { id?: string; name?: string; username?: string; email?: string }
interface GraphConversation { id: string; updated_time?: string; participants?: { data?: GraphParticipant[] } }
interface GraphAttachment {
  id?: string; mime_type?: string; name?: string; size?: number; file_url?: string;
  image_data?: { url?: string; preview_url?: string }; video_data?: { url?: string; preview_url?: string };
}
interface GraphMessage { id: string; created_time?: string; from?: GraphParticipant; to?: { data?: GraphParticipant[] }; message?: string; attachments?: { data?: GraphAttachment[] }; sticker?: string }
interface Paging { next?: string; cursors?: { after?: string } }

function attachmentOf(a: GraphAttachment): NormalizedAttachment {
  const mime = a.mime_type;
  const type: NormalizedAttachment['type'] = a.image_data ? (mime === 'image/gif' && /sticker/i.test(a.name ?? '') ? 'sticker' : 'image')
    : a.video_data ? 'video'
      : mime?.startsWith('image/') ? 'image' : mime?.startsWith('video/') ? 'video' : mime?.startsWith('audio/') ? 'audio' : a.file_url ? 'file' : 'other';
  const url = a.image_data?.url ?? a.video_data?.url ?? a.file_url;
  return {
    type,
    ...(url ? { url } : {}),
    ...(mime ? { mimeType: mime } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(typeof a.size === 'number' ? { size: a.size } : {}),
    ...(a.id ? { platformMediaId: String(a.id) } : {}),
  };
}

function normalizeMessage(m: GraphMessage, business: Set<string>, customerId: string): NormalizedMessage {
  const fromId = str(m.from?.id) ?? customerId;
  const attachments = (m.attachments?.data ?? []).map(attachmentOf);
  if (m.sticker) attachments.push({ type: 'sticker', url: m.sticker });
  return {
    externalId: m.id,
    direction: business.has(fromId) ? 'outbound' : 'inbound',
    sender: { externalId: fromId, ...(m.from?.name ?? m.from?.username ? { name: m.from?.name ?? m.from?.username } : {}) },
    ...(m.message ? { text: m.message } : {}),
    ...(attachments.length ? { attachments } : {}),
    timestamp: graphTimeMs(m.created_time),
  };
}

/**
 * One page. `mode` matters only when nothing is in progress: backfill with a finished cursor
 * has nothing left (done); incremental starts a new walk from the watermark. A null cursor is
 * a walk over everything (nothing has been synced, so everything is new).
 */
export async function fetchConversationsPage(src: ConversationSource, cursor: SyncCursor | null, mode: 'backfill' | 'incremental'): Promise<SyncPage> {
  const state = decode(cursor);
  if (!state.walking) {
    if (mode === 'backfill' && cursor && state.since !== null) return { conversations: [], cursor: encode(state), done: true };
    Object.assign(state, { walking: true, top: null, listAfter: null, doneIds: [], convId: null, msgAfter: null, seen: [] });
  }
  const business = new Set(src.businessIds);
  const floor = state.since === null ? null : state.since - OVERLAP_MS;
  const already = new Set(state.recent.map(([id]) => id));
  const v = src.graphVersion;

  const list = await src.graph.get<{ data?: GraphConversation[]; paging?: Paging }>(`${v}/${src.listNode}/conversations`, src.token, {
    platform: src.channel, fields: 'id,updated_time,participants', limit: LIST_LIMIT, ...(state.listAfter ? { after: state.listAfter } : {}),
  });
  const convs = list.data ?? [];
  if (state.top === null && state.listAfter === null) state.top = convs.length ? Math.max(...convs.map((c) => graphTimeMs(c.updated_time))) : state.since;

  const out: NormalizedConversation[] = [];
  const emitted = new Set<string>();
  let budget = Math.max(1, src.pageMessageBudget ?? PAGE_MESSAGE_BUDGET);
  let reachedOld = false;

  for (const conv of convs) {
    if (state.doneIds.includes(conv.id)) continue;
    if (floor !== null && graphTimeMs(conv.updated_time) < floor) { reachedOld = true; break; }
    if (budget <= 0) return { conversations: out, cursor: encode(state), done: false };

    const people = (conv.participants?.data ?? []).map((p) => ({ ...p, id: str(p.id) }));
    const customer: GraphParticipant = people.find((p) => p.id && !business.has(p.id)) ?? people[0] ?? {};
    const customerId = customer.id ?? conv.id;
    const messages: NormalizedMessage[] = [];
    let after = state.convId === conv.id ? state.msgAfter : null;
    let finished = false;
    while (!finished && budget > 0) {
      let page: { data?: GraphMessage[]; paging?: Paging };
      try {
        page = await src.graph.get(`${v}/${conv.id}/messages`, src.token, {
          fields: 'id,created_time,from,to,message,attachments', limit: Math.min(MESSAGE_LIMIT, budget), ...(after ? { after } : {}),
        });
      } catch (err) {
        // Instagram: nothing past the 20 newest messages can be read; that is where history ends.
        if (src.channel === 'instagram' && isInstagramHorizonError(err)) break;
        throw err;
      }
      for (const m of page.data ?? []) {
        const ts = graphTimeMs(m.created_time);
        if (floor !== null && ts < floor) { finished = true; break; }
        budget -= 1;
        if (already.has(m.id) || emitted.has(m.id)) continue;
        emitted.add(m.id);
        messages.push(normalizeMessage(m, business, customerId));
        if (state.top !== null && ts >= state.top - OVERLAP_MS) state.seen.push([m.id, ts]);
      }
      after = page.paging?.next ? str(page.paging.cursors?.after) ?? null : null;
      if (!after) finished = true;
    }
    if (messages.length) {
      messages.sort((a, b) => a.timestamp - b.timestamp);
      out.push({
        // A Page/IG DM thread is 1:1 with the customer, and webhooks name only the customer
        // (PSID/IGSID), so the customer's id is the thread id sync and webhooks share.
        externalId: customerId,
        participant: { externalId: customerId, ...(customer.username ? { handle: customer.username } : {}), ...(customer.name ?? customer.username ? { name: customer.name ?? customer.username } : {}) },
        messages,
      });
    }
    if (!finished) {
      state.convId = conv.id;
      state.msgAfter = after;
      state.seen = state.seen.slice(-RECENT_CAP);
      return { conversations: out, cursor: encode(state), done: false };
    }
    state.doneIds.push(conv.id);
    state.convId = null;
    state.msgAfter = null;
  }

  const nextList = list.paging?.next ? str(list.paging.cursors?.after) : undefined;
  if (!reachedOld && nextList) {
    Object.assign(state, { listAfter: nextList, doneIds: [], convId: null, msgAfter: null, seen: state.seen.slice(-RECENT_CAP) });
    return { conversations: out, cursor: encode(state), done: false };
  }

  // Walk finished: history is complete up to `top`; keep the ids of the overlap to skip them next time.
  const since = Math.max(state.since ?? -Infinity, state.top ?? -Infinity);
  const next: WalkState = fresh();
  if (Number.isFinite(since)) {
    next.since = since;
    const keep = new Map<string, number>();
    for (const [id, ts] of [...state.recent, ...state.seen]) if (ts >= since - OVERLAP_MS) keep.set(id, ts);
    next.recent = [...keep].sort((a, b) => a[1] - b[1]).slice(-RECENT_CAP);
  }
  return { conversations: out, cursor: encode(next), done: true };
}
