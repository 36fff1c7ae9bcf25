// Sending: POST /v1/conversations/:id/messages stores the message as `pending` and starts one send
// workflow for it, its ID derived from the client's Idempotency-Key — so the same key twice is the
// same message and one platform call. The answer is 202 with the message and where to poll it.
// Replies always go through the conversation's own channel, to its participant.
import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Document } from 'mongodb';
import { AppError, notFound } from '../../lib/errors';
import { statusRank } from '../../lib/domain/message-status';
import { ConversationModel, MessageModel } from '../../models';
import { appendEvents } from '../../lib/event-log';
import { messageCreated, messageStatusChanged } from '../../lib/event-payloads';
import type { sendMessageWorkflow } from '../../workflows/send';
import { errorResponses, newRouter } from '../router';
import { MessageView, toMessageView } from './conversations';
import type { NetworkPolicy } from '../../lib/network-policy';
import { tenantMedia } from './media';

const security = [{ apiKey: [] }];

const SendBody = z.object({
  text: z.string().min(1).max(4096).optional(),
  media: z.object({
    type: z.enum(['image', 'video', 'audio', 'file']),
    url: z.url().refine((u) => /^https?:/.test(u), 'must be an http(s) URL').optional(),
    mediaId: z.string().min(1).max(100).optional().openapi({ description: 'An upload (POST /v1/media): the platform gets a signed link to it; its type and name come with it' }),
    mimeType: z.string().max(100).optional(), name: z.string().max(200).optional(),
  }).refine((m) => !m.url !== !m.mediaId, { message: 'give exactly one of url or mediaId', path: ['url'] }).optional(),
  template: z.object({ name: z.string().min(1).max(200), language: z.string().min(2).max(20), parameters: z.array(z.string().max(1000)).max(20).optional() }).optional()
    .openapi({ description: 'WhatsApp: an approved template (Twilio: the Content SID as name); needed outside the 24 h window' }),
  humanAgent: z.boolean().optional().openapi({ description: 'Messenger/Instagram: reply with the HUMAN_AGENT tag (up to 7 days after the customer wrote)' }),
}).refine((b) => b.text || b.media || b.template, { message: 'give text, media or a template', path: ['text'] }).openapi('SendMessage');

const IdempotencyHeader = z.object({
  'idempotency-key': z.string().trim().min(1).max(200).optional().openapi({ description: 'Repeat a request with the same key to get the same message (one platform send)' }),
});

