// The hot path, per delivery: verify the signature over the raw bytes → normalize → route each
// event to its channel → store the delivery (webhook log) and its events (intake queue) with
// natural keys, in one insert → acknowledge → wake the channel workflows (coalesced). Nothing is acknowledged
// before it is stored, and storing twice changes nothing, so platform retries are harmless.
import type { Logger } from 'pino';
import { Types } from 'mongoose';
import { sha256Hex } from '../../lib/crypto';
import { ChannelModel, heldId, WebhookDeliveryModel, WebhookEventModel } from '../../models';
import { insertNew } from '../../activities/inbox-writes';
import type { ChannelDirectory } from './directory';
import { MalformedWebhookError, type InboxEvent, type ParseResult, type WebhookRequest, type WebhookSecrets, type WebhookSource } from './sources/types';
import type { ChannelWaker } from './waker';
import { GroupInsert } from './group-insert';

export interface IntakeReply { status: number; contentType: string; body: string }

export interface IntakeDeps {
  sources: ReadonlyMap<string, WebhookSource>;
  secrets: WebhookSecrets;
  directory: ChannelDirectory;
  waker: ChannelWaker;
  log: Logger;
}

const json = (status: number, code: string, message: string): IntakeReply =>
  ({ status, contentType: 'application/json', body: JSON.stringify({ error: { code, message } }) });

export class WebhookIntake {
  /** Concurrent deliveries' events go into the queue together (group commit). */
  readonly queue = new GroupInsert(() => WebhookEventModel.collection);

  constructor(private readonly deps: IntakeDeps) {}

  /** Meta's GET verification handshake. */
  handshake(name: string, query: Record<string, string>): IntakeReply {
    const source = this.deps.sources.get(name);
    if (!source) return json(404, 'not_found', `No webhook endpoint "${name}"`);
    if (!source.handshake) return json(405, 'method_not_allowed', `The ${name} webhook takes POST only`);
    const answer = source.handshake(query, this.deps.secrets);
    if (answer.status !== 200) this.deps.log.warn({ source: name }, 'webhook verification handshake refused (wrong verify token)');
    return { status: answer.status, contentType: 'text/plain', body: answer.body };
  }

