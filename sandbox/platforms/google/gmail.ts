// Gmail API v1 under /gmail.googleapis.com/gmail/v1/users/{userId}/… (plus the media-upload send
// under /gmail.googleapis.com/upload/…): bearer auth, scopes, per-user quota units, and Google's
// error JSON for every failure.
import { Hono, type Context } from 'hono';
import { route, type FaultRenderer } from '../../core/context';
import type { IssuedToken } from '../../core/tokens';
import { Mailbox, SYSTEM_LABELS, type MessageFormat, type StoredMessage } from './mailbox';
import { addresses, headerValue, MimeError, parseMime, textOf } from './mime';
import { faultStatus, GMAIL_SCOPES as S, googleError, PLATFORM, statusName, type GoogleWorld } from './world';

const API = '/gmail/v1/users/:userId';
const UPLOAD = '/upload/gmail/v1/users/:userId';
const MAX_UPLOAD_BYTES = 35 * 1024 * 1024;

// Which scopes allow what (any one of the list suffices).
const READ = [S.full, S.modify, S.readonly];
const READ_METADATA = [...READ, S.metadata];
const SEND = [S.full, S.modify, S.compose, S.send];
const MODIFY = [S.full, S.modify];
const LABELS = [...READ_METADATA, S.labels];

interface Call { mailbox: Mailbox; token: IssuedToken }
type Handler = (c: Context, rawBody: string, call: Call) => Response | Promise<Response>;

/**
 * Mounted under /gmail.googleapis.com and also at the root: googleapis-common resolves its
 * absolute request paths against a global `rootUrl`, which drops any path prefix, so the official
 * client configured with rootUrl `{sandbox}/gmail.googleapis.com/` calls `{sandbox}/gmail/v1/…`.
 * `/gmail/v1` and `/upload/gmail/v1` belong to no other platform.
 */
export function registerGmailRoutes(parent: Hono, world: GoogleWorld): void {
  const app = new Hono();
  buildGmailRoutes(app, world);
  parent.route('/gmail.googleapis.com', app);
  parent.route('/', app);
}

