// What Messenger and Instagram-through-a-Page channels share: Facebook Login for consent, one
// Facebook Page whose token the channel speaks with, the Send API through that Page, and Meta's
// error classification. Each subclass says which scopes it asks for and how it finds its Page.
import type { PlatformConfig } from '../../lib/platform-config';
import {
  classifyMetaError, DEFAULT_TIMEOUT_MS, facebookAuthorizationUrl, GraphClient, markMetaSeen, revokeFacebookLogin, sendMetaMessage, str, token,
  type FacebookLoginConfig, type MetaAdapterOptions,
} from './meta';
import type { AccountInfo, Capability, ChannelAdapter, ConnectResult, Credentials, ErrorClass, MarkReadRequest, OutboundMessage, SendResult, SyncCursor, SyncPage } from './types';

export abstract class FacebookPageAdapter implements ChannelAdapter {
  abstract readonly platform: 'messenger' | 'instagram';
  readonly usesOAuth = true;
  protected readonly cfg: FacebookLoginConfig;
  protected readonly graph: GraphClient;
  protected readonly budget: number | undefined;

  constructor(config: PlatformConfig, opts: MetaAdapterOptions = {}, platform: 'messenger' | 'instagram') {
    this.budget = opts.pageMessageBudget;
    this.cfg = config.meta;
    this.graph = new GraphClient(platform, config.meta.graphUrl, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** The Facebook Login permissions this channel needs. */
  protected abstract readonly scopes: readonly string[];
  /** The Page this channel speaks through. */
  protected abstract pageIdOf(credentials: Credentials, account: AccountInfo): string;

  abstract exchangeCode(input: { code: string; redirectUri: string; settings?: Record<string, unknown> }): Promise<ConnectResult>;
  abstract check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo>;
  abstract fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage>;

  capabilities(): Capability[] {
    return ['read', 'send', 'send_media', 'mark_read', 'webhooks', 'history'];
  }

  authorizationUrl(input: { state: string; redirectUri: string }): string {
    return facebookAuthorizationUrl(this.cfg, this.scopes, input);
  }

  /** Send API as the Page: `POST /{page-id}/messages` with the Page token (Instagram: to the IGSID). */
  async send(input: { credentials: Credentials; account: AccountInfo; message: OutboundMessage }): Promise<SendResult> {
    const pageId = this.pageIdOf(input.credentials, input.account);
    return sendMetaMessage(this.graph, { path: `${this.cfg.graphVersion}/${pageId}/messages`, token: token(input.credentials, this.platform), message: input.message });
  }

  /** `mark_seen` as the Page to the conversation's customer (PSID, or IGSID through the linked Page). */
  async markRead(input: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void> {
    const pageId = this.pageIdOf(input.credentials, input.account);
    await markMetaSeen(this.graph, { path: `${this.cfg.graphVersion}/${pageId}/messages`, token: token(input.credentials, this.platform), recipient: input.read.participant.externalId });
  }

  async revoke(credentials: Credentials): Promise<void> {
    await revokeFacebookLogin(this.graph, this.cfg.graphVersion, str(credentials.userAccessToken));
  }

  classify(err: unknown): ErrorClass {
    return classifyMetaError(err);
  }
}
