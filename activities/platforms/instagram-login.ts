// Instagram via Instagram Login (no Facebook Page): authorize on www.instagram.com, code →
// short-lived token on api.instagram.com, ig_exchange_token → 60-day token on graph.instagram.com,
// refreshed with ig_refresh_token once it is at least a day old. The account is the professional
// account's `user_id` (the id webhooks use), not the app-scoped `id`.
// Reference: /work/shared/platforms/meta-oauth.md §3, messenger-instagram.md.
import type { PlatformConfig } from '../../lib/platform-config';
import { classifyMetaError, cleanCode, DEFAULT_TIMEOUT_MS, expiresAtFrom, GraphClient, INSTAGRAM_WEBHOOK_FIELDS, markMetaSeen, mask, permanent, sendMetaMessage, str, subscribeWebhooks, token, type MetaAdapterOptions } from './meta';
import { fetchConversationsPage } from './meta/conversations';

import { PlatformError, type AccountInfo, type Capability, type ChannelAdapter, type ConnectResult, type Credentials, type ErrorClass, type MarkReadRequest, type OutboundMessage, type RefreshResult, type SendResult, type SyncCursor, type SyncPage } from './types';

export const INSTAGRAM_LOGIN_SCOPES = ['instagram_business_basic', 'instagram_business_manage_messages'] as const;
/** Instagram refuses to refresh a long-lived token younger than 24 h. */
const MIN_REFRESH_AGE_MS = 24 * 3_600_000;

interface IgLoginToken { access_token?: string; user_id?: string | number; permissions?: string | string[] }
interface IgMe { id?: string; user_id?: string | number; username?: string; name?: string; account_type?: string }

export class InstagramLoginAdapter implements ChannelAdapter {
  readonly platform = 'instagram_login' as const;
  readonly usesOAuth = true;
  private readonly cfg: PlatformConfig['instagram'];
  private readonly version: string;
  private readonly api: GraphClient;
  private readonly graph: GraphClient;
  private readonly budget: number | undefined;

