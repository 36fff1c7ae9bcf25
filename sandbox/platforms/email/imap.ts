// A small IMAP4rev1 client (RFC 3501) for the email sandbox: the seeder uses it to create the Sent
// folder and APPEND the business's own replies there (as a mail client does after an SMTP send),
// and the sandbox tests use it to look at the real server from outside. It speaks the wire
// protocol: tagged commands, untagged responses, literals ({n} and LITERAL+ {n+}), IDLE.
import net from 'node:net';

export class ImapError extends Error {
  constructor(readonly status: string, readonly response: string, command: string) {
    super(`IMAP ${command} failed: ${status} ${response}`);
    this.name = 'ImapError';
  }
}

/** One server response: its text (literals shown as their `{n}` markers), the literals' bytes, and the text before each. */
export interface ImapResponse { text: string; literals: Buffer[]; labels: string[] }

export interface MailboxStatus { exists: number; uidValidity: number; uidNext: number }

export interface FetchedMessage {
  seq: number;
  uid: number;
  flags: string[];
  /** The literals of the FETCH response in the order the server sent them (not necessarily the order asked). */
  literals: Buffer[];
  /**
   * The same literals by body section: "" for BODY[] (the whole message), "TEXT", "HEADER",
   * "HEADER.FIELDS" (whatever fields were asked), "1", "2.MIME"…; "RFC822", "RFC822.HEADER"….
   */
  sections: Map<string, Buffer>;
  text: string;
}

interface Pending { tag: string; untagged: ImapResponse[]; resolve(r: ImapResponse & { untagged: ImapResponse[] }): void; reject(e: Error): void }

