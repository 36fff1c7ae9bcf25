// Graph API plumbing the WhatsApp simulator needs: the Graph error body, Meta's ASCII-escaped
// webhook JSON and its X-Hub-Signature-256, and the fault renderer. Pure functions only.
import { createHmac, randomBytes } from 'node:crypto';
import type { Context as HonoContext } from 'hono';
import type { FaultRenderer } from '../../core/context';

export interface GraphErrorOptions {
  type?: string;
  subcode?: number;
  /** WhatsApp puts the useful explanation in `error_data.details`. */
  details?: string;
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
}

/** A Graph error a handler throws; rendered as `{"error":{…}}` by graphErrorResponse. */
export class GraphError extends Error {
  constructor(readonly status: number, readonly code: number, message: string, readonly options: GraphErrorOptions = {}) {
    super(message);
  }
}

/** Graph trace ids look like `A4O5a8RAgePwbcGSu`. */
export const fbtraceId = () => `A${randomBytes(13).toString('base64url').slice(0, 16)}`;

export function graphErrorBody(err: GraphError) {
  // Graph prefixes most messages with "(#code)"; token errors (190) and auth (0) read plainly.
  const message = err.code === 190 || err.code === 0 || err.message.startsWith('(#') ? err.message : `(#${err.code}) ${err.message}`;
  return {
    error: {
      message,
      type: err.options.type ?? 'OAuthException',
      code: err.code,
      ...(err.options.subcode !== undefined ? { error_subcode: err.options.subcode } : {}),
      ...(err.options.details !== undefined ? { error_data: { messaging_product: 'whatsapp', details: err.options.details } } : {}),
      fbtrace_id: fbtraceId(),
    },
  };
}

export function graphErrorResponse(c: HonoContext, err: GraphError): Response {
  const headers: Record<string, string> = { ...err.options.headers };
  if (err.options.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.options.retryAfterSeconds);
  if (err.code === 190 || err.code === 0 || err.code === 104) headers['WWW-Authenticate'] = `OAuth "Facebook Platform" "invalid_token" "${err.message.replace(/"/g, "'")}"`;
  return c.json(graphErrorBody(err), err.status as 400, headers);
}

/** Shorthands for the error codes of whatsapp-cloud.md. */
export const graphErrors = {
  invalidParameter: (details: string) => new GraphError(400, 100, 'Invalid parameter', { details }),
  requiredParameter: (name: string) => new GraphError(400, 100, `The parameter ${name} is required.`),
  missingParameter: (details: string) => new GraphError(400, 131008, 'Required parameter is missing', { details }),
  invalidValue: (details: string) => new GraphError(400, 131009, 'Parameter value is not valid', { details }),
  unknownObject: (id: string) => new GraphError(400, 100, `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`, { type: 'GraphMethodException', subcode: 33 }),
  throughput: (retryAfterSeconds: number) => new GraphError(400, 130429, 'Rate limit hit', { details: 'Cloud API message throughput has been reached.', retryAfterSeconds }),
  pairRateLimit: (retryAfterSeconds: number) => new GraphError(400, 131056, '(Business Account, Consumer Account) pair rate limit hit', { details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.', retryAfterSeconds }),
};

/**
 * Meta's webhook JSON: non-ASCII as \uXXXX (lowercase hex, per UTF-16 unit) and `/` as `\/`, so
 * a receiver that hashes a re-serialized object gets a different digest than over these bytes.
 */
export function metaJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/');
}

/** `X-Hub-Signature-256` value: `sha256=` + lowercase hex HMAC-SHA256 of the exact body bytes. */
export function metaSignature256(appSecret: string, body: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body, 'utf8').digest('hex')}`;
}

/** Legacy `X-Hub-Signature` (sha1) Meta still sends alongside; receivers should ignore it. */
export function metaSignature1(appSecret: string, body: string): string {
  return `sha1=${createHmac('sha1', appSecret).update(body, 'utf8').digest('hex')}`;
}

/**
 * Injected faults in Graph's format. Send endpoints rate-limit as throughput (130429), other
 * WhatsApp endpoints as the WABA's BUC limit (80007); HTTP 400 as observed (whatsapp-cloud.md).
 */
export function whatsappFaultRenderer(endpoint: string): FaultRenderer {
  return (c, decision) => {
    if (decision.kind === 'rate_limit') {
      const err = endpoint === 'send'
        ? graphErrors.throughput(decision.retryAfterSeconds)
        : new GraphError(400, 80007, 'Rate limit issues', { details: 'The WhatsApp Business Account has reached its rate limit.', retryAfterSeconds: decision.retryAfterSeconds });
      return graphErrorResponse(c, err);
    }
    const status = decision.kind === 'error' ? decision.status : 500;
    return graphErrorResponse(c, faultError(status));
  };
}

function faultError(status: number): GraphError {
  if (status === 503) return new GraphError(503, 131016, 'Service unavailable', { details: 'A service is temporarily unavailable. Please check the status page before retrying.' });
  if (status >= 500) return new GraphError(status, 131000, 'Something went wrong', { details: 'Message failed to send due to an unknown error. Try again later.' });
  if (status === 401) return new GraphError(401, 190, 'Error validating access token: The session is invalid.', { subcode: 467 });
  if (status === 403) return new GraphError(403, 200, 'Permissions error', { details: 'The app does not have the required permission for this request.' });
  if (status === 404) return new GraphError(404, 100, 'Unsupported request - method type: unknown', { type: 'GraphMethodException', subcode: 33 });
  if (status === 429) return graphErrors.throughput(1);
  return new GraphError(status, 100, 'Invalid parameter', { details: 'Injected client error.' });
}
