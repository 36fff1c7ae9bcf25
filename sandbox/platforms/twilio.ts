// Twilio Programmable Messaging (WhatsApp channel) simulator, per twilio-whatsapp.md: the
// Messages resource (create, fetch, list, delete) with Basic auth (Account SID + Auth Token or API
// Key), the 24 h window (63016), per-sender queueing, status callbacks and inbound webhooks,
// form-encoded and signed with X-Twilio-Signature.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Hono, type Context as HonoContext, type MiddlewareHandler } from 'hono';
import { AdminError } from '../core/admin';
import { route, type SandboxContext } from '../core/context';
import type { IssuedToken } from '../core/tokens';
import { authenticateError, TwilioError, twilioErrorResponse, twilioFaultRenderer } from './twilio/errors';
import { formOf, twilioSignature } from './twilio/signature';
import type { CustomerMessageInput, PlatformFactory, PlatformModule, SeedOptions } from './types';
import { CUSTOMER_NAMES, isUnreachableNumber, phoneForKey, SEED_CUSTOMER_NUMBERS } from './whatsapp-cloud/identity';

export { twilioSignature } from './twilio/signature';

const PLATFORM = 'twilio';
const API_VERSION = '2010-04-01';
const BASE = `/api.twilio.com/${API_VERSION}/Accounts/:AccountSid`;

const HOUR_MS = 3600_000;
const WINDOW_MS = 24 * HOUR_MS;
/** WhatsApp sender throughput: 10 text msg/s, ~1.5 msg/s with media; excess waits in a queue up to 4 h. */
const TEXT_SPACING_MS = 100;
const MEDIA_SPACING_MS = 667;
const MAX_QUEUE_MS = 4 * HOUR_MS;
/** Real-time gap between successive status callbacks (sent → delivered → read). */
const STATUS_STEP_MS = 40;
const MAX_BODY = 1600;

const CUSTOMER_PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const CUSTOMER_TEXTS = ['Hola, ¿mi pedido ya salió?', 'Hi! Is the blue one still in stock?', 'Can I change my delivery address?', 'Thanks, got it 👍'];

type MessageStatus = 'accepted' | 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'undelivered' | 'failed' | 'received';
const FINAL_RANK: Record<MessageStatus, number> = { accepted: 0, queued: 1, sending: 2, sent: 3, delivered: 4, read: 5, undelivered: 6, failed: 6, received: 0 };

interface Sender { address: string; channelInstallSid: string; messagingServiceSid: string | null; nextSlotAt: number }
interface Content { sid: string; friendlyName: string; body: string; variables: number }
interface Customer { phone: string; profileName: string }
interface StoredMedia { sid: string; contentType: string; bytes?: Buffer; url?: string; createdAt: number }
interface TwilioMessage {
  sid: string;
  from: string;
  to: string;
  body: string;
  status: MessageStatus;
  direction: 'outbound-api' | 'inbound';
  media: StoredMedia[];
  messagingServiceSid: string | null;
  errorCode: number | null;
  errorMessage: string | null;
  createdAt: number;
  sentAt: number | null;
  updatedAt: number;
  statusCallback?: string;
}
interface Failure { code: number; message: string; status: 'failed' | 'undelivered' }

const FAILURES = {
  window: { code: 63016, status: 'failed', message: 'Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.' },
  params: { code: 63028, status: 'failed', message: 'Number of parameters provided does not match the expected number of parameters' },
  unreachable: { code: 63003, status: 'undelivered', message: 'Channel could not find To address' },
  queue: { code: 30001, status: 'failed', message: 'Queue overflow' },
} satisfies Record<string, Failure>;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const newSid = (prefix: string) => `${prefix}${hex(16)}`;
/** Twilio dates: RFC 2822 with a numeric zone, e.g. "Sat, 02 May 2026 10:11:12 +0000". */
const rfc2822 = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');
const e164 = (digits: string) => `+${digits}`;
const WHATSAPP_ADDRESS = /^whatsapp:\+[1-9]\d{6,14}$/;

