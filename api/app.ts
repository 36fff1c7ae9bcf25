// The HTTP API: small route modules mounted on one app, with one error handler.
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { requireApiKey } from './auth/middleware';
import { onError, onNotFound } from './errors';
import { newRouter } from './router';
import { apiKeyRoutes } from './routes/api-keys';
import { channelRoutes } from './routes/channels';
import { docsRoutes } from './routes/docs';
import { healthRoutes, type ReadinessChecks } from './routes/health';
import { AppError } from '../lib/errors';
import type { EncryptionKey } from '../lib/crypto';
import { stateSigningKey } from '../lib/oauth-state';
import type { PlatformConfig } from '../lib/platform-config';
import type { Platform } from '../lib/domain/channel';
import { oauthRoutes } from './routes/oauth';
import { webhookRoutes } from './routes/webhooks';
import { webhookEventRoutes } from './routes/webhook-events';
import { conversationRoutes } from './routes/conversations';
import { contactRoutes } from './routes/contacts';
import { messageRoutes } from './routes/messages';
import { isMediaUpload, mediaLinkRoutes, mediaRoutes } from './routes/media';
import { analyticsRoutes } from './routes/analytics';
import { eventRoutes } from './routes/events';
import { webhookEndpointRoutes } from './routes/webhook-endpoints';
import { ChannelDirectory } from './webhooks/directory';
import { WebhookIntake } from './webhooks/intake';
import { WEBHOOK_SOURCES, webhookSecrets } from './webhooks/sources';
import { ChannelWaker } from './webhooks/waker';

export interface AppDeps {
  log: Logger;
  temporal: Client;
  taskQueue: string;
  readiness: ReadinessChecks;
  keys: EncryptionKey[];
  platforms: PlatformConfig;
  /** Public base URL of this API (OAuth redirect URI = `${publicUrl}/v1/oauth/callback`). */
  publicUrl: string;
  syncIntervalSeconds?: number;
  /** Platforms switched off (<PLATFORM>_ENABLED=false). */
  disabledPlatforms?: Set<Platform>;
  maxBodyBytes?: number;
  /** Webhook intake (built from the other deps when not given). */
  intake?: WebhookIntake;
}

/** The webhook hot path's parts, built once per process. */
export function createWebhookIntake(deps: Pick<AppDeps, 'log' | 'temporal' | 'keys' | 'platforms'>): WebhookIntake {
  return new WebhookIntake({
    sources: WEBHOOK_SOURCES,
    secrets: webhookSecrets(deps.platforms),
    directory: new ChannelDirectory({ keys: deps.keys }),
    waker: new ChannelWaker(deps.temporal, deps.log),
    log: deps.log.child({ component: 'webhooks' }),
  });
}

export function createApp(deps: AppDeps) {
  const app = newRouter();

  app.use('*', requestId());
  app.use('*', async (c, next) => {
    const started = performance.now();
    const log = deps.log.child({ reqId: c.get('requestId') });
    c.set('log', log);
    await next();
    // The path only: query strings can carry OAuth codes.
    log.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  const defaultBodyLimit = bodyLimit({
    maxSize: deps.maxBodyBytes ?? 1024 * 1024,
    onError: () => { throw new AppError(413, 'payload_too_large', `Request body is larger than ${deps.maxBodyBytes ?? 1024 * 1024} bytes`); },
  });
  // Uploads carry a larger limit of their own (api/routes/media.ts), checked after the API key.
  app.use('*', (c, next) => (isMediaUpload(c) ? next() : defaultBodyLimit(c, next)));

  app.route('/', healthRoutes(deps.readiness));
  app.route('/', docsRoutes());

  // Platform webhooks: authenticated by their signatures, not API keys.
  app.route('/', webhookRoutes({ intake: deps.intake ?? createWebhookIntake(deps), publicUrl: deps.publicUrl }));
  // Uploaded media for platforms to fetch: authenticated by the link's signature.
  app.route('/', mediaLinkRoutes({ keys: deps.keys }));

  const stateKey = stateSigningKey(deps.keys);
  const redirectUri = `${deps.publicUrl.replace(/\/$/, '')}/v1/oauth/callback`;
  // The OAuth callback is reached by the user's browser, authenticated by its signed state.
  app.route('/', oauthRoutes({ temporal: deps.temporal, keys: deps.keys, stateKey, redirectUri }));
  app.use('/v1/*', async (c, next) => (c.req.path === '/v1/oauth/callback' ? next() : requireApiKey(c, next)));
  app.route('/', apiKeyRoutes());
  app.route('/', webhookEventRoutes());
  app.route('/', analyticsRoutes());
  app.route('/', conversationRoutes({ temporal: deps.temporal, taskQueue: deps.taskQueue, platforms: deps.platforms }));
  app.route('/', contactRoutes());
  app.route('/', messageRoutes({ temporal: deps.temporal, taskQueue: deps.taskQueue, tenantNetwork: deps.platforms.tenantNetwork }));
  app.route('/', mediaRoutes());
  app.route('/', eventRoutes());
  app.route('/', webhookEndpointRoutes({ temporal: deps.temporal, taskQueue: deps.taskQueue, keys: deps.keys, tenantNetwork: deps.platforms.tenantNetwork }));
  app.route('/', channelRoutes({ temporal: deps.temporal, taskQueue: deps.taskQueue, keys: deps.keys, stateKey, platforms: deps.platforms, redirectUri, syncIntervalSeconds: deps.syncIntervalSeconds, disabled: deps.disabledPlatforms }));

  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer sbk_…`',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Switchboard API', version: '0.1.0', description: 'One inbox for Instagram, Messenger, WhatsApp, TikTok, Gmail and email.' },
  });

  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}
