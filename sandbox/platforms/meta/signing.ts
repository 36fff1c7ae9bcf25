// How Meta serializes and signs webhook bodies. Pure functions, exported so the API's verifier
// tests can use them as a known vector: the body is ASCII-escaped JSON (non-ASCII as \uXXXX
// UTF-16 units, "/" as "\/"), and X-Hub-Signature-256 is the lowercase hex HMAC-SHA256 of
// exactly those bytes keyed with the app secret.
import { createHmac } from 'node:crypto';

/** Escapes a JSON text the way Meta's serializer does. Safe because such characters only occur inside strings. */
export function escapeLikeMeta(json: string): string {
  return json.replace(/[\u007f-\uffff/]/g, (ch) => (ch === '/' ? '\\/' : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** JSON body bytes as Meta sends them. */
export function metaJson(value: unknown): string {
  return escapeLikeMeta(JSON.stringify(value));
}

/** `sha256=<hex>`: the X-Hub-Signature-256 header value for `body` under `appSecret`. */
export function signMetaBody(body: string | Uint8Array, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** Legacy `X-Hub-Signature: sha1=<hex>`, still sent alongside; clients should ignore it. */
export function signMetaBodySha1(body: string | Uint8Array, appSecret: string): string {
  return `sha1=${createHmac('sha1', appSecret).update(body).digest('hex')}`;
}
