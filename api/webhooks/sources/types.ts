// One webhook source per platform endpoint (`/webhooks/<name>`), behind one interface: check the
// delivery's authenticity over the raw bytes, then turn it into normalized inbox events. Sources
// are pure (no I/O of their own): secrets come in through `VerifyContext`.
import type { Platform } from '../../../lib/domain/channel';
import type { Credentials, NormalizedMessage } from '../../../activities/platforms/types';

export interface WebhookRequest {
  /** The raw body bytes exactly as received: signatures are computed over these. */
  body: Buffer;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The full URL the platform called, as the platform saw it (PUBLIC_URL + path + query). Twilio signs it. */
  url: string;
  /** Query parameters (names as sent: Meta's contain dots, e.g. `hub.mode`). */
  query: Record<string, string>;
  /** When we received it (ms since epoch). */
  receivedAt: number;
}

/** The secrets our app holds for verifying deliveries (from lib/platform-config.ts). */
export interface WebhookSecrets {
  /** Meta app secret and Instagram app secret: a delivery signed by either is genuine. */
  metaAppSecrets: string[];
  /** The verify token typed into the Meta App Dashboard (GET handshake). */
  metaVerifyToken: string;
  tiktokClientSecret: string;
  /** The token configured on the Gmail Pub/Sub push subscription. */
  gmailPushToken: string;
}

export interface VerifyContext {
  secrets: WebhookSecrets;
  /**
   * Unsealed credentials of the connected channels that speak for a platform account (e.g. the
   * Twilio channel whose `account.id` is `whatsapp:+15551234567`). Empty when none is known.
   */
  channelCredentials(platform: Platform, accountId: string): Promise<Credentials[]>;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** A platform account that a channel speaks for: the channel's `platform` is one of `platforms` and its `account.id` is `accountId`. */
export interface AccountRef {
  platforms: Platform[];
  accountId: string;
}

export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'failed';

interface EventBase {
  /**
   * Unique per platform event and stable across redeliveries and re-batching, e.g.
   * `messenger:message:<mid>`, `whatsapp_cloud:status:<wamid>:delivered`. A redelivered event gets
   * the same key, so it is stored once.
   */
  key: string;
  account: AccountRef;
  /** When the platform says it happened (ms since epoch). */
  timestamp: number;
}

export interface ConversationRef {
  /** The platform's thread ID, the same one the adapter's history sync uses (lib/domain/keys.ts). */
  externalId: string;
  /** The customer, as this channel addresses them. */
  participant: { externalId: string; handle?: string; name?: string };
  subject?: string;
}

/** A message: inbound from a customer, or an echo of what the business sent (direction `outbound`). */
export interface MessageEvent extends EventBase {
  kind: 'message';
  conversation: ConversationRef;
  message: NormalizedMessage;
}

/** A delivery status for one outbound message. */
export interface StatusEvent extends EventBase {
  kind: 'status';
  messageExternalId: string;
  status: DeliveryStatus;
  /** The platform's error, for `failed`. */
  error?: { code: string; message: string };
}

/** Messenger-style status for everything sent to a conversation up to a time. */
export interface WatermarkEvent extends EventBase {
  kind: 'watermark';
  conversationExternalId: string;
  status: 'delivered' | 'read';
  /** Every outbound message sent at or before this (ms) has reached `status`. */
  watermark: number;
}

/** A reaction added (emoji) or removed (null) by the customer to a message. */
export interface ReactionEvent extends EventBase {
  kind: 'reaction';
  messageExternalId: string;
  conversationExternalId: string;
  senderExternalId: string;
  emoji: string | null;
}

/** The customer unsent (deleted) a message. */
export interface DeletionEvent extends EventBase {
  kind: 'deletion';
  messageExternalId: string;
}

/** Something changed but the delivery does not say what (Gmail push): sync the channel. */
export interface SyncHintEvent extends EventBase {
  kind: 'sync';
  reason: string;
}

export type InboxEvent = MessageEvent | StatusEvent | WatermarkEvent | ReactionEvent | DeletionEvent | SyncHintEvent;

export interface ParseResult {
  events: InboxEvent[];
  /** Parts of the delivery deliberately not turned into events (e.g. "postback", "messaging_optins"), for the log. */
  ignored: string[];
}

/** The body is not what this platform sends (bad JSON, wrong shape). The endpoint answers 400. */
export class MalformedWebhookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedWebhookError';
  }
}

export interface WebhookSource {
  /** The path segment: `/webhooks/<name>` (the sandbox's platform module name). */
  readonly name: string;
  /** Media types accepted in POST bodies (e.g. application/json, application/x-www-form-urlencoded). */
  readonly contentTypes: string[];
  /** Checks authenticity over the raw bytes (constant-time comparisons). Nothing is parsed as JSON before this says yes. */
  verify(req: WebhookRequest, ctx: VerifyContext): Promise<Verdict>;
  /** Normalizes a verified delivery; throws MalformedWebhookError for a body of the wrong shape. Unknown event types are ignored, not errors. */
  parse(req: WebhookRequest): ParseResult;
  /** Meta's GET verification handshake: 200 with the challenge as plain text, or 403. */
  handshake?(query: Record<string, string>, secrets: WebhookSecrets): { status: 200 | 403; body: string };
  /** What the platform expects as a success body and content type (Twilio: empty TwiML). */
  readonly ackBody?: { contentType: string; body: string };
}
