// Channels: each one is a record in MongoDB plus one long-running workflow that owns its state.
// The API writes the record, seals what the user gave (credentials, later the OAuth code), and
// starts, signals or updates the workflow; every platform call happens in the workflow's activities.
import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { Types } from 'mongoose';
import type { PendingAuth } from '../../activities/channel-lifecycle';
import { ADAPTER_FACTORIES } from '../../activities/platforms';
import { randomToken, seal, type EncryptionKey } from '../../lib/crypto';
import { CHANNEL_STATUSES, PLATFORMS, channelWorkflowId, type Platform } from '../../lib/domain/channel';
import { SA_CHANNEL, SA_CHANNEL_STATUS, SA_PLATFORM, SA_TENANT } from '../../lib/domain/search-attributes';
import { AppError, notFound } from '../../lib/errors';
import { signState } from '../../lib/oauth-state';
import { platformFlag, type PlatformConfig } from '../../lib/platform-config';
import { ChannelModel, type Channel } from '../../models';
import type { channelWorkflow } from '../../workflows/channel';
import { connectUpdate, disconnectSignal, refreshNowUpdate, syncNowSignal, testConnectionUpdate } from '../../workflows/channel';
import { requireRole } from '../auth/middleware';
import { SEND_RATE, sendRateOf } from '../../lib/domain/send-rate';
import { errorResponses, newRouter, ObjectIdParam } from '../router';

export interface ChannelRouteDeps {
  temporal: Client;
  taskQueue: string;
  keys: EncryptionKey[];
  stateKey: Buffer;
  platforms: PlatformConfig;
  /** Where platforms send the user back after consent. */
  redirectUri: string;
  /** Platforms switched off by the operator (<PLATFORM>_ENABLED=false). */
  disabled?: Set<Platform>;
  syncIntervalSeconds?: number;
}

const ChannelView = z.object({
  id: z.string(),
  platform: z.enum(PLATFORMS),
  name: z.string(),
  status: z.enum(CHANNEL_STATUSES),
  statusReason: z.string().nullable(),
  account: z.object({ id: z.string().nullable(), name: z.string().nullable(), handle: z.string().nullable() }),
  credentials: z.record(z.string(), z.string()).openapi({ description: 'Masked hints only (e.g. "…a1b2"); secrets are never returned' }),
  capabilities: z.array(z.string()),
  sendRate: z.object({
    perSecond: z.number().openapi({ description: 'Sends per second this channel never exceeds' }),
    configured: z.number().nullable().openapi({ description: 'Set on the channel (null: the platform default)' }),
    platformDefault: z.number(), platformMax: z.number(),
  }),
  workflowId: z.string(),
  tokenExpiresAt: z.string().nullable(),
  lastSyncedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  errorCount: z.number(),
  backfill: z.object({ done: z.boolean(), pages: z.number(), conversations: z.number(), messages: z.number() }),
  createdAt: z.string(),
}).openapi('Channel');

type ChannelDoc = Channel & { _id: Types.ObjectId; createdAt?: Date };
const iso = (d?: Date | null) => (d ? d.toISOString() : null);
export const toChannelView = (ch: ChannelDoc): z.infer<typeof ChannelView> => ({
  id: String(ch._id), platform: ch.platform, name: ch.name, status: ch.status, statusReason: ch.statusReason ?? null,
  account: { id: ch.account?.id ?? null, name: ch.account?.name ?? null, handle: ch.account?.handle ?? null },
  credentials: Object.fromEntries(ch.credentialHints instanceof Map ? ch.credentialHints : Object.entries(ch.credentialHints ?? {})),
  capabilities: ch.capabilities ?? [],
  sendRate: { perSecond: sendRateOf(ch.platform, ch.sendRatePerSecond), configured: ch.sendRatePerSecond ?? null, platformDefault: SEND_RATE[ch.platform].default, platformMax: SEND_RATE[ch.platform].max },
  workflowId: ch.workflowId, tokenExpiresAt: iso(ch.tokenExpiresAt),
  lastSyncedAt: iso(ch.lastSyncedAt), lastError: ch.lastError ?? null, lastErrorAt: iso(ch.lastErrorAt), errorCount: ch.errorCount ?? 0,
  backfill: { done: ch.backfill?.done ?? false, pages: ch.backfill?.pages ?? 0, conversations: ch.backfill?.conversations ?? 0, messages: ch.backfill?.messages ?? 0 },
  createdAt: iso(ch.createdAt) ?? '',
});

