// Signed, expiring download links for uploaded media: `${publicUrl}/media/<id>?exp=<unix>&sig=<hex>`.
// Platforms (Meta, WhatsApp, Twilio) fetch a URL we hand them and carry no credentials of ours, so
// the link itself is the credential: HMAC-SHA256 over "<id>.<exp>" with a key derived from the
// encryption keys (no extra secret to manage). Signed with the active key; any configured key
// verifies, so links handed out before a key rotation keep working until they expire.
import { createHmac, hkdfSync } from 'node:crypto';
import type { EncryptionKey } from './crypto';
import { safeEqual } from './crypto';

/** How long a link handed to a platform stays valid (platforms may fetch late, or retry). */
export const MEDIA_LINK_TTL_SECONDS = 7 * 86_400;

const deriveKey = (key: Buffer) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'switchboard/media-link', 32));

/** Signing keys, the active one first (signs); every one verifies. */
export function mediaLinkKeys(keys: EncryptionKey[]): Buffer[] {
  if (!keys.length) throw new Error('no encryption key configured');
  return keys.map((k) => deriveKey(k.key));
}

export const mediaLinkSignature = (id: string, exp: number, key: Buffer) => createHmac('sha256', key).update(`${id}.${exp}`).digest('hex');

/** The public link to media `id`, valid for `ttlSeconds` from `now`. */
export function signedMediaUrl(publicUrl: string, id: string, keys: Buffer[], opts: { ttlSeconds?: number; now?: number } = {}): string {
  const exp = Math.floor((opts.now ?? Date.now()) / 1000) + (opts.ttlSeconds ?? MEDIA_LINK_TTL_SECONDS);
  const sig = mediaLinkSignature(id, exp, keys[0]!);
  return `${publicUrl.replace(/\/$/, '')}/media/${encodeURIComponent(id)}?exp=${exp}&sig=${sig}`;
}

export type MediaLinkCheck = { ok: true; exp: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Checks a link's `exp` and `sig` (as given in the query) in constant time; the signature before the time. */
export function verifyMediaLink(id: string, exp: string | undefined, sig: string | undefined, keys: Buffer[], now = Date.now()): MediaLinkCheck {
  if (!exp || !sig || !/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/i.test(sig)) return { ok: false, reason: 'malformed' };
  const expires = Number(exp);
  const given = sig.toLowerCase();
  // Every key is tried (no early exit), so the time taken does not tell which one matched.
  let valid = false;
  for (const key of keys) valid = safeEqual(given, mediaLinkSignature(id, expires, key)) || valid;
  if (!valid) return { ok: false, reason: 'bad_signature' };
  if (expires * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true, exp: expires };
}
