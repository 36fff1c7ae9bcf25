// For secret scans: every string inside a value, bytes decoded as UTF-8 (Temporal payloads, BSON
// Binary). Not JSON.stringify: protobuf and BSON toJSON would base64 the bytes, hiding a plaintext
// token from a search.
export function stringsOf(value: unknown, out: string[] = [], seen = new Set<object>()): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (value !== null && typeof value === 'object' && !seen.has(value) && !(value instanceof Date)) {
    seen.add(value);
    const bson = (value as { _bsontype?: string })._bsontype;
    if (bson === 'Binary') out.push(Buffer.from((value as unknown as { buffer: Uint8Array }).buffer).toString('utf8'));
    else if (bson) out.push(String(value));
    else for (const v of Array.isArray(value) ? value : Object.values(value)) stringsOf(v, out, seen);
  }
  return out;
}