const CreateChannel = z.object({
  platform: z.enum(PLATFORMS),
  name: z.string().trim().min(1).max(200).openapi({ example: 'Support inbox' }),
  credentials: z.record(z.string(), z.unknown()).optional().openapi({
    description: 'For platforms connected without OAuth (whatsapp_cloud: accessToken, phoneNumberId; whatsapp_twilio: accountSid, whatsappNumber and either authToken or apiKeySid + apiKeySecret (+ webhookAuthToken, the account Auth Token, which Twilio signs webhooks with); email: address, imap{…}, smtp{…}). Validated against the platform before the channel is active.',
  }),
  settings: z.record(z.string(), z.unknown()).optional().openapi({ description: 'Platform options, e.g. {"pageId": "…"} to pick one of several Pages' }),
}).openapi('CreateChannel');

const UpdateChannel = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  sendRatePerSecond: z.number().min(0.01).max(1000).nullable().optional().openapi({ description: 'Sends per second (null: back to the platform default); at most the platform\'s cap' }),
}).strict().refine((b) => b.name !== undefined || b.sendRatePerSecond !== undefined, { message: 'give name and/or sendRatePerSecond' }).openapi('UpdateChannel');

const ConnectResponse = z.object({
  channel: ChannelView,
  authorizeUrl: z.string().nullable().openapi({ description: 'OAuth platforms: send the user here to grant access' }),
});
const ActionResult = z.object({ ok: z.boolean(), status: z.enum(CHANNEL_STATUSES), message: z.string() }).openapi('ChannelActionResult');

