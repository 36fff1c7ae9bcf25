// The `meta` platform: Facebook Login, Instagram Login, the Graph API for Messenger and
// Instagram messaging, and their webhooks, over the sandbox's host-prefixed paths
// (/www.facebook.com, /graph.facebook.com, /www.instagram.com, /api.instagram.com,
// /graph.instagram.com). See meta/*.ts for each part; this file wires routes and the world.
import { Hono, type Context } from 'hono';
import { accountsApi } from './meta/accounts';
import { Errors } from './meta/errors';
import { accessTokenOf, authenticate, graphPath, metaRoute, PLATFORM, requestParams, UsageMeter, type BucType, type GraphPath, type MetaEnv } from './meta/http';
import { messagingApi } from './meta/messaging';
import { debugToken, facebookDialog, facebookTokenEndpoint, instagramCodeExchange, instagramDialog, instagramLongLived } from './meta/oauth';
import { SEED_IDS, seedAccounts, seedHistory, seedTokens, type SeededTokens } from './meta/seed';
import { MetaWorld, PAGE_INBOX_APP_ID, type Channel } from './meta/state';
import { MetaWebhooks, verifySubscription } from './meta/webhooks';
import type { CustomerMessageInput, PlatformFactory, PlatformModule } from './types';

export { escapeLikeMeta, metaJson, signMetaBody } from './meta/signing';

export interface MetaPlatformModule extends PlatformModule {
  /** A reply the business typed in Meta's own apps (Page inbox / Instagram app): stored and echoed with the inbox app id. */
  businessWritesFromNativeApp(input: CustomerMessageInput): Promise<{ messageId: string; accountId: string; customerId: string }>;
  /** Meta's GET verification handshake against our endpoint (default: the meta webhook target and the app's verify token). */
  verifyWebhook(input?: { url?: string; verifyToken?: string; challenge?: string }): Promise<{ status: number; body: string; verified: boolean }>;
}

/** A 1×1 PNG served for every sandbox media URL (attachments, profile pictures). */
const PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

