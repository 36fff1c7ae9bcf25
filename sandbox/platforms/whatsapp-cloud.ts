// WhatsApp Cloud API simulator (graph.facebook.com, Meta-hosted), per whatsapp-cloud.md and the
// WhatsApp part of meta-webhooks.md: sends (text, media, templates, interactive, reactions),
// mark-as-read, media upload/URL/download, the 24 h customer-service window, throughput and pair
// rate limits, system-user tokens, and signed `whatsapp_business_account` webhooks.
// Messenger shares this host and these path shapes, so every route claims only the ids it owns.
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { Hono, type Context as HonoContext, type MiddlewareHandler } from 'hono';
import { AdminError } from '../core/admin';
import { route, type SandboxContext } from '../core/context';
import type { IssuedToken } from '../core/tokens';
import { checkContent, MESSAGE_TYPES, type MessageType, type OutboundContent } from './whatsapp-cloud/content';
import { GraphError, graphErrorResponse, graphErrors, metaJson, metaSignature1, metaSignature256, whatsappFaultRenderer } from './whatsapp-cloud/graph';
import { bsuidFor, CUSTOMER_NAMES, isBsuid, isUnreachableNumber, newWamid, normalizeWaId, numericId, phoneForKey, SEED_CUSTOMER_NUMBERS } from './whatsapp-cloud/identity';
import { TokenBucket } from './whatsapp-cloud/limits';
import { checkTemplateSend, defaultTemplates, type MessageTemplate } from './whatsapp-cloud/templates';
import type { CustomerMessageInput, PlatformFactory, PlatformModule, SeedOptions } from './types';

export { metaJson, metaSignature256 } from './whatsapp-cloud/graph';

const PLATFORM = 'whatsapp';
const GRAPH = '/graph.facebook.com/:ver{v[0-9]+\\.0}';
const LOOKASIDE = '/lookaside.fbsbx.com/whatsapp_business/attachments';

const HOUR_MS = 3600_000;
const WINDOW_MS = 24 * HOUR_MS;
const MEDIA_URL_TTL_MS = 5 * 60_000;
const MEDIA_RETENTION_MS = 30 * 24 * HOUR_MS;
/** Default business-number throughput (msg/s, inbound and outbound combined). */
const THROUGHPUT_PER_SECOND = 80;
/** Pair rate: about one message per 6 s to the same user; the burst size is unverified (our default). */
const PAIR_SECONDS_PER_MESSAGE = 6;
const PAIR_BURST = 10;
/** Real-time gap between a send's successive status webhooks (sent → delivered → read). */
const STATUS_STEP_MS = 40;

const SCOPES = ['whatsapp_business_messaging', 'whatsapp_business_management'];

// Upload limits by MIME type (bytes), from the Cloud API media reference.
const MB = 1024 * 1024;
const UPLOAD_LIMITS: Record<string, number> = {
  'image/jpeg': 5 * MB, 'image/png': 5 * MB, 'image/webp': 500 * 1024,
  'video/mp4': 16 * MB, 'video/3gpp': 16 * MB,
  'audio/aac': 16 * MB, 'audio/amr': 16 * MB, 'audio/mpeg': 16 * MB, 'audio/mp4': 16 * MB, 'audio/ogg': 16 * MB,
  'text/plain': 100 * MB, 'application/pdf': 100 * MB, 'application/msword': 100 * MB, 'application/vnd.ms-excel': 100 * MB, 'application/vnd.ms-powerpoint': 100 * MB,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 100 * MB,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 100 * MB,
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 100 * MB,
};

// A 1×1 PNG: the photo a simulated customer sends.
const CUSTOMER_PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const CUSTOMER_TEXTS = ['Hola, ¿mi pedido ya salió?', 'Hi! Is the blue one still in stock?', 'Can I change my delivery address?', 'Thanks, got it 👍', 'When do you open tomorrow?'];

