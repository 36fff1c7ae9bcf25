// The one interface every platform adapter implements (one file per platform beside this one).
// Adapters are real clients: only their base URLs differ between the sandbox and production.
// They never log or return secrets except inside `credentials`, which the caller seals at once.
import type { Platform } from '../../lib/domain/channel';

/** How the caller should treat a failed platform call. */
export type ErrorClass =
  | { kind: 'retryable'; message: string; code?: string }
  | { kind: 'rate_limited'; retryAfterMs: number; message: string; code?: string }
  | { kind: 'reauth'; message: string; code?: string }
  | { kind: 'permanent'; message: string; code?: string };

/** A failed platform call, already classified. `message` never contains a token. */
export class PlatformError extends Error {
  constructor(readonly platform: Platform, readonly classification: ErrorClass, readonly status?: number) {
    super(`${platform}: ${classification.message}`);
    this.name = 'PlatformError';
  }
}

export type Capability = 'read' | 'send' | 'send_media' | 'templates' | 'mark_read' | 'webhooks' | 'history';

/** Secrets and token state of one channel; sealed (AES-256-GCM) before they are stored. */
export type Credentials = Record<string, string | number | boolean | undefined>;

export interface AccountInfo {
  /** The platform account the channel speaks for: Page ID, IG ID, phone number ID, mailbox… */
  id: string;
  name?: string;
  handle?: string;
}

export interface ConnectResult {
  account: AccountInfo;
  credentials: Credentials;
  /** When the access token expires (ms since epoch), read from the platform's response. */
  tokenExpiresAt?: number;
  /** Non-secret details worth showing (e.g. masked phone number, granted scopes). */
  credentialHints?: Record<string, string>;
  settings?: Record<string, unknown>;
}

export interface RefreshResult {
  credentials: Credentials;
  tokenExpiresAt?: number;
}

export interface NormalizedAttachment {
  type: 'image' | 'video' | 'audio' | 'file' | 'sticker' | 'location' | 'other';
  url?: string;
  mimeType?: string;
  name?: string;
  size?: number;
  platformMediaId?: string;
}

export interface NormalizedMessage {
  /** The platform's message ID (mid, wamid, MessageSid, Gmail id, UIDVALIDITY:UID…). */
  externalId: string;
  direction: 'inbound' | 'outbound';
  sender: { externalId: string; name?: string };
  text?: string;
  attachments?: NormalizedAttachment[];
  /** When the platform says it happened (ms since epoch). */
  timestamp: number;
}

export interface NormalizedConversation {
  /** The platform's thread ID (t_…, Gmail threadId, the customer's wa_id…). */
  externalId: string;
  /** The customer, as this channel addresses them. */
  participant: { externalId: string; handle?: string; name?: string };
  subject?: string;
  messages: NormalizedMessage[];
}

/** A JSON-safe position in the platform's history; opaque to everyone but its adapter. */
export type SyncCursor = Record<string, string | number | boolean | null>;

export interface SyncPage {
  conversations: NormalizedConversation[];
  /** Where to continue: pass it back to get the next page. */
  cursor: SyncCursor;
  /** No more pages for now (backfill finished / incremental caught up). */
  done: boolean;
}

/** One outbound message, as the send workflow hands it to an adapter. */
export interface OutboundMessage {
  /** Our message ID (unique); passed where the platform echoes metadata back (Meta `metadata`). */
  clientRef: string;
  /** The customer, as this channel addresses them (the conversation's participant). */
  to: { externalId: string; handle?: string };
  /** The platform's thread ID of the conversation (Gmail threadId, TikTok conversation_id, email root Message-ID…). */
  conversationExternalId: string;
  text?: string;
  /** Media by URL (the platform fetches it) — or uploaded by the adapter where the platform needs that. */
  media?: { type: 'image' | 'video' | 'audio' | 'file'; url: string; mimeType?: string; name?: string; caption?: string };
  /** A pre-approved template (WhatsApp Cloud: name + language + body parameters; Twilio: Content SID as name). */
  template?: { name: string; language: string; parameters?: string[] };
  /** Messenger/Instagram: outside the 24 h window, send with the HUMAN_AGENT tag (7 days). */
  humanAgent?: boolean;
  /** Email/Gmail: subject, and the Message-ID being answered (threading). */
  subject?: string;
  inReplyTo?: string;
}

