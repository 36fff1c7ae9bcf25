// The unified inbox: conversations across every channel of the caller's tenant, their messages
// (oldest → newest, paged both ways), and what an agent does to a conversation (read/unread,
// assign, labels, close/reopen/snooze). Every query is scoped to the caller's tenant: another
// tenant's conversation is a 404, not a 403.
import { createRoute, z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { Types } from 'mongoose';
import type { Logger } from 'pino';
import { ADAPTER_FACTORIES } from '../../activities/platforms';
import type { PlatformConfig } from '../../lib/platform-config';
import { markReadWorkflowId, type markReadWorkflow } from '../../workflows/mark-read';
import { PLATFORMS, type Platform } from '../../lib/domain/channel';
import { AppError, notFound } from '../../lib/errors';
import { CONVERSATION_STATUSES, ConversationModel, MessageModel, MESSAGE_STATUSES, type Conversation, type Message } from '../../models';
import { decodeCursor, encodeCursor, escapeRegex } from '../cursor';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

const security = [{ apiKey: [] }];
const iso = (d?: Date | null) => (d ? d.toISOString() : null);

const ConversationView = z.object({
  id: z.string(), channelId: z.string(), platform: z.enum(PLATFORMS), externalId: z.string(), contactId: z.string().nullable(),
  participant: z.object({ externalId: z.string(), handle: z.string().nullable(), name: z.string().nullable() }),
  subject: z.string().nullable(), status: z.enum(CONVERSATION_STATUSES), snoozedUntil: z.string().nullable(),
  assigneeId: z.string().nullable(), labels: z.array(z.string()), unreadCount: z.number(),
  lastMessageAt: z.string().nullable(), lastMessagePreview: z.string().nullable(),
  lastInboundAt: z.string().nullable().openapi({ description: 'Opens the platform reply window' }), lastOutboundAt: z.string().nullable(),
  createdAt: z.string().nullable(),
}).openapi('Conversation');

export const MessageView = z.object({
  id: z.string(), conversationId: z.string(), channelId: z.string(), platform: z.enum(PLATFORMS), externalId: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']), sender: z.object({ externalId: z.string().nullable(), name: z.string().nullable() }),
  text: z.string().nullable(), attachments: z.array(z.object({ type: z.string(), url: z.string().nullable(), mimeType: z.string().nullable(), name: z.string().nullable(), mediaId: z.string().nullable().openapi({ description: 'An upload (POST /v1/media) sent with this message' }) })),
  status: z.enum(MESSAGE_STATUSES), error: z.object({ code: z.string().nullable(), message: z.string().nullable() }).nullable(),
  reactions: z.array(z.object({ by: z.string(), emoji: z.string() })), deleted: z.boolean(),
  timestamp: z.string(), createdAt: z.string().nullable(),
}).openapi('Message');

type ConversationDoc = Conversation & { _id: string; createdAt?: Date };
type MessageDoc = Omit<Message, 'reactions'> & { _id: string; createdAt?: Date; reactions?: Record<string, { emoji: string | null } | null> | null };

export const toConversationView = (c: ConversationDoc): z.infer<typeof ConversationView> => ({
  id: c._id, channelId: String(c.channelId), platform: c.platform, externalId: c.externalId, contactId: c.contactId ? String(c.contactId) : null,
  participant: { externalId: c.participant?.externalId ?? '', handle: c.participant?.handle ?? null, name: c.participant?.name ?? null },
  subject: c.subject ?? null, status: c.status, snoozedUntil: iso(c.snoozedUntil), assigneeId: c.assigneeId ?? null, labels: c.labels ?? [],
  unreadCount: c.unreadCount ?? 0, lastMessageAt: iso(c.lastMessageAt), lastMessagePreview: c.lastMessagePreview ?? null,
  lastInboundAt: iso(c.lastInboundAt), lastOutboundAt: iso(c.lastOutboundAt), createdAt: iso(c.createdAt),
});

/** A message as the agent sees it: Messenger's delivery/read watermarks (on the conversation) applied. */
export function toMessageView(m: MessageDoc, conv: Pick<Conversation, 'deliveredUpTo' | 'readUpTo'>): z.infer<typeof MessageView> {
  let status = m.status;
  if (m.direction === 'outbound' && (status === 'sent' || status === 'delivered')) {
    const t = m.platformTimestamp.getTime();
    if (conv.readUpTo && conv.readUpTo.getTime() >= t) status = 'read';
    else if (status === 'sent' && conv.deliveredUpTo && conv.deliveredUpTo.getTime() >= t) status = 'delivered';
  }
  return {
    id: m._id, conversationId: m.conversationId, channelId: String(m.channelId), platform: m.platform, externalId: m.externalId ?? null,
    direction: m.direction, sender: { externalId: m.sender?.externalId ?? null, name: m.sender?.name ?? null },
    text: m.text ?? null, attachments: (m.attachments ?? []).map((a) => ({ type: a.type, url: a.url ?? null, mimeType: a.mimeType ?? null, name: a.name ?? null, mediaId: a.mediaId ?? null })),
    status, error: m.error?.code || m.error?.message ? { code: m.error.code ?? null, message: m.error.message ?? null } : null,
    reactions: Object.entries(m.reactions ?? {}).flatMap(([by, r]) => (r?.emoji ? [{ by, emoji: r.emoji }] : [])),
    deleted: !!m.deletedAt, timestamp: m.platformTimestamp.toISOString(), createdAt: iso(m.createdAt),
  };
}

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const ListQuery = z.object({
  platform: z.enum(PLATFORMS).optional(),
  channelId: ObjectIdParam.optional(),
  status: z.enum(CONVERSATION_STATUSES).optional(),
  unread: bool.optional().openapi({ description: 'true: only conversations with unread messages; false: only read ones' }),
  assignee: z.string().min(1).max(200).optional().openapi({ description: 'An assignee ID, or "none" for unassigned' }),
  label: z.string().min(1).max(100).optional(),
  q: z.string().trim().min(1).max(200).optional().openapi({ description: 'Contact name, handle or ID, or text of any message (case-insensitive)' }),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(500).optional(),
});
type ListCursor = { t: number | null; id: string };
const isListCursor = (v: unknown): v is ListCursor => !!v && typeof v === 'object' && typeof (v as ListCursor).id === 'string' && ((v as ListCursor).t === null || typeof (v as ListCursor).t === 'number');

const MessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(500).optional().openapi({ description: 'Older messages than this cursor (prev)' }),
  after: z.string().max(500).optional().openapi({ description: 'Newer messages than this cursor (next)' }),
});
type MessageCursor = { t: number; id: string };
const isMessageCursor = (v: unknown): v is MessageCursor => !!v && typeof v === 'object' && typeof (v as MessageCursor).id === 'string' && typeof (v as MessageCursor).t === 'number';

