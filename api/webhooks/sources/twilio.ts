// WhatsApp via Twilio Programmable Messaging (twilio-whatsapp.md): inbound messages and status
// callbacks, both form-encoded and signed with X-Twilio-Signature (HMAC-SHA1 of the called URL plus
// every posted param, keyed with the account's Auth Token). The token is per Twilio account, so it
// comes from the connected channel that speaks for the business's WhatsApp address.
import twilio from 'twilio';
import type { Credentials, NormalizedAttachment, NormalizedMessage } from '../../../activities/platforms/types';
import {
  MalformedWebhookError,
  type AccountRef,
  type DeliveryStatus,
  type InboxEvent,
  type ParseResult,
  type Verdict,
  type VerifyContext,
  type WebhookRequest,
  type WebhookSource,
} from './types';

const PLATFORM = 'whatsapp_twilio' as const;
/** Twilio SIDs: two letters and 32 hex digits (SM…/MM… messages, AC… accounts, ME… media). */
const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const MEDIA_SID = /\/Media\/(ME[0-9a-fA-F]{32})(?:[/?#.]|$)/;
/** More media than WhatsApp ever attaches; bounds the work a hostile body can cause. */
const MAX_MEDIA = 20;

/**
 * Twilio's outbound lifecycle → ours. `queued`/`accepted`/`scheduled`/`sending` are before the
 * message left Twilio (our send already recorded it as pending): no event. `canceled` (a scheduled
 * message the business cancelled) never goes out, so it ends as failed.
 */
const STATUS_MAP = new Map<string, DeliveryStatus>([
  ['sent', 'sent'],
  ['delivered', 'delivered'],
  ['read', 'read'],
  ['failed', 'failed'],
  ['undelivered', 'failed'],
  ['canceled', 'failed'],
]);
/** Statuses of an inbound message (`SmsStatus=received` on the "message comes in" webhook). */
const INBOUND_STATUSES = new Set(['received', 'receiving']);

/** A form body as Twilio's validator wants it: each name once, repeated names as arrays. */
type Params = Record<string, string | string[]>;

interface Form {
  params: Params;
  get(name: string): string | undefined;
}

function readForm(body: Buffer): Form {
  const search = new URLSearchParams(body.toString('utf8'));
  // No prototype: a param named `__proto__` stays a plain param (and is still signed).
  const params = Object.create(null) as Params;
  for (const [name, value] of search) {
    const prev = params[name];
    params[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return { params, get: (name) => search.get(name) ?? undefined };
}

/** Channel addresses compare without spacing and with a lowercase prefix (as the adapter stores them). */
const normalizeAddress = (a: string) => a.trim().replace(/[\s\-().]/g, '').replace(/^whatsapp:/i, 'whatsapp:');

type Shape =
  | { kind: 'inbound'; business: string; customer: string }
  | { kind: 'status'; business: string; customer: string; twilioStatus: string }
  | { kind: 'other'; business: string; label: string };

/**
 * Inbound message vs status callback. Status callbacks carry `MessageStatus` (and a copy in
 * `SmsStatus`) with an outbound lifecycle value and come from our number; an inbound message has
 * `SmsStatus=received` and no `MessageStatus`, and is addressed to our number.
 */
function shapeOf(form: Form): Shape | undefined {
  const from = normalizeAddress(form.get('From') ?? '');
  const to = normalizeAddress(form.get('To') ?? '');
  if (!from || !to) return undefined;
  // Capped: it ends up in a log label.
  const status = (form.get('MessageStatus') ?? form.get('SmsStatus') ?? '').trim().toLowerCase().slice(0, 40);
  const inbound = status ? INBOUND_STATUSES.has(status) : form.get('Body') !== undefined || form.get('NumMedia') !== undefined;
  if (inbound) {
    // A status callback about an inbound message (MessageStatus=received) adds nothing to the message itself.
    if (form.get('MessageStatus') !== undefined) return { kind: 'other', business: to, label: `status:${status}` };
    return { kind: 'inbound', business: to, customer: from };
  }
  if (!status) return { kind: 'other', business: to, label: 'unknown callback' };
  return { kind: 'status', business: from, customer: to, twilioStatus: status };
}

function tokensOf(credentials: Credentials): string[] {
  // Twilio signs with the account's Auth Token. A channel connected with an API key holds no Auth
  // Token, so it can only verify webhooks with one given to it separately (`webhookAuthToken`).
  return [credentials.authToken, credentials.webhookAuthToken].filter((t): t is string => typeof t === 'string' && t !== '');
}

function validates(token: string, signature: string, url: string, params: Params): boolean {
  try {
    return twilio.validateRequest(token, signature, url, params);
  } catch {
    return false; // the validator parses the URL and throws on one it cannot parse
  }
}

async function verify(req: WebhookRequest, ctx: VerifyContext): Promise<Verdict> {
  const signature = req.headers['x-twilio-signature'];
  if (!signature) return { ok: false, reason: 'missing X-Twilio-Signature header' };
  // Twilio's signature covers the parsed params, so the form is read (not trusted) before verifying.
  const form = readForm(req.body);
  const shape = shapeOf(form);
  if (!shape) return { ok: false, reason: 'not a Twilio message webhook (no From/To)' };
  const accountSid = form.get('AccountSid');
  if (!accountSid) return { ok: false, reason: 'missing AccountSid' };

  const candidates = await ctx.channelCredentials(PLATFORM, shape.business);
  const address = shape.business.slice(0, 64); // unverified input, quoted in a log line
  if (candidates.length === 0) return { ok: false, reason: `no connected channel for ${address}` };
  const sameAccount = candidates.filter((c) => c.accountSid === accountSid);
  if (sameAccount.length === 0) return { ok: false, reason: `AccountSid does not match the channel connected for ${address}` };
  const tokens = sameAccount.flatMap(tokensOf);
  if (tokens.length === 0) return { ok: false, reason: `the channel for ${address} has no Auth Token to verify with (connected with an API key; set webhookAuthToken)` };
  if (tokens.some((token) => validates(token, signature, req.url, form.params))) return { ok: true };
  return { ok: false, reason: 'X-Twilio-Signature does not match (wrong Auth Token, URL or params)' };
}

function attachmentType(mime: string): NormalizedAttachment['type'] {
  if (/^image\//i.test(mime)) return 'image';
  if (/^video\//i.test(mime)) return 'video';
  if (/^audio\//i.test(mime)) return 'audio';
  if (/^text\/(vcard|x-vcard)$/i.test(mime)) return 'other';
  return 'file';
}

function attachmentsOf(form: Form): NormalizedAttachment[] {
  const attachments: NormalizedAttachment[] = [];
  for (let i = 0; i < MAX_MEDIA; i++) {
    const url = form.get(`MediaUrl${i}`);
    if (!url) continue;
    const mimeType = form.get(`MediaContentType${i}`) ?? '';
    const attachment: NormalizedAttachment = { type: attachmentType(mimeType), url };
    if (mimeType) attachment.mimeType = mimeType;
    // The sync lists media by their ME… SID; the webhook only gives the URL, which ends in it.
    const sid = MEDIA_SID.exec(url)?.[1];
    if (sid) attachment.platformMediaId = sid;
    attachments.push(attachment);
  }
  const lat = form.get('Latitude');
  const lng = form.get('Longitude');
  if (lat && lng && Number.isFinite(Number(lat)) && Number.isFinite(Number(lng))) {
    const name = form.get('Label') || form.get('Address');
    attachments.push({ type: 'location', url: `geo:${Number(lat)},${Number(lng)}`, ...(name ? { name } : {}) });
  }
  return attachments;
}

function parse(req: WebhookRequest): ParseResult {
  const form = readForm(req.body);
  const sid = form.get('MessageSid') ?? form.get('SmsMessageSid') ?? form.get('SmsSid');
  if (!sid || !SID.test(sid)) throw new MalformedWebhookError('not a Twilio message webhook: no valid MessageSid');
  const accountSid = form.get('AccountSid');
  if (!accountSid || !ACCOUNT_SID.test(accountSid)) throw new MalformedWebhookError('not a Twilio message webhook: no valid AccountSid');
  const shape = shapeOf(form);
  if (!shape) throw new MalformedWebhookError('not a Twilio message webhook: no From/To');
  if (shape.kind === 'other') return { events: [], ignored: [shape.label] };
  // Our channels are WhatsApp senders; SMS/other channels of the same account are not ours.
  if (!shape.business.startsWith('whatsapp:')) return { events: [], ignored: [`${shape.kind}:non-whatsapp`] };

  const account: AccountRef = { platforms: [PLATFORM], accountId: shape.business };
  // Twilio callbacks carry no event time: the receipt time is the closest we have.
  const timestamp = req.receivedAt;

  if (shape.kind === 'status') {
    const status = STATUS_MAP.get(shape.twilioStatus);
    if (!status) return { events: [], ignored: [`status:${shape.twilioStatus}`] };
    const event: InboxEvent = { kind: 'status', key: `${PLATFORM}:status:${sid}:${status}`, account, timestamp, messageExternalId: sid, status };
    if (status === 'failed') {
      const code = form.get('ErrorCode') || (shape.twilioStatus === 'canceled' ? 'canceled' : '');
      const message = form.get('ErrorMessage') || form.get('ChannelStatusMessage') || (shape.twilioStatus === 'canceled' ? 'canceled before it was sent' : '');
      if (code || message) event.error = { code, message };
    }
    return { events: [event], ignored: [] };
  }

  const name = form.get('ProfileName')?.trim() || undefined;
  const handle = shape.customer.replace(/^whatsapp:/, '');
  const message: NormalizedMessage = {
    externalId: sid,
    direction: 'inbound',
    sender: { externalId: shape.customer, ...(name ? { name } : {}) },
    timestamp,
  };
  // A quick-reply tap arrives as ButtonText (Body usually repeats it).
  const text = form.get('Body') || form.get('ButtonText');
  if (text) message.text = text;
  const attachments = attachmentsOf(form);
  if (attachments.length) message.attachments = attachments;
  return {
    events: [{
      kind: 'message',
      key: `${PLATFORM}:message:${sid}`,
      account,
      timestamp,
      // Same thread and participant ids as the adapter's sync: the customer's `whatsapp:+E164` address.
      conversation: { externalId: shape.customer, participant: { externalId: shape.customer, handle, ...(name ? { name } : {}) } },
      message,
    }],
    ignored: [],
  };
}

export const twilioWebhookSource: WebhookSource = {
  name: 'twilio',
  contentTypes: ['application/x-www-form-urlencoded'],
  verify,
  parse,
  // Twilio reads the answer to an inbound message as TwiML; an empty Response sends no reply.
  ackBody: { contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' },
};