export const createMetaPlatform: PlatformFactory = (ctx) => {
  const world = new MetaWorld();
  const env: MetaEnv = { ctx, world, usage: new UsageMeter(ctx.now) };
  const webhooks = new MetaWebhooks(env);
  const accounts = accountsApi(env);
  const messaging = messagingApi(env, webhooks);
  const tokenEndpoint = facebookTokenEndpoint(env);
  const igCodeExchange = instagramCodeExchange(env);
  const igLongLived = instagramLongLived(env);
  const debug = debugToken(env);
  let seeded: SeededTokens | undefined;
  seedAccounts(world);

  const app = new Hono();
  const fb = (p: GraphPath) => p.host === 'graph.facebook.com';

  // --- sandbox control paths (not Meta endpoints; not recorded, no faults) -------------------
  app.get('/graph.facebook.com/__sandbox/media/:asset', (c) => c.body(PIXEL_PNG, 200, { 'content-type': 'image/png', 'cache-control': 'max-age=3600' }));
  app.post('/graph.facebook.com/__sandbox/native-send', async (c) => {
    const input = await c.req.json().catch(() => ({})) as CustomerMessageInput;
    try { return c.json(await module.businessWritesFromNativeApp(input), 201); } catch (err) { return c.json({ error: (err as Error).message }, 400); }
  });
  app.post('/graph.facebook.com/__sandbox/verify-webhook', async (c) => {
    const input = await c.req.json().catch(() => ({})) as { url?: string; verifyToken?: string; challenge?: string };
    try { return c.json(await module.verifyWebhook(input)); } catch (err) { return c.json({ error: (err as Error).message }, 400); }
  });

  // --- dialogs -------------------------------------------------------------------------------
  app.on(['GET', 'POST'], ['/www.facebook.com/:ver/dialog/oauth', '/www.facebook.com/dialog/oauth'],
    metaRoute(env, { name: 'oauth.dialog', style: 'html' }, facebookDialog(env)));
  app.on(['GET', 'POST'], ['/www.instagram.com/oauth/authorize', '/api.instagram.com/oauth/authorize'],
    metaRoute(env, { name: 'ig.oauth.authorize', style: 'instagram-oauth' }, instagramDialog(env)));
  app.post('/api.instagram.com/oauth/access_token', metaRoute(env, { name: 'ig.oauth.access_token', style: 'instagram-oauth' }, (c, raw) => {
    const form = new URLSearchParams(raw);
    for (const [k, v] of Object.entries(c.req.query())) if (!form.has(k)) form.set(k, v);
    return c.body(igCodeExchange(form), 200, { 'content-type': 'application/json; charset=UTF-8' });
  }));

  // --- Graph ---------------------------------------------------------------------------------
  /** Ids this module knows, so shared graph.facebook.com paths are claimed only when they are ours. */
  const knownId = (id: string) => id === 'me' || id === world.user.id || world.pages.has(id) || world.igAccounts.has(id) || world.conversations.has(id) || world.messages.has(id) || world.customers.has(id);
  const foreignCredential = (value: string | undefined) => {
    const t = ctx.tokens.get(value);
    return !!t && t.platform !== PLATFORM;
  };
  /**
   * graph.facebook.com is shared with WhatsApp: we claim our own ids (and `me`) unless the request
   * carries another platform's credential, and an unknown id only with one of our tokens.
   * graph.instagram.com is ours alone.
   */
  const claims = (p: GraphPath, c: Context) => {
    if (!fb(p)) return true;
    const seg = p.segs[0] ?? '';
    if (seg === 'oauth') return !foreignCredential(c.req.query('code')) && !foreignCredential(c.req.query('fb_exchange_token'));
    if (seg === 'debug_token') return !foreignCredential(c.req.query('input_token'));
    const token = accessTokenOf(c);
    if (knownId(seg)) return !foreignCredential(token);
    return ctx.tokens.get(token)?.platform === PLATFORM;
  };
  /** The messaging channel a request is about (for rate-limit fault rendering); undefined when it is not messaging. */
  const channelOf = (c: Context): Channel | undefined => {
    const p = graphPath(c);
    if (!p) return undefined;
    if (!fb(p) || c.req.query('platform') === 'instagram') return 'instagram';
    const id = p.segs[0] ?? '';
    const conv = world.conversations.get(id) ?? world.conversations.get(world.messages.get(id)?.conversationId ?? '');
    if (conv) return conv.channel;
    if (world.igAccounts.has(id)) return 'instagram';
    return world.pages.has(id) || id === 'me' ? 'messenger' : undefined;
  };
  const sendBuc = (c: Context): BucType | undefined => channelOf(c);
  const readBuc = (c: Context): BucType | undefined => {
    const channel = channelOf(c);
    return channel === 'messenger' ? 'pages' : channel;
  };
  const bucByEndpoint: Record<string, (c: Context) => BucType | undefined> = { send: sendBuc, message_attachments: sendBuc, conversations: readBuc, messages: readBuc, node: (c) => (world.conversations.has(graphPath(c)?.segs[0] ?? '') || world.messages.has(graphPath(c)?.segs[0] ?? '') ? readBuc(c) : undefined) };
  const objectOf = (c: Context) => {
    const p = graphPath(c);
    const id = p?.segs[0];
    if (!id || id === 'me') return ctx.tokens.get(accessTokenOf(c))?.subject;
    return world.conversations.get(id)?.accountId ?? id;
  };

  type Handler = (c: Context, raw: string, p: GraphPath) => Record<string, unknown> | Promise<Record<string, unknown>>;
  const graph = (name: string, methods: string[], match: (p: GraphPath, c: Context) => boolean, handler: Handler) => {
    app.on(methods, ['/graph.facebook.com/*', '/graph.instagram.com/*'], metaRoute(env, {
      name, objectOf, bucOf: bucByEndpoint[name],
      owns: (c) => { const p = graphPath(c); return !!p && match(p, c) && claims(p, c); },
    }, async (c, raw) => c.json(await handler(c, raw, graphPath(c)!))));
  };
  const segs = (p: GraphPath, ...pattern: (string | null)[]) => p.segs.length === pattern.length && pattern.every((s, i) => s === null || s === p.segs[i]);
  const auth = (c: Context, p: GraphPath, params?: Record<string, unknown>) => authenticate(env, c, p.host, params);

  graph('oauth.access_token', ['GET', 'POST'], (p) => fb(p) && segs(p, 'oauth', 'access_token'), (c, raw) => tokenEndpoint(requestParams(c, raw)));
  graph('debug_token', ['GET'], (p) => fb(p) && segs(p, 'debug_token'), (c, raw) => debug(requestParams(c, raw), accessTokenOf(c)));
  graph('ig.access_token', ['GET'], (p) => !fb(p) && segs(p, 'access_token'), (c, raw) => {
    const params = requestParams(c, raw);
    return igLongLived.exchange(params, accessTokenOf(c, params));
  });
  graph('ig.refresh_access_token', ['GET'], (p) => !fb(p) && segs(p, 'refresh_access_token'), (c, raw) => {
    const params = requestParams(c, raw);
    return igLongLived.refresh(params, accessTokenOf(c, params));
  });
  graph('me.accounts', ['GET'], (p) => fb(p) && (segs(p, 'me', 'accounts') || segs(p, world.user.id, 'accounts')), (c, _raw, p) => accounts.accounts(c, auth(c, p)));
  graph('me.permissions', ['GET', 'DELETE'], (p) => fb(p) && (segs(p, 'me', 'permissions') || segs(p, world.user.id, 'permissions')), (c, raw, p) => accounts.permissions(c, auth(c, p, requestParams(c, raw))));
  graph('subscribed_apps', ['GET', 'POST', 'DELETE'], (p) => segs(p, null, 'subscribed_apps'), (c, raw, p) => {
    const params = requestParams(c, raw);
    return accounts.subscribedApps(c, p, auth(c, p, params), params);
  });
  graph('conversations', ['GET'], (p) => segs(p, null, 'conversations'), (c, _raw, p) => messaging.conversations(c, p, auth(c, p)));
  graph('messages', ['GET'], (p) => segs(p, null, 'messages') && world.conversations.has(p.segs[0]!), (c, _raw, p) => messaging.conversationMessages(c, p, world.conversations.get(p.segs[0]!)!, auth(c, p)));
  graph('send', ['POST'], (p) => segs(p, null, 'messages') && !world.conversations.has(p.segs[0]!), (c, raw, p) => {
    const params = requestParams(c, raw);
    return messaging.send(c, p, auth(c, p, params), params);
  });
  graph('message_attachments', ['POST'], (p) => segs(p, null, 'message_attachments'), (c, raw, p) => {
    const params = requestParams(c, raw);
    return messaging.uploadAttachment(p, auth(c, p, params), params);
  });
  graph('node', ['GET'], (p) => segs(p, null) && p.segs[0] !== '__sandbox', (c, _raw, p) => {
    const id = p.segs[0]!;
    const token = auth(c, p);
    if (id === 'me') return accounts.me(c, token, p);
    const page = fb(p) ? world.pages.get(id) : undefined;
    if (page) return accounts.pageNode(c, page, token);
    const ig = fb(p) ? world.igAccounts.get(id) : world.igByAnyId(id);
    if (ig) return accounts.igNode(c, ig, token, p.host);
    const conv = world.conversations.get(id);
    if (conv) return messaging.conversationNode(c, p, conv, token);
    const message = world.messages.get(id);
    if (message) return messaging.messageNode(c, message, token);
    const customer = world.customers.get(id);
    if (customer) return messaging.profile(c, customer, token);
    if (id === world.user.id && fb(p)) return accounts.me(c, token, p);
    throw Errors.unsupported('GET', id);
  });
  // Anything else on our hosts: Graph's own "unknown path" error (on graph.facebook.com only for our tokens).
  graph('unknown', ['GET', 'POST', 'DELETE'], (p, c) => !fb(p) || ctx.tokens.get(accessTokenOf(c))?.platform === PLATFORM, (c, _raw, p) => {
    auth(c, p);
    throw Errors.unknownPath(p.segs.join('/'));
  });

  // --- module --------------------------------------------------------------------------------
  function resolveAccount(accountId: string | undefined): { accountId: string; channel: Channel } {
    const id = accountId ?? SEED_IDS.messengerPage;
    const ig = world.igByAnyId(id);
    if (ig) return { accountId: ig.id, channel: 'instagram' };
    if (world.pages.has(id)) return { accountId: id, channel: 'messenger' };
    throw new Error(`unknown Meta account "${id}" (pages: ${[...world.pages.keys()].join(', ')}; instagram: ${[...world.igAccounts.keys()].join(', ')})`);
  }

  const module: MetaPlatformModule = {
    name: PLATFORM,
    routes: app,

    seed(options) {
      seedHistory(ctx, world, options.conversations, options.messagesPerConversation);
      seeded ??= seedTokens(ctx, world);
    },

    async customerWrites(input) {
      const { accountId, channel } = resolveAccount(input.accountId);
      const customer = world.customer(accountId, channel, input.customerId);
      const conv = world.conversation(accountId, channel, customer.id);
      const message = world.addMessage(conv, {
        createdAt: ctx.now(),
        fromBusiness: false,
        ...(input.text !== undefined || !input.media ? { text: input.text ?? 'Hi! Is this still available?' } : {}),
        ...(input.media ? { attachments: [{ id: world.numericId('19'), type: 'image' as const, url: `${ctx.publicUrl()}/graph.facebook.com/__sandbox/media/${world.numericId('55')}.png`, mimeType: 'image/png', name: 'photo.png', size: PIXEL_PNG.length }] } : {}),
      });
      webhooks.customerMessage(conv, message);
      return { messageId: message.id, accountId, customerId: customer.id };
    },

    async businessWritesFromNativeApp(input) {
      const { accountId, channel } = resolveAccount(input.accountId);
      const customer = world.customer(accountId, channel, input.customerId);
      const conv = world.conversation(accountId, channel, customer.id);
      // Replies typed in Meta's inbox echo with the Page inbox app id (Instagram: no app id).
      const message = world.addMessage(conv, {
        createdAt: ctx.now(), fromBusiness: true, text: input.text ?? 'Thanks, we will check.',
        ...(channel === 'messenger' ? { appId: PAGE_INBOX_APP_ID } : {}),
      });
      webhooks.echo(conv, message);
      return { messageId: message.id, accountId, customerId: customer.id };
    },

    async verifyWebhook(input = {}) {
      const url = input.url ?? ctx.webhooks.target(PLATFORM);
      if (!url) throw new Error('no webhook target for meta (PUT /__admin/webhooks/targets/meta)');
      return verifySubscription(url, input.verifyToken ?? ctx.apps.get('meta').extra.verifyToken ?? '', input.challenge ?? String(1_000_000_000 + Math.floor(ctx.random.next() * 1e9)));
    },

    describe() {
      const base = ctx.publicUrl();
      const metaApp = ctx.apps.get('meta');
      const igApp = ctx.apps.get('instagram');
      return {
        baseUrls: {
          facebookDialog: `${base}/www.facebook.com`, graph: `${base}/graph.facebook.com`,
          instagramAuthorize: `${base}/www.instagram.com`, instagramApi: `${base}/api.instagram.com`, instagramGraph: `${base}/graph.instagram.com`,
        },
        apps: {
          facebook: { appId: metaApp.id, appSecret: metaApp.secret, redirectUris: metaApp.redirectUris, webhookVerifyToken: metaApp.extra.verifyToken },
          instagram: { appId: igApp.id, appSecret: igApp.secret, redirectUris: igApp.redirectUris },
        },
        user: world.user,
        pages: [...world.pages.values()].map((p) => ({ id: p.id, name: p.name, instagramBusinessAccount: p.igAccountId ?? null, pageAccessToken: seeded?.pages[p.id], subscribedFields: [...p.subscribedFields] })),
        instagramLogin: [...world.igAccounts.values()].filter((ig) => !ig.pageId).map((ig) => ({ id: ig.id, appScopedId: ig.appScopedId, username: ig.username, accessToken: seeded?.instagramLogin })),
        userAccessToken: seeded?.userLong,
        dialogs: {
          facebook: `${base}/www.facebook.com/v25.0/dialog/oauth?client_id=${metaApp.id}&redirect_uri=…&state=…&scope=pages_show_list,pages_messaging,…`,
          instagram: `${base}/www.instagram.com/oauth/authorize?client_id=${igApp.id}&redirect_uri=…&response_type=code&scope=instagram_business_basic,instagram_business_manage_messages&state=…`,
          drive: 'Without a browser add sandbox_action=approve|deny (302 straight to redirect_uri); sandbox_decline=scope1,scope2 grants fewer scopes (see debug_token / GET /me/permissions). Instagram: sandbox_response_shape=flat (default; user_id is a bare 17-digit JSON number) or data (documented {"data":[…]} with permissions as CSV) picks the code-exchange shape; sandbox_account={ig-id} logs in as another IG account. The HTML page POSTs the same path with consent_form=1, action=approve|deny and checked granted_scopes.',
        },
        webhooks: {
          target: ctx.webhooks.target(PLATFORM) ?? null,
          signing: 'X-Hub-Signature-256: sha256=hex(HMAC-SHA256(app secret, exact body)); body ASCII-escaped (\\uXXXX, \\/). Messenger and Page-linked Instagram use the Facebook app secret; Instagram Login accounts use the Instagram app secret.',
          events: 'customer message; after every send: echo (is_echo, app_id, metadata), then Messenger delivery + read (watermarks) or Instagram messaging_seen (read.mid). Only for subscribed Pages/accounts (seeded subscribed).',
          nativeAppReply: `POST ${base}/graph.facebook.com/__sandbox/native-send {accountId, customerId, text} → echo with app_id ${PAGE_INBOX_APP_ID}`,
          verifyHandshake: `POST ${base}/graph.facebook.com/__sandbox/verify-webhook {url?, verifyToken?, challenge?}`,
        },
        faultEndpoints: ['oauth.dialog', 'oauth.access_token', 'debug_token', 'me.accounts', 'me.permissions', 'subscribed_apps', 'conversations', 'messages', 'node', 'send', 'message_attachments', 'ig.oauth.authorize', 'ig.oauth.access_token', 'ig.access_token', 'ig.refresh_access_token'],
        counts: { conversations: world.conversations.size, messages: world.messages.size, customers: world.customers.size },
      };
    },
  };
  return module;
};
