// The email adapter against the sandbox's real GreenMail (SMTP + IMAP): connect with credentials
// (both servers checked), wrong credentials, backfill of INBOX + Sent to completion with threads
// grouped by root Message-ID, incremental sync by UID, the subject fallback, a UIDVALIDITY change,
// and error classification (refused, timeouts, throttling, bad auth). GreenMail is not behind the
// sandbox's HTTP fault injector, so network faults are made with real local sockets instead.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { EmailAdapter } from '../../activities/platforms/email';
import { PlatformError, type AccountInfo, type Credentials, type NormalizedConversation, type SyncCursor, type SyncPage } from '../../activities/platforms/types';
import { platformConfig } from '../../lib/platform-config';
import { freePort } from '../../scripts/stack/processes';
import { useSandbox } from '../helpers/sandbox';

interface EmailWorld {
  host: string;
  smtp: { port: number };
  imap: { port: number; sentFolder: string };
  mailboxes: Array<{ address: string; login: string; password: string }>;
  threads: number;
}

const WORLD = { conversations: 3, messagesPerConversation: 4 };

describe('email adapter (IMAP/SMTP via GreenMail)', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let world: EmailWorld;
  let adapter: EmailAdapter;
  let credentials: Credentials;
  let account: AccountInfo;
  let cursor: SyncCursor;
  const byId = new Map<string, NormalizedConversation>(); // everything synced, merged as the product stores it

  const support = () => world.mailboxes[0]!;
  const input = (over: { imapPassword?: string; smtpPassword?: string; imapPort?: number; smtpPort?: number } = {}) => ({
    address: support().address,
    imap: { host: world.host, port: over.imapPort ?? world.imap.port, secure: false, user: support().login, password: over.imapPassword ?? support().password },
    smtp: { host: world.host, port: over.smtpPort ?? world.smtp.port, secure: false, user: support().login, password: over.smtpPassword ?? support().password },
  });
  /** The sandbox's own state, read with a separate IMAP session. */
  const withMailbox = async <T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = new ImapFlow({ host: world.host, port: world.imap.port, secure: false, auth: { user: support().login, pass: support().password }, logger: false, disableAutoIdle: true });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.logout();
    }
  };
  const merge = (page: SyncPage) => {
    for (const c of page.conversations) {
      const known = byId.get(c.externalId);
      if (!known) byId.set(c.externalId, { ...c, messages: [...c.messages] });
      else for (const m of c.messages) if (!known.messages.some((k) => k.externalId === m.externalId)) known.messages.push(m);
    }
  };
  const expectError = (kind: string, pattern?: RegExp, secret?: string) => (err: unknown) => {
    assert.ok(err instanceof PlatformError, `PlatformError expected, got ${String(err)}`);
    assert.equal(err.classification.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    if (secret) assert.ok(!err.message.includes(secret), 'no secret in the message');
    return true;
  };

  before(async () => {
    sb = await useSandbox({ platforms: ['email'], world: WORLD });
    world = (await sb.admin('GET', '/world')).json.email;
    adapter = new EmailAdapter(platformConfig({ SANDBOX_URL: sb.url }), { pageSize: 5 });
  });
  after(async () => {
    await sb?.close();
  });

  test('connectWithCredentials: IMAP login + INBOX and SMTP AUTH; the account is the address; hints carry no password', async () => {
    const result = await adapter.connectWithCredentials(input());
    credentials = result.credentials;
    account = result.account;
    assert.equal(account.id, 'support@shop.example');
    assert.equal(credentials.imapPassword, support().password);
    assert.equal(credentials.smtpPassword, support().password);
    assert.equal(result.tokenExpiresAt, undefined);
    assert.deepEqual(result.credentialHints, {
      address: 'support@shop.example', imap: `${world.host}:${world.imap.port}`, imapUser: support().login, smtp: `${world.host}:${world.smtp.port}`, smtpUser: support().login,
    });
    assert.ok(!JSON.stringify(result.credentialHints).includes(support().password));
    assert.equal(adapter.usesOAuth, false);
    assert.equal(await adapter.refresh(), null);
    assert.deepEqual(await adapter.check(credentials, account), account);
  });

  test('wrong IMAP or SMTP password, bad input → permanent PlatformError naming the server, without the secret', async () => {
    await assert.rejects(adapter.connectWithCredentials(input({ imapPassword: 'wrong-imap-secret' })), expectError('permanent', /IMAP login failed/, 'wrong-imap-secret'));
    // IMAP is right, SMTP is wrong: GreenMail would take unauthenticated mail, but AUTH says 535.
    await assert.rejects(adapter.connectWithCredentials(input({ smtpPassword: 'wrong-smtp-secret' })), expectError('permanent', /SMTP login failed/, 'wrong-smtp-secret'));
    await assert.rejects(adapter.connectWithCredentials({ address: 'not-an-address', imap: { host: world.host } }), expectError('permanent', /invalid email settings: check .*address.*imap\.port/));
    // Mail servers on a private network are refused before any connection (the sandbox host is allowed as configured).
    for (const host of ['169.254.169.254', '10.0.0.25']) {
      const base = input();
      await assert.rejects(adapter.connectWithCredentials({ ...base, imap: { ...base.imap, host } }), (err: unknown) => err instanceof PlatformError && err.classification.code === 'host_not_allowed' && /IMAP server not allowed/.test(err.message));
      await assert.rejects(adapter.connectWithCredentials({ ...base, smtp: { ...base.smtp, host } }), (err: unknown) => err instanceof PlatformError && err.classification.code === 'host_not_allowed' && /SMTP server not allowed/.test(err.message));
    }
    // A password changed after connecting: check() and fetchPage() say reauth.
    const stale = { ...credentials, imapPassword: 'changed-elsewhere' };
    await assert.rejects(adapter.check(stale, account), expectError('reauth', /IMAP/, 'changed-elsewhere'));
    await assert.rejects(adapter.fetchPage({ credentials: stale, account, cursor: null, mode: 'backfill' }), expectError('reauth'));
  });

  test('unreachable servers: connection refused (IMAP, then SMTP) → retryable, naming which one', async () => {
    const closed = await freePort();
    await assert.rejects(adapter.connectWithCredentials(input({ imapPort: closed })), expectError('retryable', /^email: IMAP .*ECONNREFUSED/));
    await assert.rejects(adapter.connectWithCredentials(input({ smtpPort: closed })), expectError('retryable', /^email: SMTP /));
    await assert.rejects(adapter.check({ ...credentials, imapPort: closed }, account), expectError('retryable'));
  });

  test('a server that never greets (timeout) or says BYE and hangs up → retryable', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    const bye: Server = createServer((s) => { s.on('error', () => {}); s.end('* BYE server shutting down\r\n'); });
    await Promise.all([silent, bye].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
    try {
      const quick = new EmailAdapter(platformConfig({ SANDBOX_URL: sb.url }), { greetingTimeoutMs: 300, connectionTimeoutMs: 1000 });
      await assert.rejects(quick.check({ ...credentials, imapPort: (silent.address() as AddressInfo).port }, account), expectError('retryable'));
      await assert.rejects(quick.check({ ...credentials, imapPort: (bye.address() as AddressInfo).port }, account), expectError('retryable'));
    } finally {
      for (const s of sockets) s.destroy();
      await Promise.all([silent, bye].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    }
  });

  test('backfill walks INBOX and Sent page by page to completion; threads group by root Message-ID', async () => {
    const state = await withMailbox(async (c) => ({
      inbox: (await c.status('INBOX', { messages: true })).messages!,
      sent: (await c.status(world.imap.sentFolder, { messages: true })).messages!,
    }));
    const perMailbox = WORLD.conversations * WORLD.messagesPerConversation;
    assert.equal(state.inbox + state.sent, perMailbox); // the sandbox's own count
    assert.equal(world.threads, WORLD.conversations * world.mailboxes.length);

    let page: SyncPage;
    let c: SyncCursor | null = null;
    let pages = 0;
    do {
      page = await adapter.fetchPage({ credentials, account, cursor: c, mode: 'backfill' });
      assert.ok(page.conversations.reduce((n, x) => n + x.messages.length, 0) <= 5, 'page size respected');
      // The same cursor again gives the same page (read-only, idempotent).
      if (pages === 1) assert.deepEqual(await adapter.fetchPage({ credentials, account, cursor: c, mode: 'backfill' }), page);
      merge(page);
      c = page.cursor;
      pages++;
    } while (!page.done && pages < 20);
    assert.ok(page.done);
    assert.equal(pages, Math.ceil(perMailbox / 5));
    cursor = page.cursor;
    assert.equal(cursor.sentPath, 'Sent');
    assert.equal(typeof cursor.inboxUidValidity, 'string');

    const convs = [...byId.values()];
    assert.equal(convs.length, WORLD.conversations);
    const all = convs.flatMap((x) => x.messages);
    assert.equal(all.length, perMailbox);
    assert.equal(new Set(all.map((m) => m.externalId)).size, perMailbox);
    for (const conv of convs) {
      assert.match(conv.participant.externalId, /^[a-z]+@customers\.example$/);
      assert.match(conv.subject!, /^Order #\d+: question for support$/);
      const msgs = conv.messages.sort((a, b) => a.timestamp - b.timestamp);
      assert.equal(msgs.length, WORLD.messagesPerConversation);
      assert.equal(conv.externalId, msgs[0]!.externalId, 'conversation id = the root Message-ID');
      assert.deepEqual(msgs.map((m) => m.direction), ['inbound', 'outbound', 'inbound', 'outbound']);
      for (const m of msgs) {
        assert.match(m.externalId, /^<[^<>]+@(customers|shop)\.example>$/);
        assert.equal(m.sender.externalId, m.direction === 'inbound' ? conv.participant.externalId : 'support@shop.example');
        assert.ok(m.timestamp > 0 && m.timestamp <= Date.now() + 1000);
        assert.ok(m.text && m.text.length > 10);
      }
    }
    // The business replies came from Sent.
    const sentIds = await withMailbox(async (cl) => {
      await cl.mailboxOpen(world.imap.sentFolder, { readOnly: true });
      return (await cl.fetchAll('1:*', { envelope: true })).map((m) => m.envelope!.messageId);
    });
    assert.deepEqual(new Set(all.filter((m) => m.direction === 'outbound').map((m) => m.externalId)), new Set(sentIds));
  });

  test('incremental: nothing new → empty; a customer writes → exactly that message, in its thread; same cursor twice is harmless', async () => {
    const idle = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.deepEqual(idle.conversations, []);
    assert.ok(idle.done);
    assert.deepEqual(idle.cursor, cursor);

    const written = await sb.admin('POST', '/customers/email/messages', { customerId: 'alice@customers.example', text: 'Any news on my order? Grüße' });
    assert.equal(written.status, 201);
    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.equal(page.conversations.length, 1);
    const [conv] = page.conversations;
    assert.equal(conv!.messages.length, 1);
    assert.equal(conv!.messages[0]!.externalId, written.json.messageId);
    assert.equal(conv!.messages[0]!.direction, 'inbound');
    assert.equal(conv!.messages[0]!.text, 'Any news on my order? Grüße');
    assert.equal(conv!.participant.externalId, 'alice@customers.example');
    const alices = [...byId.values()].find((x) => x.participant.externalId === 'alice@customers.example')!;
    assert.equal(conv!.externalId, alices.externalId, 'lands in the existing conversation');
    assert.ok(Number(page.cursor.inboxLastUid) > Number(cursor.inboxLastUid));
    assert.equal(page.cursor.sentLastUid, cursor.sentLastUid);

    assert.deepEqual(await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' }), page);
    cursor = page.cursor;
    assert.deepEqual((await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' })).conversations, []);
  });

  test('incremental: attachments (metadata), a new customer starts a new conversation keyed by its Message-ID', async () => {
    const photo = await sb.admin('POST', '/customers/email/messages', { customerId: 'bob@customers.example', media: true });
    const zoe = await sb.admin('POST', '/customers/email/messages', { customerId: 'zoe', text: 'Hi, first time here' });
    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.ok(page.done);
    const msgs = page.conversations.flatMap((x) => x.messages);
    assert.deepEqual(msgs.map((m) => m.externalId).sort(), [photo.json.messageId, zoe.json.messageId].sort());
    const withPhoto = msgs.find((m) => m.externalId === photo.json.messageId)!;
    assert.equal(withPhoto.attachments?.length, 1);
    const att = withPhoto.attachments![0]!;
    assert.equal(att.type, 'image');
    assert.equal(att.name, 'photo.png');
    assert.equal(att.mimeType, 'image/png');
    assert.ok(att.size! > 50);
    assert.match(att.platformMediaId!, /^INBOX:\d+:\d+:0$/);
    const zoeConv = page.conversations.find((x) => x.participant.externalId === 'zoe@customers.example')!;
    assert.equal(zoeConv.externalId, zoe.json.messageId);
    assert.equal(zoeConv.subject, 'Question from zoe');
    cursor = page.cursor;
  });

  test('a reply without References/In-Reply-To joins its thread by normalized subject and customer', async () => {
    const alices = [...byId.values()].find((x) => x.participant.externalId === 'alice@customers.example')!;
    // A plain mail client that drops the threading headers, as a remote MTA delivers it (no AUTH).
    const mta = createTransport({ host: world.host, port: world.smtp.port, secure: false, ignoreTLS: true });
    try {
      await mta.sendMail({ from: 'alice@customers.example', to: support().address, subject: `RE: Re:  ${alices.subject}`, text: 'Me again, from my phone.', messageId: '<headless-1@customers.example>' });
    } finally {
      mta.close();
    }
    const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
    assert.equal(page.conversations.length, 1);
    assert.equal(page.conversations[0]!.externalId, alices.externalId);
    assert.equal(page.conversations[0]!.messages[0]!.externalId, '<headless-1@customers.example>');
    cursor = page.cursor;
  });

  test('a changed UIDVALIDITY (Sent recreated) resyncs that folder only; Message-IDs keep ids stable', async () => {
    const before = String(cursor.sentUidValidity);
    // Recreate Sent with its old content: the server gives it a new UIDVALIDITY.
    await withMailbox(async (c) => {
      await c.mailboxOpen(world.imap.sentFolder, { readOnly: true });
      const copies = (await c.fetchAll('1:*', { source: true, internalDate: true })).map((m) => ({ source: m.source!, date: m.internalDate }));
      await c.mailboxClose();
      await c.mailboxDelete(world.imap.sentFolder);
      await c.mailboxCreate(world.imap.sentFolder);
      for (const m of copies) await c.append(world.imap.sentFolder, m.source, ['\\Seen'], m.date);
    });
    const after = await withMailbox(async (c) => String((await c.status(world.imap.sentFolder, { uidValidity: true })).uidValidity));
    assert.notEqual(after, before, 'GreenMail gives a recreated folder a new UIDVALIDITY');
    const sentCount = WORLD.conversations * (WORLD.messagesPerConversation / 2);
    const seen: string[] = [];
    let c: SyncCursor = cursor;
    let page: SyncPage;
    let n = 0;
    do {
      page = await adapter.fetchPage({ credentials, account, cursor: c, mode: 'incremental' });
      for (const conv of page.conversations) {
        const known = byId.get(conv.externalId);
        assert.ok(known, 'resynced replies land in the known conversations');
        for (const m of conv.messages) {
          assert.equal(m.direction, 'outbound');
          assert.ok(known.messages.some((k) => k.externalId === m.externalId), 'same message ids as before: no duplicates');
          seen.push(m.externalId);
        }
      }
      c = page.cursor;
    } while (!page.done && ++n < 10);
    assert.equal(seen.length, sentCount);
    assert.equal(c.sentUidValidity, after);
    assert.equal(c.inboxLastUid, cursor.inboxLastUid, 'INBOX untouched');
    cursor = c;
  });

  test('incremental with no cursor starts from now; the second mailbox is separate', async () => {
    const sales = world.mailboxes[1]!;
    const connected = await adapter.connectWithCredentials({
      address: sales.address,
      imap: { host: world.host, port: world.imap.port, user: sales.login, password: sales.password },
      smtp: { host: world.host, port: world.smtp.port, user: sales.login, password: sales.password },
    });
    const start = await adapter.fetchPage({ credentials: connected.credentials, account: connected.account, cursor: null, mode: 'incremental' });
    assert.deepEqual(start.conversations, []);
    assert.ok(start.done);
    assert.ok(Number(start.cursor.inboxLastUid) >= WORLD.conversations * WORLD.messagesPerConversation / 2);
    const written = await sb.admin('POST', '/customers/email/messages', { accountId: sales.address, customerId: 'carol@customers.example', text: 'For sales' });
    const next = await adapter.fetchPage({ credentials: connected.credentials, account: connected.account, cursor: start.cursor, mode: 'incremental' });
    assert.deepEqual(next.conversations.flatMap((x) => x.messages.map((m) => m.externalId)), [written.json.messageId]);
  });

  // ---- send ---------------------------------------------------------------------------------

  /** A scripted SMTP server on a local socket: `reply(command)` answers MAIL/RCPT/DATA. */
  async function fakeSmtp(reply: (command: string) => string | undefined) {
    const server: Server = createServer((sock) => {
      sock.on('error', () => {});
      sock.write('220 fake.local ESMTP\r\n');
      let data = false;
      let buf = '';
      sock.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (data) { if (line === '.') { data = false; sock.write('250 2.0.0 queued\r\n'); } continue; }
          const cmd = line.split(' ')[0]!.toUpperCase();
          if (cmd === 'EHLO' || cmd === 'HELO') sock.write('250-fake.local\r\n250 AUTH PLAIN LOGIN\r\n');
          else if (cmd === 'AUTH') sock.write('235 2.7.0 ok\r\n');
          else if (cmd === 'QUIT') sock.end('221 bye\r\n');
          else {
            const custom = reply(line);
            if (custom) sock.write(`${custom}\r\n`);
            else if (cmd === 'DATA') { data = true; sock.write('354 go ahead\r\n'); } else sock.write('250 2.1.0 ok\r\n');
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  test('send: a reply goes out over SMTP with our Message-ID, threading headers and Re: subject; copy appended to Sent; sync sees it outbound in the thread', async () => {
    const conv = [...byId.values()].find((c) => /customers\.example$/.test(c.participant.externalId))!;
    const parent = [...conv.messages].sort((a, b) => a.timestamp - b.timestamp).at(-1)!;
    const since = Date.now();
    const result = await adapter.send({ credentials, account, message: {
      clientRef: 'e-1', to: { externalId: conv.participant.externalId }, conversationExternalId: conv.externalId,
      subject: conv.subject, inReplyTo: parent.externalId, text: 'Your order ships today — ümlauts included.',
    } });
    assert.match(result.externalId, /^<[^<>]+@shop\.example>$/);
    assert.ok(result.timestamp >= since - 1000 && result.timestamp <= Date.now());

    // The copy in Sent: same Message-ID, threading headers, Re: subject, \Seen.
    const copy = await withMailbox(async (c) => {
      await c.mailboxOpen(world.imap.sentFolder, { readOnly: true });
      const all = await c.fetchAll('1:*', { envelope: true, flags: true, source: true });
      return all.find((m) => m.envelope!.messageId === result.externalId);
    });
    assert.ok(copy, 'appended to Sent');
    assert.ok(copy.flags!.has('\\Seen'));
    assert.equal(copy.envelope!.subject, `Re: ${conv.subject}`);
    assert.equal(copy.envelope!.inReplyTo, parent.externalId);
    assert.match(copy.source!.toString('utf8'), new RegExp(`References: ${conv.externalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(copy.envelope!.to!.map((a) => a.address), [conv.participant.externalId]);
    assert.deepEqual(copy.envelope!.from!.map((a) => a.address), [support().address]);

    // Delivered over SMTP: GreenMail created the customer's mailbox (login = password = address).
    const customer = conv.participant.externalId;
    const inbox = new ImapFlow({ host: world.host, port: world.imap.port, secure: false, auth: { user: customer, pass: customer }, logger: false, disableAutoIdle: true });
    await inbox.connect();
    try {
      await inbox.mailboxOpen('INBOX', { readOnly: true });
      const got = (await inbox.fetchAll('1:*', { envelope: true })).map((m) => m.envelope!.messageId);
      assert.ok(got.includes(result.externalId), 'the customer received it');
    } finally {
      await inbox.logout();
    }

    // Sync: outbound, same Message-ID, in the same conversation (root Message-ID).
    let c: SyncCursor = cursor;
    let found;
    for (let i = 0; i < 10 && !found; i++) {
      const page = await adapter.fetchPage({ credentials, account, cursor: c, mode: 'incremental' });
      c = page.cursor;
      const hit = page.conversations.find((x) => x.messages.some((m) => m.externalId === result.externalId));
      if (hit) found = { conv: hit.externalId, msg: hit.messages.find((m) => m.externalId === result.externalId)! };
      if (page.done) break;
    }
    assert.ok(found, 'sync returned the sent message');
    assert.equal(found.conv, conv.externalId);
    assert.equal(found.msg.direction, 'outbound');
    assert.equal(found.msg.text?.trim(), 'Your order ships today — ümlauts included.');
    cursor = c;
  });

  test('send: media by URL is fetched and attached; a missing file is permanent; no templates', async () => {
    const pdf = Buffer.from('%PDF-1.4\n% tiny\n');
    const http = await import('node:http');
    const files = http.createServer((req, res) => {
      if (req.url === '/files/invoice.pdf') res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    try {
      const result = await adapter.send({ credentials, account, message: {
        clientRef: 'e-2', to: { externalId: 'dave@customers.example' }, conversationExternalId: '', subject: 'Your invoice', media: { type: 'file', url: `${base}/files/invoice.pdf`, caption: 'Invoice attached' },
      } });
      const page = await adapter.fetchPage({ credentials, account, cursor, mode: 'incremental' });
      const msg = page.conversations.flatMap((x) => x.messages).find((m) => m.externalId === result.externalId)!;
      assert.equal(msg.direction, 'outbound');
      assert.equal(msg.attachments?.[0]?.name, 'invoice.pdf');
      assert.equal(msg.attachments?.[0]?.mimeType, 'application/pdf');
      assert.equal(page.conversations.find((x) => x.messages.includes(msg))!.externalId, result.externalId, 'a new mail starts its own conversation');
      cursor = page.cursor;

      await assert.rejects(adapter.send({ credentials, account, message: { clientRef: 'e-3', to: { externalId: 'dave@customers.example' }, conversationExternalId: '', media: { type: 'file', url: `${base}/files/missing.pdf` } } }), expectError('permanent'));
      await assert.rejects(adapter.send({ credentials, account, message: { clientRef: 'e-4', to: { externalId: 'dave@customers.example' }, conversationExternalId: '', template: { name: 't', language: 'en' } } }), expectError('permanent'));
    } finally {
      await new Promise<void>((resolve) => files.close(() => resolve()));
    }
  });

  test('send: media on a private network is not fetched (it would be mailed out): permanent, nothing sent', async () => {
    const reply = { clientRef: 'e-private', to: { externalId: 'frank@customers.example' }, conversationExternalId: '', subject: 'x', media: { type: 'file' as const, url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/role' } };
    await assert.rejects(adapter.send({ credentials, account, message: reply }), (err: unknown) => err instanceof PlatformError && err.classification.kind === 'permanent' && err.classification.code === 'media_url_not_allowed');
  });

  test('send: a reply sent again (an SMTP answer lost) keeps its Message-ID; another reply gets another', async () => {
    const reply = (clientRef: string) => ({ clientRef, to: { externalId: 'frank@customers.example' }, conversationExternalId: '', subject: 'Order', text: 'On its way' });
    const first = await adapter.send({ credentials, account, message: reply('e-again') });
    const again = await adapter.send({ credentials, account, message: reply('e-again') });
    const other = await adapter.send({ credentials, account, message: reply('e-other') });
    assert.equal(again.externalId, first.externalId);
    assert.notEqual(other.externalId, first.externalId);
    assert.match(first.externalId, /^<[0-9a-f]{32}@shop\.example>$/, 'nothing of our internal ids in the header');
  });

  test('send: invalid recipient → permanent; wrong SMTP password → reauth; refused → retryable', async () => {
    const msg = { clientRef: 'e-5', to: { externalId: 'not-an-address' }, conversationExternalId: '', subject: 'x', text: 'x' };
    await assert.rejects(adapter.send({ credentials, account, message: msg }), (err: unknown) => err instanceof PlatformError && err.classification.kind === 'permanent' && err.classification.code === 'invalid_recipient');
    const ok = { ...msg, to: { externalId: 'erin@customers.example' } };
    await assert.rejects(adapter.send({ credentials: { ...credentials, smtpPassword: 'wrong-secret-pw' }, account, message: ok }), expectError('reauth', /SMTP/, 'wrong-secret-pw'));
    const closed = await freePort();
    await assert.rejects(adapter.send({ credentials: { ...credentials, smtpPort: closed }, account, message: ok }), expectError('retryable', /SMTP/));
  });

  test('send: SMTP 421 rate limit → rate_limited, 451 → retryable, 550 on RCPT → permanent', async () => {
    const ok = { clientRef: 'e-6', to: { externalId: 'erin@customers.example' }, conversationExternalId: '', subject: 'x', text: 'x' };
    const cases: Array<[string, string, string]> = [
      ['MAIL', '421 4.7.0 Too many messages, rate limit exceeded, try again later', 'rate_limited'],
      ['MAIL', '451 4.3.0 Local error in processing', 'retryable'],
      ['RCPT', '550 5.1.1 No such user here', 'permanent'],
    ];
    for (const [on, answer, kind] of cases) {
      const fake = await fakeSmtp((line) => (line.toUpperCase().startsWith(on) ? answer : undefined));
      try {
        const err = await adapter.send({ credentials: { ...credentials, smtpPort: fake.port, smtpHost: '127.0.0.1' }, account, message: ok }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof PlatformError, `${answer}: PlatformError expected, got ${String(err)}`);
        assert.equal(err.classification.kind, kind, answer);
        if (err.classification.kind === 'rate_limited') assert.ok(err.classification.retryAfterMs > 0);
      } finally {
        await fake.close();
      }
    }
  });

  test('classify(): auth → reauth, network and 4xx → retryable, throttling → rate_limited with the server hint, others permanent', () => {
    const err = (props: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), props);
    assert.equal(adapter.classify(err({ authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED' })).kind, 'reauth');
    assert.equal(adapter.classify(err({ authenticationFailed: true, serverResponseCode: 'UNAVAILABLE' })).kind, 'retryable');
    assert.equal(adapter.classify(err({ code: 'EAUTH', responseCode: 535 })).kind, 'reauth');
    assert.equal(adapter.classify(err({ code: 'EAUTH', responseCode: 454 })).kind, 'retryable');
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ETIMEOUT', 'NoConnection', 'GREETING_TIMEOUT', 'ECONNECTION']) assert.equal(adapter.classify(err({ code })).kind, 'retryable', code);
    assert.equal(adapter.classify(err({ responseCode: 421 })).kind, 'retryable');
    assert.equal(adapter.classify(err({ responseCode: 550 })).kind, 'permanent');
    assert.deepEqual(adapter.classify(err({ code: 'ETHROTTLE', throttleReset: 92415 })), { kind: 'rate_limited', retryAfterMs: 92415, message: 'IMAP server throttles requests', code: 'ETHROTTLE' });
    assert.equal(adapter.classify(err({ code: 'ENOTFOUND' })).kind, 'permanent');
    assert.equal(adapter.classify(new Error('weird')).kind, 'permanent');
    assert.equal(adapter.classify(new PlatformError('email', { kind: 'reauth', message: 'm' })).kind, 'reauth');
  });
});
