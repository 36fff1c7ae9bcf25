// WhatsApp through Twilio Programmable Messaging, per /work/shared/platforms/twilio-whatsapp.md. A
// credential platform: Account SID + Auth Token (or an API key SID + secret with the Account SID,
// and optionally the Auth Token as `webhookAuthToken`, kept only to verify webhooks) and the
// `whatsapp:+E164` sender. History comes from the Messages list resource, read with the
// official twilio-node client; see ./whatsapp-twilio/transport.ts for how it reaches the sandbox.
//
// Sync: the list is filtered server-side per direction (To = our number: inbound, From = our
// number: outbound), newest first, and each list page is grouped by customer into conversations.
// A backfill walks both directions to the end; an incremental scan re-reads each direction down
// to that direction's watermark (minus an overlap) and drops the SIDs it has already returned
// (./whatsapp-twilio/cursor.ts).
import twilio from 'twilio';
import type { MessageInstance } from 'twilio/lib/rest/api/v2010/account/message';
import type { PlatformConfig } from '../../lib/platform-config';
import {
  PlatformError,
  type AccountInfo,
  type Capability,
  type ChannelAdapter,
  type ConnectResult,
  type Credentials,
  type ErrorClass,
  type NormalizedAttachment,
  type NormalizedConversation,
  type NormalizedMessage,
  type OutboundMessage,
  type SendResult,
  type SyncCursor,
  type SyncPage,
} from './types';
import { PLATFORM, RebasingRequestClient, twilioClass } from './whatsapp-twilio/transport';
import { beginScan, decodeCursor, emptyCursor, encodeCursor, endPass, mergeSeen, OVERLAP_MS, type TwilioCursor } from './whatsapp-twilio/cursor';

const DEFAULT_PAGE_SIZE = 50;
const DEFAULT_TIMEOUT_MS = 15_000;
/** List calls one fetchPage may make when pages come back with nothing new (phase changes, stale pages). */
const MAX_CALLS_PER_PAGE = 4;
/** List calls per direction when an incremental sync starts without a cursor (reading the overlap). */
const MAX_BOOTSTRAP_CALLS = 10;
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const API_KEY_SID = /^SK[0-9a-fA-F]{32}$/;
const WHATSAPP_ADDRESS = /^whatsapp:\+[1-9]\d{6,14}$/;
/** Twilio: a free-form message (or a Body template) outside the 24 h window; only a ContentSid template goes through. */
const WINDOW_CLOSED_CODE = '63016';
const WINDOW_CLOSED_HINT = 'outside the 24 h WhatsApp customer-service window: send an approved template (Content SID) instead';
const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;
const MAX_BODY = 1600;

type TwilioClient = ReturnType<typeof twilio>;
type Auth = { accountSid: string; username: string; password: string; method: 'auth_token' | 'api_key'; webhookAuthToken?: string };

