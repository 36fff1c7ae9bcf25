// TikTok webhook signing: header `TikTok-Signature: t={unix seconds},s={hex}` where
// s = hex(HMAC-SHA256(client_secret, `${t}.${raw body}`)). Pure, so tests and our own webhook
// verifier can compute the same value independently.
import { createHmac } from 'node:crypto';

/** hex(HMAC-SHA256(key = client secret, `${timestampSeconds}.${rawBody}`)). */
export function tiktokSignature(clientSecret: string, timestampSeconds: number, rawBody: string): string {
  return createHmac('sha256', clientSecret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
}

/** The full `TikTok-Signature` header value for a body sent at `timestampSeconds`. */
export function signTikTokWebhook(clientSecret: string, timestampSeconds: number, rawBody: string): string {
  return `t=${timestampSeconds},s=${tiktokSignature(clientSecret, timestampSeconds, rawBody)}`;
}
