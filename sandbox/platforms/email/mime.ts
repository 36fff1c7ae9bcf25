// RFC 5322 / MIME messages as the sandbox's customers and seeded history send them: Message-ID,
// In-Reply-To and References for threading, text/plain in UTF-8 (quoted-printable), and
// multipart/mixed with a small PNG attachment for media. Plus a header reader for tests.
import { randomBytes } from 'node:crypto';

export interface MailInput {
  from: string;
  to: string;
  subject: string;
  text: string;
  messageId: string;
  date: Date;
  inReplyTo?: string;
  references?: string[];
  attachment?: { filename: string; contentType: string; content: Buffer };
}

/** A 1×1 PNG: the "photo" a customer attaches. */
export const SAMPLE_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

export function newMessageId(domain: string): string {
  return `<${Date.now().toString(36)}.${randomBytes(9).toString('base64url')}@${domain}>`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/** RFC 2047 encoded-word when the value is not plain ASCII. */
function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** Quoted-printable (RFC 2045 §6.7), lines ≤ 76 characters. */
function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.replace(/\r?\n/g, '\n').split('\n')) {
    let encoded = '';
    for (const byte of Buffer.from(line, 'utf8')) {
      encoded += (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32 ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
    encoded = encoded.replace(/ $/, '=20');
    while (encoded.length > 76) {
      let cut = 75;
      while (encoded[cut - 1] === '=' || encoded[cut - 2] === '=') cut--; // never split an =XX
      out.push(`${encoded.slice(0, cut)}=`);
      encoded = encoded.slice(cut);
    }
    out.push(encoded);
  }
  return out.join('\r\n');
}

function base64Lines(content: Buffer): string {
  return (content.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

export function buildMessage(m: MailInput): string {
  const headers = [
    `Date: ${m.date.toUTCString().replace('GMT', '+0000')}`,
    `From: ${m.from}`,
    `To: ${m.to}`,
    `Subject: ${encodeHeader(m.subject)}`,
    `Message-ID: ${m.messageId}`,
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`] : []),
    ...(m.references?.length ? [`References: ${m.references.join(' ')}`] : []),
    'MIME-Version: 1.0',
  ];
  const textPart = ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', quotedPrintable(m.text)];
  if (!m.attachment) return [...headers, ...textPart].join('\r\n') + '\r\n';
  const boundary = `=_sbx_${randomBytes(12).toString('hex')}`;
  const a = m.attachment;
  return [
    ...headers,
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    ...textPart,
    `--${boundary}`,
    `Content-Type: ${a.contentType}; name="${a.filename}"`,
    `Content-Disposition: attachment; filename="${a.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(a.content),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** Header fields of a raw message (or a HEADER.FIELDS literal), names lower-cased, folded lines joined. */
export function parseHeaders(raw: string | Buffer): Map<string, string> {
  const text = raw.toString();
  const end = text.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !headers.has(line.slice(0, i).trim().toLowerCase())) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return headers;
}
