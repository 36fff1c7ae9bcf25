// The default Meta world: a business user who manages a Messenger Page with no Instagram
// account and a Page linked to an Instagram business account, plus an Instagram Login
// account; each with `conversations × messagesPerConversation` of history, and ready-made
// tokens so scripts can call the Graph without running the dialog.
import type { SandboxContext } from '../../core/context';
import { CONFIG_SCOPES, TTL } from './oauth';
import { PLATFORM } from './http';
import { MetaWorld, type Channel } from './state';
import { DEFAULT_IG_FIELDS, DEFAULT_PAGE_FIELDS } from './webhooks';

export const SEED_IDS = {
  messengerPage: '101000000000001',
  linkedPage: '101000000000002',
  linkedIg: '17841400000000101',
  loginIg: '17841400000000202',
  loginIgAppScoped: '10200000000000202',
} as const;

export interface SeededTokens { userLong: string; pages: Record<string, string>; instagramLogin: string }

const TASKS = ['ADVERTISE', 'ANALYZE', 'CREATE_CONTENT', 'MESSAGING', 'MODERATE', 'MANAGE'];

export function seedAccounts(world: MetaWorld): void {
  if (world.pages.size) return;
  world.pages.set(SEED_IDS.messengerPage, { id: SEED_IDS.messengerPage, name: 'Sandbox Shop', category: 'Shopping & retail', tasks: TASKS, subscribedFields: new Set(DEFAULT_PAGE_FIELDS) });
  world.pages.set(SEED_IDS.linkedPage, { id: SEED_IDS.linkedPage, name: 'Sandbox Boutique', category: 'Clothing store', tasks: TASKS, igAccountId: SEED_IDS.linkedIg, subscribedFields: new Set(DEFAULT_PAGE_FIELDS) });
  world.igAccounts.set(SEED_IDS.linkedIg, { id: SEED_IDS.linkedIg, username: 'sandbox.boutique', name: 'Sandbox Boutique', pageId: SEED_IDS.linkedPage, appScopedId: '10200000000000101', accountType: 'BUSINESS', subscribedFields: new Set() });
  world.igAccounts.set(SEED_IDS.loginIg, { id: SEED_IDS.loginIg, username: 'sandbox.studio', name: 'Sandbox Studio', appScopedId: SEED_IDS.loginIgAppScoped, accountType: 'BUSINESS', subscribedFields: new Set(DEFAULT_IG_FIELDS) });
}

/** History per account: conversation i ends (i × 20 + 1) minutes ago with the customer's message, so the first ~70 are inside the 24 h window. */
export function seedHistory(ctx: SandboxContext, world: MetaWorld, conversations: number, perConversation: number): void {
  const now = ctx.now();
  const accounts: [string, Channel][] = [[SEED_IDS.messengerPage, 'messenger'], [SEED_IDS.linkedIg, 'instagram'], [SEED_IDS.loginIg, 'instagram']];
  for (const [accountId, channel] of accounts) {
    for (let i = 0; i < conversations; i++) {
      const customer = world.customer(accountId, channel);
      const conv = world.conversation(accountId, channel, customer.id);
      const lastAt = now - (i * 20 + 1) * 60_000;
      for (let j = 0; j < perConversation; j++) {
        const fromEnd = perConversation - 1 - j;
        const fromBusiness = fromEnd % 2 === 1;
        const createdAt = lastAt - fromEnd * 120_000;
        const withImage = !fromBusiness && j % 5 === 4;
        world.addMessage(conv, {
          createdAt,
          fromBusiness,
          text: fromBusiness ? `Reply ${j + 1} to ${customer.name.split(' ')[0]}` : `Message ${j + 1} from ${customer.name.split(' ')[0]} — ¿talla M?`,
          ...(withImage ? { attachments: [{ id: world.numericId('19'), type: 'image' as const, url: `${ctx.publicUrl()}/graph.facebook.com/__sandbox/media/seed-${conv.id}-${j}.png`, mimeType: 'image/png', name: `photo-${j}.png`, size: 68 }] } : {}),
          ...(fromBusiness ? { appId: ctx.apps.get(accountId === SEED_IDS.loginIg ? 'instagram' : 'meta').id } : {}),
        });
      }
      if (perConversation) conv.unread = 1;
    }
  }
}

/** Tokens as if the business had already connected: a long-lived user token, its Page tokens, and a long-lived Instagram Login token. */
export function seedTokens(ctx: SandboxContext, world: MetaWorld): SeededTokens {
  const scopes = ['public_profile', ...CONFIG_SCOPES];
  world.grants.set(world.user.id, { userId: world.user.id, granted: scopes, declined: [] });
  const dataAccessExpiresAt = ctx.now() + TTL.dataAccess * 1000;
  const user = ctx.tokens.issue({ platform: PLATFORM, kind: 'user_long', subject: world.user.id, app: 'meta', scopes, prefix: 'EAAB', ttlSeconds: TTL.userLong, meta: { userId: world.user.id, dataAccessExpiresAt } });
  const pages: Record<string, string> = {};
  const perUser = new Map<string, string>();
  for (const page of world.pages.values()) {
    const token = ctx.tokens.issue({ platform: PLATFORM, kind: 'page', subject: page.id, app: 'meta', scopes, prefix: 'EAAG', ttlSeconds: null, meta: { userId: world.user.id, parent: user.token, dataAccessExpiresAt } });
    pages[page.id] = token.token;
    perUser.set(page.id, token.token);
  }
  world.pageTokens.set(user.token, perUser);
  const ig = ctx.tokens.issue({ platform: PLATFORM, kind: 'ig_long', subject: SEED_IDS.loginIg, app: 'instagram', scopes: ['instagram_business_basic', 'instagram_business_manage_messages'], prefix: 'IGAA', ttlSeconds: TTL.igLong });
  return { userLong: user.token, pages, instagramLogin: ig.token };
}
