// Graph request conventions shared by every node and edge: the `fields` expansion syntax
// (`a,b{c,d},messages.limit(5){id}`), cursor paging with `paging.next` as a full URL, and
// Graph's ISO time format with a +0000 offset.
import type { Context } from 'hono';
import { Errors, GraphError } from './errors';

export interface FieldNode { name: string; limit?: number; children?: FieldNode[] }

/** Parses a Graph `fields` spec; syntax errors are Graph error 2500 as on the real API. */
export function parseFields(spec: string): FieldNode[] {
  let i = 0;
  const fail = (what: string) => new GraphError(2500, `Syntax error "${what}" at character ${i}: ${spec}`);
  const ws = () => { while (i < spec.length && /\s/.test(spec[i]!)) i++; };
  const name = () => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(spec.slice(i));
    if (!m) throw fail(i >= spec.length ? 'Expected field name instead of end of string.' : `Expected field name instead of "${spec[i]}".`);
    i += m[0].length;
    return m[0];
  };
  const list = (nested: boolean): FieldNode[] => {
    const out: FieldNode[] = [];
    for (;;) {
      const node: FieldNode = { name: name() };
      ws();
      while (spec[i] === '.') {
        i++;
        const modifier = name();
        if (spec[i] !== '(') throw fail('Expected "(".');
        const close = spec.indexOf(')', i);
        if (close < 0) throw fail('Expected ")".');
        const value = spec.slice(i + 1, close).trim();
        i = close + 1;
        if (modifier === 'limit') {
          if (!/^\d+$/.test(value)) throw Errors.param(`Param limit must be a positive integer, got "${value}"`);
          node.limit = Number(value);
        }
        ws();
      }
      if (spec[i] === '{') {
        i++;
        node.children = list(true);
        if (spec[i] !== '}') throw fail('Expected "}".');
        i++;
        ws();
      }
      out.push(node);
      if (spec[i] === ',') { i++; continue; }
      if (nested ? spec[i] === '}' : i >= spec.length) return out;
      throw fail(`Expected end of string instead of "${spec[i] ?? ''}".`);
    }
  };
  if (!spec.trim()) return [];
  return list(false);
}

/** Requested fields, or `defaults` when the client asked for none; unknown fields are Graph error 100. */
export function selectFields(spec: string | undefined, allowed: readonly string[], defaults: readonly string[], nodeType: string): FieldNode[] {
  const nodes = spec === undefined ? defaults.map((name) => ({ name })) : parseFields(spec);
  for (const node of nodes) if (!allowed.includes(node.name)) throw Errors.nonexistingField(node.name, nodeType);
  return nodes;
}

/** Graph returns a node's `id` even when `fields` did not ask for it (appended last). */
export function withId<T extends Record<string, unknown>>(node: T, id: string): T & { id: string } {
  return ('id' in node ? node : { ...node, id }) as T & { id: string };
}

/** Graph time: 2026-05-02T10:11:12+0000. */
export const graphTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');

// --- cursor paging ------------------------------------------------------------------------
// Cursors are opaque to clients; here they name the item they stand for, so a list that
// reorders between pages (a new message moves a conversation up) still continues sensibly.
const CURSOR_PREFIX = 'QVFI';
export const encodeCursor = (key: string) => `${CURSOR_PREFIX}${Buffer.from(key).toString('base64url')}`;
export function decodeCursor(cursor: string, param: string): string {
  if (!cursor.startsWith(CURSOR_PREFIX) || cursor.length === CURSOR_PREFIX.length) throw Errors.param(`Invalid ${param} cursor: ${cursor.slice(0, 40)}`);
  return Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString();
}

export function parseLimit(raw: string | number | undefined, fallback = 25, max = 100): number {
  if (raw === undefined || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw Errors.param(`Param limit must be a non-negative integer, got "${raw}"`);
  return Math.min(Math.max(n, 1), max);
}

export interface PageSlice<T> { items: T[]; hasNext: boolean; hasPrevious: boolean }

export function paginate<T>(all: T[], keyOf: (item: T) => string, opts: { limit: number; after?: string; before?: string }): PageSlice<T> {
  let start = 0;
  let end = all.length;
  if (opts.after) {
    const key = decodeCursor(opts.after, 'after');
    const at = all.findIndex((x) => keyOf(x) === key);
    start = at < 0 ? all.length : at + 1;
    end = Math.min(all.length, start + opts.limit);
  } else if (opts.before) {
    const key = decodeCursor(opts.before, 'before');
    const at = all.findIndex((x) => keyOf(x) === key);
    end = at < 0 ? 0 : at;
    start = Math.max(0, end - opts.limit);
  } else end = Math.min(all.length, opts.limit);
  return { items: all.slice(start, end), hasNext: end < all.length, hasPrevious: start > 0 };
}

/**
 * The `paging` object: cursors of the first/last item, and `next`/`previous` as full URLs on
 * the sandbox (same path and query, cursor swapped), like Graph's own links.
 */
export function pagingBlock<T>(slice: PageSlice<T>, keyOf: (item: T) => string, link: { base: string; path: string; query: URLSearchParams }): Record<string, unknown> | undefined {
  if (!slice.items.length) return undefined;
  const before = encodeCursor(keyOf(slice.items[0]!));
  const after = encodeCursor(keyOf(slice.items[slice.items.length - 1]!));
  const url = (param: 'after' | 'before', cursor: string) => {
    const q = new URLSearchParams(link.query);
    q.delete('after');
    q.delete('before');
    q.set(param, cursor);
    return `${link.base}${link.path}?${q.toString()}`;
  };
  const paging: Record<string, unknown> = { cursors: { before, after } };
  if (slice.hasPrevious) paging.previous = url('before', before);
  if (slice.hasNext) paging.next = url('after', after);
  return paging;
}

/** The request's path and query, for building paging links that point back at the same edge. */
export function requestLink(c: Context, base: string): { base: string; path: string; query: URLSearchParams } {
  const url = new URL(c.req.url);
  return { base, path: url.pathname, query: url.searchParams };
}
