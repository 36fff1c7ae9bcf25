// TikTok simulator: Login Kit OAuth v2 (www.tiktok.com, open.tiktokapis.com) and the Business
// Messaging API for DMs (business-api.tiktok.com/open_api/v1.3), with signed DM webhooks.
import { Hono } from 'hono';
import type { SandboxContext } from '../../core/context';
import type { CustomerMessageInput, PlatformModule, SeedOptions } from '../types';
import { registerBusinessRoutes, TIKTOK_CODES } from './business';
import { registerOAuthRoutes } from './oauth';
import { DEFAULT_TIKTOK_OPTIONS, PLATFORM, TikTokWorld, type TikTokOptions } from './world';

export { signTikTokWebhook, tiktokSignature } from './signature';
export { TIKTOK_CODES } from './business';
export type { TikTokOptions } from './world';

export interface TikTokPlatform extends PlatformModule {
  /** State and options of this instance (tests may toggle `world.options.enforceWindow`). */
  world: TikTokWorld;
}

const CUSTOMER_LINES = ['Hi! Is this still available?', 'Do you ship to Lisbon?', 'What sizes do you have?', 'Thanks!', 'Can I pay on delivery?'];
const BUSINESS_LINES = ['Hello! Yes, it is.', 'We do, 3-5 days.', 'S, M and L.', 'You are welcome!'];

export function createTikTokPlatform(ctx: SandboxContext, options: Partial<TikTokOptions> = {}): TikTokPlatform {
  const world = new TikTokWorld(ctx, { ...DEFAULT_TIKTOK_OPTIONS, ...options });
  const routes = new Hono();
  registerOAuthRoutes(routes, world);
  registerBusinessRoutes(routes, world);

  function seed({ conversations, messagesPerConversation }: SeedOptions): void {
    const account = world.addAccount('switchboard_shop', 'Switchboard Shop');
    const now = ctx.now();
    for (let i = 0; i < conversations; i++) {
      const user = world.addUser(`-000user${String(i + 1).padStart(4, '0')}${ctx.id('', 6)}`, `customer_${i + 1}`);
      const conv = world.conversationWith(account.businessId, user.id);
      // History spread over the last hours; the user writes last, so every reply window is open.
      for (let j = 0; j < messagesPerConversation; j++) {
        const fromUser = (messagesPerConversation - 1 - j) % 2 === 0;
        const at = now - (conversations - i) * 3600_000 - (messagesPerConversation - j) * 60_000;
        world.addMessage(conv, {
          timestamp: at, type: 'text',
          text: fromUser ? CUSTOMER_LINES[j % CUSTOMER_LINES.length] : BUSINESS_LINES[j % BUSINESS_LINES.length],
          fromId: fromUser ? user.id : account.businessId, toId: fromUser ? account.businessId : user.id,
        });
      }
    }
  }

  async function customerWrites(input: CustomerMessageInput) {
    const account = (input.accountId ? world.accounts.get(input.accountId) : undefined) ?? [...world.accounts.values()][0];
    if (!account) throw new Error(input.accountId ? `no TikTok business account ${input.accountId}` : 'no TikTok business account seeded');
    const user = world.addUser(input.customerId ?? `-000user${ctx.id('', 10)}`);
    const conv = world.conversationWith(account.businessId, user.id);
    const media = input.media ? world.pixelMedia(account.businessId) : undefined;
    const msg = world.addMessage(conv, {
      timestamp: ctx.now(), type: media ? 'image' : 'text', text: media ? undefined : (input.text ?? 'Hello from a TikTok customer'),
      mediaId: media?.mediaId, fromId: user.id, toId: account.businessId,
    });
    world.emit('im_receive_msg', account.businessId, world.messageContent(msg));
    // A caption sent with an image arrives as its own text message, as DMs carry one item each.
    if (media && input.text) {
      const caption = world.addMessage(conv, { timestamp: ctx.now(), type: 'text', text: input.text, fromId: user.id, toId: account.businessId });
      world.emit('im_receive_msg', account.businessId, world.messageContent(caption));
    }
    return { messageId: msg.messageId, accountId: account.businessId, customerId: user.id };
  }

  function describe(): Record<string, unknown> {
    const app = ctx.apps.get(PLATFORM);
    const base = ctx.publicUrl();
    return {
      baseUrls: {
        authorize: `${base}/www.tiktok.com/v2/auth/authorize/`,
        openApi: `${base}/open.tiktokapis.com`,
        businessApi: `${base}/business-api.tiktok.com/open_api/v1.3`,
      },
      app: { client_key: app.id, client_secret: app.secret, redirectUris: app.redirectUris },
      accounts: [...world.accounts.values()].map((a) => ({
        business_id: a.businessId, username: a.username, display_name: a.displayName,
        conversations: world.conversationsOf(a.businessId).map((c) => ({ conversation_id: c.conversationId, user_id: c.userId, messages: c.messages.length })),
      })),
      authorize: 'GET the authorize URL; without a browser add sandbox_decision=approve|deny (optional sandbox_account=<business_id|username>, sandbox_scopes=<comma list, a subset>) to get the 302 to redirect_uri at once. The HTML page posts decision=approve|deny.',
      tokens: `Token kinds "access" (act.…) and "refresh" (rft.…); defaults ${world.options.accessTtlSeconds}s / ${world.options.refreshTtlSeconds}s, overridable with PUT /__admin/tokens/ttl {platform:"tiktok",kind}. Refresh tokens rotate: a used one gets invalid_grant.`,
      webhooks: 'DM events POSTed to the tiktok webhook target (or the callback_url set via /business/webhook/update/): {event, user_openid, create_time (s), content (JSON string, timestamp in ms)}; header TikTok-Signature: t=<s>,s=hex(HMAC-SHA256(client_secret, t + "." + body)). Events: im_receive_msg (customer), im_send_msg (echo of business sends).',
      rules: `Replies allowed ${world.options.windowHours} h after the user's last message, at most ${world.options.messagesPerWindow} per window (enforceWindow=${world.options.enforceWindow}); daily cap ${world.options.dailyConversationCap} conversations → ${TIKTOK_CODES.SENDING_TOO_FAST}.`,
      errorCodes: TIKTOK_CODES,
      unverifiedEndpoints: ['GET /business/message/conversation/list/', 'GET /business/message/content/list/'],
    };
  }

  return { name: PLATFORM, routes, seed, customerWrites, describe, world };
}