const ListQuery = z.object({
  platform: z.enum(PLATFORMS).optional(),
  status: z.enum(CHANNEL_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: ObjectIdParam.optional().openapi({ description: 'nextCursor from the previous page' }),
});
const IdParams = z.object({ id: ObjectIdParam });
const security = [{ apiKey: [] }];
const unavailable = (what: string) => new AppError(503, 'temporal_unavailable', `Could not reach the channel workflow to ${what}; try again`);

export function channelRoutes(deps: ChannelRouteDeps) {
  const router = newRouter();
  const adapterFor = (platform: Platform) => ADAPTER_FACTORIES[platform]?.(deps.platforms);

  async function findChannel(tenantId: string, id: string): Promise<ChannelDoc> {
    const ch = await ChannelModel.findOne({ _id: id, tenantId }).lean<ChannelDoc>();
    if (!ch) throw notFound('Channel');
    return ch;
  }

  /** A fresh consent URL whose signed state only this channel's callback can consume, once. */
  async function newAuthorizeUrl(ch: { _id: Types.ObjectId; tenantId: string; platform: Platform }): Promise<string> {
    const adapter = adapterFor(ch.platform)!;
    const nonce = randomToken(16);
    await ChannelModel.updateOne({ _id: ch._id }, { $set: { oauthNonceHash: createHash('sha256').update(nonce).digest('hex') } });
    const state = signState({ tenantId: ch.tenantId, channelId: String(ch._id), nonce }, deps.stateKey);
    return adapter.authorizationUrl!({ state, redirectUri: deps.redirectUri });
  }

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/channels', tags: ['channels'], summary: 'Connect a channel', security,
      description: 'OAuth platforms answer with an `authorizeUrl`; the channel becomes active after consent. Credential platforms are validated against the platform first: the answer is an active channel or a 422 saying what was wrong, never a half-made channel.',
      middleware: [requireRole('admin')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: CreateChannel } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: ConnectResponse } } },
        422: { description: 'The platform refused the credentials', content: { 'application/json': { schema: z.object({ error: z.object({ code: z.string(), message: z.string() }) }) } } },
        ...errorResponses(400, 401, 403, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const tenantId = c.get('caller').tenantId;
      if (deps.disabled?.has(body.platform)) {
        throw new AppError(503, 'platform_disabled', `${body.platform} is switched off on this server (${platformFlag(body.platform)}=false)`);
      }
      const adapter = adapterFor(body.platform);
      if (!adapter) throw new AppError(503, 'platform_unavailable', `Connecting ${body.platform} channels is not available yet`);
      if (adapter.usesOAuth && body.credentials) throw new AppError(400, 'validation_failed', `body.credentials: ${body.platform} connects through OAuth consent; omit credentials`);
      if (!adapter.usesOAuth && !body.credentials) throw new AppError(400, 'validation_failed', `body.credentials: ${body.platform} needs credentials to connect`);

      const _id = new Types.ObjectId();
      const workflowId = channelWorkflowId(tenantId, body.platform, String(_id));
      const pending: PendingAuth | undefined = body.credentials ? { kind: 'credentials', values: body.credentials } : undefined;
      await ChannelModel.create({
        _id, tenantId, platform: body.platform, name: body.name, status: 'pending_auth', workflowId,
        settings: body.settings ?? {}, ...(pending ? { pendingAuth: seal(JSON.stringify(pending), deps.keys) } : {}),
      });
      const start = {
        workflowId, taskQueue: deps.taskQueue,
        args: [{ tenantId, channelId: String(_id), platform: body.platform, syncIntervalSeconds: deps.syncIntervalSeconds }] as Parameters<typeof channelWorkflow>,
        typedSearchAttributes: [
          { key: SA_TENANT, value: tenantId }, { key: SA_PLATFORM, value: body.platform },
          { key: SA_CHANNEL, value: String(_id) }, { key: SA_CHANNEL_STATUS, value: 'pending_auth' },
        ],
      };
      try {
        if (adapter.usesOAuth) {
          await deps.temporal.workflow.start<typeof channelWorkflow>('channelWorkflow', start);
          const authorizeUrl = await newAuthorizeUrl({ _id, tenantId, platform: body.platform });
          return c.json({ channel: toChannelView((await ChannelModel.findById(_id).lean<ChannelDoc>())!), authorizeUrl }, 201);
        }
        const outcome = await deps.temporal.workflow.executeUpdateWithStart(connectUpdate, {
          startWorkflowOperation: new WithStartWorkflowOperation<typeof channelWorkflow>('channelWorkflow', { ...start, workflowIdConflictPolicy: 'FAIL' }),
        });
        if (!outcome.ok) {
          // Nothing half-made: end the workflow and drop the record.
          await deps.temporal.workflow.getHandle(workflowId).signal(disconnectSignal, { reason: 'credentials refused' }).catch(() => undefined);
          await ChannelModel.deleteOne({ _id });
          throw new AppError(422, 'credentials_refused', outcome.message);
        }
      } catch (err) {
        if (err instanceof AppError) throw err;
        await ChannelModel.deleteOne({ _id });
        c.get('log').error({ err }, 'could not start channel workflow');
        throw unavailable('connect');
      }
      return c.json({ channel: toChannelView((await ChannelModel.findById(_id).lean<ChannelDoc>())!), authorizeUrl: null }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/channels', tags: ['channels'], summary: 'List channels, newest first', security,
      request: { query: ListQuery },
      responses: {
        200: { description: 'A page of channels', content: { 'application/json': { schema: z.object({ data: z.array(ChannelView), nextCursor: z.string().nullable() }) } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const filter: Record<string, unknown> = { tenantId: c.get('caller').tenantId };
      if (q.platform) filter.platform = q.platform;
      if (q.status) filter.status = q.status;
      if (q.cursor) filter._id = { $lt: new Types.ObjectId(q.cursor) };
      const docs = await ChannelModel.find(filter).sort({ _id: -1 }).limit(q.limit + 1).lean<ChannelDoc[]>();
      const page = docs.slice(0, q.limit);
      return c.json({ data: page.map(toChannelView), nextCursor: docs.length > q.limit ? String(page[page.length - 1]!._id) : null }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/channels/{id}', tags: ['channels'], summary: 'One channel', security,
      request: { params: IdParams },
      responses: { 200: { description: 'The channel', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json({ channel: toChannelView(await findChannel(c.get('caller').tenantId, c.req.valid('param').id)) }, 200),
  );

  router.openapi(
    createRoute({
      method: 'patch', path: '/v1/channels/{id}', tags: ['channels'], summary: 'Rename a channel or set its send rate', security,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams, body: { content: { 'application/json': { schema: UpdateChannel } }, required: true } },
      responses: { 200: { description: 'The channel', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } }, ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const ch = await findChannel(c.get('caller').tenantId, c.req.valid('param').id);
      const body = c.req.valid('json');
      const max = SEND_RATE[ch.platform].max;
      if (body.sendRatePerSecond != null && body.sendRatePerSecond > max) {
        throw new AppError(400, 'send_rate_too_high', `sendRatePerSecond: ${ch.platform} allows at most ${max} messages per second (${SEND_RATE[ch.platform].source})`);
      }
      const set = { ...(body.name !== undefined ? { name: body.name } : {}), ...(typeof body.sendRatePerSecond === 'number' ? { sendRatePerSecond: body.sendRatePerSecond } : {}) };
      await ChannelModel.updateOne({ _id: ch._id }, {
        ...(Object.keys(set).length > 0 ? { $set: set } : {}),
        ...(body.sendRatePerSecond === null ? { $unset: { sendRatePerSecond: 1 } } : {}),
      });
      return c.json({ channel: toChannelView(await findChannel(c.get('caller').tenantId, String(ch._id))) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/channels/{id}/sync', tags: ['channels'], summary: 'Sync now', security,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 202: { description: 'Sync requested', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } }, ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const ch = await findChannel(c.get('caller').tenantId, c.req.valid('param').id);
      if (ch.status === 'disconnected') throw new AppError(409, 'channel_disconnected', 'The channel is disconnected');
      await deps.temporal.workflow.getHandle(ch.workflowId).signal(syncNowSignal).catch(() => { throw unavailable('sync'); });
      return c.json({ channel: toChannelView(ch) }, 202);
    },
  );

  for (const [path, update, summary] of [
    ['test', testConnectionUpdate, 'Test the connection with a cheap authenticated call'],
    ['refresh', refreshNowUpdate, 'Refresh the access token now'],
  ] as const) {
    router.openapi(
      createRoute({
        method: 'post', path: `/v1/channels/{id}/${path}`, tags: ['channels'], summary, security,
        middleware: [requireRole('admin')] as const,
        request: { params: IdParams },
        responses: { 200: { description: 'What happened', content: { 'application/json': { schema: ActionResult } } }, ...errorResponses(400, 401, 403, 404, 409, 503) },
      }),
      async (c) => {
        const ch = await findChannel(c.get('caller').tenantId, c.req.valid('param').id);
        if (ch.status === 'disconnected' || ch.status === 'pending_auth') throw new AppError(409, 'channel_not_connected', `The channel is ${ch.status}`);
        const outcome = await deps.temporal.workflow.getHandle(ch.workflowId).executeUpdate(update).catch(() => { throw unavailable(path); });
        return c.json(outcome, 200);
      },
    );
  }

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/channels/{id}/reconnect', tags: ['channels'], summary: 'Reconnect (after reauth_required, or to retry consent)', security,
      description: 'OAuth platforms answer with a fresh `authorizeUrl`; credential platforms take new credentials and are validated at once. Sync resumes from the saved cursor.',
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams, body: { required: false, content: { 'application/json': { schema: z.object({ credentials: z.record(z.string(), z.unknown()).optional() }) } } } },
      responses: {
        200: { description: 'Reconnect started or done', content: { 'application/json': { schema: z.object({ channel: ChannelView, authorizeUrl: z.string().nullable(), result: ActionResult.nullable() }) } } },
        422: { description: 'The platform refused the credentials', content: { 'application/json': { schema: z.object({ error: z.object({ code: z.string(), message: z.string() }) }) } } },
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const ch = await findChannel(c.get('caller').tenantId, c.req.valid('param').id);
      if (ch.status === 'disconnected') throw new AppError(409, 'channel_disconnected', 'The channel is disconnected; connect a new one');
      const adapter = adapterFor(ch.platform)!;
      if (adapter.usesOAuth) {
        const authorizeUrl = await newAuthorizeUrl({ _id: ch._id, tenantId: String(ch.tenantId), platform: ch.platform });
        return c.json({ channel: toChannelView(ch), authorizeUrl, result: null }, 200);
      }
      const body = (await c.req.json().catch(() => ({}))) as { credentials?: Record<string, unknown> };
      if (!body.credentials) throw new AppError(400, 'validation_failed', `body.credentials: ${ch.platform} needs credentials to reconnect`);
      await ChannelModel.updateOne({ _id: ch._id }, { $set: { pendingAuth: seal(JSON.stringify({ kind: 'credentials', values: body.credentials } satisfies PendingAuth), deps.keys) } });
      const result = await deps.temporal.workflow.getHandle(ch.workflowId).executeUpdate(connectUpdate).catch(() => { throw unavailable('reconnect'); });
      if (!result.ok) throw new AppError(422, 'credentials_refused', result.message);
      return c.json({ channel: toChannelView((await ChannelModel.findById(ch._id).lean<ChannelDoc>())!), authorizeUrl: null, result }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete', path: '/v1/channels/{id}', tags: ['channels'], summary: 'Disconnect a channel', security,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: {
        202: { description: 'Disconnect requested; the workflow revokes access and stops', content: { 'application/json': { schema: z.object({ channel: ChannelView }) } } },
        ...errorResponses(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const ch = await findChannel(c.get('caller').tenantId, c.req.valid('param').id);
      if (ch.status !== 'disconnected') {
        await deps.temporal.workflow.getHandle(ch.workflowId).signal(disconnectSignal, { reason: 'disconnected by API' }).catch((err) => {
          c.get('log').error({ err }, 'could not signal channel workflow');
          throw unavailable('disconnect');
        });
      }
      return c.json({ channel: toChannelView(ch) }, 202);
    },
  );

  router.openapi(
    createRoute({
      method: 'get', path: '/v1/capabilities', tags: ['channels'], summary: 'What each platform can do here', security,
      responses: {
        200: { description: 'Per platform', content: { 'application/json': { schema: z.object({ data: z.array(z.object({ platform: z.enum(PLATFORMS), can_connect: z.boolean(), can_read: z.boolean(), can_send: z.boolean(), oauth: z.boolean(), reason: z.string().nullable() })) }) } } },
        ...errorResponses(401),
      },
    }),
    (c) => c.json({
      data: PLATFORMS.map((platform) => {
        const adapter = adapterFor(platform);
        const disabled = deps.disabled?.has(platform) ?? false;
        const caps = disabled ? [] : adapter?.capabilities() ?? [];
        const canRead = caps.includes('read') || caps.includes('history');
        const reason = disabled ? `switched off on this server (${platformFlag(platform)}=false)`
          : !adapter ? 'no adapter for this platform yet'
          : !caps.includes('history') ? 'this platform offers no history API: messages arrive by webhook only' : null;
        return { platform, can_connect: !!adapter && !disabled, can_read: canRead, can_send: caps.includes('send'), oauth: adapter?.usesOAuth ?? false, reason };
      }),
    }, 200),
  );

  return router;
}
