// Delivers a tenant's events (lib/event-log.ts) to one integrator endpoint: follows the log from the
// endpoint's position, records a delivery per event it wants before anything is sent (so a crash
// loses none), posts each signed (lib/outgoing-signature.ts), and retries failures on a backoff
// schedule for about two days. A failing delivery never holds the others back. At least once: a
// worker killed mid-post sends that event again; receivers dedupe by `Switchboard-Event-Id`.
import type { Document } from 'mongodb';
import { Types } from 'mongoose';
import { unseal, type EncryptionKey, type Sealed } from '../lib/crypto';
import { EventFollower, findEvent, type TenantEventRecord } from '../lib/event-log';
import { signPayload } from '../lib/outgoing-signature';
import { guardedPost, RefusedAddressError } from '../lib/guarded-http';
import type { PlatformConfig } from '../lib/platform-config';
import { OutgoingDeliveryModel, WebhookEndpointModel } from '../models';
import { heartbeatIfActivity } from './activity-context';
import { insertNew } from './inbox-writes';

export interface OutgoingWebhookDeps {
  keys: EncryptionKey[];
  /** Delay before each retry (the attempt count is this length + 1). */
  webhookRetryDelaysMs?: number[];
  webhookPollMs?: number;
  webhookTimeoutMs?: number;
  /** Its `tenantNetwork`: where endpoint URLs may point. */
  platforms: Pick<PlatformConfig, 'tenantNetwork'>;
}

export const DEFAULT_RETRY_DELAYS_MS = [10, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600].map((s) => s * 1000);
const LOG_LENGTH = 10;
const PARALLEL_POSTS = 8;

export const outgoingDeliveryId = (endpointId: string, seq: number) => `${endpointId}:${String(seq).padStart(12, '0')}`;
const ofEndpoint = (endpointId: string) => ({ $gte: `${endpointId}:`, $lt: `${endpointId};` });

type Endpoint = { _id: Types.ObjectId; tenantId: Types.ObjectId; url: string; events: string[]; active: boolean; position: number; deletedAt?: Date; secret: Sealed };
type DueDelivery = { _id: string; eventSeq: number; attempts: number; log: { at: Date; status?: number; error?: string; ms: number }[] };

