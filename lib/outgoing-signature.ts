// How Switchboard signs what it posts to integrators' webhooks, and how they check it:
//   Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// The timestamp is inside the signed text, so a captured delivery cannot be replayed later than
// the receiver's tolerance (5 minutes by default).
import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from './crypto';

export const SIGNATURE_HEADER = 'switchboard-signature';

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

export function signPayload(secret: string, body: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${nowSeconds}.${body}`).digest('hex');
  return `t=${nowSeconds},v1=${mac}`;
}

/** For receivers (and our tests): true when the header signs this body and is fresh enough. */
export function verifyPayload(secret: string, body: string, header: string, toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  return safeEqual(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'), parts.v1);
}