interface Waba { id: string; name: string; templates: MessageTemplate[]; phoneNumberIds: string[] }
interface PhoneNumber { id: string; wabaId: string; displayPhoneNumber: string; verifiedName: string; throughput: TokenBucket }
interface Customer { waId: string; userId: string; name: string; /** false: the user turned read receipts off. */ sendsReadReceipts: boolean }
type OutboundStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed';
interface StoredMessage {
  id: string;
  phoneNumberId: string;
  waId: string;
  direction: 'inbound' | 'outbound';
  type: MessageType;
  timestamp: number; // ms
  content: OutboundContent;
  status: OutboundStatus | 'received' | 'read_by_business';
  template?: MessageTemplate;
  contextId?: string;
}
interface Conversation { lastInboundAt: number | null; messageIds: string[] }
interface Media { id: string; phoneNumberId: string; mimeType: string; bytes: Buffer; sha256: string; createdAt: number; filename?: string; deleted?: boolean }
interface AsyncError { code: number; title: string; details: string }

const ASYNC_ERRORS = {
  window: { code: 131047, title: 'Re-engagement message', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
  undeliverable: { code: 131026, title: 'Message undeliverable', details: 'Message failed to send because the recipient is not a WhatsApp user, has not accepted the latest Terms of Service or uses an old WhatsApp version.' },
  mediaUpload: { code: 131053, title: 'Media upload error', details: 'Unable to retrieve the media: the media id does not exist or has expired.' },
} satisfies Record<string, AsyncError>;

export const createWhatsAppCloudPlatform: PlatformFactory = (ctx: SandboxContext): PlatformModule => {
  const wabas = new Map<string, Waba>();
  const phoneNumbers = new Map<string, PhoneNumber>();
  const customers = new Map<string, Customer>();
  const customerKeys = new Map<string, string>(); // non-numeric customer key → wa_id
  const conversations = new Map<string, Conversation>(); // `${phoneNumberId}:${waId}`
  const messages = new Map<string, StoredMessage>();
  const media = new Map<string, Media>();
  const pairBuckets = new Map<string, TokenBucket>();
  const timers = new Set<NodeJS.Timeout>();
  const urlSecret = randomBytes(32); // signs lookaside download URLs
  let systemUserToken: IssuedToken | undefined;

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => { timers.delete(timer); fn(); }, ms);
    timers.add(timer);
  };
  const seconds = (ms: number) => String(Math.floor(ms / 1000));
  const conversationOf = (phoneNumberId: string, waId: string) => {
    const key = `${phoneNumberId}:${waId}`;
    let conv = conversations.get(key);
    if (!conv) conversations.set(key, (conv = { lastInboundAt: null, messageIds: [] }));
    return conv;
  };
  const windowOpen = (phoneNumberId: string, waId: string) => {
    const last = conversations.get(`${phoneNumberId}:${waId}`)?.lastInboundAt;
    return last !== null && last !== undefined && ctx.now() - last < WINDOW_MS;
  };

  function customerFor(waId: string, wabaId: string, name?: string): Customer {
    let customer = customers.get(waId);
    if (!customer) {
      customer = { waId, userId: bsuidFor(waId, wabaId), name: name ?? CUSTOMER_NAMES[customers.size % CUSTOMER_NAMES.length]!, sendsReadReceipts: true };
      customers.set(waId, customer);
    }
    return customer;
  }

  /** A customer key from the admin API or a scenario: a phone number, a BSUID, or any label. */
  function waIdForKey(key: string): string {
    const direct = normalizeWaId(key);
    if (direct) return direct;
    const byBsuid = [...customers.values()].find((c) => c.userId === key);
    if (byBsuid) return byBsuid.waId;
    let waId = customerKeys.get(key);
    if (!waId) customerKeys.set(key, (waId = phoneForKey(key)));
    return waId;
  }

  // ---- auth ----

  const formatExpiry = (ms: number) => new Date(ms).toUTCString().replace('GMT', 'UTC');

  /** Bearer header (or `access_token` query param, as Graph accepts) → a usable token, or Graph 190. */
  function authenticate(c: HonoContext, wabaId: string): IssuedToken {
    const raw = c.req.header('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? c.req.query('access_token');
    if (!raw) throw new GraphError(401, 104, 'An access token is required to request this resource.');
    const token = ctx.tokens.get(raw);
    const state = ctx.tokens.state(token);
    if (!token || state === 'unknown') throw new GraphError(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    if (state === 'expired') throw new GraphError(401, 190, `Error validating access token: Session has expired on ${formatExpiry(token.expiresAt!)}. The current time is ${formatExpiry(ctx.now())}.`, { subcode: 463 });
    if (state === 'revoked') {
      throw new GraphError(401, token.revoked?.code ?? 190, 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.', { subcode: token.revoked?.subcode ?? 460 });
    }
    // A system-user token speaks for its WABA; a Meta user/business token (Embedded Signup) needs the WhatsApp scopes.
    const allowed = token.platform === PLATFORM ? token.subject === wabaId : SCOPES.some((s) => token.scopes.includes(s));
    if (!allowed) throw new GraphError(403, 200, 'Permissions error', { details: 'The access token does not have access to this WhatsApp Business Account.' });
    return token;
  }

  // ---- webhooks ----

  function sendWebhook(kind: string, phone: PhoneNumber, value: Record<string, unknown>) {
    const url = ctx.webhooks.target(PLATFORM);
    if (!url) return;
    const body = metaJson({
      object: 'whatsapp_business_account',
      entry: [{ id: phone.wabaId, changes: [{ value: { messaging_product: 'whatsapp', metadata: { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.id }, ...value }, field: 'messages' }] }],
    });
    const secret = ctx.apps.get('meta').secret;
    ctx.webhooks.send({
      platform: PLATFORM, kind, url, body,
      headers: { 'content-type': 'application/json', 'user-agent': 'facebookexternalua', 'x-hub-signature': metaSignature1(secret, body), 'x-hub-signature-256': metaSignature256(secret, body) },
    });
  }

  function pricingOf(msg: StoredMessage, wasInWindow: boolean) {
    // Per-message pricing (PMP): service replies and utility templates inside the window are free.
    const category = msg.template ? msg.template.category.toLowerCase() : 'service';
    const free = wasInWindow && (category === 'service' || category === 'utility');
    return { billable: !free, pricing_model: 'PMP', category, type: free ? 'free_customer_service' : 'regular' };
  }

  function emitStatus(msg: StoredMessage, status: OutboundStatus, pricing: ReturnType<typeof pricingOf>, error?: AsyncError) {
    const phone = phoneNumbers.get(msg.phoneNumberId);
    if (!phone) return;
    msg.status = status;
    sendWebhook(`status.${status}`, phone, {
      statuses: [{
        id: msg.id, status, timestamp: seconds(ctx.now()), recipient_id: msg.waId,
        ...(status === 'sent' || status === 'delivered' ? { pricing } : {}),
        ...(error ? { errors: [{ code: error.code, title: error.title, message: error.title, error_data: { details: error.details }, href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/' }] } : {}),
      }],
    });
  }

  /** After a 200, the fate of the message arrives as status webhooks, in order, a few ms apart. */
  function scheduleStatuses(msg: StoredMessage, failure: AsyncError | undefined, wasInWindow: boolean) {
    const pricing = pricingOf(msg, wasInWindow);
    if (failure) {
      later(STATUS_STEP_MS, () => emitStatus(msg, 'failed', pricing, failure));
      return;
    }
    const steps: OutboundStatus[] = customers.get(msg.waId)?.sendsReadReceipts === false ? ['sent', 'delivered'] : ['sent', 'delivered', 'read'];
    steps.forEach((status, i) => later(STATUS_STEP_MS * (i + 1), () => emitStatus(msg, status, pricing)));
  }

  // ---- routes ----

  const routes = new Hono();
  const idParam = (c: HonoContext) => c.req.param('id') ?? '';
  const ownsPhone = (c: HonoContext) => phoneNumbers.has(idParam(c));
  const ownsWaba = (c: HonoContext) => wabas.has(idParam(c));
  const ownsMedia = (c: HonoContext) => media.has(idParam(c));

  /** One WhatsApp endpoint: Graph faults, owned ids only, and every thrown GraphError rendered as Graph JSON. */
  const endpoint = (name: string, owns: ((c: HonoContext) => boolean) | undefined, handler: (c: HonoContext, rawBody: string) => Response | Promise<Response>): MiddlewareHandler =>
    route(ctx, { platform: PLATFORM, name, renderFault: whatsappFaultRenderer(name), owns }, async (c, rawBody) => {
      try {
        return await handler(c, rawBody);
      } catch (err) {
        if (err instanceof GraphError) return graphErrorResponse(c, err);
        ctx.log.error({ err, endpoint: name }, 'whatsapp simulator failed');
        return graphErrorResponse(c, new GraphError(500, 131000, 'Something went wrong', { details: 'Internal error in the sandbox.' }));
      }
    });

  function parseJson(c: HonoContext, rawBody: string): Record<string, unknown> {
    const type = c.req.header('content-type') ?? '';
    if (/application\/x-www-form-urlencoded/i.test(type)) {
      // Graph also takes form-encoded params; nested objects arrive as JSON strings.
      return Object.fromEntries([...new URLSearchParams(rawBody)].map(([k, v]) => {
        try { return [k, /^[[{]/.test(v) ? JSON.parse(v) : v]; } catch { return [k, v]; }
      }));
    }
    try {
      const parsed: unknown = JSON.parse(rawBody || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch { /* fall through */ }
    throw graphErrors.invalidParameter('The request body must be a JSON object.');
  }

  // POST /{phone-number-id}/messages — send, or mark an inbound message as read.
  routes.post(`${GRAPH}/:id/messages`, endpoint('send', ownsPhone, (c, rawBody) => {
    const phone = phoneNumbers.get(idParam(c))!;
    authenticate(c, phone.wabaId);
    const body = parseJson(c, rawBody);
    if (body.messaging_product === undefined) throw graphErrors.requiredParameter('messaging_product');
    if (body.messaging_product !== 'whatsapp') throw graphErrors.invalidParameter('messaging_product must be "whatsapp"');
    if (body.status !== undefined) return markRead(c, phone, body);
    return send(c, phone, body);
  }));

  function markRead(c: HonoContext, phone: PhoneNumber, body: Record<string, unknown>): Response {
    if (body.status !== 'read') throw graphErrors.invalidValue('status must be "read"');
    if (typeof body.message_id !== 'string' || !body.message_id) throw graphErrors.requiredParameter('message_id');
    const msg = messages.get(body.message_id);
    if (!msg || msg.phoneNumberId !== phone.id || msg.direction !== 'inbound') throw graphErrors.invalidParameter(`message_id ${body.message_id} is not a message received by this phone number`);
    // Reading a message marks the earlier ones in the conversation read too, as the app does.
    for (const id of conversationOf(phone.id, msg.waId).messageIds) {
      const m = messages.get(id);
      if (m?.direction === 'inbound' && m.timestamp <= msg.timestamp) m.status = 'read_by_business';
    }
    return c.json({ success: true });
  }

  function send(c: HonoContext, phone: PhoneNumber, body: Record<string, unknown>): Response {
    const waba = wabas.get(phone.wabaId)!;
    if (body.to === undefined || body.to === '') throw graphErrors.requiredParameter('to');
    if (typeof body.to !== 'string') throw graphErrors.invalidParameter('to must be a string');
    if (body.recipient_type !== undefined && body.recipient_type !== 'individual') throw graphErrors.invalidValue('recipient_type must be "individual"');
    const input = body.to;
    const waId = isBsuid(input) ? [...customers.values()].find((cu) => cu.userId === input)?.waId : normalizeWaId(input);
    if (!waId) throw graphErrors.invalidValue(`Invalid 'to' parameter: ${input} is not a valid WhatsApp phone number or user id`);

    const type = (body.type ?? 'text') as MessageType;
    if (!MESSAGE_TYPES.includes(type)) throw graphErrors.invalidParameter(`Param type must be one of {${MESSAGE_TYPES.join(', ').toUpperCase()}}`);
    let content: OutboundContent;
    let template: MessageTemplate | undefined;
    if (type === 'template') {
      const checked = checkTemplateSend(waba.templates, body.template);
      template = checked.template;
      content = { text: checked.renderedBody };
    } else {
      content = checkContent(type, body);
    }
    let contextId: string | undefined;
    if (body.context !== undefined) {
      const context = body.context as { message_id?: unknown } | null;
      if (!context || typeof context !== 'object' || typeof context.message_id !== 'string') throw graphErrors.invalidParameter('context.message_id must be a string');
      contextId = context.message_id;
    }

    const now = ctx.now();
    const throughput = phone.throughput.take(now);
    if (!throughput.ok) throw graphErrors.throughput(throughput.retryAfterSeconds);
    const pairKey = `${phone.id}:${waId}`;
    let pair = pairBuckets.get(pairKey);
    if (!pair) pairBuckets.set(pairKey, (pair = new TokenBucket(PAIR_BURST, 1 / PAIR_SECONDS_PER_MESSAGE, now)));
    const pairTake = pair.take(now);
    if (!pairTake.ok) throw graphErrors.pairRateLimit(pairTake.retryAfterSeconds);

    customerFor(waId, waba.id);
    const inWindow = windowOpen(phone.id, waId);
    const msg: StoredMessage = { id: newWamid(waId), phoneNumberId: phone.id, waId, direction: 'outbound', type, timestamp: now, content, status: 'accepted', template, contextId };
    messages.set(msg.id, msg);
    conversationOf(phone.id, waId).messageIds.push(msg.id);

    // Accepted now; refusals the Cloud API decides after the 200 arrive as `failed` statuses.
    let failure: AsyncError | undefined;
    if (isUnreachableNumber(waId)) failure = ASYNC_ERRORS.undeliverable;
    else if (!inWindow && type !== 'template') failure = ASYNC_ERRORS.window;
    else if (content.media?.id && !usableMedia(content.media.id, phone.id)) failure = ASYNC_ERRORS.mediaUpload;
    scheduleStatuses(msg, failure, inWindow);

    return c.json({
      messaging_product: 'whatsapp',
      contacts: [{ input, wa_id: waId }],
      messages: [{ id: msg.id, ...(template ? { message_status: 'accepted' } : {}) }],
    });
  }

  const usableMedia = (id: string, phoneNumberId: string) => {
    const m = media.get(id);
    return !!m && !m.deleted && m.phoneNumberId === phoneNumberId && ctx.now() - m.createdAt < MEDIA_RETENTION_MS;
  };

  // POST /{phone-number-id}/media — multipart upload. Its raw bytes are read before route()
  // reads the body as text, so binary files survive (Hono caches the bytes for both reads).
  const keepUploadBytes: MiddlewareHandler = async (c, next) => {
    if (ownsPhone(c)) await c.req.arrayBuffer();
    return next();
  };
  routes.post(`${GRAPH}/:id/media`, keepUploadBytes, endpoint('media.upload', ownsPhone, async (c) => {
    const phone = phoneNumbers.get(idParam(c))!;
    authenticate(c, phone.wabaId);
    const contentType = c.req.header('content-type') ?? '';
    const form = /multipart\/form-data/i.test(contentType)
      ? await new Response(await c.req.arrayBuffer(), { headers: { 'content-type': contentType } }).formData().catch(() => null)
      : null;
    if (!form) throw graphErrors.invalidParameter('Upload must be multipart/form-data with fields file, type and messaging_product.');
    if (!form.has('messaging_product')) throw graphErrors.requiredParameter('messaging_product');
    if (form.get('messaging_product') !== 'whatsapp') throw graphErrors.invalidParameter('messaging_product must be "whatsapp"');
    const file = form.get('file');
    if (!file || typeof file === 'string') throw graphErrors.requiredParameter('file');
    const mimeType = String(form.get('type') || file.type || '').split(';')[0]!.trim().toLowerCase();
    const limit = UPLOAD_LIMITS[mimeType];
    if (!limit) throw new GraphError(400, 131053, 'Media upload error', { details: `Param file must be a file with one of the following types: ${Object.keys(UPLOAD_LIMITS).join(', ')}. Received file of type '${mimeType || 'unknown'}'.` });
    const bytes = Buffer.from(await file.arrayBuffer());
    if (bytes.length === 0) throw new GraphError(400, 131053, 'Media upload error', { details: 'The uploaded file is empty.' });
    if (bytes.length > limit) throw new GraphError(400, 131053, 'Media upload error', { details: `File of type ${mimeType} must be at most ${limit} bytes; got ${bytes.length}.` });
    const item = storeMedia(phone.id, mimeType, bytes, file.name || undefined);
    return c.json({ id: item.id });
  }));

  function storeMedia(phoneNumberId: string, mimeType: string, bytes: Buffer, filename?: string): Media {
    const item: Media = { id: numericId(16), phoneNumberId, mimeType, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), createdAt: ctx.now(), filename };
    media.set(item.id, item);
    return item;
  }

  const downloadHash = (mediaId: string, expiresSec: number) => createHmac('sha256', urlSecret).update(`${mediaId}:${expiresSec}`).digest('base64url').slice(0, 22);

  // GET /{media-id} — a download URL valid for 5 minutes.
  routes.get(`${GRAPH}/:id`, endpoint('media.url', ownsMedia, (c) => {
    const item = media.get(idParam(c))!;
    authenticate(c, phoneNumbers.get(item.phoneNumberId)?.wabaId ?? '');
    if (!usableMedia(item.id, item.phoneNumberId)) throw graphErrors.unknownObject(item.id);
    const askedPhone = c.req.query('phone_number_id');
    if (askedPhone !== undefined && askedPhone !== item.phoneNumberId) throw graphErrors.invalidValue(`Media ${item.id} does not belong to phone number ${askedPhone}`);
    const ext = Math.floor((ctx.now() + MEDIA_URL_TTL_MS) / 1000);
    const url = `${ctx.publicUrl()}${LOOKASIDE}/?mid=${item.id}&ext=${ext}&hash=${downloadHash(item.id, ext)}`;
    return c.json({ messaging_product: 'whatsapp', url, mime_type: item.mimeType, sha256: item.sha256, file_size: String(item.bytes.length), id: item.id });
  }));

  // DELETE /{media-id}
  routes.delete(`${GRAPH}/:id`, endpoint('media.delete', ownsMedia, (c) => {
    const item = media.get(idParam(c))!;
    authenticate(c, phoneNumbers.get(item.phoneNumberId)?.wabaId ?? '');
    if (!usableMedia(item.id, item.phoneNumberId)) throw graphErrors.unknownObject(item.id);
    item.deleted = true;
    item.bytes = Buffer.alloc(0);
    return c.json({ success: true });
  }));

  // GET {url from GET /{media-id}} with the same Bearer token → the file; expired URL → 404.
  const download = endpoint('media.download', undefined, (c) => {
    const mediaId = c.req.query('mid') ?? '';
    const ext = Number(c.req.query('ext'));
    const item = media.get(mediaId);
    const hash = Buffer.from(c.req.query('hash') ?? '');
    const expected = Buffer.from(item && Number.isInteger(ext) ? downloadHash(mediaId, ext) : '');
    if (!item || expected.length === 0 || hash.length !== expected.length || !timingSafeEqual(hash, expected)) return c.text('Not Found', 404);
    authenticate(c, phoneNumbers.get(item.phoneNumberId)?.wabaId ?? '');
    if (ext * 1000 <= ctx.now()) return c.text('URL signature expired', 404);
    if (!usableMedia(item.id, item.phoneNumberId)) return c.text('Not Found', 404);
    return c.body(new Uint8Array(item.bytes), 200, {
      'content-type': item.mimeType,
      'content-length': String(item.bytes.length),
      'content-disposition': `attachment; filename=${item.filename ?? item.id}`,
    });
  });
  routes.get(`${LOOKASIDE}/`, download);
  routes.get(LOOKASIDE, download);

  // Read paths a client uses to set up: the business number, the WABA, its numbers and templates.
  const phoneNumberNode = (phone: PhoneNumber) => ({
    verified_name: phone.verifiedName,
    code_verification_status: 'VERIFIED',
    display_phone_number: `+${phone.displayPhoneNumber.slice(0, 1)} ${phone.displayPhoneNumber.slice(1, 4)}-${phone.displayPhoneNumber.slice(4, 7)}-${phone.displayPhoneNumber.slice(7)}`,
    quality_rating: 'GREEN',
    platform_type: 'CLOUD_API',
    throughput: { level: 'STANDARD' },
    id: phone.id,
  });
  const pickFields = (node: Record<string, unknown>, fields: string | undefined) =>
    fields ? Object.fromEntries(Object.entries(node).filter(([k]) => k === 'id' || fields.split(',').map((f) => f.trim()).includes(k))) : node;
  const cursors = (ids: string[]) => ({ cursors: { before: Buffer.from(ids[0] ?? '').toString('base64url'), after: Buffer.from(ids.at(-1) ?? '').toString('base64url') } });

  routes.get(`${GRAPH}/:id`, endpoint('node.get', (c) => ownsPhone(c) || ownsWaba(c), (c) => {
    const phone = phoneNumbers.get(idParam(c));
    const waba = wabas.get(idParam(c));
    authenticate(c, phone?.wabaId ?? waba!.id);
    const node = phone ? phoneNumberNode(phone) : { id: waba!.id, name: waba!.name, currency: 'USD', timezone_id: '1', message_template_namespace: createHash('md5').update(waba!.id).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1_$2_$3_$4_$5') };
    return c.json(pickFields(node, c.req.query('fields')));
  }));

  routes.get(`${GRAPH}/:id/phone_numbers`, endpoint('phone_numbers.list', ownsWaba, (c) => {
    const waba = wabas.get(idParam(c))!;
    authenticate(c, waba.id);
    const data = waba.phoneNumberIds.map((id) => pickFields(phoneNumberNode(phoneNumbers.get(id)!), c.req.query('fields')));
    return c.json({ data, paging: cursors(waba.phoneNumberIds) });
  }));

  routes.get(`${GRAPH}/:id/message_templates`, endpoint('templates.list', ownsWaba, (c) => {
    const waba = wabas.get(idParam(c))!;
    authenticate(c, waba.id);
    const name = c.req.query('name');
    const status = c.req.query('status');
    const data = waba.templates
      .filter((t) => (!name || t.name.includes(name)) && (!status || t.status === status.toUpperCase()))
      .map((t) => ({ name: t.name, parameter_format: 'POSITIONAL', components: t.components, language: t.language, status: t.status, category: t.category, id: t.id }));
    return c.json({ data, paging: cursors(data.map((t) => t.id)) });
  }));

  // ---- world ----

  function recordInbound(phone: PhoneNumber, customer: Customer, at: number, content: OutboundContent, type: MessageType): StoredMessage {
    const msg: StoredMessage = { id: newWamid(customer.waId), phoneNumberId: phone.id, waId: customer.waId, direction: 'inbound', type, timestamp: at, content, status: 'received' };
    messages.set(msg.id, msg);
    const conv = conversationOf(phone.id, customer.waId);
    conv.messageIds.push(msg.id);
    conv.lastInboundAt = Math.max(conv.lastInboundAt ?? 0, at);
    return msg;
  }

  function seed(options: SeedOptions) {
    const now = ctx.now();
    const waba: Waba = { id: '102290129340398', name: 'Switchboard Demo', templates: defaultTemplates(() => numericId(16)), phoneNumberIds: [] };
    const phone: PhoneNumber = { id: '106540352242922', wabaId: waba.id, displayPhoneNumber: '15550783881', verifiedName: 'Switchboard Demo', throughput: new TokenBucket(THROUGHPUT_PER_SECOND, THROUGHPUT_PER_SECOND, now) };
    waba.phoneNumberIds.push(phone.id);
    wabas.set(waba.id, waba);
    phoneNumbers.set(phone.id, phone);
    systemUserToken = ctx.tokens.issue({ platform: PLATFORM, kind: 'system_user', subject: waba.id, app: ctx.apps.get('meta').id, scopes: [...SCOPES], prefix: 'EAAG', ttlSeconds: null });

    // History per customer: alternating messages 5 min apart, ending with the customer's. The
    // first customer wrote an hour ago (window open); the others more than a day ago (closed).
    for (let i = 0; i < options.conversations; i++) {
      const waId = SEED_CUSTOMER_NUMBERS[i] ?? phoneForKey(`seed-customer-${i}`);
      const customer = customerFor(waId, waba.id, CUSTOMER_NAMES[i % CUSTOMER_NAMES.length]);
      const endAt = i === 0 ? now - HOUR_MS : now - (26 + 24 * i) * HOUR_MS;
      for (let m = 0; m < options.messagesPerConversation; m++) {
        const at = endAt - (options.messagesPerConversation - 1 - m) * 5 * 60_000;
        const inbound = (options.messagesPerConversation - 1 - m) % 2 === 0;
        if (inbound) {
          recordInbound(phone, customer, at, { text: `Message ${m + 1} from ${customer.name}` }, 'text').status = 'read_by_business';
        } else {
          const msg: StoredMessage = { id: newWamid(waId), phoneNumberId: phone.id, waId, direction: 'outbound', type: 'text', timestamp: at, content: { text: `Reply ${m + 1} to ${customer.name}` }, status: 'read' };
          messages.set(msg.id, msg);
          conversationOf(phone.id, waId).messageIds.push(msg.id);
        }
      }
    }
  }

  async function customerWrites(input: CustomerMessageInput) {
    const phone = input.accountId ? (phoneNumbers.get(input.accountId) ?? [...phoneNumbers.values()].find((p) => p.displayPhoneNumber === input.accountId?.replace(/\D/g, ''))) : phoneNumbers.values().next().value;
    if (!phone) throw new AdminError(`no WhatsApp phone number "${input.accountId ?? ''}" (seeded: ${[...phoneNumbers.keys()].join(', ') || 'none'})`, 404);
    const known = [...customers.values()];
    const waId = input.customerId ? waIdForKey(input.customerId) : known.length && randomInt(0, 4) > 0 ? known[randomInt(0, known.length)]!.waId : phoneForKey(`walk-in-${randomInt(0, 1e9)}`);
    const customer = customerFor(waId, phone.wabaId);
    const now = ctx.now();
    phone.throughput.consume(now);

    let wireMessage: Record<string, unknown>;
    let msg: StoredMessage;
    if (input.media) {
      const item = storeMedia(phone.id, 'image/png', CUSTOMER_PHOTO);
      msg = recordInbound(phone, customer, now, { text: input.text, media: { type: 'image', id: item.id, caption: input.text } }, 'image');
      // Webhook media objects carry the file hash base64-encoded (GET /{media-id} gives hex).
      const image = { ...(input.text ? { caption: input.text } : {}), mime_type: item.mimeType, sha256: Buffer.from(item.sha256, 'hex').toString('base64'), id: item.id };
      wireMessage = { from: customer.waId, from_user_id: customer.userId, id: msg.id, timestamp: seconds(now), type: 'image', image };
    } else {
      const text = input.text ?? CUSTOMER_TEXTS[randomInt(0, CUSTOMER_TEXTS.length)]!;
      msg = recordInbound(phone, customer, now, { text }, 'text');
      wireMessage = { from: customer.waId, from_user_id: customer.userId, id: msg.id, timestamp: seconds(now), type: 'text', text: { body: text } };
    }
    sendWebhook('message', phone, {
      contacts: [{ profile: { name: customer.name }, wa_id: customer.waId, user_id: customer.userId }],
      messages: [wireMessage],
    });
    return { messageId: msg.id, accountId: phone.id, customerId: customer.waId };
  }

  function describe() {
    const base = `${ctx.publicUrl()}/graph.facebook.com/v25.0`;
    return {
      baseUrls: { graph: base, mediaDownload: `${ctx.publicUrl()}${LOOKASIDE}/` },
      app: { metaAppId: ctx.apps.get('meta').id, webhookSecret: 'the Meta app secret (see /__admin/apps → meta.secret)', verifyToken: ctx.apps.get('meta').extra.verifyToken },
      systemUserToken: systemUserToken?.token,
      wabas: [...wabas.values()].map((w) => ({
        id: w.id, name: w.name,
        phoneNumbers: w.phoneNumberIds.map((id) => ({ id, displayPhoneNumber: phoneNumbers.get(id)!.displayPhoneNumber, throughputPerSecond: THROUGHPUT_PER_SECOND })),
        templates: w.templates.map((t) => ({ name: t.name, language: t.language, category: t.category, status: t.status })),
      })),
      customers: [...customers.values()].map((cu) => ({
        waId: cu.waId, userId: cu.userId, name: cu.name,
        windowOpenFor: [...phoneNumbers.keys()].filter((p) => windowOpen(p, cu.waId)),
      })),
      limits: { windowHours: 24, pairRate: `1 message per ${PAIR_SECONDS_PER_MESSAGE} s per user, burst ${PAIR_BURST}`, mediaUrlTtlSeconds: MEDIA_URL_TTL_MS / 1000 },
      conventions: ['numbers ending in 0000 are not on WhatsApp (async failed 131026)'],
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
