// Gmail: Google OAuth 2.0 (accounts.google.com consent with access_type=offline + prompt=consent,
// oauth2.googleapis.com token/revoke) and the Gmail API through the official @googleapis/gmail
// client. The channel's account is the mailbox (users.getProfile emailAddress); sync walks threads
// for the backfill and history.list (messageAdded) from the backfill's starting historyId after.
import { gmail, type gmail_v1 } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { PlatformConfig } from '../../lib/platform-config';
import {
  PlatformError,
  type AccountInfo,
  type Capability,
  type ChannelAdapter,
  type ConnectResult,
  type Credentials,
  type ErrorClass,
  type MarkReadRequest,
  type NormalizedAttachment,
  type NormalizedConversation,
  type NormalizedMessage,
  type OutboundMessage,
  type RefreshResult,
  type SendResult,
  type SyncCursor,
  type SyncPage,
} from './types';
import { fetchPlatform, readJsonObject } from './http';
import { fetchMedia } from './media';

const PLATFORM = 'gmail' as const;
const TIMEOUT_MS = 30_000;
/** Google says "exponential backoff" without a number when Retry-After is absent. */
const DEFAULT_RETRY_AFTER_MS = 30_000;
/** Threads per backfill page (each threads.get costs 10 quota units). */
const THREADS_PER_PAGE = 25;
/** History records per incremental page. */
const HISTORY_PER_PAGE = 100;
/** Parallel messages.get / threads.get calls. */
const CONCURRENCY = 5;
/** Gmail's attachment limit (larger files must go as Drive links). */
const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;

const SCOPE = {
  full: 'https://mail.google.com/',
  modify: 'https://www.googleapis.com/auth/gmail.modify',
  readonly: 'https://www.googleapis.com/auth/gmail.readonly',
} as const;
/** gmail.modify: read, send and label changes (mark read), no permanent delete. */
export const GMAIL_SCOPES = [SCOPE.modify];
/** Reading full messages needs one of these (gmail.metadata cannot read bodies). */
const READ_SCOPES: string[] = [SCOPE.full, SCOPE.modify, SCOPE.readonly];
/** Messages that are not part of a conversation with a customer. */
const SKIP_LABELS = ['DRAFT', 'SPAM', 'TRASH'];
const RATE_LIMIT_REASONS = ['rateLimitExceeded', 'userRateLimitExceeded', 'dailyLimitExceeded', 'quotaExceeded', 'concurrentLimitExceeded'];

type Json = Record<string, unknown>;

/**
 * Cursor. `phase: 'backfill'`: walking threads.list (`pageToken`), `historyId` taken from
 * users.getProfile when the walk started. `phase: 'incremental'`: history.list after `historyId`.
 * When history.list answers 404 (startHistoryId older than Gmail keeps), the adapter returns an
 * empty page with `{phase: 'backfill', historyId: <current>, resyncRequired: true}` and
 * `done: false`: passing that cursor back (in either mode) walks all threads again — a resync,
 * deduplicated on Gmail message ids by the caller — and ends with an incremental cursor from the
 * historyId taken before the resync, so nothing between the two is lost. Callers may read
 * `resyncRequired` to show it.
 */
interface GmailCursor {
  phase: 'backfill' | 'incremental';
  historyId: string | null;
  pageToken: string | null;
  resyncRequired: boolean;
}

export class GmailAdapter implements ChannelAdapter {
  readonly platform = PLATFORM;
  readonly usesOAuth = true;

  constructor(private readonly config: PlatformConfig) {}

  private get cfg() { return this.config.google; }
  private get tokenUrl() { return `${this.cfg.oauth2Url.replace(/\/$/, '')}/token`; }
  private get revokeUrl() { return `${this.cfg.oauth2Url.replace(/\/$/, '')}/revoke`; }
  /**
   * Passed per call, not as the client's global rootUrl: googleapis-common rebuilds URLs against a
   * global rootUrl with `new URL(absolutePath, rootUrl)`, which drops any path prefix (the sandbox's
   * `/gmail.googleapis.com`), whereas a per-call rootUrl is prepended as is. This works against the
   * sandbox's prefixed routes and the real https://gmail.googleapis.com/ alike.
   */
  private get callOptions() { return { rootUrl: `${this.cfg.gmailUrl.replace(/\/$/, '')}/` }; }

