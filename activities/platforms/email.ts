// Any IMAP/SMTP mailbox (platform `email`): the user gives host/port/login for both; we read
// INBOX and the Sent folder over IMAP (imapflow), parse with mailparser, and validate SMTP with
// nodemailer so sending works later. No OAuth, nothing to refresh or revoke.
//
// Choices worth knowing (see /work/shared/platforms/email.md):
// - Message externalId = the Message-ID header (angle brackets kept). It is the same in INBOX and
//   Sent and survives a UIDVALIDITY change, so a resync or a copy in two folders never duplicates
//   a message. Only a mail without a Message-ID falls back to `<folder>:<UIDVALIDITY>:<UID>`.
// - Conversation externalId = the thread's root Message-ID: the first id in References, else
//   In-Reply-To, else the message's own Message-ID. Computed per message from its own headers, so
//   it is stable across pages and syncs. A reply without threading headers ("Re: …" but no
//   References/In-Reply-To) joins the earliest mail in INBOX/Sent with the same normalized subject
//   and the same customer (subject fallback).
// - Cursor (flat, JSON-safe): per folder slot (inbox, sent) its path, UIDVALIDITY (string: it is a
//   bigint) and the last UID returned. A changed UIDVALIDITY (or a renamed Sent folder) resets that
//   folder's last UID to 0: a full resync of that folder, harmless because message ids are
//   Message-IDs. Backfill and incremental walk the same UID order; incremental with no cursor
//   anchors at the current UIDNEXT and returns nothing (history is backfill's job).
// - Mailboxes are opened read-only (EXAMINE) and bodies fetched with BODY.PEEK: syncing never
//   marks mail as read, and the same cursor always gives the same page.
import { createHash } from 'node:crypto';
import { ImapFlow, type ImapFlowOptions, type ListResponse } from 'imapflow';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { z } from 'zod';
import type { PlatformConfig } from '../../lib/platform-config';
import { fetchMedia } from './media';
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
  type SendResult,
  type SyncCursor,
  type SyncPage,
} from './types';

export interface EmailAdapterOptions {
  /** Messages per page across INBOX and Sent (default 50). */
  pageSize?: number;
  /** ms; IMAP/SMTP connect, greeting and socket inactivity limits. */
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

const serverSchema = z.object({
  host: z.string().trim().min(1),
  port: z.coerce.number().int().min(1).max(65535),
  secure: z.boolean().optional(),
  user: z.string().min(1),
  password: z.string().min(1),
});
const connectSchema = z.object({ address: z.string().trim().email(), imap: serverSchema, smtp: serverSchema });

interface Server { host: string; port: number; secure: boolean; user: string; password: string }

/** Common names of the Sent folder when the server advertises no SPECIAL-USE \Sent. */
const SENT_NAMES = ['sent', 'sent items', 'sent mail', 'sent messages', '[gmail]/sent mail', 'inbox.sent', 'inbox/sent', 'gesendet', 'envoyés', 'enviados'];
const SLOTS = ['inbox', 'sent'] as const;
type Slot = (typeof SLOTS)[number];

/** Network failures worth retrying (Node, imapflow and nodemailer codes). */
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ECONNABORTED',
  'ETIMEOUT', 'NoConnection', 'EConnectionClosed', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS',
  'ECONNECTION', 'ESOCKET',
]);

/** Attachment size we accept (the common provider limit; servers may advertise less in SIZE). */
const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;
/** SMTP 4xx replies that mean "slow down" rather than "try again". */
const SMTP_THROTTLE = /rate limit|too many|throttl|exceeded|slow down|4\.7\.0|4\.7\.28/i;
const SMTP_THROTTLE_RETRY_MS = 60_000;

interface FetchedMail { slot: Slot; folder: string; uidValidity: string; uid: number; internalDate?: number; mail: ParsedMail }

