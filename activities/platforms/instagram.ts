// Instagram via Facebook Login: the Instagram professional account linked to a Facebook Page.
// The channel's account is the IG account; it speaks with the Page's access token (IG threads
// are listed on the Page with platform=instagram). Only the 20 newest messages of a thread are
// readable, so backfill is shallow; webhooks carry the rest.
// Reference: /work/shared/platforms/meta-oauth.md, messenger-instagram.md.
import type { PlatformConfig } from '../../lib/platform-config';
import {
  choosePage, facebookLogin, mask, pageTokenExpiry,
  permanent, str, type MetaAdapterOptions,
  token,
} from './meta';
import { fetchConversationsPage } from './meta/conversations';
import { FacebookPageAdapter } from './facebook-page';
import { refreshPageToken, subscribePage } from './messenger';
import type { AccountInfo, ConnectResult, Credentials, RefreshResult, SyncCursor, SyncPage } from './types';

export const INSTAGRAM_FB_SCOPES = ['instagram_basic', 'instagram_manage_messages', 'pages_manage_metadata', 'pages_show_list', 'pages_read_engagement'] as const;
export const NOT_LINKED = 'this Instagram account is not a business account linked to a Page';

interface IgAccountNode { id: string; username?: string; name?: string }

export class InstagramAdapter extends FacebookPageAdapter {
  readonly platform = 'instagram' as const;
  protected readonly scopes = INSTAGRAM_FB_SCOPES;

  constructor(config: PlatformConfig, opts: MetaAdapterOptions = {}) {
    super(config, opts, 'instagram');
  }

  /** The linked Page: the Send API and the Conversations API reach the IG account through it. */
  protected pageIdOf(credentials: Credentials, account: AccountInfo): string {
    const pageId = str(credentials.pageId);
    if (!pageId) throw permanent(this.platform, `no Page is stored for Instagram account ${account.id}; connect again`, 'no_page');
    return pageId;
  }

  async exchangeCode(input: { code: string; redirectUri: string; settings?: Record<string, unknown> }): Promise<ConnectResult> {
    const login = await facebookLogin(this.graph, this.cfg, { ...input, requiredScopes: INSTAGRAM_FB_SCOPES, pageFields: 'id,name,access_token,tasks,instagram_business_account{id,username}' });
    // Without settings.pageId: the first Page that has an Instagram business account linked.
    const { page, note } = choosePage(this.platform, login.pages, input.settings, (p) => !!p.instagram_business_account?.id, NOT_LINKED);
    if (!page.access_token) throw permanent(this.platform, `no Page access token was returned for Page ${page.id}`, 'no_page_token');
    // Confirm with the Page token (what the channel will use) and read the IG account's profile.
    const node = await this.graph.get<{ id: string; instagram_business_account?: IgAccountNode }>(`${this.cfg.graphVersion}/${page.id}`, page.access_token, {
      fields: 'id,name,instagram_business_account{id,username,name}',
    });
    const ig = node.instagram_business_account;
    if (!ig?.id) throw permanent(this.platform, NOT_LINKED, 'no_account');
    const igId = String(ig.id);
    // Instagram webhooks for a Page-linked account need the app subscribed on the Page.
    const webhookFields = await subscribePage(this.graph, this.cfg, page.id, page.name, page.access_token);
    const tokenExpiresAt = await pageTokenExpiry(this.graph, this.cfg, page.access_token);
    const credentials: Credentials = {
      accessToken: page.access_token,
      userAccessToken: login.userToken,
      pageId: page.id,
      igAccountId: igId,
      ...(login.userTokenExpiresAt ? { userTokenExpiresAt: login.userTokenExpiresAt } : {}),
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
    };
    return {
      account: { id: igId, ...(ig.name ?? page.name ? { name: ig.name ?? page.name } : {}), ...(ig.username ? { handle: ig.username } : {}) },
      credentials,
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
      credentialHints: {
        pageAccessToken: mask(page.access_token),
        page: `${page.name ?? ''} (${page.id})`.trim(),
        scopes: login.grantedScopes.join(','),
        tokenExpiry: tokenExpiresAt ? new Date(tokenExpiresAt).toISOString() : 'never (Page token from a long-lived user token)',
        webhookFields: webhookFields.join(','),
        ...(note ? { pageSelection: note } : {}),
      },
      settings: {
        pageId: page.id,
        availablePages: login.pages.map((p) => ({ id: p.id, name: p.name ?? null, instagramBusinessAccount: p.instagram_business_account?.id ?? null })),
      },
    };
  }

  async refresh(credentials: Credentials, account: AccountInfo): Promise<RefreshResult | null> {
    if (!credentials.tokenExpiresAt) return null;
    return refreshPageToken(this.graph, this.cfg, credentials, this.pageIdOf(credentials, account));
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const igId = str(credentials.igAccountId) ?? account.id;
    const ig = await this.graph.get<IgAccountNode>(`${this.cfg.graphVersion}/${igId}`, token(credentials, this.platform), { fields: 'id,username,name' });
    return { id: String(ig.id), ...(ig.name ? { name: ig.name } : {}), ...(ig.username ? { handle: ig.username } : {}) };
  }

  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const pageId = this.pageIdOf(input.credentials, input.account);
    const igId = str(input.credentials.igAccountId) ?? input.account.id;
    return fetchConversationsPage({
      platform: this.platform, graph: this.graph, graphVersion: this.cfg.graphVersion, token: token(input.credentials, this.platform),
      listNode: pageId, channel: 'instagram', pageMessageBudget: this.budget, businessIds: [igId, pageId],
    }, input.cursor, input.mode);
  }
}
