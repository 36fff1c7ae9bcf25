// A small SMTP submission client (RFC 5321 + AUTH PLAIN, RFC 4954) for the email sandbox: it
// delivers the seeded history and customers' mail to the real server (GreenMail). One session
// carries many transactions (MAIL/RCPT/DATA repeated), and a pool of sessions runs them in
// parallel, so seeding thousands of messages stays quick. Dependency-free on purpose: the sandbox
// loads with every test, and nodemailer is a client for the product, not for the sandbox.
import net from 'node:net';

export class SmtpError extends Error {
  constructor(readonly code: number, readonly response: string, command: string) {
    super(`SMTP ${command} failed: ${code} ${response}`);
    this.name = 'SmtpError';
  }
}

interface Reply { code: number; text: string }

export interface SmtpOptions {
  host: string;
  port: number;
  /** AUTH PLAIN with these credentials after EHLO; omitted: no AUTH (as a remote MTA would deliver). */
  auth?: { user: string; pass: string };
  /** EHLO name. */
  name?: string;
  timeoutMs?: number;
}

export interface Envelope {
  from: string;
  to: string[];
  /** The whole RFC 5322 message. */
  raw: string;
}

export class SmtpSession {
  private buffer = '';
  private lines: string[] = [];
  private waiters: Array<{ resolve(r: Reply): void; reject(e: Error): void }> = [];
  private replies: Reply[] = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('SMTP connection closed')));
  }

  static async connect(opts: SmtpOptions): Promise<SmtpSession> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setTimeout(opts.timeoutMs ?? 30_000, () => socket.destroy(new Error('SMTP timeout')));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const session = new SmtpSession(socket);
    try {
      await session.expect(session.reply(), 220, 'greeting');
      await session.command(`EHLO ${opts.name ?? 'sandbox.switchboard.local'}`, 250);
      if (opts.auth) {
        const token = Buffer.from(`\0${opts.auth.user}\0${opts.auth.pass}`, 'utf8').toString('base64');
        await session.command(`AUTH PLAIN ${token}`, 235, 'AUTH PLAIN');
      }
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return session;
  }

  /** One transaction; resolves with the server's final reply to DATA. */
  async send(envelope: Envelope): Promise<string> {
    await this.command(`MAIL FROM:<${envelope.from}>`, 250, 'MAIL FROM');
    for (const rcpt of envelope.to) await this.command(`RCPT TO:<${rcpt}>`, 250, 'RCPT TO');
    await this.command('DATA', 354);
    const body = envelope.raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return (await this.expect(this.reply(), 250, 'DATA (end)')).text;
  }

  async reset(): Promise<void> {
    await this.command('RSET', 250);
  }

  async quit(): Promise<void> {
    if (this.failure) return;
    try { await this.command('QUIT', 221); } catch { /* closing anyway */ }
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get broken(): boolean {
    return this.failure !== undefined;
  }

  private async command(line: string, want: number, name = line): Promise<Reply> {
    if (this.failure) throw this.failure;
    this.socket.write(`${line}\r\n`);
    return this.expect(this.reply(), want, name);
  }

  private async expect(reply: Promise<Reply>, want: number, name: string): Promise<Reply> {
    const r = await reply;
    if (r.code !== want) throw new SmtpError(r.code, r.text, name);
    return r;
  }

  private reply(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let i: number;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      this.lines.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), text: this.lines.map((l) => l.slice(4)).join('\n') };
        this.lines = [];
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(reply);
        else this.replies.push(reply);
      }
    }
  }
}

/** Up to `size` sessions with the same options, opened on demand and reused; a broken one is dropped. */
export class SmtpPool {
  private readonly idle: SmtpSession[] = [];
  private readonly queue: Array<(s: SmtpSession | Error) => void> = [];
  private open = 0;
  private closed = false;

  constructor(private readonly opts: SmtpOptions, private readonly size = 4) {}

  async send(envelope: Envelope): Promise<string> {
    const session = await this.acquire();
    let keep = true;
    try {
      return await session.send(envelope);
    } catch (err) {
      // A rejected transaction leaves the session usable after RSET; a broken socket does not.
      keep = !session.broken && (await session.reset().then(() => true, () => false));
      throw err;
    } finally {
      if (keep) this.release(session);
      else { session.destroy(); this.release(undefined); }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) waiter(new Error('SMTP pool closed'));
    await Promise.all(this.idle.splice(0).map((s) => s.quit().finally(() => s.destroy())));
  }

  private async acquire(): Promise<SmtpSession> {
    if (this.closed) throw new Error('SMTP pool closed');
    // An idle session may have died meanwhile (its socket timeout, or the server hung up): drop it.
    for (let idle = this.idle.pop(); idle; idle = this.idle.pop()) {
      if (!idle.broken) return idle;
      idle.destroy();
      this.open--;
    }
    if (this.open < this.size) {
      this.open++;
      try {
        return await SmtpSession.connect(this.opts);
      } catch (err) {
        this.open--;
        throw err;
      }
    }
    const next = await new Promise<SmtpSession | Error>((resolve) => this.queue.push(resolve));
    if (next instanceof Error) throw next;
    return next;
  }

  /** Hands a session to the next waiter or back to the idle list; undefined frees its slot. */
  private release(session: SmtpSession | undefined): void {
    if (!session) {
      this.open--;
      const waiter = this.queue.shift();
      if (waiter) this.acquire().then(waiter, waiter);
      return;
    }
    if (this.closed) { void session.quit().finally(() => session.destroy()); this.open--; return; }
    const waiter = this.queue.shift();
    if (waiter) waiter(session);
    else this.idle.push(session);
  }
}
