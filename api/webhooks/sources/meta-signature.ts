// What every Meta webhook (Messenger, Instagram, WhatsApp Cloud) shares: the X-Hub-Signature-256
// check over the raw bytes, the GET subscription handshake, and the tolerant JSON readers the
// parsers use. Meta signs with the app secret of the app that owns the subscription (Instagram
// Login accounts: the Instagram app's), so a delivery is genuine when ANY configured secret matches.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { safeEqual } from '../../../lib/crypto';
import { MalformedWebhookError, type Verdict, type WebhookRequest, type WebhookSecrets } from './types';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(secret, raw body) for each secret. */
export function verifyMetaSignature(req: WebhookRequest, secrets: string[]): Verdict {
  const header = req.headers['x-hub-signature-256'];
  if (header === undefined || header === '') return { ok: false, reason: 'missing X-Hub-Signature-256 header' };
  const match = SIGNATURE.exec(header.trim());
  if (!match) return { ok: false, reason: 'X-Hub-Signature-256 is not of the form sha256=<64 hex digits>' };
  const usable = secrets.filter((s) => typeof s === 'string' && s.length > 0);
  if (!usable.length) return { ok: false, reason: 'no Meta app secret is configured to check the signature' };
  const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
  // Compare against every secret (no early exit), so timing does not tell which one matched.
  let ok = false;
  for (const secret of usable) {
    const expected = createHmac('sha256', secret).update(req.body).digest();
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok ? { ok: true } : { ok: false, reason: 'X-Hub-Signature-256 does not match the body under any configured app secret' };
}

/** Meta's GET verification: 200 with `hub.challenge` as plain text when mode and token match, else 403. */
export function metaHandshake(query: Record<string, string>, secrets: WebhookSecrets): { status: 200 | 403; body: string } {
  const mode = query['hub.mode'];
  const token = query['hub.verify_token'];
  const challenge = query['hub.challenge'];
  const configured = secrets.metaVerifyToken;
  if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || challenge === '' || !configured) {
    return { status: 403, body: 'Forbidden' };
  }
  return safeEqual(token, configured) ? { status: 200, body: challenge } : { status: 403, body: 'Forbidden' };
}

// ---- tolerant readers: a verified body may still hold anything, and parse must not crash ----

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objectAt = (v: unknown): Json | undefined => (isObject(v) ? v : undefined);
export const arrayAt = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const stringAt = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * An id: a non-empty string, or an integer JSON number that survived JSON.parse exactly (Graph ids
 * beyond 2^53 lose digits as numbers, so those read as missing rather than as a wrong id).
 */
export function idAt(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() !== '' && v.length <= 1024 ? v : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

/** Meta timestamps: ms numbers (Messenger/Instagram) or seconds as strings (WhatsApp); seconds are scaled up. */
export function timeAt(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  // Anything below 1e11 is seconds (1e11 ms is 1973; 1e11 s is the year 5138).
  return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
}

/** A short label for `ignored`: bounded, so a hostile body cannot flood the log. */
export const label = (...parts: (string | undefined)[]) => parts.filter(Boolean).map((p) => p!.slice(0, 40)).join(':');

/** Parses a JSON body whose top level must be an object with `object` in `accepted` and an `entry` array. */
export function parseMetaEnvelope(body: Buffer, accepted: readonly string[]): { object: string; entries: unknown[] } {
  let parsed: unknown;
  try {
    // JSON.parse turns Meta's ASCII escapes (\u00e4, \/) back into the characters they stand for.
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedWebhookError('body is not valid JSON');
  }
  if (!isObject(parsed)) throw new MalformedWebhookError('body is not a JSON object');
  const object = parsed.object;
  if (typeof object !== 'string' || !accepted.includes(object)) {
    throw new MalformedWebhookError(`"object" must be one of ${accepted.map((o) => `"${o}"`).join(', ')}`);
  }
  if (!Array.isArray(parsed.entry)) throw new MalformedWebhookError('"entry" must be an array');
  return { object, entries: parsed.entry };
}
