// One Gmail mailbox: messages grouped in threads, labels, a history log with monotonically
// increasing (gapped) ids and a retention horizon, the users.watch registration and the per-user
// quota window. Renders Gmail's Message / Thread / History resources.
import { headerValue, parseMime, textOf, type MimePart } from './mime';

export const SYSTEM_LABELS = ['INBOX', 'SENT', 'UNREAD', 'STARRED', 'IMPORTANT', 'SPAM', 'TRASH', 'DRAFT', 'CHAT',
  'CATEGORY_PERSONAL', 'CATEGORY_SOCIAL', 'CATEGORY_PROMOTIONS', 'CATEGORY_UPDATES', 'CATEGORY_FORUMS'];

export interface StoredMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  /** Epoch ms. */
  internalDate: number;
  historyId: number;
  raw: string;
  mime: MimePart;
  snippet: string;
  /** attachmentId → decoded bytes. */
  attachments: Map<string, Buffer>;
}

interface MessageRef { id: string; threadId: string; labelIds: string[] }

export interface HistoryRecord {
  id: number;
  /** Sandbox time the change happened (ms), for the retention horizon. */
  at: number;
  messages: { id: string; threadId: string }[];
  messagesAdded?: { message: MessageRef }[];
  messagesDeleted?: { message: MessageRef }[];
  labelsAdded?: { message: MessageRef; labelIds: string[] }[];
  labelsRemoved?: { message: MessageRef; labelIds: string[] }[];
}

export interface Watch { topicName: string; labelIds: string[]; labelFilterBehavior: 'include' | 'exclude'; expiration: number }

export type MessageFormat = 'full' | 'metadata' | 'minimal' | 'raw';

export class Mailbox {
  readonly messages = new Map<string, StoredMessage>();
  readonly threads = new Map<string, string[]>();
  readonly history: HistoryRecord[] = [];
  readonly userLabels = new Map<string, string>();
  historyId: number;
  /** History ids at or below this are gone: history.list from an older id answers 404. */
  horizon: number;
  watch: Watch | null = null;
  /** Quota charges in the last minute: [sandbox ms, units]. */
  readonly quotaLog: [number, number][] = [];
  private idSeq = 0;
  private attachmentSeq = 0;

  constructor(readonly email: string, readonly displayName: string, private readonly now: () => number, startHistoryId: number) {
    this.historyId = startHistoryId;
    this.horizon = startHistoryId;
  }

  /** Gmail ids are hex of (ms << 20 | sequence), so they sort by time like the real ones. */
  private newId(at: number): string {
    return ((BigInt(at) << 20n) | BigInt(++this.idSeq & 0xfffff)).toString(16);
  }

  private record(change: Omit<HistoryRecord, 'id' | 'at'>): HistoryRecord {
    // Real history ids grow with gaps (other internal changes), so clients must not expect +1.
    this.historyId += 1 + (this.idSeq % 7);
    const rec: HistoryRecord = { id: this.historyId, at: this.now(), ...change };
    this.history.push(rec);
    return rec;
  }

  private ref(m: StoredMessage): MessageRef {
    return { id: m.id, threadId: m.threadId, labelIds: [...m.labelIds] };
  }

  /** Adds a message (received or sent) in `threadId` or a new thread; records messageAdded. */
  add(raw: string, labelIds: string[], internalDate: number, threadId?: string): { message: StoredMessage; record: HistoryRecord } {
    const mime = parseMime(raw);
    const id = this.newId(internalDate);
    const thread = threadId && this.threads.has(threadId) ? threadId : id;
    const message: StoredMessage = {
      id, threadId: thread, labelIds: [...new Set(labelIds)], internalDate, historyId: 0, raw, mime,
      snippet: snippetOf(textOf(mime)), attachments: new Map(),
    };
    this.indexAttachments(message, mime);
    this.messages.set(id, message);
    this.threads.set(thread, [...(this.threads.get(thread) ?? []), id]);
    const record = this.record({ messages: [{ id, threadId: thread }], messagesAdded: [{ message: this.ref(message) }] });
    message.historyId = record.id;
    return { message, record };
  }