const IdParam = z.object({ id: z.string().min(3).max(600).openapi({ description: 'Conversation ID (as returned, URL-encoded)' }) });

/** What POST …/read asked of the platform (the platform call itself happens in the background). */
const PlatformReadView = z.object({
  status: z.enum(['requested', 'already_requested', 'unsupported', 'nothing_to_mark', 'unavailable']).openapi({
    description: 'requested: a mark-read workflow will tell the platform; already_requested: this same read (same latest inbound message) was asked for before; '
      + 'unsupported: the platform has no read receipts (Twilio, TikTok); nothing_to_mark: no inbound message yet; unavailable: it could not be scheduled now (read again to retry)',
  }),
  workflowId: z.string().nullable().openapi({ description: 'The Temporal workflow doing it' }),
}).openapi('PlatformRead');

/** Starting mark-read workflows needs Temporal; what a platform can do comes from its adapter. */
export interface ConversationRouteDeps { temporal: Client; taskQueue: string; platforms: PlatformConfig }

export function conversationRoutes(deps?: ConversationRouteDeps) {
  const router = newRouter();

  const canMarkRead = new Map<Platform, boolean>();
  const supportsMarkRead = (platform: Platform): boolean => {
    if (!canMarkRead.has(platform)) {
      const adapter = deps ? ADAPTER_FACTORIES[platform]?.(deps.platforms) : undefined;
      canMarkRead.set(platform, !!adapter?.markRead && adapter.capabilities().includes('mark_read'));
    }
    return canMarkRead.get(platform)!;
  };

  /**
   * Starts the mark-read workflow for this conversation's latest inbound message; its ID names that
   * message (by time), so a repeat is refused by Temporal and costs no second platform call. A run
   * that failed (revoked token, channel offline) may be started again by a later read.
   */
  async function requestPlatformRead(conv: ConversationDoc, log: Logger): Promise<z.infer<typeof PlatformReadView>> {
    if (!deps || !supportsMarkRead(conv.platform)) return { status: deps ? 'unsupported' : 'unavailable', workflowId: null };
    if (!conv.lastInboundAt) return { status: 'nothing_to_mark', workflowId: null };
    const upTo = conv.lastInboundAt.getTime();
    const workflowId = markReadWorkflowId(conv._id, upTo);
    try {
      await deps.temporal.workflow.start<typeof markReadWorkflow>('markReadWorkflow', {
        taskQueue: deps.taskQueue, workflowId, args: [{ conversationId: conv._id, upTo }],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY', workflowExecutionTimeout: '1 hour',
      });
      return { status: 'requested', workflowId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { status: 'already_requested', workflowId };
      // Our unread count is already zero; the platform's read state is best effort.
      log.warn({ err, workflowId }, 'could not start the mark-read workflow');
      return { status: 'unavailable', workflowId: null };
    }
  }

  /** The caller's conversation, or 404 (also for another tenant's). */
  async function load(tenantId: string, id: string) {
    const conv = await ConversationModel.findById(id).lean<ConversationDoc>();
    if (!conv || String(conv.tenantId) !== tenantId) throw notFound('Conversation');
    return conv;
  }

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/conversations', tags: ['inbox'], summary: 'Conversations across every channel, most recent activity first', security,
      request: { query: ListQuery },
      responses: { 200: { description: 'A page', content: { 'application/json': { schema: z.object({ data: z.array(ConversationView), nextCursor: z.string().nullable() }) } } }, ...errorResponses(400, 401) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const tenantId = new Types.ObjectId(c.get('caller').tenantId);
      const and: Record<string, unknown>[] = [{ tenantId }];
      if (q.platform) and.push({ platform: q.platform });
      if (q.channelId) and.push({ channelId: new Types.ObjectId(q.channelId) });
      if (q.status) and.push({ status: q.status });
      if (q.unread !== undefined) and.push(q.unread ? { unreadCount: { $gt: 0 } } : { $or: [{ unreadCount: 0 }, { unreadCount: null }] });
      if (q.assignee) and.push(q.assignee === 'none' ? { $or: [{ assigneeId: null }, { assigneeId: '' }] } : { assigneeId: q.assignee });
      if (q.label) and.push({ labels: q.label });
      if (q.q) {
        const re = { $regex: escapeRegex(q.q), $options: 'i' };
        // Message text: the conversations of the (most recent) matching messages.
        const hits = await MessageModel.find({ tenantId, text: re }, { conversationId: 1 }).sort({ platformTimestamp: -1 }).limit(500).lean();
        and.push({ $or: [{ 'participant.name': re }, { 'participant.handle': re }, { 'participant.externalId': re }, { lastMessagePreview: re }, { _id: { $in: [...new Set(hits.map((h) => h.conversationId))] } }] });
      }
      const cursor = decodeCursor(q.cursor, 'cursor', isListCursor);
      if (cursor) {
        and.push(cursor.t === null
          ? { lastMessageAt: null, _id: { $lt: cursor.id } }
          : { $or: [{ lastMessageAt: { $lt: new Date(cursor.t) } }, { lastMessageAt: new Date(cursor.t), _id: { $lt: cursor.id } }, { lastMessageAt: null }] });
      }
      const docs = await ConversationModel.find({ $and: and }).sort({ lastMessageAt: -1, _id: -1 }).limit(q.limit + 1).lean<ConversationDoc[]>();
      const page = docs.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json({
        data: page.map(toConversationView),
        nextCursor: docs.length > q.limit && last ? encodeCursor({ t: last.lastMessageAt ? last.lastMessageAt.getTime() : null, id: last._id }) : null,
      }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/conversations/{id}', tags: ['inbox'], summary: 'One conversation', security,
      request: { params: IdParam },
      responses: { 200: { description: 'The conversation', content: { 'application/json': { schema: z.object({ conversation: ConversationView }) } } }, ...errorResponses(401, 404) },
    }),
    async (c) => c.json({ conversation: toConversationView(await load(c.get('caller').tenantId, c.req.valid('param').id)) }, 200),
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/conversations/{id}/messages', tags: ['inbox'], summary: 'Messages, oldest → newest; the newest page unless a cursor says otherwise', security,
      request: { params: IdParam, query: MessagesQuery },
      responses: {
        200: { description: 'A page, oldest first', content: { 'application/json': { schema: z.object({ data: z.array(MessageView), prevCursor: z.string().nullable(), nextCursor: z.string().nullable() }) } } },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const conv = await load(c.get('caller').tenantId, c.req.valid('param').id);
      const q = c.req.valid('query');
      if (q.before && q.after) throw new AppError(400, 'validation_failed', 'query: give before or after, not both');
      const before = decodeCursor(q.before, 'before', isMessageCursor);
      const after = decodeCursor(q.after, 'after', isMessageCursor);
      const base = { conversationId: conv._id };
      const older = (k: MessageCursor) => ({ $or: [{ platformTimestamp: { $lt: new Date(k.t) } }, { platformTimestamp: new Date(k.t), _id: { $lt: k.id } }] });
      const newer = (k: MessageCursor) => ({ $or: [{ platformTimestamp: { $gt: new Date(k.t) } }, { platformTimestamp: new Date(k.t), _id: { $gt: k.id } }] });
      let docs: MessageDoc[];
      let moreBefore: boolean;
      let moreAfter: boolean;
      if (after) {
        const found = await MessageModel.find({ ...base, ...newer(after) }).sort({ platformTimestamp: 1, _id: 1 }).limit(q.limit + 1).lean<MessageDoc[]>();
        docs = found.slice(0, q.limit);
        moreAfter = found.length > q.limit;
        moreBefore = true;
      } else {
        const found = await MessageModel.find({ ...base, ...(before ? older(before) : {}) }).sort({ platformTimestamp: -1, _id: -1 }).limit(q.limit + 1).lean<MessageDoc[]>();
        docs = found.slice(0, q.limit).reverse();
        moreBefore = found.length > q.limit;
        moreAfter = !!before;
      }
      const key = (m?: MessageDoc) => (m ? encodeCursor({ t: m.platformTimestamp.getTime(), id: m._id }) : null);
      return c.json({
        data: docs.map((m) => toMessageView(m, conv)),
        prevCursor: moreBefore && docs.length > 0 ? key(docs[0]) : null,
        nextCursor: moreAfter && docs.length > 0 ? key(docs[docs.length - 1]) : null,
      }, 200);
    },
  );

  // --- what an agent does to a conversation -----------------------------------------------------
  const action = (path: string, summary: string, body: z.ZodType | undefined, update: (input: any) => Record<string, unknown>) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    router.openapi(
      createRoute({
        method: 'post', path: `/v1/conversations/{id}${path}`, tags: ['inbox'], summary, security,
        request: { params: IdParam, ...(body ? { body: { content: { 'application/json': { schema: body } }, required: true } } : {}) },
        responses: { 200: { description: 'The conversation after the change', content: { 'application/json': { schema: z.object({ conversation: ConversationView }) } } }, ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const conv = await load(c.get('caller').tenantId, id);
        const input = body ? (c.req.valid('json' as never) as unknown) : undefined;
        await ConversationModel.updateOne({ _id: conv._id }, { ...update(input), $currentDate: { updatedAt: true } });
        return c.json({ conversation: toConversationView(await load(c.get('caller').tenantId, id)) }, 200);
      },
    );
  };
  router.openapi(
    createRoute({
      method: 'post', path: '/v1/conversations/{id}/read', tags: ['inbox'], security,
      summary: 'Mark read: unread count 0 here, and on the platform where it has read receipts (in the background)',
      description: 'Answers at once. Where the platform supports it (WhatsApp Cloud read receipt, Messenger/Instagram mark_seen, Gmail UNREAD removed, IMAP \\Seen), '
        + 'a workflow tells the platform about the inbound messages up to the latest one; reading the same state again does not call the platform again.',
      request: { params: IdParam },
      responses: {
        200: { description: 'The conversation after the change, and what was asked of the platform', content: { 'application/json': { schema: z.object({ conversation: ConversationView, platformRead: PlatformReadView }) } } },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const { id } = c.req.valid('param');
      const conv = await load(tenantId, id);
      await ConversationModel.updateOne({ _id: conv._id }, { $set: { unreadCount: 0, lastReadAt: new Date() }, $currentDate: { updatedAt: true } });
      const platformRead = await requestPlatformRead(conv, c.get('log'));
      return c.json({ conversation: toConversationView(await load(tenantId, id)), platformRead }, 200);
    },
  );
  action('/unread', 'Mark unread', undefined, () => ({ $max: { unreadCount: 1 } }));
  action('/assign', 'Assign to an agent, or unassign with null', z.object({ assigneeId: z.string().trim().min(1).max(200).nullable() }).openapi('Assign'),
    (b: { assigneeId: string | null }) => (b.assigneeId ? { $set: { assigneeId: b.assigneeId } } : { $unset: { assigneeId: '' } }));
  action('/labels', 'Add and remove labels', z.object({ add: z.array(z.string().trim().min(1).max(100)).max(50).default([]), remove: z.array(z.string().trim().min(1).max(100)).max(50).default([]) }).openapi('Labels'),
    (b: { add: string[]; remove: string[] }) => ({ ...(b.add.length ? { $addToSet: { labels: { $each: b.add } } } : {}), ...(b.remove.length ? { $pullAll: { labels: b.remove.filter((l) => !b.add.includes(l)) } } : {}) }));
  action('/status', 'Close, reopen or snooze (until a time)', z.object({ status: z.enum(CONVERSATION_STATUSES), snoozedUntil: z.iso.datetime().optional() })
    .refine((b) => b.status !== 'snoozed' || b.snoozedUntil, { message: 'snoozedUntil is required to snooze', path: ['snoozedUntil'] }).openapi('ConversationStatus'),
    (b: { status: string; snoozedUntil?: string }) => (b.status === 'snoozed' ? { $set: { status: b.status, snoozedUntil: new Date(b.snoozedUntil!) } } : { $set: { status: b.status }, $unset: { snoozedUntil: '' } }));

  return router;
}
