// Gmail push: users.watch publishes to a Pub/Sub topic whose push subscription POSTs
// `{message:{data: base64(JSON{emailAddress, historyId}), messageId, publishTime}, subscription}`.
// The notification only says "the mailbox changed up to historyId", so it becomes one `sync` hint
// and the channel runs its incremental (history.list) sync. Authenticity: the shared secret the
// push endpoint URL carries as `?token=` (how the sandbox and our subscription are set up).
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  MalformedWebhookError,
  type ParseResult,
  type Verdict,
  type VerifyContext,
  type WebhookRequest,
  type WebhookSource,
} from './types';

type Json = Record<string, unknown>;

/** Standard or URL-safe base64 (Node's decoder takes both), padding optional; Pub/Sub sends standard. */
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

export const googleWebhookSource: WebhookSource = {
  name: 'google',
  contentTypes: ['application/json'],

  verify(req: WebhookRequest, ctx: VerifyContext): Promise<Verdict> {
    const expected = ctx.secrets.gmailPushToken;
    if (!expected) return Promise.resolve({ ok: false, reason: 'Gmail push token is not configured' });
    const presented = pushToken(req);
    if (presented === undefined) return Promise.resolve({ ok: false, reason: 'missing token query parameter' });
    // Digests make the comparison constant-time whatever the presented token's length.
    const ok = timingSafeEqual(digest(presented), digest(expected));
    return Promise.resolve(ok ? { ok: true } : { ok: false, reason: 'push token does not match' });
  },

  parse(req: WebhookRequest): ParseResult {
    const envelope = parseObject(req.body.toString('utf8'), 'body');
    const message = obj(envelope.message);
    if (!message) throw new MalformedWebhookError('Pub/Sub push has no message object');
    // Pub/Sub push sends both camelCase and snake_case spellings; either will do.
    const messageId = idOf(message.messageId) ?? idOf(message.message_id);
    if (!messageId) throw new MalformedWebhookError('Pub/Sub push message has no messageId');
    const data = message.data;
    if (typeof data !== 'string' || data === '' || !BASE64.test(data)) throw new MalformedWebhookError('Pub/Sub push message data is missing or not base64');
    const notification = parseObject(Buffer.from(data, 'base64').toString('utf8'), 'message data');

    const email = typeof notification.emailAddress === 'string' ? notification.emailAddress.trim() : '';
    if (!email.includes('@') || email.length > 320) throw new MalformedWebhookError('Gmail notification has no emailAddress');
    const historyId = historyIdOf(notification.historyId);
    if (!historyId) throw new MalformedWebhookError('Gmail notification historyId is not a non-negative integer');

    const published = Date.parse(String(message.publishTime ?? message.publish_time ?? ''));
    return {
      events: [{
        kind: 'sync',
        key: `gmail:push:${messageId}`,
        // The adapter's account.id is the profile emailAddress in lower case.
        account: { platforms: ['gmail'], accountId: email.toLowerCase() },
        timestamp: Number.isFinite(published) ? published : req.receivedAt,
        reason: `gmail push: mailbox changed up to historyId ${historyId}`,
      }],
      ignored: [],
    };
  },
};

/** The `token` query parameter; from the URL when the query map lacks it. */
function pushToken(req: WebhookRequest): string | undefined {
  const fromQuery = req.query.token;
  if (typeof fromQuery === 'string') return fromQuery;
  try { return new URL(req.url).searchParams.get('token') ?? undefined; } catch { return undefined; }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function parseObject(text: string, what: string): Json {
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw new MalformedWebhookError(`Gmail push ${what} is not valid JSON`); }
  const o = obj(value);
  if (!o) throw new MalformedWebhookError(`Gmail push ${what} is not a JSON object`);
  return o;
}

/** uint64 sent as a string (or, by some senders, a number). */
function historyIdOf(v: unknown): string | undefined {
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v).toString();
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

function idOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 && v.length <= 256 ? v : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
