// The email sandbox is a real GreenMail SMTP + IMAP server: these tests talk to it over the wire
// (IMAP LOGIN/SELECT/UID FETCH/IDLE/APPEND, SMTP EHLO/AUTH/MAIL/RCPT/DATA) as the product's mail
// client will, and check the seeded history's threading, incremental sync by UID, attachments,
// replies through SMTP, wrong credentials, and that close() leaves no server behind.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tcpOpen } from '../../scripts/stack/processes';
import { EMAIL_MAILBOXES, SENT_FOLDER } from '../../sandbox/platforms/email';
import { ImapClient, ImapError } from '../../sandbox/platforms/email/imap';
import { parseHeaders } from '../../sandbox/platforms/email/mime';
import { SmtpError, SmtpSession } from '../../sandbox/platforms/email/smtp';
import { useSandbox } from '../helpers/sandbox';

const SUPPORT = EMAIL_MAILBOXES[0]!;
const HEADER_FIELDS = 'BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO SUBJECT DATE)]';

interface EmailWorld {
  host: string;
  smtp: { port: number };
  imap: { port: number; sentFolder: string };
  mailboxes: Array<{ address: string; login: string; password: string }>;
  customers: Array<{ address: string; login: string; password: string }>;
}

describe('email sandbox (GreenMail)', () => {
  let sb: Awaited<ReturnType<typeof useSandbox>>;
  let world: EmailWorld;
  const clients: ImapClient[] = [];

  const imap = async (user = SUPPORT.address, pass = SUPPORT.password) => {
    const client = await ImapClient.connect({ host: world.host, port: world.imap.port });
    clients.push(client);
    await client.login(user, pass);
    return client;
  };
  const headersOf = async (client: ImapClient, range = '1:*') =>
    (await client.uidFetch(range, `FLAGS ${HEADER_FIELDS}`)).map((m) => ({ uid: m.uid, flags: m.flags, h: parseHeaders(m.sections.get('HEADER.FIELDS')!) }));

  before(async () => {
    sb = await useSandbox({ platforms: ['email'] }); // 2 conversations × 3 messages per mailbox
    world = (await sb.admin('GET', '/world')).json.email;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.logout()));
    await sb?.close();
  });

  test('describe() gives host, ports, mailbox credentials and customers; the info route serves it', async () => {
    assert.equal(world.host, '127.0.0.1');
    assert.ok(world.smtp.port > 0 && world.imap.port > 0 && world.smtp.port !== world.imap.port);
    assert.deepEqual(world.mailboxes.map((m) => m.address), EMAIL_MAILBOXES.map((m) => m.address));
    assert.equal(world.mailboxes[0]!.password, SUPPORT.password);
    assert.deepEqual(world.customers.map((c) => c.address), ['alice@customers.example', 'bob@customers.example']);
    const res = await fetch(`${sb.url}/email.sandbox/`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as EmailWorld).imap.port, world.imap.port);
  });

  test('IMAP: SELECT INBOX gives UIDVALIDITY and UIDNEXT; the seeded history is threaded across INBOX and Sent', async () => {
    const client = await imap();
    const folders = (await client.list()).map((f) => f.name);
    assert.ok(folders.includes('INBOX') && folders.includes(SENT_FOLDER), `folders: ${folders}`);

    const sent = await client.select(SENT_FOLDER, true);
    assert.equal(sent.exists, 2); // one business reply (message 2 of 3) per conversation
    const replies = await headersOf(client);
    assert.ok(replies.every((r) => r.flags.includes('\\Seen')));

    const inbox = await client.select('INBOX');
    assert.ok(inbox.uidValidity > 0, 'UIDVALIDITY');
    assert.equal(inbox.exists, 4); // messages 1 and 3 of each conversation come from the customer
    assert.ok(inbox.uidNext > inbox.exists, `UIDNEXT ${inbox.uidNext}`);
    const incoming = await headersOf(client);
    assert.equal(incoming.length, 4);
    assert.ok(incoming.every((m) => /^<[^<>@\s]+@customers\.example>$/.test(m.h.get('message-id')!)));

    const roots = incoming.filter((m) => !m.h.has('in-reply-to'));
    assert.equal(roots.length, 2);
    for (const root of roots) {
      const rootId = root.h.get('message-id')!;
      assert.match(root.h.get('subject')!, /^Order #\d+/);
      const reply = replies.find((r) => r.h.get('in-reply-to') === rootId);
      assert.ok(reply, `a business reply to ${rootId}`);
      assert.equal(reply.h.get('references'), rootId);
      assert.equal(reply.h.get('subject'), `Re: ${root.h.get('subject')}`);
      assert.equal(reply.h.get('from'), SUPPORT.address);
      const third = incoming.find((m) => m.h.get('in-reply-to') === reply.h.get('message-id'));
      assert.ok(third, 'the customer answers the reply');
      assert.equal(third.h.get('references'), `${rootId} ${reply.h.get('message-id')}`);
      assert.equal(third.h.get('subject'), `Re: ${root.h.get('subject')}`); // no stacked "Re: Re:"
    }
    // Dates are in the past and ordered within a thread.
    for (const m of incoming) assert.ok(Date.parse(m.h.get('date')!) <= Date.now());
  });

  test('customerWrites(): new mail gets a higher UID and is found by UID FETCH lastUid+1:*', async () => {
    const client = await imap();
    const before = await client.select('INBOX');
    const lastUid = before.uidNext - 1;
    const alicesLast = (await headersOf(client)).filter((m) => m.h.get('from') === 'alice@customers.example').at(-1)!;

    const written = await sb.sandbox.platforms.get('email')!.customerWrites({ customerId: 'alice@customers.example', text: 'Any news on my order? Grüße' });
    assert.equal(written.accountId, SUPPORT.address);
    assert.equal(written.customerId, 'alice@customers.example');

    const after = await client.select('INBOX');
    assert.equal(after.uidValidity, before.uidValidity);
    assert.ok(after.uidNext > before.uidNext);
    const fresh = (await client.uidFetch(`${lastUid + 1}:*`, `${HEADER_FIELDS} BODY.PEEK[TEXT]`)).filter((m) => m.uid > lastUid);
    assert.equal(fresh.length, 1);
    assert.ok(fresh[0]!.uid > lastUid);
    const h = parseHeaders(fresh[0]!.sections.get('HEADER.FIELDS')!);
    assert.equal(h.get('message-id'), written.messageId);
    assert.equal(h.get('from'), 'alice@customers.example');
    // A known customer writes on in her thread: In-Reply-To is its last message, References the whole chain.
    assert.equal(h.get('in-reply-to'), alicesLast.h.get('message-id'));
    assert.deepEqual(h.get('references')!.split(' ').slice(-2), [alicesLast.h.get('references')!.split(' ').at(-1), alicesLast.h.get('message-id')]);
    assert.equal(h.get('references')!.split(' ').length, 3);
    assert.match(h.get('subject')!, /^Re: Order #/);
    assert.match(fresh[0]!.sections.get('TEXT')!.toString(), /Gr=C3=BC=C3=9Fe/); // UTF-8, quoted-printable

    // Nothing new: UIDNEXT unchanged, and `n:*` still returns the last message, which the client filters out.
    const again = await client.uidFetch(`${after.uidNext}:*`, 'FLAGS');
    assert.ok(again.every((m) => m.uid < after.uidNext));

    // The admin API's customer trigger goes the same way; a new customer starts a new thread.
    const viaAdmin = await sb.admin('POST', '/customers/email/messages', { customerId: 'zoe', text: 'Hi, first time here' });
    assert.equal(viaAdmin.status, 201);
    assert.equal(viaAdmin.json.customerId, 'zoe@customers.example');
    await client.command('NOOP'); // lets the server announce the new message (EXISTS) to this session
    const newest = (await headersOf(client, `${after.uidNext}:*`)).at(-1)!;
    assert.equal(newest.h.get('message-id'), viaAdmin.json.messageId);
    assert.equal(newest.h.has('in-reply-to'), false);
  });

  test('customerWrites({ media }) delivers a multipart/mixed mail with a PNG attachment', async () => {
    const client = await imap();
    const { uidNext } = await client.select('INBOX', true);
    const written = await sb.sandbox.platforms.get('email')!.customerWrites({ customerId: 'bob@customers.example', media: true });
    const [msg] = (await client.uidFetch(`${uidNext}:*`, 'BODYSTRUCTURE BODY.PEEK[]')).filter((m) => m.uid >= uidNext);
    assert.ok(msg);
    const raw = msg.sections.get('')!.toString();
    assert.equal(parseHeaders(raw).get('message-id'), written.messageId);
    assert.match(parseHeaders(raw).get('content-type')!, /^multipart\/mixed; boundary=/);
    assert.match(raw, /Content-Disposition: attachment; filename="photo\.png"/);
    assert.match(msg.text, /"image" "png"/i); // the server's own BODYSTRUCTURE sees the image part
    const b64 = /Content-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw)?.[1];
    assert.ok(b64);
    assert.deepEqual([...Buffer.from(b64, 'base64').subarray(1, 4)], [...Buffer.from('PNG')]);
  });

  test('IMAP IDLE: the server pushes EXISTS when a customer writes', async () => {
    const client = await imap();
    const { exists } = await client.select('INBOX');
    const pushed = await client.idle((r) => /^\* \d+ EXISTS/.test(r.text), 10_000, () => {
      void sb.sandbox.platforms.get('email')!.customerWrites({ text: 'ping while idling' });
    });
    assert.ok(Number(/^\* (\d+) EXISTS/.exec(pushed.text)![1]) > exists);
  });

  test('SMTP with AUTH: a reply from the business lands in the customer mailbox; GreenMail keeps no Sent copy', async () => {
    const client = await imap();
    await client.select('INBOX', true);
    const [original] = await headersOf(client, '1');
    const sentBefore = (await client.select(SENT_FOLDER, true)).exists;

    const smtp = await SmtpSession.connect({ host: world.host, port: world.smtp.port, auth: { user: SUPPORT.address, pass: SUPPORT.password } });
    const replyId = '<reply-1@shop.example>';
    const to = original!.h.get('from')!;
    const raw = [
      `From: ${SUPPORT.address}`, `To: ${to}`, `Subject: Re: ${original!.h.get('subject')}`, `Message-ID: ${replyId}`,
      `In-Reply-To: ${original!.h.get('message-id')}`, `References: ${original!.h.get('message-id')}`, `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Thanks, on its way.', '.leading dot survives dot-stuffing', '',
    ].join('\r\n');
    assert.match(await smtp.send({ from: SUPPORT.address, to: [to], raw }), /OK/i);
    await smtp.quit();

    // The customer's mailbox exists (GreenMail: login = password = address) and has the reply.
    const customer = world.customers.find((c) => c.address === to)!;
    const theirs = await imap(customer.login, customer.password);
    await theirs.select('INBOX', true);
    const got = (await theirs.uidFetch('1:*', 'BODY.PEEK[]')).map((m) => m.sections.get('')!.toString()).find((s) => s.includes(replyId));
    assert.ok(got, 'reply delivered to the customer');
    assert.equal(parseHeaders(got).get('in-reply-to'), original!.h.get('message-id'));
    assert.match(got, /\r\n\.leading dot survives/);
    // SMTP does not file a copy in the sender's Sent: the client APPENDs it (and gets APPENDUID).
    assert.equal((await client.select(SENT_FOLDER, true)).exists, sentBefore);
    const uid = await client.append(SENT_FOLDER, raw, { flags: ['\\Seen'] });
    assert.ok(uid && uid > 0);
  });

  test('wrong credentials are rejected by the real server: IMAP LOGIN fails, SMTP AUTH fails with 535', async () => {
    const client = await ImapClient.connect({ host: world.host, port: world.imap.port });
    clients.push(client);
    await assert.rejects(client.login(SUPPORT.address, 'wrong-password'), (err: unknown) => err instanceof ImapError && err.status === 'NO');
    await assert.rejects(client.login('nobody@shop.example', 'whatever'), ImapError);
    await assert.rejects(
      SmtpSession.connect({ host: world.host, port: world.smtp.port, auth: { user: SUPPORT.address, pass: 'wrong-password' } }),
      (err: unknown) => err instanceof SmtpError && err.code === 535,
    );
  });

  test('close() stops GreenMail: both ports are closed afterwards', async () => {
    const other = await useSandbox({ platforms: ['email'], world: false });
    const w = (await other.admin('GET', '/world')).json.email as EmailWorld & { process: { pid: number } };
    assert.equal(await tcpOpen(w.imap.port), true);
    await other.close();
    assert.equal(await tcpOpen(w.imap.port), false);
    assert.equal(await tcpOpen(w.smtp.port), false);
    assert.throws(() => process.kill(w.process.pid, 0), /ESRCH/);
  });
});