  capabilities(): Capability[] {
    return ['read', 'send', 'send_media', 'mark_read', 'webhooks', 'history'];
  }

  private oauthClient(credentials?: Credentials): OAuth2Client {
    const client = new OAuth2Client({
      clientId: this.cfg.clientId,
      clientSecret: this.cfg.clientSecret,
      endpoints: {
        oauth2AuthBaseUrl: `${this.cfg.accountsUrl.replace(/\/$/, '')}/o/oauth2/v2/auth`,
        oauth2TokenUrl: this.tokenUrl,
        oauth2RevokeUrl: this.revokeUrl,
      },
      // With an expiry date set, the client refreshes only ahead of expiry unless told to also
      // refresh after a 401 (e.g. a token revoked early); it then retries the call once.
      forceRefreshOnFailure: true,
    });
    if (credentials) {
      const refreshToken = str(credentials.refreshToken);
      client.setCredentials({
        access_token: str(credentials.accessToken),
        refresh_token: refreshToken,
        // Without a refresh token an expiry would only make the client fail before trying.
        expiry_date: refreshToken && typeof credentials.accessTokenExpiresAt === 'number' ? credentials.accessTokenExpiresAt : undefined,
        token_type: 'Bearer',
      });
    }
    return client;
  }

  /** The official client; retries are off because the caller retries by our classification. */
  private api(credentials: Credentials): gmail_v1.Gmail {
    return gmail({ version: 'v1', auth: this.oauthClient(credentials), retry: false, timeout: TIMEOUT_MS });
  }

  authorizationUrl({ state, redirectUri }: { state: string; redirectUri: string }): string {
    return this.oauthClient().generateAuthUrl({
      access_type: 'offline', // yields a refresh token…
      prompt: 'consent', // …which Google returns only on (re)consent
      include_granted_scopes: true,
      scope: GMAIL_SCOPES,
      state,
      redirect_uri: redirectUri,
    });
  }

  async exchangeCode({ code, redirectUri }: { code: string; redirectUri: string }): Promise<ConnectResult> {
    if (!code) throw permanent('no authorization code: the user denied or cancelled the Google consent', 'access_denied');
    const tokens = await this.tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
    const granted = (str(tokens.scope) ?? '').split(/\s+/).filter(Boolean);
    if (!granted.some((s) => READ_SCOPES.includes(s))) {
      throw permanent('Gmail read access was not granted; reconnect and allow access to Gmail', 'missing_scopes');
    }
    const refreshToken = str(tokens.refresh_token);
    if (!refreshToken) throw permanent('Google returned no refresh token; reconnect (consent must be given again)', 'no_refresh_token');
    const credentials: Credentials = {
      accessToken: str(tokens.access_token),
      refreshToken,
      scope: granted.join(' '),
      accessTokenExpiresAt: expiresAt(tokens.expires_in),
    };
    const account = await this.check(credentials);
    return {
      account,
      credentials,
      tokenExpiresAt: credentials.accessTokenExpiresAt as number,
      credentialHints: { email: account.id, scopes: granted.join(' '), refreshToken: mask(refreshToken) },
    };
  }