function buildGmailRoutes(app: Hono, world: GoogleWorld): void {
  const { ctx } = world;
  const notFound = (c: Context) => googleError(c, 404, 'Requested entity was not found.', 'notFound', 'NOT_FOUND');
  const invalid = (c: Context, message: string) => googleError(c, 400, message, 'invalidArgument', 'INVALID_ARGUMENT');

  const renderFault: FaultRenderer = (c, d) => {
    if (d.kind === 'rate_limit') {
      c.header('Retry-After', String(d.retryAfterSeconds));
      return googleError(c, 429, 'Resource has been exhausted (e.g. check quota).', 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'usageLimits');
    }
    const code = faultStatus(d);
    if (code === 403) return googleError(c, 403, 'User-rate limit exceeded.', 'userRateLimitExceeded', 'PERMISSION_DENIED', 'usageLimits');
    if (code === 429) return googleError(c, 429, 'Too many concurrent requests for user.', 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'usageLimits');
    const reason = code >= 500 ? 'backendError' : ({ 400: 'badRequest', 401: 'authError', 404: 'notFound' } as Record<number, string>)[code] ?? 'failedPrecondition';
    return googleError(c, code, code >= 500 ? 'Backend Error' : 'Injected error', reason, statusName(code));
  };

  /** One Gmail method: bearer token, userId (me or the owner), scope, quota units, then the handler. */
  const method = (name: string, units: number, scopes: readonly string[], handler: Handler) =>
    route(ctx, { platform: PLATFORM, name, renderFault }, (c, rawBody) => {
      const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
      const token = ctx.tokens.get(bearer);
      if (!token || token.platform !== PLATFORM || token.kind !== 'access' || ctx.tokens.state(token) !== 'valid') {
        c.header('WWW-Authenticate', 'Bearer realm="https://accounts.google.com/", error="invalid_token"');
        return googleError(c, 401,
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
          'authError', 'UNAUTHENTICATED', 'global', { location: 'Authorization', locationType: 'header' });
      }
      const mailbox = world.mailbox(token.subject);
      const userId = decodeURIComponent(c.req.param('userId') ?? '');
      if (!mailbox) return notFound(c);
      if (userId !== 'me' && userId.toLowerCase() !== mailbox.email) return googleError(c, 403, `Delegation denied for ${mailbox.email}`, 'forbidden', 'PERMISSION_DENIED');
      if (!scopes.some((s) => token.scopes.includes(s))) {
        return googleError(c, 403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'PERMISSION_DENIED');
      }
      const waitSeconds = mailbox.charge(units, world.options.quotaUnitsPerUserPerMinute);
      if (waitSeconds !== null) {
        c.header('Retry-After', String(waitSeconds));
        const message = `Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:${token.app?.split('-')[0] ?? '0'}'.`;
        return googleError(c, 429, message, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'usageLimits');
      }
      return handler(c, rawBody, { mailbox, token });
    });

  const queryAll = (c: Context, name: string) => new URL(c.req.url).searchParams.getAll(name);
  const maxResults = (c: Context, fallback: number) => Math.min(500, Math.max(1, Number(c.req.query('maxResults') ?? fallback) || fallback));
  const paginate = <T>(c: Context, items: T[], size: number): { items: T[]; nextPageToken?: string } | Response => {
    const token = c.req.query('pageToken');
    const offset = token ? decodePageToken(token) : 0;
    if (offset === undefined) return invalid(c, 'Invalid pageToken');
    const slice = items.slice(offset, offset + size);
    return offset + size < items.length ? { items: slice, nextPageToken: encodePageToken(offset + size) } : { items: slice };
  };
  const parseFormat = (c: Context, allowed: MessageFormat[]): MessageFormat | Response => {
    const format = (c.req.query('format') ?? 'full').toLowerCase() as MessageFormat;
    return allowed.includes(format) ? format : invalid(c, `Invalid value at 'format', "${c.req.query('format')}"`);
  };
  /** The gmail.metadata scope only allows metadata/minimal views and no search query. */
  const metadataOnly = (token: IssuedToken) => !READ.some((s) => token.scopes.includes(s));
  const listFilter = (c: Context, call: Call): ((m: StoredMessage) => boolean) | Response => {
    const q = c.req.query('q');
    if (q && metadataOnly(call.token)) return googleError(c, 403, "Metadata scope does not support 'q' parameter", 'forbidden', 'PERMISSION_DENIED');
    const labelIds = queryAll(c, 'labelIds');
    const includeSpamTrash = c.req.query('includeSpamTrash') === 'true' || labelIds.some((l) => l === 'SPAM' || l === 'TRASH') || /\bin:(spam|trash|anywhere)\b/.test(q ?? '');
    const matchQuery = q ? compileQuery(q, ctx.now()) : () => true;
    return (m) => labelIds.every((l) => m.labelIds.includes(l)) && (includeSpamTrash || !m.labelIds.some((l) => l === 'SPAM' || l === 'TRASH')) && matchQuery(m);
  };
  const newestFirst = (a: StoredMessage, b: StoredMessage) => b.internalDate - a.internalDate;

  // ---- profile, labels -------------------------------------------------------------------------
  app.get(`${API}/profile`, method('profile', 1, LABELS, (c, _b, { mailbox }) =>
    c.json({ emailAddress: mailbox.email, messagesTotal: mailbox.messages.size, threadsTotal: mailbox.threads.size, historyId: String(mailbox.historyId) })));

  const labelResource = (mailbox: Mailbox, id: string, withCounts: boolean) => {
    const user = mailbox.userLabels.get(id);
    const base: Record<string, unknown> = user
      ? { id, name: user, type: 'user', messageListVisibility: 'show', labelListVisibility: 'labelShow' }
      : { id, name: id, type: 'system' };
    if (!withCounts) return base;
    const msgs = [...mailbox.messages.values()].filter((m) => m.labelIds.includes(id));
    const unread = msgs.filter((m) => m.labelIds.includes('UNREAD'));
    return { ...base, messagesTotal: msgs.length, messagesUnread: unread.length, threadsTotal: new Set(msgs.map((m) => m.threadId)).size, threadsUnread: new Set(unread.map((m) => m.threadId)).size };
  };
  app.get(`${API}/labels`, method('labels.list', 1, LABELS, (c, _b, { mailbox }) =>
    c.json({ labels: [...SYSTEM_LABELS, ...mailbox.userLabels.keys()].map((id) => labelResource(mailbox, id, false)) })));
  app.get(`${API}/labels/:id`, method('labels.get', 1, LABELS, (c, _b, { mailbox }) => {
    const id = c.req.param('id') ?? '';
    return SYSTEM_LABELS.includes(id) || mailbox.userLabels.has(id) ? c.json(labelResource(mailbox, id, true)) : notFound(c);
  }));

  // ---- messages --------------------------------------------------------------------------------
  app.get(`${API}/messages`, method('messages.list', 5, READ_METADATA, (c, _b, call) => {
    const filter = listFilter(c, call);
    if (filter instanceof Response) return filter;
    const all = [...call.mailbox.messages.values()].filter(filter).sort(newestFirst);
    const page = paginate(c, all, maxResults(c, 100));
    if (page instanceof Response) return page;
    // Gmail leaves out `messages` when there are none.
    return c.json({
      ...(page.items.length ? { messages: page.items.map((m) => ({ id: m.id, threadId: m.threadId })) } : {}),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      resultSizeEstimate: all.length,
    });
  }));

  app.get(`${API}/messages/:id`, method('messages.get', 5, READ_METADATA, (c, _b, { mailbox, token }) => {
    const format = parseFormat(c, ['full', 'metadata', 'minimal', 'raw']);
    if (format instanceof Response) return format;
    if (metadataOnly(token) && (format === 'full' || format === 'raw')) return googleError(c, 403, `Metadata scope doesn't allow format ${format.toUpperCase()}`, 'forbidden', 'PERMISSION_DENIED');
    const id = c.req.param('id') ?? '';
    if (!/^[0-9a-f]+$/i.test(id)) return invalid(c, 'Invalid id value');
    const message = mailbox.messages.get(id);
    return message ? c.json(mailbox.render(message, format, queryAll(c, 'metadataHeaders'))) : notFound(c);
  }));

  app.get(`${API}/messages/:id/attachments/:attachmentId`, method('attachments.get', 5, READ, (c, _b, { mailbox }) => {
    const message = mailbox.messages.get(c.req.param('id') ?? '');
    const attachmentId = c.req.param('attachmentId') ?? '';
    const data = message?.attachments.get(attachmentId);
    return data ? c.json({ attachmentId, size: data.length, data: data.toString('base64url') }) : notFound(c);
  }));

  app.post(`${API}/messages/:id/modify`, method('messages.modify', 5, MODIFY, (c, rawBody, { mailbox }) => {
    const body = parseJsonObject(rawBody);
    if (!body) return invalid(c, 'Invalid JSON payload received.');
    const message = mailbox.messages.get(c.req.param('id') ?? '');
    if (!message) return notFound(c);
    const add = Array.isArray(body.addLabelIds) ? body.addLabelIds.map(String) : [];
    const remove = Array.isArray(body.removeLabelIds) ? body.removeLabelIds.map(String) : [];
    const unknown = [...add, ...remove].find((l) => !SYSTEM_LABELS.includes(l) && !mailbox.userLabels.has(l));
    if (unknown) return invalid(c, `Invalid label: ${unknown}`);
    world.notify(mailbox, mailbox.modify(message, add, remove));
    return c.json({ id: message.id, threadId: message.threadId, labelIds: message.labelIds });
  }));

  // messages.batchModify: up to 1,000 ids, 50 units; ids Gmail does not have are ignored; 204 empty.
  app.post(`${API}/messages/batchModify`, method('messages.batchModify', 50, MODIFY, (c, rawBody, { mailbox }) => {
    const body = parseJsonObject(rawBody);
    if (!body) return invalid(c, 'Invalid JSON payload received.');
    if (body.ids !== undefined && !Array.isArray(body.ids)) return invalid(c, 'Invalid JSON payload received. Unknown name "ids": Proto field is not repeating, cannot start list.');
    const ids = Array.isArray(body.ids) ? body.ids.map(String) : [];
    if (ids.length === 0) return invalid(c, 'No message ids specified.');
    if (ids.length > 1000) return invalid(c, 'Number of ids cannot exceed 1000');
    if (ids.some((id) => !/^[0-9a-f]+$/i.test(id))) return invalid(c, 'Invalid id value');
    const add = Array.isArray(body.addLabelIds) ? body.addLabelIds.map(String) : [];
    const remove = Array.isArray(body.removeLabelIds) ? body.removeLabelIds.map(String) : [];
    if (add.length === 0 && remove.length === 0) return invalid(c, 'No label add or removes specified');
    const unknown = [...add, ...remove].find((l) => !SYSTEM_LABELS.includes(l) && !mailbox.userLabels.has(l));
    if (unknown) return invalid(c, `Invalid label: ${unknown}`);
    const records = ids.map((id) => mailbox.messages.get(id)).filter((m): m is StoredMessage => !!m).flatMap((m) => mailbox.modify(m, add, remove));
    world.notify(mailbox, records);
    return c.body(null, 204);
  }));

  /** messages.send (JSON raw or upload): From/Message-ID/Date filled in, threaded per Gmail's rules. */
  const send = (c: Context, mailbox: Mailbox, raw: string, threadId: unknown): Response => {
    let mime;
    try { mime = parseMime(raw); } catch (err) { if (err instanceof MimeError) return invalid(c, 'Invalid RFC 2822 message.'); throw err; }
    const headers = mime.headers;
    if (!/\S+:/.test(raw.split(/\r?\n/)[0] ?? '')) return invalid(c, 'Invalid RFC 2822 message: no header block.');
    const recipients = ['To', 'Cc', 'Bcc'].flatMap((h) => addresses(headerValue(headers, h)));
    if (recipients.length === 0) return invalid(c, 'Recipient address required');
    if (threadId !== undefined && (typeof threadId !== 'string' || !/^[0-9a-f]+$/i.test(threadId))) return invalid(c, 'Invalid thread_id value');
    if (typeof threadId === 'string' && !mailbox.threads.has(threadId)) return notFound(c);

    // Gmail sends as the authenticated user and assigns what the client left out.
    const added: string[] = [];
    if (!headerValue(headers, 'Message-ID')) added.push(`Message-ID: <CA+sbx${ctx.id('', 18).replace(/[-_]/g, 'x')}@mail.gmail.com>`);
    if (!headerValue(headers, 'Date')) added.push(`Date: ${new Date(ctx.now()).toUTCString().replace('GMT', '+0000')}`);
    if (!headerValue(headers, 'From')) added.push(`From: ${mailbox.displayName} <${mailbox.email}>`);
    const stored = added.length ? `${added.join('\r\n')}\r\n${raw}` : raw;

    // To stay in the thread: threadId given, In-Reply-To/References naming a message of it, same subject.
    let thread: string | undefined;
    if (typeof threadId === 'string') {
      const refs = `${headerValue(headers, 'In-Reply-To') ?? ''} ${headerValue(headers, 'References') ?? ''}`;
      const members = mailbox.threadMessages(threadId);
      const referencesMember = members.some((m) => { const mid = Mailbox.messageIdHeader(m); return mid !== undefined && refs.includes(mid); });
      const sameSubject = members.some((m) => normalizeSubject(headerValue(m.mime.headers, 'Subject')) === normalizeSubject(headerValue(headers, 'Subject')));
      if (referencesMember && sameSubject) thread = threadId;
    }
    const toSelf = recipients.includes(mailbox.email);
    const { message, record } = mailbox.add(stored, toSelf ? ['SENT', 'INBOX', 'UNREAD'] : ['SENT'], ctx.now(), thread);
    world.notify(mailbox, [record]);
    return c.json({ id: message.id, threadId: message.threadId, labelIds: message.labelIds });
  };

  app.post(`${API}/messages/send`, method('messages.send', 100, SEND, (c, rawBody, { mailbox }) => {
    const body = parseJsonObject(rawBody);
    if (!body) return invalid(c, 'Invalid JSON payload received.');
    if (typeof body.raw !== 'string' || body.raw.length === 0) return invalid(c, "'raw' RFC822 payload message string or uploading message via /upload/* URL required");
    if (!/^[A-Za-z0-9_\-+/=\s]+$/.test(body.raw)) return invalid(c, "Invalid value for ByteString: raw must be base64url");
    return send(c, mailbox, Buffer.from(body.raw, 'base64').toString('utf8'), body.threadId);
  }));

  app.post(`${UPLOAD}/messages/send`, method('messages.send', 100, SEND, (c, rawBody, { mailbox }) => {
    if (Buffer.byteLength(rawBody) > MAX_UPLOAD_BYTES) return googleError(c, 413, 'Request Entity Too Large', 'uploadTooLarge', 'FAILED_PRECONDITION');
    const uploadType = c.req.query('uploadType');
    const contentType = c.req.header('content-type') ?? '';
    if (uploadType === 'media') {
      if (!contentType.startsWith('message/rfc822')) return invalid(c, `Media type '${contentType}' is not supported. Valid media types: [message/*]`);
      return send(c, mailbox, rawBody, undefined);
    }
    if (uploadType === 'multipart') {
      // multipart/related: the Message metadata as JSON, then the message/rfc822 media.
      const parts = parseMime(`Content-Type: ${contentType}\r\n\r\n${rawBody}`).parts;
      const metadata = parts[0] ? parseJsonObject(parts[0].body.toString('utf8')) : undefined;
      const media = parts[1];
      if (!metadata || !media) return invalid(c, 'Multipart upload needs a JSON metadata part and a message/rfc822 part.');
      return send(c, mailbox, media.body.toString('utf8'), metadata.threadId);
    }
    return invalid(c, `Invalid uploadType: ${uploadType ?? '(missing)'}; the sandbox supports media and multipart.`);
  }));

  // ---- threads ---------------------------------------------------------------------------------
  app.get(`${API}/threads`, method('threads.list', 10, READ_METADATA, (c, _b, call) => {
    const filter = listFilter(c, call);
    if (filter instanceof Response) return filter;
    const { mailbox } = call;
    const threads = [...mailbox.threads.keys()]
      .map((id) => mailbox.threadMessages(id))
      .filter((msgs) => msgs.some(filter))
      .sort((a, b) => b.at(-1)!.internalDate - a.at(-1)!.internalDate);
    const page = paginate(c, threads, maxResults(c, 100));
    if (page instanceof Response) return page;
    return c.json({
      ...(page.items.length ? { threads: page.items.map((msgs) => ({ id: msgs[0]!.threadId, snippet: msgs.at(-1)!.snippet, historyId: String(Math.max(...msgs.map((m) => m.historyId))) })) } : {}),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      resultSizeEstimate: threads.length,
    });
  }));

  app.get(`${API}/threads/:id`, method('threads.get', 10, READ_METADATA, (c, _b, { mailbox, token }) => {
    const format = parseFormat(c, ['full', 'metadata', 'minimal']);
    if (format instanceof Response) return format;
    if (metadataOnly(token) && format === 'full') return googleError(c, 403, "Metadata scope doesn't allow format FULL", 'forbidden', 'PERMISSION_DENIED');
    const msgs = mailbox.threadMessages(c.req.param('id') ?? '');
    if (msgs.length === 0) return notFound(c);
    const metadataHeaders = queryAll(c, 'metadataHeaders');
    return c.json({ id: msgs[0]!.threadId, historyId: String(Math.max(...msgs.map((m) => m.historyId))), messages: msgs.map((m) => mailbox.render(m, format, metadataHeaders)) });
  }));

  // ---- history ---------------------------------------------------------------------------------
  app.get(`${API}/history`, method('history.list', 2, READ_METADATA, (c, _b, { mailbox }) => {
    const startParam = c.req.query('startHistoryId');
    if (!startParam) return invalid(c, 'Missing required parameter: startHistoryId');
    if (!/^\d+$/.test(startParam)) return invalid(c, `Invalid value for startHistoryId: ${startParam}`);
    mailbox.prune(world.options.historyRetentionSeconds * 1000);
    // Compare as BigInt: history ids are uint64 in decimal strings.
    const start = BigInt(startParam);
    if (start < BigInt(mailbox.horizon)) return notFound(c);
    const types = queryAll(c, 'historyTypes');
    const validTypes = ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved'];
    const badType = types.find((t) => !validTypes.includes(t));
    if (badType) return invalid(c, `Invalid value at 'history_types', "${badType}"`);
    const labelId = c.req.query('labelId');
    const field = { messageAdded: 'messagesAdded', messageDeleted: 'messagesDeleted', labelAdded: 'labelsAdded', labelRemoved: 'labelsRemoved' } as const;
    const wanted = (types.length ? types : validTypes).map((t) => field[t as keyof typeof field]);
    const records = mailbox.history
      .filter((r) => BigInt(r.id) > start)
      .map((r) => {
        const out: Record<string, unknown> = { id: String(r.id), messages: r.messages };
        for (const f of wanted) {
          const entries = r[f]?.filter((e) => !labelId || e.message.labelIds.includes(labelId));
          if (entries?.length) out[f] = entries;
        }
        return out;
      })
      .filter((r) => wanted.some((f) => f in r));
    const page = paginate(c, records, maxResults(c, 100));
    if (page instanceof Response) return page;
    return c.json({
      ...(page.items.length ? { history: page.items } : {}),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      historyId: String(mailbox.historyId),
    });
  }));

  // ---- watch / stop ----------------------------------------------------------------------------
  app.post(`${API}/watch`, method('watch', 100, READ_METADATA, (c, rawBody, { mailbox }) => {
    const body = parseJsonObject(rawBody);
    if (!body) return invalid(c, 'Invalid JSON payload received.');
    const topicName = typeof body.topicName === 'string' ? body.topicName : '';
    if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(topicName)) return invalid(c, 'Invalid topicName does not match projects/SOME-PROJECT/topics/*');
    const behavior = String(body.labelFilterBehavior ?? body.labelFilterAction ?? 'include').toLowerCase();
    if (behavior !== 'include' && behavior !== 'exclude') return invalid(c, `Invalid value at 'label_filter_behavior', "${String(body.labelFilterBehavior ?? body.labelFilterAction)}"`);
    const labelIds = Array.isArray(body.labelIds) ? body.labelIds.map(String) : [];
    const expiration = ctx.now() + world.options.watchTtlSeconds * 1000;
    mailbox.watch = { topicName, labelIds, labelFilterBehavior: behavior, expiration };
    return c.json({ historyId: String(mailbox.historyId), expiration: String(expiration) });
  }));
  app.post(`${API}/stop`, method('stop', 1, READ_METADATA, (c, _b, { mailbox }) => {
    mailbox.watch = null;
    return c.body(null, 204);
  }));
}