export const createTwilioPlatform: PlatformFactory = (ctx: SandboxContext): PlatformModule => {
  const senders = new Map<string, Sender>(); // by address "whatsapp:+1…"
  const services = new Map<string, { sid: string; friendlyName: string; senders: string[] }>();
  const contents = new Map<string, Content>();
  const customers = new Map<string, Customer>(); // by "+E164"
  const customerKeys = new Map<string, string>();
  const lastInbound = new Map<string, number>(); // `${sender}|${customer}` → ms
  const messages = new Map<string, TwilioMessage>(); // insertion order = creation order
  const timers = new Set<NodeJS.Timeout>();
  let apiKey: { sid: string; secret: string } | undefined;

  const app = () => ctx.apps.get(PLATFORM);
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => { timers.delete(timer); fn(); }, Math.max(0, ms));
    timers.add(timer);
  };
  const bare = (address: string) => address.replace(/^whatsapp:/, '');
  const windowOpen = (sender: string, customer: string) => {
    const at = lastInbound.get(`${sender}|${customer}`);
    return at !== undefined && ctx.now() - at < WINDOW_MS;
  };

  function customerFor(phone: string, name?: string): Customer {
    let customer = customers.get(phone);
    if (!customer) customers.set(phone, (customer = { phone, profileName: name ?? CUSTOMER_NAMES[customers.size % CUSTOMER_NAMES.length]! }));
    return customer;
  }
  function phoneForCustomerKey(key: string): string {
    const digits = key.replace(/^whatsapp:/, '').replace(/[\s\-().]/g, '');
    if (/^\+?[1-9]\d{6,14}$/.test(digits)) return e164(digits.replace(/^\+/, ''));
    let phone = customerKeys.get(key);
    if (!phone) customerKeys.set(key, (phone = e164(phoneForKey(key))));
    return phone;
  }

  // ---- auth ----

  /** HTTP Basic: AccountSid:AuthToken, or ApiKeySid(SK…):ApiKeySecret with the AccountSid in the path. */
  function authenticate(c: HonoContext): string {
    const accountSid = c.req.param('AccountSid') ?? '';
    const match = c.req.header('authorization')?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
    if (!match) throw authenticateError();
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw authenticateError();
    const [user, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const credential: IssuedToken | undefined = ctx.tokens.get(secret);
    const valid = credential?.platform === PLATFORM && ctx.tokens.state(credential) === 'valid' && credential.subject === accountSid && (
      (user.startsWith('AC') && user === accountSid && credential.kind === 'auth_token' && secret === app().secret) ||
      (user.startsWith('SK') && credential.kind === 'api_key' && credential.meta?.sid === user));
    if (!valid) throw authenticateError();
    return accountSid;
  }

  // ---- representation ----

  const messageUri = (m: TwilioMessage) => `/${API_VERSION}/Accounts/${app().id}/Messages/${m.sid}`;
  function toJson(m: TwilioMessage) {
    return {
      account_sid: app().id,
      api_version: API_VERSION,
      body: m.body,
      date_created: rfc2822(m.createdAt),
      date_sent: m.sentAt === null ? null : rfc2822(m.sentAt),
      date_updated: rfc2822(m.updatedAt),
      direction: m.direction,
      error_code: m.errorCode,
      error_message: m.errorMessage,
      from: m.from,
      messaging_service_sid: m.messagingServiceSid,
      num_media: String(m.media.length),
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid: m.sid,
      status: m.status,
      subresource_uris: { media: `${messageUri(m)}/Media.json` },
      to: m.to,
      uri: `${messageUri(m)}.json`,
    };
  }

  // ---- webhooks ----

  /** Posts a signed form to `url`: the URL as posted is the URL signed. */
  function postForm(kind: string, url: string, pairs: Array<[string, string]>) {
    const target = new URL(url).toString();
    const { body, params } = formOf(pairs);
    ctx.webhooks.send({
      platform: PLATFORM, kind, url: target, body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'user-agent': 'TwilioProxy/1.1',
        'i-twilio-idempotency-token': randomUUID(),
        'x-twilio-signature': twilioSignature(app().secret, target, params),
      },
    });
  }

  /** The message's StatusCallback, else our webhook target's status path (the sender's configured callback). */
  function statusCallbackUrl(m: TwilioMessage): string | undefined {
    if (m.statusCallback) return m.statusCallback;
    const target = ctx.webhooks.target(PLATFORM);
    if (!target) return undefined;
    const url = new URL(target);
    url.pathname = `${url.pathname.replace(/\/$/, '')}/status`;
    return url.toString();
  }

  function setStatus(m: TwilioMessage, status: MessageStatus, failure?: Failure) {
    // Never move a message backwards (read stays read).
    if (FINAL_RANK[status] < FINAL_RANK[m.status]) return;
    const now = ctx.now();
    m.status = status;
    m.updatedAt = now;
    if (status === 'sent') m.sentAt = now;
    if (failure) [m.errorCode, m.errorMessage] = [failure.code, failure.message];
    const url = statusCallbackUrl(m);
    if (!url || !messages.has(m.sid)) return;
    const sender = senders.get(m.from);
    const pairs: Array<[string, string]> = [
      ['ChannelPrefix', 'whatsapp'],
      ['ApiVersion', API_VERSION],
      ['MessageStatus', status],
      ['SmsSid', m.sid],
      ['SmsStatus', status],
      ['ChannelInstallSid', sender?.channelInstallSid ?? ''],
      ['ChannelToAddress', bare(m.to)],
      ['To', m.to],
      ['From', m.from],
      ['MessageSid', m.sid],
      ['AccountSid', app().id],
    ];
    if (m.messagingServiceSid) pairs.push(['MessagingServiceSid', m.messagingServiceSid]);
    if (status === 'delivered' || status === 'read') pairs.push(['EventType', status.toUpperCase()]);
    if (failure) pairs.push(['ErrorCode', String(failure.code)], ['ErrorMessage', failure.message], ['ChannelStatusMessage', failure.message]);
    postForm(`status.${status}`, url, pairs);
  }

  // ---- routes ----

  const routes = new Hono();
  const endpoint = (name: string, handler: (c: HonoContext, rawBody: string) => Response | Promise<Response>): MiddlewareHandler =>
    route(ctx, { platform: PLATFORM, name, renderFault: twilioFaultRenderer }, async (c, rawBody) => {
      try {
        const res = await handler(c, rawBody);
        res.headers.set('Twilio-Request-Id', newSid('RQ'));
        return res;
      } catch (err) {
        if (err instanceof TwilioError) return twilioErrorResponse(c, err);
        ctx.log.error({ err, endpoint: name }, 'twilio simulator failed');
        return twilioErrorResponse(c, new TwilioError(500, 20500, 'An internal server error has occurred'));
      }
    });

  // POST /Messages.json — create (send).
  routes.post(`${BASE}/Messages.json`, endpoint('send', (c, rawBody) => {
    authenticate(c);
    const form = new URLSearchParams(rawBody);
    const get = (name: string) => form.get(name) ?? undefined;
    const to = get('To')?.trim();
    let from = get('From')?.trim();
    const serviceSid = get('MessagingServiceSid');
    const body = get('Body') ?? '';
    const mediaUrls = form.getAll('MediaUrl');
    const contentSid = get('ContentSid');
    const statusCallback = get('StatusCallback');

    if (!to) throw new TwilioError(400, 21604, "A 'To' phone number is required.");
    if (!from && !serviceSid) throw new TwilioError(400, 21603, "A 'From' phone number is required.");
    const service = serviceSid ? services.get(serviceSid) : undefined;
    if (serviceSid && !service) throw new TwilioError(400, 21701, `The Messaging Service Sid ${serviceSid} is invalid.`);
    if (!from) from = service!.senders[0]!;
    if (!body && mediaUrls.length === 0 && !contentSid) throw new TwilioError(400, 21602, 'Message body is required.');
    if (from.startsWith('whatsapp:') !== to.startsWith('whatsapp:')) throw new TwilioError(400, 21910, 'Invalid From and To pair. From and To should be of the same channel');
    if (!WHATSAPP_ADDRESS.test(to)) throw new TwilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    const sender = senders.get(from);
    if (!sender) throw new TwilioError(400, 63007, 'Twilio could not find a Channel with the specified From address');
    if (body.length > MAX_BODY) throw new TwilioError(400, 21617, `The concatenated message body exceeds the ${MAX_BODY} character limit.`);
    if (mediaUrls.some((u) => !/^https?:\/\/\S+$/i.test(u))) throw new TwilioError(400, 21620, 'Invalid media URL(s).');
    if (statusCallback !== undefined && !/^https?:\/\/\S+$/i.test(statusCallback)) throw new TwilioError(400, 21609, 'Invalid StatusCallback url');

    let renderedBody = body;
    let failure: Failure | undefined;
    if (contentSid) {
      const content = contents.get(contentSid);
      if (!content) throw new TwilioError(400, 21655, 'The ContentSid is Invalid.');
      let variables: Record<string, unknown> = {};
      const raw = get('ContentVariables');
      if (raw !== undefined) {
        let parsed: unknown;
        try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TwilioError(400, 21656, 'The ContentVariables Parameter is invalid.');
        variables = parsed as Record<string, unknown>;
      }
      renderedBody = content.body.replace(/\{\{(\d+)\}\}/g, (whole, n: string) => (variables[n] === undefined ? whole : String(variables[n])));
      if (Array.from({ length: content.variables }, (_, i) => variables[String(i + 1)]).some((v) => v === undefined || v === '')) failure = FAILURES.params;
    }

    const now = ctx.now();
    const m: TwilioMessage = {
      sid: newSid('SM'), from, to, body: renderedBody, status: service ? 'accepted' : 'queued', direction: 'outbound-api',
      media: mediaUrls.map((url) => ({ sid: newSid('ME'), contentType: 'application/octet-stream', url, createdAt: now })),
      messagingServiceSid: service?.sid ?? sender.messagingServiceSid, errorCode: null, errorMessage: null,
      createdAt: now, sentAt: null, updatedAt: now, statusCallback,
    };
    messages.set(m.sid, m);
    customerFor(bare(to));

    // Since 2025-04-01 only a ContentSid template may open a conversation outside the window.
    if (!failure && !contentSid && !windowOpen(from, bare(to))) failure = FAILURES.window;
    // The sender drains its queue at its throughput; what would wait longer than 4 h fails.
    const sendAt = Math.max(now, sender.nextSlotAt);
    const waitMs = sendAt - now;
    if (!failure && waitMs > MAX_QUEUE_MS) failure = FAILURES.queue;
    else sender.nextSlotAt = sendAt + (m.media.length ? MEDIA_SPACING_MS : TEXT_SPACING_MS);

    if (failure) {
      const f = failure;
      later(STATUS_STEP_MS, () => setStatus(m, f.status, f));
    } else if (isUnreachableNumber(bare(to).slice(1))) {
      later(waitMs + STATUS_STEP_MS, () => setStatus(m, 'sent'));
      later(waitMs + 2 * STATUS_STEP_MS, () => setStatus(m, 'undelivered', FAILURES.unreachable));
    } else {
      (['sent', 'delivered', 'read'] as const).forEach((status, i) => later(waitMs + STATUS_STEP_MS * (i + 1), () => setStatus(m, status)));
    }
    return c.json(toJson(m), 201);
  }));

  // GET /Messages.json — list, newest first, filtered by To / From / DateSent, paged with PageToken.
  routes.get(`${BASE}/Messages.json`, endpoint('list', (c) => {
    const accountSid = authenticate(c);
    const q = new URL(c.req.url).searchParams;
    const pageSize = Math.min(1000, Math.max(1, Number(q.get('PageSize') ?? 50) || 50));
    const page = Math.max(0, Number(q.get('Page') ?? 0) || 0);
    const day = (v: string | null) => (v && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : undefined);
    const on = day(q.get('DateSent'));
    const onOrAfter = day(q.get('DateSent>'));
    const onOrBefore = day(q.get('DateSent<'));
    for (const [name, value] of [['DateSent', q.get('DateSent')], ['DateSent>', q.get('DateSent>')], ['DateSent<', q.get('DateSent<')]] as const) {
      if (value !== null && !day(value)) throw new TwilioError(400, 20001, `Invalid ${name}: expected YYYY-MM-DD`);
    }
    const sentDay = (m: TwilioMessage) => new Date(m.sentAt ?? m.createdAt).toISOString().slice(0, 10);
    const all = [...messages.values()].reverse().filter((m) =>
      (!q.get('To') || m.to === q.get('To')) && (!q.get('From') || m.from === q.get('From')) &&
      (!on || sentDay(m) === on) && (!onOrAfter || sentDay(m) >= onOrAfter) && (!onOrBefore || sentDay(m) <= onOrBefore));
    all.sort((a, b) => b.createdAt - a.createdAt);
    const token = q.get('PageToken');
    const start = token?.startsWith('PA') ? all.findIndex((m) => m.sid === token.slice(2)) + 1 : page * pageSize;
    const slice = all.slice(start, start + pageSize);
    const base = `/${API_VERSION}/Accounts/${accountSid}/Messages.json`;
    const filters = new URLSearchParams([...q].filter(([k]) => !['Page', 'PageSize', 'PageToken'].includes(k)));
    const uriFor = (p: number, pageToken?: string) => {
      const params = new URLSearchParams(filters);
      params.set('PageSize', String(pageSize));
      params.set('Page', String(p));
      if (pageToken) params.set('PageToken', pageToken);
      return `${base}?${params}`;
    };
    const hasNext = start + pageSize < all.length;
    return c.json({
      messages: slice.map(toJson),
      end: Math.max(start, start + slice.length - 1),
      first_page_uri: uriFor(0),
      next_page_uri: hasNext ? uriFor(page + 1, `PA${slice.at(-1)!.sid}`) : null,
      page,
      page_size: pageSize,
      previous_page_uri: page > 0 ? uriFor(page - 1, `PB${slice[0]?.sid ?? ''}`) : null,
      start,
      uri: `${base}?${q}`,
    });
  }));

  const messageOr404 = (c: HonoContext, file: string) => {
    const sid = file.replace(/\.json$/, '');
    const m = messages.get(sid);
    if (!m) throw new TwilioError(404, 20404, `The requested resource ${new URL(c.req.url).pathname.replace(/^\/api\.twilio\.com/, '')} was not found`);
    return m;
  };

  // GET / DELETE /Messages/{Sid}.json
  routes.get(`${BASE}/Messages/:file{[A-Z]{2}[0-9a-f]{32}\\.json}`, endpoint('fetch', (c) => {
    authenticate(c);
    return c.json(toJson(messageOr404(c, c.req.param('file') ?? '')));
  }));
  routes.delete(`${BASE}/Messages/:file{[A-Z]{2}[0-9a-f]{32}\\.json}`, endpoint('delete', (c) => {
    authenticate(c);
    const m = messageOr404(c, c.req.param('file') ?? '');
    if (!['delivered', 'read', 'undelivered', 'failed', 'received'].includes(m.status)) throw new TwilioError(400, 20009, 'Cannot delete message because it is not in a final state');
    messages.delete(m.sid);
    return c.body(null, 204);
  }));

  // Media of a message: list, metadata, and the file itself (no auth, Twilio's default).
  const mediaJson = (m: TwilioMessage, item: StoredMedia) => ({
    account_sid: app().id, content_type: item.contentType, date_created: rfc2822(item.createdAt), date_updated: rfc2822(item.createdAt),
    parent_sid: m.sid, sid: item.sid, uri: `${messageUri(m)}/Media/${item.sid}.json`,
  });
  routes.get(`${BASE}/Messages/:msid/Media.json`, endpoint('media.list', (c) => {
    authenticate(c);
    const m = messageOr404(c, c.req.param('msid') ?? '');
    return c.json({ media_list: m.media.map((item) => mediaJson(m, item)), end: Math.max(0, m.media.length - 1), page: 0, page_size: 50, start: 0, uri: `${messageUri(m)}/Media.json`, first_page_uri: `${messageUri(m)}/Media.json?PageSize=50&Page=0`, next_page_uri: null, previous_page_uri: null });
  }));
  routes.get(`${BASE}/Messages/:msid/Media/:media`, endpoint('media.fetch', (c) => {
    const m = messageOr404(c, c.req.param('msid') ?? '');
    const asJson = (c.req.param('media') ?? '').endsWith('.json');
    const item = m.media.find((x) => x.sid === (c.req.param('media') ?? '').replace(/\.json$/, ''));
    if (!item) throw new TwilioError(404, 20404, 'The requested resource was not found');
    if (asJson) {
      authenticate(c);
      return c.json(mediaJson(m, item));
    }
    if (item.bytes) return c.body(new Uint8Array(item.bytes), 200, { 'content-type': item.contentType, 'content-length': String(item.bytes.length) });
    return c.redirect(item.url!, 307);
  }));

  // ---- world ----

  function recordInbound(sender: Sender, customer: Customer, at: number, body: string, media: StoredMedia[]): TwilioMessage {
    const m: TwilioMessage = {
      sid: newSid(media.length ? 'MM' : 'SM'), from: `whatsapp:${customer.phone}`, to: sender.address, body, status: 'received', direction: 'inbound', media,
      messagingServiceSid: sender.messagingServiceSid, errorCode: null, errorMessage: null, createdAt: at, sentAt: at, updatedAt: at,
    };
    messages.set(m.sid, m);
    const key = `${sender.address}|${customer.phone}`;
    lastInbound.set(key, Math.max(lastInbound.get(key) ?? 0, at));
    return m;
  }

  function seed(options: SeedOptions) {
    const now = ctx.now();
    const { id: accountSid, secret: authToken } = app();
    ctx.tokens.put({ token: authToken, platform: PLATFORM, kind: 'auth_token', subject: accountSid, scopes: [], issuedAt: now, expiresAt: null });
    apiKey = { sid: newSid('SK'), secret: randomBytes(24).toString('base64url') };
    ctx.tokens.put({ token: apiKey.secret, platform: PLATFORM, kind: 'api_key', subject: accountSid, scopes: [], issuedAt: now, expiresAt: null, meta: { sid: apiKey.sid } });

    const service = { sid: newSid('MG'), friendlyName: 'Switchboard WhatsApp', senders: ['whatsapp:+14155238886'] };
    services.set(service.sid, service);
    const sender: Sender = { address: 'whatsapp:+14155238886', channelInstallSid: newSid('XE'), messagingServiceSid: service.sid, nextSlotAt: 0 };
    senders.set(sender.address, sender);
    for (const content of [
      { sid: newSid('HX'), friendlyName: 'order_update', body: 'Hola {{1}}, tu pedido {{2}} va en camino.', variables: 2 },
      { sid: newSid('HX'), friendlyName: 'appointment_reminder', body: 'Hi {{1}}, this is a reminder of your appointment tomorrow.', variables: 1 },
    ]) contents.set(content.sid, content);

    // History per customer: alternating messages 5 min apart ending with the customer's; the first
    // customer wrote an hour ago (window open), the others more than a day ago (closed).
    for (let i = 0; i < options.conversations; i++) {
      const customer = customerFor(e164(SEED_CUSTOMER_NUMBERS[i] ?? phoneForKey(`seed-customer-${i}`)), CUSTOMER_NAMES[i % CUSTOMER_NAMES.length]);
      const endAt = i === 0 ? now - HOUR_MS : now - (26 + 24 * i) * HOUR_MS;
      for (let n = 0; n < options.messagesPerConversation; n++) {
        const at = endAt - (options.messagesPerConversation - 1 - n) * 5 * 60_000;
        if ((options.messagesPerConversation - 1 - n) % 2 === 0) {
          recordInbound(sender, customer, at, `Message ${n + 1} from ${customer.profileName}`, []);
        } else {
          const m: TwilioMessage = {
            sid: newSid('SM'), from: sender.address, to: `whatsapp:${customer.phone}`, body: `Reply ${n + 1} to ${customer.profileName}`, status: 'read', direction: 'outbound-api', media: [],
            messagingServiceSid: sender.messagingServiceSid, errorCode: null, errorMessage: null, createdAt: at, sentAt: at, updatedAt: at,
          };
          messages.set(m.sid, m);
        }
      }
    }
  }

  async function customerWrites(input: CustomerMessageInput) {
    const address = input.accountId ? (input.accountId.startsWith('whatsapp:') ? input.accountId : `whatsapp:${input.accountId}`) : senders.keys().next().value;
    const sender = address ? senders.get(address) : undefined;
    if (!sender) throw new AdminError(`no Twilio WhatsApp sender "${input.accountId ?? ''}" (seeded: ${[...senders.keys()].join(', ') || 'none'})`, 404);
    const known = [...customers.values()];
    const phone = input.customerId ? phoneForCustomerKey(input.customerId) : known.length && randomInt(0, 4) > 0 ? known[randomInt(0, known.length)]!.phone : e164(phoneForKey(`walk-in-${randomInt(0, 1e9)}`));
    const customer = customerFor(phone);
    const now = ctx.now();
    const media: StoredMedia[] = input.media ? [{ sid: newSid('ME'), contentType: 'image/png', bytes: CUSTOMER_PHOTO, createdAt: now }] : [];
    const body = input.text ?? (input.media ? '' : CUSTOMER_TEXTS[randomInt(0, CUSTOMER_TEXTS.length)]!);
    const m = recordInbound(sender, customer, now, body, media);

    const target = ctx.webhooks.target(PLATFORM);
    if (target) {
      const pairs: Array<[string, string]> = [
        ['SmsMessageSid', m.sid],
        ['NumMedia', String(media.length)],
        ['ProfileName', customer.profileName],
        ['MessageType', media.length ? 'image' : 'text'],
        ['SmsSid', m.sid],
        ['WaId', customer.phone.slice(1)],
        ['SmsStatus', 'received'],
        ['Body', body],
        ['To', sender.address],
        ['NumSegments', '1'],
        ['ReferralNumMedia', '0'],
        ['MessageSid', m.sid],
        ['AccountSid', app().id],
        ['From', m.from],
        ['ApiVersion', API_VERSION],
      ];
      if (sender.messagingServiceSid) pairs.splice(10, 0, ['MessagingServiceSid', sender.messagingServiceSid]);
      // Twilio lists MediaContentTypeN first and MediaUrlN last.
      const contentTypes = media.map((item, i): [string, string] => [`MediaContentType${i}`, item.contentType]);
      const urls = media.map((item, i): [string, string] => [`MediaUrl${i}`, `${ctx.publicUrl()}/api.twilio.com${messageUri(m)}/Media/${item.sid}`]);
      postForm('message', target, [...contentTypes, ...pairs, ...urls]);
    }
    return { messageId: m.sid, accountId: sender.address, customerId: customer.phone };
  }

  function describe() {
    return {
      baseUrl: `${ctx.publicUrl()}/api.twilio.com`,
      accountSid: app().id,
      authToken: app().secret,
      apiKey,
      senders: [...senders.values()].map((s) => ({ address: s.address, messagingServiceSid: s.messagingServiceSid })),
      messagingServices: [...services.values()],
      contentTemplates: [...contents.values()],
      customers: [...customers.values()].map((cu) => ({ ...cu, windowOpenFor: [...senders.keys()].filter((s) => windowOpen(s, cu.phone)) })),
      webhooks: { inbound: ctx.webhooks.target(PLATFORM) ?? null, statusCallbackDefault: '{inbound target}/status unless StatusCallback is given' },
      conventions: ['numbers ending in 0000 are not on WhatsApp (sent, then undelivered 63003)'],
    };
  }

  return {
    name: PLATFORM,
    routes,
    seed,
    customerWrites,
    describe,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
};