  /** Google refresh tokens do not rotate; a refresh_token in the answer is kept all the same. */
  async refresh(credentials: Credentials, _account?: AccountInfo): Promise<RefreshResult | null> {
    const refreshToken = str(credentials.refreshToken);
    if (!refreshToken) throw new PlatformError(PLATFORM, { kind: 'reauth', message: 'no Google refresh token stored; reconnect the mailbox', code: 'no_refresh_token' });
    const tokens = await this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const next: Credentials = {
      ...credentials,
      accessToken: str(tokens.access_token),
      refreshToken: str(tokens.refresh_token) ?? refreshToken,
      scope: str(tokens.scope) ?? credentials.scope,
      accessTokenExpiresAt: expiresAt(tokens.expires_in),
    };
    return { credentials: next, tokenExpiresAt: next.accessTokenExpiresAt as number };
  }

  async check(credentials: Credentials, _account?: AccountInfo): Promise<AccountInfo> {
    const profile = await this.call(() => this.api(credentials).users.getProfile({ userId: 'me' }, this.callOptions));
    const email = str(profile.emailAddress)?.toLowerCase();
    if (!email) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'Gmail profile has no emailAddress', code: 'bad_response' });
    return { id: email, name: email, handle: email };
  }

  /**
   * users.watch: Gmail publishes the mailbox's INBOX changes to the Pub/Sub topic, whose push
   * subscription calls /webhooks/google. A repeated call replaces the watch (renewal).
   */
  async watch(credentials: Credentials, _account?: AccountInfo): Promise<{ expiresAt: number } | null> {
    if (!this.cfg.pubsubTopic) return null;
    const answer = await this.call(() => this.api(credentials).users.watch({
      userId: 'me', requestBody: { topicName: this.cfg.pubsubTopic, labelIds: ['INBOX'], labelFilterBehavior: 'include' },
    }, this.callOptions));
    const expiresAt = Number(answer.expiration);
    if (!Number.isFinite(expiresAt)) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'users.watch answered without an expiration', code: 'bad_response' });
    return { expiresAt };
  }

  /** Stops the push, then revokes the refresh token, which ends the whole grant (best effort: an already dead token is fine). */
  async revoke(credentials: Credentials, _account?: AccountInfo): Promise<void> {
    const token = str(credentials.refreshToken) ?? str(credentials.accessToken);
    if (!token) return;
    if (this.cfg.pubsubTopic) await this.call(() => this.api(credentials).users.stop({ userId: 'me' }, this.callOptions)).catch(() => undefined);
    const res = await send(this.revokeUrl, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }),
    });
    const json = await readJson(res);
    if (res.ok || (res.status === 400 && (str(json?.error) === 'invalid_token' || str(json?.error) === 'invalid_grant'))) return;
    throw oauthError(res, json);
  }

  // ---- sync ---------------------------------------------------------------------------------

  // The cursor's phase decides what to do; a null cursor starts the backfill in either mode.
  async fetchPage({ credentials, account, cursor }: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const client = this.api(credentials);
    const mailbox = account.id.toLowerCase();
    const c = parseCursor(cursor);
    if (c.phase === 'incremental' && c.historyId) return this.incremental(client, mailbox, c.historyId);
    return this.backfill(client, mailbox, c);
  }

  private async backfill(client: gmail_v1.Gmail, mailbox: string, c: GmailCursor): Promise<SyncPage> {
    // The historyId is read before the first page, so changes during the walk are replayed later.
    const historyId = c.historyId ?? str((await this.call(() => client.users.getProfile({ userId: 'me' }, this.callOptions))).historyId);
    if (!historyId) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'Gmail profile has no historyId', code: 'bad_response' });
    const list = await this.call(() => client.users.threads.list({ userId: 'me', maxResults: THREADS_PER_PAGE, pageToken: c.pageToken ?? undefined }, this.callOptions));
    const threads = await mapLimit(list.threads ?? [], CONCURRENCY, async (t) => {
      if (!t.id) return null;
      const thread = await this.optional(() => client.users.threads.get({ userId: 'me', id: t.id!, format: 'full' }, this.callOptions));
      return thread ? toConversation(thread.id ?? t.id, thread.messages ?? [], mailbox) : null;
    });
    const conversations = threads.filter((t): t is NormalizedConversation => t !== null && t.messages.length > 0);
    const next = str(list.nextPageToken);
    if (next) return { conversations, done: false, cursor: toCursor({ phase: 'backfill', historyId, pageToken: next, resyncRequired: c.resyncRequired }) };
    return { conversations, done: true, cursor: toCursor({ phase: 'incremental', historyId, pageToken: null, resyncRequired: false }) };
  }

  private async incremental(client: gmail_v1.Gmail, mailbox: string, startHistoryId: string): Promise<SyncPage> {
    let history: gmail_v1.Schema$ListHistoryResponse;
    try {
      history = await this.call(() => client.users.history.list({ userId: 'me', startHistoryId, historyTypes: ['messageAdded'], maxResults: HISTORY_PER_PAGE }, this.callOptions));
    } catch (err) {
      if (!(err instanceof PlatformError) || err.status !== 404) throw err;
      // startHistoryId is older than Gmail keeps: resync (see GmailCursor).
      const profile = await this.call(() => client.users.getProfile({ userId: 'me' }, this.callOptions));
      return { conversations: [], done: false, cursor: toCursor({ phase: 'backfill', historyId: str(profile.historyId) ?? null, pageToken: null, resyncRequired: true }) };
    }
    const records = history.history ?? [];
    const refs = new Map<string, string>();
    for (const record of records) {
      for (const added of record.messagesAdded ?? []) {
        const m = added.message;
        if (!m?.id || (m.labelIds ?? []).some((l) => SKIP_LABELS.includes(l))) continue;
        refs.set(m.id, m.threadId ?? m.id);
      }
    }
    const messages = await mapLimit([...refs.keys()], CONCURRENCY, (id) =>
      this.optional(() => client.users.messages.get({ userId: 'me', id, format: 'full' }, this.callOptions)));
    const byThread = new Map<string, gmail_v1.Schema$Message[]>();
    for (const m of messages) {
      if (!m?.id || (m.labelIds ?? []).some((l) => SKIP_LABELS.includes(l))) continue; // deleted or now a draft/spam
      const threadId = m.threadId ?? refs.get(m.id) ?? m.id;
      byThread.set(threadId, [...(byThread.get(threadId) ?? []), m]);
    }
    const conversations = [...byThread].map(([threadId, msgs]) => toConversation(threadId, msgs, mailbox)).filter((conv) => conv.messages.length > 0);

    // More records: continue after the last one seen (no page token to expire); else from the
    // mailbox's current historyId, as the sync guide says.
    const last = records.at(-1)?.id;
    if (history.nextPageToken && last) return { conversations, done: false, cursor: toCursor({ phase: 'incremental', historyId: String(last), pageToken: null, resyncRequired: false }) };
    const latest = maxHistoryId(startHistoryId, str(history.historyId), last ?? undefined);
    return { conversations, done: true, cursor: toCursor({ phase: 'incremental', historyId: latest, pageToken: null, resyncRequired: false }) };
  }

  // ---- send ---------------------------------------------------------------------------------

  /**
   * users.messages.send with a raw RFC 2822 message: From the mailbox, To the participant,
   * Subject (Re: … when answering), In-Reply-To/References and `threadId` so it lands in the
   * conversation's thread. The threading headers come from the thread itself (threads.get
   * metadata): the parent is the message named by `inReplyTo`, else the thread's last message,
   * and References is the parent's References plus its Message-ID. Media by URL is fetched and
   * attached (≤ 25 MB). The result's externalId is Gmail's message id (what sync reports).
   */
  async send({ credentials, account, message }: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult> {
    if (message.template) throw permanent('Gmail has no message templates', 'unsupported');
    const to = message.to.externalId.trim();
    if (!/^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/.test(to)) throw permanent('the recipient is not a valid email address', 'invalid_recipient');
    const text = message.text ?? message.media?.caption ?? '';
    if (!text && !message.media) throw permanent('nothing to send: no text and no media', 'empty_message');
    const client = this.api(credentials);
    const mailbox = account.id.toLowerCase();

    // Threading: the thread's headers (404: the thread is gone → permanent).
    const threadId = message.conversationExternalId || undefined;
    let inReplyTo: string | undefined;
    let references: string | undefined;
    let subject = message.subject;
    if (threadId) {
      const thread = await this.optional(() => client.users.threads.get({ userId: 'me', id: threadId, format: 'metadata', metadataHeaders: ['Message-ID', 'References', 'Subject'] }, this.callOptions));
      if (!thread) throw permanent('the Gmail thread of this conversation no longer exists', 'thread_not_found');
      const members = (thread.messages ?? []).filter((m) => !(m.labelIds ?? []).includes('DRAFT'));
      const wanted = message.inReplyTo ? bracket(message.inReplyTo) : undefined;
      const parent = (wanted && members.find((m) => bracket(header(m.payload, 'Message-ID') ?? '') === wanted)) ?? members.at(-1);
      const parentId = parent ? header(parent.payload, 'Message-ID') : undefined;
      inReplyTo = wanted ?? (parentId ? bracket(parentId) : undefined);
      const chain = [...(parent ? (header(parent.payload, 'References') ?? '').split(/\s+/).filter(Boolean) : []), ...(parentId ? [bracket(parentId)] : [])];
      if (wanted && !chain.includes(wanted)) chain.push(wanted);
      references = chain.length ? chain.join(' ') : undefined;
      // Gmail keeps a reply in the thread only with the same subject (Re: prefixes aside).
      subject ??= header(members[0]?.payload, 'Subject');
    } else if (message.inReplyTo) {
      inReplyTo = bracket(message.inReplyTo);
      references = inReplyTo;
    }
    if (inReplyTo && subject && !/^\s*re\s*:/i.test(subject)) subject = `Re: ${subject}`;

    const attachments = message.media ? [await fetchMedia(PLATFORM, message.media, { maxBytes: MAX_ATTACHMENT_BYTES, limit: 'Gmail\'s 25 MB limit', timeoutMs: TIMEOUT_MS, policy: this.config.tenantNetwork })] : [];
    const raw = await new MailComposer({
      from: mailbox,
      to,
      subject: subject ?? '',
      text,
      inReplyTo,
      references,
      attachments,
      disableFileAccess: true,
      disableUrlAccess: true,
    }).compile().build();

    const sent = await this.call(() => client.users.messages.send({ userId: 'me', requestBody: { raw: raw.toString('base64url'), threadId } }, this.callOptions));
    if (!sent.id) throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'Gmail send response lacks the message id', code: 'bad_response' });
    return { externalId: sent.id, timestamp: Date.now() };
  }

  /**
   * users.messages.batchModify removing UNREAD from the inbound messages the agent read (not the
   * whole thread: a message that arrived since stays unread). Gmail ignores ids it no longer has.
   */
  async markRead({ credentials, read }: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void> {
    const ids = read.messageIds.filter((id) => /^[0-9a-f]+$/i.test(id)).slice(0, 1000);
    if (!ids.length) return;
    const client = this.api(credentials);
    await this.call(() => client.users.messages.batchModify({ userId: 'me', requestBody: { ids, removeLabelIds: ['UNREAD'] } }, this.callOptions));
  }

  // ---- errors -------------------------------------------------------------------------------

  classify(err: unknown): ErrorClass {
    return toPlatformError(err).classification;
  }

  /** Runs a client call; every failure leaves as a PlatformError (never the GaxiosError, whose config holds the token). */
  private async call<T>(fn: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await fn()).data;
    } catch (err) {
      throw toPlatformError(err);
    }
  }

  /** Like call(), but a 404 (deleted message or thread) is null. */
  private async optional<T>(fn: () => Promise<{ data: T }>): Promise<T | null> {
    try {
      return await this.call(fn);
    } catch (err) {
      if (err instanceof PlatformError && err.status === 404) return null;
      throw err;
    }
  }

  private async tokenRequest(params: Record<string, string>): Promise<Json> {
    const res = await send(this.tokenUrl, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: this.cfg.clientId, client_secret: this.cfg.clientSecret, ...params }),
    });
    const json = await readJson(res);
    if (!res.ok || !json || str(json.error)) throw oauthError(res, json);
    if (!str(json.access_token) || typeof json.expires_in !== 'number') {
      throw new PlatformError(PLATFORM, { kind: 'retryable', message: 'Google token response lacks access_token or expires_in', code: 'bad_response' }, res.status);
    }
    return json;
  }
}