export interface WhatsAppTwilioOptions {
  /** Messages per list call (Twilio allows up to 1000). */
  pageSize?: number;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export class WhatsAppTwilioAdapter implements ChannelAdapter {
  readonly platform = PLATFORM;
  readonly usesOAuth = false;
  private readonly apiBase: string;
  private readonly pageSize: number;
  private readonly timeoutMs: number;

  constructor(config: PlatformConfig, options: WhatsAppTwilioOptions = {}) {
    this.apiBase = config.twilio.apiUrl.replace(/\/$/, '');
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  capabilities(): Capability[] {
    return ['read', 'send', 'send_media', 'templates', 'webhooks', 'history'];
  }

  async connectWithCredentials(input: Record<string, unknown>): Promise<ConnectResult> {
    const auth = authFromInput(input);
    const sender = normalizeSender(field(input, 'whatsappNumber'));
    // An authenticated, cheap call scoped to the sender: proves the credentials (401/20003 otherwise).
    // Twilio has no portable "is this sender mine" read on the 2010 API, so the address is checked for shape only.
    await this.client(auth).api.v2010.accounts(auth.accountSid).messages.page({ to: sender, pageSize: 1 });

    const credentials: Credentials = auth.method === 'api_key'
      ? { accountSid: auth.accountSid, apiKeySid: auth.username, apiKeySecret: auth.password, ...(auth.webhookAuthToken ? { webhookAuthToken: auth.webhookAuthToken } : {}) }
      : { accountSid: auth.accountSid, authToken: auth.password };
    const credentialHints: Record<string, string> = {
      accountSid: `${auth.accountSid.slice(0, 2)}…${auth.accountSid.slice(-4)}`,
      authMethod: auth.method,
      whatsappNumber: `…${sender.slice(-4)}`,
      ...(auth.method === 'api_key' ? { apiKeySid: `SK…${auth.username.slice(-4)}`, apiKeySecret: mask(auth.password) } : { authToken: mask(auth.password) }),
      ...(auth.webhookAuthToken ? { webhookAuthToken: mask(auth.webhookAuthToken) } : {}),
    };
    // Auth tokens and API keys do not expire: no tokenExpiresAt.
    return { account: accountOf(sender), credentials, credentialHints, settings: { whatsappNumber: sender } };
  }

  /** Auth tokens and API keys do not expire; nothing to refresh. */
  async refresh(): Promise<null> {
    return null;
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const auth = authFromCredentials(credentials);
    await this.client(auth).api.v2010.accounts(auth.accountSid).messages.page({ to: account.id, pageSize: 1 });
    return accountOf(account.id);
  }

  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const auth = authFromCredentials(input.credentials);
    const sender = input.account.id;
    const client = this.client(auth);
    const messages = client.api.v2010.accounts(auth.accountSid).messages;
    const prior = input.cursor ? decodeCursor(input.cursor) : undefined;

    if (!prior && input.mode === 'incremental') return this.bootstrap(messages, sender);
    let cur: TwilioCursor = prior ?? beginScan(emptyCursor('backfill'), 'backfill');
    if (cur.phase === 'idle') {
      // A finished backfill stays finished; an idle cursor in incremental mode starts a new scan from its watermarks.
      if (input.mode === 'backfill') return { conversations: [], cursor: encodeCursor(cur), done: true };
      cur = beginScan(cur, 'incremental');
    }

    const collected: TwilioMessage[] = [];
    for (let calls = 0; calls < MAX_CALLS_PER_PAGE && cur.phase !== 'idle' && collected.length < this.pageSize; calls++) {
      const page = cur.next
        ? await messages.getPage(cur.next)
        : await messages.page({
          ...(cur.phase === 'inbound' ? { to: sender } : { from: sender }),
          pageSize: this.pageSize,
          // Twilio filters DateSent by day (YYYY-MM-DD, "on or after" for `DateSent>`); twilio-node
          // types it as a Date and would send a datetime, so the day string is passed through as is.
          ...(cur.floor !== null ? { dateSentAfter: dayOf(cur.floor) as unknown as Date } : {}),
        });
      let reachedFloor = false;
      const read: Array<[string, number]> = [];
      for (const m of page.instances) {
        const msg = toTwilioMessage(m, sender);
        if (!msg) continue;
        if (cur.floor !== null && msg.timestamp < cur.floor) {
          reachedFloor = true; // newest first: everything after this is older still
          break;
        }
        read.push([msg.sid, msg.timestamp]);
        cur.scanMax = Math.max(cur.scanMax, msg.timestamp);
        if (!cur.prevSeen.has(msg.sid)) collected.push(msg);
      }
      cur.scanSeen = mergeSeen(cur.scanSeen, read, cur.scanMax);
      cur.next = !reachedFloor && page.nextPageUrl ? page.nextPageUrl : null;
      if (!cur.next) cur = endPass(cur);
    }

    const conversations = await this.toConversations(client, auth.accountSid, collected, sender);
    return { conversations, cursor: encodeCursor(cur), done: cur.phase === 'idle' };
  }

  /**
   * Messages create: From = the channel's `whatsapp:` sender, To = the customer, Body / MediaUrl,
   * or a Content API template (ContentSid + ContentVariables). A 201 only means queued: delivery,
   * and most refusals (63016 outside the window, 63003 unknown recipient), arrive later as status
   * callbacks for the returned MessageSid — classify those with twilioDeliveryFailure().
   */
  async send(input: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult> {
    const auth = authFromCredentials(input.credentials);
    const params = createParams(input.account.id, input.message, input.statusCallbackUrl);
    let created: MessageInstance;
    try {
      created = await this.client(auth).api.v2010.accounts(auth.accountSid).messages.create(params);
    } catch (err) {
      throw asSendError(err);
    }
    // Twilio dates are second-precision: the creation time is what history sync reports for a queued message.
    return { externalId: created.sid, timestamp: timeOf(created.dateCreated) ?? Date.now() };
  }

  classify(err: unknown): ErrorClass {
    return twilioClass(err);
  }

  // ---- internals ----

  /** Incremental without a cursor: remember where history ends now (per direction), return nothing. */
  private async bootstrap(messages: MessagesApi, sender: string): Promise<SyncPage> {
    let cur = beginScan(emptyCursor('incremental'), 'incremental');
    while (cur.phase !== 'idle') {
      // Every SID within the overlap of the newest message must be remembered, or the next scan returns it.
      let page = await messages.page({ ...(cur.phase === 'inbound' ? { to: sender } : { from: sender }), pageSize: this.pageSize });
      for (let calls = 1; ; calls++) {
        const read = page.instances.map((m) => toTwilioMessage(m, sender)).filter((m) => m !== undefined).map((m): [string, number] => [m.sid, m.timestamp]);
        cur.scanMax = Math.max(cur.scanMax, ...read.map(([, at]) => at));
        cur.scanSeen = mergeSeen(cur.scanSeen, read, cur.scanMax);
        const oldest = read.at(-1)?.[1];
        if (!page.nextPageUrl || oldest === undefined || oldest < cur.scanMax - OVERLAP_MS || calls >= MAX_BOOTSTRAP_CALLS) break;
        page = await messages.getPage(page.nextPageUrl);
      }
      cur = endPass(cur);
    }
    return { conversations: [], cursor: encodeCursor(cur), done: true };
  }

  private client(auth: Auth): TwilioClient {
    return twilio(auth.username, auth.password, {
      accountSid: auth.accountSid,
      httpClient: new RebasingRequestClient(this.apiBase, this.timeoutMs),
      autoRetry: false, // the workflow decides when to retry, from classify()
    });
  }

  private async toConversations(client: TwilioClient, accountSid: string, messages: TwilioMessage[], sender: string): Promise<NormalizedConversation[]> {
    const byCustomer = new Map<string, NormalizedConversation>();
    for (const msg of messages) {
      let conv = byCustomer.get(msg.customer);
      if (!conv) {
        conv = { externalId: msg.customer, participant: { externalId: msg.customer, handle: msg.customer.replace(/^whatsapp:/, '') }, messages: [] };
        byCustomer.set(msg.customer, conv);
      }
      const normalized: NormalizedMessage = {
        externalId: msg.sid,
        direction: msg.direction,
        sender: { externalId: msg.direction === 'inbound' ? msg.customer : sender },
        timestamp: msg.timestamp,
      };
      if (msg.body) normalized.text = msg.body;
      if (msg.numMedia > 0) normalized.attachments = await this.attachments(client, accountSid, msg.sid);
      conv.messages.push(normalized);
    }
    for (const conv of byCustomer.values()) conv.messages.sort((a, b) => a.timestamp - b.timestamp || a.externalId.localeCompare(b.externalId));
    return [...byCustomer.values()];
  }

  /** Media of one message: Twilio lists them under the message; the file is the media URI without `.json`. */
  private async attachments(client: TwilioClient, accountSid: string, messageSid: string): Promise<NormalizedAttachment[]> {
    const media = await client.api.v2010.accounts(accountSid).messages(messageSid).media.list({ limit: 20 });
    return media.map((item) => ({
      type: attachmentType(item.contentType),
      mimeType: item.contentType,
      url: `${this.apiBase}${item.uri.replace(/\.json$/, '')}`,
      platformMediaId: item.sid,
    }));
  }
}

type MessagesApi = ReturnType<TwilioClient['api']['v2010']['accounts']>['messages'];

interface TwilioMessage { sid: string; direction: 'inbound' | 'outbound'; customer: string; body: string; numMedia: number; timestamp: number }

/** A list entry as we use it; undefined for messages that do not involve our sender. */
function toTwilioMessage(m: MessageInstance, sender: string): TwilioMessage | undefined {
  const inbound = sameAddress(m.to, sender);
  if (!inbound && !sameAddress(m.from, sender)) return undefined;
  return {
    sid: m.sid,
    direction: inbound ? 'inbound' : 'outbound',
    customer: normalizeAddress(inbound ? m.from : m.to),
    body: m.body ?? '',
    numMedia: Number(m.numMedia) || 0,
    // Twilio dates are RFC 2822 strings (twilio-node parses them): sent time, else creation time for queued messages.
    timestamp: timeOf(m.dateSent) ?? timeOf(m.dateCreated) ?? 0,
  };
}

type CreateParams = Parameters<MessagesApi['create']>[0];

function createParams(sender: string, message: OutboundMessage, statusCallbackUrl: string | undefined): CreateParams {
  const from = normalizeAddress(sender);
  if (!WHATSAPP_ADDRESS.test(from)) throw permanent(`the channel's sender "${sender}" is not a whatsapp:+E.164 address`);
  const params: CreateParams = { from, to: recipientOf(message) };
  if (statusCallbackUrl) params.statusCallback = statusCallbackUrl;
  if (message.template) {
    const { name, parameters } = message.template;
    // Twilio's Content API: the template is a Content SID (HX…), already per language.
    if (!CONTENT_SID.test(name)) throw permanent(`a Twilio WhatsApp template is a Content SID (HX followed by 32 hex characters), got "${name}"`);
    params.contentSid = name;
    if (parameters && parameters.length > 0) params.contentVariables = JSON.stringify(Object.fromEntries(parameters.map((v, i) => [String(i + 1), v])));
    return params;
  }
  const body = message.media ? (message.media.caption ?? message.text ?? '') : (message.text ?? '');
  if (message.media) {
    if (!/^https?:\/\/\S+$/i.test(message.media.url)) throw permanent('media must be given by an http(s) URL');
    params.mediaUrl = [message.media.url];
  } else if (!body.trim()) {
    throw permanent('nothing to send: the message has no text, media or template');
  }
  if (body.length > MAX_BODY) throw permanent(`a WhatsApp message body is at most ${MAX_BODY} characters`);
  if (body) params.body = body;
  return params;
}

/** The customer as Twilio addresses them: `whatsapp:+E164` (a bare number gets the prefix and the +). */
function recipientOf(message: OutboundMessage): string {
  const raw = (message.to.externalId || message.to.handle || '').trim();
  if (!raw) throw permanent('the message has no recipient');
  const prefixed = /^\+?\d/.test(raw) ? `whatsapp:${raw}` : raw;
  const address = normalizeAddress(prefixed).replace(/^whatsapp:(?=\d)/, 'whatsapp:+');
  if (!address.startsWith('whatsapp:')) throw permanent(`invalid recipient "${raw}": not a WhatsApp address`);
  return address; // its number is checked by Twilio (21211)
}

/** A synchronous 63016 names what to do about it; everything else is classified by the transport. */
function asSendError(err: unknown): unknown {
  const cls = twilioClass(err);
  if (cls.code !== WINDOW_CLOSED_CODE) return err instanceof PlatformError ? err : new PlatformError(PLATFORM, cls);
  return new PlatformError(PLATFORM, { kind: 'permanent', message: `${cls.message} (${WINDOW_CLOSED_HINT})`, code: 'window_closed' }, err instanceof PlatformError ? err.status : undefined);
}

/**
 * A message that was queued and then failed, as its status callback reports it (`ErrorCode`,
 * `ErrorMessage`): 63016 → permanent `window_closed`; 63018 (channel rate limit) → rate_limited;
 * 30001/30008 (queue overflow, unknown) → retryable; the rest (63003 unknown recipient, 63024,
 * 63028 template parameters, 30003/30005/30006…) → permanent.
 */
export function twilioDeliveryFailure(errorCode: string | number, errorMessage?: string): ErrorClass {
  const code = String(errorCode);
  const message = `Twilio delivery failed with error ${code}${errorMessage ? `: ${errorMessage}` : ''}`;
  if (code === WINDOW_CLOSED_CODE) return { kind: 'permanent', message: `${message} (${WINDOW_CLOSED_HINT})`, code: 'window_closed' };
  if (code === '63018') return { kind: 'rate_limited', retryAfterMs: 1_000, message, code };
  if (code === '30001' || code === '30008') return { kind: 'retryable', message, code };
  return { kind: 'permanent', message, code };
}

function authFromInput(input: Record<string, unknown>): Auth {
  const accountSid = field(input, 'accountSid');
  const authToken = field(input, 'authToken');
  const apiKeySid = field(input, 'apiKeySid');
  const apiKeySecret = field(input, 'apiKeySecret');
  // Twilio signs webhooks with the account's Auth Token, which an API key does not stand in for:
  // an API-key channel verifies webhooks only with the Auth Token given here. Checked for presence
  // and type like authToken (this adapter does not enforce Twilio's 32-hex format on either), but
  // not against Twilio: no API key can read or test the Auth Token, and only Twilio's signed
  // webhooks would tell. A wrong one shows up as webhooks refused with "X-Twilio-Signature does
  // not match" (api/webhooks/sources/twilio.ts).
  const webhookAuthToken = field(input, 'webhookAuthToken');
  if (!accountSid) throw permanent('accountSid is required (AC…, from the Twilio Console)');
  if (!ACCOUNT_SID.test(accountSid)) throw permanent('accountSid must look like AC followed by 32 hex characters');
  if (apiKeySid || apiKeySecret) {
    if (!API_KEY_SID.test(apiKeySid)) throw permanent('apiKeySid must look like SK followed by 32 hex characters');
    if (!apiKeySecret) throw permanent('apiKeySecret is required with apiKeySid');
    if (webhookAuthToken && webhookAuthToken === apiKeySecret) throw permanent('webhookAuthToken must be the account\'s Auth Token (Twilio Console → Account Info), not the API key secret: Twilio signs webhooks with the Auth Token');
    return { accountSid, username: apiKeySid, password: apiKeySecret, method: 'api_key', ...(webhookAuthToken ? { webhookAuthToken } : {}) };
  }
  if (!authToken) throw permanent('authToken is required (or apiKeySid + apiKeySecret)');
  // With an Auth Token the token itself verifies webhooks; a different one would be a mistake.
  if (webhookAuthToken && webhookAuthToken !== authToken) throw permanent('webhookAuthToken is only for API-key channels; with authToken, webhooks are verified with that token');
  return { accountSid, username: accountSid, password: authToken, method: 'auth_token' };
}

function authFromCredentials(c: Credentials): Auth {
  const accountSid = typeof c.accountSid === 'string' ? c.accountSid : '';
  if (typeof c.apiKeySid === 'string' && typeof c.apiKeySecret === 'string' && c.apiKeySid && c.apiKeySecret) {
    return { accountSid, username: c.apiKeySid, password: c.apiKeySecret, method: 'api_key' };
  }
  if (!accountSid || typeof c.authToken !== 'string' || !c.authToken) throw new PlatformError(PLATFORM, { kind: 'reauth', message: 'no Twilio credentials stored for this channel' });
  return { accountSid, username: accountSid, password: c.authToken, method: 'auth_token' };
}

/** `whatsapp:+14155238886`; a bare `+14155238886` gets the channel prefix; other channels (sms:, messenger:) are refused. */
function normalizeSender(raw: string): string {
  if (!raw) throw permanent('whatsappNumber is required (the WhatsApp sender, e.g. whatsapp:+14155238886)');
  const prefixed = /^\+?\d/.test(raw) ? `whatsapp:${raw}` : raw;
  const address = normalizeAddress(prefixed).replace(/^whatsapp:(?=\d)/, 'whatsapp:+');
  if (!WHATSAPP_ADDRESS.test(address)) throw permanent(`whatsappNumber must be a WhatsApp sender "whatsapp:+<E.164 number>", got "${raw}"`);
  return address;
}

/** Channel addresses compare without spacing and with a lowercase prefix. */
const normalizeAddress = (a: string) => a.trim().replace(/[\s\-().]/g, '').replace(/^whatsapp:/i, 'whatsapp:');
const sameAddress = (a: string | undefined, b: string) => !!a && normalizeAddress(a) === normalizeAddress(b);

function timeOf(d: Date | string | null | undefined): number | undefined {
  if (d === null || d === undefined) return undefined;
  const ms = d instanceof Date ? d.getTime() : Date.parse(d);
  return Number.isFinite(ms) ? ms : undefined;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function attachmentType(mime: string): NormalizedAttachment['type'] {
  if (/^image\//i.test(mime)) return 'image';
  if (/^video\//i.test(mime)) return 'video';
  if (/^audio\//i.test(mime)) return 'audio';
  if (/^text\/(vcard|x-vcard)$/i.test(mime)) return 'other';
  return 'file';
}

function accountOf(sender: string): AccountInfo {
  const number = sender.replace(/^whatsapp:/, '');
  return { id: sender, name: `WhatsApp ${number}`, handle: number };
}

function field(input: Record<string, unknown>, name: string): string {
  const value = input[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw permanent(`${name} must be a string`);
  return value.trim();
}

const permanent = (message: string) => new PlatformError(PLATFORM, { kind: 'permanent', message });
const mask = (s: string) => (s.length > 4 ? `…${s.slice(-4)}` : '…');
