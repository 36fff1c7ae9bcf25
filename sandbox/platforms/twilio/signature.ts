// X-Twilio-Signature as twilio-whatsapp.md describes it (and the official SDK validates it):
// the full URL, then every param name + value in name order (a repeated name contributes each
// distinct value, values sorted), HMAC-SHA1 keyed with the Auth Token, base64. Pure.
import { createHmac } from 'node:crypto';

export type TwilioParams = Record<string, string | string[]>;

export function twilioSignature(authToken: string, url: string, params: TwilioParams = {}): string {
  const data = Object.keys(params).sort().reduce((acc, name) => {
    const value = params[name]!;
    const values = Array.isArray(value) ? [...new Set(value)].sort() : [value];
    return acc + values.map((v) => name + v).join('');
  }, url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64');
}

/** Ordered [name, value] pairs → the form body Twilio posts and the params map it signs. */
export function formOf(pairs: Array<[string, string]>): { body: string; params: TwilioParams } {
  const params: TwilioParams = {};
  for (const [name, value] of pairs) {
    const prev = params[name];
    params[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return { body: new URLSearchParams(pairs).toString(), params };
}