export class EmailAdapter implements ChannelAdapter {
  readonly platform = 'email' as const;
  readonly usesOAuth = false;
  private readonly pageSize: number;

  // The config has no email hosts (every mailbox brings its own servers); it says where media may be fetched from.
  constructor(private readonly config: PlatformConfig, private readonly options: EmailAdapterOptions = {}) {
    this.pageSize = Math.max(1, options.pageSize ?? 50);
  }

  capabilities(): Capability[] {
    return ['read', 'history', 'send', 'send_media', 'mark_read'];
  }

  async connectWithCredentials(input: Record<string, unknown>): Promise<ConnectResult> {
    const parsed = connectSchema.safeParse(input);
    if (!parsed.success) {
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(input)'))].join(', ');
      throw this.error({ kind: 'permanent', message: `invalid email settings: check ${fields}`, code: 'invalid_input' });
    }
    const { address, imap, smtp } = parsed.data;
    const credentials: Credentials = {
      address: address.toLowerCase(),
      imapHost: imap.host, imapPort: imap.port, imapSecure: imap.secure ?? imap.port === 993, imapUser: imap.user, imapPassword: imap.password,
      smtpHost: smtp.host, smtpPort: smtp.port, smtpSecure: smtp.secure ?? smtp.port === 465, smtpUser: smtp.user, smtpPassword: smtp.password,
    };
    const servers = serversOf(credentials);

    // IMAP: LOGIN and open INBOX read-only.
    try {
      await this.withImap(servers.imap, async (client) => {
        await client.mailboxOpen('INBOX', { readOnly: true });
      });
    } catch (err) {
      throw this.connectFailure('IMAP', servers.imap, err);
    }
    // SMTP: connect and AUTH (GreenMail and many relays accept mail without AUTH, so verify with it).
    try {
      await this.verifySmtp(servers.smtp);
    } catch (err) {
      throw this.connectFailure('SMTP', servers.smtp, err);
    }

    const id = String(credentials.address);
    return {
      account: { id, name: id, handle: id },
      credentials,
      credentialHints: {
        address: id,
        imap: `${imap.host}:${imap.port}${credentials.imapSecure ? ' (TLS)' : ''}`,
        imapUser: imap.user,
        smtp: `${smtp.host}:${smtp.port}${credentials.smtpSecure ? ' (TLS)' : ''}`,
        smtpUser: smtp.user,
      },
    };
  }