// ---- normalization ------------------------------------------------------------------------------

type Part = gmail_v1.Schema$MessagePart;

function toConversation(threadId: string, raw: gmail_v1.Schema$Message[], mailbox: string): NormalizedConversation {
  const kept = raw.filter((m) => m.id && !(m.labelIds ?? []).some((l) => SKIP_LABELS.includes(l)));
  const messages = kept.map((m) => normalizeMessage(m, mailbox)).sort((a, b) => a.timestamp - b.timestamp);
  // The customer: who wrote to us first, else whom we wrote to.
  let participant: { externalId: string; name?: string } | undefined;
  for (const m of [...kept].sort((a, b) => Number(a.internalDate ?? 0) - Number(b.internalDate ?? 0))) {
    const from = parseAddresses(header(m.payload, 'From'))[0];
    if (from && from.email !== mailbox && !(m.labelIds ?? []).includes('SENT')) { participant = { externalId: from.email, name: from.name }; break; }
    const to = parseAddresses(header(m.payload, 'To')).find((a) => a.email !== mailbox);
    if (to && !participant) participant = { externalId: to.email, name: to.name };
  }
  const first = kept[0];
  return {
    externalId: threadId,
    participant: participant ?? { externalId: mailbox },
    subject: first ? header(first.payload, 'Subject') : undefined,
    messages,
  };
}