export interface SendResult {
  /** The platform's ID for the sent message (the same ID its webhooks and history use). */
  externalId: string;
  /** When the platform accepted it (ms since epoch). */
  timestamp: number;
}

/** What an agent has read in one conversation, handed to the platform's own "seen" state. */
export interface MarkReadRequest {
  /** The platform's thread ID (Gmail threadId, email root Message-ID, wa_id, t_…). */
  conversationExternalId: string;
  /** The customer, as this channel addresses them (Meta's mark_seen goes to this PSID/IGSID). */
  participant: { externalId: string; handle?: string };
  /** Platform IDs of the inbound messages read, newest first: the first is the latest (at most 100). */
  messageIds: string[];
}

export interface ChannelAdapter {
  readonly platform: Platform;
  /** True when connecting goes through an OAuth consent redirect. */
  readonly usesOAuth: boolean;
  capabilities(): Capability[];

  /** OAuth platforms: the consent URL the user is sent to. */
  authorizationUrl?(input: { state: string; redirectUri: string }): string;
  /** OAuth platforms: code → tokens, long-lived exchange, account discovery. */
  exchangeCode?(input: { code: string; redirectUri: string; settings?: Record<string, unknown> }): Promise<ConnectResult>;
  /** Credential platforms (WhatsApp Cloud, Twilio, email): validate what the user gave us. */
  connectWithCredentials?(input: Record<string, unknown>): Promise<ConnectResult>;

  /** Refreshes tokens before they expire; null when this platform's tokens need no refresh. */
  refresh?(credentials: Credentials, account: AccountInfo): Promise<RefreshResult | null>;
  /** A cheap authenticated call proving the credentials still work ("test connection"). */
  check(credentials: Credentials, account: AccountInfo): Promise<AccountInfo>;
  /**
   * One page of history. `mode: 'backfill'` walks the existing history from `cursor` (null: the
   * start); `mode: 'incremental'` returns what changed since `cursor` (Gmail historyId, IMAP
   * UIDVALIDITY/UID, Graph timestamps…).
   */
  fetchPage(input: { credentials: Credentials; account: AccountInfo; cursor: SyncCursor | null; mode: 'backfill' | 'incremental' }): Promise<SyncPage>;
  /**
   * Sends one message. Throws a PlatformError classified as: rate_limited (with the platform's
   * delay), retryable (5xx, timeouts), reauth (token refused), permanent (invalid recipient,
   * policy, outside the reply window — code `window_closed` — or unsupported content).
   * `statusCallbackUrl`: where the platform should post delivery statuses (Twilio).
   */
  send?(input: { credentials: Credentials; account: AccountInfo; message: OutboundMessage; statusCallbackUrl?: string }): Promise<SendResult>;
  /**
   * Tells the platform the business has read the conversation (capability `mark_read`): WhatsApp
   * read receipt on the latest message, Meta `mark_seen`, Gmail UNREAD removed, IMAP `\Seen`.
   * Errors are classified as for send; outside a reply window Meta refuses it (`window_closed`).
   */
  markRead?(input: { credentials: Credentials; account: AccountInfo; read: MarkReadRequest }): Promise<void>;
  /** Revokes what can be revoked on disconnect (best effort). */
  revoke?(credentials: Credentials, account: AccountInfo): Promise<void>;
  /**
   * Asks the platform to push changes to our webhook (Gmail users.watch into the Pub/Sub topic);
   * returns when that lapses (epoch ms), or null when push is not configured. Renew before then.
   */
  watch?(credentials: Credentials, account: AccountInfo): Promise<{ expiresAt: number } | null>;
  /** Classifies any error this adapter's calls throw. */
  classify(err: unknown): ErrorClass;
}
