// TikTok state of one sandbox instance: business accounts, the TikTok users who write to them,
// DM conversations with their reply windows, uploaded media, pending OAuth codes, and the DM
// webhooks (im_receive_msg / im_send_msg) signed as TikTok signs them.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { SandboxContext } from '../../core/context';
import { signTikTokWebhook } from './signature';

export const PLATFORM = 'tiktok';

export interface BusinessAccount {
  /** The business's open_id, which the Business Messaging API calls business_id. */
  businessId: string;
  unionId: string;
  username: string;
  displayName: string;
  profileImage: string;
}

export interface TikTokUser {
  id: string;
  username: string;
  displayName: string;
}

export type MessageType = 'text' | 'image' | 'share_post' | 'sticker';

export interface DirectMessage {
  messageId: string;
  conversationId: string;
  /** Epoch ms (TikTok DM `timestamp` is in milliseconds). */
  timestamp: number;
  type: MessageType;
  text?: string;
  mediaId?: string;
  embedUrl?: string;
  fromId: string;
  toId: string;
  referencedMessageId?: string;
}

export interface Conversation {
  conversationId: string;
  businessId: string;
  userId: string;
  messages: DirectMessage[];
  /** Epoch ms of the user's last message; the 48 h reply window runs from it. */
  lastUserMessageAt: number | null;
  /** Business messages sent since the user's last message (max 10 per window). */
  businessMessagesInWindow: number;
}

export interface StoredMedia { mediaId: string; businessId: string; mimeType: string; size: number; bytes: Buffer }

export interface AuthCode {
  code: string;
  clientKey: string;
  redirectUri: string;
  openId: string;
  scopes: string[];
  expiresAt: number;
  used: boolean;
  codeChallenge?: string;
}

export interface TikTokOptions {
  /** Reply window after the user's last message, in hours (integrators report 48). */
  windowHours: number;
  /** Business messages allowed per window (integrators report 10). */
  messagesPerWindow: number;
  /** Enforce the window and per-window cap (the notes call it a toggle). */
  enforceWindow: boolean;
  /** Distinct conversations a business may send to per UTC day before error 40064. */
  dailyConversationCap: number;
  /** Default token lifetimes (seconds); ctx.tokens TTL overrides (admin API) take precedence. */
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

// Nov 2026 pages: access 2 h, refresh 180 days, rotating refresh tokens (see README discrepancy 1).
export const DEFAULT_TIKTOK_OPTIONS: TikTokOptions = {
  windowHours: 48,
  messagesPerWindow: 10,
  enforceWindow: true,
  dailyConversationCap: 200,
  accessTtlSeconds: 2 * 3600,
  refreshTtlSeconds: 180 * 86400,
};

export const ALL_SCOPES = [
  'user.info.basic', 'user.info.username', 'user.info.stats', 'user.info.profile', 'user.account.type', 'user.insights',
  'video.list', 'message.list.read', 'message.list.send', 'message.list.manage',
];

// 1×1 transparent PNG, served for images customers send.
const PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

export class TikTokWorld {
  readonly accounts = new Map<string, BusinessAccount>();
  readonly users = new Map<string, TikTokUser>();
  readonly conversations = new Map<string, Conversation>();
  readonly media = new Map<string, StoredMedia>();
  readonly codes = new Map<string, AuthCode>();
  /** business_id → UTC day → conversation ids sent to that day (daily conversation cap). */
  readonly dailySends = new Map<string, { day: string; conversations: Set<string> }>();
  private messageSeq = 0;
  private readonly messageBase: bigint;

