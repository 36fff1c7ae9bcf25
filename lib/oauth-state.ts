// The OAuth `state` parameter: signed (HMAC-SHA256) and short-lived, naming the channel it
// authorizes and a one-time nonce the channel record holds until the callback consumes it.
import { createHmac, hkdfSync } from 'node:crypto';
import type { EncryptionKey } from './crypto';
import { safeEqual } from './crypto';

export interface OAuthState { tenantId: string; channelId: string; nonce: string; exp: number }

/** A key for signing states, derived from the active encryption key (no extra secret to manage). */
export function stateSigningKey(keys: EncryptionKey[]): Buffer {
  const active = keys[0];
  if (!active) throw new Error('no encryption key configured');
  return Buffer.from(hkdfSync('sha256', active.key, Buffer.alloc(0), 'switchboard/oauth-state', 32));
}

export function signState(state: Omit<OAuthState, 'exp'>, key: Buffer, ttlSeconds = 600, now = Date.now()): string {
  const payload = Buffer.from(JSON.stringify({ ...state, exp: Math.floor(now / 1000) + ttlSeconds })).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

export type StateCheck = { ok: true; state: OAuthState } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export function verifyState(value: string, key: Buffer, now = Date.now()): StateCheck {
  const [payload, signature, extra] = value.split('.');
  if (!payload || !signature || extra !== undefined) return { ok: false, reason: 'malformed' };
  if (!safeEqual(signature, createHmac('sha256', key).update(payload).digest('base64url'))) return { ok: false, reason: 'bad_signature' };
  let state: OAuthState;
  try {
    state = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof state.exp !== 'number' || state.exp * 1000 < now) return { ok: false, reason: 'expired' };
  return { ok: true, state };
}