  async refresh(): Promise<null> {
    return null; // passwords do not expire on a schedule we can see
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const { imap } = serversOf(credentials);
    try {
      await this.withImap(imap, (client) => client.noop());
    } catch (err) {
      throw this.wrap(err, imap, 'IMAP');
    }
    return account;
  }

  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const { credentials, account, cursor, mode } = input;
    const { imap } = serversOf(credentials);
    const self = (account.id || String(credentials.address ?? '')).toLowerCase();
    try {
      return await this.withImap(imap, async (client) => {
        const folders: Record<Slot, string | null> = { inbox: 'INBOX', sent: findSentFolder(await client.list()) };
        const next: SyncCursor = { v: 1 };
        const pending: Array<{ slot: Slot; folder: string; uidValidity: string; uids: number[] }> = [];

        for (const slot of SLOTS) {
          const folder = folders[slot];
          next[`${slot}Path`] = folder;
          next[`${slot}UidValidity`] = null;
          next[`${slot}LastUid`] = 0;
          if (!folder) continue;
          const box = await client.mailboxOpen(folder, { readOnly: true });
          const uidValidity = box.uidValidity.toString();
          next[`${slot}UidValidity`] = uidValidity;
          if (!cursor && mode === 'incremental') {
            next[`${slot}LastUid`] = Math.max(0, box.uidNext - 1); // start from now
            continue;
          }
          // Same folder, same UIDVALIDITY: go on from the last UID; otherwise resync the folder.
          const same = cursor && cursor[`${slot}Path`] === folder && cursor[`${slot}UidValidity`] === uidValidity;
          const lastUid = same ? Number(cursor[`${slot}LastUid`] ?? 0) : 0;
          next[`${slot}LastUid`] = lastUid;
          if (box.exists === 0 || box.uidNext - 1 <= lastUid) continue; // UIDNEXT unchanged: nothing new
          // `n:*` always matches the newest message even below n: keep UIDs above lastUid only.
          const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
          const uids = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
          if (uids.length) pending.push({ slot, folder, uidValidity, uids });
        }

        // Share the page between the folders so a thread's both sides arrive close in time.
        const budget = allocate(pending.map((p) => p.uids.length), this.pageSize);
        const fetched: FetchedMail[] = [];
        let done = true;
        for (const [i, p] of pending.entries()) {
          const take = p.uids.slice(0, budget[i]);
          if (take.length < p.uids.length) done = false;
          if (!take.length) continue;
          await client.mailboxOpen(p.folder, { readOnly: true });
          const raw: Array<{ uid: number; source: Buffer; internalDate?: number }> = [];
          for await (const msg of client.fetch(take.join(','), { uid: true, source: true, internalDate: true }, { uid: true })) {
            if (!msg.source) continue;
            raw.push({ uid: msg.uid, source: msg.source, internalDate: msg.internalDate ? new Date(msg.internalDate).getTime() : undefined });
          }
          for (const r of raw) {
            fetched.push({ slot: p.slot, folder: p.folder, uidValidity: p.uidValidity, uid: r.uid, internalDate: r.internalDate, mail: await parseMail(r.source) });
          }
          next[`${p.slot}LastUid`] = take.at(-1)!;
        }

        const conversations = await this.normalize(client, fetched, folders, self);
        return { conversations, cursor: next, done };
      });
    } catch (err) {
      throw this.wrap(err, imap, 'IMAP');
    }
  }

  // -- send ----------------------------------------------------------------------------------

  /**
   * SMTP submission (nodemailer) to the participant, with a Message-ID we generate — the
   * externalId, since sync keys email messages by Message-ID — then an IMAP APPEND of the very same
   * bytes to the Sent folder (\Seen), because SMTP does not store a copy and sync reads outbound
   * mail from Sent. The APPEND is best effort: the mail is already sent, so its failure must not
   * make the caller retry (and send twice); the next sync simply will not see the copy.
   * Threading: In-Reply-To = `inReplyTo`; References = the conversation's root Message-ID and the
   * parent (the notes' trimmed form, first and last ids kept), so sync maps it to the same root.
   * Media by URL is fetched and attached. No templates, no reply window.
   */
  async send({ credentials, account, message }: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult> {
    if (message.template) throw this.error({ kind: 'permanent', message: 'email has no message templates', code: 'unsupported' });
    const to = message.to.externalId.trim().toLowerCase();
    if (!EMAIL_ADDRESS.test(to)) throw this.error({ kind: 'permanent', message: 'the recipient is not a valid email address', code: 'invalid_recipient' });
    const text = message.text ?? message.media?.caption ?? '';
    if (!text && !message.media) throw this.error({ kind: 'permanent', message: 'nothing to send: no text and no media', code: 'empty_message' });
    const { imap, smtp } = serversOf(credentials);
    if (!smtp.host || !smtp.port) throw this.error({ kind: 'permanent', message: 'stored email credentials lack the SMTP server', code: 'invalid_credentials' });
    const from = (account.id || String(credentials.address ?? '')).toLowerCase();

    const inReplyTo = message.inReplyTo ? bracket(message.inReplyTo) : undefined;
    const root = /^<[^<>\s]+@[^<>\s]+>$/.test(message.conversationExternalId ?? '') ? message.conversationExternalId : undefined;
    const references = [...new Set([root, inReplyTo].filter((x): x is string => !!x))];
    let subject = message.subject ?? '';
    if ((inReplyTo || root) && subject && !isReply(subject)) subject = `Re: ${subject}`;

    // The same reply always gets the same Message-ID: a send repeated after a lost SMTP answer is
    // then the same mail to the receiving server (and to our sync, which keys mail by it).
    const messageId = `<${createHash('sha256').update(message.clientRef).digest('hex').slice(0, 32)}@${from.split('@')[1] || 'switchboard.local'}>`;
    const date = new Date();
    const attachments = message.media ? [await fetchMedia('email', message.media, { maxBytes: MAX_ATTACHMENT_BYTES, limit: '25 MB', timeoutMs: this.options.socketTimeoutMs ?? 60_000, policy: this.config.tenantNetwork })] : [];
    const raw = await new MailComposer({
      from, to, subject, text, date, messageId,
      inReplyTo, references: references.length ? references : undefined,
      attachments, disableFileAccess: true, disableUrlAccess: true,
    }).compile().build();

    await this.assertAllowed(smtp, 'SMTP');
    const transport = createTransport({
      host: smtp.host, port: smtp.port, secure: smtp.secure,
      auth: smtp.user ? { user: smtp.user, pass: smtp.password } : undefined,
      connectionTimeout: this.options.connectionTimeoutMs ?? 15_000,
      greetingTimeout: this.options.greetingTimeoutMs ?? 10_000,
      socketTimeout: this.options.socketTimeoutMs ?? 60_000,
    });
    try {
      const info = await transport.sendMail({ envelope: { from, to: [to] }, raw });
      if (info.rejected.length) throw this.error({ kind: 'permanent', message: 'the SMTP server rejected the recipient', code: 'invalid_recipient' });
    } catch (err) {
      throw this.wrap(err, smtp, 'SMTP');
    } finally {
      transport.close();
    }

    // The copy in Sent (best effort, see above).
    await this.withImap(imap, async (client) => {
      const sent = findSentFolder(await client.list());
      if (sent) await client.append(sent, raw, ['\\Seen'], date);
    }).catch(() => undefined);
    return { externalId: messageId, timestamp: date.getTime() };
  }

  /**
   * Sets `\Seen` on the inbound mails the agent read: INBOX opened read-write, the mails found by
   * their Message-ID header (our externalIds), flags added by UID. Mails no longer there are skipped.
   */
  async markRead({ credentials, read }: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void> {
    const ids = read.messageIds.filter((id) => /^<[^<>\s]+>$/.test(id));
    // Mail without a Message-ID is known by `INBOX:<UIDVALIDITY>:<UID>` (see the file comment).
    const byUid = read.messageIds.map((id) => /^INBOX:(\d+):(\d+)$/.exec(id)).filter((m): m is RegExpExecArray => !!m);
    if (!ids.length && !byUid.length) return;
    const { imap } = serversOf(credentials);
    try {
      await this.withImap(imap, async (client) => {
        const box = await client.mailboxOpen('INBOX');
        const uids = byUid.filter((m) => m[1] === box.uidValidity.toString()).map((m) => Number(m[2]));
        if (ids.length) {
          const byId = ids.map((id) => ({ header: { 'message-id': id } }));
          const found = await client.search(byId.length === 1 ? { seen: false, ...byId[0]! } : { seen: false, or: byId }, { uid: true });
          if (found) uids.push(...found);
        }
        if (uids.length) await client.messageFlagsAdd([...new Set(uids)].join(','), ['\\Seen'], { uid: true });
      });
    } catch (err) {
      throw this.wrap(err, imap, 'IMAP');
    }
  }

  classify(err: unknown): ErrorClass {
    if (err instanceof PlatformError) return err.classification;
    const e = (err ?? {}) as Record<string, unknown>;
    const code = typeof e.code === 'string' ? e.code : undefined;
    const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    const serverCode = typeof e.serverResponseCode === 'string' ? e.serverResponseCode.toUpperCase() : undefined;
    const message = safeText(e.message);

    if (code === 'ETHROTTLE') {
      const wait = Number(e.throttleReset);
      return { kind: 'rate_limited', retryAfterMs: Number.isFinite(wait) && wait > 0 ? wait : 60_000, message: 'IMAP server throttles requests', code };
    }
    // RFC 5530 response codes: temporary server states, not bad credentials.
    if (serverCode === 'UNAVAILABLE' || serverCode === 'INUSE') return { kind: 'retryable', message: `IMAP server temporarily unavailable (${serverCode})`, code: serverCode };
    if (serverCode === 'LIMIT') return { kind: 'rate_limited', retryAfterMs: 60_000, message: 'IMAP server limit reached', code: serverCode };
    if (e.authenticationFailed === true) return { kind: 'reauth', message: 'IMAP login rejected: check the user name and password', code: 'imap_auth_failed' };
    if (code === 'EAUTH') {
      if (responseCode !== undefined && responseCode >= 400 && responseCode < 500) return { kind: 'retryable', message: `SMTP authentication temporarily unavailable (${responseCode})`, code };
      return { kind: 'reauth', message: `SMTP login rejected${responseCode ? ` (${responseCode})` : ''}: check the user name and password`, code: 'smtp_auth_failed' };
    }
    if (code === 'ENOAUTH') return { kind: 'permanent', message: 'SMTP credentials missing', code };
    if (code && RETRYABLE_CODES.has(code)) return { kind: 'retryable', message: message || `connection failed (${code})`, code };
    if (responseCode !== undefined && responseCode >= 400 && responseCode < 500) {
      // A throttling reply (421/450/451 4.7.x "rate limit", "too many …"): wait before retrying.
      if (SMTP_THROTTLE.test(typeof e.response === 'string' ? e.response : '')) {
        return { kind: 'rate_limited', retryAfterMs: SMTP_THROTTLE_RETRY_MS, message: `SMTP server is throttling (${responseCode})`, code: String(responseCode) };
      }
      return { kind: 'retryable', message: `SMTP server answered ${responseCode}`, code: String(responseCode) };
    }
    if (responseCode !== undefined && responseCode >= 500) return { kind: 'permanent', message: `SMTP server answered ${responseCode}`, code: String(responseCode) };
    if (/\btimed? ?out\b/i.test(message)) return { kind: 'retryable', message, code };
    return { kind: 'permanent', message: message || 'email request failed', code };
  }

  // -- connections ---------------------------------------------------------------------------

  /**
   * Mail servers are the tenant's choice: one on a private network (the operator's own, a cloud
   * metadata address) is refused before connecting, unless PRIVATE_NETWORK_ALLOWLIST lists it.
   */
  private async assertAllowed(server: Server, protocol: 'IMAP' | 'SMTP'): Promise<void> {
    const refused = await this.config.tenantNetwork.checkHost(server.host);
    if (refused) throw this.error({ kind: 'permanent', message: `${protocol} server not allowed: ${refused}; mail servers must be on the public internet`, code: 'host_not_allowed' });
  }

  /** One IMAP session for `fn`, always logged out (or its socket closed) afterwards. */
  private async withImap<T>(server: Server, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
    await this.assertAllowed(server, 'IMAP');
    const options: ImapFlowOptions = {
      host: server.host, port: server.port, secure: server.secure,
      auth: { user: server.user, pass: server.password },
      logger: false, disableAutoIdle: true,
      connectionTimeout: this.options.connectionTimeoutMs ?? 15_000,
      greetingTimeout: this.options.greetingTimeoutMs ?? 10_000,
      socketTimeout: this.options.socketTimeoutMs ?? 60_000,
    };
    const client = new ImapFlow(options);
    let lastError: unknown;
    client.on('error', (err) => { lastError = err; }); // socket errors surface via the pending command too
    try {
      await client.connect();
      return await fn(client);
    } catch (err) {
      throw err ?? lastError;
    } finally {
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    }
  }

  private async verifySmtp(server: Server): Promise<void> {
    await this.assertAllowed(server, 'SMTP');
    const transport = createTransport({
      host: server.host, port: server.port, secure: server.secure,
      auth: { user: server.user, pass: server.password },
      connectionTimeout: this.options.connectionTimeoutMs ?? 15_000,
      greetingTimeout: this.options.greetingTimeoutMs ?? 10_000,
      socketTimeout: this.options.socketTimeoutMs ?? 60_000,
    });
    try {
      await transport.verify();
    } finally {
      transport.close();
    }
  }

  // -- errors --------------------------------------------------------------------------------

  private error(classification: ErrorClass, status?: number): PlatformError {
    return new PlatformError(this.platform, classification, status);
  }

  /** A failure while connecting: bad credentials are the user's to fix (permanent), naming which server. */
  private connectFailure(protocol: 'IMAP' | 'SMTP', server: Server, err: unknown): PlatformError {
    if (err instanceof PlatformError && err.classification.code === 'host_not_allowed') return err;
    const c = this.classify(err);
    const where = `${protocol} ${server.host}:${server.port}`;
    if (c.kind === 'reauth') {
      return this.error({ kind: 'permanent', message: `${protocol} login failed for ${server.user} at ${server.host}:${server.port}: wrong user name or password`, code: protocol === 'IMAP' ? 'imap_auth_failed' : 'smtp_auth_failed' });
    }
    return this.error({ ...c, message: scrub(`${where}: ${c.message}`, server) });
  }

  private wrap(err: unknown, server: Server, protocol: 'IMAP' | 'SMTP'): PlatformError {
    if (err instanceof PlatformError) return err;
    const c = this.classify(err);
    return this.error({ ...c, message: scrub(`${protocol} ${server.host}:${server.port}: ${c.message}`, server) });
  }

  // -- normalization -------------------------------------------------------------------------

  private async normalize(client: ImapFlow, fetched: FetchedMail[], folders: Record<Slot, string | null>, self: string): Promise<NormalizedConversation[]> {
    const byConversation = new Map<string, { participant: string; participantName?: string; subject?: string; first: number; messages: Map<string, NormalizedMessage> }>();
    for (const f of fetched) {
      const { mail } = f;
      const from = addresses(mail.from)[0];
      const fromAddress = from?.address ?? '';
      const outbound = fromAddress === self || f.slot === 'sent';
      const customer = outbound ? [...addresses(mail.to), ...addresses(mail.cc)].find((a) => a.address !== self) : from;
      const customerAddress = customer?.address ?? (outbound ? '' : fromAddress);
      const timestamp = mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.getTime() : (f.internalDate ?? 0);
      const conversationId = await this.rootOf(client, mail, customerAddress, folders, self);

      const message: NormalizedMessage = {
        externalId: mail.messageId || `${f.folder}:${f.uidValidity}:${f.uid}`,
        direction: outbound ? 'outbound' : 'inbound',
        sender: outbound ? { externalId: self, name: from?.name || undefined } : { externalId: fromAddress, name: from?.name || undefined },
        text: mail.text?.trimEnd() || undefined,
        timestamp,
      };
      const attachments = mail.attachments.map((a, i): NormalizedAttachment => ({
        type: attachmentType(a.contentType),
        mimeType: a.contentType,
        name: a.filename,
        size: a.size,
        // Where to download it from: folder, UIDVALIDITY, UID and the attachment's position.
        platformMediaId: `${f.folder}:${f.uidValidity}:${f.uid}:${i}`,
      }));
      if (attachments.length) message.attachments = attachments;

      let conv = byConversation.get(conversationId);
      if (!conv) {
        conv = { participant: customerAddress, participantName: outbound ? customer?.name : from?.name, subject: baseSubject(mail.subject), first: timestamp, messages: new Map() };
        byConversation.set(conversationId, conv);
      } else if (timestamp < conv.first && customerAddress) {
        Object.assign(conv, { participant: customerAddress, participantName: outbound ? customer?.name : from?.name, subject: baseSubject(mail.subject) ?? conv.subject, first: timestamp });
      }
      // The same Message-ID in INBOX and Sent (mail to oneself, Bcc to self) is one message.
      if (!conv.messages.has(message.externalId)) conv.messages.set(message.externalId, message);
    }
    return [...byConversation.entries()].map(([externalId, c]) => ({
      externalId,
      participant: { externalId: c.participant, handle: c.participant, name: c.participantName || undefined },
      subject: c.subject,
      messages: [...c.messages.values()].sort((a, b) => a.timestamp - b.timestamp),
    }));
  }

  /** The thread's root Message-ID (see the header comment), with the subject fallback. */
  private async rootOf(client: ImapFlow, mail: ParsedMail, customer: string, folders: Record<Slot, string | null>, self: string): Promise<string> {
    const refs = messageIds(mail.references);
    if (refs[0]) return refs[0];
    const parent = messageIds(mail.inReplyTo)[0];
    if (parent) return parent;
    const subject = mail.subject ?? '';
    if (isReply(subject) && customer) {
      const earliest = await this.earliestWithSubject(client, baseSubject(subject) ?? '', customer, folders, self);
      if (earliest) return earliest;
    }
    return mail.messageId || subjectKey(subject, customer);
  }

  /** Root of the earliest mail in INBOX/Sent with this normalized subject, to or from the customer. */
  private async earliestWithSubject(client: ImapFlow, subject: string, customer: string, folders: Record<Slot, string | null>, self: string): Promise<string | undefined> {
    if (!subject) return undefined;
    let best: { at: number; root: string } | undefined;
    for (const slot of SLOTS) {
      const folder = folders[slot];
      if (!folder) continue;
      await client.mailboxOpen(folder, { readOnly: true });
      const uids = await client.search({ subject, or: [{ from: customer }, { to: customer }] }, { uid: true });
      if (!uids || !uids.length) continue;
      for await (const msg of client.fetch(uids.join(','), { uid: true, envelope: true, internalDate: true, headers: ['references'] }, { uid: true })) {
        const env = msg.envelope;
        if (!env || baseSubject(env.subject) !== subject) continue;
        const involved = [...(env.from ?? []), ...(env.to ?? []), ...(env.cc ?? [])].some((a) => a.address?.toLowerCase() === customer);
        if (!involved) continue;
        const at = env.date?.getTime() ?? (msg.internalDate ? new Date(msg.internalDate).getTime() : Infinity);
        const refs = messageIds(/references:\s*([\s\S]*)/i.exec(msg.headers?.toString('utf8') ?? '')?.[1]);
        const fromSelf = env.from?.some((a) => a.address?.toLowerCase() === self);
        const root = refs[0] ?? messageIds(env.inReplyTo)[0] ?? env.messageId ?? subjectKey(env.subject ?? '', customer);
        // Ties (same Date): prefer the customer's mail, then the smaller id, so the answer is stable.
        if (!best || at < best.at || (at === best.at && !fromSelf && root < best.root)) best = { at, root };
      }
    }
    return best?.root;
  }
}

// -- helpers ---------------------------------------------------------------------------------

function serversOf(c: Credentials): { imap: Server; smtp: Server } {
  const server = (p: 'imap' | 'smtp'): Server => ({
    host: String(c[`${p}Host`] ?? ''),
    port: Number(c[`${p}Port`] ?? 0),
    secure: c[`${p}Secure`] === true,
    user: String(c[`${p}User`] ?? ''),
    password: String(c[`${p}Password`] ?? ''),
  });
  const imap = server('imap');
  const smtp = server('smtp');
  if (!imap.host || !imap.port || !imap.user || !imap.password) {
    throw new PlatformError('email', { kind: 'permanent', message: 'stored email credentials are incomplete (IMAP host, port, user or password missing)', code: 'invalid_credentials' });
  }
  return { imap, smtp };
}

/** SPECIAL-USE \Sent when advertised (imapflow also tags common names), else a known name. */
function findSentFolder(list: ListResponse[]): string | null {
  const selectable = list.filter((f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'));
  const advertised = selectable.find((f) => f.specialUse === '\\Sent');
  if (advertised) return advertised.path;
  for (const name of SENT_NAMES) {
    const hit = selectable.find((f) => f.path.toLowerCase() === name || f.name.toLowerCase() === name);
    if (hit) return hit.path;
  }
  return null;
}

/** Splits `size` messages between folders with `wants` pending, unused shares going to the others. */
function allocate(wants: number[], size: number): number[] {
  const out = wants.map(() => 0);
  let left = size;
  let open = wants.map((_, i) => i).filter((i) => wants[i]! > 0);
  while (left > 0 && open.length) {
    const share = Math.max(1, Math.floor(left / open.length));
    for (const i of open) {
      const add = Math.min(share, wants[i]! - out[i]!, left);
      out[i]! += add;
      left -= add;
    }
    open = open.filter((i) => out[i]! < wants[i]!);
  }
  return out;
}

function addresses(field: AddressObject | AddressObject[] | undefined): Array<{ address: string; name?: string }> {
  const out: Array<{ address: string; name?: string }> = [];
  const walk = (list: Array<{ address?: string; name: string; group?: unknown[] }>) => {
    for (const a of list) {
      if (a.group) walk(a.group as typeof list);
      else if (a.address) out.push({ address: a.address.toLowerCase(), name: a.name || undefined });
    }
  };
  for (const obj of Array.isArray(field) ? field : field ? [field] : []) walk(obj.value);
  return out;
}

/** `<a@x> <b@y>` (or an array of them) → ['<a@x>', '<b@y>']. */
function messageIds(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(' ') : (value ?? '');
  return text.match(/<[^<>\s]+>/g) ?? [];
}

const REPLY_PREFIX = /^\s*((re|fwd?|aw|wg|sv|vs|tr|rif|antw)(\[\d+\])?\s*:\s*)+/i;
function isReply(subject: string): boolean {
  return REPLY_PREFIX.test(subject);
}
/** Subject without Re:/Fwd: prefixes (stacked too) and extra whitespace. */
function baseSubject(subject: string | undefined): string | undefined {
  const s = (subject ?? '').replace(REPLY_PREFIX, '').replace(/\s+/g, ' ').trim();
  return s || undefined;
}
/** A conversation id for mail with no Message-ID at all: customer + normalized subject. */
function subjectKey(subject: string, customer: string): string {
  return `subject:${createHash('sha256').update(`${customer}\n${(baseSubject(subject) ?? '').toLowerCase()}`).digest('hex').slice(0, 32)}`;
}

/** mailparser is lenient; should it still fail, keep the message (empty) rather than block the sync on it. */
async function parseMail(source: Buffer): Promise<ParsedMail> {
  try {
    return await simpleParser(source);
  } catch {
    return { attachments: [], headers: new Map(), headerLines: [], html: false, text: '(this message could not be parsed)' };
  }
}

function attachmentType(contentType: string): NormalizedAttachment['type'] {
  const major = contentType.split('/')[0]?.toLowerCase();
  return major === 'image' ? 'image' : major === 'video' ? 'video' : major === 'audio' ? 'audio' : 'file';
}

const EMAIL_ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

/** `<id@host>` whether or not the angle brackets were given. */
const bracket = (id: string) => `<${id.trim().replace(/^<|>$/g, '')}>`;

function safeText(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\s+/g, ' ').trim().slice(0, 300) : '';
}

/** Belt and braces: a server may echo what it got; never let a password through. */
function scrub(text: string, server: Server): string {
  return server.password ? text.split(server.password).join('***') : text;
}
