// Route modules build their routers here so every one validates the same way: a zod failure
// becomes a 400 naming the field, through the shared error handler.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from './env';
import { validationError } from './errors';

export function newRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, targetName(result.target));
    },
  });
}

const targetName = (target: string) => (target === 'json' || target === 'form' ? 'body' : target);

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .openapi('Error');

/** Standard error responses for documented routes. */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 409 | 503)[]) {
  const text: Record<number, string> = {
    400: 'Invalid request (the message names each bad field)', 401: 'Missing or invalid API key',
    403: 'The key lacks the role this needs', 404: 'Not found', 409: 'Conflict', 503: 'A dependency is unavailable',
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: text[s]!, content: { 'application/json': { schema: ErrorSchema } } }]));
}

export const ObjectIdParam = z.string().regex(/^[0-9a-f]{24}$/i, 'must be a 24-character hex ID');
