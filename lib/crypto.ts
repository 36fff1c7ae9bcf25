// Secrets at rest: AES-256-GCM with a key ID in every ciphertext, so keys can rotate (the first
// configured key encrypts; any configured key decrypts).
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface EncryptionKey { id: string; key: Buffer }

/** A sealed secret as stored in MongoDB. */
export interface Sealed { kid: string; iv: string; tag: string; data: string }

export function seal(plaintext: string, keys: EncryptionKey[]): Sealed {
  const active = keys[0];
  if (!active) throw new Error('no encryption key configured');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', active.key, iv);
  cipher.setAAD(Buffer.from(active.id));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { kid: active.id, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

export function unseal(sealed: Sealed, keys: EncryptionKey[]): string {
  const key = keys.find((k) => k.id === sealed.kid);
  if (!key) throw new Error(`encryption key "${sealed.kid}" is not configured (ENCRYPTION_KEYS)`);
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(Buffer.from(key.id));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
}

export const sha256Hex = (value: string | Buffer) => createHash('sha256').update(value).digest('hex');

/** Compares two strings in constant time (for their common length; lengths are not secret). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** A random URL-safe token with `bytes` bytes of entropy. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** Generates a fresh ENCRYPTION_KEYS value. */
export const generateEncryptionKeys = (id = 'k1') => `${id}:${randomBytes(32).toString('base64')}`;