function normalizeMessage(m: gmail_v1.Schema$Message, mailbox: string): NormalizedMessage {
  const from = parseAddresses(header(m.payload, 'From'))[0];
  const outbound = (m.labelIds ?? []).includes('SENT') || from?.email === mailbox;
  const attachments: NormalizedAttachment[] = [];
  collectAttachments(m.payload, attachments);
  const dateHeader = Date.parse(header(m.payload, 'Date') ?? '');
  return {
    externalId: m.id!,
    direction: outbound ? 'outbound' : 'inbound',
    sender: { externalId: from?.email ?? (outbound ? mailbox : ''), name: from?.name },
    text: bodyText(m.payload) ?? decodeEntities(m.snippet ?? ''),
    attachments: attachments.length ? attachments : undefined,
    // internalDate is epoch ms as a string; the Date header is only a fallback.
    timestamp: m.internalDate ? Number(m.internalDate) : Number.isNaN(dateHeader) ? 0 : dateHeader,
  };
}

function header(part: Part | undefined, name: string): string | undefined {
  return part?.headers?.find((h) => h.name?.toLowerCase() === name.toLowerCase())?.value ?? undefined;
}

/** The text body: the first text/plain part that is not an attachment, else text/html as text. */
function bodyText(payload: Part | undefined): string | undefined {
  const plain = findPart(payload, 'text/plain');
  if (plain) return decodeBody(plain);
  const html = findPart(payload, 'text/html');
  return html ? htmlToText(decodeBody(html)) : undefined;
}

