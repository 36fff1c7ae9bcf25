// Opaque pagination cursors: base64url JSON of the last item's sort key. A cursor that does not
// decode is a 400 naming the parameter, never a crash.
import { AppError } from '../lib/errors';

export function encodeCursor(value: Record<string, string | number | null>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(raw: string | undefined, name: string, valid: (v: unknown) => v is T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (valid(value)) return value;
  } catch {
    // fall through
  }
  throw new AppError(400, 'invalid_cursor', `${name} is not a cursor this API returned`);
}

/** Escapes a user's search text for use inside a regular expression. */
export const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