function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch { return undefined; }
}

export function normalizeSubject(subject: string | undefined): string {
  return (subject ?? '').replace(/^\s*((re|fwd?|aw|sv)\s*:\s*)+/i, '').trim().toLowerCase();
}

const encodePageToken = (offset: number) => Buffer.from(`p${offset}`).toString('base64url');
function decodePageToken(token: string): number | undefined {
  const m = /^p(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/**
 * A subset of Gmail search: from: to: subject: label: in: is: has:attachment rfc822msgid:
 * after:/before: (YYYY/MM/DD or epoch s), newer_than:/older_than: (Nd/Nm/Ny), -negation, free text.
 */
export function compileQuery(q: string, now = Date.now()): (m: StoredMessage) => boolean {
  const terms = [...q.matchAll(/(-?)(?:(\w+):)?("[^"]*"|\S+)/g)].map(([, neg, op, value]) => ({ neg: neg === '-', op: op?.toLowerCase(), value: (value ?? '').replace(/^"|"$/g, '').toLowerCase() }));
  const header = (m: StoredMessage, name: string) => (headerValue(m.mime.headers, name) ?? '').toLowerCase();
  const dateOf = (v: string) => (/^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v.replace(/\//g, '-')));
  const ageMs = (v: string) => {
    const m = /^(\d+)([dmy])$/.exec(v);
    return m ? Number(m[1]) * ({ d: 86400, m: 30 * 86400, y: 365 * 86400 }[m[2] as 'd' | 'm' | 'y']) * 1000 : NaN;
  };
  const test = (m: StoredMessage, op: string | undefined, v: string): boolean => {
    switch (op) {
      case 'from': return header(m, 'From').includes(v);
      case 'to': return ['To', 'Cc', 'Bcc'].some((h) => header(m, h).includes(v));
      case 'subject': return header(m, 'Subject').includes(v);
      case 'label': return m.labelIds.some((l) => l.toLowerCase() === v);
      case 'in': return v === 'anywhere' || m.labelIds.some((l) => l.toLowerCase() === v);
      case 'is': return v === 'read' ? !m.labelIds.includes('UNREAD') : m.labelIds.some((l) => l.toLowerCase() === v);
      case 'has': return v === 'attachment' ? m.attachments.size > 0 : false;
      case 'rfc822msgid': return header(m, 'Message-ID').replace(/[<>]/g, '') === v.replace(/[<>]/g, '');
      case 'after': return m.internalDate >= dateOf(v);
      case 'before': return m.internalDate < dateOf(v);
      case 'newer_than': return m.internalDate >= now - ageMs(v);
      case 'older_than': return m.internalDate < now - ageMs(v);
      default: {
        const text = `${op ? `${op}:` : ''}${v}`;
        return [header(m, 'Subject'), header(m, 'From'), header(m, 'To'), textOf(m.mime).toLowerCase()].some((s) => s.includes(text));
      }
    }
  };
  return (m) => terms.every((t) => test(m, t.op, t.value) !== t.neg);
}
