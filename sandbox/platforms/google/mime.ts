// Just enough RFC 2822 / MIME to do what Gmail does with a message: parse headers (folded,
// RFC 2047 encoded words), walk multipart bodies, decode base64 / quoted-printable parts, and
// build the raw messages the sandbox's customers send.

export interface MimeHeader { name: string; value: string }

export interface MimePart {
  headers: MimeHeader[];
  mimeType: string;
  filename: string;
  /** Decoded content of a leaf part (empty for multipart containers). */
  body: Buffer;
  parts: MimePart[];
}

export class MimeError extends Error {}

/** Parses a raw RFC 2822 message (or MIME entity). Throws MimeError when it has no header block. */
export function parseMime(raw: string): MimePart {
  const split = /\r?\n\r?\n/.exec(raw);
  const headerText = split ? raw.slice(0, split.index) : raw;
  const bodyText = split ? raw.slice(split.index + split[0].length) : '';
  const headers = parseHeaders(headerText);
  const contentType = headerValue(headers, 'Content-Type') ?? 'text/plain';
  const { value: mimeType, params } = parseParams(contentType);
  const disposition = parseParams(headerValue(headers, 'Content-Disposition') ?? '');
  const filename = disposition.params.filename ?? params.name ?? '';
  if (mimeType.startsWith('multipart/') && params.boundary) {
    return { headers, mimeType, filename, body: Buffer.alloc(0), parts: splitMultipart(bodyText, params.boundary).map(parseMime) };
  }
  return { headers, mimeType, filename, body: decodeBody(bodyText, headerValue(headers, 'Content-Transfer-Encoding')), parts: [] };
}

export function parseHeaders(text: string): MimeHeader[] {
  const headers: MimeHeader[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1]!.value += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
    }
  }
  return headers.map((h) => ({ name: h.name, value: decodeEncodedWords(h.value) }));
}

export function headerValue(headers: MimeHeader[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}

function parseParams(value: string): { value: string; params: Record<string, string> } {
  const [first, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { value: (first ?? '').trim().toLowerCase(), params };
}

function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  const lines = body.split(/\r?\n/);
  let current: string[] | null = null;
  for (const line of lines) {
    if (line.startsWith(`--${boundary}--`)) { if (current) parts.push(current.join('\r\n')); current = null; break; }
    if (line.startsWith(`--${boundary}`)) { if (current) parts.push(current.join('\r\n')); current = []; continue; }
    current?.push(line);
  }
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

function decodeBody(text: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64': return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    case 'quoted-printable': return decodeQuotedPrintable(text);
    default: return Buffer.from(text, 'utf8');
  }
}

function decodeQuotedPrintable(text: string): Buffer {
  const bytes: number[] = [];
  const src = Buffer.from(text.replace(/=\r?\n/g, ''), 'utf8');
  for (let i = 0; i < src.length; i++) {
    const hex = src[i] === 0x3d ? src.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) { bytes.push(parseInt(hex, 16)); i += 2; } else bytes.push(src[i]!);
  }
  return Buffer.from(bytes);
}

/** RFC 2047 `=?charset?B|Q?…?=` words, as Gmail shows decoded header values. */
function decodeEncodedWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=(\s+(?==\?))?/g, (_m, _charset: string, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')).toString('utf8'));
}

/** The first text/plain part (or text/html with tags stripped), for snippets and searching. */
export function textOf(part: MimePart): string {
  const plain = findPart(part, 'text/plain');
  if (plain) return plain.body.toString('utf8');
  const html = findPart(part, 'text/html');
  return html ? html.body.toString('utf8').replace(/<[^>]*>/g, ' ') : '';
}

function findPart(part: MimePart, mimeType: string): MimePart | undefined {
  if (part.mimeType === mimeType && !part.filename) return part;
  for (const p of part.parts) {
    const found = findPart(p, mimeType);
    if (found) return found;
  }
  return undefined;
}

/** Bare addresses in an address list header ("Ana <ana@x.com>, bob@y.com" → both). */
export function addresses(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+@[^<>\s]+)>|([^\s<>,;"]+@[^\s<>,;"]+)/g)].map((m) => (m[1] ?? m[2] ?? '').toLowerCase());
}

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  date: Date;
  messageId: string;
  inReplyTo?: string;
  references?: string;
  text: string;
  /** An image attachment (customers "sending media"). */
  attachment?: { filename: string; mimeType: string; data: Buffer };
}

/** Builds a CRLF RFC 2822 message as a mail client would send it. */
export function buildRaw(mail: OutgoingMail): string {
  const head = [
    `From: ${mail.from}`, `To: ${mail.to}`, `Subject: ${mail.subject}`, `Date: ${mail.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${mail.messageId}`,
    ...(mail.inReplyTo ? [`In-Reply-To: ${mail.inReplyTo}`] : []),
    ...(mail.references ? [`References: ${mail.references}`] : []),
    'MIME-Version: 1.0',
  ];
  const textPart = ['Content-Type: text/plain; charset="UTF-8"', 'Content-Transfer-Encoding: base64', '', base64Lines(Buffer.from(mail.text, 'utf8'))];
  if (!mail.attachment) return [...head, ...textPart].join('\r\n');
  const boundary = `sbx_${mail.messageId.replace(/\W/g, '').slice(0, 24)}`;
  return [
    ...head, `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
    `--${boundary}`, ...textPart,
    `--${boundary}`, `Content-Type: ${mail.attachment.mimeType}; name="${mail.attachment.filename}"`,
    `Content-Disposition: attachment; filename="${mail.attachment.filename}"`, 'Content-Transfer-Encoding: base64', '',
    base64Lines(mail.attachment.data), `--${boundary}--`, '',
  ].join('\r\n');
}

const base64Lines = (data: Buffer) => (data.toString('base64').match(/.{1,76}/g) ?? ['']).join('\r\n');