export function messageRoutes(deps: { temporal: Client; taskQueue: string; tenantNetwork: NetworkPolicy }) {
  const router = newRouter();
  const idOf = (tenantId: string, key: string) => createHash('sha256').update(`${tenantId}:${key}`).digest('hex').slice(0, 32);

  async function messageFor(tenantId: string, id: string) {
    const m = await MessageModel.collection.findOne({ _id: id } as Document);
    if (!m || String(m.tenantId) !== tenantId || m.aliasOf) throw notFound('Message');
    const conv = await ConversationModel.findById(m.conversationId, { deliveredUpTo: 1, readUpTo: 1 }).lean();
    return toMessageView(m as never, conv ?? {});
  }

  /** Whether a send workflow (running or closed) exists under this ID. */
  async function sendStarted(workflowId: string): Promise<boolean> {
    try {
      await deps.temporal.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** The attachment to store: a URL as given, or the caller's upload (404 naming it) with its name and type. */
  async function attachmentOf(tenantId: string, media: NonNullable<z.infer<typeof SendBody>['media']>) {
    if (!media.mediaId) {
      // The platform, or our worker (email, TikTok), fetches it: never from a private network.
      const refused = media.url ? await deps.tenantNetwork.check(media.url) : null;
      if (refused) throw new AppError(400, 'media_url_not_allowed', `body.media.url: ${refused}; media URLs must be on the public internet (or upload the file: POST /v1/media)`);
      return media;
    }
    const upload = await tenantMedia(tenantId, media.mediaId);
    if (media.type !== 'file' && !upload.mimeType.startsWith(`${media.type}/`)) {
      throw new AppError(400, 'validation_failed', `body.media.type: ${media.mediaId} is ${upload.mimeType}, not of type "${media.type}" (send it as "file")`);
    }
    return { type: media.type, mediaId: upload._id, mimeType: upload.mimeType, name: media.name ?? upload.name, size: upload.size };
  }

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/conversations/{id}/messages', tags: ['inbox'], summary: 'Reply in a conversation (text, media or template)', security,
      request: { params: z.object({ id: z.string().min(3).max(600) }), headers: IdempotencyHeader, body: { content: { 'application/json': { schema: SendBody } }, required: true } },
      responses: {
        202: { description: 'Accepted: the message, pending until the platform takes it', content: { 'application/json': { schema: z.object({ message: MessageView, statusUrl: z.string() }) } } },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const body = c.req.valid('json');
      const conv = await ConversationModel.findById(c.req.valid('param').id).lean();
      if (!conv || String(conv.tenantId) !== tenantId) throw notFound('Conversation');
      const attachment = body.media ? await attachmentOf(tenantId, body.media) : undefined;
      const key = c.req.valid('header')['idempotency-key'] ?? crypto.randomUUID();
      const hash = idOf(tenantId, key);
      const messageId = `${String(conv.channelId)}:out:${hash}`;
      const now = new Date();
      const doc = {
        _id: messageId, tenantId: conv.tenantId, channelId: conv.channelId, conversationId: conv._id, platform: conv.platform,
        direction: 'outbound', sender: { agentId: c.get('caller').keyId }, status: 'pending', statusRank: statusRank('pending'),
        ...(body.text ? { text: body.text } : {}), attachments: attachment ? [attachment] : [],
        ...(body.template ? { template: body.template } : {}), ...(body.humanAgent ? { humanAgent: true } : {}),
        idempotencyKey: `${tenantId}:${hash}`, platformTimestamp: now, createdAt: now, updatedAt: now,
      };
      const workflowId = `send:${tenantId}:${hash}`;
      try {
        await MessageModel.collection.insertOne(doc as unknown as Document);
        await appendEvents(tenantId, [messageCreated(doc)]);
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        const existing = await MessageModel.collection.findOne({ _id: messageId } as Document);
        if (existing && existing.conversationId !== conv._id) throw new AppError(409, 'idempotency_key_reused', 'This Idempotency-Key was used for a message in another conversation');
        // The same key again. If its send never started, the first request died after storing the
        // message — maybe before announcing it: announce it now (at least once), before the send.
        if (existing && !(await sendStarted(workflowId))) await appendEvents(tenantId, [messageCreated(existing as never)]);
      }
      try {
        // Never a second run for one key, even after the first finished (a retry is POST …/retry).
        await deps.temporal.workflow.start<typeof sendMessageWorkflow>('sendMessageWorkflow', {
          taskQueue: deps.taskQueue, workflowId, args: [{ messageId, channelId: String(conv.channelId) }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // the same request again: one send
      }
      return c.json({ message: await messageFor(tenantId, messageId), statusUrl: `/v1/messages/${encodeURIComponent(messageId)}` }, 202);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/messages/{id}', tags: ['inbox'], summary: 'One message (poll a send here)', security,
      request: { params: z.object({ id: z.string().min(3).max(600) }) },
      responses: { 200: { description: 'The message', content: { 'application/json': { schema: z.object({ message: MessageView }) } } }, ...errorResponses(401, 404) },
    }),
    async (c) => c.json({ message: await messageFor(c.get('caller').tenantId, c.req.valid('param').id) }, 200),
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/messages/{id}/retry', tags: ['inbox'], summary: 'Send a failed message again (calls the platform again)', security,
      request: { params: z.object({ id: z.string().min(3).max(600) }) },
      responses: { 202: { description: 'Retrying', content: { 'application/json': { schema: z.object({ message: MessageView, statusUrl: z.string() }) } } }, ...errorResponses(401, 404, 409) },
    }),
    async (c) => {
      const tenantId = c.get('caller').tenantId;
      const id = c.req.valid('param').id;
      await messageFor(tenantId, id);
      const reset = await MessageModel.collection.updateOne({ _id: id, status: 'failed' } as Document, { $set: { status: 'pending', statusRank: statusRank('pending'), updatedAt: new Date() }, $unset: { error: '' } });
      if (reset.modifiedCount === 0) throw new AppError(409, 'not_failed', 'Only a failed message can be retried');
      const m = await MessageModel.collection.findOne({ _id: id } as Document);
      await appendEvents(tenantId, [messageStatusChanged(m as unknown as Parameters<typeof messageStatusChanged>[0], 'pending', new Date())]);
      const hash = id.split(':out:')[1] ?? id;
      await deps.temporal.workflow.start<typeof sendMessageWorkflow>('sendMessageWorkflow', {
        taskQueue: deps.taskQueue, workflowId: `send:${tenantId}:${hash}`, args: [{ messageId: id, channelId: String(m!.channelId) }],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE', // guarded above: only a failed message gets here
      }).catch((err) => { if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; });
      return c.json({ message: await messageFor(tenantId, id), statusUrl: `/v1/messages/${encodeURIComponent(id)}` }, 202);
    },
  );
  return router;
}