function findPart(part: Part | undefined, mimeType: string): Part | undefined {
  if (!part) return undefined;
  if (part.mimeType?.toLowerCase() === mimeType && !part.filename && part.body?.data) return part;
  for (const p of part.parts ?? []) {
    const found = findPart(p, mimeType);
    if (found) return found;
  }
  return undefined;
}

function decodeBody(part: Part): string {
  const bytes = Buffer.from(part.body?.data ?? '', 'base64url');
  const charset = /charset="?([^";\s]+)"?/i.exec(header(part, 'Content-Type') ?? '')?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function collectAttachments(part: Part | undefined, out: NormalizedAttachment[]): void {
  if (!part) return;
  if (part.filename && !(part.parts ?? []).length) {
    const mimeType = part.mimeType ?? 'application/octet-stream';
    const kind = mimeType.split('/')[0];
    out.push({
      type: kind === 'image' ? 'image' : kind === 'video' ? 'video' : kind === 'audio' ? 'audio' : 'file',
      mimeType,
      name: part.filename,
      size: part.body?.size ?? undefined,
      platformMediaId: part.body?.attachmentId ?? undefined,
    });
  }
  for (const p of part.parts ?? []) collectAttachments(p, out);
}

/** RFC 5322 address lists: `"Name" <a@b>, c@d`, commas inside quotes kept. */
export function parseAddresses(value: string | undefined): { email: string; name?: string }[] {
  if (!value) return [];
  const items: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '<' && !quoted) angle = true;
    else if (ch === '>' && !quoted) angle = false;
    if (ch === ',' && !quoted && !angle) { items.push(current); current = ''; } else current += ch;
  }
  items.push(current);
  return items.map((item) => {
    const m = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(item);
    if (m) {
      const name = m[1]!.replace(/^"|"$/g, '').trim();
      return { email: m[2]!.trim().toLowerCase(), name: name || undefined };
    }
    return { email: item.trim().toLowerCase() };
  }).filter((a) => a.email.includes('@'));
}

