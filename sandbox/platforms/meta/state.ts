// The simulated Meta world of one sandbox instance: the business user, Pages, Instagram
// professional accounts, customers (page/IG-scoped ids), conversations and messages, plus
// OAuth grants and codes. Plain maps with indexes sized for 100 × 1,000 seeded histories.
import { randomBytes } from 'node:crypto';

export type Channel = 'messenger' | 'instagram';

export interface BusinessUser { id: string; name: string }

export interface Page {
  id: string;
  name: string;
  category: string;
  tasks: string[];
  /** The Instagram professional account linked to this Page, if any. */
  igAccountId?: string;
  /** Webhook fields our app is subscribed to on this Page; empty = not subscribed. */
  subscribedFields: Set<string>;
}

export interface IgAccount {
  /** Professional account id (17841…): webhook entry.id and {ig-id} in Graph paths. */
  id: string;
  username: string;
  name: string;
  /** Set when the account is linked to a Page (Instagram via Facebook Login). */
  pageId?: string;
  /** App-scoped id that Instagram Login returns as token `user_id` and `/me` `id`. */
  appScopedId: string;
  accountType: 'BUSINESS' | 'MEDIA_CREATOR';
  /** Instagram Login webhook subscription (`/me/subscribed_apps`). */
  subscribedFields: Set<string>;
}

export interface Customer {
  /** PSID (Messenger) or IGSID (Instagram), scoped to the account. */
  id: string;
  accountId: string;
  channel: Channel;
  name: string;
  username: string;
}

export interface Attachment {
  id: string;
  type: 'image' | 'video' | 'audio' | 'file' | 'template';
  url: string;
  mimeType: string;
  name: string;
  size: number;
}

export interface Message {
  id: string;
  conversationId: string;
  createdAt: number; // ms
  fromBusiness: boolean;
  text?: string;
  attachments?: Attachment[];
  /** App that sent a business message (ours, or the Page inbox for native-app replies). */
  appId?: string;
  metadata?: string;
}

export interface Conversation {
  id: string;
  channel: Channel;
  /** Page id (Messenger) or IG professional account id (Instagram). */
  accountId: string;
  customerId: string;
  /** Chronological (oldest first). */
  messages: Message[];
  updatedAt: number;
  /** When the customer last wrote: opens the 24 h window (echoes do not). */
  lastInboundAt: number | null;
  unread: number;
}

export interface Grant {
  userId: string;
  granted: string[];
  declined: string[];
}

export interface AuthCode {
  code: string;
  kind: 'facebook' | 'instagram';
  clientId: string;
  redirectUri: string;
  subject: string; // user id (Facebook) or IG account id (Instagram)
  scopes: string[];
  expiresAt: number;
  usedAt?: number;
  /** Instagram Login only: which documented response shape the code exchange uses. */
  responseShape?: 'flat' | 'data';
}

/** The Page inbox app id that appears on echoes of replies typed in Meta's own apps. */
export const PAGE_INBOX_APP_ID = '263902037430900';

export class MetaWorld {
  readonly user: BusinessUser = { id: '987000000000001', name: 'Sandbox Admin' };
  readonly pages = new Map<string, Page>();
  readonly igAccounts = new Map<string, IgAccount>();
  readonly customers = new Map<string, Customer>();
  readonly conversations = new Map<string, Conversation>();
  readonly messages = new Map<string, Message>();
  /** Uploaded or is_reusable attachments, by attachment_id. */
  readonly reusableAttachments = new Map<string, Omit<Attachment, 'id'>>();
  /** What the business user granted our Facebook app (per user). */
  readonly grants = new Map<string, Grant>();
  readonly codes = new Map<string, AuthCode>();
  /** Page tokens handed out per user token, so /me/accounts is stable across calls. */
  readonly pageTokens = new Map<string, Map<string, string>>();

  private readonly byParticipants = new Map<string, Conversation>();
  private readonly customerAliases = new Map<string, string>();
  private readonly salt = randomBytes(4).toString('hex');
  private seq = 0;
  private customerSeq = 0;
  private numericSeq = 0;

