// One place turns every error into `{error: {code, message, details?}}`. Clients never see a stack
// trace; unexpected errors are logged with the request ID the client got back.
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { AppError } from '../lib/errors';
import type { AppEnv } from './env';

export interface ErrorBody { error: { code: string; message: string; details?: unknown } }

export function errorJson(c: Context, status: number, code: string, message: string, details?: unknown) {
  const body: ErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  return c.json(body, status as 400);
}

/** A zod failure as a 400 that names each bad field, e.g. `body.platform: Invalid option…`. */
export function validationError(error: ZodError, target: string): AppError {
  const details = error.issues.map((issue) => ({
    field: [target, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const message = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new AppError(400, 'validation_failed', message || 'Invalid request', details);
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof AppError) return errorJson(c, err.status, err.code, err.message, err.details);
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 400 && /JSON/i.test(err.message)) return errorJson(c, 400, 'invalid_json', 'Request body is not valid JSON');
    if (status === 413) return errorJson(c, 413, 'payload_too_large', 'Request body is too large');
    return errorJson(c, status, status === 401 ? 'unauthorized' : 'http_error', err.message || 'Request failed');
  }
  c.get('log')?.error({ err }, 'unhandled error');
  return errorJson(c, 500, 'internal', `Internal server error (request ${c.get('requestId') ?? 'unknown'})`);
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  errorJson(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`);