export class ImapClient {
  private buffer: Buffer = Buffer.alloc(0);
  private literals: Buffer[] = [];
  private textParts: string[] = [];
  private labels: string[] = [];
  private pending: Pending | undefined;
  private continuation: ((r: ImapResponse) => void) | undefined;
  private listeners = new Set<(r: ImapResponse) => void>();
  private tagSeq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private greeting!: (r: ImapResponse) => void;
  private greetingDone = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      this.failure ??= err;
      this.pending?.reject(this.failure);
      this.pending = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('IMAP connection closed')));
  }

  static async connect(opts: { host: string; port: number; timeoutMs?: number }): Promise<ImapClient> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    socket.setTimeout(opts.timeoutMs ?? 60_000, () => socket.destroy(new Error('IMAP timeout')));
    const client = new ImapClient(socket);
    const greeting = await new Promise<ImapResponse>((resolve, reject) => {
      client.greeting = resolve;
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('IMAP connection closed before the greeting')));
    });
    if (!/^\* (OK|PREAUTH)/i.test(greeting.text)) {
      socket.destroy();
      throw new ImapError('BYE', greeting.text, 'greeting');
    }
    return client;
  }

  /** Untagged responses that arrive at any time (EXISTS during IDLE…); returns an unsubscribe function. */
  onUntagged(listener: (r: ImapResponse) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Runs one command; `parts` may hold Buffers sent as LITERAL+ literals. Throws ImapError on NO/BAD. */
  command(...parts: Array<string | Buffer>): Promise<ImapResponse & { untagged: ImapResponse[] }> {
    const run = async () => {
      if (this.failure) throw this.failure;
      const tag = `A${++this.tagSeq}`;
      const done = new Promise<ImapResponse & { untagged: ImapResponse[] }>((resolve, reject) => {
        this.pending = { tag, untagged: [], resolve, reject };
      });
      const chunks: Buffer[] = [Buffer.from(`${tag} `)];
      for (const part of parts) {
        if (typeof part === 'string') chunks.push(Buffer.from(part));
        else chunks.push(Buffer.from(`{${part.length}+}\r\n`), part);
      }
      chunks.push(Buffer.from('\r\n'));
      this.socket.write(Buffer.concat(chunks));
      const result = await done;
      const status = /^\S+ (\S+)/.exec(result.text)?.[1]?.toUpperCase();
      if (status !== 'OK') throw new ImapError(status ?? '?', result.text.replace(/^\S+ \S+ ?/, ''), String(parts[0]).split(' ')[0] ?? '');
      return result;
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async capabilities(): Promise<string[]> {
    const r = await this.command('CAPABILITY');
    return r.untagged.flatMap((u) => (/^\* CAPABILITY (.*)$/i.exec(u.text)?.[1] ?? '').split(' ')).filter(Boolean);
  }

  async login(user: string, pass: string): Promise<void> {
    await this.command(`LOGIN ${quote(user)} ${quote(pass)}`);
  }

  async create(mailbox: string): Promise<void> {
    await this.command(`CREATE ${quote(mailbox)}`);
  }

  async list(): Promise<Array<{ flags: string[]; name: string }>> {
    const r = await this.command('LIST "" "*"');
    return r.untagged.flatMap((u) => {
      const m = /^\* LIST \(([^)]*)\) (?:"[^"]*"|NIL) (.+)$/i.exec(u.text);
      return m ? [{ flags: m[1]!.split(' ').filter(Boolean), name: m[2]!.replace(/^"(.*)"$/, '$1') }] : [];
    });
  }

  async select(mailbox: string, readOnly = false): Promise<MailboxStatus> {
    const r = await this.command(`${readOnly ? 'EXAMINE' : 'SELECT'} ${quote(mailbox)}`);
    const num = (re: RegExp) => Number(r.untagged.map((u) => re.exec(u.text)?.[1]).find((v) => v !== undefined) ?? NaN);
    return { exists: num(/^\* (\d+) EXISTS/i), uidValidity: num(/\[UIDVALIDITY (\d+)\]/i), uidNext: num(/\[UIDNEXT (\d+)\]/i) };
  }

  /** APPEND with flags and INTERNALDATE; resolves with the new UID when the server reports APPENDUID. */
  async append(mailbox: string, raw: string | Buffer, opts: { flags?: string[]; date?: Date } = {}): Promise<number | undefined> {
    const flags = opts.flags?.length ? ` (${opts.flags.join(' ')})` : '';
    const date = opts.date ? ` "${imapDate(opts.date)}"` : '';
    const r = await this.command(`APPEND ${quote(mailbox)}${flags}${date} `, Buffer.isBuffer(raw) ? raw : Buffer.from(raw.replace(/\r?\n/g, '\r\n')));
    const uid = /\[APPENDUID \d+ (\d+)\]/i.exec(r.text)?.[1];
    return uid ? Number(uid) : undefined;
  }

  /** `UID FETCH range (items)`; UID is always included. Note `n:*` returns the last message even when its UID < n. */
  async uidFetch(range: string, items: string): Promise<FetchedMessage[]> {
    const r = await this.command(`UID FETCH ${range} (UID ${items})`);
    return r.untagged.flatMap((u) => {
      const m = /^\* (\d+) FETCH \(/i.exec(u.text);
      if (!m) return [];
      const flags = /FLAGS \(([^)]*)\)/i.exec(u.text)?.[1]?.split(' ').filter(Boolean) ?? [];
      const sections = new Map<string, Buffer>();
      u.labels.forEach((label, i) => {
        const section = /BODY\[([^\]]*)\](?:<\d+>)? ?\{\d+\+?\}$/i.exec(label)?.[1]?.split(' ')[0] ?? /(RFC822(?:\.\w+)?) ?\{\d+\+?\}$/i.exec(label)?.[1];
        if (section !== undefined) sections.set(section.toUpperCase(), u.literals[i]!);
      });
      return [{ seq: Number(m[1]), uid: Number(/UID (\d+)/i.exec(u.text)?.[1]), flags, literals: u.literals, sections, text: u.text }];
    });
  }

  async uidSearch(criteria: string): Promise<number[]> {
    const r = await this.command(`UID SEARCH ${criteria}`);
    return r.untagged.flatMap((u) => (/^\* SEARCH(.*)$/i.exec(u.text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number));
  }

  /**
   * Enters IDLE (RFC 2177) on the selected mailbox and resolves with the first untagged response
   * matching `until` (e.g. `* 5 EXISTS`), then sends DONE. Rejects after `timeoutMs`.
   */
  async idle(until: (r: ImapResponse) => boolean, timeoutMs = 10_000, onIdling?: () => void): Promise<ImapResponse> {
    const run = async () => {
      if (this.failure) throw this.failure;
      const tag = `A${++this.tagSeq}`;
      const done = new Promise<ImapResponse & { untagged: ImapResponse[] }>((resolve, reject) => {
        this.pending = { tag, untagged: [], resolve, reject };
      });
      const idling = new Promise<ImapResponse>((resolve) => { this.continuation = resolve; });
      this.socket.write(`${tag} IDLE\r\n`);
      await Promise.race([idling, done]);
      let off: () => void = () => undefined;
      const seen = new Promise<ImapResponse>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching IMAP response within ${timeoutMs} ms of IDLE`)), timeoutMs);
        off = this.onUntagged((r) => { if (until(r)) { clearTimeout(timer); resolve(r); } });
      });
      onIdling?.();
      try {
        return await seen;
      } finally {
        off();
        this.socket.write('DONE\r\n');
        await done.catch(() => undefined);
      }
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async logout(): Promise<void> {
    if (!this.failure) await this.command('LOGOUT').catch(() => undefined);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const crlf = this.buffer.indexOf('\r\n');
      if (crlf < 0) return;
      const line = this.buffer.subarray(0, crlf).toString('utf8');
      const literal = /\{(\d+)\+?\}$/.exec(line);
      if (literal) {
        const size = Number(literal[1]);
        if (this.buffer.length < crlf + 2 + size) return; // wait for the whole literal
        this.textParts.push(line);
        this.labels.push(line);
        this.literals.push(Buffer.from(this.buffer.subarray(crlf + 2, crlf + 2 + size)));
        this.buffer = this.buffer.subarray(crlf + 2 + size);
        continue;
      }
      this.textParts.push(line);
      this.buffer = this.buffer.subarray(crlf + 2);
      const response = { text: this.textParts.join(''), literals: this.literals, labels: this.labels };
      this.textParts = [];
      this.literals = [];
      this.labels = [];
      this.dispatch(response);
    }
  }

  private dispatch(r: ImapResponse): void {
    if (r.text.startsWith('+')) {
      const c = this.continuation;
      this.continuation = undefined;
      c?.(r);
      return;
    }
    if (r.text.startsWith('*')) {
      if (!this.greetingDone) { this.greetingDone = true; this.greeting(r); return; }
      this.pending?.untagged.push(r);
      for (const l of this.listeners) l(r);
      return;
    }
    const p = this.pending;
    if (p && r.text.startsWith(`${p.tag} `)) {
      this.pending = undefined;
      p.resolve({ ...r, untagged: p.untagged });
    }
  }
}

/** IMAP quoted string. */
export function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** IMAP date-time ("22-Nov-2026 02:05:35 +0000"), in UTC. */
export function imapDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
