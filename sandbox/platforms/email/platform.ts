// Plain email (SMTP + IMAP): not a simulation but a real mail server, GreenMail, started per
// sandbox instance on free loopback ports. The business mailboxes are GreenMail users with
// passwords, so the real server rejects wrong credentials (IMAP LOGIN → NO, SMTP AUTH → 535).
// seed() and customerWrites() deliver real mail over SMTP with proper threading headers; the
// business's own seeded replies are sent over SMTP to the customer and APPENDed to its "Sent"
// folder, as a mail client does. There is no webhook: IMAP IDLE is the push.
import { Hono } from 'hono';
import type { SandboxContext } from '../../core/context';
import { route } from '../../core/context';
import type { CustomerMessageInput, PlatformFactory, PlatformModule, SeedOptions } from '../types';
import { startGreenMail, type GreenMailUser } from './greenmail';
import { ImapClient } from './imap';
import { buildMessage, domainOf, newMessageId, SAMPLE_PNG } from './mime';
import { SmtpPool } from './smtp';

/** The business mailboxes (accounts), with the credentials the product connects with. */
export const EMAIL_MAILBOXES: readonly GreenMailUser[] = [
  { address: 'support@shop.example', password: 'sandbox-support-password' },
  { address: 'sales@shop.example', password: 'sandbox-sales-password' },
];
export const CUSTOMER_DOMAIN = 'customers.example';
export const SENT_FOLDER = 'Sent';
/** Largest seeded email history per mailbox (see seed()). */
const MAX_SEED_CONVERSATIONS = 50;
const MAX_SEED_MESSAGES = 50;
const CUSTOMER_NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];

interface Thread {
  mailbox: string;
  customer: string;
  subject: string;
  /** Message-IDs in order, oldest first. */
  messageIds: string[];
}