  async receive(name: string, req: WebhookRequest): Promise<IntakeReply> {
    const { log, directory } = this.deps;
    const source = this.deps.sources.get(name);
    if (!source) return json(404, 'not_found', `No webhook endpoint "${name}"`);

    const verdict = await source.verify(req, { secrets: this.deps.secrets, channelCredentials: (p, a) => directory.credentials(p, a) });
    if (!verdict.ok) {
      // Logged loudly: a rotated app secret makes every genuine delivery fail here.
      log.warn({ source: name, reason: verdict.reason, bytes: req.body.length }, 'webhook rejected: bad signature');
      return json(401, 'invalid_signature', verdict.reason);
    }

    const deliveryId = `${name}:${sha256Hex(req.body)}`;
    let parsed: ParseResult;
    try {
      parsed = source.parse(req);
    } catch (err) {
      if (err instanceof MalformedWebhookError) {
        log.warn({ source: name, deliveryId, reason: err.message }, 'webhook rejected: malformed body');
        return json(400, 'malformed_webhook', err.message);
      }
      // A parser bug: keep the verified delivery so it can be replayed once fixed, and say 400.
      log.error({ source: name, deliveryId, err }, 'webhook parser failed on a verified delivery');
      await insertNew(WebhookDeliveryModel.collection, [this.deliveryRecord(deliveryId, name, req, { events: [], ignored: [] }, [], 0, (err as Error).message)]).catch(() => undefined);
      return json(400, 'unreadable_webhook', 'The delivery could not be read');
    }

    const now = new Date(req.receivedAt);
    // Queue keys sort by arrival within a channel, so drains go oldest first (no event waits behind
    // a stream of newer ones). A redelivered event is therefore queued again — and applied again,
    // which changes nothing: messages are inserted by natural key and statuses only move forward.
    const arrival = req.receivedAt.toString(36).padStart(9, '0');
    const docs: Record<string, unknown>[] = [];
    const toWake = new Set<string>();
    const channelIds = new Set<string>();
    const pending = new Map<string, { tenantId: string; events: InboxEvent[] }>();
    let unmatched = 0;
    for (const event of parsed.events) {
      const targets = await directory.resolve(event.account);
      if (targets.length === 0) {
        unmatched++;
        docs.push({ _id: `unmatched:${event.key}`, source: name, kind: event.kind, accountId: event.account.accountId, state: 'unmatched', event: eventText(event), deliveryId, receivedAt: now });
        continue;
      }
      // A tenant's disconnected channel holds what arrives only while none of its channels speaks for the account.
      const served = new Set(targets.filter((t) => !t.disconnected).map((t) => t.tenantId));
      for (const t of targets) {
        if (t.disconnected && served.has(t.tenantId)) continue;
        channelIds.add(t.channelId);
        if (t.disconnected) {
          // A disconnected channel's events are kept apart, out of the range its drain reads.
          docs.push({
            _id: heldId(`${t.channelId}:${arrival}:${event.key}`), source: name, kind: event.kind, accountId: event.account.accountId,
            tenantId: new Types.ObjectId(t.tenantId), channelId: new Types.ObjectId(t.channelId), state: 'held', event: eventText(event), deliveryId, receivedAt: now,
          });
          continue;
        }
        const queued = pending.get(t.channelId) ?? { tenantId: t.tenantId, events: [] };
        queued.events.push(event);
        pending.set(t.channelId, queued);
        toWake.add(t.workflowId);
      }
    }
    // A channel's events from this delivery: one queued document per event — or, when the platform
    // batched many into one delivery (Meta sends up to 1,000), one document holding them all.
    for (const [channelId, { tenantId, events }] of pending) {
      const common = { source: name, tenantId: new Types.ObjectId(tenantId), channelId: new Types.ObjectId(channelId), state: 'pending', deliveryId, receivedAt: now };
      if (events.length === 1) {
        const [event] = events as [InboxEvent];
        docs.push({ _id: `${channelId}:${arrival}:${event.key}`, kind: event.kind, accountId: event.account.accountId, event: eventText(event), ...common });
      } else {
        docs.push({ _id: `${channelId}:${arrival}:batch:${deliveryId.slice(-24)}`, kind: 'batch', accountId: events[0]!.account.accountId, events: JSON.stringify(events), count: events.length, ...common });
      }
    }

    // One insert per delivery on the hot path: the log entry rides with the delivery's first
    // queued document and the drain moves it to `webhook_deliveries` (activities/inbox-events.ts).
    // A delivery with nothing to drain (all unmatched, held, ignored) is logged directly.
    const record = this.deliveryRecord(deliveryId, name, req, parsed, [...channelIds], unmatched);
    const carrier = docs.find((d) => d.state === 'pending');
    if (carrier) carrier.delivery = record;
    try {
      const stored = await this.queue.insert(docs as { _id: string }[]);
      // The carrier was already queued (the same event in an earlier delivery): log this one here.
      if (!carrier || !stored.has(carrier._id as string)) await insertNew(WebhookDeliveryModel.collection, [record]);
    } catch (err) {
      // Not stored → not acknowledged: the platform retries.
      log.error({ source: name, deliveryId, err: (err as Error).message }, 'webhook not stored; asking the platform to retry');
      return json(503, 'unavailable', 'The delivery could not be stored; retry later');
    }
    if (unmatched > 0) log.warn({ source: name, deliveryId, unmatched, accounts: [...new Set(parsed.events.map((e) => e.account.accountId))].slice(0, 5) }, 'webhook events for an account no channel speaks for (kept as unmatched)');
    for (const workflowId of toWake) this.deps.waker.wake(workflowId);
    const ack = source.ackBody ?? { contentType: 'text/plain', body: 'EVENT_RECEIVED' };
    return { status: 200, contentType: ack.contentType, body: ack.body };
  }

  /** Wake-up signals sent to channel workflows so far. */
  get signalsSent(): number {
    return this.deps.waker.signals;
  }

  /** Stops pending wake-ups (process shutdown, tests). */
  close(): void {
    this.deps.waker.close();
  }

  /** Wakes every channel that has events waiting (at start-up: a previous process may have died between storing and waking). */
  async wakePending(): Promise<number> {
    const ids = await WebhookEventModel.collection.distinct('channelId', { state: 'pending' });
    if (ids.length === 0) return 0;
    const channels = await ChannelModel.find({ _id: { $in: ids }, status: { $ne: 'disconnected' } }, { workflowId: 1 }).lean();
    for (const c of channels) this.deps.waker.wake(c.workflowId);
    return channels.length;
  }

  /**
   * The log entry. The raw body is kept only when it could not be read (to replay it once the parser
   * is fixed): otherwise its content is in the normalized events, and carrying it again through the
   * queue would double what every webhook writes and every drain reads.
   */
  private deliveryRecord(id: string, source: string, req: WebhookRequest, parsed: ParseResult, channelIds: string[], unmatched: number, error?: string) {
    return {
      _id: id, source, receivedAt: new Date(req.receivedAt), bytes: req.body.length, ...(error ? { body: req.body.toString('utf8') } : {}),
      events: parsed.events.length, unmatched, ignored: parsed.ignored.slice(0, 50), channelIds, ...(error ? { error } : {}),
    };
  }
}

/**
 * An event is queued as its JSON text, not as a nested document: the queue only carries it to the
 * drain, and one string is far cheaper for FerretDB to write and read back than a document tree
 * (decoding queued events was a quarter of its CPU while draining). Read with `queuedEvent`.
 */
const eventText = (event: InboxEvent) => JSON.stringify(event);
