// Google simulator: OAuth 2.0 (accounts.google.com consent, oauth2.googleapis.com token/revoke)
// and the Gmail API (messages, threads, history, labels, send, watch + Pub/Sub-style push).
import { Hono } from 'hono';
import type { SandboxContext } from '../../core/context';
import type { CustomerMessageInput, PlatformModule, SeedOptions } from '../types';
import { registerGmailRoutes, normalizeSubject } from './gmail';
import { Mailbox } from './mailbox';
import { buildRaw, headerValue } from './mime';
import { registerOAuthRoutes } from './oauth';
import { DEFAULT_GOOGLE_OPTIONS, GMAIL_SCOPES, GoogleWorld, PLATFORM, type GoogleOptions } from './world';

export type { GoogleOptions } from './world';
export { GMAIL_SCOPES } from './world';

export interface GooglePlatform extends PlatformModule {
  world: GoogleWorld;
  /** Forces the history horizon past every record: history.list from any older id answers 404. */
  expireHistory(email?: string): void;
}

// 1×1 PNG for customers who "send media".
const PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const TOPICS = ['Order status', 'Refund request', 'Delivery address change', 'Invoice copy', 'Product question'];

export function createGooglePlatform(ctx: SandboxContext, options: Partial<GoogleOptions> = {}): GooglePlatform {
  const world = new GoogleWorld(ctx, { ...DEFAULT_GOOGLE_OPTIONS, ...options });
  const routes = new Hono();
  registerOAuthRoutes(routes, world);
  registerGmailRoutes(routes, world);

  const addMailbox = (email: string, name: string) => {
    const mailbox = new Mailbox(email.toLowerCase(), name, ctx.now, 1_000_000);
    world.mailboxes.set(mailbox.email, mailbox);
    return mailbox;
  };
  const newMessageId = () => `<${ctx.id('', 15).replace(/[-_]/g, 'x')}@mail.example.com>`;

  /** The customer's (or our) next message in a thread: RFC 2822 threading headers and Re: subject. */
  function reply(mailbox: Mailbox, threadId: string | undefined, from: string, to: string, text: string, at: number, fallbackSubject: string, attachment?: boolean) {
    const parent = threadId ? mailbox.threadMessages(threadId).at(-1) : undefined;
    const parentId = parent ? headerValue(parent.mime.headers, 'Message-ID') : undefined;
    const parentRefs = parent ? headerValue(parent.mime.headers, 'References') : undefined;
    const subject = parent ? `Re: ${normalizeSubject(headerValue(parent.mime.headers, 'Subject')) === '' ? fallbackSubject : (headerValue(parent.mime.headers, 'Subject') ?? '').replace(/^(re:\s*)+/i, '')}` : fallbackSubject;
    return buildRaw({
      from, to, subject, date: new Date(at), messageId: newMessageId(), text,
      inReplyTo: parentId, references: parentId ? [parentRefs, parentId].filter(Boolean).join(' ') : undefined,
      attachment: attachment ? { filename: 'photo.png', mimeType: 'image/png', data: PIXEL_PNG } : undefined,
    });
  }

  function seed({ conversations, messagesPerConversation }: SeedOptions): void {
    const mailbox = addMailbox('support@switchboard.example', 'Switchboard Support');
    const us = `${mailbox.displayName} <${mailbox.email}>`;
    const now = ctx.now();
    for (let i = 0; i < conversations; i++) {
      const customer = `Customer ${i + 1} <customer${i + 1}@example.com>`;
      let threadId: string | undefined;
      for (let j = 0; j < messagesPerConversation; j++) {
        const fromCustomer = j % 2 === 0;
        const at = now - (conversations - i) * 3600_000 - (messagesPerConversation - j) * 300_000;
        const raw = reply(mailbox, threadId, fromCustomer ? customer : us, fromCustomer ? us : customer,
          fromCustomer ? `Hello, message ${j + 1} about ${TOPICS[i % TOPICS.length]!.toLowerCase()}.` : `Thanks for writing, we're on it (${j + 1}).`, at, TOPICS[i % TOPICS.length]!);
        const labels = fromCustomer ? ['INBOX', 'CATEGORY_PERSONAL', ...(j === messagesPerConversation - 1 ? ['UNREAD'] : [])] : ['SENT'];
        threadId = mailbox.add(raw, labels, at, threadId).message.threadId;
      }
    }
  }

  async function customerWrites(input: CustomerMessageInput) {
    const mailbox = (input.accountId ? world.mailbox(input.accountId) : undefined) ?? [...world.mailboxes.values()][0];
    if (!mailbox) throw new Error(input.accountId ? `no Gmail mailbox ${input.accountId}` : 'no Gmail mailbox seeded');
    const customer = (input.customerId ?? `customer-${ctx.id('', 6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}@example.com`).toLowerCase();
    const from = customer.includes('@') ? customer : `${customer}@example.com`;
    // A customer who wrote before replies in their latest thread (References + same subject).
    const previous = [...mailbox.messages.values()]
      .filter((m) => (headerValue(m.mime.headers, 'From') ?? '').toLowerCase().includes(from) || (headerValue(m.mime.headers, 'To') ?? '').toLowerCase().includes(from))
      .sort((a, b) => b.internalDate - a.internalDate)[0];
    const at = ctx.now();
    const raw = reply(mailbox, previous?.threadId, from, `${mailbox.displayName} <${mailbox.email}>`, input.text ?? 'Hello, I have a question about my order.', at, 'Question from a customer', input.media);
    const { message, record } = mailbox.add(raw, ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'], at, previous?.threadId);
    world.notify(mailbox, [record]);
    return { messageId: message.id, accountId: mailbox.email, customerId: from };
  }

  function describe(): Record<string, unknown> {
    const app = ctx.apps.get(PLATFORM);
    const base = ctx.publicUrl();
    return {
      baseUrls: {
        authorize: `${base}/accounts.google.com/o/oauth2/v2/auth`,
        token: `${base}/oauth2.googleapis.com/token`,
        revoke: `${base}/oauth2.googleapis.com/revoke`,
        gmail: `${base}/gmail.googleapis.com/gmail/v1/users/me`,
        gmailRootUrl: `${base}/gmail.googleapis.com/`,
      },
      app: { client_id: app.id, client_secret: app.secret, redirectUris: app.redirectUris, pushToken: app.extra.pushToken },
      mailboxes: [...world.mailboxes.values()].map((m) => ({ emailAddress: m.email, messages: m.messages.size, threads: m.threads.size, historyId: String(m.historyId) })),
      scopes: GMAIL_SCOPES,
      authorize: 'GET the consent URL; without a browser add sandbox_decision=approve|deny (the account is login_hint or sandbox_account, default the first mailbox) to get the 302 to redirect_uri at once. The HTML page posts decision=approve|deny.',
      tokens: `Kinds "access" (ya29.…, ${world.options.accessTtlSeconds}s) and "refresh" (1//0…, ${world.options.refreshTtlSeconds === null ? 'no expiry' : `${world.options.refreshTtlSeconds}s`}); refresh tokens only with access_type=offline and on (re)consent; they do not rotate.`,
      push: 'After users.watch, every matching mailbox change POSTs {"message":{"data":base64(JSON{emailAddress,historyId}),"messageId","publishTime"},"subscription":"projects/{p}/subscriptions/{topic}-push"} to the google webhook target with ?token=<app.extra.pushToken> appended (the push subscription secret).',
      quota: `${world.options.quotaUnitsPerUserPerMinute} units per user per minute (sliding); over it → 429 rateLimitExceeded with Retry-After.`,
      history: `Records kept ${world.options.historyRetentionSeconds}s of sandbox time (advance /__admin/clock to age them out); older startHistoryId → 404.`,
    };
  }

  return {
    name: PLATFORM, routes, seed, customerWrites, describe, world,
    expireHistory(email?: string) {
      for (const m of world.mailboxes.values()) if (!email || m.email === email.toLowerCase()) m.prune(0);
    },
  };
}