function htmlToText(html: string): string {
  return decodeEntities(html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, '').replace(/<br\s*\/?>|<\/p>|<\/div>/gi, '\n').replace(/<[^>]+>/g, ''))
    .replace(/\n{3,}/g, '\n\n').trim();
}

function decodeEntities(s: string): string {
  return s.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos|nbsp);/gi, (_, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number(lower.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' } as Record<string, string>)[lower] ?? _;
  });
}

// ---- errors -------------------------------------------------------------------------------------

interface HttpishError {
  status?: number;
  code?: unknown;
  response?: { status: number; data?: unknown; headers?: unknown };
}

/** Any error of a Gmail/OAuth call → PlatformError, built only from the status and error body. */
function toPlatformError(err: unknown): PlatformError {
  if (err instanceof PlatformError) return err;
  const e = (err ?? {}) as HttpishError;
  const res = e.response;
  if (!res) {
    // google-auth-library, asked to refresh without a refresh token.
    if (err instanceof Error && /no refresh token/i.test(err.message)) {
      return new PlatformError(PLATFORM, { kind: 'reauth', message: 'access token rejected and no refresh token stored; reconnect the mailbox', code: 'no_refresh_token' });
    }
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || e.code === 'TimeoutError' || e.code === 'ETIMEDOUT');
    if (timeout || (e.code !== undefined && typeof e.code === 'string') || err instanceof TypeError) {
      return new PlatformError(PLATFORM, { kind: 'retryable', message: timeout ? 'Gmail did not answer in time' : 'network error talking to Google', code: timeout ? 'timeout' : 'network' });
    }
    return new PlatformError(PLATFORM, { kind: 'permanent', message: err instanceof Error ? err.message : 'unknown error' });
  }
  const status = res.status;
  const data = (res.data && typeof res.data === 'object' ? res.data : {}) as Json;
  const retryAfter = retryAfterMs(headerOf(res.headers, 'retry-after'));
  // The token endpoint (the client's own refresh): {"error":"invalid_grant","error_description":…}
  if (typeof data.error === 'string') {
    return classifyOAuth(status, data.error, str(data.error_description), retryAfter);
  }
  const body = (data.error && typeof data.error === 'object' ? data.error : {}) as Json;
  const reasons = (Array.isArray(body.errors) ? body.errors : []).map((x) => str((x as Json).reason)).filter((r): r is string => !!r);
  const reason = reasons[0] ?? str(body.status) ?? `http_${status}`;
  const message = `${str(body.message) ?? `HTTP ${status}`} (${status} ${reason})`;
  const make = (cls: ErrorClass) => new PlatformError(PLATFORM, cls, status);
  if (status === 429 || (status === 403 && reasons.some((r) => RATE_LIMIT_REASONS.includes(r)))) {
    return make({ kind: 'rate_limited', retryAfterMs: retryAfter ?? DEFAULT_RETRY_AFTER_MS, message, code: reason });
  }
  // Reached only after the client's own refresh-and-retry failed too.
  if (status === 401) return make({ kind: 'reauth', message, code: reason });
  if (status === 403 && reasons.includes('insufficientPermissions')) return make({ kind: 'reauth', message, code: reason });
  if (status >= 500 || reasons.includes('backendError')) return make({ kind: 'retryable', message, code: reason });
  return make({ kind: 'permanent', message, code: reason });
}

