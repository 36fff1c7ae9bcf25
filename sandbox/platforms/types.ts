// The one interface every simulated platform implements. A module is created per sandbox
// instance with that instance's context, so its state is its own.
import type { Hono } from 'hono';
import type { SandboxContext } from '../core/context';

export interface SeedOptions {
  /** Conversations per business account. */
  conversations: number;
  /** Messages per conversation. */
  messagesPerConversation: number;
}

export interface CustomerMessageInput {
  /** Business account addressed (page ID, IG ID, phone number ID, Twilio number, TikTok account, mailbox); default: the first seeded one. */
  accountId?: string;
  /** The customer (PSID, wa_id, phone, email…); default: a new or random known customer. */
  customerId?: string;
  text?: string;
  /** Attach a media item instead of / besides text. */
  media?: boolean;
}

export interface PlatformModule {
  /** Platform key used by faults, recordings, webhooks and admin routes (e.g. "meta", "twilio"). */
  name: string;
  /** Routes, each under its real host as a path prefix (e.g. /graph.facebook.com/v25.0/…). */
  routes: Hono;
  seed(options: SeedOptions): void | Promise<void>;
  /** A customer writes to the business: the message enters platform state and its webhook is sent. */
  customerWrites(input: CustomerMessageInput): Promise<{ messageId: string; accountId: string; customerId: string }>;
  /** What a developer needs to connect: base URLs, app credentials, seeded accounts. */
  describe(): Record<string, unknown>;
  close?(): Promise<void>;
}

export type PlatformFactory = (ctx: SandboxContext) => PlatformModule | Promise<PlatformModule>;