export function createOutgoingWebhookActivities(deps: OutgoingWebhookDeps) {
  const delays = deps.webhookRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const pollMs = deps.webhookPollMs ?? 500;
  const timeoutMs = deps.webhookTimeoutMs ?? 10_000;
  const policy = deps.platforms.tenantNetwork;

  const loadEndpoint = async (endpointId: string) =>
    (await WebhookEndpointModel.findById(endpointId).select('+secret').lean()) as Endpoint | null;

  async function post(endpoint: Endpoint, secret: string, d: DueDelivery, event: TenantEventRecord | null) {
    const started = Date.now();
    let status: number | undefined;
    let error: string | undefined;
    let retryAfterMs = 0;
    if (!event) {
      error = 'the event is no longer in the log';
    } else {
      const body = JSON.stringify({ id: String(event.seq), type: event.type, key: event.key, createdAt: event.at.toISOString(), tenantId: String(endpoint.tenantId), data: event.data });
      try {
        const res = await guardedPost(endpoint.url, {
          timeoutMs, policy, body,
          headers: {
            'content-type': 'application/json', 'user-agent': 'Switchboard-Webhooks/1',
            'switchboard-signature': signPayload(secret, body), 'switchboard-event-id': String(event.seq),
            'switchboard-event-type': event.type, 'switchboard-delivery-id': d._id, 'switchboard-attempt': String(d.attempts + 1),
          },
        });
        status = res.status;
        if (res.status === 429 || res.status === 503) retryAfterMs = (Number(res.headers['retry-after']) || 0) * 1000;
      } catch (err) {
        error = err instanceof RefusedAddressError ? err.message
          : (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `could not connect: ${(err as Error).message}`.slice(0, 200);
      }
    }
    const ok = status !== undefined && status >= 200 && status < 300;
    const attempts = d.attempts + 1;
    const now = new Date();
    const entry = { at: now, ...(status !== undefined ? { status } : {}), ...(error ? { error } : {}), ms: Date.now() - started };
    const giveUp = !ok && (attempts > delays.length || !event);
    await OutgoingDeliveryModel.collection.updateOne({ _id: d._id } as Document, {
      $set: {
        attempts, log: [...(d.log ?? []), entry].slice(-LOG_LENGTH),
        state: ok ? 'delivered' : giveUp ? 'failed' : 'retrying',
        ...(ok ? { deliveredAt: now } : {}),
        ...(!ok && !giveUp ? { nextAttemptAt: new Date(Date.now() + Math.max(delays[attempts - 1]!, retryAfterMs)) } : {}),
      },
      ...(ok || giveUp ? { $unset: { nextAttemptAt: '' } } : {}),
    });
    return ok;
  }

  return {
    /**
     * Follows the log and delivers for up to `forMs`, then returns (the workflow calls it again).
     * `gone`: the endpoint was deleted; its workflow ends.
     */
    async dispatchWebhookEvents({ endpointId, forMs = 60_000 }: { endpointId: string; forMs?: number }): Promise<{ gone: boolean; delivered: number; failed: number }> {
      const result = { gone: false, delivered: 0, failed: 0 };
      let endpoint = Types.ObjectId.isValid(endpointId) ? await loadEndpoint(endpointId) : null;
      if (!endpoint || endpoint.deletedAt) return { ...result, gone: true };
      const tenantId = String(endpoint.tenantId);
      const follower = new EventFollower(tenantId, endpoint.position);
      const until = Date.now() + forMs;
      while (Date.now() < until) {
        heartbeatIfActivity(result);
        // 1. New events: a delivery for each one it wants, then the position moves past them.
        const events = await follower.read();
        if (events.length > 0) {
          const wanted = endpoint.active ? events.filter((e) => endpoint!.events.length === 0 || endpoint!.events.includes(e.type)) : [];
          const now = new Date();
          await insertNew(OutgoingDeliveryModel.collection, wanted.map((e) => ({
            _id: outgoingDeliveryId(endpointId, e.seq), tenantId: endpoint!.tenantId, endpointId: endpoint!._id, eventSeq: e.seq, eventType: e.type,
            state: 'pending', attempts: 0, nextAttemptAt: now, log: [], createdAt: now,
          })));
          await WebhookEndpointModel.updateOne({ _id: endpoint._id, position: { $lt: follower.position } }, { $set: { position: follower.position } });
        }
        // 2. Everything due (new, retries whose time came, redeliveries asked for), oldest first.
        const due = endpoint.active ? (await OutgoingDeliveryModel.collection
          .find({ _id: ofEndpoint(endpointId), state: { $in: ['pending', 'retrying'] }, nextAttemptAt: { $lte: new Date() } } as Document, { projection: { eventSeq: 1, attempts: 1, log: 1 } })
          .sort({ _id: 1 }).limit(100).toArray()) as unknown as DueDelivery[] : [];
        const secret = due.length > 0 ? unseal(endpoint.secret, deps.keys) : '';
        const known = new Map(events.map((e) => [e.seq, e]));
        for (let i = 0; i < due.length; i += PARALLEL_POSTS) {
          const outcomes = await Promise.all(due.slice(i, i + PARALLEL_POSTS).map(async (d) => post(endpoint!, secret, d, known.get(d.eventSeq) ?? (await findEvent(tenantId, d.eventSeq)))));
          for (const ok of outcomes) result[ok ? 'delivered' : 'failed']++;
          heartbeatIfActivity(result);
        }
        if (events.length === 0 && due.length === 0) await new Promise((r) => setTimeout(r, pollMs));
        // The endpoint may have been paused, edited or deleted meanwhile.
        endpoint = await loadEndpoint(endpointId);
        if (!endpoint || endpoint.deletedAt) return { ...result, gone: true };
      }
      return result;
    },
  };
}