  /** messages.modify: label changes, each direction its own history entry. */
  modify(message: StoredMessage, add: string[], remove: string[]): HistoryRecord[] {
    const added = add.filter((l) => !message.labelIds.includes(l));
    const removed = remove.filter((l) => message.labelIds.includes(l) && !add.includes(l));
    message.labelIds = [...message.labelIds.filter((l) => !removed.includes(l)), ...added];
    const records: HistoryRecord[] = [];
    const msg = { id: message.id, threadId: message.threadId };
    if (added.length) records.push(this.record({ messages: [msg], labelsAdded: [{ message: this.ref(message), labelIds: added }] }));
    if (removed.length) records.push(this.record({ messages: [msg], labelsRemoved: [{ message: this.ref(message), labelIds: removed }] }));
    if (records.length) message.historyId = records.at(-1)!.id;
    return records;
  }

  /** Drops history older than `retentionMs`; `retentionMs = 0` drops everything (forced horizon). */
  prune(retentionMs: number): void {
    const cutoff = this.now() - retentionMs;
    let drop = 0;
    while (drop < this.history.length && (retentionMs === 0 || this.history[drop]!.at < cutoff)) drop++;
    if (drop > 0) this.horizon = Math.max(this.horizon, this.history[drop - 1]!.id);
    this.history.splice(0, drop);
    if (retentionMs === 0) this.horizon = this.historyId;
  }

  /** Charges quota units in a sliding minute; returns seconds to wait when over `limit`. */
  charge(units: number, limit: number): number | null {
    const now = this.now();
    while (this.quotaLog.length && this.quotaLog[0]![0] <= now - 60_000) this.quotaLog.shift();
    const used = this.quotaLog.reduce((sum, [, u]) => sum + u, 0);
    if (used + units > limit) {
      // Wait until enough of the window has slid out to fit this call.
      let freed = 0;
      let waitMs = 60_000;
      for (const [at, u] of this.quotaLog) {
        freed += u;
        if (used - freed + units <= limit) { waitMs = at + 60_000 - now; break; }
      }
      return Math.max(1, Math.ceil(waitMs / 1000));
    }
    this.quotaLog.push([now, units]);
    return null;
  }

  threadMessages(threadId: string): StoredMessage[] {
    return (this.threads.get(threadId) ?? []).map((id) => this.messages.get(id)!).sort((a, b) => a.internalDate - b.internalDate);
  }

  /** Gmail's Message resource in the requested format. */
  render(m: StoredMessage, format: MessageFormat, metadataHeaders: string[] = []): Record<string, unknown> {
    const base: Record<string, unknown> = {
      id: m.id, threadId: m.threadId, labelIds: [...m.labelIds], snippet: m.snippet,
      sizeEstimate: Buffer.byteLength(m.raw), historyId: String(m.historyId), internalDate: String(m.internalDate),
    };
    if (format === 'minimal') return base;
    if (format === 'raw') return { ...base, raw: Buffer.from(m.raw, 'utf8').toString('base64url') };
    if (format === 'metadata') {
      const wanted = metadataHeaders.map((h) => h.toLowerCase());
      const headers = m.mime.headers.filter((h) => wanted.length === 0 || wanted.includes(h.name.toLowerCase()));
      return { ...base, payload: { partId: '', mimeType: m.mime.mimeType, filename: m.mime.filename, headers, body: { size: 0 } } };
    }
    return { ...base, payload: this.renderPart(m, m.mime, '') };
  }

  private renderPart(m: StoredMessage, part: MimePart, partId: string): Record<string, unknown> {
    const out: Record<string, unknown> = { partId, mimeType: part.mimeType, filename: part.filename, headers: part.headers };
    if (part.parts.length) {
      out.body = { size: 0 };
      out.parts = part.parts.map((p, i) => this.renderPart(m, p, partId === '' ? String(i) : `${partId}.${i}`));
      return out;
    }
    const attachmentId = [...m.attachments.entries()].find(([, bytes]) => bytes === part.body)?.[0];
    out.body = attachmentId ? { attachmentId, size: part.body.length } : { size: part.body.length, ...(part.body.length ? { data: part.body.toString('base64url') } : {}) };
    return out;
  }

  private indexAttachments(m: StoredMessage, part: MimePart): void {
    if (part.filename && !part.parts.length) m.attachments.set(`ANGjdJ${m.id}${String(++this.attachmentSeq).padStart(4, '0')}`, part.body);
    for (const p of part.parts) this.indexAttachments(m, p);
  }

  /** The Message-ID of a message, for threading replies. */
  static messageIdHeader(m: StoredMessage): string | undefined {
    return headerValue(m.mime.headers, 'Message-ID');
  }
}

/** Gmail snippets: whitespace collapsed, ~200 chars, HTML-escaped. */
function snippetOf(text: string): string {
  const collapsed = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return collapsed.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