export const createEmailPlatform: PlatformFactory = async (ctx: SandboxContext): Promise<PlatformModule> => {
  const server = await startGreenMail({ users: [...EMAIL_MAILBOXES], log: ctx.log });
  const threads: Thread[] = [];
  const customers = new Set<string>();
  // Customers' mail comes in as from a remote MTA: no AUTH. The business sends with AUTH.
  const inbound = new SmtpPool({ host: server.host, port: server.smtpPort, name: CUSTOMER_DOMAIN }, 4);
  const outbound = new Map(EMAIL_MAILBOXES.map((m) => [m.address, new SmtpPool({ host: server.host, port: server.smtpPort, name: domainOf(m.address), auth: { user: m.address, pass: m.password } }, 4)]));
  let closed = false;

  try {
    for (const m of EMAIL_MAILBOXES) await withImap(m, (imap) => imap.create(SENT_FOLDER));
  } catch (err) {
    await server.stop();
    throw err;
  }

  async function withImap<T>(mailbox: GreenMailUser, fn: (imap: ImapClient) => Promise<T>): Promise<T> {
    const imap = await ImapClient.connect({ host: server.host, port: server.imapPort });
    try {
      await imap.login(mailbox.address, mailbox.password);
      return await fn(imap);
    } finally {
      await imap.logout();
    }
  }

  const mailbox = (id?: string): GreenMailUser => {
    if (!id) return EMAIL_MAILBOXES[0]!;
    const found = EMAIL_MAILBOXES.find((m) => m.address.toLowerCase() === id.toLowerCase());
    if (!found) throw new Error(`unknown email mailbox "${id}" (known: ${EMAIL_MAILBOXES.map((m) => m.address).join(', ')})`);
    return found;
  };
  const customerAddress = (id: string) => (id.includes('@') ? id.toLowerCase() : `${id.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}@${CUSTOMER_DOMAIN}`);
  const customerName = (n: number) => CUSTOMER_NAMES[n] ?? `customer${n + 1}`;

  /** Builds the next message of a thread (or its first) and records its Message-ID. */
  function nextMessage(thread: Thread, fromBusiness: boolean, text: string, date: Date, attachment?: boolean) {
    const from = fromBusiness ? thread.mailbox : thread.customer;
    const to = fromBusiness ? thread.customer : thread.mailbox;
    const messageId = newMessageId(domainOf(from));
    const parent = thread.messageIds.at(-1);
    const raw = buildMessage({
      from, to, date, messageId, text,
      subject: parent ? `Re: ${thread.subject}` : thread.subject,
      inReplyTo: parent,
      references: thread.messageIds.length ? referencesFor(thread.messageIds) : undefined,
      attachment: attachment ? { filename: 'photo.png', contentType: 'image/png', content: SAMPLE_PNG } : undefined,
    });
    thread.messageIds.push(messageId);
    return { from, to, raw, messageId };
  }

  async function seed(requested: SeedOptions): Promise<void> {
    if (requested.conversations <= 0 || requested.messagesPerConversation <= 0) return;
    // GreenMail keeps every message in its JVM heap: cap the history so large benchmark worlds
    // (100 x 1,000 for the API platforms) still start. The email channel is measured separately.
    const options = { conversations: Math.min(requested.conversations, MAX_SEED_CONVERSATIONS), messagesPerConversation: Math.min(requested.messagesPerConversation, MAX_SEED_MESSAGES) };
    if (options.conversations !== requested.conversations || options.messagesPerConversation !== requested.messagesPerConversation) {
      ctx.log.warn({ requested, seeded: options }, 'email history capped (GreenMail holds mail in memory)');
    }
    const total = EMAIL_MAILBOXES.length * options.conversations * options.messagesPerConversation;
    const start = ctx.now() - total * 60_000; // one message a minute, ending now
    const jobs: Array<{ thread: Thread; slot: number }> = [];
    let slot = 0;
    for (const m of EMAIL_MAILBOXES) {
      for (let c = 0; c < options.conversations; c++) {
        const customer = `${customerName(c)}@${CUSTOMER_DOMAIN}`;
        customers.add(customer);
        const thread: Thread = { mailbox: m.address, customer, subject: `Order #${1000 + c}: question for ${m.address.split('@')[0]}`, messageIds: [] };
        threads.push(thread);
        jobs.push({ thread, slot });
        slot += options.messagesPerConversation;
      }
    }
    // One IMAP session per mailbox for the Sent copies; threads in parallel, each thread in order.
    const imaps = new Map<string, ImapClient>();
    try {
      for (const m of EMAIL_MAILBOXES) {
        const imap = await ImapClient.connect({ host: server.host, port: server.imapPort });
        imaps.set(m.address, imap);
        await imap.login(m.address, m.password);
      }
      let next = 0;
      const worker = async () => {
        while (next < jobs.length) {
          const { thread, slot: first } = jobs[next++]!;
          for (let k = 0; k < options.messagesPerConversation; k++) {
            const fromBusiness = k % 2 === 1;
            const date = new Date(start + (first + k) * 60_000);
            const text = fromBusiness
              ? `Hi ${thread.customer.split('@')[0]}, thanks for writing. (reply ${k + 1} in "${thread.subject}")`
              : `Hello, a question about my order. (message ${k + 1} in "${thread.subject}")`;
            const msg = nextMessage(thread, fromBusiness, text, date);
            if (fromBusiness) {
              await outbound.get(thread.mailbox)!.send({ from: msg.from, to: [msg.to], raw: msg.raw });
              await imaps.get(thread.mailbox)!.append(SENT_FOLDER, msg.raw, { flags: ['\\Seen'], date });
            } else {
              await inbound.send({ from: msg.from, to: [msg.to], raw: msg.raw });
            }
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, jobs.length) }, worker));
    } finally {
      await Promise.all([...imaps.values()].map((i) => i.logout()));
    }
  }

  async function customerWrites(input: CustomerMessageInput) {
    if (closed) throw new Error('email sandbox is closed');
    const m = mailbox(input.accountId);
    const known = [...customers];
    const customer = input.customerId ? customerAddress(input.customerId)
      : known.length && ctx.random.next() < 0.5 ? ctx.random.pick(known) : `${ctx.id('customer-', 6).toLowerCase().replace(/[^a-z0-9-]/g, '')}@${CUSTOMER_DOMAIN}`;
    customers.add(customer);
    // A known customer writes on in their latest thread with this mailbox; a new one starts a thread.
    let thread = threads.findLast((t) => t.mailbox === m.address && t.customer === customer);
    if (!thread) {
      thread = { mailbox: m.address, customer, subject: `Question from ${customer.split('@')[0]}`, messageIds: [] };
      threads.push(thread);
    }
    const text = input.text ?? (input.media ? 'Here is a photo of the item.' : 'Hello, I have a question about my order.');
    const msg = nextMessage(thread, false, text, new Date(ctx.now()), input.media);
    await inbound.send({ from: msg.from, to: [msg.to], raw: msg.raw });
    return { messageId: msg.messageId, accountId: m.address, customerId: customer };
  }

  function describe() {
    return {
      server: `GreenMail ${server.version} (real SMTP + IMAP server)`,
      host: server.host,
      process: { pid: server.pid, startedInMs: server.startedInMs },
      smtp: { host: server.host, port: server.smtpPort, security: 'none (plain; no STARTTLS)', auth: ['PLAIN', 'LOGIN'], note: 'accepts unauthenticated mail too; AUTH with a wrong password → 535' },
      imap: { host: server.host, port: server.imapPort, security: 'none (plain)', sentFolder: SENT_FOLDER, note: 'IDLE, UIDPLUS, MOVE; no CONDSTORE/QRESYNC, no SPECIAL-USE (find Sent by name)' },
      mailboxes: EMAIL_MAILBOXES.map((m) => ({ address: m.address, login: m.address, password: m.password })),
      customers: [...customers].map((address) => ({ address, login: address, password: address })),
      notes: [
        'Mail to any unknown address creates that mailbox in GreenMail with login = password = the address (so customers can read replies).',
        'Sending through SMTP does not store a copy in Sent: APPEND it to "Sent" as a mail client does.',
        'No webhooks: watch INBOX with IMAP IDLE.',
      ],
      threads: threads.length,
    };
  }

  const renderFault: Parameters<typeof route>[1]['renderFault'] = (c, d) => c.json({ error: { message: `injected ${d.kind}`, code: d.kind === 'error' ? d.status : 429 } }, d.kind === 'error' ? (d.status as 500) : 429);
  const routes = new Hono();
  const info = route(ctx, { platform: 'email', name: 'info', renderFault }, (c) => c.json(describe()));
  routes.get('/email.sandbox', info);
  routes.get('/email.sandbox/', info);

  return {
    name: 'email',
    routes,
    seed,
    customerWrites,
    describe,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([inbound.close(), ...[...outbound.values()].map((p) => p.close())]);
      await server.stop();
    },
  };
};

/** References for a reply: every earlier id, trimmed in the middle past 20 (keeping the first and the last ones). */
function referencesFor(ids: string[]): string[] {
  return ids.length <= 20 ? [...ids] : [ids[0]!, ...ids.slice(-19)];
}