function oauthError(res: Response, json: Json | undefined): PlatformError {
  return classifyOAuth(res.status, str(json?.error) ?? `http_${res.status}`, str(json?.error_description), retryAfterMs(res.headers.get('retry-after')));
}

function classifyOAuth(status: number, error: string, description: string | undefined, retryAfter: number | undefined): PlatformError {
  const message = `${error}: ${description ?? `HTTP ${status}`}`;
  const make = (cls: ErrorClass) => new PlatformError(PLATFORM, cls, status);
  if (status === 429 || error === 'rate_limit_exceeded') return make({ kind: 'rate_limited', retryAfterMs: retryAfter ?? DEFAULT_RETRY_AFTER_MS, message, code: error });
  if (status >= 500) return make({ kind: 'retryable', message, code: error });
  // Revoked, expired (unused 6 months, 7-day "Testing" apps), or a used/expired code.
  if (error === 'invalid_grant') return make({ kind: 'reauth', message, code: error });
  // invalid_client, unauthorized_client, redirect_uri_mismatch, invalid_request: configuration.
  return make({ kind: 'permanent', message, code: error });
}

const permanent = (message: string, code?: string) => new PlatformError(PLATFORM, { kind: 'permanent', message, code });

/** `<id@host>` whether or not the angle brackets were given. */
const bracket = (id: string) => `<${id.trim().replace(/^<|>$/g, '')}>`;

// ---- helpers ------------------------------------------------------------------------------------

const send = (url: string, init: RequestInit) => fetchPlatform(PLATFORM, 'Google', url, init, TIMEOUT_MS);
const readJson = (res: Response) => readJsonObject<Json>(res);

function headerOf(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const value = (headers as Record<string, unknown>)[name] ?? (headers as Record<string, unknown>)[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
}

/** Retry-After in seconds or as an HTTP date. */
function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function expiresAt(expiresIn: unknown): number {
  return Date.now() + Number(expiresIn) * 1000;
}

/** History ids are uint64 decimal strings: compare as BigInt. */
function maxHistoryId(...ids: (string | undefined)[]): string {
  return ids.filter((id): id is string => !!id && /^\d+$/.test(id)).reduce((a, b) => (BigInt(b) > BigInt(a) ? b : a));
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

function parseCursor(cursor: SyncCursor | null): GmailCursor {
  const s = (v: unknown) => (typeof v === 'string' && v ? v : null);
  if (!cursor) return { phase: 'backfill', historyId: null, pageToken: null, resyncRequired: false };
  const historyId = s(cursor.historyId);
  // An incremental cursor without a historyId cannot be continued: start the walk over.
  const phase = cursor.phase === 'backfill' || !historyId ? 'backfill' : 'incremental';
  return { phase, historyId, pageToken: s(cursor.pageToken), resyncRequired: cursor.resyncRequired === true };
}

const toCursor = (c: GmailCursor): SyncCursor => ({ ...c });
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
const mask = (v: string) => `…${v.slice(-4)}`;