  // --- ids --------------------------------------------------------------------------------
  /** Messenger mids (m_…) and IG mids (aWdf… = base64 "ig_…"): opaque, unique per instance. */
  messageId(channel: Channel): string {
    const n = ++this.seq;
    return channel === 'messenger'
      ? `m_${Buffer.from(`mid.${this.salt}:${n}`).toString('base64url')}`
      : Buffer.from(`ig_message_item:1:${this.salt}:${n}`).toString('base64url');
  }
  conversationId(channel: Channel): string {
    const n = ++this.seq;
    return channel === 'messenger' ? `t_10${String(n).padStart(13, '0')}` : Buffer.from(`ig_thread:1:${this.salt}:${n}`).toString('base64url');
  }
  numericId(prefix = '18'): string {
    return `${prefix}${String(++this.numericSeq).padStart(15, '0')}`;
  }

  // --- lookups ----------------------------------------------------------------------------
  channelOf(accountId: string): Channel | undefined {
    if (this.pages.has(accountId)) return 'messenger';
    if (this.igAccounts.has(accountId)) return 'instagram';
    return undefined;
  }
  igByAnyId(id: string): IgAccount | undefined {
    const direct = this.igAccounts.get(id);
    if (direct) return direct;
    for (const ig of this.igAccounts.values()) if (ig.appScopedId === id) return ig;
    return undefined;
  }
  conversationWith(accountId: string, customerId: string): Conversation | undefined {
    return this.byParticipants.get(`${accountId}:${customerId}`);
  }
  conversationsOf(accountId: string): Conversation[] {
    const list: Conversation[] = [];
    for (const conv of this.conversations.values()) if (conv.accountId === accountId) list.push(conv);
    // Newest activity first; id breaks ties so cursors stay stable.
    return list.sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1));
  }
  accountName(accountId: string): { name: string; username: string } {
    const page = this.pages.get(accountId);
    if (page) return { name: page.name, username: page.name };
    const ig = this.igAccounts.get(accountId);
    return { name: ig?.name ?? accountId, username: ig?.username ?? accountId };
  }

  // --- mutations --------------------------------------------------------------------------
  /** A customer of `accountId`; `key` may be a known scoped id or any stable alias (scenario keys). */
  customer(accountId: string, channel: Channel, key?: string): Customer {
    if (key) {
      const known = this.customers.get(key) ?? this.customers.get(this.customerAliases.get(`${accountId}:${key}`) ?? '');
      if (known && known.accountId === accountId) return known;
    }
    const n = ++this.customerSeq;
    const id = `${channel === 'messenger' ? '71' : '72'}${String(n).padStart(14, '0')}`;
    const first = FIRST_NAMES[n % FIRST_NAMES.length]!;
    const customer: Customer = { id, accountId, channel, name: `${first} ${LAST_NAMES[n % LAST_NAMES.length]}`, username: `${first.toLowerCase()}.${n}` };
    this.customers.set(id, customer);
    if (key) this.customerAliases.set(`${accountId}:${key}`, id);
    return customer;
  }

  conversation(accountId: string, channel: Channel, customerId: string): Conversation {
    const existing = this.byParticipants.get(`${accountId}:${customerId}`);
    if (existing) return existing;
    const conv: Conversation = { id: this.conversationId(channel), channel, accountId, customerId, messages: [], updatedAt: 0, lastInboundAt: null, unread: 0 };
    this.conversations.set(conv.id, conv);
    this.byParticipants.set(`${accountId}:${customerId}`, conv);
    return conv;
  }

  addMessage(conv: Conversation, input: Omit<Message, 'id' | 'conversationId'>): Message {
    const message: Message = { id: this.messageId(conv.channel), conversationId: conv.id, ...input };
    conv.messages.push(message);
    this.messages.set(message.id, message);
    conv.updatedAt = Math.max(conv.updatedAt, message.createdAt);
    if (!message.fromBusiness) {
      conv.lastInboundAt = Math.max(conv.lastInboundAt ?? 0, message.createdAt);
      conv.unread += 1;
    } else conv.unread = 0;
    return message;
  }
}

const FIRST_NAMES = ['Ana', 'Ben', 'Chloe', 'Dmitri', 'Elif', 'Farah', 'Goran', 'Hana', 'Ivo', 'Jules', 'Kenji', 'Lina', 'Mateo', 'Nora', 'Omar', 'Priya'];
const LAST_NAMES = ['Silva', 'Okafor', 'Müller', 'Nguyen', 'Rossi', 'Kowalski', 'Haddad', 'Jensen', 'Tanaka', 'García'];