  constructor(config: PlatformConfig, opts: MetaAdapterOptions = {}) {
    this.budget = opts.pageMessageBudget;
    this.cfg = config.instagram;
    this.version = config.meta.graphVersion;
    this.api = new GraphClient(this.platform, config.instagram.apiUrl, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.graph = new GraphClient(this.platform, config.instagram.graphUrl, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  capabilities(): Capability[] {
    return ['read', 'send', 'send_media', 'mark_read', 'webhooks', 'history'];
  }

  authorizationUrl(input: { state: string; redirectUri: string }): string {
    const url = new URL(`${this.cfg.authorizeUrl.replace(/\/$/, '')}/oauth/authorize`);
    url.searchParams.set('client_id', this.cfg.appId);
    url.searchParams.set('redirect_uri', input.redirectUri);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', INSTAGRAM_LOGIN_SCOPES.join(','));
    url.searchParams.set('state', input.state);
    return url.toString();
  }

  async exchangeCode(input: { code: string; redirectUri: string; settings?: Record<string, unknown> }): Promise<ConnectResult> {
    const code = cleanCode(input.code);
    if (!code) throw permanent(this.platform, 'no authorization code was given');
    const { body } = await this.api.request<IgLoginToken & { data?: IgLoginToken[] }>({
      method: 'POST', path: 'oauth/access_token',
      form: { client_id: this.cfg.appId, client_secret: this.cfg.appSecret, grant_type: 'authorization_code', redirect_uri: input.redirectUri, code },
    });
    // Documented: {"data":[{access_token, user_id, permissions:"a,b"}]}; observed live: flat, permissions an array.
    const short = Array.isArray(body.data) ? body.data[0] ?? {} : body;
    if (!short.access_token) throw permanent(this.platform, 'the code exchange returned no access token');
    const granted = Array.isArray(short.permissions) ? short.permissions.map(String) : typeof short.permissions === 'string' ? short.permissions.split(/[\s,]+/).filter(Boolean) : undefined;
    if (granted) {
      const missing = INSTAGRAM_LOGIN_SCOPES.filter((s) => !granted.includes(s));
      if (missing.length) throw permanent(this.platform, `required permissions were not granted: ${missing.join(', ')} (connect again and keep them checked)`, 'missing_scopes');
    }

    const long = await this.graph.get<{ access_token?: string; expires_in?: number }>('access_token', undefined, {
      grant_type: 'ig_exchange_token', client_secret: this.cfg.appSecret, access_token: short.access_token,
    });
    if (!long.access_token) throw permanent(this.platform, 'the long-lived token exchange returned no access token');
    const issuedAt = Date.now();
    const tokenExpiresAt = expiresAtFrom(long.expires_in, issuedAt);

    const me = await this.graph.get<IgMe>(`${this.version}/me`, long.access_token, { fields: 'user_id,username,name,account_type' });
    if (me.account_type && !['BUSINESS', 'MEDIA_CREATOR', 'CREATOR'].includes(String(me.account_type).toUpperCase())) {
      throw permanent(this.platform, `@${me.username ?? 'this account'} is a personal Instagram account; switch it to a professional (business or creator) account`, 'not_professional');
    }
    const userId = str(me.user_id) ?? str(short.user_id);
    if (!userId) throw permanent(this.platform, 'Instagram did not say which account logged in', 'no_account');
    // Without the app subscribed on the account, Instagram sends no webhooks for it.
    const webhookFields = await subscribeWebhooks(this.graph, {
      path: `${this.version}/me/subscribed_apps`, token: long.access_token, appId: this.cfg.appId, fields: INSTAGRAM_WEBHOOK_FIELDS,
      what: `the Instagram account ${me.username ? `@${me.username}` : userId}`,
      fix: 'connect again and keep instagram_business_manage_messages granted',
    });
    const credentials: Credentials = {
      accessToken: long.access_token,
      userId,
      ...(str(me.id) ? { appScopedId: str(me.id) } : {}),
      ...(str(short.user_id) ? { loginUserId: str(short.user_id) } : {}),
      tokenIssuedAt: issuedAt,
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
    };
    return {
      account: { id: userId, ...(me.name ? { name: me.name } : {}), ...(me.username ? { handle: me.username } : {}) },
      credentials,
      ...(tokenExpiresAt ? { tokenExpiresAt } : {}),
      credentialHints: {
        accessToken: mask(long.access_token),
        ...(granted ? { scopes: granted.join(',') } : {}),
        ...(me.account_type ? { accountType: String(me.account_type) } : {}),
        webhookFields: webhookFields.join(','),
      },
    };
  }

  /** Refreshes once the token is at least a day old (Instagram's rule); younger tokens are kept as they are. */
  async refresh(credentials: Credentials): Promise<RefreshResult | null> {
    const current = token(credentials, this.platform);
    const keep = (): RefreshResult => ({ credentials, ...(typeof credentials.tokenExpiresAt === 'number' ? { tokenExpiresAt: credentials.tokenExpiresAt } : {}) });
    const issuedAt = Number(credentials.tokenIssuedAt);
    if (Number.isFinite(issuedAt) && issuedAt > 0 && Date.now() - issuedAt < MIN_REFRESH_AGE_MS) return keep();
    let res: { access_token?: string; expires_in?: number };
    try {
      res = await this.graph.get('refresh_access_token', undefined, { grant_type: 'ig_refresh_token', access_token: current });
    } catch (err) {
      // Instagram's own clock says it is too early: not a failure, try again later.
      if (err instanceof PlatformError && err.classification.kind === 'permanent' && /24 hours/i.test(err.classification.message)) return keep();
      throw err;
    }
    if (!res.access_token) throw new PlatformError(this.platform, { kind: 'retryable', message: 'the token refresh returned no access token' });
    const now = Date.now();
    const tokenExpiresAt = expiresAtFrom(res.expires_in, now);
    const next: Credentials = { ...credentials, accessToken: res.access_token, tokenIssuedAt: now };
    if (tokenExpiresAt) next.tokenExpiresAt = tokenExpiresAt;
    else delete next.tokenExpiresAt;
    return { credentials: next, ...(tokenExpiresAt ? { tokenExpiresAt } : {}) };
  }

  async check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo> {
    const me = await this.graph.get<IgMe>(`${this.version}/me`, token(credentials, this.platform), { fields: 'user_id,username,name' });
    return { id: str(me.user_id) ?? account.id, ...(me.name ? { name: me.name } : {}), ...(me.username ? { handle: me.username } : {}) };
  }

  async fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage> {
    const ids = [input.account.id, input.credentials.userId, input.credentials.appScopedId, input.credentials.loginUserId].map(str).filter((x): x is string => !!x);
    return fetchConversationsPage({
      platform: this.platform, graph: this.graph, graphVersion: this.version, token: token(input.credentials, this.platform),
      listNode: 'me', channel: 'instagram', pageMessageBudget: this.budget, businessIds: [...new Set(ids)],
    }, input.cursor, input.mode);
  }

  /** Send API on graph.instagram.com as the logged-in account: `POST /me/messages` with the Instagram token. */
  async send(input: { credentials: Credentials; account: AccountInfo; message: OutboundMessage }): Promise<SendResult> {
    return sendMetaMessage(this.graph, { path: `${this.version}/me/messages`, token: token(input.credentials, this.platform), message: input.message });
  }

  /** `mark_seen` on graph.instagram.com as the logged-in account to the conversation's IGSID. */
  async markRead(input: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void> {
    await markMetaSeen(this.graph, { path: `${this.version}/me/messages`, token: token(input.credentials, this.platform), recipient: input.read.participant.externalId });
  }

  // No revoke: Instagram Login has no documented endpoint to remove the app's access.

  classify(err: unknown): ErrorClass {
    return classifyMetaError(err);
  }
}