  constructor(readonly ctx: SandboxContext, readonly options: TikTokOptions) {
    // TikTok message ids are large decimal numbers; start each instance at a random base.
    this.messageBase = 7_300_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e12));
  }

  /** TikTok request/log ids: a UTC timestamp followed by random hex. */
  logId(): string {
    const stamp = new Date(this.ctx.now()).toISOString().replace(/\D/g, '').slice(0, 14);
    return `${stamp}${this.ctx.id('', 12).replace(/[^A-Za-z0-9]/g, '0').toUpperCase().slice(0, 18)}`;
  }

  nextMessageId(): string {
    return (this.messageBase + BigInt(++this.messageSeq)).toString();
  }

  addAccount(username: string, displayName: string): BusinessAccount {
    const account: BusinessAccount = {
      businessId: `-000${this.ctx.id('', 18)}`,
      unionId: `uid.${this.ctx.id('', 12)}`,
      username,
      displayName,
      profileImage: `${this.ctx.publicUrl()}/business-api.tiktok.com/sandbox-media/avatar-${username}.png`,
    };
    this.accounts.set(account.businessId, account);
    return account;
  }

  addUser(id: string, username?: string): TikTokUser {
    const existing = this.users.get(id);
    if (existing) return existing;
    const user: TikTokUser = { id, username: username ?? `user_${id.slice(-6).toLowerCase()}`, displayName: username ?? `TikTok User ${id.slice(-4)}` };
    this.users.set(id, user);
    return user;
  }

  conversationWith(businessId: string, userId: string): Conversation {
    for (const conv of this.conversations.values()) if (conv.businessId === businessId && conv.userId === userId) return conv;
    const conv: Conversation = { conversationId: this.ctx.id('', 18), businessId, userId, messages: [], lastUserMessageAt: null, businessMessagesInWindow: 0 };
    this.conversations.set(conv.conversationId, conv);
    return conv;
  }

  conversationsOf(businessId: string): Conversation[] {
    return [...this.conversations.values()].filter((c) => c.businessId === businessId);
  }

  /** Records a message; a user message reopens the reply window and resets the per-window cap. */
  addMessage(conv: Conversation, msg: Omit<DirectMessage, 'messageId' | 'conversationId'>): DirectMessage {
    const full: DirectMessage = { ...msg, messageId: this.nextMessageId(), conversationId: conv.conversationId };
    conv.messages.push(full);
    if (msg.fromId === conv.userId) {
      conv.lastUserMessageAt = Math.max(conv.lastUserMessageAt ?? 0, msg.timestamp);
      conv.businessMessagesInWindow = 0;
    } else {
      conv.businessMessagesInWindow += 1;
    }
    return full;
  }

  /** What profile-picture URLs serve. */
  readonly stockPixel: StoredMedia = { mediaId: 'avatar', businessId: '', mimeType: 'image/png', size: PIXEL_PNG.length, bytes: PIXEL_PNG };

  pixelMedia(businessId: string): StoredMedia {
    const media: StoredMedia = { mediaId: `v0${this.ctx.id('', 16)}`, businessId, mimeType: 'image/png', size: PIXEL_PNG.length, bytes: PIXEL_PNG };
    this.media.set(media.mediaId, media);
    return media;
  }

  /** The `content` object of DM webhooks (and of message list items): `timestamp` in ms. */
  messageContent(msg: DirectMessage): Record<string, unknown> {
    const from = this.users.get(msg.fromId) ?? this.accounts.get(msg.fromId);
    const to = this.users.get(msg.toId) ?? this.accounts.get(msg.toId);
    const content: Record<string, unknown> = {
      conversation_id: msg.conversationId,
      message_id: msg.messageId,
      timestamp: msg.timestamp,
      type: msg.type,
    };
    if (msg.type === 'text') content.text = { body: msg.text ?? '' };
    if (msg.type === 'image') content.image = { media_id: msg.mediaId };
    if (msg.type === 'share_post') content.share_post = { embed_url: msg.embedUrl };
    content.from = from?.username ?? msg.fromId;
    content.from_user = { id: msg.fromId };
    content.to = to?.username ?? msg.toId;
    content.to_user = { id: msg.toId };
    if (msg.referencedMessageId) content.referenced_message_info = { referenced_message_id: msg.referencedMessageId };
    return content;
  }

  /**
   * Sends a DM webhook: `{event, user_openid, create_time (s), content (JSON string)}`, signed with
   * the client secret over `${t}.${body}`. Without a target nothing is sent (state still changed).
   */
  emit(event: 'im_receive_msg' | 'im_send_msg' | 'im_mark_read_msg', businessId: string, content: Record<string, unknown>): void {
    const url = this.ctx.webhooks.target(PLATFORM);
    if (!url) return;
    const t = Math.floor(this.ctx.now() / 1000);
    const body = JSON.stringify({ event, user_openid: businessId, create_time: t, content: JSON.stringify(content) });
    const signature = signTikTokWebhook(this.ctx.apps.get(PLATFORM).secret, t, body);
    this.ctx.webhooks.send({ platform: PLATFORM, kind: event, url, headers: { 'content-type': 'application/json', 'tiktok-signature': signature }, body });
  }
}

/** HTTP status of an injected fault that is not a rate limit (timeouts are answered by route()). */
export function faultStatus(decision: { kind: string; status?: number }): ContentfulStatusCode {
  return (decision.kind === 'error' && decision.status ? decision.status : 503) as ContentfulStatusCode;
}
