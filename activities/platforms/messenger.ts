// Messenger: Facebook Login with the Messenger permissions; the channel is one Facebook Page and
// speaks with that Page's access token (from a long-lived user token, so it does not expire).
// Reference: /work/shared/platforms/meta-oauth.md, messenger-instagram.md.
import type { PlatformConfig } from '../../lib/platform-config';
import {
  choosePage, expiresAtFrom, facebookLogin, GraphClient, mask, pageTokenExpiry,
  PAGE_WEBHOOK_FIELDS, permanent, str, subscribeWebhooks, type FacebookLoginConfig, type MetaAdapterOptions,
  token,
} from './meta';
import { FacebookPageAdapter } from './facebook-page';
import { fetchConversationsPage } from './meta/conversations';
import { PlatformError, type AccountInfo, type ConnectResult, type Credentials, type RefreshResult, type SyncCursor, type SyncPage } from './types';

export const MESSENGER_SCOPES = ['pages_show_list', 'pages_manage_metadata', 'pages_messaging', 'pages_read_engagement'] as const;

export class MessengerAdapter extends FacebookPageAdapter {
  readonly platform = 'messenger' as const;
  protected readonly scopes = MESSENGER_SCOPES;

  constructor(config: PlatformConfig, opts: MetaAdapterOptions = {}) {
    super(config, opts, 'messenger');
  }

  protected pageIdOf(credentials: Credentials, account: AccountInfo): string {
    return str(credentials.pageId) ?? account.id;
  }

  async exchangeCode(input: { code: string; redirectUri: string; settings?: Record<string, unknown> }): Promise<ConnectResult> {
    const login = await facebookLogin(this.graph, this.cfg, { ...input, requiredScopes: MESSENGER_SCOPES, pageFields: 'id,name,access_token,tasks' });
    const { page, note } = choosePage(this.platform, login.pages, input.settings, () => true, 'no Page to connect');
    // Messaging through the Conversations/Send APIs needs the MESSAGING task on the Page.
    if (page.tasks && !page.tasks.includes('MESSAGING')) throw permanent(this.platform, `you cannot message as the Page "${page.name ?? page.id}" (the MESSAGING task is missing on it)`, 'page_task');
    if (!page.access_token) throw permanent(this.platform, `no Page access token was returned for Page ${page.id}`, 'no_page_token');
    const webhookFields = await subscribePage(this.graph, this.cfg, page.id, page.name, page.access_token);
    const tokenExpiresAt = await pageTokenExpiry(this.graph, this.cfg, page.access_token);
    const credentials: Credentials = {
      accessToken: page.access_token,
      userAccessToken: login.userToken,
      pageId: page.id,
      ...(login.userTokenExpiresAt ? { userTokenExpiresAt: login.userTokenExpiresAt } : {}),
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
    };
    return {
      account: { id: page.id, ...(page.name ? { name: page.name } : {}) },
      credentials,
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
      credentialHints: {
        pageAccessToken: mask(page.access_token),
        scopes: login.grantedScopes.join(','),
        tokenExpiry: tokenExpiresAt ? new Date(tokenExpiresAt).toISOString() : 'never (Page token from a long-lived user token)',
        webhookFields: webhookFields.join(','),
        ...(note ? { pageSelection: note } : {}),
      },
      settings: { pageId: page.id, availablePages: login.pages.map((p) => ({ id: p.id, name: p.name ?? null })) },
    };
  }

  /** Page tokens from a long-lived user token never expire: nothing to refresh. Otherwise derive a new one. */
  async refresh(credentials: Credentials, account: AccountInfo): Promise<RefreshResult | null> {
    if (!credentials.tokenExpiresAt) return null;
    return refreshPageToken(this.graph, this.cfg, credentials, str(credentials.pageId) ?? account.id);
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const pageId = str(credentials.pageId) ?? account.id;
    const page = await this.graph.get<{ id: string; name?: string }>(`${this.cfg.graphVersion}/${pageId}`, token(credentials, this.platform), { fields: 'id,name' });
    return { id: String(page.id), ...(page.name ? { name: page.name } : {}) };
  }

  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const pageId = str(input.credentials.pageId) ?? input.account.id;
    return fetchConversationsPage({
      platform: this.platform, graph: this.graph, graphVersion: this.cfg.graphVersion, token: token(input.credentials, this.platform),
      listNode: pageId, channel: 'messenger', pageMessageBudget: this.budget, businessIds: [pageId],
    }, input.cursor, input.mode);
  }
}


/**
 * Subscribes the app to the Page's webhooks with the Page token (Messenger, and Instagram via a
 * Page, whose events ride on the Page's subscription); returns the fields now subscribed.
 */
export function subscribePage(graph: GraphClient, cfg: FacebookLoginConfig, pageId: string, pageName: string | undefined, pageToken: string): Promise<string[]> {
  return subscribeWebhooks(graph, {
    path: `${cfg.graphVersion}/${pageId}/subscribed_apps`, token: pageToken, appId: cfg.appId, fields: PAGE_WEBHOOK_FIELDS,
    what: `the Page "${pageName ?? pageId}" (${pageId})`,
    fix: 'connect again as an admin of the Page and keep pages_manage_metadata granted',
  });
}

/**
 * An expiring Page token (only when it came from a user token that itself expires): exchange the
 * user token for a new long-lived one, read the Page's new token from /me/accounts and its expiry.
 */
export async function refreshPageToken(graph: GraphClient, cfg: FacebookLoginConfig, credentials: Credentials, pageId: string): Promise<RefreshResult> {
  const userToken = str(credentials.userAccessToken);
  if (!userToken) throw new PlatformError(graph.platform, { kind: 'reauth', message: 'no user token is stored to renew the Page token; connect again' });
  const long = await graph.get<{ access_token?: string; expires_in?: number }>(`${cfg.graphVersion}/oauth/access_token`, undefined, {
    grant_type: 'fb_exchange_token', client_id: cfg.appId, client_secret: cfg.appSecret, fb_exchange_token: userToken,
  });
  const newUser = long.access_token ?? userToken;
  const page = await graph.get<{ id: string; access_token?: string }>(`${cfg.graphVersion}/${pageId}`, newUser, { fields: 'id,access_token' });
  if (!page.access_token) throw permanent(graph.platform, `Page ${pageId} returned no access token (the login may have lost access to it)`, 'no_page_token');
  const tokenExpiresAt = await pageTokenExpiry(graph, cfg, page.access_token);
  const userTokenExpiresAt = long.access_token ? expiresAtFrom(long.expires_in) : undefined;
  const next: Credentials = { ...credentials, accessToken: page.access_token, userAccessToken: newUser };
  if (userTokenExpiresAt) next.userTokenExpiresAt = userTokenExpiresAt;
  if (tokenExpiresAt) next.tokenExpiresAt = tokenExpiresAt;
  else delete next.tokenExpiresAt;
  return { credentials: next, ...(tokenExpiresAt ? { tokenExpiresAt } : {}) };
}
